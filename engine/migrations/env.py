"""Alembic environment: the connection comes from `engine.migrate` (or GOVFLOW_DATABASE_URL)."""

from __future__ import annotations

from alembic import context

from engine.db import make_sql_engine
from engine.migrate import made_on
from engine.models import Base

config = context.config


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    from engine.config import Settings

    sql = make_sql_engine(config.get_main_option("sqlalchemy.url") or Settings.from_env().database_url)
    with sql.connect() as connection:
        _run(connection)


def _run(connection) -> None:  # noqa: ANN001
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=made_on(connection.dialect.name),
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()

"""The Alembic migrations build exactly the schema the models describe, and can be undone."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from engine.db import make_sql_engine
from engine.migrate import alembic_config, made_on, upgrade
from engine.models import Base


def _differences(conn) -> list:  # noqa: ANN001
    context = MigrationContext.configure(conn, opts={"include_object": made_on(conn.dialect.name)})
    return compare_metadata(context, Base.metadata)


def test_the_migrated_schema_matches_the_models_and_round_trips(db_url: str) -> None:
    sql = make_sql_engine(db_url)
    try:
        with sql.connect() as conn:
            assert _differences(conn) == []
        if sql.dialect.name == "sqlite":  # the PostgreSQL test database is shared; undo only a private file
            config = alembic_config(sql)
            with sql.begin() as conn:
                config.attributes["connection"] = conn
                command.downgrade(config, "base")
            upgrade(sql)
            with sql.connect() as conn:
                assert _differences(conn) == []
    finally:
        sql.dispose()

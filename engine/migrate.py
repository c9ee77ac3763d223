"""Apply the Alembic migrations (`govflow init`) on SQLite or PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine as SqlEngine

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(sql: SqlEngine | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if sql is not None:
        config.set_main_option("sqlalchemy.url", sql.url.render_as_string(hide_password=False))
    return config


def upgrade(sql: SqlEngine) -> None:
    config = alembic_config(sql)
    with sql.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def made_on(dialect: str) -> Callable[..., bool]:
    """Alembic's `include_object` hook: what the models create on another database only (`ddl_if`, such as
    PostgreSQL's trigram index) is left out of autogenerate's comparison."""

    def include(found: object, *_args: object) -> bool:
        only = getattr(found, "_ddl_if", None)  # SQLAlchemy keeps `ddl_if(dialect=...)` here
        return only is None or only.dialect in (None, dialect)

    return include

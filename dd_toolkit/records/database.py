"""Engines, sessions and migrations.

The schema is only ever created by Alembic (``upgrade``), so a database always carries its
revision. The web layer keeps one session per request (:mod:`dd_toolkit.web.db`); the CLI and
the tests open their own with :func:`standalone_session`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # pragma: no cover - driver hook
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_pre_ping=True)


def alembic_config(url: str) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def schema_is_current(engine: Engine) -> bool:
    """Whether the database carries the latest migration (False for a database without tables,
    or without an ``alembic_version`` row, or at an older revision)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_heads()
    heads = ScriptDirectory(str(MIGRATIONS_DIR)).get_heads()
    return bool(current) and set(current) == set(heads)


@contextmanager
def standalone_session(bind: Engine) -> Iterator[Session]:
    """A session for work outside a request (CLI, demo loading)."""
    with Session(bind, expire_on_commit=False) as db:
        yield db

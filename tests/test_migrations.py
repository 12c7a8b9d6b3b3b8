"""The schema comes from Alembic migrations, and they match the models."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from dd_toolkit.records import models  # noqa: F401
from dd_toolkit.records.database import make_engine, upgrade


def test_migrations_match_models(database_url):
    engine = make_engine(database_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection)
        assert context.get_current_revision() is not None
        assert compare_metadata(context, SQLModel.metadata) == []
    engine.dispose()


def test_upgrade_is_idempotent(database_url):
    upgrade(database_url)
    upgrade(database_url)


def test_suite_runs_on_the_requested_database(database_url):
    """When DD_TEST_POSTGRES_URL is set the whole suite runs on PostgreSQL, not SQLite."""
    import os

    expected = "postgresql" if os.environ.get("DD_TEST_POSTGRES_URL") else "sqlite"
    assert make_engine(database_url).dialect.name == expected

"""The schema comes from Alembic migrations, and they match the models."""

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from dd_toolkit.records import models  # noqa: F401
from dd_toolkit.records.database import alembic_config, make_engine, upgrade


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


def test_the_wide_columns_of_a_submission_record_come_last_and_reordering_keeps_every_row(demo, database_url):
    """On SQLite a column after the score card and the answers is read through the row's overflow
    pages: they are the table's last columns. Rebuilding the table in that order (migration
    0015, run again here on the demo data) keeps every record as it was."""
    import sqlalchemy as sa

    from dd_toolkit.records.models import SubmissionRecord

    engine = make_engine(database_url)
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL keeps long values out of line: the column order is SQLite's matter")
    columns = [c["name"] for c in sa.inspect(engine).get_columns("submission_record")]
    assert columns[-2:] == ["score_card", "answers"]
    assert set(columns) == set(SubmissionRecord.__table__.columns.keys())

    def rows():
        with engine.connect() as connection:
            return connection.execute(sa.select(SubmissionRecord.__table__).order_by("id")).all()

    before = rows()
    assert len(before) >= 20
    command.downgrade(alembic_config(database_url), "0014")
    upgrade(database_url, "0015")
    with engine.connect() as connection:
        assert MigrationContext.configure(connection).get_current_revision() == "0015"
    assert rows() == before
    engine.dispose()

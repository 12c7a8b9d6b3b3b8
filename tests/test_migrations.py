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


def _plan(connection, statement, **params) -> str:
    """SQLite's query plan of a built statement, its steps joined by " | "."""
    compiled = statement.compile(dialect=connection.dialect)
    values = compiled.construct_params(params)
    ordered = tuple(values[name] for name in compiled.positiontup)
    return " | ".join(row[3] for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", ordered))


def test_a_companys_records_are_found_by_its_index_never_by_the_latest_flag(database_url):
    """SQLite without statistics takes any equality index as selective as any other: with one on
    the latest flag, which half the rows share, a company's home page and each submission's
    update of the flag read every record. The company's records are found by (organisation,
    cycle), whatever order the indexes were created in."""
    import sqlalchemy as sa

    from dd_toolkit.records.home import _SCORE_TREND

    engine = make_engine(database_url)
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL plans by its statistics")

    flag_update = sa.text(
        "UPDATE submission_record SET latest = 0 WHERE organisation_id = :org AND cycle = :cycle AND latest = 1"
    )
    with engine.connect() as connection:
        trend = _plan(connection, _SCORE_TREND, organisation_id=1)
        update = " | ".join(
            row[3]
            for row in connection.execute(sa.text(f"EXPLAIN QUERY PLAN {flag_update.text}"), {"org": 1, "cycle": 2026})
        )
    engine.dispose()
    for found in (trend, update):
        assert "ix_submission_record_organisation_cycle" in found, found
        assert "latest" not in found, found


def test_an_actions_newer_copy_is_found_by_an_index_not_by_reading_every_tracked_action(database_url):
    """The company home page and ``dd-toolkit notify-due`` ask, for each open action falling due,
    whether a newer copy of it exists (carried forward to a later assessment)."""
    import datetime as dt

    from sqlmodel import Session

    from dd_toolkit.records.notifications import due_actions

    from .conftest import recorded_statements

    engine = make_engine(database_url)
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL plans by its statistics")
    with Session(engine) as session, recorded_statements(engine) as statements:
        for organisation_id in (1, None):
            due_actions(session, organisation_id, today=dt.date(2027, 1, 1))
    with engine.connect() as connection:
        plans = [
            " | ".join(row[3] for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", parameters))
            for sql, parameters in statements
        ]
    engine.dispose()
    assert len(plans) == 2
    for found in plans:
        assert "ix_action_tracking_carried_from_id" in found and "SCAN action_tracking_1" not in found, found

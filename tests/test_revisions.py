"""Data revisions (issue 9, page speed): the database raises an organisation's revision with every
write to a row of it, and the shared revision with every write to the shared figures, in the
same transaction, so that a page kept under them is never served after what it shows changed."""

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel, select

from dd_toolkit.engine.actions import ActionStatus
from dd_toolkit.records import revisions
from dd_toolkit.records.aggregates import refresh_indicators
from dd_toolkit.records.models import (
    Aggregate,
    ApiToken,
    Notification,
    Organisation,
    RegulatorGrant,
    Release,
    RiskCell,
    RiskCellHistory,
    RiskRegister,
    SectionAssignment,
    SharedRevision,
    TransparencyEdit,
    VerificationRun,
)
from dd_toolkit.records.plans import save_transparency, update_tracking
from dd_toolkit.records.review import comment, transition

SHARED_TABLES = {"aggregate", "release", "verification_run"}


def revision_of(session, org_id: int) -> int:
    return session.exec(select(Organisation.revision).where(Organisation.id == org_id)).one()


def shared_revision(session) -> int:
    return session.exec(select(SharedRevision.revision)).one()


def triggered_tables(session) -> dict[str, set[str]]:
    """Each table with triggers, and the events they fire on."""
    bind = session.get_bind()
    if bind.dialect.name == "sqlite":
        rows = session.exec(sa.text("SELECT tbl_name, sql FROM sqlite_master WHERE type = 'trigger'")).all()
        found: dict[str, set[str]] = {}
        for table, sql in rows:
            for event in ("INSERT", "UPDATE", "DELETE"):
                if f" {event} ON " in sql.upper():
                    found.setdefault(table, set()).add(event)
        return found
    rows = session.exec(sa.text("SELECT event_object_table, event_manipulation FROM information_schema.triggers")).all()
    found = {}
    for table, event in rows:
        found.setdefault(table, set()).add(event)
    return found


def test_every_table_raises_a_revision_on_every_write_or_is_listed_as_untracked_with_its_reason(session):
    tables = set(SQLModel.metadata.tables) | {"alembic_version"}
    triggered = triggered_tables(session)
    untracked = set(revisions.UNTRACKED)
    assert not untracked & set(triggered), "an untracked table has triggers"
    for table in sorted(tables - untracked - {"organisation"}):
        assert triggered.get(table) == {"INSERT", "UPDATE", "DELETE"}, table
    # The organisation's own row: an update of any of its columns raises it.
    assert "UPDATE" in triggered["organisation"]
    assert all(revisions.UNTRACKED.values())


@pytest.fixture
def two_companies(submitted_to, make, session):
    """Two companies with a submitted assessment each, addressed to a regulator; the first with a
    row in every table that belongs to an organisation."""
    first, admin, assessment, recipients = submitted_to("SG", name="Revision One")
    second, *_ = submitted_to("SG", name="Revision Two")
    regulator = make.user(platform_role="regulator", jurisdictions=["SG"])
    transition(session, recipients["SG"], "in_review", regulator)
    comment(session, recipients["SG"], regulator, "Reading it now.")
    save_transparency(session, assessment, "# Our report", 0, admin)
    _track(session, assessment, admin, "fixture-item")
    session.add(Notification(user_id=admin.id, kind="test"))
    session.add(ApiToken(user_id=admin.id, name="ci", token_hash="0" * 64))
    session.add(RegulatorGrant(user_id=admin.id, jurisdiction="MY"))
    session.add(RiskRegister(assessment_id=assessment.id, next_review_due=dt.date(2027, 6, 30)))
    session.add(RiskCell(assessment_id=assessment.id, harm="grooming", age_group="13-15"))
    session.add(RiskCellHistory(assessment_id=assessment.id, harm="grooming", age_group="13-15"))
    session.add(SectionAssignment(assessment_id=assessment.id, section_id="hrdd.policy", user_id=admin.id))
    session.commit()
    return first, second, admin, assessment


def test_a_write_to_any_row_of_an_organisation_raises_its_revision_and_no_others(two_companies, session):
    first, second, admin, assessment = two_companies
    tracked = set(triggered_tables(session)) - SHARED_TABLES - {"organisation"}
    # A row others refer to cannot be deleted alone: deletes are tried on the rows nothing refers to.
    referred = {key.column.table.name for table in SQLModel.metadata.tables.values() for key in table.foreign_keys}
    for table in sorted(tracked):
        rows = _rows_of(session, table, first.id, admin.id)
        assert rows, f"no row of {table} belongs to the first company"
        writes = [f"UPDATE {table} SET id = id WHERE id = :id"]
        if table not in referred:
            writes.append(f"DELETE FROM {table} WHERE id = :id")
        for write in writes:
            before = revision_of(session, first.id), revision_of(session, second.id)
            nested = session.begin_nested()
            session.exec(sa.text(write), params={"id": rows[0]})
            if session.get_bind().dialect.name != "sqlite":
                session.exec(sa.text("SET CONSTRAINTS ALL IMMEDIATE"))  # the triggers run now, not at commit
            after = revision_of(session, first.id), revision_of(session, second.id)
            nested.rollback()
            assert after[0] > before[0], write
            assert after[1] == before[1], f"{write} raised another company's revision"


def _track(session, assessment, user, item_id: str) -> None:
    update_tracking(
        session,
        assessment,
        item_id=item_id,
        title="Name an owner",
        question_ids=[],
        owner="Ana",
        due_date=None,
        status=ActionStatus.TODO,
        reason="",
        notes="",
        base_version=0,
        user=user,
    )


def _rows_of(session, table: str, org_id: int, user_id: int) -> list[int]:
    owner = {
        "membership": "organisation_id = :org",
        "assessment": "organisation_id = :org",
        "audit_event": "organisation_id = :org",
        "submission_record": "organisation_id = :org",
        "recipient": "submission_id IN (SELECT s.id FROM submission s JOIN assessment a ON a.id = s.assessment_id"
        " WHERE a.organisation_id = :org)",
        "indicator_outcome": "submission_id IN (SELECT s.id FROM submission s"
        " JOIN assessment a ON a.id = s.assessment_id WHERE a.organisation_id = :org)",
        "review_event": "recipient_id IN (SELECT r.id FROM recipient r JOIN submission s ON s.id = r.submission_id"
        " JOIN assessment a ON a.id = s.assessment_id WHERE a.organisation_id = :org)",
        "user_account": "id = :user",
        "notification": "user_id = :user",
        "api_token": "user_id = :user",
        "regulator_grant": "user_id = :user",
    }.get(table, "assessment_id IN (SELECT id FROM assessment WHERE organisation_id = :org)")
    query = sa.text(f"SELECT id FROM {table} WHERE {owner} ORDER BY id")
    return list(session.exec(query, params={"org": org_id, "user": user_id}).scalars())


def test_an_insert_raises_the_revision_and_the_shared_figures_raise_the_shared_one(two_companies, session, make):
    first, second, admin, assessment = two_companies
    before = revision_of(session, first.id), revision_of(session, second.id), shared_revision(session)
    _track(session, assessment, admin, "policy-owner")
    assert revision_of(session, first.id) > before[0]
    assert revision_of(session, second.id) == before[1] and shared_revision(session) == before[2]

    regulator = make.user(platform_role="regulator", jurisdictions=["SG"])
    member = make.user(first)
    shared = shared_revision(session)
    member.name = "Renamed Member"  # named on its organisation's pages only
    session.add(member)
    session.commit()
    assert shared_revision(session) == shared

    def rename_regulator():  # named on the review pages of every company it reviewed
        regulator.name = "Renamed Regulator"
        session.add(regulator)

    records = lambda: session.exec(sa.text("UPDATE submission_record SET id = id"))  # noqa: E731  (a report's cycles)
    reviews = lambda: session.exec(sa.text("UPDATE recipient SET id = id"))  # noqa: E731  (the inboxes)
    for write in (
        rename_regulator,
        records,
        reviews,
        lambda: refresh_indicators(session, 2026),
        lambda: session.add(VerificationRun()),
        lambda: session.add(Release(number=99, methodology="standard@test.1")),
        lambda: session.add(Aggregate(kind="test", scope="all")),
    ):
        shared = shared_revision(session)
        organisations = revision_of(session, first.id), revision_of(session, second.id)
        write()
        session.commit()
        assert shared_revision(session) > shared
        if write not in (records, reviews):  # these are the companies' own rows too
            assert (revision_of(session, first.id), revision_of(session, second.id)) == organisations


def test_a_revision_is_seen_by_others_with_the_data_it_stands_for_never_before(two_companies, app, session):
    """Another connection sees neither the write nor the raised revision until the commit."""
    from dd_toolkit.records.database import standalone_session

    first, _second, _admin, assessment = two_companies
    before = revision_of(session, first.id)
    with standalone_session(app.extensions["dd_engine"]) as other:
        edit = sa.update(TransparencyEdit).where(TransparencyEdit.assessment_id == assessment.id)
        other.exec(edit.values(markdown="# Changed"))
        other.flush()
        assert revision_of(session, first.id) == before
        session.commit()  # ends the reading transaction, so the next read sees what is committed
        other.commit()
    assert revision_of(session, first.id) > before

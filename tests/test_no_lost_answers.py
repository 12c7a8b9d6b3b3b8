"""No saved change is ever lost to someone else's conflicting save (issue 9, point 7).

Two sessions on the same database stand for two people saving at once: a conflict on one row
must undo that row only, never the other rows saved in the same request, and every row an
outcome reports as saved must really be in the database.
"""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, select

from dd_toolkit.engine.actions import ActionStatus
from dd_toolkit.engine.content import AnswerData
from dd_toolkit.records.assessments import answer_rows, save_answers
from dd_toolkit.records.models import Answer, Assessment, AuditEvent, OrgRole
from dd_toolkit.records.plans import ConflictError, save_transparency, tracking_of, transparency_edit, update_tracking
from dd_toolkit.records.versioned import save_versioned

OWNER, EXISTS, NOTES, REPORTS = "mini.policy.owner", "mini.policy.exists", "mini.ops.notes", "mini.ops.reports"


@pytest.fixture
def open_session(app):
    """Opens further sessions on the test database, each standing for one person's request."""
    sessions: list[Session] = []

    def open_one() -> Session:
        sessions.append(Session(app.extensions["dd_engine"], expire_on_commit=False))
        return sessions[-1]

    yield open_one
    for s in sessions:
        s.close()


@pytest.fixture
def team(make):
    org = make.organisation()
    return org, make.user(org), make.user(org, role=OrgRole.CONTRIBUTOR)


@contextmanager
def fresh(app):
    """A new session, so what it reads is what is in the database."""
    with Session(app.extensions["dd_engine"]) as s:
        yield s


def stored(app, assessment_id: int) -> dict[str, tuple[object, int]]:
    with fresh(app) as s:
        return {qid: (row.value, row.version) for qid, row in answer_rows(s, assessment_id).items()}


def audit_of(app, entity_id: str) -> list[dict]:
    with fresh(app) as s:
        return [
            e.detail
            for e in s.exec(select(AuditEvent).where(AuditEvent.entity_id == entity_id).order_by(AuditEvent.id))
        ]


def save(db: Session, assessment_id: int, user, changes: dict[str, tuple[object, int]]):
    data = {qid: (AnswerData(value=value), version) for qid, (value, version) in changes.items()}
    return save_answers(db, db.get(Assessment, assessment_id), user, data)


# -- answers ------------------------------------------------------------------------------------


def test_a_stale_answer_undoes_only_itself(app, make, team, open_session):
    org, admin, colleague = team
    assessment = make.assessment(org, admin, answers={OWNER: 1, NOTES: "Old notes."})
    first, second = open_session(), open_session()
    loaded = answer_rows(first, assessment.id)  # the first person's page is loaded here ...
    assert loaded[OWNER].version == 1

    # ... the colleague saves the owner answer in between ...
    assert save(second, assessment.id, colleague, {OWNER: (3, 1)}).saved == [OWNER]

    # ... and the first person saves a new answer, a changed one, the stale one and another new one.
    outcome = save(
        first,
        assessment.id,
        admin,
        {EXISTS: ("yes", 0), NOTES: ("New notes.", 1), OWNER: (2, loaded[OWNER].version), REPORTS: (120, 0)},
    )

    assert outcome.saved == [EXISTS, NOTES, REPORTS]
    assert list(outcome.conflicts) == [OWNER]
    theirs = outcome.conflicts[OWNER]
    assert (theirs.value, theirs.version, theirs.updated_by_id) == (3, 2, colleague.id)
    now = stored(app, assessment.id)
    assert now == {OWNER: (3, 2), EXISTS: ("yes", 1), NOTES: ("New notes.", 2), REPORTS: (120, 1)}
    # The losing save left no audit event; each saved answer has its own.
    assert [d["after"]["value"] for d in audit_of(app, f"{assessment.id}:{OWNER}")] == [1, 3]
    for qid in outcome.saved:
        assert audit_of(app, f"{assessment.id}:{qid}")[-1]["after"]["value"] == now[qid][0]


def test_two_people_creating_the_same_answer(app, make, team, open_session):
    org, admin, colleague = team
    assessment = make.assessment(org, admin)
    first, second = open_session(), open_session()
    answer_rows(first, assessment.id)  # the first person's page: no answer to either question yet
    # The colleague answers one of them between that page loading and its save.
    save(second, assessment.id, colleague, {EXISTS: ("no", 0)})
    outcome = save(first, assessment.id, admin, {NOTES: ("Our notes.", 0), EXISTS: ("yes", 0)})

    assert outcome.saved == [NOTES]
    assert outcome.conflicts[EXISTS].value == "no"
    assert stored(app, assessment.id) == {NOTES: ("Our notes.", 1), EXISTS: ("no", 1)}
    assert [d["after"]["value"] for d in audit_of(app, f"{assessment.id}:{EXISTS}")] == ["no"]


def test_saves_of_one_assessment_wait_for_each_other(app, make, team, open_session):
    """A save holds the assessment's lock until it commits, so a colleague's save of the same
    assessment cannot interleave with it (SQLite: the write lock; PostgreSQL: the row lock)."""
    from dd_toolkit.records.assessments import lock_draft

    org, admin, colleague = team
    assessment = make.assessment(org, admin)
    first, second = open_session(), open_session()
    lock_draft(first, first.get(Assessment, assessment.id), "refused")
    second.connection().exec_driver_sql(
        "SET lock_timeout = '200ms'" if second.bind.dialect.name == "postgresql" else "PRAGMA busy_timeout = 200"
    )
    with pytest.raises(OperationalError):
        save(second, assessment.id, colleague, {EXISTS: ("no", 0)})
    second.rollback()
    first.commit()
    assert save(second, assessment.id, colleague, {EXISTS: ("no", 0)}).saved == [EXISTS]


def test_a_removed_answer_is_a_conflict(app, make, team, open_session):
    org, admin, _ = team
    assessment = make.assessment(org, admin)
    outcome = save(open_session(), assessment.id, admin, {NOTES: ("Notes.", 0), OWNER: (2, 4)})
    assert outcome.saved == [NOTES]
    assert outcome.conflicts[OWNER].version == 0 and outcome.conflicts[OWNER].id is None


# -- action tracking and the transparency text ----------------------------------------------------


def track(db: Session, assessment_id: int, user, owner: str, base_version: int):
    return update_tracking(
        db,
        db.get(Assessment, assessment_id),
        item_id="mini.ops.live",
        title="Moderate live streams",
        question_ids=["mini.ops.live"],
        owner=owner,
        due_date=None,
        status=ActionStatus.IN_PROGRESS,
        reason="",
        notes="",
        base_version=base_version,
        user=user,
    )


def test_a_stale_action_tracking_save_is_refused(app, make, session, team, open_session):
    org, admin, colleague = team
    assessment = make.assessment(org, admin)
    assert track(session, assessment.id, admin, "Ann", 0).version == 1
    first, second = open_session(), open_session()
    loaded = tracking_of(first, assessment.id)["mini.ops.live"]

    assert track(second, assessment.id, colleague, "Bea", loaded.version).version == 2
    with pytest.raises(ConflictError) as raised:
        track(first, assessment.id, admin, "Cal", loaded.version)

    assert (raised.value.current.owner, raised.value.current.version) == ("Bea", 2)
    first.close()
    with fresh(app) as s:
        row = tracking_of(s, assessment.id)["mini.ops.live"]
        assert (row.owner, row.version) == ("Bea", 2)
    owners = [d["after"]["owner"] for d in audit_of(app, f"{assessment.id}:mini.ops.live")]
    assert owners == ["Ann", "Bea"]


def test_a_stale_transparency_save_is_refused(app, make, session, team, open_session):
    org, admin, colleague = team
    assessment = make.assessment(org, admin)
    assert save_transparency(session, assessment, "Ours.", 0, admin).version == 1
    first, second = open_session(), open_session()
    loaded = transparency_edit(first, assessment.id)

    assert save_transparency(second, second.get(Assessment, assessment.id), "Theirs.", loaded.version, colleague)
    with pytest.raises(ConflictError) as raised:
        save_transparency(first, first.get(Assessment, assessment.id), "Mine.", loaded.version, admin)

    assert (raised.value.current.markdown, raised.value.current.version) == ("Theirs.", 2)
    first.close()
    with fresh(app) as s:
        edit = transparency_edit(s, assessment.id)
        assert (edit.markdown, edit.version) == ("Theirs.", 2)


def test_two_people_creating_the_transparency_text(app, make, team, open_session):
    org, admin, colleague = team
    assessment = make.assessment(org, admin)
    first, second = open_session(), open_session()
    assert transparency_edit(first, assessment.id) is None

    def colleague_saves_first(*_args):
        save_transparency(second, second.get(Assessment, assessment.id), "Theirs.", 0, colleague)

    event.listen(first, "before_flush", colleague_saves_first, once=True)
    with pytest.raises(ConflictError) as raised:
        save_transparency(first, first.get(Assessment, assessment.id), "Mine.", 0, admin)

    assert (raised.value.current.markdown, raised.value.current.version) == ("Theirs.", 1)
    first.close()
    with fresh(app) as s:
        assert transparency_edit(s, assessment.id).markdown == "Theirs."
        events = s.exec(select(AuditEvent).where(AuditEvent.action == "transparency.save")).all()
        assert [e.user_id for e in events] == [colleague.id]


def test_saved_rows_stay_in_the_callers_transaction(app, make, team, open_session):
    """A released savepoint commits nothing by itself (pysqlite does not BEGIN before SAVEPOINT):
    the rows are written with the caller's commit, together with their audit events, or not at all."""
    org, admin, _ = team
    assessment = make.assessment(org, admin)
    db = open_session()
    answer_rows(db, assessment.id)  # a read first, as in save_answers
    for qid in (NOTES, EXISTS):
        save_versioned(db, Answer, {"assessment_id": assessment.id, "question_id": qid}, None, 0, {"value": "x"})
    db.rollback()
    assert stored(app, assessment.id) == {}


def test_every_saved_answer_keeps_its_history_when_a_later_one_conflicts(app, make, team, open_session):
    """The history row of an answer is written with it, not in the next answer's savepoint,
    which a conflict rolls back."""
    from dd_toolkit.records.models import AnswerHistory

    org, admin, colleague = team
    assessment = make.assessment(org, admin, answers={OWNER: 1})
    first, second = open_session(), open_session()
    loaded = answer_rows(first, assessment.id)
    save(second, assessment.id, colleague, {OWNER: (3, 1)})
    outcome = save(first, assessment.id, admin, {NOTES: ("New notes.", 0), OWNER: (2, loaded[OWNER].version)})
    assert outcome.saved == [NOTES] and list(outcome.conflicts) == [OWNER]
    with fresh(app) as s:
        history = s.exec(
            select(AnswerHistory.question_id, AnswerHistory.answer_version)
            .where(AnswerHistory.assessment_id == assessment.id)
            .order_by(AnswerHistory.id)
        ).all()
    assert [tuple(h) for h in history if h[0] == NOTES] == [(NOTES, 1)]


def test_a_save_started_before_the_submission_is_refused(app, make, team, open_session):
    """A page loaded while the assessment was a draft cannot change it once it is submitted:
    the save checks the status under the assessment's lock, so no answer lands after the
    snapshot and nobody is told it was saved."""
    from dd_toolkit.records.assessments import AssessmentError, submit

    org, admin, colleague = team
    assessment = make.assessment(org, admin, answers=make.complete_answers())
    first, second = open_session(), open_session()
    stale = first.get(Assessment, assessment.id)  # the colleague's page: still a draft
    assert stale.is_draft
    submit(second, make.bank, make.content.current_methodology, second.get(Assessment, assessment.id), admin)
    with pytest.raises(AssessmentError):
        save_answers(first, stale, colleague, {NOTES: (AnswerData(value="Too late."), 0)})
    first.rollback()
    assert stored(app, assessment.id)[NOTES][0] == make.complete_answers()[NOTES]

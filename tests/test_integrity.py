"""Frozen means frozen, and the record is tamper-evident: the audit log is a hash chain,
answers keep their history, and ``dd-toolkit verify`` names every mismatch."""

import threading

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlmodel import select

from dd_toolkit.cli import main as cli
from dd_toolkit.engine import portable
from dd_toolkit.engine.content import AnswerData
from dd_toolkit.records import audit, database, integrity, releases
from dd_toolkit.records.assessments import save_answers, submit
from dd_toolkit.records.models import (
    Answer,
    AnswerHistory,
    AuditChainHead,
    AuditEvent,
    PlatformRole,
    Recipient,
    Submission,
    SubmissionRecord,
    VerificationRun,
)
from dd_toolkit.records.plans import save_transparency

from .conftest import FIXTURE_CONTENT


def regulator(make, *jurisdictions):
    return make.user(platform_role=PlatformRole.REGULATOR, jurisdictions=list(jurisdictions))


@pytest.fixture
def submitted_to(submitted_to, session):
    """The shared fixture's submission, with consent to the benchmark: (assessment, submission,
    recipients by jurisdiction)."""

    def build(*jurisdictions, name=None):
        _org, _admin, assessment, recipients = submitted_to(*jurisdictions, name=name, consent=True)
        submission = session.exec(select(Submission).where(Submission.assessment_id == assessment.id)).one()
        return assessment, submission, recipients

    return build


@pytest.fixture
def run(database_url, tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("DD_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setattr("dd_toolkit.web.config.Config.DATABASE_URL", database_url)

    def invoke(*args):
        return CliRunner().invoke(cli, ["--content", str(FIXTURE_CONTENT), *args])

    return invoke


def execute(session, sql: str, **params) -> None:
    """Tamper with the database behind the toolkit's back."""
    session.execute(sa.text(sql), params)
    session.commit()
    session.expire_all()


def problems(session) -> list[str]:
    session.expire_all()
    return [str(p) for p in integrity.verify(session).problems]


# -- the record as written is consistent ---------------------------------------------------------


def test_a_clean_record_verifies(session, make, submitted_to):
    assessment, submission, _ = submitted_to("SG")
    result = integrity.verify(session)
    assert result.ok, [str(p) for p in result.problems]
    assert result.checked["submission"] == 1 and result.checked["answer"] == 8
    assert result.checked["audit_event"] == session.get(AuditChainHead, audit.HEAD_ID).count


def test_demo_and_generated_data_verify(real_app):
    """The bulk paths (demo loading, generated companies) chain their events and keep history."""
    from dd_toolkit.records.demo import load_demo
    from dd_toolkit.records.generated import load_generated

    content = real_app.extensions["dd_content"]
    with database.standalone_session(real_app.extensions["dd_engine"]) as db:
        load_demo(db, content)
        load_generated(db, content, 3, seed=2)
        result = integrity.verify(db)
        assert result.ok, [str(p) for p in result.problems[:10]]
        assert result.checked["submission"] >= 6 and result.checked["answer_history"] >= result.checked["answer"]


def test_a_database_upgraded_from_0008_verifies(tmp_path):
    """Revision 0009 chains the existing audit events and gives every answer its history."""
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    database.upgrade(url, "0008")
    engine = database.make_engine(url)
    at = "2026-01-02 03:04:05.000006"
    with engine.begin() as connection:
        run_sql = connection.exec_driver_sql
        run_sql(
            "INSERT INTO organisation (id, name, countries, service_types, features, description, created_at, "
            f"updated_at) VALUES (1, 'Old Co', '[]', '[]', '[]', '', '{at}', '{at}')"
        )
        run_sql(
            "INSERT INTO assessment (id, organisation_id, cycle, version, questionnaire_versions, status, "
            f"created_at, updated_at) VALUES (1, 1, 2025, 1, '{{}}', 'draft', '{at}', '{at}')"
        )
        run_sql(
            "INSERT INTO answer (assessment_id, question_id, value, not_applicable, justification, comment, "
            f"evidence, meta, version, updated_at) VALUES (1, 'mini.ops.reports', '12', 0, '', '', '[]', '{{}}', 3, "
            f"'{at}')"
        )
        for n in range(3):
            run_sql("INSERT INTO audit_event (at, organisation_id, action, entity, entity_id, detail) "
                    f"VALUES ('{at}', 1, 'old.event', 'organisation', '1', '{{\"n\": {n}}}')")  # fmt: skip
    engine.dispose()
    database.upgrade(url)
    engine = database.make_engine(url)
    with database.standalone_session(engine) as db:
        result = integrity.verify(db)
        assert result.ok, [str(p) for p in result.problems]
        assert result.checked == {"audit_event": 3, "submission": 0, "answer_history": 1, "answer": 1}
        audit.record(db, user=None, organisation_id=1, action="new.event", entity="organisation")
        db.commit()
        assert integrity.verify(db).ok
    engine.dispose()


def test_every_save_keeps_its_history(session, make):
    org = make.organisation()
    alice, bob = make.user(org), make.user(org)
    assessment = make.assessment(org, alice, answers={"mini.ops.reports": 120})
    make.answer(assessment, bob, {"mini.ops.reports": 150})
    history = session.exec(select(AnswerHistory).order_by(AnswerHistory.id)).all()
    assert [(h.changed_by_id, h.answer_version) for h in history] == [(alice.id, 1), (bob.id, 2)]
    assert history[0].old is None and history[0].new["value"] == 120
    assert history[1].old["value"] == 120 and history[1].new["value"] == 150
    # A conflicting save (from the old version) changes nothing and adds no history.
    outcome = save_answers(session, assessment, alice, {"mini.ops.reports": (AnswerData(value=99), 1)})
    assert outcome.conflicts and len(session.exec(select(AnswerHistory)).all()) == 2
    assert integrity.verify(session).ok


def test_the_audit_chain_links_every_event(session, make):
    org = make.organisation()
    make.assessment(org, make.user(org), answers={"mini.ops.reports": 1})
    rows = session.exec(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert rows[0].prev_hash == audit.GENESIS
    for before, after in zip(rows, rows[1:], strict=False):
        assert after.prev_hash == before.row_hash
        assert audit.event_hash(after, after.prev_hash) == after.row_hash
    head = session.get(AuditChainHead, audit.HEAD_ID)
    assert head.count == len(rows) and head.last_hash == rows[-1].row_hash


def test_an_event_added_directly_is_chained_too(session, make):
    session.add(AuditEvent(action="test.direct", entity="x", detail={"a": 1}))
    session.commit()
    row = session.exec(select(AuditEvent).where(AuditEvent.action == "test.direct")).one()
    assert row.row_hash == audit.event_hash(row, row.prev_hash)
    assert integrity.verify(session).ok


def test_a_rolled_back_change_leaves_no_event(session, make):
    org = make.organisation()
    count = session.get(AuditChainHead, audit.HEAD_ID).count
    audit.record(session, user=None, organisation_id=org.id, action="test.rollback", entity="organisation")
    session.rollback()
    session.commit()
    assert session.get(AuditChainHead, audit.HEAD_ID).count == count
    assert not session.exec(select(AuditEvent).where(AuditEvent.action == "test.rollback")).all()


def test_concurrent_writers_never_fork_the_chain(app, make):
    org = make.organisation()
    engine = app.extensions["dd_engine"]
    errors = []

    def write(worker: int) -> None:
        try:
            for n in range(10):
                with database.standalone_session(engine) as db:
                    detail = {"worker": worker, "n": n}
                    audit.record(db, user=None, organisation_id=org.id, action="test.write", entity="x", detail=detail)
                    db.commit()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    with database.standalone_session(engine) as db:
        assert len(db.exec(select(AuditEvent).where(AuditEvent.action == "test.write")).all()) == 40
        assert integrity.verify(db).ok


# -- verify catches tampering --------------------------------------------------------------------


def test_verify_catches_a_changed_snapshot(session, make, submitted_to):
    _, submission, _ = submitted_to("SG")
    execute(
        session,
        "UPDATE submission SET snapshot = replace(snapshot, :old, :new) WHERE id = :id",
        old='"value":120',
        new='"value":121',
        id=submission.id,
    )
    found = problems(session)
    assert f"submission {submission.id}: snapshot SHA-256 is" in found[0]
    # The decoded record no longer matches the snapshot either, and each difference is named.
    assert any(p.startswith("submission_record ") and "answers differs from the snapshot" in p for p in found)


def test_verify_catches_a_snapshot_rewritten_with_its_hash(session, make, submitted_to):
    _, submission, _ = submitted_to("SG")
    text = session.get(Submission, submission.id).snapshot.replace('"value":120', '"value":121')
    execute(
        session,
        "UPDATE submission SET snapshot = :text, sha256 = :sha WHERE id = :id",
        text=text,
        sha=portable.sha256_of_text(text),
        id=submission.id,
    )
    found = problems(session)
    assert any(f"submission {submission.id}: sha256 differs from the one recorded at submission" in p for p in found), (
        found
    )
    assert not any("snapshot SHA-256 is" in p for p in found)  # the stored hash itself matches


def test_verify_catches_a_changed_decoded_record(session, make, submitted_to):
    _, submission, _ = submitted_to("SG")
    record = session.exec(select(SubmissionRecord).where(SubmissionRecord.submission_id == submission.id)).one()
    execute(session, "UPDATE submission_record SET overall = 99.5 WHERE id = :id", id=record.id)
    execute(
        session,
        "UPDATE indicator_outcome SET met = NOT met WHERE submission_id = :id AND met IS NOT NULL",
        id=submission.id,
    )
    found = problems(session)
    assert f"submission_record {record.id}: overall differs from the snapshot (stored 99.5, snapshot" in found[0]
    assert any(p.startswith("indicator_outcome ") and "met differs from the snapshot" in p for p in found)


def test_verify_catches_a_changed_answer(session, make):
    org = make.organisation()
    assessment = make.assessment(org, make.user(org), answers={"mini.ops.reports": 120})
    answer = session.exec(select(Answer).where(Answer.assessment_id == assessment.id)).one()
    execute(session, "UPDATE answer SET value = '7' WHERE id = :id", id=answer.id)
    found = problems(session)
    assert any(
        p.startswith(f"answer {answer.id}: value differs from its history (answer_history") and "stored 7" in p
        for p in found
    ), found
    # Rewriting the history to match is caught by the audit log's record of the save.
    history = AnswerHistory.__table__
    session.execute(sa.update(history).values(new={**audit.answer_state(answer), "value": 7}))
    session.commit()
    assert not any(p.startswith(f"answer {answer.id}: value differs") for p in problems(session))
    assert any(
        f"answer {answer.id}: differs from the last answer.save in the audit log" in p for p in problems(session)
    )


def test_verify_catches_a_changed_audit_row(session, make, submitted_to):
    submitted_to("SG")
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "assessment.submit")).one()
    execute(session, "UPDATE audit_event SET detail = '{}' WHERE id = :id", id=event.id)
    found = problems(session)
    assert f"audit_event {event.id}: content does not match its row_hash (the row was changed)" in found
    assert len([p for p in found if p.startswith("audit_event")]) == 1  # the next row still links to it


def test_verify_catches_a_deleted_audit_row(session, make, submitted_to):
    submitted_to("SG")
    rows = session.exec(select(AuditEvent).order_by(AuditEvent.id)).all()
    execute(session, "DELETE FROM audit_event WHERE id = :id", id=rows[2].id)
    found = problems(session)
    assert (
        f"audit_event {rows[3].id}: prev_hash does not match the row before it (a row was deleted or reordered)"
        in found
    )
    # Deleting the newest events leaves no broken link, but the chain's head remembers them.
    execute(session, "DELETE FROM audit_event WHERE id >= :id", id=rows[-2].id)
    assert any(p.startswith("audit_chain_head 1:") and "the newest were deleted" in p for p in problems(session))


# -- a tampered submission is excluded and flagged -------------------------------------------------


def test_cli_verify_names_mismatches_flags_and_excludes(run, session, make, submitted_to, client, auth, app):
    _, good, _ = submitted_to("SG", name="Good Co")
    tampered_assessment, bad, recipients = submitted_to("SG", name="Bad Co")
    ok = run("verify")
    assert ok.exit_code == 0, ok.output
    assert "no problems" in ok.output
    method = make.content.methodology("standard@test.1")
    assert {c.submission_id for c in releases.contributions(session, method)} == {good.id, bad.id}

    execute(session, "UPDATE submission SET snapshot = snapshot || ' ' WHERE id = :id", id=bad.id)
    failed = run("verify")
    assert failed.exit_code == 1
    assert f"MISMATCH submission {bad.id}: snapshot SHA-256 is" in failed.output
    assert "1 submission(s) marked as tampered" in failed.output

    session.expire_all()
    run_row = session.exec(select(VerificationRun).order_by(VerificationRun.id.desc())).first()
    assert not run_row.ok and run_row.problems >= 1
    assert run_row.detail[0] == {"table": "submission", "id": str(bad.id), "what": run_row.detail[0]["what"]}
    # Left out of every aggregate...
    assert {c.submission_id for c in releases.contributions(session, method)} == {good.id}
    from dd_toolkit.records.aggregates import stored_indicator_report

    assert stored_indicator_report(session, "SG", 2026).institutions == 1
    # ...and flagged wherever it is shown: the CLI, the regulator's pages, the API.
    listed = run("list-assessments")
    assert f"{tampered_assessment.id:>4}  Bad Co" in listed.output and "TAMPERED" in listed.output
    assert listed.output.count("TAMPERED") == 1
    benchmark = run("benchmark")
    assert "failed verification" in benchmark.output

    reviewer = regulator(make, "SG")
    auth.login(reviewer.email)
    page = client.get(f"/review/{recipients['SG'].id}").get_data(as_text=True)
    assert "Integrity check failed" in page
    assert "failed verification" in client.get("/review/").get_data(as_text=True)

    # Repaired (the original snapshot put back), it rejoins the aggregates at the next run.
    execute(session, "UPDATE submission SET snapshot = rtrim(snapshot) WHERE id = :id", id=bad.id)
    assert run("verify").exit_code == 0
    session.expire_all()
    assert {c.submission_id for c in releases.contributions(session, method)} == {good.id, bad.id}


def test_api_flags_a_submission_that_failed_verification(session, make, submitted_to, client):
    from dd_toolkit.web.api.tokens import create_token

    _, submission, recipients = submitted_to("SG")
    _row, token = create_token(session, regulator(make, "SG"), "t")
    record = session.exec(select(SubmissionRecord).where(SubmissionRecord.submission_id == submission.id)).one()
    execute(session, "UPDATE submission_record SET intact = :no WHERE id = :id", no=False, id=record.id)
    headers = {"Authorization": f"Bearer {token}"}
    body = client.get(f"/api/v1/submissions/{recipients['SG'].id}", headers=headers).get_json()
    assert body["integrity_verified"] is False and body["recipient"]["verified"] is False
    listed = client.get("/api/v1/submissions", headers=headers).get_json()
    assert listed["items"][0]["verified"] is False


def test_platform_admin_sees_the_last_verification(run, session, make, client, auth):
    admin = make.user(platform_role=PlatformRole.PLATFORM_ADMIN)
    auth.login(admin.email)
    assert "No verification has been run yet" in client.get("/admin/integrity").get_data(as_text=True)
    org = make.organisation()
    make.assessment(org, make.user(org), answers={"mini.ops.reports": 120})
    answer = session.exec(select(Answer)).one()
    execute(session, "UPDATE answer SET comment = 'secret admission' WHERE id = :id", id=answer.id)
    assert run("verify").exit_code == 1
    page = client.get("/admin/integrity").get_data(as_text=True)
    assert "problem found" in page or "problems found" in page
    assert "comment differs from its history" in page
    assert "secret admission" not in page  # the admin sees where, never the answer text


# -- frozen means frozen ---------------------------------------------------------------------------


def test_regulator_sees_the_transparency_text_as_submitted(session, make, client, auth):
    org = make.organisation()
    admin = make.user(org)
    assessment = make.assessment(org, admin, 2026, make.complete_answers())
    save_transparency(session, assessment, "As submitted: we publish our policy.", 0, admin)
    submission = submit(
        session, make.bank, make.content.methodology("standard@test.1"), assessment, admin, jurisdictions=["SG"]
    )
    assert submission.transparency == "As submitted: we publish our policy."
    save_transparency(session, assessment, "Edited later: something else entirely.", 1, admin)
    recipient = session.exec(select(Recipient).where(Recipient.submission_id == submission.id)).one()
    auth.login(regulator(make, "SG").email)
    page = client.get(f"/review/{recipient.id}").get_data(as_text=True)
    assert "As submitted: we publish our policy." in page
    assert "Edited later" not in page
    # The frozen text is covered by the audit log: changing it is caught.
    execute(session, "UPDATE submission SET transparency = 'forged' WHERE id = :id", id=submission.id)
    assert any("transparency text differs from the one recorded at submission" in p for p in problems(session))


def test_an_edit_after_submission_never_reaches_the_regulator(session, make, client, auth):
    """Finding 9: with no edited text at submission, a text saved afterwards stays the company's own."""
    org = make.organisation()
    admin = make.user(org)
    assessment = make.assessment(org, admin, 2026, make.complete_answers())
    submission = submit(
        session, make.bank, make.content.methodology("standard@test.1"), assessment, admin, jurisdictions=["SG"]
    )
    save_transparency(session, assessment, "Written after submission.", 0, admin)
    recipient = session.exec(select(Recipient).where(Recipient.submission_id == submission.id)).one()
    auth.login(regulator(make, "SG").email)
    page = client.get(f"/review/{recipient.id}").get_data(as_text=True)
    assert "Integrity verified" in page
    assert "Written after submission." not in page

"""``dd-toolkit verify``: recompute everything the record can be checked against.

- every submission: the SHA-256 of its snapshot (which must be canonical JSON), against the hash
  stored beside it and against the hash the audit log recorded at submission (so a snapshot
  rewritten together with its hash is caught), and the frozen transparency text against its hash;
- every decoded record (``submission_record``, ``indicator_outcome``) against its snapshot,
  decoded again by :func:`dd_toolkit.records.submissions.record_rows`;
- every answer against its history (``answer_history``: each entry starts where the one before
  it ended, and the last one is the answer as stored) and against the last ``answer.save`` event
  of the audit log;
- the whole audit hash chain and its head.

Each mismatch names the table, the row id and what differs. :func:`store` keeps the run's
result (for the platform admin's page) and marks each submission intact or not: a submission
that is not is left out of every aggregate and flagged wherever it is shown.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from dd_toolkit.engine import portable
from dd_toolkit.records import audit
from dd_toolkit.records.models import (
    Answer,
    AnswerHistory,
    Assessment,
    AuditChainHead,
    AuditEvent,
    IndicatorOutcomeRecord,
    Submission,
    SubmissionRecord,
    VerificationRun,
    utcnow,
)
from dd_toolkit.records.submissions import record_rows

BATCH = 500
STORED_PROBLEMS = 200  # the first problems kept with a run (all are printed)
# Columns of a decoded record that are not decoded from the snapshot.
_NOT_DECODED = {"id", "latest", "intact"}


@dataclass(frozen=True)
class Problem:
    """One mismatch: the table, the row id, what differs. ``values`` (the differing values, which
    may be answer text) is printed for the operator but never stored or shown on a page."""

    table: str
    id: Any
    what: str
    values: str = ""

    def __str__(self) -> str:
        return f"{self.table} {self.id}: {self.what}" + (f" ({self.values})" if self.values else "")


@dataclass
class Result:
    started_at: datetime = field(default_factory=utcnow)
    problems: list[Problem] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)
    # Submissions whose snapshot, hash or decoded record cannot be trusted.
    tampered: set[int] = field(default_factory=set)
    # The chain's head when the run began (events, last hash): kept off the server, it anchors
    # the chain against a rewrite of the whole of it.
    head: tuple[int, str] | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, table: str, row_id: Any, what: str, *, submission_id: int | None = None, values: str = "") -> None:
        self.problems.append(Problem(table, row_id, what, values))
        if submission_id is not None:
            self.tampered.add(submission_id)


def _json(value: Any) -> Any:
    """``value`` as the database gives it back from a JSON column."""
    return json.loads(json.dumps(value, default=str))


def _sha(text: str | None) -> str | None:
    return None if text is None else hashlib.sha256(text.encode("utf-8")).hexdigest()


def _short(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def verify(db: Session) -> Result:
    """Check everything; nothing is written (see :func:`store`)."""
    result = Result()
    events = _check_chain(db, result)
    _check_submissions(db, result, events)
    _check_answers(db, result, events)
    return result


# -- the audit chain ---------------------------------------------------------------------------


@dataclass
class _Events:
    """What the submissions and answers are checked against, gathered while walking the chain."""

    submits: dict[str, list[tuple[int, dict]]] = field(default_factory=dict)  # assessment id -> events
    saves: dict[str, tuple[int, Any]] = field(default_factory=dict)  # "assessment:question" -> last after


def _stream(db: Session, query) -> Iterator[Any]:
    # Per statement: options set on the connection would stay on it, and PostgreSQL cannot run a
    # later UPDATE through a server-side cursor.
    return db.connection().execute(query, execution_options={"yield_per": 2000}).mappings()


def _check_chain(db: Session, result: Result) -> _Events:
    found = _Events()
    # Read first: events appended while we walk come after it.
    head = db.get(AuditChainHead, audit.HEAD_ID, populate_existing=True)
    expected_prev, position, head_seen = audit.GENESIS, 0, head is None
    result.head = (head.count, head.last_hash) if head is not None else None
    table = AuditEvent.__table__
    for row in _stream(db, sa.select(table).order_by(table.c.id)):
        position += 1
        row_id = row["id"]
        if row["row_hash"] is None or row["prev_hash"] is None:
            result.add("audit_event", row_id, "not chained (no hash)")
        else:
            if row["prev_hash"] != expected_prev:
                result.add(
                    "audit_event", row_id, "prev_hash does not match the row before it (a row was deleted or reordered)"
                )
            if audit.event_hash(dict(row), row["prev_hash"]) != row["row_hash"]:
                result.add("audit_event", row_id, "content does not match its row_hash (the row was changed)")
        expected_prev = row["row_hash"] or expected_prev
        if head is not None and position == head.count:
            head_seen = True
            if row["row_hash"] != head.last_hash:
                result.add("audit_chain_head", head.id, f"last_hash differs from audit_event {row_id}'s row_hash")
        detail = row["detail"] if isinstance(row["detail"], dict) else {}
        if row["action"] == "assessment.submit" and row["entity"] == "assessment":
            found.submits.setdefault(row["entity_id"], []).append((row_id, detail))
        elif row["action"] == "answer.save" and row["entity"] == "answer":
            found.saves[row["entity_id"]] = (row_id, detail.get("after"))
    result.checked["audit_event"] = position
    if head is None:
        if position:
            result.add("audit_chain_head", audit.HEAD_ID, "missing")
    elif not head_seen:
        result.add(
            "audit_chain_head",
            head.id,
            f"{head.count} events were appended but only {position} are present (the newest were deleted)",
        )
    return found


# -- submissions and their decoded records ------------------------------------------------------


def _rows(db: Session, query) -> list[SimpleNamespace]:
    """Plain rows (never the session's objects: the caller's identity map is left alone)."""
    return [SimpleNamespace(**row) for row in db.connection().execute(query).mappings()]


def _check_submissions(db: Session, result: Result, events: _Events) -> None:
    last_id, count = 0, 0
    submissions, assessments = Submission.__table__, Assessment.__table__
    while True:
        rows = _rows(
            db, sa.select(submissions).where(submissions.c.id > last_id).order_by(submissions.c.id).limit(BATCH)
        )
        if not rows:
            break
        ids = [row.id for row in rows]
        of = {
            a.id: a
            for a in _rows(db, sa.select(assessments).where(assessments.c.id.in_([row.assessment_id for row in rows])))
        }
        table = SubmissionRecord.__table__
        records = {r.submission_id: r for r in _rows(db, sa.select(table).where(table.c.submission_id.in_(ids)))}
        outcomes: dict[int, list[SimpleNamespace]] = {}
        table = IndicatorOutcomeRecord.__table__
        for outcome in _rows(db, sa.select(table).where(table.c.submission_id.in_(ids))):
            outcomes.setdefault(outcome.submission_id, []).append(outcome)
        for submission in rows:
            _check_submission(
                result, events, submission, of[submission.assessment_id], records.get(submission.id), outcomes
            )
            count += 1
        last_id = ids[-1]
    result.checked["submission"] = count


def _check_submission(
    result: Result,
    events: _Events,
    submission: SimpleNamespace,
    assessment: SimpleNamespace,
    record: SimpleNamespace | None,
    outcomes: dict[int, list[SimpleNamespace]],
) -> None:
    sid = submission.id
    actual = _sha(submission.snapshot)
    if actual != submission.sha256:
        what = f"snapshot SHA-256 is {actual[:12]}…, stored sha256 is {submission.sha256[:12]}…"
        result.add("submission", sid, what, submission_id=sid)
    try:
        parsed = json.loads(submission.snapshot)
    except ValueError:
        result.add("submission", sid, "snapshot is not valid JSON", submission_id=sid)
        return
    if portable.canonical_json(parsed) != submission.snapshot:
        result.add("submission", sid, "snapshot is not in canonical JSON form", submission_id=sid)
    submits = events.submits.get(str(assessment.id), [])
    if not submits:
        what = f"no assessment.submit event for assessment {assessment.id} in the audit log"
        result.add("submission", sid, what, submission_id=sid)
    else:
        event_id, detail = submits[-1]
        if detail.get("sha256") != submission.sha256:
            result.add(
                "submission",
                sid,
                f"sha256 differs from the one recorded at submission (audit_event {event_id}): "
                "the snapshot was rewritten together with its hash",
                submission_id=sid,
            )
        if "transparency_sha256" in detail and detail["transparency_sha256"] != _sha(submission.transparency):
            result.add(
                "submission",
                sid,
                f"transparency text differs from the one recorded at submission (audit_event {event_id})",
                submission_id=sid,
            )
    if assessment.status != "submitted":
        what = f"status is {assessment.status!r} but it has submission {sid}"
        result.add("assessment", assessment.id, what, submission_id=sid)
    try:
        expected, expected_outcomes = record_rows(
            submission_id=sid,
            organisation_id=assessment.organisation_id,
            cycle=assessment.cycle,
            version=assessment.version,
            methodology=submission.methodology,
            benchmark_consent=submission.benchmark_consent,
            submitted_at=submission.submitted_at,
            snapshot=submission.snapshot,
        )
    except Exception as exc:  # a snapshot the decoder cannot read is itself a finding
        result.add("submission", sid, f"snapshot cannot be decoded ({type(exc).__name__})", submission_id=sid)
        return
    if record is None:
        result.add("submission_record", f"(submission {sid})", "missing", submission_id=sid)
    else:
        for name, value in expected.items():
            if name in _NOT_DECODED:
                continue
            stored = getattr(record, name)
            if stored != value and _json(stored) != _json(value):  # the cheap test first
                result.add(
                    "submission_record",
                    record.id,
                    f"{name} differs from the snapshot",
                    submission_id=sid,
                    values=f"stored {_short(stored)}, snapshot {_short(value)}",
                )
    stored_outcomes = {(o.indicator_id, o.component_id): o for o in outcomes.get(sid, [])}
    wanted = {(o["indicator_id"], o["component_id"]): o for o in expected_outcomes}
    for key in sorted(wanted.keys() - stored_outcomes.keys()):
        result.add("indicator_outcome", f"(submission {sid})", f"{key[0]}/{key[1] or '-'} missing", submission_id=sid)
    for key in sorted(stored_outcomes.keys() - wanted.keys()):
        what = f"{key[0]}/{key[1] or '-'} is not in the snapshot"
        result.add("indicator_outcome", stored_outcomes[key].id, what, submission_id=sid)
    for key in sorted(wanted.keys() & stored_outcomes.keys()):
        row, value = stored_outcomes[key], wanted[key]
        for name in ("label", "applies", "met"):
            if getattr(row, name) != value[name]:
                result.add(
                    "indicator_outcome",
                    row.id,
                    f"{key[0]}/{key[1] or '-'} {name} differs from the snapshot",
                    submission_id=sid,
                    values=f"stored {getattr(row, name)!r}, snapshot {value[name]!r}",
                )


# -- answers and their history -----------------------------------------------------------------


def _check_answers(db: Session, result: Result, events: _Events) -> None:
    """Answers and their history, a batch of assessments at a time (memory stays bounded)."""
    result.checked["answer_history"] = result.checked["answer"] = 0
    assessments, answers, history = Assessment.__table__, Answer.__table__, AnswerHistory.__table__
    last_id = 0
    while True:
        ids = list(
            db.connection()
            .execute(
                sa.select(assessments.c.id).where(assessments.c.id > last_id).order_by(assessments.c.id).limit(BATCH)
            )
            .scalars()
        )
        if not ids:
            break
        last_id = ids[-1]
        query = sa.select(history).where(history.c.assessment_id.in_(ids)).order_by(history.c.id)
        _check_answer_batch(
            result,
            events,
            db.connection().execute(query).mappings().all(),
            db.connection().execute(sa.select(answers).where(answers.c.assessment_id.in_(ids))).mappings().all(),
        )


def _check_answer_batch(result: Result, events: _Events, history: list, answers: list) -> None:
    last_of: dict[tuple[int, str], dict] = {}
    for row in history:  # in id order: each answer's entries in the order they were written
        key = (row["assessment_id"], row["question_id"])
        previous = last_of.get(key)
        if previous is not None and row["old"] != previous["new"]:
            what = f"old value does not match answer_history {previous['id']}'s new value"
            result.add("answer_history", row["id"], what)
        last_of[key] = row
    result.checked["answer_history"] += len(history)
    result.checked["answer"] += len(answers)
    for row in answers:
        key = (row["assessment_id"], row["question_id"])
        state = audit.answer_state(dict(row))
        last = last_of.get(key)
        if last is None:
            result.add("answer", row["id"], f"{key[1]} of assessment {key[0]} has no history")
            continue
        recorded = last["new"] or {}
        for name in sorted(set(state) | set(recorded)):
            if state.get(name) != recorded.get(name):
                result.add(
                    "answer",
                    row["id"],
                    f"{name} differs from its history (answer_history {last['id']})",
                    values=f"stored {_short(state.get(name))}, history {_short(recorded.get(name))}",
                )
        if row["version"] != last["answer_version"]:
            result.add("answer", row["id"], f"version is {row['version']}, its history says {last['answer_version']}")
        saved = events.saves.get(f"{key[0]}:{key[1]}")
        if saved is not None and saved[1] is not None and _json(saved[1]) != state:
            what = f"differs from the last answer.save in the audit log (audit_event {saved[0]})"
            result.add("answer", row["id"], what)


# -- keeping the result ------------------------------------------------------------------------


def store(db: Session, result: Result) -> tuple[VerificationRun, bool]:
    """Keep the run's result and mark each submission intact or not; commits. Returns the run
    and whether any submission's mark changed (then the stored aggregates must be refreshed)."""
    table = SubmissionRecord.__table__
    changed = (
        db.execute(
            sa.update(table)
            .where(table.c.submission_id.in_(sorted(result.tampered)), table.c.intact == sa.true())
            .values(intact=False)
        ).rowcount
        if result.tampered
        else 0
    )
    changed += db.execute(
        sa.update(table)
        .where(table.c.submission_id.not_in(sorted(result.tampered)), table.c.intact == sa.false())
        .values(intact=True)
    ).rowcount
    run = VerificationRun(
        started_at=result.started_at,
        finished_at=utcnow(),
        ok=result.ok,
        problems=len(result.problems),
        checked=dict(result.checked),
        detail=[{"table": p.table, "id": str(p.id), "what": p.what} for p in result.problems[:STORED_PROBLEMS]],
    )
    db.add(run)
    db.flush()
    audit.record(
        db,
        user=None,
        organisation_id=None,
        action="integrity.verify",
        entity="verification_run",
        entity_id=run.id,
        detail={"ok": result.ok, "problems": len(result.problems), "tampered": sorted(result.tampered)},
    )
    db.commit()
    return run, bool(changed)


def last_run(db: Session) -> VerificationRun | None:
    return db.exec(select(VerificationRun).order_by(VerificationRun.id.desc()).limit(1)).first()


def tampered_assessments(db: Session) -> set[int]:
    """The assessments whose submission the last verification found tampered with."""
    return set(
        db.exec(
            select(Submission.assessment_id)
            .join(SubmissionRecord, SubmissionRecord.submission_id == Submission.id)
            .where(SubmissionRecord.intact == sa.false())
        )
    )

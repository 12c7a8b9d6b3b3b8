"""A submission's decoded record: stored once at submit, read by everything after."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from dd_toolkit.engine.snapshot import decode
from dd_toolkit.records.models import Assessment, IndicatorOutcomeRecord, Submission, SubmissionRecord


def record_rows(
    *,
    submission_id: int,
    organisation_id: int,
    cycle: int,
    version: int,
    methodology: str,
    benchmark_consent: bool,
    submitted_at: datetime,
    snapshot: str,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The decoded record of one submission and its indicator outcomes, as table rows: what
    :func:`store_record` stores, and what a bulk load inserts many of at once."""
    decoded = decode(json.loads(snapshot))
    record = {
        "submission_id": submission_id,
        "organisation_id": organisation_id,
        "cycle": cycle,
        "version": version,
        "methodology": methodology,
        "benchmark_consent": benchmark_consent,
        "latest": True,
        "submitted_at": submitted_at,
        "organisation_name": decoded.organisation_name,
        **decoded.profile,
        "overall": decoded.overall,
        "band": decoded.band,
        "score_card": decoded.score_card,
        "benchmark_entry": decoded.benchmark_entry,
        "answers": decoded.answers,
        "risk_register": decoded.risk_register,
    }
    outcomes = [{"submission_id": submission_id, **vars(o)} for o in decoded.outcomes]
    return record, outcomes


def store_record(db: Session, submission: Submission, assessment: Assessment) -> SubmissionRecord:
    """Decode the frozen snapshot into its stored pieces; the caller commits with the submission.

    The new record becomes the latest of its organisation and cycle."""
    values, outcomes = record_rows(
        submission_id=submission.id,
        organisation_id=assessment.organisation_id,
        cycle=assessment.cycle,
        version=assessment.version,
        methodology=submission.methodology,
        benchmark_consent=submission.benchmark_consent,
        submitted_at=submission.submitted_at,
        snapshot=submission.snapshot,
    )
    db.execute(
        sa.update(SubmissionRecord)
        .where(
            SubmissionRecord.organisation_id == assessment.organisation_id,
            SubmissionRecord.cycle == assessment.cycle,
            SubmissionRecord.latest == sa.true(),
        )
        .values(latest=False)
    )
    record = SubmissionRecord(**values)
    db.add(record)
    if outcomes:  # one multi-row insert (a dozen ORM objects per submission cost more)
        db.execute(sa.insert(IndicatorOutcomeRecord.__table__), outcomes)
    return record


# The record's large JSON columns (a light read loads them on first use only).
RECORD_JSON = (SubmissionRecord.score_card, SubmissionRecord.answers, SubmissionRecord.benchmark_entry)


# Built once (pages read a record on every visit): building a statement costs more than running it.
_RECORD = select(SubmissionRecord).where(SubmissionRecord.submission_id == sa.bindparam("submission_id"))
_LIGHT_RECORD = _RECORD.options(*(sa.orm.defer(column) for column in RECORD_JSON))
# With its benchmark figures only: the score card and the answers are most of a record's text.
_ENTRY_RECORD = _RECORD.options(sa.orm.defer(SubmissionRecord.score_card), sa.orm.defer(SubmissionRecord.answers))


def record_of(
    db: Session, submission_id: int, *, light: bool = False, entry_only: bool = False
) -> SubmissionRecord | None:
    """The decoded record of a submission; ``light``: its JSON columns loaded on first use;
    ``entry_only``: the same but for its benchmark entry, loaded at once."""
    statement = _LIGHT_RECORD if light else _ENTRY_RECORD if entry_only else _RECORD
    return db.exec(statement, params={"submission_id": submission_id}).first()

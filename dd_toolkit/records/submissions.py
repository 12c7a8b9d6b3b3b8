"""A submission's decoded record: stored once at submit, read by everything after."""

from __future__ import annotations

import json

import sqlalchemy as sa
from sqlmodel import Session, select

from dd_toolkit.engine.snapshot import decode
from dd_toolkit.records.models import Assessment, IndicatorOutcomeRecord, Submission, SubmissionRecord


def store_record(db: Session, submission: Submission, assessment: Assessment) -> SubmissionRecord:
    """Decode the frozen snapshot into its stored pieces; the caller commits with the submission.

    The new record becomes the latest of its organisation and cycle."""
    decoded = decode(json.loads(submission.snapshot))
    db.execute(
        sa.update(SubmissionRecord)
        .where(
            SubmissionRecord.organisation_id == assessment.organisation_id,
            SubmissionRecord.cycle == assessment.cycle,
            SubmissionRecord.latest == sa.true(),
        )
        .values(latest=False)
    )
    record = SubmissionRecord(
        submission_id=submission.id,
        organisation_id=assessment.organisation_id,
        cycle=assessment.cycle,
        version=assessment.version,
        methodology=submission.methodology,
        benchmark_consent=submission.benchmark_consent,
        latest=True,
        submitted_at=submission.submitted_at,
        organisation_name=decoded.organisation_name,
        **decoded.profile,
        overall=decoded.overall,
        band=decoded.band,
        score_card=decoded.score_card,
        benchmark_entry=decoded.benchmark_entry,
        answers=decoded.answers,
    )
    db.add(record)
    if decoded.outcomes:  # one multi-row insert (a dozen ORM objects per submission cost more)
        db.execute(
            sa.insert(IndicatorOutcomeRecord.__table__),
            [{"submission_id": submission.id, "applies": False, **vars(o)} for o in decoded.outcomes],
        )
    return record


def record_of(db: Session, submission_id: int) -> SubmissionRecord | None:
    return db.exec(select(SubmissionRecord).where(SubmissionRecord.submission_id == submission_id)).first()

"""Regulator review of submitted assessments: recipients per jurisdiction, the review
workflow, comments, the timeline, what changed between versions, and the integrity check.
Database functions take a session; the rules (transitions, indicator counts) are plain data."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from dd_toolkit.engine.snapshot import ANSWER_KEYS
from dd_toolkit.records import audit
from dd_toolkit.records.models import (
    Assessment,
    Recipient,
    ReviewEvent,
    ReviewStatus,
    Submission,
    SubmissionRecord,
    User,
    utcnow,
)

# The review workflow. A clarification request is answered by the company with a new version,
# which arrives as a new recipient and supersedes the old one.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    ReviewStatus.RECEIVED: (ReviewStatus.IN_REVIEW,),
    ReviewStatus.IN_REVIEW: (ReviewStatus.CLARIFICATION_REQUESTED, ReviewStatus.REVIEWED),
    ReviewStatus.CLARIFICATION_REQUESTED: (),
    ReviewStatus.REVIEWED: (),
    ReviewStatus.SUPERSEDED: (),
}
STATUS_LABELS = {
    ReviewStatus.RECEIVED: "Received",
    ReviewStatus.IN_REVIEW: "In review",
    ReviewStatus.CLARIFICATION_REQUESTED: "Clarification requested",
    ReviewStatus.REVIEWED: "Reviewed",
    ReviewStatus.SUPERSEDED: "Superseded by a new version",
}


class ReviewError(Exception):
    """A review step that is not allowed; the message says why."""


def _event(db: Session, recipient: Recipient, user: User | None, kind: str, **values: Any) -> None:
    db.add(ReviewEvent(recipient_id=recipient.id, user_id=user.id if user else None, kind=kind, **values))


def _audit(
    db: Session, user: User | None, org_id: int | None, action: str, recipient: Recipient, detail: dict[str, Any]
) -> None:
    audit.record(
        db, user=user, organisation_id=org_id, action=action, entity="recipient", entity_id=recipient.id, detail=detail
    )


def address(
    db: Session,
    submission: Submission,
    jurisdictions: list[str],
    user: User | None,
    previous_assessment_id: int | None = None,
) -> list[Recipient]:
    """Address a new submission to regulators. When it is a new version of a submission that
    was addressed to the same jurisdiction, it is linked to it, and the old one is superseded."""
    previous = {}
    if previous_assessment_id is not None:
        rows = db.exec(
            select(Recipient)
            .join(Submission, Submission.id == Recipient.submission_id)
            .where(Submission.assessment_id == previous_assessment_id)
        )
        previous = {row.jurisdiction: row for row in rows}
    created = [
        Recipient(
            submission_id=submission.id,
            jurisdiction=jurisdiction,
            previous_id=previous[jurisdiction].id if jurisdiction in previous else None,
        )
        for jurisdiction in sorted(set(jurisdictions))
    ]
    db.add_all(created)
    db.flush()  # one flush gives every recipient its id
    for recipient in created:
        earlier = previous.get(recipient.jurisdiction)
        _event(
            db,
            recipient,
            user,
            "submitted",
            to_status=ReviewStatus.RECEIVED,
            text="A new version answering the clarification request." if earlier else "",
        )
        if earlier is not None and earlier.status not in (ReviewStatus.REVIEWED, ReviewStatus.SUPERSEDED):
            _event(
                db,
                earlier,
                user,
                "new_version",
                from_status=earlier.status,
                to_status=ReviewStatus.SUPERSEDED,
                text="The company submitted a new version.",
            )
            earlier.status = ReviewStatus.SUPERSEDED
            earlier.updated_at = utcnow()
            db.add(earlier)
    return created


def transition(db: Session, recipient: Recipient, to_status: str, user: User, text: str = "") -> None:
    allowed = TRANSITIONS.get(recipient.status, ())
    if to_status not in allowed:
        current = STATUS_LABELS.get(recipient.status, recipient.status)
        target = STATUS_LABELS.get(to_status, to_status)
        if allowed:
            options = " or ".join(f"“{STATUS_LABELS[s]}”" for s in allowed)
            raise ReviewError(f"A submission that is “{current}” can move to {options}, not to “{target}”.")
        raise ReviewError(f"A submission that is “{current}” cannot change status any more.")
    if to_status == ReviewStatus.CLARIFICATION_REQUESTED and not text.strip() and not _has_open_comments(db, recipient):
        raise ReviewError(
            "Say what needs clarifying: add a comment on the whole or on a question first, or write the request here."
        )
    _event(db, recipient, user, "status", from_status=recipient.status, to_status=to_status, text=text.strip())
    submission = db.get(Submission, recipient.submission_id)
    assessment = db.get(Assessment, submission.assessment_id)
    _audit(
        db, user, assessment.organisation_id, "review.status", recipient, {"from": recipient.status, "to": to_status}
    )
    recipient.status = to_status
    recipient.updated_at = utcnow()
    db.add(recipient)
    db.commit()


def _has_open_comments(db: Session, recipient: Recipient) -> bool:
    last_status = db.exec(
        select(ReviewEvent)
        .where(ReviewEvent.recipient_id == recipient.id, ReviewEvent.kind == "status")
        .order_by(ReviewEvent.at.desc(), ReviewEvent.id.desc())
    ).first()
    comments = db.exec(
        select(ReviewEvent).where(ReviewEvent.recipient_id == recipient.id, ReviewEvent.kind == "comment")
    ).all()
    return any(last_status is None or c.id > last_status.id for c in comments)


def comment(db: Session, recipient: Recipient, user: User, text: str, question_id: str | None = None) -> None:
    text = text.strip()
    if not text:
        raise ReviewError("Write the comment first.")
    if len(text) > 10_000:
        raise ReviewError("Keep a comment under 10,000 characters.")
    if recipient.status in (ReviewStatus.REVIEWED, ReviewStatus.SUPERSEDED):
        raise ReviewError("This review is closed; comment on the current version instead.")
    _event(db, recipient, user, "comment", question_id=question_id or None, text=text)
    db.commit()


# -- reading -------------------------------------------------------------------------------


def chain(db: Session, recipient: Recipient) -> list[Recipient]:
    """This recipient and the earlier versions it answers, oldest first."""
    found = [recipient]
    while found[0].previous_id is not None:
        found.insert(0, db.get(Recipient, found[0].previous_id))
    return found


def timeline(db: Session, recipient: Recipient) -> list[tuple[Recipient, ReviewEvent]]:
    """Every step of every version of this review, oldest first."""
    steps = []
    for item in chain(db, recipient):
        events = db.exec(
            select(ReviewEvent).where(ReviewEvent.recipient_id == item.id).order_by(ReviewEvent.at, ReviewEvent.id)
        ).all()
        steps.extend((item, event) for event in events)
    return steps


def recipients_of_assessment(db: Session, assessment_id: int) -> list[Recipient]:
    return list(
        db.exec(
            select(Recipient)
            .join(Submission, Submission.id == Recipient.submission_id)
            .where(Submission.assessment_id == assessment_id)
            .order_by(Recipient.jurisdiction)
        )
    )


def integrity_ok(submission: Submission, record: SubmissionRecord | None = None) -> bool:
    """Recompute the SHA-256 of the frozen snapshot and compare it with the one recorded; and,
    given its decoded record, whether ``dd-toolkit verify`` last found the submission intact
    (it also catches a snapshot rewritten together with its hash, against the audit log)."""
    if record is not None and not record.intact:
        return False
    return hashlib.sha256(submission.snapshot.encode("utf-8")).hexdigest() == submission.sha256


def changed_answers(before: dict[str, Any], after: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(question id, answer before, answer now) for every answer that differs between two
    submissions' decoded answers."""
    keys = ANSWER_KEYS
    changes = []
    for qid in sorted(set(before) | set(after)):
        old = {k: before[qid][k] for k in keys} if qid in before else None
        new = {k: after[qid][k] for k in keys} if qid in after else None
        if old != new:
            changes.append((qid, old, new))
    return changes


@dataclass
class InboxRow:
    recipient: Recipient
    submission: Submission  # without its snapshot text, which a list never needs
    assessment: Assessment
    record: SubmissionRecord

    @property
    def organisation_name(self) -> str:
        return self.record.organisation_name


@dataclass
class InboxPage:
    rows: list[InboxRow]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _json_list_contains(column, value: str):
    """A JSON list column holding ``value``, in a way SQLite and PostgreSQL both understand:
    ids are plain words, so the quoted value appears in the list's text exactly when it is in it."""
    return sa.cast(column, sa.Text).like(f'%"{value}"%')


def inbox(
    db: Session,
    jurisdictions: list[str],
    *,
    status: str | None = None,
    service_type: str | None = None,
    size_band: str | None = None,
    cycle: int | None = None,
    page: int = 1,
    per_page: int = 50,
) -> InboxPage:
    """Submissions addressed to ``jurisdictions``, newest activity first, one page at a time;
    the filters are applied by the database, on the decoded records."""
    filters = [Recipient.jurisdiction.in_(jurisdictions)]
    if status:
        filters.append(Recipient.status == status)
    by_record = []
    if cycle:
        by_record.append(SubmissionRecord.cycle == cycle)
    if service_type:
        by_record.append(_json_list_contains(SubmissionRecord.service_types, service_type))
    if size_band:
        by_record.append(SubmissionRecord.size_band == size_band)
    # Counted and paged on the narrow tables alone; only the page's rows are then read whole
    # (reading past a submission's snapshot text costs as much as the snapshot).
    narrow = select(Recipient.id).where(*filters)
    if by_record:  # without these filters the inbox index alone answers
        narrow = narrow.join(SubmissionRecord, SubmissionRecord.submission_id == Recipient.submission_id).where(
            *by_record
        )
    total = db.exec(select(sa.func.count()).select_from(narrow.subquery())).one()
    page = max(1, page)
    order = (Recipient.updated_at.desc(), Recipient.id.desc())
    page_ids = list(db.exec(narrow.order_by(*order).offset((page - 1) * per_page).limit(per_page)))
    rows = db.exec(
        select(Recipient, Submission, Assessment, SubmissionRecord)
        .join(Submission, Submission.id == Recipient.submission_id)
        .join(Assessment, Assessment.id == Submission.assessment_id)
        .join(SubmissionRecord, SubmissionRecord.submission_id == Submission.id)
        .where(Recipient.id.in_(page_ids))
        .options(
            sa.orm.defer(Submission.snapshot),
            sa.orm.defer(SubmissionRecord.score_card),
            sa.orm.defer(SubmissionRecord.answers),
            sa.orm.defer(SubmissionRecord.benchmark_entry),
        )
        .order_by(*order)
    )
    return InboxPage([InboxRow(*row) for row in rows], total, page, per_page)

"""Regulator review of submitted assessments: recipients per jurisdiction, the review
workflow, comments, the timeline, what changed between versions, and the integrity check.
Database functions take a session; the rules (transitions, indicator counts) are plain data."""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from cachetools import LRUCache
from sqlmodel import Session, select

from dd_toolkit.engine.snapshot import ANSWER_KEYS
from dd_toolkit.engine.text import N_, Message
from dd_toolkit.records import audit, notifications
from dd_toolkit.records.models import (
    Assessment,
    Recipient,
    ReviewEvent,
    ReviewStatus,
    Submission,
    SubmissionRecord,
    User,
    VerificationRun,
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
# Marked for the catalogues (N_) and translated where they are shown.
STATUS_LABELS = {
    ReviewStatus.RECEIVED: N_("Received"),
    ReviewStatus.IN_REVIEW: N_("In review"),
    ReviewStatus.CLARIFICATION_REQUESTED: N_("Clarification requested"),
    ReviewStatus.REVIEWED: N_("Reviewed"),
    ReviewStatus.SUPERSEDED: N_("Superseded by a new version"),
}


class ReviewError(Exception):
    """A review step that is not allowed; the message says why."""


def allowed_moves(status: str) -> tuple[str, ...]:
    """The statuses a review in ``status`` may move to: what :func:`transition` accepts, and
    so what the regulator's page offers."""
    return TRANSITIONS.get(status, ())


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
    was addressed to the same jurisdiction, it is linked to it, and the old one is superseded.

    A new version is the company's reply to every clarification request open on the version it
    was started from, so it always goes to the regulators who asked (see
    :func:`reply_jurisdictions`), even when the caller left them out: otherwise the reply would
    never reach them and the request would stay open for ever."""
    previous = latest_reviews(db, previous_assessment_id)
    jurisdictions = [
        *jurisdictions,
        *(j for j, r in previous.items() if r.status == ReviewStatus.CLARIFICATION_REQUESTED),
    ]
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
            text=(
                ""
                if earlier is None
                else "A new version answering the clarification request."
                if earlier.status == ReviewStatus.CLARIFICATION_REQUESTED
                else "A new version of an earlier submission."
            ),
        )
        if earlier is not None and earlier.status == ReviewStatus.CLARIFICATION_REQUESTED:
            notifications.clarification_answered(db, earlier, recipient, submission)  # to the regulator who asked
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


def latest_reviews(db: Session, assessment_id: int | None) -> dict[str, Recipient]:
    """For each jurisdiction, the review of the newest version that went there, from
    ``assessment_id`` back through the versions it was started from. A regulator who got
    version 1 but not version 2 gets version 3 as the next one after version 1."""
    latest: dict[str, Recipient] = {}
    seen: set[int] = set()
    while assessment_id is not None and assessment_id not in seen:
        seen.add(assessment_id)
        rows = db.exec(
            select(Recipient)
            .join(Submission, Submission.id == Recipient.submission_id)
            .where(Submission.assessment_id == assessment_id)
        )
        for row in rows:
            latest.setdefault(row.jurisdiction, row)
        assessment_id = db.exec(select(Assessment.previous_id).where(Assessment.id == assessment_id)).first()
    return latest


def reply_jurisdictions(db: Session, previous_assessment_id: int | None) -> list[str]:
    """The jurisdictions whose regulator asked for clarification on a version a new one was
    started from (directly or through the versions between), and is still waiting: the new
    version is the reply and goes to them."""
    return sorted(
        jurisdiction
        for jurisdiction, recipient in latest_reviews(db, previous_assessment_id).items()
        if recipient.status == ReviewStatus.CLARIFICATION_REQUESTED
    )


def _either(labels: list[str]) -> Message:
    """“A”, “A” or “B”, “A” or “B” or “C”: each label quoted, translatable piece by piece."""
    quoted = [Message(N_("“%(status)s”"), status=Message(label)) for label in labels]
    either = quoted[-1]
    for option in reversed(quoted[:-1]):
        either = Message(N_("%(first)s or %(second)s"), first=option, second=either)
    return either


def transition(db: Session, recipient: Recipient, to_status: str, user: User, text: str = "") -> None:
    allowed = allowed_moves(recipient.status)
    if to_status not in allowed:
        current = Message(STATUS_LABELS.get(recipient.status, recipient.status))
        target = Message(STATUS_LABELS.get(to_status, to_status))
        if allowed:
            options = _either([STATUS_LABELS[s] for s in allowed])
            raise ReviewError(
                Message(
                    N_("A submission that is “%(current)s” can move to %(options)s, not to “%(target)s”."),
                    current=current,
                    options=options,
                    target=target,
                )
            )
        raise ReviewError(
            Message(N_("A submission that is “%(current)s” cannot change status any more."), current=current)
        )
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
    notifications.review_status_changed(db, recipient, assessment, to_status, user)  # to the company
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
        raise ReviewError(Message(N_("Write the comment first.")))
    if len(text) > 10_000:
        raise ReviewError(Message(N_("Keep a comment under %(limit)s characters."), limit=10_000))
    if recipient.status in (ReviewStatus.REVIEWED, ReviewStatus.SUPERSEDED):
        raise ReviewError(Message(N_("This review is closed; comment on the current version instead.")))
    _event(db, recipient, user, "comment", question_id=question_id or None, text=text)
    db.commit()


# -- reading -------------------------------------------------------------------------------


def chain(db: Session, recipient: Recipient) -> list[Recipient]:
    """This recipient and the earlier versions it answers, oldest first."""
    found = [recipient]
    while found[0].previous_id is not None:
        found.insert(0, db.get(Recipient, found[0].previous_id))
    return found


# Built once (the regulator's submission page reads it): building a statement costs more than running it.
_EVENTS = (
    select(ReviewEvent)
    .where(ReviewEvent.recipient_id == sa.bindparam("recipient_id"))
    .order_by(ReviewEvent.at, ReviewEvent.id)
)


def timeline(db: Session, recipient: Recipient) -> list[tuple[Recipient, ReviewEvent]]:
    """Every step of every version of this review, oldest first."""
    steps = []
    for item in chain(db, recipient):
        events = db.exec(_EVENTS, params={"recipient_id": item.id}).all()
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


#: What a change to an answer can touch, in the order the review page lists them: the answer
#: itself (its value, or "not applicable" and why), the company's comment, the evidence links,
#: and the details of a metric (reporting period, how it was counted, strength of the evidence).
CHANGE_ASPECTS = ("answer", "comment", "evidence", "details")
_ASPECT_KEYS = {
    "answer": ("value", "not_applicable", "justification"),
    "comment": ("comment",),
    "evidence": ("evidence",),
    "details": ("meta",),
}


@dataclass(frozen=True)
class AnswerChange:
    """How one question's answer differs between two versions of a submission."""

    question_id: str
    before: dict[str, Any] | None  # the decoded answer, or None when there was none
    after: dict[str, Any] | None
    aspects: tuple[str, ...]  # which of CHANGE_ASPECTS differ
    evidence_added: tuple[dict[str, Any], ...] = ()
    evidence_removed: tuple[dict[str, Any], ...] = ()


def _blank(value: Any) -> Any:
    """An empty comment, list or flag counts as no value; the number 0 does not."""
    return None if value is False or value in ("", [], {}) else value


def _evidence_key(item: dict[str, Any]) -> tuple[str, str]:
    return (item.get("url") or "", item.get("description") or "")


def changed_answers(before: dict[str, Any], after: dict[str, Any]) -> list[AnswerChange]:
    """Every answer that differs between two submissions' decoded answers, with what differs:
    the value, the comment, the evidence (links added and removed) or the metric details."""
    changes = []
    for qid in sorted(set(before) | set(after)):
        old = {k: before[qid].get(k) for k in ANSWER_KEYS} if qid in before else None
        new = {k: after[qid].get(k) for k in ANSWER_KEYS} if qid in after else None
        if old == new:
            continue
        empty = dict.fromkeys(ANSWER_KEYS)
        was, now = old or empty, new or empty
        aspects = tuple(
            aspect for aspect in CHANGE_ASPECTS if any(_blank(was[k]) != _blank(now[k]) for k in _ASPECT_KEYS[aspect])
        )
        if not aspects:  # only an empty value written another way
            continue
        was_evidence = {_evidence_key(e): e for e in was["evidence"] or []}
        now_evidence = {_evidence_key(e): e for e in now["evidence"] or []}
        changes.append(
            AnswerChange(
                question_id=qid,
                before=old,
                after=new,
                aspects=aspects,
                evidence_added=tuple(e for k, e in now_evidence.items() if k not in was_evidence),
                evidence_removed=tuple(e for k, e in was_evidence.items() if k not in now_evidence),
            )
        )
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


def _inbox_filters(jurisdictions, status, service_type, size_band, cycle) -> tuple[list, list]:
    """The inbox's filters: on the reviews, and on the decoded records (a join only when any)."""
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
    return filters, by_record


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
    filters, by_record = _inbox_filters(jurisdictions, status, service_type, size_band, cycle)
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


class InboxSubmission(NamedTuple):
    """What the inbox shows of one submission, read as plain columns of its record. (A named
    tuple: the page keeps its tables under these values, so they are hashed on every visit.)"""

    id: int
    submitted_at: datetime
    cycle: int
    version: int  # of the assessment
    organisation_name: str  # as frozen in its record
    intact: bool  # as ``dd-toolkit verify`` last found it


class InboxReview(NamedTuple):
    """One of a submission's reviews as the inbox lists it."""

    id: int  # the recipient's
    jurisdiction: str
    status: str


@dataclass
class InboxGroup:
    """One submission in a regulator's inbox, with its review in each of their jurisdictions
    it was addressed to (a submission sent to two of them is listed once)."""

    submission: InboxSubmission
    recipients: list[InboxReview]  # by jurisdiction
    # False when every review listed was superseded by a newer version sent to the same
    # regulator (or marked superseded): the group is an earlier version, listed after the others.
    current: bool

    @property
    def organisation_name(self) -> str:
        return self.submission.organisation_name

    @property
    def main(self) -> InboxReview:
        """The review the organisation's name links to: the first one still current."""
        return next((r for r in self.recipients if r.status != ReviewStatus.SUPERSEDED), self.recipients[0])


@dataclass
class InboxGroupPage:
    """One page of a regulator's inbox. Kept and shared by the requests that show the same
    state of the reviews: read it, never change it."""

    groups: list[InboxGroup]
    total: int  # submissions, not recipients
    page: int
    per_page: int
    key: tuple  # everything the page depends on: a key for what is rendered from it

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def inbox_groups(
    db: Session,
    jurisdictions: list[str],
    *,
    status: str | None = None,
    service_type: str | None = None,
    size_band: str | None = None,
    cycle: int | None = None,
    page: int = 1,
    per_page: int = 50,
) -> InboxGroupPage:
    """The inbox page: each submission addressed to ``jurisdictions`` once, with its review in
    each of them; current versions first, newest activity first, then the earlier versions a
    newer one has superseded. The filters pick submissions with a review that matches."""
    page = max(1, page)
    # What the page shows depends only on the reviews of these jurisdictions (every change to
    # one, and a new one, sets its updated_at to the time; none is ever deleted) and on the
    # submissions' records, which never change but for their integrity mark, set only by a
    # verification run. Finding the submissions groups every review addressed to the regulator,
    # so the page is kept under the reviews' state, read from their index, and the latest run.
    state = _inbox_state(db, jurisdictions)
    key = (str(db.get_bind().url), tuple(jurisdictions), status, service_type, size_band, cycle, page, per_page, state)
    with _inbox_lock:
        found = _inbox_pages.get(key)
    if found is None:
        chosen, total = _inbox_order(db, jurisdictions, status, service_type, size_band, cycle, page, per_page)
        found = InboxGroupPage(_inbox_groups_of(db, jurisdictions, chosen), total, page, per_page, key)
        with _inbox_lock:
            _inbox_pages[key] = found
    return found


def _inbox_groups_of(db: Session, jurisdictions: list[str], chosen) -> list[InboxGroup]:
    """The chosen submissions (id, current or not), each with its reviews in these jurisdictions."""
    details: dict[int, InboxSubmission] = {}
    recipients: dict[int, list[InboxReview]] = {}
    params = {"ids": [row[0] for row in chosen], "jurisdictions": jurisdictions}
    for review_id, jurisdiction, review_status, submission_id, *shown in db.exec(_INBOX_DETAILS, params=params):
        if submission_id not in details:
            details[submission_id] = InboxSubmission(submission_id, *shown)
        recipients.setdefault(submission_id, []).append(InboxReview(review_id, jurisdiction, review_status))
    return [
        InboxGroup(details[submission_id], recipients=recipients[submission_id], current=bool(is_current_row))
        for submission_id, is_current_row in chosen
    ]


# The chosen submissions' reviews in the regulator's jurisdictions, with what is shown of each
# submission, in one query of plain columns (built once). The submissions are found by their
# index; the jurisdictions are compared through coalesce() so that no database walks the index of
# a jurisdiction's reviews instead (all of them, thousands at 10,000 companies). Without the
# condition, every jurisdiction's reviews came back, five times the rows, each with a time to parse.
# What is shown of a submission comes from its record: on SQLite, every column of a submission
# row after its snapshot lies beyond a hundred kilobytes of text.
_INBOX_DETAILS = (
    select(
        Recipient.id,
        Recipient.jurisdiction,
        Recipient.status,
        SubmissionRecord.submission_id,
        SubmissionRecord.submitted_at,
        SubmissionRecord.cycle,
        SubmissionRecord.version,
        SubmissionRecord.organisation_name,
        SubmissionRecord.intact,
    )
    .join(SubmissionRecord, SubmissionRecord.submission_id == Recipient.submission_id)
    .where(
        Recipient.submission_id.in_(sa.bindparam("ids", expanding=True)),
        sa.func.coalesce(Recipient.jurisdiction, "").in_(sa.bindparam("jurisdictions", expanding=True)),
    )
    .order_by(Recipient.jurisdiction)
)


def _inbox_state(db: Session, jurisdictions: list[str]) -> tuple:
    """The latest change to the reviews of each jurisdiction (one step down their index,
    ix_recipient_inbox, each, whatever their number), and the latest verification run."""
    count = len(jurisdictions)
    if not count:
        return ()
    statement = _INBOX_STATES.get(count)
    if statement is None:
        statement = _INBOX_STATES[count] = select(
            *(
                select(sa.func.max(Recipient.updated_at))
                .where(Recipient.jurisdiction == sa.bindparam(f"j{n}"))
                .scalar_subquery()
                for n in range(count)
            ),
            select(sa.func.max(VerificationRun.id)).scalar_subquery(),
        )
    return tuple(db.connection().execute(statement, {f"j{n}": j for n, j in enumerate(jurisdictions)}).one())


# The statement of _inbox_state for each number of jurisdictions, built once.
_INBOX_STATES: dict[int, Any] = {}
# Inbox pages by database, filters, page and state (see inbox_groups): a few per regulator.
_inbox_pages: LRUCache[tuple, InboxGroupPage] = LRUCache(maxsize=256)
_inbox_lock = threading.Lock()


def _inbox_order(
    db: Session,
    jurisdictions: list[str],
    status: str | None,
    service_type: str | None,
    size_band: str | None,
    cycle: int | None,
    page: int,
    per_page: int,
) -> tuple[tuple[tuple[int, int], ...], int]:
    """The submissions an inbox page lists, in order, each with whether it is current; and how
    many submissions all its pages list."""
    filters, by_record = _inbox_filters(jurisdictions, status, service_type, size_band, cycle)
    # A review is superseded once a newer version went to the same regulator (it names this one
    # as its previous), even one left "Reviewed"; read once, as a list, for the whole query.
    newer = sa.orm.aliased(Recipient)
    answered = select(newer.previous_id).where(newer.previous_id.is_not(None), newer.jurisdiction.in_(jurisdictions))
    still_current = sa.and_(Recipient.status != ReviewStatus.SUPERSEDED, Recipient.id.not_in(answered))
    current = sa.func.max(sa.case((still_current, 1), else_=0)).label("is_current")
    # A current submission is placed by the activity on its current reviews (superseding the
    # review of one regulator is no news for the other), an earlier version by any activity.
    current_last = sa.func.max(sa.case((still_current, Recipient.updated_at))).label("current_activity")
    last = sa.func.max(Recipient.updated_at).label("activity")
    narrow = select(Recipient.submission_id, current, current_last, last).where(*filters)
    if by_record:
        narrow = narrow.join(SubmissionRecord, SubmissionRecord.submission_id == Recipient.submission_id).where(
            *by_record
        )
    narrow = narrow.group_by(Recipient.submission_id)
    order = (current.desc(), current_last.desc(), last.desc(), Recipient.submission_id.desc())
    chosen = db.exec(narrow.order_by(*order).offset((page - 1) * per_page).limit(per_page)).all()
    if 0 < len(chosen) < per_page or (page == 1 and not chosen):
        total = (page - 1) * per_page + len(chosen)  # the last page: nothing after it to count
    else:
        total = db.exec(select(sa.func.count()).select_from(narrow.subquery())).one()
    return tuple((row[0], row[1]) for row in chosen), total

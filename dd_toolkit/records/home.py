"""What each role's home page shows, read from stored records only: the submissions' decoded records
and indicator outcomes, the review rows, the action tracking and the published releases. Nothing
here scores an assessment or rebuilds an aggregate ("compute once")."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlmodel import Session, select

from dd_toolkit.engine import disclosure
from dd_toolkit.engine.scoring import Methodology
from dd_toolkit.records import releases
from dd_toolkit.records.assignments import sections_of_user
from dd_toolkit.records.models import (
    ActionTracking,
    Answer,
    Assessment,
    AssessmentStatus,
    IndicatorOutcomeRecord,
    Recipient,
    ReviewEvent,
    ReviewStatus,
    Submission,
    SubmissionRecord,
)
from dd_toolkit.records.notifications import due_actions

# -- a company ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrendPoint:
    """One cycle's latest submitted version, as frozen at submission."""

    cycle: int
    version: int
    assessment_id: int
    overall: float | None
    band: str | None
    submitted_at: dt.datetime
    methodology: str


@dataclass(frozen=True)
class IndicatorStatus:
    indicator_id: str
    label: str
    applies: bool
    met: bool | None


@dataclass(frozen=True)
class OpenRequest:
    """A regulator's clarification request the company has not answered yet."""

    recipient: Recipient
    assessment: Assessment
    asked_at: dt.datetime
    text: str


@dataclass(frozen=True)
class DueAction:
    row: ActionTracking
    overdue: bool


@dataclass
class CompanyHome:
    draft: Assessment | None = None
    last_saved_question: str | None = None  # the answer saved last, by anyone, in the draft
    last_saved_at: dt.datetime | None = None
    trend: list[TrendPoint] = field(default_factory=list)
    latest: TrendPoint | None = None
    indicators: list[IndicatorStatus] = field(default_factory=list)
    requests: list[OpenRequest] = field(default_factory=list)
    actions: list[DueAction] = field(default_factory=list)
    assigned: list[str] = field(default_factory=list)  # the draft's sections assigned to the reader


# The company's home page runs these on every visit: each statement is built once, with its
# values bound per call (building a statement and its cache key costs more than running it).
_ORG = sa.bindparam("organisation_id")
_CURRENT_DRAFT = (
    select(Assessment)
    .where(Assessment.organisation_id == _ORG, Assessment.status == AssessmentStatus.DRAFT)
    .order_by(Assessment.cycle.desc(), Assessment.version.desc())
    .limit(1)
)
_LAST_SAVED = (
    select(Answer.question_id, Answer.updated_at)
    .where(Answer.assessment_id == sa.bindparam("assessment_id"))
    .order_by(Answer.updated_at.desc(), Answer.id.desc())
    .limit(1)
)
_SCORE_TREND = (
    select(
        SubmissionRecord.cycle,
        SubmissionRecord.version,
        Submission.assessment_id,
        SubmissionRecord.overall,
        SubmissionRecord.band,
        SubmissionRecord.submitted_at,
        SubmissionRecord.methodology,
    )
    .join(Submission, Submission.id == SubmissionRecord.submission_id)
    .where(SubmissionRecord.organisation_id == _ORG, SubmissionRecord.latest == sa.true())
    .order_by(SubmissionRecord.cycle)
)
_INDICATOR_STATUS = (
    select(
        IndicatorOutcomeRecord.indicator_id,
        IndicatorOutcomeRecord.label,
        IndicatorOutcomeRecord.applies,
        IndicatorOutcomeRecord.met,
    )
    .join(Submission, Submission.id == IndicatorOutcomeRecord.submission_id)
    .where(Submission.assessment_id == sa.bindparam("assessment_id"), IndicatorOutcomeRecord.component_id == "")
    .order_by(IndicatorOutcomeRecord.indicator_id)
)
_OPEN_REQUESTS = (
    select(Recipient, Assessment)
    .join(Submission, Submission.id == Recipient.submission_id)
    .join(Assessment, Assessment.id == Submission.assessment_id)
    .where(Assessment.organisation_id == _ORG, Recipient.status == ReviewStatus.CLARIFICATION_REQUESTED)
    .order_by(Recipient.updated_at, Recipient.id)
)


def current_draft(db: Session, organisation_id: int) -> Assessment | None:
    """The draft of the latest cycle (the newest version of it)."""
    return db.exec(_CURRENT_DRAFT, params={"organisation_id": organisation_id}).first()


def score_trend(db: Session, organisation_id: int) -> list[TrendPoint]:
    """The overall score and band of each cycle's latest submission, oldest cycle first."""
    rows = db.exec(_SCORE_TREND, params={"organisation_id": organisation_id}).all()
    return [TrendPoint(*row) for row in rows]


def indicator_status(db: Session, assessment_id: int) -> list[IndicatorStatus]:
    """The RPA indicators (not their components) as decoded at the submission of an assessment."""
    rows = db.exec(_INDICATOR_STATUS, params={"assessment_id": assessment_id}).all()
    return [IndicatorStatus(*row) for row in rows]


def open_requests(db: Session, organisation_id: int) -> list[OpenRequest]:
    """Clarification requests on the company's submissions that no new version has answered yet,
    oldest first, each with the request's text."""
    rows = db.exec(_OPEN_REQUESTS, params={"organisation_id": organisation_id}).all()
    found = []
    for recipient, assessment in rows:
        step = db.exec(
            select(ReviewEvent)
            .where(
                ReviewEvent.recipient_id == recipient.id,
                ReviewEvent.kind == "status",
                ReviewEvent.to_status == ReviewStatus.CLARIFICATION_REQUESTED,
            )
            .order_by(ReviewEvent.id.desc())
        ).first()
        found.append(
            OpenRequest(recipient, assessment, step.at if step else recipient.updated_at, step.text if step else "")
        )
    return found


def company_home(
    db: Session,
    organisation_id: int,
    *,
    reader_id: int | None = None,
    today: dt.date | None = None,
    due: list | None = None,
) -> CompanyHome:
    """What the company's home page shows to the member ``reader_id``; ``due`` is
    :func:`due_actions` of the organisation today, when the caller has read it."""
    today = today or dt.date.today()
    home = CompanyHome()
    home.draft = current_draft(db, organisation_id)
    if home.draft is not None:
        last = db.exec(_LAST_SAVED, params={"assessment_id": home.draft.id}).first()
        if last is not None:
            home.last_saved_question, home.last_saved_at = last
        if reader_id is not None:
            home.assigned = sections_of_user(db, home.draft.id, reader_id)
    home.trend = score_trend(db, organisation_id)
    if home.trend:
        home.latest = home.trend[-1]
        home.indicators = indicator_status(db, home.latest.assessment_id)
    home.requests = open_requests(db, organisation_id)
    if due is None:
        due = due_actions(db, organisation_id, today=today)
    home.actions = [DueAction(row, row.due_date < today) for row, _org in due]
    return home


# -- a regulator ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatusCount:
    status: str
    count: int
    oldest: dt.datetime  # the longest a submission has been in this status


@dataclass(frozen=True)
class ReviewItem:
    recipient: Recipient
    organisation_name: str
    cycle: int
    version: int
    submitted_at: dt.datetime


@dataclass
class RegulatorHome:
    by_status: list[StatusCount] = field(default_factory=list)
    to_review: list[ReviewItem] = field(default_factory=list)  # received or in review, waiting longest first
    awaiting_company: list[ReviewItem] = field(default_factory=list)  # clarification requested

    @property
    def empty(self) -> bool:
        return not self.by_status


STATUS_ORDER = (
    ReviewStatus.RECEIVED,
    ReviewStatus.IN_REVIEW,
    ReviewStatus.CLARIFICATION_REQUESTED,
    ReviewStatus.REVIEWED,
)


def _items(db: Session, jurisdictions: list[str], statuses: tuple[str, ...], limit: int) -> list[ReviewItem]:
    rows = db.exec(
        select(
            Recipient,
            SubmissionRecord.organisation_name,
            SubmissionRecord.cycle,
            SubmissionRecord.version,
            SubmissionRecord.submitted_at,
        )
        .join(SubmissionRecord, SubmissionRecord.submission_id == Recipient.submission_id)
        .where(Recipient.jurisdiction.in_(jurisdictions), Recipient.status.in_([str(s) for s in statuses]))
        .order_by(Recipient.updated_at, Recipient.id)
        .limit(limit)
    ).all()
    return [ReviewItem(*row) for row in rows]


def regulator_home(db: Session, jurisdictions: list[str], *, limit: int = 10) -> RegulatorHome:
    """The submissions addressed to ``jurisdictions``: how many in each review status and the
    longest one has waited in it, the ones waiting longest for review, and the clarification
    requests the companies have not answered yet. Superseded versions are left out: their newer
    version is counted."""
    home = RegulatorHome()
    if not jurisdictions:
        return home
    counts = {
        status: (count, oldest)
        for status, count, oldest in db.exec(
            select(Recipient.status, sa.func.count(), sa.func.min(Recipient.updated_at))
            .where(Recipient.jurisdiction.in_(jurisdictions), Recipient.status != ReviewStatus.SUPERSEDED)
            .group_by(Recipient.status)
        ).all()
    }
    home.by_status = [StatusCount(s, *counts[s]) for s in STATUS_ORDER if s in counts]
    home.to_review = _items(db, jurisdictions, (ReviewStatus.RECEIVED, ReviewStatus.IN_REVIEW), limit)
    home.awaiting_company = _items(db, jurisdictions, (ReviewStatus.CLARIFICATION_REQUESTED,), limit)
    return home


# -- the working group ----------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkingGroupHome:
    """The latest published release's headline figures: its ``all`` group of its latest cycle,
    exactly as the release shows it (withheld figures stay withheld)."""

    release: disclosure.Release | None
    cycle: int | None
    group: object | None  # benchmark.GroupResult of "all"


def working_group_home(db: Session, method: Methodology) -> WorkingGroupHome:
    release = releases.published(db, method)
    if release is None or not release.cycles:
        return WorkingGroupHome(release, None, None)
    cycle = max(release.cycles)
    benchmark = release.benchmarks.get(cycle)
    return WorkingGroupHome(release, cycle, benchmark.group("all") if benchmark is not None else None)

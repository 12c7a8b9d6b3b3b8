"""Database tables (SQLModel). Schema changes go through Alembic migrations in ``migrations/``."""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import declared_attr
from sqlmodel import JSON, Column, Field, SQLModel

from dd_toolkit.engine.actions import ActionStatus  # the status values live with the engine


def utcnow() -> datetime:
    return datetime.now(UTC)


def _version_counter(cls) -> dict[str, Any]:
    """Make ``version`` SQLAlchemy's version counter: each UPDATE (and DELETE) of the row says
    ``WHERE version = <the version loaded>`` and bumps it, and raises StaleDataError if another
    writer got there first. Saving such rows goes through :mod:`dd_toolkit.records.versioned`."""
    return {"version_id_col": cls.__table__.c.version}


class OrgRole(StrEnum):
    ADMIN = "admin"
    CONTRIBUTOR = "contributor"


class PlatformRole(StrEnum):
    """Roles outside any company. Company staff have none; their role is on the membership."""

    NONE = "none"
    REGULATOR = "regulator"
    WORKING_GROUP = "working_group"
    PLATFORM_ADMIN = "platform_admin"


class AssessmentStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"


class Organisation(SQLModel, table=True):
    __tablename__ = "organisation"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, index=True)
    hq_country: str | None = Field(default=None, max_length=8)
    countries: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    service_types: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    features: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    size_band: str | None = Field(default=None, max_length=32)
    under18_users: str | None = Field(default=None, max_length=16)
    # The age groups the service is used by or allows (taxonomy ids); NULL or empty: not given.
    age_groups: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=True))
    description: str = Field(default="", max_length=2000)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    # Raised by the database with every write to a row that belongs to the organisation
    # (:mod:`dd_toolkit.records.revisions`); never written by the application.
    revision: int = Field(default=0, sa_column_kwargs={"server_default": "0"})

    @property
    def profile_complete(self) -> bool:
        return bool(self.service_types and self.size_band and self.under18_users and self.countries)


class User(SQLModel, table=True):
    __tablename__ = "user_account"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, sa_column_kwargs={"unique": True}, index=True)
    name: str = Field(max_length=200)
    password_hash: str | None = Field(default=None, max_length=255)
    platform_role: str = Field(default=PlatformRole.NONE, max_length=32)
    jurisdictions: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    active: bool = True
    # An invited user sets their own password through a one-time link; only its hash is kept.
    invite_token_hash: str | None = Field(default=None, max_length=128, index=True)
    invite_expires_at: datetime | None = None
    # A one-time password-reset link, issued by the operator; only its hash is kept.
    reset_token_hash: str | None = Field(default=None, max_length=128, index=True)
    reset_expires_at: datetime | None = None
    # Part of every session's id: bumping it ends every session and remember-me cookie.
    session_generation: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    # Who created the account (None: the operator or self-registration); they may not complete
    # its invitation. A plain id, not a foreign key, so the column is added without copying the table.
    created_by_id: int | None = None
    created_at: datetime = Field(default_factory=utcnow)
    last_login_at: datetime | None = None
    # The interface language the account chose (None: from the browser).
    locale: str | None = Field(default=None, max_length=8)

    # The four members Flask-Login reads, so the records layer needs no web import.
    @property
    def is_active(self) -> bool:  # deactivated accounts cannot sign in
        return self.active

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        """Flask-Login's alternative id, "id:generation:nonce": a session or remember-me cookie made
        before the generation was bumped no longer loads the account. The nonce is fresh at each
        sign-in, so no two sign-ins share a remember-me value."""
        nonce = getattr(self, "_dd_session_nonce", None) or "0"
        return f"{self.id}:{self.session_generation}:{nonce}"


class Membership(SQLModel, table=True):
    __tablename__ = "membership"
    __table_args__ = (sa.UniqueConstraint("user_id", "organisation_id"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    role: str = Field(default=OrgRole.CONTRIBUTOR, max_length=32)
    created_at: datetime = Field(default_factory=utcnow)


class Assessment(SQLModel, table=True):
    __tablename__ = "assessment"

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    cycle: int = Field(index=True)
    # 1 for the first assessment of a cycle; a new version started from a submitted one is n+1.
    version: int = 1
    previous_id: int | None = Field(default=None, foreign_key="assessment.id")
    questionnaire_versions: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(default=AssessmentStatus.DRAFT, max_length=16, index=True)
    created_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    submitted_at: datetime | None = None

    @property
    def is_draft(self) -> bool:
        return self.status == AssessmentStatus.DRAFT


class Answer(SQLModel, table=True):
    __tablename__ = "answer"
    __table_args__ = (sa.UniqueConstraint("assessment_id", "question_id"),)
    __mapper_args__ = declared_attr.directive(_version_counter)

    id: int | None = Field(default=None, primary_key=True)
    assessment_id: int = Field(foreign_key="assessment.id", index=True)
    question_id: str = Field(max_length=200)
    value: Any = Field(default=None, sa_column=Column(JSON, nullable=True))
    not_applicable: bool = False
    justification: str = Field(default="", max_length=5000)
    comment: str = Field(default="", max_length=5000)
    evidence: list[dict[str, str]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    meta: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # False for an answer carried over from an earlier cycle and not saved since: the team has
    # yet to check that it still holds (saving its section, changed or not, marks it reviewed).
    reviewed: bool = True
    # Bumped on every save; a save that started from an older version is a conflict.
    version: int = 1
    updated_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    updated_at: datetime = Field(default_factory=utcnow)


class Submission(SQLModel, table=True):
    __tablename__ = "submission"

    id: int | None = Field(default=None, primary_key=True)
    assessment_id: int = Field(foreign_key="assessment.id", sa_column_kwargs={"unique": True})
    snapshot: str = Field(sa_column=Column(sa.Text, nullable=False))
    sha256: str = Field(max_length=64)
    # The methodology the frozen score card was computed with, as "id@version".
    methodology: str = Field(default="", max_length=100)
    # Chosen at submission: whether this submission may feed anonymised benchmarks.
    benchmark_consent: bool = False
    submitted_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    submitted_at: datetime = Field(default_factory=utcnow)
    # The team's edited transparency text as it was at submission (None: none was edited), so the
    # regulator sees what was submitted; its hash is in the audit event of the submission.
    transparency: str | None = Field(default=None, sa_column=Column(sa.Text, nullable=True))


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    user_id: int | None = Field(default=None, foreign_key="user_account.id")
    organisation_id: int | None = Field(default=None, foreign_key="organisation.id", index=True)
    action: str = Field(max_length=64)
    entity: str = Field(max_length=64)
    entity_id: str | None = Field(default=None, max_length=200)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # The hash chain (:mod:`dd_toolkit.records.audit`): the previous row's hash, and the hash of
    # this row's content together with it. Written only by ``audit``, at commit.
    prev_hash: str | None = Field(default=None, max_length=64)
    row_hash: str | None = Field(default=None, max_length=64)


class ActionTracking(SQLModel, table=True):
    """What the team decided about one generated action item of an assessment: the item
    itself is regenerated from the answers; owner, due date, status and notes are kept here."""

    __tablename__ = "action_tracking"
    __table_args__ = (sa.UniqueConstraint("assessment_id", "item_id"),)
    __mapper_args__ = declared_attr.directive(_version_counter)

    id: int | None = Field(default=None, primary_key=True)
    assessment_id: int = Field(foreign_key="assessment.id", index=True)
    item_id: str = Field(max_length=200)
    title: str = Field(default="", max_length=500)
    question_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    owner: str = Field(default="", max_length=200)
    due_date: date | None = None
    status: str = Field(default=ActionStatus.TODO, max_length=16)
    reason: str = Field(default="", max_length=2000)  # why "won't do"
    notes: str = Field(default="", max_length=5000)
    # The team chose to name this item as a commitment in the public transparency text.
    public_commitment: bool = False
    # Carried forward from this item of the previous cycle's assessment, if any.
    # Indexed: every due-action look-up asks whether an action has a newer copy (migration 0016).
    carried_from_id: int | None = Field(default=None, foreign_key="action_tracking.id", index=True)
    version: int = 1
    updated_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    updated_at: datetime = Field(default_factory=utcnow)


class TransparencyEdit(SQLModel, table=True):
    """The team's edited Markdown of the draft transparency section, one per assessment."""

    __tablename__ = "transparency_edit"
    __mapper_args__ = declared_attr.directive(_version_counter)

    id: int | None = Field(default=None, primary_key=True)
    assessment_id: int = Field(foreign_key="assessment.id", sa_column_kwargs={"unique": True})
    markdown: str = Field(sa_column=Column(sa.Text, nullable=False))
    version: int = 1
    updated_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    updated_at: datetime = Field(default_factory=utcnow)


class ReviewStatus(StrEnum):
    RECEIVED = "received"
    IN_REVIEW = "in_review"
    CLARIFICATION_REQUESTED = "clarification_requested"
    REVIEWED = "reviewed"
    # The company answered a clarification request with a new version, which is reviewed now.
    SUPERSEDED = "superseded"


class Recipient(SQLModel, table=True):
    """A submission addressed to the regulator of one jurisdiction, with its review status."""

    __tablename__ = "recipient"
    __table_args__ = (
        sa.UniqueConstraint("submission_id", "jurisdiction"),
        # The inbox: a jurisdiction's submissions, most recent activity first, a page at a time.
        sa.Index("ix_recipient_inbox", "jurisdiction", "updated_at", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    submission_id: int = Field(foreign_key="submission.id", index=True)
    jurisdiction: str = Field(max_length=8, index=True)
    status: str = Field(default=ReviewStatus.RECEIVED, max_length=32, index=True)
    # The recipient row of the previous version, when this version answers a clarification.
    previous_id: int | None = Field(default=None, foreign_key="recipient.id")
    updated_at: datetime = Field(default_factory=utcnow)


class ReviewEvent(SQLModel, table=True):
    """One step on a review's timeline: a status change, a comment, or the company's answer."""

    __tablename__ = "review_event"

    id: int | None = Field(default=None, primary_key=True)
    recipient_id: int = Field(foreign_key="recipient.id", index=True)
    at: datetime = Field(default_factory=utcnow)
    user_id: int | None = Field(default=None, foreign_key="user_account.id")
    kind: str = Field(max_length=32)  # submitted | status | comment | new_version
    from_status: str | None = Field(default=None, max_length=32)
    to_status: str | None = Field(default=None, max_length=32)
    question_id: str | None = Field(default=None, max_length=200)
    text: str = Field(default="", sa_column=Column(sa.Text, nullable=False))


class ApiToken(SQLModel, table=True):
    """A read-only API token of a regulator account; only its hash is stored."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True)
    name: str = Field(max_length=200)
    token_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True}, index=True)
    created_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime | None = None
    revoked: bool = False
    # None: no expiry. After it, the token no longer authenticates.
    expires_at: datetime | None = None
    # The account's role when the token was made: the token stops working if the role changes.
    role: str = Field(default="", max_length=32, sa_column_kwargs={"server_default": ""})


class RateLimitCounter(SQLModel, table=True):
    """One fixed-window counter of the abuse limits (:mod:`dd_toolkit.records.ratelimit`)."""

    __tablename__ = "rate_limit"

    key: str = Field(max_length=255, primary_key=True)
    count: int = 0
    expires_at: float = 0.0  # seconds since the epoch


class RegulatorGrant(SQLModel, table=True):
    """A jurisdiction on a regulator account. It takes effect (joins ``User.jurisdictions``) only
    when confirmed by someone other than who requested it: an active regulator of that
    jurisdiction, or the operator on the server's command line."""

    __tablename__ = "regulator_grant"
    __table_args__ = (sa.UniqueConstraint("user_id", "jurisdiction"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True)
    jurisdiction: str = Field(max_length=8, index=True)
    requested_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    requested_at: datetime = Field(default_factory=utcnow)
    confirmed_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    confirmed_via: str | None = Field(default=None, max_length=16)  # "regulator" | "operator"
    confirmed_at: datetime | None = None


class SubmissionRecord(SQLModel, table=True):
    """A submission decoded once, at submit: what pages, documents, the API and the CLI read.
    The snapshot's canonical JSON stays the source of truth; ``dd_toolkit.engine.snapshot``
    decides what goes here.

    The score card and the answers, tens of kilobytes each, come last: on SQLite a column after
    them is reached through the row's overflow pages (migration 0015)."""

    __tablename__ = "submission_record"
    # A company's records, by cycle: the one index for every lookup of an organisation's records
    # (with an index on each column, SQLite could take the least selective; migration 0015).
    __table_args__ = (sa.Index("ix_submission_record_organisation_cycle", "organisation_id", "cycle"),)

    id: int | None = Field(default=None, primary_key=True)
    submission_id: int = Field(foreign_key="submission.id", sa_column_kwargs={"unique": True})
    organisation_id: int = Field(foreign_key="organisation.id")
    cycle: int = Field(index=True)
    version: int = 1
    methodology: str = Field(default="", max_length=100, index=True)
    benchmark_consent: bool = False
    # The newest submitted version of this organisation's assessment of the cycle.
    latest: bool = True
    # False once ``dd-toolkit verify`` found the submission tampered with: it is then left out of
    # every aggregate and flagged wherever it is shown.
    intact: bool = Field(default=True, sa_column_kwargs={"server_default": sa.true()})
    submitted_at: datetime = Field(default_factory=utcnow)
    # The profile summary, as frozen.
    organisation_name: str = Field(max_length=200)
    hq_country: str | None = Field(default=None, max_length=8)
    countries: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    service_types: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    features: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    size_band: str | None = Field(default=None, max_length=32)
    under18_users: str | None = Field(default=None, max_length=16)
    age_groups: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    overall: float | None = None
    band: str | None = Field(default=None, max_length=32)
    benchmark_entry: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # The children's risk register as frozen (None: the submission has none).
    risk_register: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    score_card: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    answers: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class IndicatorOutcomeRecord(SQLModel, table=True):
    """One RPA indicator or component outcome of one submission (``component_id`` empty for
    the indicator itself)."""

    __tablename__ = "indicator_outcome"
    __table_args__ = (sa.UniqueConstraint("submission_id", "indicator_id", "component_id"),)

    id: int | None = Field(default=None, primary_key=True)
    submission_id: int = Field(foreign_key="submission.id", index=True)
    indicator_id: str = Field(max_length=32)
    component_id: str = Field(default="", max_length=64)
    label: str = Field(default="", max_length=300)
    applies: bool = False
    met: bool | None = None


class Aggregate(SQLModel, table=True):
    """A stored aggregate figure set (a benchmark group of a cycle, an indicator report of a
    jurisdiction), computed once from the submission records and refreshed when they change,
    so every worker on every host reads the same figures."""

    __tablename__ = "aggregate"
    __table_args__ = (sa.UniqueConstraint("kind", "scope", "part"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32)
    scope: str = Field(max_length=120)
    part: str = Field(default="", max_length=120)
    payload: Any = Field(default=None, sa_column=Column(JSON, nullable=True))
    # The newest submission id the figures include: a slower refresh never overwrites a newer one.
    source_marker: int = 0
    computed_at: datetime = Field(default_factory=utcnow)


class SharedRevision(SQLModel, table=True):
    """One row: raised by the database with every write to what the pages of more than one
    organisation show, such as the stored aggregates and the releases (which tables:
    :mod:`dd_toolkit.records.revisions`)."""

    __tablename__ = "shared_revision"

    id: int | None = Field(default=None, primary_key=True)
    revision: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


class Release(SQLModel, table=True):
    """A published release of the working group's figures: the only figures the working group
    ever sees. ``figures`` is what is shown; ``ledger`` (the contributor sets of every figure
    published so far) is never shown and only checks the next release."""

    __tablename__ = "release"
    # Each methodology numbers its own releases from 1 (the pages and links name them so).
    __table_args__ = (sa.UniqueConstraint("methodology", "number", name="uq_release_methodology_number"),)

    id: int | None = Field(default=None, primary_key=True)
    number: int
    methodology: str = Field(max_length=100)
    published_at: datetime = Field(default_factory=utcnow)
    final: bool = False
    cycles: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    companies: int | None = None  # withheld while it could single a company out
    rules: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    figures: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    ledger: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # The newest submission the release had before it (publication is checked against later ones).
    source_marker: int = 0
    published_by_id: int | None = Field(default=None, foreign_key="user_account.id")


class AnswerHistory(SQLModel, table=True):
    """One save of one answer: who, when, the answer before (None: there was none) and after,
    and the answer's version after it. Written in the same transaction as the save."""

    __tablename__ = "answer_history"
    __table_args__ = (sa.Index("ix_answer_history_answer", "assessment_id", "question_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    assessment_id: int = Field(foreign_key="assessment.id")
    question_id: str = Field(max_length=200)
    answer_version: int = 1
    old: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    new: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    changed_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    changed_at: datetime = Field(default_factory=utcnow)


class AuditChainHead(SQLModel, table=True):
    """The end of the audit hash chain (one row): how many events were ever appended and the last
    one's hash. Every append updates it first, which serialises appends, and it anchors the end
    of the chain, so deleting the newest events is noticed too."""

    __tablename__ = "audit_chain_head"

    id: int | None = Field(default=None, primary_key=True)
    count: int = 0
    last_hash: str = Field(default="", max_length=64)


class VerificationRun(SQLModel, table=True):
    """The result of one ``dd-toolkit verify`` run, shown to the platform admin."""

    __tablename__ = "verification_run"

    id: int | None = Field(default=None, primary_key=True)
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime = Field(default_factory=utcnow)
    ok: bool = False
    problems: int = 0
    # What was checked (table -> rows) and the first problems found (table, id, what differs).
    checked: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    detail: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class Notification(SQLModel, table=True):
    """Something that happened which one account should know about, shown in the app (and sent by
    email when a mail server is configured). ``kind`` names the message and ``params`` fill it in,
    so the text is translated when shown; ``entity`` and ``entity_id`` name the page it links to,
    which the authoriser still guards. ``dedupe_key`` keeps a reminder (an action falling due) from
    being created twice for the same account."""

    __tablename__ = "notification"
    __table_args__ = (
        sa.UniqueConstraint("user_id", "dedupe_key"),
        # A user's list and unread count: their notifications, newest first.
        sa.Index("ix_notification_inbox", "user_id", "read_at", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id")
    created_at: datetime = Field(default_factory=utcnow)
    kind: str = Field(max_length=32)
    params: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    entity: str = Field(default="", max_length=32)
    entity_id: int | None = None
    dedupe_key: str | None = Field(default=None, max_length=200)
    read_at: datetime | None = None


class RiskRegister(SQLModel, table=True):
    """The children's risk register of one assessment: who carried it out, how, from which
    sources, and when it was reviewed and is next due. Its cells are :class:`RiskCell` rows;
    :mod:`dd_toolkit.records.risk` reads and writes both."""

    __tablename__ = "risk_register"
    __mapper_args__ = declared_attr.directive(_version_counter)

    id: int | None = Field(default=None, primary_key=True)
    assessment_id: int = Field(foreign_key="assessment.id", sa_column_kwargs={"unique": True})
    assessed_by: str = Field(default="", max_length=500)
    method: str = Field(default="", max_length=5000)
    sources: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    started_at: datetime = Field(default_factory=utcnow)
    reviewed_at: datetime | None = None
    next_review_due: date
    reason: str = Field(default="cycle", max_length=32)  # "cycle" | "significant_change"
    change_note: str = Field(default="", max_length=5000)
    # The assessment whose register this one started from (None: started afresh).
    previous_assessment_id: int | None = Field(default=None, foreign_key="assessment.id")
    version: int = 1
    updated_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    updated_at: datetime = Field(default_factory=utcnow)


class RiskCell(SQLModel, table=True):
    """One rated cell of a risk register (a harm for an age group). ``fields`` holds the rest of
    the cell mapping of :mod:`dd_toolkit.engine.risk` in its checked, canonical form."""

    __tablename__ = "risk_cell"
    __table_args__ = (sa.UniqueConstraint("assessment_id", "harm", "age_group"),)
    __mapper_args__ = declared_attr.directive(_version_counter)

    id: int | None = Field(default=None, primary_key=True)
    assessment_id: int = Field(foreign_key="assessment.id", index=True)
    harm: str = Field(max_length=64)
    age_group: str = Field(max_length=32)
    fields: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    owner: str = Field(default="", max_length=200)
    # False for a cell carried from the last register and not saved again in this one.
    reviewed: bool = True
    version: int = 1
    updated_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    updated_at: datetime = Field(default_factory=utcnow)


class RiskCellHistory(SQLModel, table=True):
    """One save of one register cell, as :class:`AnswerHistory` keeps for answers."""

    __tablename__ = "risk_cell_history"
    __table_args__ = (sa.Index("ix_risk_cell_history_cell", "assessment_id", "harm", "age_group", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    assessment_id: int = Field(foreign_key="assessment.id")
    harm: str = Field(max_length=64)
    age_group: str = Field(max_length=32)
    cell_version: int = 1
    old: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    new: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    changed_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    changed_at: datetime = Field(default_factory=utcnow)


class SectionAssignment(SQLModel, table=True):
    """The member of the organisation an admin gave one section of a draft assessment to answer.
    One member per section; a section no row names is nobody's yet."""

    __tablename__ = "section_assignment"
    __table_args__ = (sa.UniqueConstraint("assessment_id", "section_id"),)

    id: int | None = Field(default=None, primary_key=True)
    assessment_id: int = Field(foreign_key="assessment.id", index=True)
    section_id: str = Field(max_length=200)
    user_id: int = Field(foreign_key="user_account.id", index=True)
    assigned_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    assigned_at: datetime = Field(default_factory=utcnow)

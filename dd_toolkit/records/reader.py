"""The one reader of an assessment: what every page, document, API response and CLI command
takes its profile, answers and score card from, frozen or live.

A submitted assessment is read from its decoded record (stored once at submission); a draft is
read from its answers as they are now and scored live. Which card and which methodology apply is
decided by :meth:`dd_toolkit.engine.registry.Content.scored`, the one rule for both.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from dd_toolkit.engine.content import AnswerData, Profile
from dd_toolkit.engine.registry import Content, Scored
from dd_toolkit.engine.risk import levels_of
from dd_toolkit.engine.scoring import Methodology, ScoreCard
from dd_toolkit.engine.snapshot import answer_from, profile_from
from dd_toolkit.records.assessments import answers_of, profile_of
from dd_toolkit.records.models import Assessment, Organisation, Submission, SubmissionRecord
from dd_toolkit.records.risk import register_data
from dd_toolkit.records.submissions import RECORD_JSON


@dataclass(frozen=True)
class AssessmentView:
    assessment: Assessment
    organisation_name: str
    profile: Profile
    answers: Mapping[str, AnswerData]
    card: ScoreCard
    method: Methodology
    frozen: bool
    # The frozen methodology version is not installed here; ``method`` stands in for it.
    method_fallback: bool
    submission: Submission | None = None
    record: SubmissionRecord | None = None
    # The children's risk register (dd_toolkit.records.risk.register_data's mapping): frozen for
    # a submitted assessment, as it is now for a draft; None when the assessment has none.
    risk_register: Mapping[str, Any] | None = None

    @property
    def risk_cells(self) -> list[Mapping[str, Any]] | None:
        """The register's cells, as ``build_action_plan(..., register=...)`` takes them."""
        return None if self.risk_register is None else list(self.risk_register.get("cells") or ())


@dataclass(frozen=True)
class _Frozen:
    """What a submission's record decodes to; it never changes, so a worker keeps it."""

    content: Content  # held, so that its id() in the key is not reused while the entry lives
    organisation_name: str
    profile: Profile
    answers: Mapping[str, AnswerData]
    scored: Scored


# The decoded frozen submissions a worker keeps, most recently read last: a page of a submitted
# assessment then skips decoding its answers and score card. A few hundred kilobytes each.
FROZEN_CACHE_SIZE = 64
_frozen: OrderedDict[tuple[int, int, str], _Frozen] = OrderedDict()
_frozen_lock = threading.Lock()


# Built once (every page of a submitted assessment reads it): building a statement costs more
# than running it.
_SUBMISSION_AND_RECORD = (
    select(Submission, SubmissionRecord)
    .outerjoin(SubmissionRecord, SubmissionRecord.submission_id == Submission.id)
    .where(Submission.assessment_id == sa.bindparam("assessment_id"))
    .options(sa.orm.defer(Submission.snapshot), *(sa.orm.defer(column) for column in RECORD_JSON))
)


def _submission_and_record(db: Session, assessment_id: int) -> tuple[Submission | None, SubmissionRecord | None]:
    """The submission of an assessment and its decoded record, in one query, without the
    snapshot text or the record's JSON columns (loaded on first use)."""
    row = db.exec(_SUBMISSION_AND_RECORD, params={"assessment_id": assessment_id}).first()
    return (row[0], row[1]) if row is not None else (None, None)


# The pages of one assessment read it, its submission and its record: one query reads the three.
_ASSESSMENT_SUBMISSION_AND_RECORD = (
    select(Assessment, Submission, SubmissionRecord)
    .outerjoin(Submission, Submission.assessment_id == Assessment.id)
    .outerjoin(SubmissionRecord, SubmissionRecord.submission_id == Submission.id)
    .where(Assessment.id == sa.bindparam("assessment_id"))
    .options(sa.orm.defer(Submission.snapshot), *(sa.orm.defer(column) for column in RECORD_JSON))
)
# Where the assessment object keeps what that query read with it: (its status then, submission,
# record). It holds while the status does: submitting in the same request makes it stale.
_READ_WITH = "_dd_submission_and_record"


def assessment_with_record(db: Session, assessment_id: int) -> Assessment | None:
    """An assessment, read with its submission and record (:func:`submission_and_record` then
    answers without a query); None when there is no such assessment."""
    row = db.exec(_ASSESSMENT_SUBMISSION_AND_RECORD, params={"assessment_id": assessment_id}).first()
    if row is None:
        return None
    assessment, submission, record = row
    setattr(assessment, _READ_WITH, (assessment.status, submission, record))
    return assessment


def read_with(assessment: Assessment) -> tuple[Submission | None, SubmissionRecord | None] | None:
    """The submission and record :func:`assessment_with_record` read with this assessment, while
    they still hold; None when they were not read with it."""
    kept = getattr(assessment, _READ_WITH, None)
    if kept is None or kept[0] != assessment.status:
        return None
    return kept[1], kept[2]


def submission_and_record(db: Session, assessment: Assessment) -> tuple[Submission | None, SubmissionRecord | None]:
    """The submission of an assessment and its record (each None when there is none), as read
    with it by :func:`assessment_with_record`, else read now."""
    return read_with(assessment) or _submission_and_record(db, assessment.id)


def _decoded(content: Content, submission: Submission, record: SubmissionRecord) -> _Frozen:
    # The snapshot's SHA-256 names the frozen content; the content object, the methodologies
    # that read it (a reloaded or test content is another object).
    key = (id(content), submission.id, submission.sha256)
    with _frozen_lock:
        found = _frozen.get(key)
        if found is not None and found.content is content:
            _frozen.move_to_end(key)
            return found
    profile = profile_from(record)
    answers = {qid: answer_from(fields) for qid, fields in record.answers.items()}
    scored = content.scored(profile, answers, record.score_card)
    found = _Frozen(content, record.organisation_name, profile, answers, scored)
    with _frozen_lock:
        _frozen[key] = found
        while len(_frozen) > FROZEN_CACHE_SIZE:
            _frozen.popitem(last=False)
    return found


def read_assessment(db: Session, content: Content, assessment: Assessment) -> AssessmentView:
    submission, record = submission_and_record(db, assessment)
    if record is not None:
        frozen = _decoded(content, submission, record)
        profile, answers, scored, name = frozen.profile, frozen.answers, frozen.scored, frozen.organisation_name
        register = record.risk_register
    else:
        org = db.get(Organisation, assessment.organisation_id)
        profile, answers, name = profile_of(org), answers_of(db, assessment.id), org.name
        register = register_data(db, assessment)
        # The register's levels may bring questions in (a frozen card keeps the ones it had).
        scored = content.scored(profile, answers, risk=levels_of(register, content.current_methodology.risk))
    return AssessmentView(
        assessment=assessment,
        organisation_name=name,
        profile=profile,
        answers=answers,
        card=scored.card,
        method=scored.method,
        frozen=scored.frozen,
        method_fallback=scored.fallback,
        submission=submission,
        record=record,
        risk_register=register,
    )


def frozen_answers(db: Session, content: Content, assessment: Assessment) -> Mapping[str, AnswerData]:
    """The answers of a submitted assessment as frozen in its record (kept per worker, like
    :func:`read_assessment`'s), or the answers as they are now when it has no record."""
    submission, record = submission_and_record(db, assessment)
    if record is None:
        return answers_of(db, assessment.id)
    return _decoded(content, submission, record).answers

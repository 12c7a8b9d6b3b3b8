"""The one reader of an assessment: what every page, document, API response and CLI command
takes its profile, answers and score card from, frozen or live.

A submitted assessment is read from its decoded record (stored once at submission); a draft is
read from its answers as they are now and scored live. Which card and which methodology apply is
decided by :meth:`dd_toolkit.engine.registry.Content.scored`, the one rule for both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlmodel import Session

from dd_toolkit.engine.content import AnswerData, Profile
from dd_toolkit.engine.registry import Content
from dd_toolkit.engine.scoring import Methodology, ScoreCard
from dd_toolkit.engine.snapshot import answer_from, profile_from
from dd_toolkit.records.assessments import answers_of, profile_of, submission_of
from dd_toolkit.records.models import Assessment, Organisation, Submission, SubmissionRecord
from dd_toolkit.records.submissions import record_of


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


def read_assessment(db: Session, content: Content, assessment: Assessment) -> AssessmentView:
    submission = submission_of(db, assessment.id)
    record = record_of(db, submission.id) if submission is not None else None
    if record is not None:
        profile = profile_from(record)
        answers = {qid: answer_from(fields) for qid, fields in record.answers.items()}
        scored = content.scored(profile, answers, record.score_card)
        name = record.organisation_name
    else:
        org = db.get(Organisation, assessment.organisation_id)
        profile, answers, name = profile_of(org), answers_of(db, assessment.id), org.name
        scored = content.scored(profile, answers)
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
    )

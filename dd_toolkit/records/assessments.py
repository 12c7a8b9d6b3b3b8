"""Assessment operations on the database, shared by the web pages and the CLI.

Each function takes a session and plain arguments, does one piece of work, writes the
audit trail, and commits. Rules about *who* may do something live in :mod:`authz`; the
rules here are about *what* may happen (a submitted assessment is read-only, and so on).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from dd_toolkit.engine import portable
from dd_toolkit.engine.actions import OPEN_STATUSES
from dd_toolkit.engine.completion import progress
from dd_toolkit.engine.content import AnswerData, Profile, QuestionBank
from dd_toolkit.engine.content.conditions import RiskLevels
from dd_toolkit.engine.content.values import is_empty
from dd_toolkit.engine.scoring import Methodology, ScoreCard, score
from dd_toolkit.engine.snapshot import PROFILE_FIELDS, answer_from, profile_from
from dd_toolkit.engine.text import N_, Message
from dd_toolkit.records import aggregates, review
from dd_toolkit.records.audit import history_entry, record
from dd_toolkit.records.models import (
    ActionTracking,
    Answer,
    Assessment,
    AssessmentStatus,
    Organisation,
    Submission,
    TransparencyEdit,
    User,
    utcnow,
)
from dd_toolkit.records.submissions import store_record
from dd_toolkit.records.versioned import StaleVersion, save_versioned


class AssessmentError(Exception):
    """An operation is not possible in the assessment's current state. Raised with a
    :class:`~dd_toolkit.engine.text.Message` (English as ``str``, translated by the web)."""


#: The refusal of any write to an assessment that is no longer a draft.
READ_ONLY = Message(N_("This assessment has been submitted and is read-only."))


class IncompleteAssessment(AssessmentError):
    def __init__(self, missing: list[tuple[Any, Any]]):
        self.missing = missing
        super().__init__(f"{len(missing)} required question(s) still need an answer")


def profile_of(org: Organisation) -> Profile:
    return profile_from(org)


def to_answer_data(row: Answer) -> AnswerData:
    return answer_from(row)


def answer_rows(db: Session, assessment_id: int) -> dict[str, Answer]:
    rows = db.exec(select(Answer).where(Answer.assessment_id == assessment_id)).all()
    return {row.question_id: row for row in rows}


# Built once (every section page reads it): building a statement costs more than running it.
_ANSWER_RECORDS = select(*Answer.__table__.columns).where(Answer.assessment_id == sa.bindparam("assessment_id"))


def answer_records(db: Session, assessment_id: int) -> dict[str, Any]:
    """The assessment's answers as read-only rows, by question id: the columns of ``Answer`` as
    attributes, about three times quicker to read than the ORM objects ``answer_rows`` gives
    (which a change needs)."""
    rows = db.exec(_ANSWER_RECORDS, params={"assessment_id": assessment_id}).all()
    return {row.question_id: row for row in rows}


def answers_of(db: Session, assessment_id: int) -> dict[str, AnswerData]:
    return {qid: to_answer_data(row) for qid, row in answer_records(db, assessment_id).items()}


def carried_to_review(bank: QuestionBank, rows: dict[str, Any], applicable: dict[str, bool]) -> dict[str, int]:
    """How many answers carried over from an earlier cycle nobody has saved since, of the
    questions that apply, by section id (sections with none are left out)."""
    found: dict[str, int] = {}
    for qid, row in rows.items():
        if not row.reviewed and applicable.get(qid) and qid in bank.section_of:
            section_id = bank.section_of[qid].id
            found[section_id] = found.get(section_id, 0) + 1
    return found


# -- starting --------------------------------------------------------------------------


def drafts_for_cycle(db: Session, organisation_id: int, cycle: int) -> list[Assessment]:
    return list(
        db.exec(
            select(Assessment).where(
                Assessment.organisation_id == organisation_id,
                Assessment.cycle == cycle,
                Assessment.status == AssessmentStatus.DRAFT,
            )
        )
    )


def _next_version(db: Session, organisation_id: int, cycle: int) -> int:
    count = db.exec(
        select(sa.func.count())
        .select_from(Assessment)
        .where(Assessment.organisation_id == organisation_id, Assessment.cycle == cycle)
    ).one()
    return count + 1


def _copy_answers(db: Session, source: Assessment, target: Assessment, user: User | None) -> int:
    """Copy every answer of ``source`` to ``target``. Answers carried into a later cycle are to be
    reviewed; a new version of the same cycle keeps them as they were."""
    reviewed = source.cycle == target.cycle
    copied = []
    for row in answer_rows(db, source.id).values():
        copy = Answer(
            assessment_id=target.id,
            question_id=row.question_id,
            value=row.value,
            not_applicable=row.not_applicable,
            justification=row.justification,
            comment=row.comment,
            evidence=list(row.evidence),
            meta=dict(row.meta or {}),
            reviewed=reviewed and row.reviewed,
            updated_by_id=user.id if user else row.updated_by_id,
        )
        db.add(copy)
        copied.append(copy)
    if copied:
        db.flush()
        db.add_all(history_entry(copy, None, user) for copy in copied)
    return len(copied)


def start_assessment(
    db: Session,
    bank: QuestionBank,
    org: Organisation,
    cycle: int,
    user: User | None,
    prefill_from: Assessment | None = None,
) -> Assessment:
    if drafts_for_cycle(db, org.id, cycle):
        raise AssessmentError(
            Message(N_("There is already a draft assessment for %(cycle)s; continue that one."), cycle=str(cycle))
        )
    if prefill_from is not None and prefill_from.organisation_id != org.id:
        raise AssessmentError(Message(N_("An assessment can only be pre-filled from your own organisation's.")))
    assessment = Assessment(
        organisation_id=org.id,
        cycle=cycle,
        version=_next_version(db, org.id, cycle),
        questionnaire_versions=bank.versions(),
        created_by_id=user.id if user else None,
    )
    db.add(assessment)
    db.flush()
    copied = _copy_answers(db, prefill_from, assessment, user) if prefill_from else 0
    carried = carry_forward_tracking(db, prefill_from, assessment) if prefill_from else 0
    from dd_toolkit.records.assignments import copy_assignments  # the assignments module builds on this one

    assigned = copy_assignments(db, prefill_from, assessment) if prefill_from else 0
    # The next cycle starts from the last risk register, its cells carried for the team to review.
    from dd_toolkit.records.risk import last_register, start_register  # the register module builds on this one

    if last_register(db, org.id, before=assessment, up_to_cycle=cycle) is not None:
        start_register(db, assessment, user)
    record(
        db,
        user=user,
        organisation_id=org.id,
        action="assessment.start",
        entity="assessment",
        entity_id=assessment.id,
        detail={
            "cycle": cycle,
            "prefilled_from": prefill_from.id if prefill_from else None,
            "answers_copied": copied,
            "actions_carried": carried,
            "sections_assigned": assigned,
        },
    )
    db.commit()
    return assessment


def new_version(db: Session, bank: QuestionBank, assessment: Assessment, user: User | None) -> Assessment:
    """Start a draft from a submitted assessment, keeping its answers; the original stays frozen."""
    if assessment.is_draft:
        raise AssessmentError(Message(N_("Only a submitted assessment can be the start of a new version.")))
    org = db.get(Organisation, assessment.organisation_id)
    draft = start_assessment(db, bank, org, assessment.cycle, user, prefill_from=assessment)
    draft.previous_id = assessment.id
    db.add(draft)
    db.commit()
    return draft


def carry_forward_tracking(db: Session, source: Assessment, target: Assessment) -> int:
    """Copy the open action items of an earlier assessment to a new one (owners, due dates,
    notes), linked to where they came from. Called when a new cycle starts from an old one."""
    copied = 0
    rows = db.exec(select(ActionTracking).where(ActionTracking.assessment_id == source.id))
    for row in rows:
        if row.status not in OPEN_STATUSES:
            continue
        db.add(
            ActionTracking(
                assessment_id=target.id,
                item_id=row.item_id,
                title=row.title,
                question_ids=list(row.question_ids),
                owner=row.owner,
                due_date=row.due_date,
                status=row.status,
                notes=row.notes,
                carried_from_id=row.id,
            )
        )
        copied += 1
    return copied


# -- saving ----------------------------------------------------------------------------


@dataclass
class SaveOutcome:
    saved: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    # question id -> the answer row as it is now in the database (someone else's change)
    conflicts: dict[str, Answer] = field(default_factory=dict)


def lock_draft(db: Session, assessment: Assessment, refusal: str) -> None:
    """Lock the assessment's row for this transaction and check, under the lock, that it is
    still a draft; raise AssessmentError(``refusal``) if it is not.

    A page loaded before a colleague submitted still holds a draft object: the status is read
    again from the database, so no answer lands after the snapshot. Every write to a draft
    takes this lock first (a row lock on PostgreSQL, the write lock on SQLite), so concurrent
    saves and the submission of one assessment take their locks in the same order: the
    assessment, then its answers, then the audit chain head.
    """
    table = Assessment.__table__
    still_draft = db.execute(
        sa.update(table)
        .where(table.c.id == assessment.id, table.c.status == AssessmentStatus.DRAFT)
        .values(status=table.c.status)
    ).rowcount
    if not still_draft:
        raise AssessmentError(refusal)


def save_answers(
    db: Session,
    assessment: Assessment,
    user: User | None,
    changes: dict[str, tuple[AnswerData, int]],
) -> SaveOutcome:
    """Save answers, each with the version it was edited from (0 for a new answer).

    An answer changed by someone else since the page was opened is not overwritten: it is
    returned as a conflict, and the caller shows both versions.
    """
    lock_draft(db, assessment, READ_ONLY)
    outcome = SaveOutcome()
    rows = answer_rows(db, assessment.id)
    now = utcnow()
    for qid, (answer, base_version) in changes.items():
        row = rows.get(qid)
        # An answer carried over from an earlier cycle is saved even unchanged: saving it is the
        # team's word that it still holds.
        same = row is not None and row.reviewed and to_answer_data(row) == answer
        if (row is None and is_empty(answer)) or same:
            outcome.unchanged.append(qid)
            continue
        carried = row is not None and not row.reviewed
        before = portable.answer_fields(to_answer_data(row)) if row is not None else None
        values = {
            "updated_by_id": user.id if user else None,
            "updated_at": now,
            "reviewed": True,
            **portable.answer_fields(answer),
        }
        try:
            # One savepoint per answer: a conflict here leaves the answers saved before it alone.
            saved = save_versioned(
                db, Answer, {"assessment_id": assessment.id, "question_id": qid}, row, base_version, values
            )
        except StaleVersion as stale:
            # An answer removed since the page loaded is shown as an empty one at version 0.
            outcome.conflicts[qid] = stale.current if stale.current is not None else Answer(question_id=qid, version=0)
            continue
        db.add(history_entry(saved, before, user))  # committed with the save, or not at all
        record(
            db,
            user=user,
            organisation_id=assessment.organisation_id,
            action="answer.save",
            entity="answer",
            entity_id=f"{assessment.id}:{qid}",
            detail={
                "before": before,
                "after": portable.answer_fields(answer),
                **({"reviewed": True} if carried else {}),
            },
        )
        outcome.saved.append(qid)
    if outcome.saved:
        assessment.updated_at = now
        db.add(assessment)
    db.commit()
    return outcome


# -- submitting and exporting ----------------------------------------------------------


def build_document(db: Session, assessment: Assessment, rows: dict[str, Answer] | None = None) -> dict[str, Any]:
    """The portable document for the assessment as it is now (without submission data);
    ``rows`` are its answer rows when the caller has just read them."""
    org = db.get(Organisation, assessment.organisation_id)
    rows = answer_rows(db, assessment.id) if rows is None else rows
    updaters = {r.updated_by_id for r in rows.values()} - {None}
    emails = {u.id: u.email for u in db.exec(select(User).where(User.id.in_(updaters)))} if updaters else {}
    from dd_toolkit.records.risk import register_data  # the register module builds on this one

    register = register_data(db, assessment)
    document = {
        "format": portable.FORMAT,
        "format_version": portable.FORMAT_VERSION,
        "organisation": portable.profile_to_json(org.name, profile_of(org), org.description),
        "assessment": {
            "cycle": assessment.cycle,
            "version": assessment.version,
            "status": assessment.status,
            "questionnaires": dict(assessment.questionnaire_versions),
            "created_at": assessment.created_at.isoformat(),
            "submitted_at": assessment.submitted_at.isoformat() if assessment.submitted_at else None,
        },
        "answers": {
            qid: portable.answer_to_json(to_answer_data(row), emails.get(row.updated_by_id), row.updated_at.isoformat())
            for qid, row in sorted(rows.items())
        },
    }
    if register is not None:  # only then: the files and hashes of assessments without one are unchanged
        document["risk_register"] = register
    return document


def submission_of(db: Session, assessment_id: int) -> Submission | None:
    """The submission of an assessment. Its snapshot text is read only when used (integrity
    checks, exports): pages read the decoded record instead."""
    return db.exec(
        select(Submission).where(Submission.assessment_id == assessment_id).options(sa.orm.defer(Submission.snapshot))
    ).first()


def submit(
    db: Session,
    bank: QuestionBank,
    method: Methodology,
    assessment: Assessment,
    user: User | None,
    *,
    benchmark_consent: bool = False,
    jurisdictions: tuple[str, ...] | list[str] = (),
    refresh_aggregates: bool = True,
    publish_release: bool = True,
) -> Submission:
    """Freeze the assessment: its answers, profile and score card become one hashed snapshot,
    addressed to the regulators of ``jurisdictions``. The snapshot is decoded once into its
    stored record, and the aggregates it takes part in are refreshed (a bulk load passes
    ``refresh_aggregates=False`` and refreshes them all once at the end; ``publish_release=False``
    leaves the working group's next release, when one is due, to the caller)."""
    lock_draft(db, assessment, Message(N_("This assessment has already been submitted.")))
    org = db.get(Organisation, assessment.organisation_id)
    rows = answer_rows(db, assessment.id)  # read once, for the answers and for the document
    profile, answers = profile_of(org), {qid: to_answer_data(row) for qid, row in rows.items()}
    from dd_toolkit.records.risk import risk_levels

    # The register's levels decide which questions it brings in; the card keeps them, frozen.
    risk = risk_levels(db, assessment, method.risk)
    state = progress(bank, profile, answers, risk)
    if not state.ready_to_submit:
        raise IncompleteAssessment(state.missing)
    assessment.status = AssessmentStatus.SUBMITTED
    assessment.submitted_at = utcnow()
    db.add(assessment)
    db.flush()
    from dd_toolkit.records.risk import freeze_review

    freeze_review(db, assessment)  # the risk register, if any, is frozen as reviewed now
    document = build_document(db, assessment, rows)
    document["score_card"] = score(bank, method, profile, answers, state.applicable, risk=risk).to_dict()
    text = portable.canonical_json(portable.snapshot_of(document))
    # The transparency text as edited now is frozen with the submission: later edits are the
    # company's own and never shown to the regulator as part of what was submitted.
    edit = db.exec(select(TransparencyEdit).where(TransparencyEdit.assessment_id == assessment.id)).first()
    submission = Submission(
        assessment_id=assessment.id,
        snapshot=text,
        sha256=portable.sha256_of_text(text),
        methodology=method.key,
        benchmark_consent=benchmark_consent,
        submitted_by_id=user.id if user else None,
        submitted_at=assessment.submitted_at,
        transparency=edit.markdown if edit is not None else None,
    )
    db.add(submission)
    db.flush()
    # The regulators who asked for clarification are added as recipients: audit and refresh them too.
    recipients = review.address(db, submission, list(jurisdictions), user, assessment.previous_id)
    jurisdictions = sorted({r.jurisdiction for r in recipients})
    store_record(db, submission, assessment)
    record(
        db,
        user=user,
        organisation_id=org.id,
        action="assessment.submit",
        entity="assessment",
        entity_id=assessment.id,
        detail={
            "sha256": submission.sha256,
            "methodology": method.key,
            "benchmark_consent": benchmark_consent,
            "jurisdictions": sorted(jurisdictions),
            "transparency_sha256": (
                None if submission.transparency is None else portable.sha256_of_text(submission.transparency)
            ),
        },
    )
    db.commit()
    if refresh_aggregates:
        aggregates.refresh_after_submission(db, bank, method, assessment.cycle, jurisdictions, publish=publish_release)
    return submission


def export_document(db: Session, assessment: Assessment) -> dict[str, Any]:
    """The file a user downloads: a submitted assessment exports its frozen snapshot."""
    submission = submission_of(db, assessment.id)
    if submission is not None:
        document = json.loads(submission.snapshot)
        document["submission"] = {
            "sha256": submission.sha256,
            "submitted_at": submission.submitted_at.isoformat(),
        }
    else:
        document = build_document(db, assessment)
    document["exported_at"] = utcnow().isoformat()
    return document


def import_document(
    db: Session,
    bank: QuestionBank,
    parsed: portable.ParsedDocument,
    org: Organisation,
    user: User | None,
) -> Assessment:
    """Create a draft from a checked file. Nothing is written unless all of it fits."""
    if drafts_for_cycle(db, org.id, parsed.cycle):
        raise AssessmentError(
            Message(
                N_("There is already a draft assessment for %(cycle)s; submit or finish it first."),
                cycle=str(parsed.cycle),
            )
        )
    try:
        assessment = Assessment(
            organisation_id=org.id,
            cycle=parsed.cycle,
            version=_next_version(db, org.id, parsed.cycle),
            questionnaire_versions=bank.versions(),
            created_by_id=user.id if user else None,
        )
        db.add(assessment)
        db.flush()
        imported = [
            Answer(
                assessment_id=assessment.id,
                question_id=qid,
                updated_by_id=user.id if user else None,
                **portable.answer_fields(answer),
            )
            for qid, answer in parsed.answers.items()
        ]
        db.add_all(imported)
        if imported:
            db.flush()
            db.add_all(history_entry(row, None, user) for row in imported)
        if parsed.risk_register is not None:
            from dd_toolkit.records.risk import restore_register

            restore_register(db, assessment, parsed.risk_register, user)
        record(
            db,
            user=user,
            organisation_id=org.id,
            action="assessment.import",
            entity="assessment",
            entity_id=assessment.id,
            detail={
                "answers": len(parsed.answers),
                "source_sha256": parsed.sha256,
                "source_questionnaires": parsed.questionnaire_versions,
            },
        )
        db.commit()
    except Exception:
        db.rollback()
        raise
    return assessment


def create_organisation(
    db: Session, name: str, profile: Profile, user: User | None, *, description: str = "", source: str
) -> Organisation:
    """A new organisation with its profile, recorded in the audit log; the caller commits."""
    org = Organisation(
        name=name,
        description=description,
        hq_country=profile.hq_country,
        countries=list(profile.countries),
        service_types=list(profile.service_types),
        features=list(profile.features),
        size_band=profile.size_band,
        under18_users=profile.under18_users,
        age_groups=list(profile.age_groups),
    )
    db.add(org)
    db.flush()
    record(
        db,
        user=user,
        organisation_id=org.id,
        action="organisation.create",
        entity="organisation",
        entity_id=org.id,
        detail={"source": source},
    )
    return org


@dataclass(frozen=True)
class ProfileMismatch:
    """How a file's profile differs from the organisation it is imported into, and the
    questions whose applicability changes with it (under the organisation's profile)."""

    fields: list[str]
    answered_not_applying: list[str]  # answered in the file, not asked of the organisation
    applying_not_in_file: list[str]  # asked of the organisation, not asked under the file's profile


def profile_mismatch(
    bank: QuestionBank, parsed: portable.ParsedDocument, org: Organisation, risk_rules: Any = None
) -> ProfileMismatch | None:
    """None when the file's profile is the organisation's. ``risk_rules`` (the methodology's
    ``risk``) reads the file's register, whose levels may bring questions in on both sides."""
    target = profile_of(org)
    fields = [
        name for name in PROFILE_FIELDS if _normal(getattr(parsed.profile, name)) != _normal(getattr(target, name))
    ]
    if not fields:
        return None
    from dd_toolkit.engine.risk import levels_of  # the register module builds on this one

    risk = levels_of(parsed.risk_register, risk_rules)
    in_file = bank.applicability(parsed.profile, parsed.answers, risk)
    in_org = bank.applicability(target, parsed.answers, risk)
    return ProfileMismatch(
        fields=fields,
        answered_not_applying=[q for q in parsed.answers if not in_org.get(q)],
        applying_not_in_file=[q for q in in_org if in_org[q] and not in_file.get(q)],
    )


def _normal(value: Any) -> Any:
    return tuple(sorted(value)) if isinstance(value, (list, tuple)) else value


def organisation_from_document(db: Session, parsed: portable.ParsedDocument, user: User | None) -> Organisation:
    """Create the organisation a file describes (used by the CLI when moving installations)."""
    return create_organisation(
        db, parsed.organisation_name, parsed.profile, user, description=parsed.description, source="import"
    )


# -- scores ------------------------------------------------------------------------------


def rescore_submission(bank: QuestionBank, method: Methodology, submission: Submission) -> ScoreCard:
    """Score a frozen snapshot's answers under another methodology. Nothing is stored: a
    re-score is shown beside the frozen card, never in its place."""
    parsed = portable.parse_document(submission.snapshot, bank)
    # With the risk register's levels the submission was scored with, as frozen in its card.
    frozen = (json.loads(submission.snapshot).get("score_card") or {}).get("risk_levels")
    return score(bank, method, parsed.profile, parsed.answers, risk=RiskLevels.from_dict(frozen))

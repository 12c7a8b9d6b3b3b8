"""The action plan's tracking and the edited transparency text, on the database; and the
inputs the documents are built from. Shared by the pages and the CLI."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from dd_toolkit.engine import portable
from dd_toolkit.engine.documents import Inputs
from dd_toolkit.engine.registry import Content
from dd_toolkit.records.assessments import (
    AssessmentError,
    answers_of,
    frozen_score_card,
    live_score_card,
    profile_of,
    record,
    submission_of,
)
from dd_toolkit.records.models import (
    ActionStatus,
    ActionTracking,
    Assessment,
    AssessmentStatus,
    Organisation,
    TransparencyEdit,
    User,
    utcnow,
)


class ConflictError(AssessmentError):
    """Someone else saved a newer version since the form was opened."""

    def __init__(self, current: Any):
        self.current = current
        super().__init__("Someone else changed this while you were editing.")


def previous_submitted(db: Session, assessment: Assessment) -> Assessment | None:
    """The latest submitted assessment of an earlier cycle, for year-on-year comparison."""
    return db.exec(
        select(Assessment)
        .where(
            Assessment.organisation_id == assessment.organisation_id,
            Assessment.cycle < assessment.cycle,
            Assessment.status == AssessmentStatus.SUBMITTED,
        )
        .order_by(Assessment.cycle.desc(), Assessment.version.desc())
    ).first()


def inputs_for(
    db: Session,
    content: Content,
    assessment: Assessment,
    peer_medians: dict[str, float] | None = None,
) -> Inputs:
    """A submitted assessment's documents use its frozen snapshot; a draft's use the answers now."""
    org = db.get(Organisation, assessment.organisation_id)
    submission = submission_of(db, assessment.id)
    if submission is not None:
        card = frozen_score_card(submission)
        method = content.methodology(submission.methodology) or content.current_methodology
        parsed = portable.parse_document(submission.snapshot, content.bank)
        profile, answers, name = parsed.profile, parsed.answers, parsed.organisation_name
    else:
        method = content.current_methodology
        card = live_score_card(db, content.bank, method, assessment)
        profile, answers, name = profile_of(org), answers_of(db, assessment.id), org.name
    previous = previous_submitted(db, assessment)
    edit = transparency_edit(db, assessment.id)
    return Inputs(
        content=content,
        method=method,
        organisation_name=name,
        cycle=assessment.cycle,
        profile=profile,
        answers=answers,
        card=card,
        frozen=submission is not None,
        previous_answers=answers_of(db, previous.id) if previous else None,
        previous_cycle=previous.cycle if previous else None,
        tracking={item_id: _tracking_dict(row) for item_id, row in tracking_of(db, assessment.id).items()},
        transparency_markdown=edit.markdown if edit else None,
        peer_medians=peer_medians,
    )


# -- action tracking ---------------------------------------------------------------------


def tracking_of(db: Session, assessment_id: int) -> dict[str, ActionTracking]:
    rows = db.exec(select(ActionTracking).where(ActionTracking.assessment_id == assessment_id))
    return {row.item_id: row for row in rows}


def _tracking_dict(row: ActionTracking) -> dict[str, str]:
    """The tracking of one item as the documents show it; a "won't do" reason leads the notes."""
    notes = row.notes
    if row.status == ActionStatus.WONT_DO:
        notes = f"Won't do: {row.reason}" + (f" {row.notes}" if row.notes else "")
    return {
        "owner": row.owner,
        "due": row.due_date.isoformat() if row.due_date else "",
        "status": row.status,
        "notes": notes,
    }


def update_tracking(
    db: Session,
    assessment: Assessment,
    *,
    item_id: str,
    title: str,
    question_ids: list[str],
    owner: str,
    due_date: dt.date | None,
    status: ActionStatus,
    reason: str,
    notes: str,
    base_version: int,
    user: User | None,
) -> ActionTracking:
    """Save the team's decisions on one action item; refuse a stale edit."""
    if status == ActionStatus.WONT_DO and not reason.strip():
        raise AssessmentError("Say why this action will not be done.")
    row = tracking_of(db, assessment.id).get(item_id)
    values = {
        "title": title,
        "question_ids": list(question_ids),
        "owner": owner.strip(),
        "due_date": due_date,
        "status": status,
        "reason": reason.strip() if status == ActionStatus.WONT_DO else "",
        "notes": notes.strip(),
        "updated_by_id": user.id if user else None,
        "updated_at": utcnow(),
    }
    if row is None:
        if base_version != 0:
            raise ConflictError(None)
        row = ActionTracking(assessment_id=assessment.id, item_id=item_id, **values)
        db.add(row)
        before = None
    else:
        before = _tracking_dict(row)
        result = db.execute(
            sa.update(ActionTracking)
            .where(ActionTracking.id == row.id, ActionTracking.version == base_version)
            .values(version=base_version + 1, **values)
        )
        if result.rowcount != 1:
            db.rollback()
            raise ConflictError(db.get(ActionTracking, row.id))
    record(
        db,
        user=user,
        organisation_id=assessment.organisation_id,
        action="action.update",
        entity="action",
        entity_id=f"{assessment.id}:{item_id}",
        detail={
            "before": before,
            "after": {
                "owner": values["owner"],
                "status": str(status),
                "due": due_date.isoformat() if due_date else None,
            },
        },
    )
    db.commit()
    db.expire_all()
    return tracking_of(db, assessment.id)[item_id]


# -- transparency text -------------------------------------------------------------------


def transparency_edit(db: Session, assessment_id: int) -> TransparencyEdit | None:
    return db.exec(select(TransparencyEdit).where(TransparencyEdit.assessment_id == assessment_id)).first()


def save_transparency(
    db: Session, assessment: Assessment, markdown: str, base_version: int, user: User | None
) -> TransparencyEdit:
    if len(markdown) > 200_000:
        raise AssessmentError("The text is longer than 200,000 characters.")
    edit = transparency_edit(db, assessment.id)
    if edit is None:
        if base_version != 0:
            raise ConflictError(None)
        edit = TransparencyEdit(assessment_id=assessment.id, markdown=markdown, updated_by_id=user.id if user else None)
        db.add(edit)
    else:
        result = db.execute(
            sa.update(TransparencyEdit)
            .where(TransparencyEdit.id == edit.id, TransparencyEdit.version == base_version)
            .values(
                markdown=markdown,
                version=base_version + 1,
                updated_by_id=user.id if user else None,
                updated_at=utcnow(),
            )
        )
        if result.rowcount != 1:
            db.rollback()
            raise ConflictError(db.get(TransparencyEdit, edit.id))
    record(
        db,
        user=user,
        organisation_id=assessment.organisation_id,
        action="transparency.save",
        entity="assessment",
        entity_id=assessment.id,
        detail={"characters": len(markdown)},
    )
    db.commit()
    db.expire_all()
    return transparency_edit(db, assessment.id)


def discard_transparency(db: Session, assessment: Assessment, user: User | None) -> None:
    """Go back to the draft generated from the answers."""
    edit = transparency_edit(db, assessment.id)
    if edit is not None:
        db.delete(edit)
        record(
            db,
            user=user,
            organisation_id=assessment.organisation_id,
            action="transparency.regenerate",
            entity="assessment",
            entity_id=assessment.id,
        )
        db.commit()


def previous_items(db: Session, content: Content, previous: Assessment) -> list[dict[str, Any]]:
    """The previous cycle's action items with the status the team gave them."""
    from dd_toolkit.engine.documents import action_plan

    tracking = tracking_of(db, previous.id)
    plan = action_plan(inputs_for(db, content, previous))
    return [
        {
            "id": item.id,
            "title": item.title,
            "status": tracking[item.id].status if item.id in tracking else ActionStatus.TODO,
            "question_ids": list(item.question_ids),
        }
        for item in plan.items
    ]

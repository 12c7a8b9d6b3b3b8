"""The action plan's tracking and the edited transparency text, on the database; and the
inputs the documents are built from. Shared by the pages and the CLI."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session, select

from dd_toolkit.engine.content import reading_language
from dd_toolkit.engine.documents import Inputs
from dd_toolkit.engine.registry import Content
from dd_toolkit.engine.text import N_, Message
from dd_toolkit.records import releases
from dd_toolkit.records.assessments import (
    AssessmentError,
    record,
)
from dd_toolkit.records.models import (
    ActionStatus,
    ActionTracking,
    Assessment,
    AssessmentStatus,
    Submission,
    TransparencyEdit,
    User,
    utcnow,
)
from dd_toolkit.records.reader import frozen_answers, read_assessment, submission_and_record
from dd_toolkit.records.versioned import StaleVersion, save_versioned


class ConflictError(AssessmentError):
    """Someone else saved a newer version since the form was opened."""

    def __init__(self, current: Any):
        self.current = current
        super().__init__("Someone else changed this while you were editing.")


# The plan and transparency pages run these on every visit: each statement is built once, with
# its values bound per call (building a statement and its cache key costs more than running it).
_PREVIOUS_SUBMITTED = (
    select(Assessment)
    .where(
        Assessment.organisation_id == sa.bindparam("organisation_id"),
        Assessment.cycle < sa.bindparam("cycle"),
        Assessment.status == AssessmentStatus.SUBMITTED,
    )
    .order_by(Assessment.cycle.desc(), Assessment.version.desc())
    .limit(1)
)
_TRACKING = select(ActionTracking).where(ActionTracking.assessment_id == sa.bindparam("assessment_id"))
_TRANSPARENCY_EDIT = select(TransparencyEdit).where(TransparencyEdit.assessment_id == sa.bindparam("assessment_id"))


def previous_submitted(db: Session, assessment: Assessment) -> Assessment | None:
    """The latest submitted assessment of an earlier cycle, for year-on-year comparison."""
    params = {"organisation_id": assessment.organisation_id, "cycle": assessment.cycle}
    return db.exec(_PREVIOUS_SUBMITTED, params=params).first()


_UNREAD: Any = object()  # an argument of inputs_for that the caller has not read


def inputs_for(
    db: Session,
    content: Content,
    assessment: Assessment,
    with_peers: bool = False,
    as_submitted: bool = False,
    *,
    previous: Assessment | None | Any = _UNREAD,
    tracking_rows: dict[str, ActionTracking] | Any = _UNREAD,
) -> Inputs:
    """The inputs of an assessment's documents, through the one reader (frozen or live).

    With ``with_peers``, the peer medians of the latest release are included, for a
    submission scored with the methodology the benchmark uses (otherwise there is nothing
    like-for-like to compare with, and the medians are empty).

    With ``as_submitted`` (the regulator's view), a submitted assessment's transparency text is
    the one frozen at submission, never an edit saved since.

    A page that has already read the ``previous`` submitted assessment or the ``tracking_rows``
    (:func:`previous_submitted`, :func:`tracking_of`) passes them, and they are not read again."""
    view = read_assessment(db, content, assessment)
    peer_medians = None
    if with_peers:
        method = content.current_methodology
        comparable = view.record is not None and view.record.methodology == method.key
        peer_medians = releases.peer_medians(db, method, assessment.cycle) if comparable else {}
    if previous is _UNREAD:
        previous = previous_submitted(db, assessment)
    if tracking_rows is _UNREAD:
        tracking_rows = tracking_of(db, assessment.id)
    edit = transparency_edit(db, assessment.id)
    markdown = edit.markdown if edit else None
    if as_submitted and not assessment.is_draft:
        markdown = db.exec(select(Submission.transparency).where(Submission.assessment_id == assessment.id)).first()
    return Inputs(
        content=content,
        method=view.method,
        organisation_name=view.organisation_name,
        cycle=assessment.cycle,
        profile=view.profile,
        answers=view.answers,
        card=view.card,
        frozen=view.frozen,
        previous_answers=frozen_answers(db, content, previous) if previous else None,
        previous_cycle=previous.cycle if previous else None,
        tracking={item_id: _tracking_dict(row) for item_id, row in tracking_rows.items()},
        transparency_markdown=markdown,
        peer_medians=peer_medians,
        risk_register=view.risk_register,
        # The reader's: what is built from these inputs (the plan, the draft) is worded in it, and
        # kept under it, so that another reader never gets it in a language they did not choose.
        language=reading_language(),
    )


def frozen_submission(db: Session, assessment: Assessment) -> tuple[str, str] | None:
    """The SHA-256 and methodology key of the submission a submitted assessment is read from
    (:func:`dd_toolkit.records.reader.read_assessment` reads it frozen when it has a decoded
    record); None for a draft, read live. What a page kept for it is keyed by these."""
    if assessment.is_draft:
        return None
    submission, record = submission_and_record(db, assessment)
    return (submission.sha256, submission.methodology) if record is not None else None


# -- action tracking ---------------------------------------------------------------------


def tracking_of(db: Session, assessment_id: int) -> dict[str, ActionTracking]:
    rows = db.exec(_TRACKING, params={"assessment_id": assessment_id})
    return {row.item_id: row for row in rows}


def tracking_key(rows: dict[str, ActionTracking]) -> tuple:
    """Every saved value of an assessment's tracking rows, as a key of what a page kept: any
    saved change of a row (its version is bumped too) or a new row gives another key."""
    return tuple(
        sorted(
            (
                item_id,
                row.id,
                row.version,
                row.owner,
                row.due_date,
                str(row.status),
                row.reason,
                row.notes,
                bool(row.public_commitment),
                row.carried_from_id,
                row.updated_at,
            )
            for item_id, row in rows.items()
        )
    )


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
        "public_commitment": bool(row.public_commitment),
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
        raise AssessmentError(Message(N_("Say why this action will not be done.")))
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
    before = _tracking_dict(row) if row is not None else None
    key = {"assessment_id": assessment.id, "item_id": item_id}
    try:
        save_versioned(db, ActionTracking, key, row, base_version, values)
    except StaleVersion as stale:
        raise ConflictError(stale.current) from None
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


def set_public_commitments(
    db: Session, assessment: Assessment, items: list[tuple[str, str, list[str]]], public: set[str], user: User | None
) -> list[str]:
    """Mark which action items the team names as commitments in the public transparency text.

    ``items`` are the plan's items as (id, title, question ids); ``public`` the ids to mark.
    Items without tracking get a row; returns the ids whose mark changed."""
    tracking = tracking_of(db, assessment.id)
    changed = []
    for item_id, title, question_ids in items:
        row = tracking.get(item_id)
        wanted = item_id in public
        if (row.public_commitment if row is not None else False) == wanted:
            continue
        if row is None:
            row = ActionTracking(
                assessment_id=assessment.id, item_id=item_id, title=title, question_ids=list(question_ids)
            )
        row.public_commitment = wanted
        row.updated_by_id = user.id if user else None
        row.updated_at = utcnow()
        db.add(row)
        changed.append(item_id)
    if changed:
        record(
            db,
            user=user,
            organisation_id=assessment.organisation_id,
            action="transparency.commitments",
            entity="assessment",
            entity_id=assessment.id,
            detail={"changed": changed, "public": sorted(public & {item_id for item_id, _, _ in items})},
        )
        db.commit()
        db.expire_all()
    return changed


# -- transparency text -------------------------------------------------------------------


def transparency_edit(db: Session, assessment_id: int) -> TransparencyEdit | None:
    return db.exec(_TRANSPARENCY_EDIT, params={"assessment_id": assessment_id}).first()


def save_transparency(
    db: Session, assessment: Assessment, markdown: str, base_version: int, user: User | None
) -> TransparencyEdit:
    if len(markdown) > 200_000:
        raise AssessmentError(Message(N_("The text is longer than %(limit)s characters."), limit=200_000))
    edit = transparency_edit(db, assessment.id)
    values = {"markdown": markdown, "updated_by_id": user.id if user else None, "updated_at": utcnow()}
    try:
        save_versioned(db, TransparencyEdit, {"assessment_id": assessment.id}, edit, base_version, values)
    except StaleVersion as stale:
        raise ConflictError(stale.current) from None
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
        try:
            db.commit()
        except StaleDataError:
            # Someone saved a newer text in the same instant: keep theirs.
            db.rollback()
            raise ConflictError(transparency_edit(db, assessment.id)) from None


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

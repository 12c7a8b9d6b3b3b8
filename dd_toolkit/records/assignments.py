"""Who answers which section: an admin gives each section of a draft assessment to one member of
the organisation. The member is notified, finds the sections on their home page, and the
assessment's overview and each section page say whose it is.

Assignments are the team's way of sharing the work, not part of what is submitted: they are not
in the snapshot or the JSON export. A new version or a new cycle started from an assessment
keeps them, for the members still in the organisation; a member who leaves gives theirs up.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlmodel import Session, select

from dd_toolkit.engine.text import N_, Message
from dd_toolkit.records import notifications
from dd_toolkit.records.assessments import READ_ONLY, AssessmentError, lock_draft
from dd_toolkit.records.audit import record
from dd_toolkit.records.models import Assessment, Membership, SectionAssignment, User, utcnow

_OF_ASSESSMENT = (
    select(SectionAssignment, User)
    .join(User, User.id == SectionAssignment.user_id)
    .where(SectionAssignment.assessment_id == sa.bindparam("assessment_id"))
)


def assignments_of(db: Session, assessment_id: int) -> dict[str, User]:
    """Each assigned section of an assessment, with the member it is assigned to."""
    rows = db.exec(_OF_ASSESSMENT, params={"assessment_id": assessment_id}).all()
    return {assignment.section_id: user for assignment, user in rows}


def sections_of_user(db: Session, assessment_id: int, user_id: int) -> list[str]:
    """The sections of an assessment assigned to one member."""
    return list(
        db.exec(
            select(SectionAssignment.section_id).where(
                SectionAssignment.assessment_id == assessment_id, SectionAssignment.user_id == user_id
            )
        )
    )


def assignable_members(db: Session, organisation_id: int) -> list[User]:
    """The members a section can be given to: every active account of the organisation, admins
    and contributors alike (one invited but not yet joined included), by name."""
    return list(
        db.exec(
            select(User)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.organisation_id == organisation_id, User.active == sa.true())
            .order_by(sa.func.lower(User.name), User.email)
        )
    )


@dataclass
class AssignmentOutcome:
    # section id -> the member now assigned (None: nobody)
    changed: dict[str, int | None] = field(default_factory=dict)
    # section id -> the member it is assigned to now (None: nobody), where someone else changed
    # it after the page was read: nothing was changed there
    conflicts: dict[str, User | None] = field(default_factory=dict)


def assign_sections(
    db: Session,
    assessment: Assessment,
    choices: Mapping[str, tuple[int | None, int | None]],
    *,
    section_ids: Collection[str],
    by: User,
) -> AssignmentOutcome:
    """Assign sections of a draft: ``choices`` gives, per section, the member the page showed
    (None: nobody) and the member chosen. A section whose assignment changed since the page was
    read is left as it is and returned as a conflict; one left as shown is not touched.
    Members given a section are notified, and the audit log records every change."""
    lock_draft(db, assessment, READ_ONLY)
    unknown = sorted(set(choices) - set(section_ids))
    if unknown:
        raise AssessmentError(Message(N_("There is no section %(section)s."), section=unknown[0]))
    members = {user.id: user for user in assignable_members(db, assessment.organisation_id)}
    for _shown, chosen in choices.values():
        if chosen is not None and chosen not in members:
            raise AssessmentError(
                Message(N_("A section can only be assigned to an active member of the organisation."))
            )
    stored = {
        row.section_id: row
        for row in db.exec(select(SectionAssignment).where(SectionAssignment.assessment_id == assessment.id))
    }
    outcome = AssignmentOutcome()
    now = utcnow()
    for section_id, (shown, chosen) in choices.items():
        if chosen == shown:
            continue
        row = stored.get(section_id)
        current = row.user_id if row is not None else None
        if current != shown:
            outcome.conflicts[section_id] = db.get(User, current) if current is not None else None
            continue
        if chosen is None:
            db.delete(row)
        elif row is None:
            db.add(SectionAssignment(assessment_id=assessment.id, section_id=section_id, user_id=chosen,
                                     assigned_by_id=by.id, assigned_at=now))  # fmt: skip
        else:
            row.user_id, row.assigned_by_id, row.assigned_at = chosen, by.id, now
            db.add(row)
        outcome.changed[section_id] = chosen
    if outcome.changed:
        record(
            db,
            user=by,
            organisation_id=assessment.organisation_id,
            action="assessment.assign",
            entity="assessment",
            entity_id=assessment.id,
            detail={"sections": outcome.changed},
        )
        given: dict[int, list[str]] = {}
        for section_id, chosen in outcome.changed.items():
            if chosen is not None:
                given.setdefault(chosen, []).append(section_id)
        for member, sections in given.items():
            _notify_assigned(db, assessment, member, sections, by)
    db.commit()
    return outcome


def _notify_assigned(db: Session, assessment: Assessment, member: int, sections: list[str], by: User) -> None:
    """One notification per member and save: the section, or the list of them."""
    params = {"by": by.name or by.email, "cycle": assessment.cycle}
    if len(sections) == 1:
        kind, entity = notifications.Kind.SECTION_ASSIGNED, notifications.ENTITY_SECTION
        params["section"] = sections[0]
    else:
        kind, entity = notifications.Kind.SECTIONS_ASSIGNED, notifications.ENTITY_ASSESSMENT
        params["sections"] = sections
    notifications.notify(db, [member], kind, params, entity=entity, entity_id=assessment.id, exclude=by.id)


def copy_assignments(db: Session, source: Assessment, target: Assessment) -> int:
    """Give the sections of a new assessment to the members they were assigned to in the one it
    starts from, for the members still active in the organisation; the caller commits."""
    members = {user.id for user in assignable_members(db, target.organisation_id)}
    copied = 0
    for row in db.exec(select(SectionAssignment).where(SectionAssignment.assessment_id == source.id)):
        if row.user_id in members:
            db.add(
                SectionAssignment(
                    assessment_id=target.id,
                    section_id=row.section_id,
                    user_id=row.user_id,
                    assigned_by_id=row.assigned_by_id,
                    assigned_at=row.assigned_at,
                )
            )
            copied += 1
    return copied


def release_member(db: Session, organisation_id: int, user_id: int) -> int:
    """Take every section a member who leaves the organisation was assigned, in its assessments,
    back to nobody; the caller commits."""
    of_organisation = select(Assessment.id).where(Assessment.organisation_id == organisation_id)
    rows = db.exec(
        select(SectionAssignment).where(
            SectionAssignment.user_id == user_id, SectionAssignment.assessment_id.in_(of_organisation)
        )
    ).all()
    for row in rows:
        db.delete(row)
    return len(rows)

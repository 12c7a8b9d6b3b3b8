"""The children's risk register of an assessment, as stored: its record (who carried it out, how,
from which sources, when it is next reviewed) and its cells (a harm for an age group), read as
one plain mapping and written cell by cell, each with the version it was edited from.

:func:`register_data` gives the register as the portable file, the frozen snapshot and the
documents carry it::

    {"assessed_by": str, "method": str, "sources": [evidence source ids],
     "started_at": ISO, "reviewed_at": ISO | None, "next_review_due": "YYYY-MM-DD",
     "reason": "cycle" | "significant_change", "change_note": str,
     "previous_assessment_id": int | None,
     "cells": [cell mappings of dd_toolkit.engine.risk, each with "owner", "updated_by",
               "updated_at"]}

A cell is saved as answers are (:mod:`dd_toolkit.records.versioned`): a save that started from an
older version raises :class:`StaleVersion` and leaves every other change of the request alone.
Each save is kept in ``risk_cell_history``. The next cycle's register starts from the last one
(its cells carried, none of them reviewed yet); a significant change (a new feature, a new
market, a major incident) opens a reassessment outside the yearly cycle.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from dd_toolkit.engine.content.conditions import RiskLevels
from dd_toolkit.engine.registry import Content
from dd_toolkit.engine.risk import UNKNOWN_SOURCES, CellProblem, register_levels, validate_cell
from dd_toolkit.engine.text import N_, Message
from dd_toolkit.records.assessments import READ_ONLY, answer_records, drafts_for_cycle, lock_draft, new_version
from dd_toolkit.records.audit import record
from dd_toolkit.records.models import (
    Assessment,
    AssessmentStatus,
    RiskCell,
    RiskCellHistory,
    RiskRegister,
    User,
    utcnow,
)
from dd_toolkit.records.versioned import StaleVersion, save_versioned

__all__ = [
    "REVIEW_MONTHS",
    "CellInvalid",
    "RiskError",
    "StaleVersion",
    "cell_rows",
    "changed_since_last",
    "last_register",
    "register_data",
    "register_of",
    "restore_register",
    "review_state",
    "risk_levels",
    "save_cell",
    "save_register_meta",
    "significant_change",
    "start_register",
]

#: A register is reviewed at least this often.
REVIEW_MONTHS = 12
#: A review falling due within this many days is announced.
DUE_SOON_DAYS = 30
REASONS = ("cycle", "significant_change")
MAX_OWNER = 200


class RiskError(Exception):
    """A register action that cannot be done; ``code`` names why (the page has the words)."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


class CellInvalid(Exception):
    """The cell (or the register's record) as filled has problems; nothing was written."""

    def __init__(self, problems: tuple[CellProblem, ...]):
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems


# A text of the register's record that is too long.
KEEP_UNDER = N_("Keep this under %(limit)s characters.")


# -- reading -------------------------------------------------------------------------------------


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later (the month's last day when it is shorter)."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


# Built once (every section page of a draft reads them): building a statement costs more than running it.
_REGISTER = select(RiskRegister).where(RiskRegister.assessment_id == sa.bindparam("assessment_id"))
_CELLS = select(RiskCell).where(RiskCell.assessment_id == sa.bindparam("assessment_id")).order_by(RiskCell.id)


def register_of(db: Session, assessment_id: int) -> RiskRegister | None:
    return db.exec(_REGISTER, params={"assessment_id": assessment_id}).first()


def cell_rows(db: Session, assessment_id: int) -> dict[tuple[str, str], RiskCell]:
    rows = db.exec(_CELLS, params={"assessment_id": assessment_id})
    return {(row.harm, row.age_group): row for row in rows}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def cell_state(row: RiskCell) -> dict[str, Any]:
    """A cell's own fields (the engine's cell mapping) with its owner."""
    return {"harm": row.harm, "age_group": row.age_group, **row.fields, "owner": row.owner}


def register_data(db: Session, assessment: Assessment) -> dict[str, Any] | None:
    """The register of ``assessment`` as plain data (see the module docstring), or None."""
    register = register_of(db, assessment.id)
    if register is None:
        return None
    rows = cell_rows(db, assessment.id)
    people = {r.updated_by_id for r in rows.values()} - {None}
    names = {u.id: u.name for u in db.exec(select(User).where(User.id.in_(people)))} if people else {}
    return {
        "assessed_by": register.assessed_by,
        "method": register.method,
        "sources": list(register.sources),
        "started_at": _iso(register.started_at),
        "reviewed_at": _iso(register.reviewed_at),
        "next_review_due": register.next_review_due.isoformat(),
        "reason": register.reason,
        "change_note": register.change_note,
        "previous_assessment_id": register.previous_assessment_id,
        "cells": [
            {**cell_state(row), "updated_by": names.get(row.updated_by_id, ""), "updated_at": _iso(row.updated_at)}
            for row in rows.values()
        ],
    }


def risk_levels(db: Session, assessment: Assessment, rules: Any) -> RiskLevels | None:
    """What the applicability rules of a draft read of its register as it is now, on ``rules``
    (the methodology's ``risk``); None without a register. A submission's are kept in its score
    card (``ScoreCard.risk``)."""
    if rules is None or register_of(db, assessment.id) is None:
        return None
    return register_levels([cell_state(row) for row in cell_rows(db, assessment.id).values()], rules)


def last_register(
    db: Session, organisation_id: int, before: Assessment | None = None, up_to_cycle: int | None = None
) -> RiskRegister | None:
    """The organisation's most recent register (by start), other than ``before``'s own; with
    ``up_to_cycle``, only of an assessment of that cycle or an earlier one (a register never
    runs backwards, into an assessment of an earlier cycle)."""
    query = (
        select(RiskRegister)
        .join(Assessment, Assessment.id == RiskRegister.assessment_id)
        .where(Assessment.organisation_id == organisation_id)
        .order_by(RiskRegister.started_at.desc(), RiskRegister.id.desc())
    )
    if before is not None:
        query = query.where(RiskRegister.assessment_id != before.id)
    if up_to_cycle is not None:
        query = query.where(Assessment.cycle <= up_to_cycle)
    return db.exec(query).first()


def review_state(register: RiskRegister | Mapping[str, Any] | None, today: date | None = None) -> str | None:
    """ "overdue", "due_soon" (within :data:`DUE_SOON_DAYS`) or "ok"; None without a register."""
    if register is None:
        return None
    due = register["next_review_due"] if isinstance(register, Mapping) else register.next_review_due
    due = date.fromisoformat(due) if isinstance(due, str) else due
    today = today or utcnow().date()
    if due <= today:
        return "overdue"
    return "due_soon" if (due - today).days <= DUE_SOON_DAYS else "ok"


def changed_since_last(db: Session, assessment: Assessment) -> set[tuple[str, str]]:
    """The cells (harm, age group) of the assessment's register that differ from the register it
    started from: new cells and cells whose rating, controls, rationale or owner changed. Every
    cell when it started afresh."""
    register = register_of(db, assessment.id)
    if register is None:
        return set()
    rows = cell_rows(db, assessment.id)
    if register.previous_assessment_id is None:
        return set(rows)
    before = {key: cell_state(row) for key, row in cell_rows(db, register.previous_assessment_id).items()}
    return {key for key, row in rows.items() if before.get(key) != cell_state(row)}


# -- writing -------------------------------------------------------------------------------------


def _rules(content: Content):
    rules = content.current_methodology.risk
    if rules is None:
        raise RiskError("no_rules")
    return rules


def _answered(db: Session, assessment: Assessment) -> set[str]:
    rows = answer_records(db, assessment.id)
    return {qid for qid, row in rows.items() if row.value is not None or row.not_applicable}


def start_register(
    db: Session,
    assessment: Assessment,
    user: User | None,
    *,
    reason: str = "cycle",
    change_note: str = "",
) -> RiskRegister:
    """Open the register of a draft (the one it has, if any): it starts from the organisation's
    last register, whose record and cells are copied, none of the cells reviewed yet; its review
    falls due when the last one's did, and at most :data:`REVIEW_MONTHS` from today. Flushes;
    the caller commits."""
    if reason not in REASONS:
        raise RiskError("bad_reason")
    lock_draft(db, assessment, READ_ONLY)
    existing = register_of(db, assessment.id)
    if existing is not None:
        return existing
    now = utcnow()
    due = add_months(now.date(), REVIEW_MONTHS)
    previous = last_register(db, assessment.organisation_id, before=assessment, up_to_cycle=assessment.cycle)
    register = RiskRegister(
        assessment_id=assessment.id,
        started_at=now,
        next_review_due=min(due, previous.next_review_due) if previous is not None else due,
        reason=reason,
        change_note=change_note,
        updated_by_id=user.id if user else None,
        updated_at=now,
    )
    copied = 0
    if previous is not None:
        register.assessed_by, register.method = previous.assessed_by, previous.method
        register.sources = list(previous.sources)
        register.previous_assessment_id = previous.assessment_id
        for row in cell_rows(db, previous.assessment_id).values():
            db.add(
                RiskCell(
                    assessment_id=assessment.id,
                    harm=row.harm,
                    age_group=row.age_group,
                    fields=dict(row.fields),
                    owner=row.owner,
                    reviewed=False,
                    updated_by_id=row.updated_by_id,
                    updated_at=row.updated_at,
                )
            )
            copied += 1
    db.add(register)
    db.flush()
    record(
        db,
        user=user,
        organisation_id=assessment.organisation_id,
        action="risk.start",
        entity="assessment",
        entity_id=assessment.id,
        detail={"reason": reason, "from_assessment": register.previous_assessment_id, "cells_copied": copied},
    )
    return register


def save_cell(
    db: Session,
    assessment: Assessment,
    user: User | None,
    harm: str,
    age_group: str,
    values: Mapping[str, Any],
    base_version: int,
    *,
    content: Content,
) -> RiskCell:
    """Save one cell of the draft's register from ``values`` (the engine's cell fields and
    "owner"), edited from ``base_version`` (0: a new cell). Checked with
    :func:`dd_toolkit.engine.risk.validate_cell` (controls must be answered questions): raises
    :class:`CellInvalid` with nothing written, or :class:`StaleVersion` when someone saved the
    cell since (only this cell is undone). Saving a carried cell unchanged marks it reviewed.
    Flushes and records the change with its history; the caller commits."""
    lock_draft(db, assessment, READ_ONLY)
    if register_of(db, assessment.id) is None:
        raise RiskError("no_register")
    check = validate_cell(
        {**values, "harm": harm, "age_group": age_group}, _rules(content), content.bank, _answered(db, assessment)
    )
    owner = " ".join(str(values.get("owner") or "").split())
    problems = check.problems
    if len(owner) > MAX_OWNER:
        problems = (
            *problems,
            CellProblem("owner", Message(N_("Keep the owner under %(limit)s characters."), limit=MAX_OWNER)),
        )
    if problems:
        raise CellInvalid(problems)
    fields = check.cell.to_dict()
    del fields["harm"], fields["age_group"]
    fields = {k: list(v) if isinstance(v, tuple) else v for k, v in fields.items()}
    row = db.exec(
        select(RiskCell).where(
            RiskCell.assessment_id == assessment.id, RiskCell.harm == harm, RiskCell.age_group == age_group
        )
    ).first()
    before = cell_state(row) if row is not None else None
    if row is not None and row.version == base_version and row.reviewed and row.fields == fields and row.owner == owner:
        return row  # nothing to save
    now = utcnow()
    saved = save_versioned(
        db,
        RiskCell,
        {"assessment_id": assessment.id, "harm": harm, "age_group": age_group},
        row,
        base_version,
        {"fields": fields, "owner": owner, "reviewed": True, "updated_by_id": user.id if user else None,
         "updated_at": now},
    )  # fmt: skip
    after = cell_state(saved)
    db.add(
        RiskCellHistory(
            assessment_id=assessment.id,
            harm=harm,
            age_group=age_group,
            cell_version=saved.version,
            old=before,
            new=after,
            changed_by_id=user.id if user else None,
            changed_at=now,
        )
    )
    record(
        db,
        user=user,
        organisation_id=assessment.organisation_id,
        action="risk.cell.save",
        entity="assessment",
        entity_id=f"{assessment.id}:{harm}:{age_group}",
        detail={"before": before, "after": after},
    )
    assessment.updated_at = now
    db.add(assessment)
    return saved


def save_register_meta(
    db: Session,
    assessment: Assessment,
    user: User | None,
    values: Mapping[str, Any],
    base_version: int,
    *,
    content: Content,
) -> RiskRegister:
    """Save the register's record: ``assessed_by``, ``method``, ``sources`` (evidence source ids),
    ``change_note``, and, with ``reviewed`` true, the review done now. ``next_review_due`` (a date
    or "YYYY-MM-DD", optional) may bring the next review forward, never past
    :data:`REVIEW_MONTHS` after the last review (or the start). Raises :class:`CellInvalid`,
    :class:`StaleVersion` as :func:`save_cell`; flushes, the caller commits."""
    lock_draft(db, assessment, READ_ONLY)
    register = register_of(db, assessment.id)
    if register is None:
        raise RiskError("no_register")
    rules = _rules(content)
    problems: list[CellProblem] = []
    text = {name: " ".join(str(values.get(name) or "").split()) for name in ("assessed_by", "change_note")}
    method = str(values.get("method") or "").strip()
    sources = list(dict.fromkeys(str(s) for s in (values.get("sources") or ()) if str(s).strip()))
    if not text["assessed_by"]:
        problems.append(CellProblem("assessed_by", Message(N_("Say who carried out the assessment."))))
    elif len(text["assessed_by"]) > 500:
        problems.append(CellProblem("assessed_by", Message(KEEP_UNDER, limit=500)))
    if not method:
        problems.append(CellProblem("method", Message(N_("Say how the assessment was done."))))
    elif len(method) > 5000:
        problems.append(CellProblem("method", Message(KEEP_UNDER, limit=5000)))
    if len(text["change_note"]) > 5000:
        problems.append(CellProblem("change_note", Message(KEEP_UNDER, limit=5000)))
    unknown = [s for s in sources if s not in {p.id for p in rules.evidence_sources}]
    if unknown:
        problems.append(CellProblem("sources", Message(UNKNOWN_SOURCES, sources=", ".join(unknown))))
    now = utcnow()
    reviewed_at = now if values.get("reviewed") else register.reviewed_at
    latest = add_months((reviewed_at or register.started_at).date(), REVIEW_MONTHS)
    due = latest if values.get("reviewed") else register.next_review_due
    wanted = values.get("next_review_due")
    if wanted:
        try:
            wanted = wanted if isinstance(wanted, date) else date.fromisoformat(str(wanted))
        except ValueError:
            problems.append(CellProblem("next_review_due", Message(N_("Enter the date as YYYY-MM-DD."))))
        else:
            if wanted > latest:
                problems.append(
                    CellProblem(
                        "next_review_due",
                        Message(N_("A review is due at least every %(months)s months."), months=REVIEW_MONTHS),
                    )
                )
            due = wanted
    if problems:
        raise CellInvalid(tuple(problems))
    saved = save_versioned(
        db,
        RiskRegister,
        {"assessment_id": assessment.id},
        register,
        base_version,
        {**text, "method": method, "sources": sources, "reviewed_at": reviewed_at, "next_review_due": due,
         "updated_by_id": user.id if user else None, "updated_at": now},
    )  # fmt: skip
    record(
        db,
        user=user,
        organisation_id=assessment.organisation_id,
        action="risk.register.save",
        entity="assessment",
        entity_id=assessment.id,
        detail={"reviewed": bool(values.get("reviewed")), "next_review_due": due.isoformat()},
    )
    return saved


def significant_change(
    db: Session, content: Content, assessment: Assessment, user: User | None, note: str
) -> Assessment:
    """Reassess the register after a significant change (a new feature, a new market, a major
    incident), outside the yearly cycle, and return the draft that holds the reassessment.

    A submitted assessment gets a new draft version (its answers kept) whose register starts from
    the last one; a draft's own register is reopened. Either way the register's reason becomes
    "significant_change" with ``note``, and every cell is to be reviewed again. Commits."""
    note = " ".join(str(note or "").split())
    if not note:
        raise CellInvalid((CellProblem("change_note", Message(N_("Say what changed."))),))
    if len(note) > 5000:
        raise CellInvalid((CellProblem("change_note", Message(KEEP_UNDER, limit=5000)),))
    if assessment.status == AssessmentStatus.SUBMITTED:
        drafts = drafts_for_cycle(db, assessment.organisation_id, assessment.cycle)
        draft = drafts[0] if drafts else new_version(db, content.bank, assessment, user)
    else:
        draft = assessment
    register = register_of(db, draft.id)
    if register is None:
        register = start_register(db, draft, user, reason="significant_change", change_note=note)
    else:
        lock_draft(db, draft, READ_ONLY)
        register.reason, register.change_note, register.reviewed_at = "significant_change", note, None
        register.updated_by_id, register.updated_at = (user.id if user else None), utcnow()
        db.add(register)
        for row in cell_rows(db, draft.id).values():
            row.reviewed = False
            db.add(row)
        db.flush()
    record(
        db,
        user=user,
        organisation_id=draft.organisation_id,
        action="risk.significant_change",
        entity="assessment",
        entity_id=draft.id,
        detail={"note": note, "from_assessment": assessment.id},
    )
    db.commit()
    return draft


def restore_register(db: Session, assessment: Assessment, data: Mapping[str, Any], user: User | None) -> RiskRegister:
    """Store a register read from a portable file (its cells already checked by
    :func:`dd_toolkit.engine.portable.parse_document`) as the register of ``assessment``, a
    new draft. Flushes; the caller commits."""
    now = utcnow()

    def when(value: Any) -> datetime | None:
        try:
            return datetime.fromisoformat(value) if value else None
        except (TypeError, ValueError):
            return None

    started = when(data.get("started_at")) or now
    reviewed = when(data.get("reviewed_at"))
    latest = add_months((reviewed or started).date(), REVIEW_MONTHS)
    try:
        due = min(date.fromisoformat(data.get("next_review_due") or ""), latest)
    except ValueError:
        due = latest
    register = RiskRegister(
        assessment_id=assessment.id,
        assessed_by=str(data.get("assessed_by") or ""),
        method=str(data.get("method") or ""),
        sources=list(data.get("sources") or ()),
        started_at=started,
        reviewed_at=reviewed,
        next_review_due=due,
        reason=data.get("reason") if data.get("reason") in REASONS else "cycle",
        change_note=str(data.get("change_note") or ""),
        updated_by_id=user.id if user else None,
        updated_at=now,
    )
    db.add(register)
    for cell in data.get("cells") or ():
        fields = {k: v for k, v in cell.items() if k not in ("harm", "age_group", "owner", "updated_by", "updated_at")}
        db.add(
            RiskCell(
                assessment_id=assessment.id,
                harm=cell["harm"],
                age_group=cell["age_group"],
                fields=fields,
                owner=str(cell.get("owner") or ""),
                updated_by_id=user.id if user else None,
                updated_at=when(cell.get("updated_at")) or now,
            )
        )
    db.flush()
    return register


def freeze_review(db: Session, assessment: Assessment) -> None:
    """At submission: a register never marked reviewed counts as reviewed when it is submitted
    (its next review then falls due at most :data:`REVIEW_MONTHS` later). Flushes."""
    register = register_of(db, assessment.id)
    if register is None or register.reviewed_at is not None:
        return
    now = assessment.submitted_at or utcnow()
    register.reviewed_at = now
    register.next_review_due = min(register.next_review_due, add_months(now.date(), REVIEW_MONTHS))
    db.add(register)
    db.flush()

"""The written record of a children's risk assessment, and the heat map of its register.

A pure module: the register as plain data (the ``risk_register`` mapping a portable file, a
frozen snapshot or the reader carries; its cells as in :mod:`dd_toolkit.engine.risk`), the
question bank, the methodology and the action plan in; frozen dataclasses out. The words of the
record are in ``reports/risk_assessment.md.j2``; this module only looks up labels from the
content (harms, age groups, scales, evidence sources, questions) so the template can print them.

The record says who carried the assessment out, when and how, the sources used, the findings
per harm and age group (each rated cell with its likelihood, impact and their evidence, the
controls by the questions that record them with the answer given, the residual level and the
rationale; each cell rated not relevant with its reason), the measures that address each harm
(the plan's actions linked by the methodology's ``risk.addressed_by``) with their owners, and
the next review date.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from dd_toolkit.engine import risk
from dd_toolkit.engine.actions import ActionPlan
from dd_toolkit.engine.content import AnswerData, QuestionBank, Taxonomy
from dd_toolkit.engine.content.values import display_value
from dd_toolkit.engine.risk import prefill_register, uplift_plan
from dd_toolkit.engine.scoring.methodology import Methodology, RiskRules

__all__ = [
    "RISK_TEMPLATE",
    "NoRegister",
    "RiskRecord",
    "build_heat_map",
    "build_risk_record",
    "register_cells",
    "render_risk_assessment_markdown",
    "risk_distribution_entry",
]

RISK_TEMPLATE = "risk_assessment.md.j2"


class NoRegister(ValueError):
    """The assessment has no risk register (or its methodology keeps none)."""


@dataclass(frozen=True)
class Term:
    """An id of the content with its label and description, as the record prints it."""

    id: str
    label: str
    description: str = ""


@dataclass(frozen=True)
class Control:
    """A control of a cell: the question that records it and the answer the team gave."""

    question_id: str
    label: str  # the question's text
    answer: str  # the answer as a person reads it; "" when the question is not answered
    not_applicable: bool = False


@dataclass(frozen=True)
class CellFinding:
    age_group: Term
    relevant: bool
    not_relevant_reason: str = ""
    likelihood: Term | None = None
    likelihood_evidence: tuple[Term, ...] = ()
    impact: Term | None = None
    impact_evidence: tuple[Term, ...] = ()
    level: Term | None = None  # before the controls, by the matrix
    controls: tuple[Control, ...] = ()
    residual: Term | None = None
    rationale: str = ""
    owner: str = ""
    updated_by: str = ""
    updated_at: str = ""


@dataclass(frozen=True)
class Measure:
    """An action of the plan that addresses a harm, with its tracking."""

    id: str
    title: str
    priority: str
    priority_label: str
    horizon_days: int
    raised_by_risk: bool
    owner: str = ""
    due: str = ""
    status: str = ""


@dataclass(frozen=True)
class HarmFinding:
    harm: Term
    group: Term | None
    factors: tuple[Term, ...]  # the features of the service that raise it (label, reason)
    cells: tuple[CellFinding, ...]  # youngest age group first
    measures: tuple[Measure, ...]  # highest priority first
    highest_residual: Term | None

    @property
    def rated(self) -> tuple[CellFinding, ...]:
        return tuple(c for c in self.cells if c.relevant)

    @property
    def not_relevant(self) -> tuple[CellFinding, ...]:
        return tuple(c for c in self.cells if not c.relevant)


@dataclass(frozen=True)
class HeatCell:
    age_group: str
    level: str | None  # the residual level id; None when not rated
    label: str  # the level's label, or "" when not rated
    relevant: bool  # False when rated not relevant
    rated: bool  # False when the register holds no cell here


@dataclass(frozen=True)
class HeatRow:
    harm: str
    label: str
    cells: tuple[HeatCell, ...]  # in the order of HeatMap.age_groups


@dataclass(frozen=True)
class HeatMap:
    """Harms (rows, taxonomy order) by age groups (columns, youngest first) of a register,
    each cell with its residual level. ``levels`` lists the levels, lowest first."""

    age_groups: tuple[Term, ...]
    rows: tuple[HeatRow, ...]
    levels: tuple[Term, ...]

    @property
    def empty(self) -> bool:
        return not self.rows

    def counts(self) -> dict[str, int]:
        """How many rated cells are at each residual level, lowest first."""
        counts = {level.id: 0 for level in self.levels}
        for row in self.rows:
            for cell in row.cells:
                if cell.level in counts:
                    counts[cell.level] += 1
        return counts


@dataclass(frozen=True)
class RiskRecord:
    organisation_name: str
    cycle: str
    assessed_by: str
    method: str
    sources: tuple[Term, ...]
    started_at: str
    reviewed_at: str
    next_review_due: str
    reason: str  # "cycle" or "significant_change"
    change_note: str
    age_groups: tuple[Term, ...]  # the age groups the register covers
    findings: tuple[HarmFinding, ...]  # taxonomy order
    heat_map: HeatMap
    levels: tuple[Term, ...]  # lowest first
    likelihood: tuple[Term, ...]
    impact: tuple[Term, ...]
    rated_cells: int
    not_relevant_cells: int
    # Harms the profile's features raise that the register does not rate (say so, never hide it).
    not_assessed: tuple[Term, ...]


# -- reading the register -----------------------------------------------------------------------


# A cell's fields are read as the register's own checks read them (engine/risk.py).
_text, _ids, _relevant = risk.cell_text, risk.cell_ids, risk.cell_relevant


def register_cells(register: Mapping[str, Any] | None) -> tuple[Mapping[str, Any], ...]:
    """The cells of a register mapping (none without a register)."""
    if not register:
        return ()
    return tuple(c for c in register.get("cells") or () if isinstance(c, Mapping))


def _terms(points: Iterable[Any]) -> dict[str, Term]:
    return {p.id: Term(p.id, p.label, p.description) for p in points}


def _term(table: Mapping[str, Term], key: str | None) -> Term | None:
    if not key:
        return None
    return table.get(key) or Term(key, key)


def _taxonomy_term(taxonomy: Taxonomy, vocabulary: str, key: str) -> Term:
    for entry in getattr(taxonomy, vocabulary):
        if entry.id == key:
            description = entry.description.get() if getattr(entry, "description", None) else ""
            return Term(key, entry.label.get(), description)
    return Term(key, key)


def _ordered_keys(cells: Iterable[Mapping[str, Any]], field: str, order: list[str]) -> list[str]:
    found = {_text(c.get(field)) for c in cells} - {""}
    rank = {key: i for i, key in enumerate(order)}
    return sorted(found, key=lambda key: (rank.get(key, len(rank)), key))


# -- the heat map -------------------------------------------------------------------------------


def build_heat_map(taxonomy: Taxonomy, rules: RiskRules, register: Mapping[str, Any] | None) -> HeatMap:
    """The heat map of a register: the harms it holds a cell for by the age groups it holds a
    cell for, each with its residual level; an empty map without a register."""
    cells = register_cells(register)
    levels = _terms(rules.levels)
    harms = _ordered_keys(cells, "harm", taxonomy.ids("harms"))
    groups = _ordered_keys(cells, "age_group", taxonomy.ids("age_groups"))
    by_key = {(_text(c.get("harm")), _text(c.get("age_group"))): c for c in cells}
    rows = []
    for harm in harms:
        row = []
        for group in groups:
            cell = by_key.get((harm, group))
            if cell is None:
                row.append(HeatCell(group, None, "", True, False))
            elif not _relevant(cell.get("relevant")):
                row.append(HeatCell(group, None, "", False, True))
            else:
                level = _text(cell.get("residual"))
                known = level in levels
                row.append(HeatCell(group, level if known else None, levels[level].label if known else "", True, True))
        rows.append(HeatRow(harm, taxonomy.label("harms", harm), tuple(row)))
    return HeatMap(
        age_groups=tuple(_taxonomy_term(taxonomy, "age_groups", g) for g in groups),
        rows=tuple(rows),
        levels=tuple(levels.values()),
    )


# -- the record ---------------------------------------------------------------------------------


def _controls(bank: QuestionBank, ids: tuple[str, ...], answers: Mapping[str, AnswerData]) -> tuple[Control, ...]:
    controls = []
    for qid in ids:
        question = bank.questions.get(qid)
        if question is None:
            controls.append(Control(qid, qid, ""))
            continue
        answer = answers.get(qid)
        shown = ""
        not_applicable = bool(answer is not None and answer.not_applicable)
        if answer is not None and answer.has_value and not not_applicable:
            shown = display_value(question, answer.value, bank.taxonomy.wording)
        controls.append(Control(qid, question.text.get(), shown, not_applicable))
    return tuple(controls)


def _measures(
    plan: ActionPlan, harm: str, rules: RiskRules, tracking: Mapping[str, Mapping[str, Any]]
) -> tuple[Measure, ...]:
    questions = set(rules.addressed_by.get(harm, ()))
    measures = []
    for item in plan.items:  # already in priority order
        if not questions & set(item.question_ids):
            continue
        track = tracking.get(item.id) or {}
        status = track.get("status")
        status = getattr(status, "value", status)
        due = track.get("due")
        measures.append(
            Measure(
                id=item.id,
                title=item.title,
                priority=item.priority,
                priority_label=item.priority_label,
                horizon_days=item.horizon_days,
                raised_by_risk=bool(item.risk_raised_by),
                owner=_text(track.get("owner")),
                due="" if due is None else due.isoformat() if hasattr(due, "isoformat") else str(due),
                status=_text(status),
            )
        )
    return tuple(measures)


def build_risk_record(
    bank: QuestionBank,
    method: Methodology,
    register: Mapping[str, Any] | None,
    *,
    plan: ActionPlan,
    answers: Mapping[str, AnswerData],
    organisation_name: str = "",
    cycle: Any = "",
    profile: Mapping[str, Any] | Any = None,
    tracking: Mapping[str, Mapping[str, Any]] | None = None,
) -> RiskRecord:
    """The written record of a register. ``plan`` is the assessment's action plan (adjusted by
    the register here, so the measures show the priority the register gives them), ``tracking``
    maps its item ids to ``{owner, due, status}``, ``profile`` names the features that raise
    each harm. Raises :class:`NoRegister` without a register or a methodology with ``risk:``."""
    rules = method.risk
    if not register or rules is None:
        raise NoRegister("this assessment has no children's risk register")
    taxonomy = bank.taxonomy
    tracking = tracking or {}
    cells = register_cells(register)
    plan = uplift_plan(plan, cells, method, taxonomy)
    levels, likelihood, impact = _terms(rules.levels), _terms(rules.likelihood), _terms(rules.impact)
    sources = _terms(rules.evidence_sources)
    level_rank = {key: i for i, key in enumerate(levels)}

    factors: dict[str, tuple[Term, ...]] = {}
    suggested: tuple[str, ...] = ()
    if profile is not None:
        grid = prefill_register(taxonomy, profile)
        suggested = grid.harms
        for cell in grid.cells:
            factors.setdefault(cell.harm, tuple(Term(f.feature, f.feature_label, f.reason) for f in cell.factors))

    harms = _ordered_keys(cells, "harm", taxonomy.ids("harms"))
    groups = _ordered_keys(cells, "age_group", taxonomy.ids("age_groups"))
    group_rank = {key: i for i, key in enumerate(groups)}
    findings = []
    rated = not_relevant = 0
    for harm in harms:
        mine = sorted(
            (c for c in cells if _text(c.get("harm")) == harm),
            key=lambda c: group_rank.get(_text(c.get("age_group")), len(group_rank)),
        )
        found = []
        for cell in mine:
            age_group = _taxonomy_term(taxonomy, "age_groups", _text(cell.get("age_group")))
            common = {
                "owner": _text(cell.get("owner")),
                "updated_by": _text(cell.get("updated_by")),
                "updated_at": _text(cell.get("updated_at")),
            }
            if not _relevant(cell.get("relevant")):
                not_relevant += 1
                found.append(
                    CellFinding(age_group, False, not_relevant_reason=_text(cell.get("not_relevant_reason")), **common)
                )
                continue
            rated += 1
            like, imp = _text(cell.get("likelihood")), _text(cell.get("impact"))
            level = _text(cell.get("level"))
            if like in likelihood and imp in impact:
                level = rules.level_for(like, imp).id
            found.append(
                CellFinding(
                    age_group,
                    True,
                    likelihood=_term(likelihood, like),
                    likelihood_evidence=tuple(_term(sources, s) for s in _ids(cell.get("likelihood_evidence"))),
                    impact=_term(impact, imp),
                    impact_evidence=tuple(_term(sources, s) for s in _ids(cell.get("impact_evidence"))),
                    level=_term(levels, level),
                    controls=_controls(bank, _ids(cell.get("controls")), answers),
                    residual=_term(levels, _text(cell.get("residual"))),
                    rationale=_text(cell.get("rationale")),
                    **common,
                )
            )
        residuals = [c.residual.id for c in found if c.relevant and c.residual and c.residual.id in level_rank]
        highest = max(residuals, key=level_rank.__getitem__) if residuals else None
        harm_entry = _taxonomy_term(taxonomy, "harms", harm)
        group_id = next((h.group for h in taxonomy.harms if h.id == harm), None)
        findings.append(
            HarmFinding(
                harm=harm_entry,
                group=_taxonomy_term(taxonomy, "harm_groups", group_id) if group_id else None,
                factors=factors.get(harm, ()),
                cells=tuple(found),
                measures=_measures(plan, harm, rules, tracking),
                highest_residual=levels[highest] if highest else None,
            )
        )

    return RiskRecord(
        organisation_name=_text(organisation_name),
        cycle="" if cycle is None else str(cycle),
        assessed_by=_text(register.get("assessed_by")),
        method=str(register.get("method") or "").strip(),
        sources=tuple(_term(sources, s) for s in _ids(register.get("sources"))),
        started_at=_text(register.get("started_at")),
        reviewed_at=_text(register.get("reviewed_at")),
        next_review_due=_text(register.get("next_review_due")),
        reason=_text(register.get("reason")) or "cycle",
        change_note=str(register.get("change_note") or "").strip(),
        age_groups=tuple(_taxonomy_term(taxonomy, "age_groups", g) for g in groups),
        findings=tuple(findings),
        heat_map=build_heat_map(taxonomy, rules, register),
        levels=tuple(levels.values()),
        likelihood=tuple(likelihood.values()),
        impact=tuple(impact.values()),
        rated_cells=rated,
        not_relevant_cells=not_relevant,
        not_assessed=tuple(_taxonomy_term(taxonomy, "harms", h) for h in suggested if h not in harms),
    )


def risk_distribution_entry(register: Mapping[str, Any] | None, rules: RiskRules | None) -> dict[str, bool]:
    """A submission's part in the working group's distribution of residual risk levels:
    ``"harm/age_group/level" -> bool`` for every level of every cell it rated with a known
    residual (True at its own level). Across companies the share of a key is the share of the
    companies that rated the cell whose residual is at that level; the disclosure module
    (:mod:`dd_toolkit.engine.disclosure`) decides which of those shares may be shown. Cells rated
    not relevant and companies without a register take no part."""
    if not register or rules is None:
        return {}
    levels = [p.id for p in rules.levels]
    entry: dict[str, bool] = {}
    for cell in register_cells(register):
        if not _relevant(cell.get("relevant")):
            continue
        harm, group, residual = _text(cell.get("harm")), _text(cell.get("age_group")), _text(cell.get("residual"))
        if not harm or not group or residual not in levels:
            continue
        entry.update({f"{harm}/{group}/{level}": level == residual for level in levels})
    return entry


def render_risk_assessment_markdown(env: Any, record: RiskRecord) -> str:
    """The record as Markdown (``reports/risk_assessment.md.j2``), from a report environment."""
    return env.get_template(RISK_TEMPLATE).render(record=record)

"""The children's risk register: harms by age group, pre-filled from the product features, rated
cell by cell, and the priority it gives the action plan.

A pure module: plain data in (the taxonomy, the methodology, a profile, cells as mappings) and
frozen dataclasses out. No Flask, no database. The words live in the content:

* ``questionnaires/_taxonomy.yaml``: the harms (with their group and description), the age
  groups and, per product feature, the harms it raises with a short reason (``risk_factors``);
* the methodology's ``risk:`` block: the likelihood and impact scales, the risk levels, the
  matrix that combines a likelihood and an impact into a level, the evidence sources a rating
  may rest on, which questions' actions address each harm (``addressed_by``), and the uplift a
  high residual risk gives those actions.

A cell of a register is a mapping (as a form or a portable file gives it)::

    {"harm": "grooming", "age_group": "age_13_15",
     "likelihood": "likely", "likelihood_evidence": ["user_reports", "research"],
     "impact": "severe", "impact_evidence": ["incidents"],
     "controls": ["sbd.p2.dm_safeguards"], "residual": "medium", "rationale": "..."}

or, for a cell the team rates as not relevant, ``{"harm": ..., "age_group": ...,
"relevant": False, "not_relevant_reason": "..."}``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from dd_toolkit.engine.actions import ActionItem, ActionPlan, RiskLink
from dd_toolkit.engine.content import Profile, QuestionBank, Taxonomy
from dd_toolkit.engine.content.conditions import RiskLevels
from dd_toolkit.engine.scoring.methodology import Methodology, RiskRules
from dd_toolkit.engine.text import N_, Message

__all__ = [
    "UNKNOWN_SOURCES",
    "CellCheck",
    "CellProblem",
    "FactorReason",
    "GridCell",
    "RegisterCell",
    "RegisterGrid",
    "age_groups_for",
    "check_register",
    "prefill_register",
    "levels_of",
    "register_levels",
    "risk_level",
    "uplift_plan",
    "validate_cell",
]

# The longest rationale or reason a cell keeps, as for a text answer.
MAX_TEXT = 5000


# -- the risk rule -------------------------------------------------------------------------------


def risk_level(rules: RiskRules, likelihood: str, impact: str) -> str:
    """The risk level (an id of ``rules.levels``) of a likelihood and an impact, by the matrix.

    Raises ``KeyError`` when the likelihood or the impact is not on its scale."""
    if likelihood not in {p.id for p in rules.likelihood}:
        raise KeyError(f"unknown likelihood {likelihood!r}")
    if impact not in {p.id for p in rules.impact}:
        raise KeyError(f"unknown impact {impact!r}")
    return rules.level_for(likelihood, impact).id


# -- the pre-filled grid -------------------------------------------------------------------------


@dataclass(frozen=True)
class FactorReason:
    """A feature the service has that raises the cell's harm, and why."""

    feature: str
    feature_label: str
    reason: str


@dataclass(frozen=True)
class GridCell:
    harm: str
    age_group: str
    factors: tuple[FactorReason, ...]


@dataclass(frozen=True)
class RegisterGrid:
    """The register as the profile suggests it: the harms the service's features raise (in
    taxonomy order) by the age groups it serves (youngest first), each cell with those features
    and their reasons. ``not_raised`` lists the other harms, which a team may still add."""

    harms: tuple[str, ...]
    age_groups: tuple[str, ...]
    cells: tuple[GridCell, ...]  # harm by harm, each across the age groups
    not_raised: tuple[str, ...]

    def cell(self, harm: str, age_group: str) -> GridCell | None:
        return next((c for c in self.cells if c.harm == harm and c.age_group == age_group), None)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _field(profile: Profile | Mapping[str, Any], name: str) -> Any:
    if isinstance(profile, Mapping):
        return profile.get(name)
    return getattr(profile, name, None)


def age_groups_for(taxonomy: Taxonomy, profile: Profile | Mapping[str, Any]) -> tuple[str, ...]:
    """The age groups a register covers: the profile's ``age_groups`` (ids) when it has them,
    else those overlapping its ``min_age``/``max_age`` (the ages of its audience) when it has
    either, else every age group of the taxonomy."""
    known = taxonomy.age_groups
    chosen = _field(profile, "age_groups")
    if chosen:
        wanted = set(chosen)
        return tuple(g.id for g in known if g.id in wanted)
    low, high = _field(profile, "min_age"), _field(profile, "max_age")
    if low is not None or high is not None:
        low = 0 if low is None else int(low)
        high = 17 if high is None else int(high)
        return tuple(g.id for g in known if g.max_age >= low and g.min_age <= high)
    return tuple(g.id for g in known)


def prefill_register(
    taxonomy: Taxonomy, profile: Profile | Mapping[str, Any], age_groups: Iterable[str] | None = None
) -> RegisterGrid:
    """Pre-fill a register grid from a profile's features (``age_groups`` overrides the profile)."""
    features = set(_field(profile, "features") or ())
    groups = tuple(age_groups) if age_groups is not None else age_groups_for(taxonomy, profile)
    raised: dict[str, list[FactorReason]] = {}
    for feature in taxonomy.ids("features"):  # taxonomy order, so the reasons read the same each time
        if feature not in features:
            continue
        for link in taxonomy.risk_factors.get(feature, ()):
            raised.setdefault(link.harm, []).append(
                FactorReason(feature, taxonomy.label("features", feature), link.reason.get())
            )
    harms = tuple(h for h in taxonomy.ids("harms") if h in raised)
    cells = tuple(GridCell(h, g, tuple(raised[h])) for h in harms for g in groups)
    return RegisterGrid(
        harms=harms,
        age_groups=groups,
        cells=cells,
        not_raised=tuple(h for h in taxonomy.ids("harms") if h not in raised),
    )


# -- a filled cell -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RegisterCell:
    """A rated cell, checked and in canonical form."""

    harm: str
    age_group: str
    relevant: bool = True
    not_relevant_reason: str = ""
    likelihood: str | None = None
    likelihood_evidence: tuple[str, ...] = ()
    impact: str | None = None
    impact_evidence: tuple[str, ...] = ()
    level: str | None = None  # likelihood x impact by the matrix, before the controls
    controls: tuple[str, ...] = ()  # question ids
    residual: str | None = None
    rationale: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CellProblem:
    field: str  # the key of the cell that is wrong ("harm", "likelihood_evidence", ...)
    message: str  # written for the person who filled the cell: a Message, translated by the web


# The messages of a cell's problems, marked for the interface catalogues (N_); one for each of
# the likelihood and the impact, so each reads whole in every language.
UNKNOWN_SOURCES = N_("Unknown evidence source(s): %(sources)s.")
_CHOOSE = {"likelihood": N_("Choose the likelihood."), "impact": N_("Choose the impact.")}
_CHOOSE_LISTED = {
    "likelihood": N_("Choose one of the listed likelihood ratings."),
    "impact": N_("Choose one of the listed impact ratings."),
}
_NAME_SOURCE = {
    "likelihood": N_("Name at least one source of evidence for the likelihood."),
    "impact": N_("Name at least one source of evidence for the impact."),
}


@dataclass(frozen=True)
class CellCheck:
    cell: RegisterCell | None  # None when there is any problem
    problems: tuple[CellProblem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def _text(value: Any) -> str:
    return " ".join(str(value).split()) if value is not None else ""


def _ids(value: Any) -> tuple[str, ...]:
    """One id or a list of ids, as a tuple without blanks or repeats."""
    if value is None or value == "":
        return ()
    items = [value] if isinstance(value, str) else list(value)
    return tuple(dict.fromkeys(str(v).strip() for v in items if str(v).strip()))


def _relevant(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in ("no", "false", "0", "not_relevant")
    return True if value is None else bool(value)


# How a cell's text, id lists and "relevant" flag are read, for the modules that read cells too.
cell_text, cell_ids, cell_relevant = _text, _ids, _relevant


def validate_cell(
    cell: Mapping[str, Any],
    rules: RiskRules,
    bank: QuestionBank,
    answered: Collection[str] | None = None,
) -> CellCheck:
    """Check one filled cell of a register. ``answered``, when given, holds the ids of the
    questions the assessment has answered: a control must be one of them (a control is linked to
    the question that records it, never typed twice)."""
    taxonomy = bank.taxonomy
    problems: list[CellProblem] = []

    def add(field: str, message: str, **params: Any) -> None:
        problems.append(CellProblem(field, Message(message, **params)))

    harm, age_group = _text(cell.get("harm")), _text(cell.get("age_group"))
    if harm not in taxonomy.ids("harms"):
        if harm:
            add("harm", N_("Unknown form of harm '%(harm)s'."), harm=harm)
        else:
            add("harm", N_("Choose the form of harm."))
    if age_group not in taxonomy.ids("age_groups"):
        if age_group:
            add("age_group", N_("Unknown age group '%(age_group)s'."), age_group=age_group)
        else:
            add("age_group", N_("Choose the age group."))

    if not _relevant(cell.get("relevant")):
        reason = _text(cell.get("not_relevant_reason"))
        if not reason:
            add("not_relevant_reason", N_("Say why this harm is not relevant for this age group."))
        elif len(reason) > MAX_TEXT:
            add(
                "not_relevant_reason",
                N_("Keep the reason under %(limit)s characters (now %(length)s)."),
                limit=MAX_TEXT,
                length=len(reason),
            )
        if problems:
            return CellCheck(None, tuple(problems))
        return CellCheck(RegisterCell(harm, age_group, relevant=False, not_relevant_reason=reason), ())

    sources = {p.id for p in rules.evidence_sources}
    rated: dict[str, str | None] = {}
    evidence: dict[str, tuple[str, ...]] = {}
    for name, scale in (("likelihood", rules.likelihood), ("impact", rules.impact)):
        value = _text(cell.get(name))
        if not value:
            add(name, _CHOOSE[name])
        elif value not in {p.id for p in scale}:
            add(name, _CHOOSE_LISTED[name])
        rated[name] = value or None
        given = _ids(cell.get(f"{name}_evidence"))
        unknown = [s for s in given if s not in sources]
        if not given:
            add(f"{name}_evidence", _NAME_SOURCE[name])
        elif unknown:
            add(f"{name}_evidence", UNKNOWN_SOURCES, sources=", ".join(unknown))
        evidence[name] = given

    controls = _ids(cell.get("controls"))
    unknown = [q for q in controls if q not in bank.questions]
    if unknown:
        add("controls", N_("Unknown question(s): %(questions)s."), questions=", ".join(unknown))
    elif answered is not None:
        unanswered = [q for q in controls if q not in answered]
        if unanswered:
            add(
                "controls",
                N_("A control is a question you have answered; not answered: %(questions)s."),
                questions=", ".join(unanswered),
            )

    levels = [p.id for p in rules.levels]
    residual = _text(cell.get("residual"))
    if not residual:
        add("residual", N_("Choose the residual risk after the controls."))
    elif residual not in levels:
        add("residual", N_("Choose one of the listed risk levels."))
    level = None
    if not any(p.field in ("likelihood", "impact") for p in problems):
        level = rules.level_for(rated["likelihood"], rated["impact"]).id
        if residual in levels and levels.index(residual) > levels.index(level):
            add("residual", N_("The residual risk cannot be higher than the risk before the controls."))

    rationale = _text(cell.get("rationale"))
    if not rationale:
        add("rationale", N_("Explain the rating and how the controls lower the risk."))
    elif len(rationale) > MAX_TEXT:
        add(
            "rationale",
            N_("Keep the rationale under %(limit)s characters (now %(length)s)."),
            limit=MAX_TEXT,
            length=len(rationale),
        )

    if problems:
        return CellCheck(None, tuple(problems))
    return CellCheck(
        RegisterCell(
            harm=harm,
            age_group=age_group,
            likelihood=rated["likelihood"],
            likelihood_evidence=evidence["likelihood"],
            impact=rated["impact"],
            impact_evidence=evidence["impact"],
            level=level,
            controls=controls,
            residual=residual,
            rationale=rationale,
        ),
        (),
    )


def check_register(
    cells: Iterable[Mapping[str, Any]],
    rules: RiskRules,
    bank: QuestionBank,
    answered: Collection[str] | None = None,
) -> tuple[CellCheck, ...]:
    """Check every cell of a register, in order; a harm and age group rated a second time is a
    problem of that second cell."""
    seen: set[tuple[str, str]] = set()
    checks: list[CellCheck] = []
    for cell in cells:
        check = validate_cell(cell, rules, bank, answered)
        key = (_text(cell.get("harm")), _text(cell.get("age_group")))
        if key in seen:
            twice = CellProblem("age_group", Message(N_("This harm is already rated for this age group.")))
            check = CellCheck(None, (*check.problems, twice))
        seen.add(key)
        checks.append(check)
    return tuple(checks)


# -- what the register does to the questions ---------------------------------------------------


def register_levels(register: Iterable[RegisterCell | Mapping[str, Any]] | None, rules: RiskRules | None):
    """The register as applicability rules read it (``{risk: HARM, at_least: LEVEL}``): per harm
    the highest risk before the controls over the cells rated relevant, on the levels of
    ``rules``. None without a register or without rules; a register with nothing rated reads as
    no harm rated."""
    if register is None or rules is None:
        return None
    order = tuple(p.id for p in rules.levels)
    highest: dict[str, str] = {}
    for cell in register:
        data = cell.to_dict() if isinstance(cell, RegisterCell) else cell
        if not _relevant(data.get("relevant")):
            continue
        level = _text(data.get("level"))
        if level not in order:
            try:
                level = risk_level(rules, _text(data.get("likelihood")), _text(data.get("impact")))
            except KeyError:
                continue
        harm = _text(data.get("harm"))
        if harm not in highest or order.index(level) > order.index(highest[harm]):
            highest[harm] = level
    return RiskLevels(order, tuple(sorted(highest.items())))


def levels_of(register: Mapping[str, Any] | None, rules: RiskRules | None):
    """:func:`register_levels` of a register mapping (a portable file's, a snapshot's, the
    reader's), or None."""
    return None if register is None else register_levels(register.get("cells") or (), rules)


# -- what the register does to the plan ----------------------------------------------------------


def _residuals(register: Iterable[RegisterCell | Mapping[str, Any]], rules: RiskRules) -> dict[tuple[str, str], str]:
    """(harm, age group) -> residual level of every relevant cell that has a known one."""
    levels = {p.id for p in rules.levels}
    found: dict[tuple[str, str], str] = {}
    for cell in register:
        data = cell.to_dict() if isinstance(cell, RegisterCell) else cell
        if not _relevant(data.get("relevant")):
            continue
        residual = _text(data.get("residual"))
        if residual in levels:
            found[(_text(data.get("harm")), _text(data.get("age_group")))] = residual
    return found


def uplift_plan(
    plan: ActionPlan,
    register: Iterable[RegisterCell | Mapping[str, Any]] | None,
    method: Methodology,
    taxonomy: Taxonomy,
) -> ActionPlan:
    """The plan adjusted by a risk register: each item lists the risks it reduces (the cells
    whose harm ``risk.addressed_by`` links to one of its questions, highest residual first), and
    an item that reduces a residual risk named in ``risk.uplift`` is raised to its priority (P1)
    with the reason. Without a register, or a methodology without ``risk:``, the plan is
    returned unchanged."""
    rules = method.risk
    if register is None or rules is None:
        return plan
    residuals = _residuals(register, rules)
    level_rank = {p.id: i for i, p in enumerate(rules.levels)}
    level_label = {p.id: p.label for p in rules.levels}
    harm_order = {h: i for i, h in enumerate(taxonomy.ids("harms"))}
    age_order = {g: i for i, g in enumerate(taxonomy.ids("age_groups"))}
    priorities = method.actions.priorities
    rank = {p.id: i for i, p in enumerate(priorities)}
    uplift = rules.uplift
    target = next((p for p in priorities if uplift is not None and p.id == uplift.at_least), None)

    items: list[ActionItem] = []
    for item in plan.items:
        questions = set(item.question_ids)
        harms = {h for h, qids in rules.addressed_by.items() if questions & set(qids)}
        cells = sorted(
            ((h, a, r) for (h, a), r in residuals.items() if h in harms),
            key=lambda c: (-level_rank[c[2]], harm_order.get(c[0], len(harm_order)), age_order.get(c[1], 0)),
        )
        reduces = tuple(
            RiskLink(h, taxonomy.label("harms", h), a, taxonomy.label("age_groups", a), r, level_label[r])
            for h, a, r in cells
        )
        changes: dict[str, Any] = {"reduces": reduces}
        raised = uplift is not None and target is not None and any(r in uplift.residual for _, _, r in cells)
        if raised and rank[target.id] < rank[item.priority]:
            changes.update(
                priority=target.id,
                priority_label=target.label,
                horizon_days=target.horizon_days,
                risk_raised_by=uplift.why,
            )
        items.append(dataclasses.replace(item, **changes))

    position = {item.id: i for i, item in enumerate(plan.items)}
    items.sort(key=lambda i: (rank[i.priority], -i.points, position[i.id]))
    counts = {p.id: 0 for p in priorities}
    for item in items:
        counts[item.priority] += 1
    return dataclasses.replace(plan, items=tuple(items), counts=counts)

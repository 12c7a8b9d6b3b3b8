"""Scoring methodologies: typed models of ``scoring/*.yaml`` and their validation against the
question bank. No Flask, no database."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from dd_toolkit.engine.content import ContentError, ContentProblem, QuestionBank
from dd_toolkit.engine.content.conditions import Condition, ConditionError, leaves, named_conditions, parse_condition
from dd_toolkit.engine.content.loader import leaf_problem


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


def _condition(value: Any) -> Any:
    return None if value is None else parse_condition(value)


class Scales(_Model):
    maturity: tuple[float, float, float, float, float]
    yes_partial_no: dict[Literal["yes", "partial", "no"], float]
    multi: Literal["sum_capped"] = "sum_capped"

    @field_validator("maturity")
    @classmethod
    def _ascending(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if list(value) != sorted(value) or not all(0 <= v <= 100 for v in value):
            raise ValueError("maturity points must rise from level 0 to 4 and lie within 0-100")
        return value

    @field_validator("yes_partial_no")
    @classmethod
    def _complete(cls, value: dict[str, float]) -> dict[str, float]:
        if set(value) != {"yes", "partial", "no"} or not all(0 <= v <= 100 for v in value.values()):
            raise ValueError("give points (0-100) for each of yes, partial and no")
        return value


class Severity(_Model):
    """Points that make a question's weight under ``weights.rule: severity``: a base for every
    scored question, the points of the most severe form of harm it addresses, and bonuses when an
    RPA indicator rests on it, when it cites an RPA article, and when it is critical."""

    base: Annotated[float, Field(ge=0)] = 1
    harms: dict[str, Annotated[float, Field(ge=0)]] = {}
    indicator: Annotated[float, Field(ge=0)] = 0
    rpa_reference: Annotated[float, Field(ge=0)] = 0
    critical: Annotated[float, Field(ge=0)] = 0


class Weights(_Model):
    # "structure" (2026.1): weighted means of questions in sections, sections in modules and
    # modules overall, so a question's share depends on how many questions share its section.
    # "severity": one weighted mean over every question, each weighing
    # module x section x question weight x severity points; sections and modules are shown as
    # weighted means of their own questions.
    rule: Literal["structure", "severity"] = "structure"
    modules: dict[str, Annotated[float, Field(gt=0)]] = {}
    sections: dict[str, Annotated[float, Field(gt=0)]] = {}
    questions: dict[str, Annotated[float, Field(gt=0)]] = {}
    severity: Severity | None = None

    @model_validator(mode="after")
    def _severity_given(self) -> Weights:
        if self.rule == "severity" and self.severity is None:
            raise ValueError("weights.rule 'severity' needs a 'severity' block")
        return self


class Band(_Model):
    id: Annotated[str, Field(pattern=r"^[a-z_]+$")]
    label: str
    start: Annotated[float, Field(ge=0, le=100, alias="from")]


class Critical(_Model):
    below: Annotated[float, Field(ge=0, le=100)]
    caps_section_at: str
    # Optional (2027.1): a critical failure also caps its module's band and the overall band.
    caps_module_at: str | None = None
    caps_overall_at: str | None = None


class Cap(_Model):
    """A rule that caps the overall band (and the bands of ``modules``) when its condition holds,
    whatever the average: a gap too serious to average away."""

    id: Annotated[str, Field(pattern=r"^[a-z0-9_]+$")]
    label: str
    when: Condition
    band: str
    modules: tuple[str, ...] = ()

    @field_validator("when", mode="before")
    @classmethod
    def _parse_when(cls, value: Any) -> Any:
        return _condition(value)


class ConfidenceLevel(_Model):
    id: Annotated[str, Field(pattern=r"^[a-z_]+$")]
    label: str
    start: Annotated[float, Field(ge=0, alias="from")]


class Confidence(_Model):
    """How strong the evidence behind a score is: each answered question's evidence strength
    (an id from the taxonomy's ``evidence_strengths``) gives points; the weighted mean of those
    points over the answered questions of a score picks its confidence level."""

    default: str = "stated"  # an answer that records no strength
    points: dict[str, Annotated[float, Field(ge=0)]]
    levels: tuple[ConfidenceLevel, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _ordered(self) -> Confidence:
        starts = [level.start for level in self.levels]
        if starts[0] != 0 or starts != sorted(set(starts)):
            raise ValueError("confidence levels must start at 0 and rise strictly")
        if self.default not in self.points:
            raise ValueError(f"confidence.default '{self.default}' has no points")
        return self

    def level_for(self, value: float | None) -> ConfidenceLevel | None:
        if value is None:
            return None
        for level in reversed(self.levels):
            if value + 1e-9 >= level.start:
                return level
        return self.levels[0]


class Gaps(_Model):
    major: Annotated[float, Field(ge=0, le=100)]
    moderate: Annotated[float, Field(ge=0, le=100)]
    minor: Annotated[float, Field(ge=0, le=100)]

    @model_validator(mode="after")
    def _ordered(self) -> Gaps:
        if not self.major <= self.moderate <= self.minor:
            raise ValueError("gap limits must rise: major <= moderate <= minor")
        return self


class Lens(_Model):
    id: Annotated[str, Field(pattern=r"^[a-z_]+$")]
    label: str
    refs: tuple[str, ...]


class Rule(_Model):
    """A named condition over answers (an indicator component or a key practice)."""

    id: Annotated[str, Field(pattern=r"^[a-z0-9_]+$")]
    label: str
    when: Condition

    @field_validator("when", mode="before")
    @classmethod
    def _parse_when(cls, value: Any) -> Any:
        return _condition(value)


class Indicator(_Model):
    id: str
    label: str
    applies_when: Condition | None = None
    components: tuple[Rule, ...] = Field(min_length=1)

    @field_validator("applies_when", mode="before")
    @classmethod
    def _parse_applies_when(cls, value: Any) -> Any:
        return _condition(value)


class Priority(_Model):
    id: Annotated[str, Field(pattern=r"^P[0-9]$")]
    label: str
    start: Annotated[float, Field(ge=0, alias="from")]
    horizon_days: Annotated[int, Field(gt=0)]


class ActionGroup(_Model):
    """Questions whose gaps are closed by one piece of work: their gaps become one action."""

    id: Annotated[str, Field(pattern=r"^[a-z0-9_]+$")]
    title: str
    questions: tuple[str, ...] = Field(min_length=2)


class PriorityOverride(_Model):
    """A gap that must be handled sooner than its points say: when the question is a gap and
    ``when`` holds (always, if absent), the gap's priority is at least ``at_least``."""

    question: str
    when: Condition | None = None
    at_least: Annotated[str, Field(pattern=r"^P[0-9]$")]
    why: str = Field(min_length=1)  # shown in the plan beside the raised priority

    @field_validator("when", mode="before")
    @classmethod
    def _parse_when(cls, value: Any) -> Any:
        return _condition(value)


Level = Annotated[int, Field(ge=0, le=4)]


class ActionRules(_Model):
    """How a gap becomes a prioritised action: points add up, and the total picks a priority.

    Every key added after 2026.1 is optional, and its default reproduces 2026.1: targets at
    level 4, gap size by ``gap_points``, critical and indicator points whenever they apply."""

    harm_severity: dict[str, Annotated[float, Field(ge=0)]] = {}
    # The size of a gap: by the score card's gap band (2026.1) ...
    gap_points: dict[Literal["major", "moderate", "minor"], Annotated[float, Field(ge=0)]] | None = None
    # ... or, when given, by how many levels the answer is short of its target (1-4).
    residual_points: dict[Annotated[int, Field(ge=1, le=4)], Annotated[float, Field(ge=0)]] | None = None
    critical_points: Annotated[float, Field(ge=0)] = 0
    # "critical": every critical question; "failing": only one below the critical threshold.
    critical_points_when: Literal["critical", "failing"] = "critical"
    indicator_points: Annotated[float, Field(ge=0)] = 0
    # "applies": any applicable indicator component rests on it; "unmet": one that is not met.
    indicator_points_when: Literal["applies", "unmet"] = "applies"
    # The maturity level expected per size band (a band not listed: 4), and per question.
    targets: dict[str, Level] = {}
    question_targets: dict[str, Level | dict[str, Level]] = {}
    overrides: tuple[PriorityOverride, ...] = ()
    priorities: tuple[Priority, ...] = Field(min_length=1)
    groups: tuple[ActionGroup, ...] = ()

    @model_validator(mode="after")
    def _ordered(self) -> ActionRules:
        starts = [p.start for p in self.priorities]
        if starts != sorted(starts, reverse=True) or starts[-1] != 0:
            raise ValueError("priorities must be listed from the highest 'from' down to one from 0")
        if self.gap_points is None and self.residual_points is None:
            raise ValueError("give 'gap_points' (by gap band) or 'residual_points' (by levels short of the target)")
        ids = {p.id for p in self.priorities}
        for override in self.overrides:
            if override.at_least not in ids:
                raise ValueError(f"override for {override.question} names unknown priority '{override.at_least}'")
        return self

    def priority_for(self, points: float) -> Priority:
        return next(p for p in self.priorities if points + 1e-9 >= p.start)


class RiskScalePoint(_Model):
    """One step of a likelihood or impact scale, or one risk level, with what it means."""

    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    label: str = Field(min_length=1)
    description: str = Field(min_length=1)


class RiskUplift(_Model):
    """A residual risk at one of ``residual`` raises every action that addresses its harm to at
    least ``at_least``; ``why`` is shown beside the raised priority."""

    residual: tuple[str, ...] = Field(min_length=1)
    at_least: Annotated[str, Field(pattern=r"^P[0-9]$")]
    why: str = Field(min_length=1)


class RiskRules(_Model):
    """The children's risk register: the likelihood and impact scales (lowest first), the risk
    levels (lowest first), the matrix that combines a likelihood and an impact into a level, the
    sources of evidence a rating may rest on, which questions' actions address each harm, and the
    priority uplift a high residual risk gives those actions."""

    likelihood: tuple[RiskScalePoint, ...] = Field(min_length=2)
    impact: tuple[RiskScalePoint, ...] = Field(min_length=2)
    levels: tuple[RiskScalePoint, ...] = Field(min_length=2)
    matrix: dict[str, dict[str, str]]
    evidence_sources: tuple[RiskScalePoint, ...] = Field(min_length=1)
    addressed_by: dict[str, tuple[str, ...]] = {}
    uplift: RiskUplift | None = None

    @model_validator(mode="after")
    def _complete(self) -> RiskRules:
        for name in ("likelihood", "impact", "levels", "evidence_sources"):
            ids = [point.id for point in getattr(self, name)]
            if len(ids) != len(set(ids)):
                raise ValueError(f"{name}: ids must be unique")
        likelihoods = [p.id for p in self.likelihood]
        impacts = [p.id for p in self.impact]
        levels = {p.id for p in self.levels}
        problems = [f"matrix: unknown likelihood '{row}'" for row in self.matrix if row not in likelihoods]
        missing = []
        for row in likelihoods:
            cells = self.matrix.get(row, {})
            problems += [f"matrix: {row}: unknown impact '{col}'" for col in cells if col not in impacts]
            problems += [
                f"matrix: {row} x {col}: unknown level '{level}'" for col, level in cells.items() if level not in levels
            ]
            missing += [f"{row} x {col}" for col in impacts if col not in cells]
        if missing:
            problems.append("matrix: no level for " + ", ".join(missing))
        if self.uplift is not None:
            problems += [f"uplift: unknown level '{level}'" for level in self.uplift.residual if level not in levels]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def level_for(self, likelihood: str, impact: str) -> RiskScalePoint:
        """The risk level of a likelihood and an impact (ids); KeyError when either is unknown."""
        level = self.matrix[likelihood][impact]
        return next(p for p in self.levels if p.id == level)

    def level_rank(self, level: str) -> int:
        return [p.id for p in self.levels].index(level)


class BenchmarkSettings(_Model):
    disclosure_threshold: Annotated[int, Field(ge=3)] = 5
    # The resolution of published figures: quartiles to this many points, shares to this step.
    score_step: Annotated[float, Field(gt=0, le=10)] = 1.0
    share_step: Annotated[float, Field(gt=0, le=0.25)] = 0.05
    # Days between two interim releases published by themselves (a final one is the admin's).
    release_interval_days: Annotated[int, Field(ge=0, le=366)] = 30


class Methodology(_Model):
    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    version: str
    title: str
    description: str = ""
    scales: Scales
    # "exclude" (2026.1): an answer marked not applicable is left out of every mean. "zero": a
    # question that applies to the profile but is marked not applicable (and any question that
    # follows from such an answer) counts as not in place, so marking it never raises a score.
    not_applicable: Literal["exclude", "zero"] = "exclude"
    unanswered: Literal["exclude", "zero"] = "exclude"
    weights: Weights = Weights()
    bands: tuple[Band, ...] = Field(min_length=2)
    critical: Critical
    caps: tuple[Cap, ...] = ()
    confidence: Confidence | None = None
    gaps: Gaps
    lenses: tuple[Lens, ...] = ()
    indicators: tuple[Indicator, ...] = ()
    practices: tuple[Rule, ...] = ()
    actions: ActionRules
    benchmark: BenchmarkSettings = BenchmarkSettings()
    # The children's risk register (2027.1); a methodology without it keeps no register.
    risk: RiskRules | None = None

    @field_validator("version", mode="before")
    @classmethod
    def _version_is_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int | float) else value

    @model_validator(mode="after")
    def _bands(self) -> Methodology:
        starts = [b.start for b in self.bands]
        if starts[0] != 0 or starts != sorted(set(starts)):
            raise ValueError("bands must start at 0 and rise strictly")
        known = {b.id for b in self.bands}
        for name in ("caps_section_at", "caps_module_at", "caps_overall_at"):
            band = getattr(self.critical, name)
            if band is not None and band not in known:
                raise ValueError(f"critical.{name} names unknown band '{band}'")
        for cap in self.caps:
            if cap.band not in known:
                raise ValueError(f"cap {cap.id} names unknown band '{cap.band}'")
        if len({cap.id for cap in self.caps}) != len(self.caps):
            raise ValueError("cap ids must be unique")
        uplift = self.risk.uplift if self.risk is not None else None
        if uplift is not None and uplift.at_least not in {p.id for p in self.actions.priorities}:
            raise ValueError(f"risk.uplift names unknown priority '{uplift.at_least}'")
        return self

    @property
    def key(self) -> str:
        return f"{self.id}@{self.version}"

    def band_for(self, score: float | None) -> Band | None:
        if score is None:
            return None
        # Bands rise strictly (checked on load): the last one whose start is reached wins.
        for band in reversed(self.bands):
            if score + 1e-9 >= band.start:
                return band
        return self.bands[0]

    def band_index(self, band_id: str) -> int:
        return [b.id for b in self.bands].index(band_id)


def _check_against_bank(rel: str, method: Methodology, bank: QuestionBank) -> list[ContentProblem]:
    problems = []

    def add(where: str | None, message: str) -> None:
        problems.append(ContentProblem(rel, where, message))

    modules = {m.id for m in bank.questionnaires}
    sections = {s.id for m in bank.questionnaires for s in m.sections}
    for name in method.weights.modules:
        if name not in modules:
            add("weights.modules", f"unknown module '{name}'")
    for name in method.weights.sections:
        if name not in sections:
            add("weights.sections", f"unknown section '{name}'")
    for name in method.weights.questions:
        if name not in bank.questions:
            add("weights.questions", f"unknown question '{name}'")
        elif not bank.questions[name].is_scored:
            add("weights.questions", f"question '{name}' is not scored")
    known_refs = set(bank.taxonomy.ids("frameworks"))
    for lens in method.lenses:
        for ref in lens.refs:
            if ref not in known_refs:
                add(f"lens {lens.id}", f"unknown framework reference '{ref}'")
    rules = [(f"indicator {i.id}", c.when) for i in method.indicators for c in i.components]
    rules += [(f"indicator {i.id}", i.applies_when) for i in method.indicators if i.applies_when]
    rules += [(f"practice {p.id}", p.when) for p in method.practices]
    rules += [(f"cap {c.id}", c.when) for c in method.caps]
    for cap in method.caps:
        for name in cap.modules:
            if name not in modules:
                add(f"cap {cap.id}", f"unknown module '{name}'")
    severity = method.weights.severity
    if severity is not None:
        for harm in severity.harms:
            if harm not in bank.taxonomy.ids("harms"):
                add("weights.severity.harms", f"unknown harm '{harm}'")
    strengths = set(bank.taxonomy.ids("evidence_strengths"))
    if method.confidence is not None and strengths:
        for name in method.confidence.points:
            if name not in strengths:
                add("confidence.points", f"unknown evidence strength '{name}'")
        for name in sorted(strengths - set(method.confidence.points)):
            add("confidence.points", f"no points for evidence strength '{name}'")
    for where, condition in rules:
        for leaf in leaves(condition):
            if leaf.subject == "risk":
                add(where, "only applicability rules read the risk register")
                continue
            message = leaf_problem(leaf, bank.taxonomy, bank.questions)
            if message:
                add(where, message)
    if method.not_applicable == "zero":
        # Honest "not applicable": the profile decides whether an indicator or a cap applies, so
        # the questions they read are core, and a company cannot wave them away.
        core = [(f"indicator {i.id}", c.when) for i in method.indicators for c in i.components]
        core += [(f"cap {c.id}", c.when) for c in method.caps]
        for where, condition in core:
            for leaf in leaves(condition):
                question = bank.questions.get(leaf.name) if leaf.subject == "answer" else None
                if question is not None and question.allow_not_applicable:
                    add(
                        where,
                        f"question '{leaf.name}' is read here, so it is core and must refuse "
                        '"not applicable": set allow_not_applicable: false',
                    )
    grouped: dict[str, str] = {}
    for group in method.actions.groups:
        for qid in group.questions:
            if qid not in bank.questions:
                add(f"action group {group.id}", f"unknown question '{qid}'")
            elif qid in grouped:
                add(f"action group {group.id}", f"question '{qid}' is already in group {grouped[qid]}")
            grouped[qid] = group.id
    for harm in method.actions.harm_severity:
        if harm not in bank.taxonomy.ids("harms"):
            add("actions.harm_severity", f"unknown harm '{harm}'")
    problems.extend(_check_action_rules(rel, method.actions, bank))
    if method.risk is not None:
        problems.extend(_check_risk_rules(rel, method.risk, bank))
    ids = [i.id for i in method.indicators]
    if len(ids) != len(set(ids)):
        add("indicators", "indicator ids must be unique")
    return problems


def _check_action_rules(rel: str, rules: ActionRules, bank: QuestionBank) -> list[ContentProblem]:
    """Targets and priority overrides name size bands and questions the bank knows."""
    problems = []
    bands = set(bank.taxonomy.ids("size_bands"))
    named = [("actions.targets", band) for band in rules.targets]
    for qid, target in rules.question_targets.items():
        question = bank.questions.get(qid)
        if question is None or question.type.value != "maturity":
            problems.append(ContentProblem(rel, "actions.question_targets", f"'{qid}' is not a maturity question"))
        if isinstance(target, dict):
            named += [("actions.question_targets", band) for band in target]
    for where, band in named:
        if band not in bands:
            problems.append(ContentProblem(rel, where, f"unknown size band '{band}'"))
    for override in rules.overrides:
        where = f"actions.overrides {override.question}"
        if override.question not in bank.questions:
            problems.append(ContentProblem(rel, where, f"unknown question '{override.question}'"))
        for leaf in leaves(override.when) if override.when is not None else ():
            message = leaf_problem(leaf, bank.taxonomy, bank.questions)
            if leaf.subject == "risk":
                message = "only applicability rules read the risk register"
            if message:
                problems.append(ContentProblem(rel, where, message))
    return problems


def _check_risk_rules(rel: str, rules: RiskRules, bank: QuestionBank) -> list[ContentProblem]:
    """Every harm of the taxonomy is addressed by at least one scored question, and nothing else."""
    problems = []
    harms = bank.taxonomy.ids("harms")
    for harm, question_ids in rules.addressed_by.items():
        where = f"risk.addressed_by {harm}"
        if harm not in harms:
            problems.append(ContentProblem(rel, where, f"unknown harm '{harm}'"))
        for qid in question_ids:
            question = bank.questions.get(qid)
            if question is None:
                problems.append(ContentProblem(rel, where, f"unknown question '{qid}'"))
            elif not question.is_scored:
                problems.append(ContentProblem(rel, where, f"question '{qid}' is not scored, so it raises no action"))
    for harm in harms:
        if not rules.addressed_by.get(harm):
            problems.append(ContentProblem(rel, "risk.addressed_by", f"no question addresses harm '{harm}'"))
    # The questions the register brings in name levels of this methodology's scale.
    levels = [p.id for p in rules.levels]
    for qid, question in bank.questions.items():
        for condition in (bank.section_of[qid].applies_when, question.applies_when):
            for leaf in leaves(condition):
                if leaf.subject == "risk" and leaf.operand not in levels:
                    problems.append(
                        ContentProblem(
                            rel,
                            f"question {qid}",
                            f"risk condition level '{leaf.operand}' is not one of {', '.join(levels)}",
                        )
                    )
    return problems


def load_methodologies(root: Path, bank: QuestionBank) -> dict[str, Methodology]:
    """Every methodology under ``root/scoring``, keyed ``id@version``; raise ContentError."""
    folder = Path(root) / "scoring"
    problems: list[ContentProblem] = []
    found: dict[str, Methodology] = {}
    files = sorted(folder.glob("*.yaml")) if folder.is_dir() else []
    if not files:
        raise ContentError([ContentProblem("scoring", None, "holds no scoring methodology (*.yaml)")])
    for path in files:
        rel = str(path.relative_to(root))
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
            with named_conditions(bank.taxonomy.conditions):  # {condition: NAME} from the taxonomy
                method = Methodology.model_validate(raw)
        except yaml.YAMLError as exc:
            problems.append(ContentProblem(rel, None, f"not valid YAML: {exc}"))
            continue
        except ValidationError as exc:
            for err in exc.errors():
                loc = ".".join(str(p) for p in err["loc"])
                problems.append(ContentProblem(rel, loc or None, err["msg"].removeprefix("Value error, ")))
            continue
        except ConditionError as exc:
            problems.append(ContentProblem(rel, None, str(exc)))
            continue
        if method.key in found:
            problems.append(ContentProblem(rel, None, f"{method.key} is defined twice"))
        problems.extend(_check_against_bank(rel, method, bank))
        found[method.key] = method
    if problems:
        raise ContentError(problems)
    return found


def _version_key(version: str) -> tuple:
    return tuple(int(p) if p.isdigit() else p for p in version.replace("-", ".").split("."))


def latest(methodologies: dict[str, Methodology], methodology_id: str = "standard") -> Methodology:
    candidates = [m for m in methodologies.values() if m.id == methodology_id]
    if not candidates:
        raise KeyError(f"no scoring methodology '{methodology_id}'")
    return max(candidates, key=lambda m: _version_key(m.version))

"""Scoring methodologies: typed models of ``scoring/*.yaml`` and their validation against the
question bank. No Flask, no database."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from dd_toolkit.engine.content import ContentError, ContentProblem, QuestionBank
from dd_toolkit.engine.content.conditions import Condition, ConditionError, leaves, parse_condition
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


class Weights(_Model):
    modules: dict[str, Annotated[float, Field(gt=0)]] = {}
    sections: dict[str, Annotated[float, Field(gt=0)]] = {}
    questions: dict[str, Annotated[float, Field(gt=0)]] = {}


class Band(_Model):
    id: Annotated[str, Field(pattern=r"^[a-z_]+$")]
    label: str
    start: Annotated[float, Field(ge=0, le=100, alias="from")]


class Critical(_Model):
    below: Annotated[float, Field(ge=0, le=100)]
    caps_section_at: str


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


class ActionRules(_Model):
    """How a gap becomes a prioritised action: points add up, and the total picks a priority."""

    harm_severity: dict[str, Annotated[float, Field(ge=0)]] = {}
    gap_points: dict[Literal["major", "moderate", "minor"], Annotated[float, Field(ge=0)]]
    critical_points: Annotated[float, Field(ge=0)] = 0
    indicator_points: Annotated[float, Field(ge=0)] = 0
    priorities: tuple[Priority, ...] = Field(min_length=1)
    groups: tuple[ActionGroup, ...] = ()

    @model_validator(mode="after")
    def _ordered(self) -> ActionRules:
        starts = [p.start for p in self.priorities]
        if starts != sorted(starts, reverse=True) or starts[-1] != 0:
            raise ValueError("priorities must be listed from the highest 'from' down to one from 0")
        return self

    def priority_for(self, points: float) -> Priority:
        return next(p for p in self.priorities if points + 1e-9 >= p.start)


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
    not_applicable: Literal["exclude"] = "exclude"
    unanswered: Literal["exclude", "zero"] = "exclude"
    weights: Weights = Weights()
    bands: tuple[Band, ...] = Field(min_length=2)
    critical: Critical
    gaps: Gaps
    lenses: tuple[Lens, ...] = ()
    indicators: tuple[Indicator, ...] = ()
    practices: tuple[Rule, ...] = ()
    actions: ActionRules
    benchmark: BenchmarkSettings = BenchmarkSettings()

    @field_validator("version", mode="before")
    @classmethod
    def _version_is_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int | float) else value

    @model_validator(mode="after")
    def _bands(self) -> Methodology:
        starts = [b.start for b in self.bands]
        if starts[0] != 0 or starts != sorted(set(starts)):
            raise ValueError("bands must start at 0 and rise strictly")
        if self.critical.caps_section_at not in {b.id for b in self.bands}:
            raise ValueError(f"critical.caps_section_at names unknown band '{self.critical.caps_section_at}'")
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
    for where, condition in rules:
        for leaf in leaves(condition):
            message = leaf_problem(leaf, bank.taxonomy, bank.questions)
            if message:
                add(where, message)
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
    ids = [i.id for i in method.indicators]
    if len(ids) != len(set(ids)):
        add("indicators", "indicator ids must be unique")
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

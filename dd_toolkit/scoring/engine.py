"""The scoring engine: a pure function from a questionnaire, a methodology, a profile and
answers to a score card in which every number can be traced to the answers that made it.

Roll-up: a question's points (0-100) are averaged with the question weights into its section;
sections with the section weights into their module; modules with the module weights into the
overall score. Questions that do not apply, are marked not applicable, or (in a draft) are
unanswered are left out of every mean. Each question's *effective weight* is its share of the
overall score, so ``contribution = points x effective weight`` and the contributions add up to
the overall score; ``possible gain = (100 - points) x effective weight`` ranks what would raise
the score most.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from ..content import AnswerData, AnswerType, Profile, Question, QuestionBank, Section
from ..content.conditions import MISSING, Explanation, Leaf, evaluate, explain, leaves
from ..content.values import display_value
from .methodology import Methodology


@dataclass(frozen=True)
class QuestionScore:
    question_id: str
    module_id: str
    section_id: str
    status: str  # scored | not_applicable | unanswered | not_asked
    points: float | None
    weight: float
    effective_weight: float  # share of the overall score (0-1)
    contribution: float  # points x effective weight, in overall-score points
    possible_gain: float  # (100 - points) x effective weight
    gap: str | None  # major | moderate | minor | None
    critical: bool
    caps_section: bool


@dataclass(frozen=True)
class SectionScore:
    id: str
    module_id: str
    title: str
    score: float | None
    band: str | None
    band_before_cap: str | None
    capped_by: tuple[str, ...]
    weight: float
    scored: int
    excluded: int


@dataclass(frozen=True)
class ModuleScore:
    id: str
    title: str
    score: float | None
    band: str | None
    weight: float
    sections: tuple[SectionScore, ...]


@dataclass(frozen=True)
class LensItem:
    ref: str
    label: str
    score: float | None
    band: str | None
    questions: int


@dataclass(frozen=True)
class LensScore:
    id: str
    label: str
    items: tuple[LensItem, ...]


@dataclass(frozen=True)
class ComponentResult:
    id: str
    label: str
    met: bool
    reason: str


@dataclass(frozen=True)
class IndicatorResult:
    id: str
    label: str
    applies: bool
    met: bool | None  # None when the indicator does not apply to this organisation
    reason: str
    components: tuple[ComponentResult, ...]


@dataclass(frozen=True)
class ScoreCard:
    methodology: dict[str, str]
    questionnaires: dict[str, str]
    overall: float | None
    band: str | None
    modules: tuple[ModuleScore, ...]
    lenses: tuple[LensScore, ...]
    indicators: tuple[IndicatorResult, ...]
    practices: dict[str, bool]
    questions: tuple[QuestionScore, ...]
    scored_questions: int
    unanswered_questions: int

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        return _rounded(data)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScoreCard:
        """Rebuild a card from :meth:`to_dict` output (a score card frozen in a snapshot)."""
        return cls(
            methodology=dict(data["methodology"]),
            questionnaires=dict(data["questionnaires"]),
            overall=data["overall"],
            band=data["band"],
            modules=tuple(
                ModuleScore(**{**m, "sections": tuple(
                    SectionScore(**{**s, "capped_by": tuple(s["capped_by"])}) for s in m["sections"]
                )})
                for m in data["modules"]
            ),
            lenses=tuple(
                LensScore(lens["id"], lens["label"], tuple(LensItem(**i) for i in lens["items"]))
                for lens in data["lenses"]
            ),
            indicators=tuple(
                IndicatorResult(**{**i, "components": tuple(ComponentResult(**c) for c in i["components"])})
                for i in data["indicators"]
            ),
            practices=dict(data["practices"]),
            questions=tuple(QuestionScore(**q) for q in data["questions"]),
            scored_questions=data["scored_questions"],
            unanswered_questions=data["unanswered_questions"],
        )

    def question(self, question_id: str) -> QuestionScore | None:
        return next((q for q in self.questions if q.question_id == question_id), None)

    def section(self, section_id: str) -> SectionScore | None:
        return next((s for m in self.modules for s in m.sections if s.id == section_id), None)

    def top_gains(self, limit: int = 10) -> list[QuestionScore]:
        candidates = [q for q in self.questions if q.status == "scored" and q.possible_gain > 0]
        return sorted(candidates, key=lambda q: (-q.possible_gain, q.question_id))[:limit]

    def lens_scores(self) -> dict[str, float]:
        return {item.ref: item.score for lens in self.lenses for item in lens.items if item.score is not None}


def _rounded(value: Any) -> Any:
    """Round floats for a stable, readable JSON form (hashes of snapshots depend on it)."""
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_rounded(v) for v in value]
    return value


# -- points for one answer -----------------------------------------------------------------


def answer_points(question: Question, value: Any, method: Methodology) -> float | None:
    kind = question.type
    if value is None:
        return None
    if kind is AnswerType.MATURITY:
        return float(method.scales.maturity[int(value)])
    if kind is AnswerType.YES_PARTIAL_NO:
        return float(method.scales.yes_partial_no[value])
    if kind is AnswerType.SINGLE:
        for option in question.options:
            if option.value == value:
                return float(option.points or 0)
        return None
    if kind is AnswerType.MULTI:
        chosen = set(value)
        return float(min(100.0, sum(o.points or 0 for o in question.options if o.value in chosen)))
    return None


def gap_level(points: float, method: Methodology) -> str | None:
    if points < method.gaps.major:
        return "major"
    if points < method.gaps.moderate:
        return "moderate"
    if points < method.gaps.minor:
        return "minor"
    return None


def _mean(pairs: list[tuple[float, float]]) -> float | None:
    total = sum(w for _, w in pairs)
    return sum(v * w for v, w in pairs) / total if total else None


# -- the engine ------------------------------------------------------------------------------


@dataclass
class _SectionWork:
    section: Section
    module_id: str
    weight: float
    items: list[tuple[Question, float, float]] = field(default_factory=list)  # (q, points, weight)
    excluded: int = 0
    capped_by: list[str] = field(default_factory=list)


def score(
    bank: QuestionBank,
    method: Methodology,
    profile: Profile,
    answers: Mapping[str, AnswerData],
    applicable: Mapping[str, bool] | None = None,
) -> ScoreCard:
    """Score one assessment. ``applicable`` may be passed when already computed."""
    applicable = applicable if applicable is not None else bank.applicability(profile, answers)
    status: dict[str, str] = {}
    points_of: dict[str, float | None] = {}
    modules_work: list[tuple[Any, list[_SectionWork]]] = []
    unanswered = 0
    for module in bank.questionnaires:
        sections = []
        for section in module.sections:
            work = _SectionWork(section, module.id, method.weights.sections.get(section.id, 1.0))
            for question in section.questions:
                if not question.is_scored:
                    continue
                weight = method.weights.questions.get(question.id, question.weight)
                answer = answers.get(question.id)
                if not applicable[question.id]:
                    status[question.id], points = "not_asked", None
                elif answer is not None and answer.not_applicable:
                    status[question.id], points = "not_applicable", None
                elif answer is None or not answer.has_value:
                    if method.unanswered == "zero":
                        status[question.id], points = "scored", 0.0
                    else:
                        status[question.id], points = "unanswered", None
                    unanswered += 1
                else:
                    status[question.id] = "scored"
                    points = answer_points(question, answer.value, method)
                points_of[question.id] = points
                if points is None:
                    work.excluded += 1
                    continue
                work.items.append((question, points, weight))
                if question.critical and points < method.critical.below:
                    work.capped_by.append(question.id)
            sections.append(work)
        modules_work.append((module, sections))

    cap_index = method.band_index(method.critical.caps_section_at)
    module_scores: list[ModuleScore] = []
    module_pairs: list[tuple[float, float]] = []
    section_results: dict[str, tuple[float | None, float]] = {}
    for module, sections in modules_work:
        section_scores = []
        pairs = []
        for work in sections:
            value = _mean([(p, w) for _, p, w in work.items])
            uncapped = method.band_for(value)
            band = uncapped
            capped = bool(band and work.capped_by and method.band_index(band.id) > cap_index)
            if capped:
                band = method.bands[cap_index]
            section_scores.append(
                SectionScore(
                    id=work.section.id,
                    module_id=module.id,
                    title=work.section.title.get(),
                    score=value,
                    band=band.id if band else None,
                    band_before_cap=uncapped.id if uncapped else None,
                    capped_by=tuple(work.capped_by) if capped else (),
                    weight=work.weight,
                    scored=len(work.items),
                    excluded=work.excluded,
                )
            )
            if value is not None:
                pairs.append((value, work.weight))
            section_results[work.section.id] = (value, work.weight)
        module_value = _mean(pairs)
        module_weight = method.weights.modules.get(module.id, 1.0)
        band = method.band_for(module_value)
        module_scores.append(
            ModuleScore(module.id, module.title.get(), module_value, band.id if band else None,
                        module_weight, tuple(section_scores))
        )
        if module_value is not None:
            module_pairs.append((module_value, module_weight))
    overall = _mean(module_pairs)
    overall_band = method.band_for(overall)

    # Effective weights: each question's share of the overall score.
    module_total = sum(w for _, w in module_pairs)
    question_scores = []
    for (module, sections), module_score in zip(modules_work, module_scores, strict=True):
        share_module = module_score.weight / module_total if module_score.score is not None else 0.0
        section_total = sum(w for v, w in (section_results[s.section.id] for s in sections) if v is not None)
        for work, section_score in zip(sections, module_score.sections, strict=True):
            share_section = work.weight / section_total if section_score.score is not None else 0.0
            in_section = sum(w for _, _, w in work.items)
            included = {q.id: w for q, _, w in work.items}
            for question in work.section.questions:
                if not question.is_scored:
                    continue
                points = points_of[question.id]
                effective = (
                    included[question.id] / in_section * share_section * share_module
                    if question.id in included
                    else 0.0
                )
                question_scores.append(
                    QuestionScore(
                        question_id=question.id,
                        module_id=module.id,
                        section_id=work.section.id,
                        status=status[question.id],
                        points=points,
                        weight=method.weights.questions.get(question.id, question.weight),
                        effective_weight=effective,
                        contribution=(points or 0.0) * effective,
                        possible_gain=(100.0 - points) * effective if points is not None else 0.0,
                        gap=gap_level(points, method) if points is not None else None,
                        critical=question.critical,
                        caps_section=question.id in section_score.capped_by,
                    )
                )

    lookup = _answer_lookup(profile, answers, applicable)
    lenses = tuple(
        LensScore(lens.id, lens.label, tuple(_lens_item(bank, method, ref, points_of) for ref in lens.refs))
        for lens in method.lenses
    )
    indicators = tuple(_indicator(bank, indicator, lookup) for indicator in method.indicators)
    practices = {p.id: evaluate(p.when, lookup) for p in method.practices}
    return ScoreCard(
        methodology={"id": method.id, "version": method.version},
        questionnaires=bank.versions(),
        overall=overall,
        band=overall_band.id if overall_band else None,
        modules=tuple(module_scores),
        lenses=lenses,
        indicators=indicators,
        practices=practices,
        questions=tuple(question_scores),
        scored_questions=sum(1 for s in status.values() if s == "scored"),
        unanswered_questions=unanswered,
    )


def _lens_item(bank: QuestionBank, method: Methodology, ref: str, points_of: dict) -> LensItem:
    pairs = [
        (points_of[q.id], method.weights.questions.get(q.id, q.weight))
        for q in bank.questions.values()
        if ref in q.refs and points_of.get(q.id) is not None
    ]
    value = _mean(pairs)
    band = method.band_for(value)
    return LensItem(ref, bank.taxonomy.label("frameworks", ref), value, band.id if band else None, len(pairs))


def _answer_lookup(profile: Profile, answers: Mapping[str, AnswerData], applicable: Mapping[str, bool]):
    def lookup(leaf: Leaf) -> Any:
        if leaf.subject == "profile":
            return profile.get(leaf.name)
        answer = answers.get(leaf.name)
        if not applicable.get(leaf.name) or answer is None or answer.not_applicable or not answer.has_value:
            return MISSING
        return answer.value

    return lookup


def _flatten(explanation: Explanation) -> str:
    if not explanation.children:
        return explanation.text
    inner = "; ".join(_flatten(c) for c in explanation.children)
    return f"{explanation.text} {inner}"


def _indicator(bank: QuestionBank, indicator, lookup) -> IndicatorResult:
    if indicator.applies_when is not None and not evaluate(indicator.applies_when, lookup):
        why = _flatten(explain(indicator.applies_when, lookup, bank.describe_leaf))
        return IndicatorResult(indicator.id, indicator.label, False, None,
                               f"Does not apply to this organisation. Needed: {why}", ())
    components = []
    for component in indicator.components:
        trace = explain(component.when, lookup, bank.describe_leaf)
        components.append(ComponentResult(
            component.id, component.label, trace.holds,
            ("Met: " if trace.holds else "Not met: ") + _flatten(trace) + _answer_note(bank, component.when, lookup),
        ))
    met = all(c.met for c in components)
    missing = [c.label for c in components if not c.met]
    reason = "All components are met." if met else "Not met: " + "; ".join(missing) + "."
    return IndicatorResult(indicator.id, indicator.label, True, met, reason, tuple(components))


def _answer_note(bank: QuestionBank, condition, lookup) -> str:
    """What was actually answered, so a reader sees why a threshold was or was not reached."""
    notes = []
    for leaf in leaves(condition):
        if leaf.subject != "answer":
            continue
        value = lookup(leaf)
        question = bank.questions[leaf.name]
        notes.append("no answer" if value is MISSING else f"answered {display_value(question, value)}")
    return f" ({'; '.join(notes)})" if notes else ""

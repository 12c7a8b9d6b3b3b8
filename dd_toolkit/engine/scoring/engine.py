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

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

from dd_toolkit.engine.content import AnswerData, AnswerType, Profile, Question, QuestionBank, Section
from dd_toolkit.engine.content.conditions import MISSING, Explanation, Leaf, evaluate, explain, leaves
from dd_toolkit.engine.content.values import display_value
from dd_toolkit.engine.scoring.methodology import Methodology


# Result records are plain slotted dataclasses, not frozen ones: a card holds about a
# hundred of them and frozen instances cost several times more to build.
@dataclass(slots=True)
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


@dataclass(slots=True)
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


@dataclass(slots=True)
class ModuleScore:
    id: str
    title: str
    score: float | None
    band: str | None
    weight: float
    sections: tuple[SectionScore, ...]


@dataclass(slots=True)
class LensItem:
    ref: str
    label: str
    score: float | None
    band: str | None
    questions: int


@dataclass(slots=True)
class LensScore:
    id: str
    label: str
    items: tuple[LensItem, ...]


@dataclass(slots=True)
class ComponentResult:
    id: str
    label: str
    met: bool
    reason: str


@dataclass(slots=True)
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
        return _plain(self)  # the same as _rounded(asdict(self)), in one pass

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScoreCard:
        """Rebuild a card from :meth:`to_dict` output (a score card frozen in a snapshot)."""
        return cls(
            methodology=dict(data["methodology"]),
            questionnaires=dict(data["questionnaires"]),
            overall=data["overall"],
            band=data["band"],
            modules=tuple(
                ModuleScore(
                    **{
                        **m,
                        "sections": tuple(
                            SectionScore(**{**s, "capped_by": tuple(s["capped_by"])}) for s in m["sections"]
                        ),
                    }
                )
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


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _plain(value: Any) -> Any:
    """``_rounded(asdict(value))`` without the deep copies: dataclasses become dicts, tuples
    lists, floats are rounded. A card is turned into JSON at every submission."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    names = _FIELD_NAMES.get(type(value))
    if names is None:
        if not is_dataclass(value) or isinstance(value, type):
            return copy.deepcopy(value)  # what asdict does with any other object
        names = _FIELD_NAMES.setdefault(type(value), tuple(f.name for f in fields(value)))
    return {name: _plain(getattr(value, name)) for name in names}


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


def _points_function(question: Question, method: Methodology) -> Callable[[Any], float | None]:
    """:func:`answer_points` for one question, with its scale looked up once."""
    kind = question.type
    if kind is AnswerType.MATURITY:
        scale = tuple(float(p) for p in method.scales.maturity)
        return lambda value: scale[int(value)]
    if kind is AnswerType.YES_PARTIAL_NO:
        table = {k: float(v) for k, v in method.scales.yes_partial_no.items()}
        return table.get
    options = {o.value: float(o.points or 0) for o in question.options}
    if kind is AnswerType.SINGLE:
        return options.get
    if kind is AnswerType.MULTI:
        return lambda value: min(100.0, sum(options.get(v, 0.0) for v in set(value)))
    return lambda value: None


def gap_level(points: float, method: Methodology) -> str | None:
    if points < method.gaps.major:
        return "major"
    if points < method.gaps.moderate:
        return "moderate"
    if points < method.gaps.minor:
        return "minor"
    return None


def _mean(pairs: list[tuple[float, float]]) -> float | None:
    total = weighted = 0.0
    for value, weight in pairs:
        total += weight
        weighted += value * weight
    return weighted / total if total else None


# -- the engine ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _PlannedSection:
    section: Section
    weight: float
    # Scored questions with their weights and a function from answer value to points.
    questions: tuple[tuple[Question, float, Callable[[Any], float | None]], ...]


@dataclass(frozen=True)
class _Plan:
    """What does not change between assessments scored with the same bank and methodology,
    worked out once: scored questions and weights by section, and questions by reference."""

    modules: tuple[tuple[Any, float, tuple[_PlannedSection, ...]], ...]
    refs: dict[str, tuple[tuple[str, float], ...]]
    ref_labels: dict[str, str]
    cap_index: int
    # Explanations depend only on the condition and the values it reads, which repeat a lot
    # across assessments: each distinct one is worded once.
    explanations: dict[tuple, tuple[bool, str]] = field(default_factory=dict)
    leaves: dict[int, tuple[Leaf, ...]] = field(default_factory=dict)


_PLANS: dict[tuple[int, str], tuple[QuestionBank, _Plan]] = {}


def _plan(bank: QuestionBank, method: Methodology) -> _Plan:
    key = (id(bank), method.key)
    cached = _PLANS.get(key)
    if cached is not None and cached[0] is bank:
        return cached[1]
    weights = method.weights
    modules = tuple(
        (
            module,
            weights.modules.get(module.id, 1.0),
            tuple(
                _PlannedSection(
                    section,
                    weights.sections.get(section.id, 1.0),
                    tuple(
                        (q, weights.questions.get(q.id, q.weight), _points_function(q, method))
                        for q in section.questions
                        if q.is_scored
                    ),
                )
                for section in module.sections
            ),
        )
        for module in bank.questionnaires
    )
    refs = {
        ref: tuple(
            (q.id, weights.questions.get(q.id, q.weight))
            for q in bank.questions.values()
            if q.is_scored and ref in q.refs
        )
        for lens in method.lenses
        for ref in lens.refs
    }
    labels = {ref: bank.taxonomy.label("frameworks", ref) for ref in refs}
    plan = _Plan(modules, refs, labels, method.band_index(method.critical.caps_section_at))
    _PLANS[key] = (bank, plan)
    return plan


def score(
    bank: QuestionBank,
    method: Methodology,
    profile: Profile,
    answers: Mapping[str, AnswerData],
    applicable: Mapping[str, bool] | None = None,
) -> ScoreCard:
    """Score one assessment. ``applicable`` may be passed when already computed."""
    plan = _plan(bank, method)
    applicable = applicable if applicable is not None else bank.applicability(profile, answers)
    zero_when_unanswered = method.unanswered == "zero"
    below = method.critical.below

    # 1. Points of every scored question, summed into its section.
    points_of: dict[str, float | None] = {}
    rows: list[tuple[Question, float, str, float | None, int]] = []  # q, weight, status, points, section
    # Per section: [sum of weights, sum of weighted points, scored, excluded, capped_by]
    section_sums: list[list] = []
    unanswered = 0
    for _module, _module_weight, planned_sections in plan.modules:
        for planned in planned_sections:
            index = len(section_sums)
            sums = [0.0, 0.0, 0, 0, []]
            for question, weight, points_for in planned.questions:
                qid = question.id
                answer = answers.get(qid)
                points = None
                if not applicable[qid]:
                    status = "not_asked"
                elif answer is not None and answer.not_applicable:
                    status = "not_applicable"
                elif answer is None or not answer.has_value:
                    unanswered += 1
                    status, points = ("scored", 0.0) if zero_when_unanswered else ("unanswered", None)
                else:
                    status, points = "scored", points_for(answer.value)
                points_of[qid] = points
                rows.append((question, weight, status, points, index))
                if points is None:
                    sums[3] += 1
                    continue
                sums[0] += weight
                sums[1] += weight * points
                sums[2] += 1
                if question.critical and points < below:
                    sums[4].append(qid)
            section_sums.append(sums)

    # 2. Sections, modules and the overall score as weighted means, with critical caps.
    cap_index = plan.cap_index
    module_scores: list[ModuleScore] = []
    section_shares: list[float] = []  # each section's share of its module's score
    module_sum_w = module_sum_pw = 0.0
    index = 0
    for module, module_weight, planned_sections in plan.modules:
        section_scores = []
        sum_w = sum_pw = 0.0
        for planned in planned_sections:
            weights, weighted, scored, excluded, capped_by = section_sums[index]
            value = weighted / weights if weights else None
            uncapped = method.band_for(value)
            band = uncapped
            capped = bool(band and capped_by and method.band_index(band.id) > cap_index)
            if capped:
                band = method.bands[cap_index]
            section_scores.append(
                SectionScore(
                    planned.section.id,
                    module.id,
                    planned.section.title.get(),
                    value,
                    band.id if band else None,
                    uncapped.id if uncapped else None,
                    tuple(capped_by) if capped else (),
                    planned.weight,
                    scored,
                    excluded,
                )
            )
            if value is not None:
                sum_w += planned.weight
                sum_pw += planned.weight * value
            index += 1
        section_shares.extend(
            section.weight / sum_w if section.score is not None else 0.0 for section in section_scores
        )
        module_value = sum_pw / sum_w if sum_w else None
        band = method.band_for(module_value)
        module_scores.append(
            ModuleScore(
                module.id,
                module.title.get(),
                module_value,
                band.id if band else None,
                module_weight,
                tuple(section_scores),
            )
        )
        if module_value is not None:
            module_sum_w += module_weight
            module_sum_pw += module_weight * module_value
    overall = module_sum_pw / module_sum_w if module_sum_w else None
    overall_band = method.band_for(overall)

    # 3. Each question's share of the overall score, its contribution and possible gain.
    module_shares = [m.weight / module_sum_w if module_sum_w and m.score is not None else 0.0 for m in module_scores]
    module_of_section = [position for position, m in enumerate(module_scores) for _ in m.sections]
    sections_flat = [s for m in module_scores for s in m.sections]
    question_scores = []
    for question, weight, status, points, section_index in rows:
        section = sections_flat[section_index]
        in_section = section_sums[section_index][0]
        effective = (
            weight / in_section * section_shares[section_index] * module_shares[module_of_section[section_index]]
            if points is not None
            else 0.0
        )
        question_scores.append(
            QuestionScore(
                question.id,
                section.module_id,
                section.id,
                status,
                points,
                weight,
                effective,
                (points or 0.0) * effective,
                (100.0 - points) * effective if points is not None else 0.0,
                gap_level(points, method) if points is not None else None,
                question.critical,
                question.id in section.capped_by,
            )
        )

    lookup = _answer_lookup(profile, answers, applicable)
    lenses = tuple(
        LensScore(lens.id, lens.label, tuple(_lens_item(plan, method, ref, points_of) for ref in lens.refs))
        for lens in method.lenses
    )
    indicators = tuple(_indicator(bank, plan, indicator, lookup) for indicator in method.indicators)
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
        scored_questions=sum(1 for row in rows if row[2] == "scored"),
        unanswered_questions=unanswered,
    )


def _lens_item(plan: _Plan, method: Methodology, ref: str, points_of: dict) -> LensItem:
    pairs = [(points_of[qid], weight) for qid, weight in plan.refs[ref] if points_of[qid] is not None]
    value = _mean(pairs)
    band = method.band_for(value)
    return LensItem(ref, plan.ref_labels[ref], value, band.id if band else None, len(pairs))


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


def _frozen(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _explained(bank: QuestionBank, plan: _Plan, condition, lookup) -> tuple[bool, str]:
    """Whether a condition holds, and its wording with what was actually answered."""
    condition_leaves = plan.leaves.get(id(condition))
    if condition_leaves is None:
        condition_leaves = plan.leaves[id(condition)] = tuple(leaves(condition))
    read = [(leaf, lookup(leaf)) for leaf in condition_leaves]
    key = (id(condition), tuple((id(leaf), _frozen(value)) for leaf, value in read))
    if key not in plan.explanations:
        values = {id(leaf): value for leaf, value in read}
        trace = explain(condition, lambda leaf: values[id(leaf)], bank.describe_leaf)
        notes = [
            "no answer" if value is MISSING else f"answered {display_value(bank.questions[leaf.name], value)}"
            for leaf, value in read
            if leaf.subject == "answer"
        ]
        note = f" ({'; '.join(notes)})" if notes else ""
        plan.explanations[key] = (trace.holds, _flatten(trace) + note)
    return plan.explanations[key]


def _indicator(bank: QuestionBank, plan: _Plan, indicator, lookup) -> IndicatorResult:
    if indicator.applies_when is not None:
        applies, why = _explained(bank, plan, indicator.applies_when, lookup)
        if not applies:
            return IndicatorResult(
                indicator.id, indicator.label, False, None, f"Does not apply to this organisation. Needed: {why}", ()
            )
    components = []
    for component in indicator.components:
        holds, wording = _explained(bank, plan, component.when, lookup)
        components.append(
            ComponentResult(component.id, component.label, holds, ("Met: " if holds else "Not met: ") + wording)
        )
    met = all(c.met for c in components)
    missing = [c.label for c in components if not c.met]
    reason = "All components are met." if met else "Not met: " + "; ".join(missing) + "."
    return IndicatorResult(indicator.id, indicator.label, True, met, reason, tuple(components))

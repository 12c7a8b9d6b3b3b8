"""The scoring engine: a pure function from a questionnaire, a methodology, a profile and
answers to a score card in which every number can be traced to the answers that made it.

Roll-up: a question's points (0-100) are averaged with the question weights into its section;
sections with the section weights into their module; modules with the module weights into the
overall score. Questions that do not apply, are marked not applicable, or (in a draft) are
unanswered are left out of every mean. Each question's *effective weight* is its share of the
overall score, so ``contribution = points x effective weight`` and the contributions add up to
the overall score; ``possible gain = (100 - points) x effective weight`` ranks what would raise
the score most.

A methodology may choose other rules (2027.1 does): ``weights.rule: severity`` makes the
overall score one weighted mean over every question, each weighing by the severity of the harm
it addresses and its RPA relevance; ``not_applicable: zero`` counts a question that applies but
is marked not applicable as not in place; ``critical`` may cap module and overall bands and
``caps`` cap them by named conditions. Every score carries its coverage (the share of applicable
weight answered) and, with ``confidence``, a confidence level from the evidence strengths.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

from dd_toolkit.engine.content import AnswerData, AnswerType, Profile, Question, QuestionBank, Section
from dd_toolkit.engine.content.conditions import (
    MISSING,
    All,
    Leaf,
    Not,
    RiskLevels,
    assessment_lookup,
    evaluate,
    leaf_holds,
    leaves,
)
from dd_toolkit.engine.content.models import DEFAULT_LANGUAGE, reading_language
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
    # The strength of the evidence behind the answer (an id of the taxonomy's evidence_strengths).
    evidence_strength: str | None = None


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
    coverage: float | None = None  # share of the section's applicable weight answered (0-1)
    confidence: str | None = None  # a confidence level id of the methodology


@dataclass(slots=True)
class ModuleScore:
    id: str
    title: str
    score: float | None
    band: str | None
    weight: float
    sections: tuple[SectionScore, ...]
    band_before_cap: str | None = None
    capped_by: tuple[str, ...] = ()  # ids of the caps that lowered the band ("critical" or a cap id)
    coverage: float | None = None
    confidence: str | None = None


@dataclass(slots=True)
class CapResult:
    """A cap whose condition holds: the band it allows at most, overall and for ``modules``."""

    id: str  # "critical" (a critical question below its threshold) or a cap id of the methodology
    label: str
    band: str
    modules: tuple[str, ...]
    question_ids: tuple[str, ...]
    reason: str  # in English, as frozen; :func:`reason_in` words it in the reader's language
    # What was answered to each question the cap reads: {"question", "state" (answered, no_answer,
    # not_asked or not_applicable), "value"}. None on cards frozen before it was kept.
    answers_read: tuple[dict[str, Any], ...] | None = None


@dataclass(slots=True)
class NotApplicableItem:
    """A question that applies to the profile but is marked not applicable, for reviewers."""

    question_id: str
    section_id: str
    justification: str
    # Set when the question is counted as not applicable because it follows from this one.
    follows_from: str | None = None


@dataclass(slots=True)
class LensItem:
    ref: str
    label: str
    score: float | None
    band: str | None
    questions: int
    # As beside every other score (2027.1): the share of the reference's applicable weight
    # answered, and the confidence level of its answers. None on cards frozen before that.
    coverage: float | None = None
    confidence: str | None = None


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
    reason: str  # in English, as frozen; :func:`reason_in` words it in the reader's language
    # The condition's trace as plain JSON (see :func:`_trace`); None on cards frozen before it was kept.
    trace: dict[str, Any] | None = None


@dataclass(slots=True)
class IndicatorResult:
    id: str
    label: str
    applies: bool
    met: bool | None  # None when the indicator does not apply to this organisation
    reason: str  # in English, as frozen; :func:`reason_in` words it in the reader's language
    components: tuple[ComponentResult, ...]
    # When it does not apply: the trace of the condition it needs (see :func:`_trace`).
    trace: dict[str, Any] | None = None


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
    # Added in 2027.1; a card frozen before has none of these and reads back with the defaults.
    band_before_cap: str | None = None
    capped_by: tuple[str, ...] = ()
    caps: tuple[CapResult, ...] = ()
    coverage: float | None = None
    confidence: str | None = None
    not_applicable: tuple[NotApplicableItem, ...] = ()
    # The levels of the children's risk register the applicability was decided with
    # (RiskLevels.to_dict()); None, and absent from the dict, without a register.
    risk_levels: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        data = _plain(self)  # the same as _rounded(asdict(self)), in one pass
        if data.get("risk_levels") is None:
            data.pop("risk_levels", None)  # a card without a register keeps the shape it had
        return data

    @property
    def risk(self) -> RiskLevels | None:
        """The register's levels this card was scored with, as applicability reads them."""
        return RiskLevels.from_dict(self.risk_levels)

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
                        "capped_by": tuple(m.get("capped_by", ())),
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
            band_before_cap=data.get("band_before_cap"),
            capped_by=tuple(data.get("capped_by", ())),
            caps=tuple(
                CapResult(
                    **{
                        **c,
                        "modules": tuple(c["modules"]),
                        "question_ids": tuple(c["question_ids"]),
                        "answers_read": tuple(c["answers_read"]) if c.get("answers_read") is not None else None,
                    }
                )
                for c in data.get("caps", ())
            ),
            coverage=data.get("coverage"),
            confidence=data.get("confidence"),
            not_applicable=tuple(NotApplicableItem(**item) for item in data.get("not_applicable", ())),
            risk_levels=data.get("risk_levels"),
        )

    def question(self, question_id: str) -> QuestionScore | None:
        return next((q for q in self.questions if q.question_id == question_id), None)

    def section(self, section_id: str) -> SectionScore | None:
        return next((s for m in self.modules for s in m.sections if s.id == section_id), None)

    def module(self, module_id: str) -> ModuleScore | None:
        return next((m for m in self.modules if m.id == module_id), None)

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
    # Scored questions with their weights and a function from answer value to points. Under
    # ``weights.rule: severity`` the weight is the question's whole weight in the overall mean.
    questions: tuple[tuple[Question, float, Callable[[Any], float | None]], ...]


@dataclass(frozen=True)
class _Plan:
    """What does not change between assessments scored with the same bank and methodology,
    worked out once: scored questions and weights by section, and questions by reference."""

    modules: tuple[tuple[Any, float, tuple[_PlannedSection, ...]], ...]
    refs: dict[str, tuple[tuple[str, float], ...]]
    ref_labels: dict[str, str]
    cap_index: int
    # Question id -> the answers its applicability reads, and its section's and its own
    # conditions (for questions whose applicability reads an answer).
    depends_on: dict[str, tuple[str, ...]] = field(default_factory=dict)
    conditions: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    # Explanations depend only on the condition and the values it reads, which repeat a lot
    # across assessments: each distinct one is worded once.
    explanations: dict[tuple, tuple[bool, str]] = field(default_factory=dict)
    leaves: dict[int, tuple[Leaf, ...]] = field(default_factory=dict)


_PLANS: dict[tuple[int, str], tuple[QuestionBank, _Plan]] = {}


def indicator_questions(method: Methodology) -> set[str]:
    """The questions an RPA indicator component of the methodology reads."""
    return {
        leaf.name
        for indicator in method.indicators
        for component in indicator.components
        for leaf in leaves(component.when)
        if leaf.subject == "answer"
    }


def severity_points(question: Question, method: Methodology, on_indicator: set[str]) -> float:
    """A question's severity points under ``weights.rule: severity`` (1 without a severity block)."""
    severity = method.weights.severity
    if severity is None:
        return 1.0
    harm = max((severity.harms.get(h, 0.0) for h in question.harms), default=0.0)
    points = severity.base + harm
    if question.id in on_indicator:
        points += severity.indicator
    if any(ref.startswith("RPA:") for ref in question.refs):
        points += severity.rpa_reference
    if question.critical:
        points += severity.critical
    return float(points)


def _plan(bank: QuestionBank, method: Methodology) -> _Plan:
    key = (id(bank), method.key)
    cached = _PLANS.get(key)
    if cached is not None and cached[0] is bank:
        return cached[1]
    weights = method.weights
    by_severity = weights.rule == "severity"
    on_indicator = indicator_questions(method)

    def weight_of(module_id: str, section_id: str, question: Question) -> float:
        weight = weights.questions.get(question.id, question.weight)
        if not by_severity:
            return weight
        return (
            weights.modules.get(module_id, 1.0)
            * weights.sections.get(section_id, 1.0)
            * weight
            * severity_points(question, method, on_indicator)
        )

    modules = tuple(
        (
            module,
            weights.modules.get(module.id, 1.0),
            tuple(
                _PlannedSection(
                    section,
                    weights.sections.get(section.id, 1.0),
                    tuple(
                        (q, weight_of(module.id, section.id, q), _points_function(q, method))
                        for q in section.questions
                        if q.is_scored
                    ),
                )
                for section in module.sections
            ),
        )
        for module in bank.questionnaires
    )
    weight_by_id = {q.id: w for _m, _w, sections in modules for s in sections for q, w, _f in s.questions}
    refs = {
        ref: tuple((q.id, weight_by_id[q.id]) for q in bank.questions.values() if q.is_scored and ref in q.refs)
        for lens in method.lenses
        for ref in lens.refs
    }
    labels = {ref: bank.taxonomy.label("frameworks", ref) for ref in refs}
    depends_on, conditions = {}, {}
    for qid, question in bank.questions.items():
        own = tuple(c for c in (bank.section_of[qid].applies_when, question.applies_when) if c is not None)
        read = {leaf.name for condition in own for leaf in leaves(condition) if leaf.subject == "answer"}
        if read:
            depends_on[qid] = tuple(sorted(read))
            conditions[qid] = own
    cap_index = method.band_index(method.critical.caps_section_at)
    plan = _Plan(modules, refs, labels, cap_index, depends_on, conditions)
    _PLANS[key] = (bank, plan)
    return plan


def _follows_from_not_applicable(
    plan: _Plan,
    profile: Profile,
    answers: Mapping[str, AnswerData],
    applicable: Mapping[str, bool],
    risk: RiskLevels | None = None,
) -> dict[str, str]:
    """Questions whose applicability depends on an answer marked not applicable (directly or
    through another such question), each with the question marked not applicable it follows from.

    Under ``not_applicable: zero`` they count as not in place too: otherwise marking a gate
    question not applicable would hide its follow-up questions and could raise the score. A
    question the profile alone rules out (whatever that answer would be) is not among them."""
    origin = {qid: qid for qid, a in answers.items() if a.not_applicable and applicable.get(qid)}
    if not origin:
        return {}

    value = assessment_lookup(profile, answers, risk, lambda qid: bool(applicable.get(qid)))

    def maybe(condition) -> bool | None:
        """The condition with the answers in ``origin`` unknown: True or False when it holds or
        fails whatever they are, None when it depends on them."""
        if isinstance(condition, Leaf):
            if condition.subject == "answer" and condition.name in origin:
                return None
            return leaf_holds(condition, value(condition))
        if isinstance(condition, Not):
            inner = maybe(condition.item)
            return None if inner is None else not inner
        results = [maybe(item) for item in condition.items]
        decisive = False if isinstance(condition, All) else True
        if decisive in results:
            return decisive
        return None if None in results else not decisive

    follows: dict[str, str] = {}
    changed = True
    while changed:
        changed = False
        for qid, read in plan.depends_on.items():
            if qid in origin:
                continue
            source = next((origin[dep] for dep in read if dep in origin), None)
            if source is not None and maybe(All(plan.conditions[qid])) is None:
                origin[qid] = follows[qid] = source
                changed = True
    return follows


@dataclass(slots=True)
class _Row:
    question: Question
    weight: float
    status: str
    points: float | None
    section: int  # index into the flat list of sections
    module: int
    applies: bool  # counts in the applicable weight (coverage)
    answered: bool
    strength: str | None
    potential: float = 0.0  # share of the overall score were every applicable question answered


def _strength_of(answer: AnswerData, method: Methodology, known: set[str]) -> str | None:
    recorded = (answer.meta or {}).get("evidence_strength")
    if method.confidence is not None:
        return recorded if recorded in method.confidence.points else method.confidence.default
    return recorded if recorded in known else None


def _cap_band(
    method: Methodology, band_id: str | None, caps: list[tuple[str, str]]
) -> tuple[str | None, tuple[str, ...]]:
    """The band after ``caps`` ((cap id, band id) pairs), and the ids of the caps that lowered it."""
    if band_id is None or not caps:
        return band_id, ()
    index = method.band_index(band_id)
    lowest = min(method.band_index(band) for _cap, band in caps)
    if lowest >= index:
        return band_id, ()
    lowering = tuple(dict.fromkeys(cap for cap, band in caps if method.band_index(band) < index))
    return method.bands[lowest].id, lowering


def score(
    bank: QuestionBank,
    method: Methodology,
    profile: Profile,
    answers: Mapping[str, AnswerData],
    applicable: Mapping[str, bool] | None = None,
    risk: RiskLevels | None = None,
) -> ScoreCard:
    """Score one assessment. ``applicable`` may be passed when already computed (with the same
    ``risk``, the levels of the assessment's risk register, kept in the card)."""
    plan = _plan(bank, method)
    applicable = applicable if applicable is not None else bank.applicability(profile, answers, risk)
    zero_when_unanswered = method.unanswered == "zero"
    zero_when_not_applicable = method.not_applicable == "zero"
    by_severity = method.weights.rule == "severity"
    below = method.critical.below
    follows = _follows_from_not_applicable(plan, profile, answers, applicable, risk) if zero_when_not_applicable else {}
    known_strengths = set(bank.taxonomy.ids("evidence_strengths")) if method.confidence is None else set()

    # 1. Points of every scored question, summed into its section.
    points_of: dict[str, float | None] = {}
    rows: list[_Row] = []
    # Per section: [sum of weights, sum of weighted points, scored, excluded, capped_by]
    section_sums: list[list] = []
    unanswered = 0
    for module_index, (_module, _module_weight, planned_sections) in enumerate(plan.modules):
        for planned in planned_sections:
            index = len(section_sums)
            sums = [0.0, 0.0, 0, 0, []]
            for question, weight, points_for in planned.questions:
                qid = question.id
                answer = answers.get(qid)
                points = None
                applies, answered, strength = True, False, None
                if qid in follows:
                    status, points = "not_applicable", 0.0
                elif not applicable[qid]:
                    status, applies = "not_asked", False
                elif answer is not None and answer.not_applicable:
                    status = "not_applicable"
                    points = 0.0 if zero_when_not_applicable else None
                elif answer is None or not answer.has_value:
                    unanswered += 1
                    status, points = ("scored", 0.0) if zero_when_unanswered else ("unanswered", None)
                else:
                    status, points = "scored", points_for(answer.value)
                    answered = True
                    strength = _strength_of(answer, method, known_strengths)
                points_of[qid] = points
                rows.append(_Row(question, weight, status, points, index, module_index, applies, answered, strength))
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
                    planned.section.title.get(DEFAULT_LANGUAGE),
                    value,
                    band.id if band else None,
                    uncapped.id if uncapped else None,
                    tuple(capped_by) if capped else (),
                    planned.weight,
                    scored,
                    excluded,
                )
            )
            if by_severity:
                # A module is the weighted mean of its questions: each section weighs the sum of
                # the weights of its questions that count.
                sum_w += weights
                sum_pw += weighted
            elif value is not None:
                sum_w += planned.weight
                sum_pw += planned.weight * value
            index += 1
        section_shares.extend(
            section.weight / sum_w if section.score is not None and not by_severity else 0.0
            for section in section_scores
        )
        module_value = sum_pw / sum_w if sum_w else None
        band = method.band_for(module_value)
        module_scores.append(
            ModuleScore(
                module.id,
                module.title.get(DEFAULT_LANGUAGE),
                module_value,
                band.id if band else None,
                module_weight,
                tuple(section_scores),
                band.id if band else None,
            )
        )
        if module_value is not None:
            if by_severity:
                module_sum_w += sum_w
                module_sum_pw += sum_pw
            else:
                module_sum_w += module_weight
                module_sum_pw += module_weight * module_value
    overall = module_sum_pw / module_sum_w if module_sum_w else None
    overall_band = method.band_for(overall)

    # 3. Each question's share of the overall score, its contribution and possible gain.
    module_shares = [m.weight / module_sum_w if module_sum_w and m.score is not None else 0.0 for m in module_scores]
    module_of_section = [position for position, m in enumerate(module_scores) for _ in m.sections]
    sections_flat = [s for m in module_scores for s in m.sections]
    question_scores = []
    for row in rows:
        section_index, points = row.section, row.points
        section = sections_flat[section_index]
        in_section = section_sums[section_index][0]
        if points is None:
            effective = 0.0
        elif by_severity:  # one weighted mean over every question that counts
            effective = row.weight / module_sum_w
        else:
            module_share = module_shares[module_of_section[section_index]]
            effective = row.weight / in_section * section_shares[section_index] * module_share
        question_scores.append(
            QuestionScore(
                row.question.id,
                section.module_id,
                section.id,
                row.status,
                points,
                row.weight,
                effective,
                (points or 0.0) * effective,
                (100.0 - points) * effective if points is not None else 0.0,
                gap_level(points, method) if points is not None else None,
                row.question.critical,
                row.question.id in section.capped_by,
                row.strength,
            )
        )

    # 4. Caps of module and overall bands: critical failures, and the methodology's named caps.
    caps: list[CapResult] = []
    critical = method.critical
    failures: dict[int, list[str]] = {}
    for section_index, position in enumerate(module_of_section):
        if section_sums[section_index][4]:
            failures.setdefault(position, []).extend(section_sums[section_index][4])
    module_caps: dict[int, list[tuple[str, str]]] = {}
    overall_caps: list[tuple[str, str]] = []
    if failures and (critical.caps_module_at or critical.caps_overall_at):
        failing = tuple(qid for position in sorted(failures) for qid in failures[position])
        caps.append(
            CapResult(
                "critical",
                "",
                critical.caps_overall_at or critical.caps_module_at,
                tuple(module_scores[p].id for p in sorted(failures)) if critical.caps_module_at else (),
                failing,
                "",
            )
        )
        if critical.caps_module_at:
            for position in failures:
                module_caps.setdefault(position, []).append(("critical", critical.caps_module_at))
        if critical.caps_overall_at:
            overall_caps.append(("critical", critical.caps_overall_at))
    lookup = _answer_lookup(profile, answers, applicable)
    if method.caps:
        cap_lookup = _answer_lookup(profile, answers, applicable, follows)
        position_of = {m.id: p for p, m in enumerate(module_scores)}
        for cap in method.caps:
            if not evaluate(cap.when, cap_lookup):
                continue
            read = tuple(dict.fromkeys(leaf.name for leaf in leaves(cap.when) if leaf.subject == "answer"))
            answers_read = _answers_read(read, answers, applicable, follows)
            why = _cap_reason(bank, answers_read, DEFAULT_LANGUAGE)
            caps.append(CapResult(cap.id, cap.label, cap.band, tuple(cap.modules), read, why, answers_read))
            overall_caps.append((cap.id, cap.band))
            for module_id in cap.modules:
                if module_id in position_of:
                    module_caps.setdefault(position_of[module_id], []).append((cap.id, cap.band))
    for position, module_caps_here in module_caps.items():
        module = module_scores[position]
        module.band, module.capped_by = _cap_band(method, module.band, module_caps_here)
    band_before_cap = overall_band.id if overall_band else None
    final_band, capped_overall_by = _cap_band(method, band_before_cap, overall_caps)

    # 5. Coverage (share of applicable weight answered) and confidence beside every score.
    _potentials(rows, plan, module_scores, by_severity)
    confidence = method.confidence
    cover: dict[tuple, list[float]] = {}  # scope -> [applicable, answered, strength x weight]
    for row in rows:
        if not row.applies:
            continue
        points = confidence.points.get(row.strength or confidence.default, 0.0) if confidence else 0.0
        scopes = [("all",), ("module", row.module), ("section", row.section)]
        scopes += [("ref", ref) for ref in row.question.refs if ref in plan.refs]
        for scope in scopes:
            sums = cover.setdefault(scope, [0.0, 0.0, 0.0])
            sums[0] += row.potential
            if row.answered:
                sums[1] += row.potential
                sums[2] += row.potential * points

    def coverage_of(scope: tuple) -> float | None:
        sums = cover.get(scope)
        return sums[1] / sums[0] if sums and sums[0] > 0 else None

    def confidence_of(scope: tuple) -> str | None:
        sums = cover.get(scope)
        if confidence is None or not sums or sums[1] <= 0:
            return None
        level = confidence.level_for(sums[2] / sums[1])
        return level.id if level else None

    for position, module in enumerate(module_scores):
        module.coverage = coverage_of(("module", position))
        module.confidence = confidence_of(("module", position))
    for section_index, section in enumerate(sections_flat):
        section.coverage = coverage_of(("section", section_index))
        section.confidence = confidence_of(("section", section_index))

    not_applicable = marked_not_applicable(bank, answers, applicable)
    not_applicable += [
        NotApplicableItem(row.question.id, sections_flat[row.section].id, "", follows[row.question.id])
        for row in rows
        if row.question.id in follows
    ]
    order = {qid: position for position, qid in enumerate(bank.questions)}
    not_applicable.sort(key=lambda item: order[item.question_id])

    lenses = tuple(
        LensScore(
            lens.id,
            lens.label,
            tuple(
                _lens_item(plan, method, ref, points_of, coverage_of(("ref", ref)), confidence_of(("ref", ref)))
                for ref in lens.refs
            ),
        )
        for lens in method.lenses
    )
    indicators = tuple(_indicator(bank, plan, indicator, lookup) for indicator in method.indicators)
    practices = {p.id: evaluate(p.when, lookup) for p in method.practices}
    return ScoreCard(
        methodology={"id": method.id, "version": method.version},
        questionnaires=bank.versions(),
        overall=overall,
        band=final_band,
        modules=tuple(module_scores),
        lenses=lenses,
        indicators=indicators,
        practices=practices,
        questions=tuple(question_scores),
        scored_questions=sum(1 for row in rows if row.status == "scored"),
        unanswered_questions=unanswered,
        band_before_cap=band_before_cap,
        capped_by=capped_overall_by,
        caps=tuple(caps),
        coverage=coverage_of(("all",)),
        confidence=confidence_of(("all",)),
        not_applicable=tuple(not_applicable),
        risk_levels=risk.to_dict() if risk is not None else None,
    )


def _potentials(rows: list[_Row], plan: _Plan, module_scores: list[ModuleScore], by_severity: bool) -> None:
    """Each applicable question's share of the overall score were every applicable question
    answered: the weights coverage and confidence are measured with."""
    applicable = [row for row in rows if row.applies]
    if by_severity:
        for row in applicable:
            row.potential = row.weight
        return
    in_section: dict[int, float] = {}
    for row in applicable:
        in_section[row.section] = in_section.get(row.section, 0.0) + row.weight
    section_weight = [planned.weight for _m, _w, sections in plan.modules for planned in sections]
    module_weight = [weight for _m, weight, _s in plan.modules]
    sections_in_module: dict[int, float] = {}
    module_of: dict[int, int] = {}
    for row in applicable:
        module_of[row.section] = row.module
    for section_index, module_index in module_of.items():
        if in_section.get(section_index):
            sections_in_module[module_index] = sections_in_module.get(module_index, 0.0) + section_weight[section_index]
    modules_total = sum(module_weight[m] for m, total in sections_in_module.items() if total)
    for row in applicable:
        if not in_section.get(row.section) or not sections_in_module.get(row.module) or not modules_total:
            continue
        row.potential = (
            row.weight
            / in_section[row.section]
            * section_weight[row.section]
            / sections_in_module[row.module]
            * module_weight[row.module]
            / modules_total
        )


def marked_not_applicable(
    bank: QuestionBank, answers: Mapping[str, AnswerData], applicable: Mapping[str, bool] | None = None
) -> list[NotApplicableItem]:
    """Every question that applies (all answered ones when ``applicable`` is not given) but is
    marked not applicable, with its justification, in the bank's order: the reviewers' list."""
    return [
        NotApplicableItem(qid, bank.section_of[qid].id, answers[qid].justification)
        for qid in bank.questions
        if qid in answers and answers[qid].not_applicable and (applicable is None or applicable.get(qid))
    ]


def best_answers(bank: QuestionBank) -> dict[str, AnswerData]:
    """An answer at the top of its scale for every scored question (every follow-up applies)."""
    answers = {}
    for qid, question in bank.questions.items():
        if not question.is_scored:
            continue
        kind = question.type
        if kind is AnswerType.MATURITY:
            value: Any = len(question.levels) - 1 if question.levels else 4
        elif kind is AnswerType.YES_PARTIAL_NO:
            value = "yes"
        elif kind is AnswerType.SINGLE:
            value = max(question.options, key=lambda o: o.points or 0).value
        else:
            value = [o.value for o in question.options]
        answers[qid] = AnswerData(value=value)
    return answers


def full_profile(bank: QuestionBank) -> Profile:
    """An organisation with every service type and feature, large, used by children: every
    question that can apply does."""
    taxonomy = bank.taxonomy
    sizes = taxonomy.ids("size_bands")
    countries = taxonomy.ids("countries")
    return Profile(
        service_types=tuple(taxonomy.ids("service_types")),
        features=tuple(taxonomy.ids("features")),
        countries=tuple(countries),
        size_band="large" if "large" in sizes else (sizes[-1] if sizes else None),
        under18_users="yes",
        hq_country=countries[0] if countries else None,
    )


def question_shares(
    bank: QuestionBank, method: Methodology, profile: Profile | None = None
) -> list[tuple[QuestionScore, float]]:
    """Each scored question's share of the overall score (0-1) for ``profile`` (default: the
    full profile) with every question answered, largest first: what the methodology's weights
    mean in practice. Shares do not depend on the points given, only on which questions count."""
    card = score(bank, method, profile or full_profile(bank), best_answers(bank))
    rows = [q for q in card.questions if q.status == "scored"]
    return [(q, q.effective_weight) for q in sorted(rows, key=lambda q: (-q.effective_weight, q.question_id))]


def _answers_read(
    read: tuple[str, ...],
    answers: Mapping[str, AnswerData],
    applicable: Mapping[str, bool],
    follows: Mapping[str, str],
) -> tuple[dict[str, Any], ...]:
    """What was answered to the questions a cap reads, kept with the cap for its reason."""
    found = []
    for qid in read:
        answer = answers.get(qid)
        value = None
        if not applicable.get(qid) and qid not in follows:
            state = "not_asked"
        elif qid in follows or (answer is not None and answer.not_applicable):
            state = "not_applicable"
        elif answer is None or not answer.has_value:
            state = "no_answer"
        else:
            state, value = "answered", _json_value(answer.value)
        found.append({"question": qid, "state": state, "value": value})
    return tuple(found)


def _cap_reason(bank: QuestionBank, answers_read: tuple[dict[str, Any], ...], language: str | None) -> str:
    """The reason shown with a cap: what was answered to each question it reads."""
    notes = []
    for item in answers_read:
        question = bank.questions[item["question"]]
        if item["state"] == "answered":
            note = _answered(bank, question, item["value"], language)
        else:
            note = bank.say(f"reason_{item['state']}", language)
        notes.append(bank.say("reason_question", language, question=question.text.get(language), note=note))
    text = "; ".join(notes)
    return text if not text or text.endswith(".") else text + "."


def _answered(bank: QuestionBank, question: Question, value: Any, language: str | None) -> str:
    shown = display_value(question, value, bank.taxonomy.wording, language)
    return bank.say("reason_answered", language, answer=shown)


def _lens_item(
    plan: _Plan,
    method: Methodology,
    ref: str,
    points_of: dict,
    coverage: float | None = None,
    confidence: str | None = None,
) -> LensItem:
    pairs = [(points_of[qid], weight) for qid, weight in plan.refs[ref] if points_of[qid] is not None]
    value = _mean(pairs)
    band = method.band_for(value)
    return LensItem(ref, plan.ref_labels[ref], value, band.id if band else None, len(pairs), coverage, confidence)


def _answer_lookup(
    profile: Profile,
    answers: Mapping[str, AnswerData],
    applicable: Mapping[str, bool],
    not_in_place: Mapping[str, str] | frozenset = frozenset(),
):
    """Values for conditions; ``not_in_place`` names questions read as unanswered even if they
    apply (those that follow from an answer marked not applicable, for caps)."""

    def lookup(leaf: Leaf) -> Any:
        if leaf.subject == "profile":
            return profile.get(leaf.name)
        answer = answers.get(leaf.name)
        if (
            not applicable.get(leaf.name)
            or leaf.name in not_in_place
            or answer is None
            or answer.not_applicable
            or not answer.has_value
        ):
            return MISSING
        return answer.value

    return lookup


def _json_value(value: Any) -> Any:
    """An answer value as JSON keeps it (a tuple becomes a list)."""
    return list(value) if isinstance(value, tuple) else value


def _trace(condition, values: Mapping[int, Any]) -> dict[str, Any]:
    """How a condition was decided, as plain JSON to freeze in a card: a group is {"group" (all,
    any or none), "holds", "items"}, a leaf {"subject", "name", "operator", "operand", "holds"}
    and, for an answer, the "value" read (None for no answer). ``values`` are by id of leaf."""
    if isinstance(condition, Leaf):
        value = values[id(condition)]
        node = {
            "subject": condition.subject,
            "name": condition.name,
            "operator": condition.operator,
            "operand": _json_value(condition.operand),
            "holds": leaf_holds(condition, value),
        }
        if condition.subject == "answer":
            node["value"] = None if value is MISSING else _json_value(value)
        return node
    if isinstance(condition, Not):
        inner = _trace(condition.item, values)
        return {"group": "none", "holds": not inner["holds"], "items": [inner]}
    items = [_trace(item, values) for item in condition.items]
    if isinstance(condition, All):
        return {"group": "all", "holds": all(i["holds"] for i in items), "items": items}
    return {"group": "any", "holds": any(i["holds"] for i in items), "items": items}


def _trace_leaf(node: Mapping[str, Any]) -> Leaf:
    operand = node["operand"]
    return Leaf(
        node["subject"], node["name"], node["operator"], tuple(operand) if isinstance(operand, list) else operand
    )


def _trace_text(bank: QuestionBank, trace: Mapping[str, Any], language: str | None) -> str:
    """A trace worded in ``language``: the conditions, then what was answered to the questions read."""
    notes: list[str] = []

    def words(node: Mapping[str, Any]) -> str:
        if "group" not in node:
            if node["subject"] == "answer":
                value = node.get("value")
                question = bank.questions[node["name"]]
                notes.append(
                    bank.say("reason_no_answer", language)
                    if value is None
                    else _answered(bank, question, value, language)
                )
            return bank.describe_leaf(_trace_leaf(node), language or reading_language())
        inner = "; ".join(words(item) for item in node["items"])
        return f"{bank.heading(node['group'], language)} {inner}"

    text = words(trace)
    return text + (f" ({'; '.join(notes)})" if notes else "")


def _frozen(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _explained(bank: QuestionBank, plan: _Plan, condition, lookup) -> tuple[bool, dict[str, Any], str]:
    """Whether a condition holds, its trace, and its wording in English with what was actually answered."""
    condition_leaves = plan.leaves.get(id(condition))
    if condition_leaves is None:
        condition_leaves = plan.leaves[id(condition)] = tuple(leaves(condition))
    read = [(leaf, lookup(leaf)) for leaf in condition_leaves]
    key = (id(condition), tuple((id(leaf), _frozen(value)) for leaf, value in read))
    if key not in plan.explanations:
        trace = _trace(condition, {id(leaf): value for leaf, value in read})
        plan.explanations[key] = (trace["holds"], trace, _trace_text(bank, trace, DEFAULT_LANGUAGE))
    return plan.explanations[key]


def _indicator(bank: QuestionBank, plan: _Plan, indicator, lookup) -> IndicatorResult:
    en = DEFAULT_LANGUAGE  # frozen reasons are English, whoever submits; reason_in words them for each reader
    if indicator.applies_when is not None:
        applies, trace, why = _explained(bank, plan, indicator.applies_when, lookup)
        if not applies:
            reason = bank.say("indicator_not_applicable", en, reason=why)
            return IndicatorResult(indicator.id, indicator.label, False, None, reason, (), trace)
    components = []
    for component in indicator.components:
        holds, trace, wording = _explained(bank, plan, component.when, lookup)
        reason = bank.say("component_met" if holds else "component_not_met", en, reason=wording)
        components.append(ComponentResult(component.id, component.label, holds, reason, trace))
    met = all(c.met for c in components)
    return IndicatorResult(
        indicator.id, indicator.label, True, met, _indicator_reason(bank, components, en), tuple(components)
    )


def _indicator_reason(bank: QuestionBank, components, language: str | None) -> str:
    if all(c.met for c in components):
        return bank.say("indicator_met", language)
    missing = "; ".join(bank.catalogues.text(c.label, language) for c in components if not c.met)
    return bank.say("indicator_not_met", language, components=missing)


def reason_in(
    bank: QuestionBank, result: IndicatorResult | ComponentResult | CapResult, language: str | None = None
) -> str:
    """The reason of an indicator, a component or a cap in ``language`` (by default the reader's),
    worded from the parts frozen with it; its frozen English ``reason`` when the card was frozen
    without them, or when a question it names is no longer in the bank."""
    language = language or reading_language()
    if language == DEFAULT_LANGUAGE:
        return result.reason
    try:
        if isinstance(result, CapResult):
            if result.answers_read is None or not result.reason:
                return result.reason
            return _cap_reason(bank, result.answers_read, language)
        if isinstance(result, ComponentResult):
            if result.trace is None:
                return result.reason
            key = "component_met" if result.met else "component_not_met"
            return bank.say(key, language, reason=_trace_text(bank, result.trace, language))
        if not result.applies:
            if result.trace is None:
                return result.reason
            return bank.say("indicator_not_applicable", language, reason=_trace_text(bank, result.trace, language))
        return _indicator_reason(bank, result.components, language)
    except (KeyError, IndexError, TypeError, ValueError):
        return result.reason

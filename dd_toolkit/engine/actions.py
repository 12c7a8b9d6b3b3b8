"""Gaps to a prioritised action plan, and what carries forward from one cycle to the next.

A pure module: it reads the question bank, the methodology, the answers and the score card,
and returns plain frozen dataclasses. No Flask, no database.

How an answer becomes an action (the numbers live in the methodology's ``actions:`` block):

* A *target* is what the methodology expects of an organisation of this size: a maturity
  level per size band (``targets``, with per-question overrides in ``question_targets``;
  level 4 when absent, as in 2026.1). Other question types aim at their best answer.
* A *gap* is a scored question with status ``scored`` whose answer is short of its target.
  Questions a draft has not answered yet are **not** gaps: they are missing answers, listed
  by the score card, and an action plan built from a draft covers only what has been answered.
* Its *steps* are chosen by the answer given (``Question.actions``): for a maturity question
  the steps that lift each level from the current one up to the target; for yes/partly/no the
  steps for "no" or "partly"; for a single choice those of the option chosen; for a multiple
  choice those of each option not ticked. A step never asks for what the answer says is done.
* Its priority points add up: the most severe form of harm the question bears on
  (``harm_severity``), the size of the gap (``gap_points`` by gap band in 2026.1, or
  ``residual_points`` by levels short of the target), ``critical_points`` for a critical
  question (only when it fails the critical threshold if ``critical_points_when: failing``)
  and ``indicator_points`` for an RPA indicator component that rests on the question (only
  when the component is unmet if ``indicator_points_when: unmet``). The total picks the
  priority; ``overrides`` may then raise it when a named condition holds (for example no way
  to stop a live stream), each with the reason shown in the plan.
* With a children's risk register (``register=``, see :mod:`dd_toolkit.engine.risk`), each
  item lists the risks it reduces (the harms whose ``risk.addressed_by`` names one of its
  questions), and an item that addresses a harm whose residual risk is high is raised to the
  methodology's ``risk.uplift`` priority (P1). Without a register nothing changes.
* Gaps of questions in one ``groups`` entry become one action item (id = the group id) that
  keeps a link to every gap; other gaps each become an item whose id is the question id. Ids
  are stable across re-generation, so a UI can keep an owner and a status per item.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from dd_toolkit.engine.content import AnswerData, AnswerType, Profile, Question, QuestionBank
from dd_toolkit.engine.content.conditions import MISSING, evaluate, leaves
from dd_toolkit.engine.content.models import LocalText, say
from dd_toolkit.engine.content.values import display_value
from dd_toolkit.engine.scoring import Methodology, ScoreCard

__all__ = [
    "STATUSES",
    "ActionItem",
    "ActionPlan",
    "CarriedItem",
    "CarryForward",
    "ClosedItem",
    "GapLink",
    "IndicatorLink",
    "RiskLink",
    "StepGroup",
    "answer_steps",
    "build_action_plan",
    "carry_forward",
    "residual_levels",
    "target_for",
]


# Tracking statuses a UI stores per action item.
class ActionStatus(StrEnum):
    """Where the team is with an action item."""

    TODO = "todo"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    WONT_DO = "wont_do"


STATUSES = tuple(status.value for status in ActionStatus)
OPEN_STATUSES = (ActionStatus.TODO, ActionStatus.IN_PROGRESS)
# A step used as a title is cut at a sentence end beyond this many characters.
TITLE_LENGTH = 120
TOP_LEVEL = 4
# Points between two maturity levels on the 0-100 scale, to size the gap of other answer types.
POINTS_PER_LEVEL = 100 / TOP_LEVEL


@dataclass(frozen=True)
class IndicatorLink:
    """An RPA indicator component whose condition reads the question's answer."""

    indicator_id: str
    indicator_label: str
    component_id: str
    component_label: str
    met: bool = False  # whether this organisation's answers meet the component


@dataclass(frozen=True)
class GapLink:
    """One gap, with everything needed to trace an action back to the question that raised it."""

    question_id: str
    question_text: str
    section_id: str
    section_title: str
    module_id: str
    current_answer: str  # the answer in words, e.g. "Level 1: ..." or "Partly"
    current_points: float
    target: str  # "75 points: Level 3: ..." - what this organisation is expected to reach
    gap: str | None  # major | moderate | minor (the score card's band of the points)
    refs: tuple[str, ...]
    ref_labels: tuple[str, ...]  # the framework labels of ``refs``, same order
    harms: tuple[str, ...]
    critical: bool
    indicators: tuple[IndicatorLink, ...]
    function: str | None
    points: float  # priority points of this gap alone
    steps: tuple[str, ...]  # recommended steps from the current answer up to the target
    target_level: int | None = None  # maturity questions: the level aimed at
    residual: int = 0  # maturity levels (or 25-point steps) short of the target
    priority: str = ""  # this gap's own priority, after any override
    raised_by: str = ""  # why an override raised the priority ("" when none did)


@dataclass(frozen=True)
class StepGroup:
    """The steps an item recommends for one of its questions."""

    question_id: str
    steps: tuple[str, ...]


@dataclass(frozen=True)
class RiskLink:
    """One cell of the children's risk register that an action reduces."""

    harm: str
    harm_label: str
    age_group: str
    age_group_label: str
    residual: str  # the residual risk level id (negligible, low, medium, high)
    residual_label: str


@dataclass(frozen=True)
class ActionItem:
    id: str  # the group id for a merged item, else the question id
    title: str
    merged: bool  # True when built from an action group
    priority: str  # P1..
    priority_label: str
    horizon_days: int
    points: float
    function: str | None
    function_label: str | None
    gaps: tuple[GapLink, ...]  # in bank order
    steps: tuple[StepGroup, ...]  # per linked question, de-duplicated
    # With a risk register: the risks this item reduces (highest residual first), and why a
    # high residual risk raised its priority ("" when it did not).
    reduces: tuple[RiskLink, ...] = ()
    risk_raised_by: str = ""

    @property
    def question_ids(self) -> tuple[str, ...]:
        return tuple(g.question_id for g in self.gaps)

    @property
    def refs(self) -> tuple[str, ...]:
        """Framework references of every linked question, first mention first."""
        return tuple(dict.fromkeys(ref for g in self.gaps for ref in g.refs))

    @property
    def all_steps(self) -> tuple[str, ...]:
        return tuple(step for group in self.steps for step in group.steps)

    @property
    def raised_by(self) -> tuple[str, ...]:
        """Why overrides, or a high residual risk, raised the priority of this item, if they did."""
        found = [g.raised_by for g in self.gaps if g.raised_by]
        if self.risk_raised_by:
            found.append(self.risk_raised_by)
        return tuple(dict.fromkeys(found))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        # A plan made without a risk register keeps the shape it had before registers existed.
        for key in ("reduces", "risk_raised_by"):
            if not data[key]:
                del data[key]
        data["question_ids"] = list(self.question_ids)
        data["refs"] = list(self.refs)
        return data


@dataclass(frozen=True)
class ActionPlan:
    methodology: str  # "id@version" of the rules that set the priorities
    items: tuple[ActionItem, ...]  # P1 first, then by points, then bank order
    counts: dict[str, int]  # items per priority id, every priority listed (P1 first)
    priority_labels: dict[str, str]
    horizons: dict[str, int]  # horizon in days per priority id
    size_band: str | None = None  # the organisation's size band, which picks the targets
    target_level: int = TOP_LEVEL  # the maturity level aimed at for this size band

    def item(self, item_id: str) -> ActionItem | None:
        return next((i for i in self.items if i.id == item_id), None)

    def by_priority(self, priority: str) -> tuple[ActionItem, ...]:
        return tuple(i for i in self.items if i.priority == priority)

    @property
    def gap_count(self) -> int:
        return sum(len(i.gaps) for i in self.items)

    @property
    def gap_question_ids(self) -> tuple[str, ...]:
        return tuple(qid for i in self.items for qid in i.question_ids)

    def to_dict(self) -> dict[str, Any]:
        return {
            "methodology": self.methodology,
            "items": [i.to_dict() for i in self.items],
            "counts": dict(self.counts),
            "priority_labels": dict(self.priority_labels),
            "horizons": dict(self.horizons),
            "size_band": self.size_band,
            "target_level": self.target_level,
        }


# -- helpers -----------------------------------------------------------------------------------


def answer_steps(question: Question, value: Any, target_level: int = TOP_LEVEL) -> tuple[str, ...]:
    """The recommended steps for this answer, de-duplicated, in order.

    Maturity: the steps of each level from the answer up to (not including) the target level.
    Yes/partly/no and single choice: the steps of the answer given. Multiple choice: the steps
    of each option not ticked, in questionnaire order.
    """
    actions = question.actions
    found: list[str] = []
    if question.type is AnswerType.MATURITY:
        for level in range(int(value), target_level):
            found.extend(actions.steps_for(str(level)))
    elif question.type is AnswerType.MULTI:
        ticked = set(value or ())
        for option in question.options:
            if option.value not in ticked:
                found.extend(actions.steps_if_missing(option.value))
    else:
        found.extend(actions.steps_for(str(value)))
    return tuple(dict.fromkeys(found))


def target_level_for(method: Methodology, question_id: str, size_band: str | None) -> int:
    """The maturity level the methodology expects of this size band on this question."""
    rules = method.actions
    override = rules.question_targets.get(question_id)
    if isinstance(override, int):
        return override
    if override and size_band in override:
        return override[size_band]
    return rules.targets.get(size_band, TOP_LEVEL) if size_band else TOP_LEVEL


def target_for(
    question: Question,
    wording: Mapping[str, LocalText],
    method: Methodology | None = None,
    level: int = TOP_LEVEL,
    language: str | None = None,
) -> str:
    """What the target looks like for a scored question, with its points, worded with the content's
    ``wording`` (the taxonomy's) in ``language`` (by default the reader's)."""

    def target(points: float, answer: str | None = None) -> str:
        if answer is None:
            return say(wording, "target_points_only", language, points=f"{points:g}")
        return say(wording, "target_points", language, points=f"{points:g}", target=answer)

    if question.type is AnswerType.MATURITY:
        points = method.scales.maturity[level] if method is not None else level * POINTS_PER_LEVEL
        return target(points, display_value(question, level, wording, language))
    if question.type is AnswerType.YES_PARTIAL_NO:
        return target(100, display_value(question, "yes", wording, language))
    scored = [o for o in question.options if o.points]
    if question.type is AnswerType.SINGLE:
        best = max(scored, key=lambda o: o.points or 0, default=None)
        return target(best.points, best.label.get(language)) if best else target(100)
    # Multiple choice adds the points of the options chosen up to 100: the options with the
    # most points, until they reach 100, in questionnaire order.
    chosen: list[str] = []
    total = 0.0
    for option in sorted(scored, key=lambda o: -(o.points or 0)):
        if total >= 100:
            break
        chosen.append(option.value)
        total += option.points or 0
    labels = [o.label.get(language) for o in question.options if o.value in chosen]
    return target(100, "; ".join(labels)) if labels else target(100)


def residual_levels(question: Question, value: Any, points: float, target_level: int) -> int:
    """How far the answer is from its target: maturity levels short of the target level, or,
    for other answer types, 25-point steps short of full marks (rounded up)."""
    if question.type is AnswerType.MATURITY:
        return max(0, target_level - int(value))
    best = 100.0
    if question.type is AnswerType.SINGLE:
        best = max((o.points or 0.0 for o in question.options), default=100.0)
    return max(0, math.ceil((best - points) / POINTS_PER_LEVEL - 1e-9))


def short_title(step: str, limit: int = TITLE_LENGTH) -> str:
    """A step as an item title: whole when short, else cut at the end of a sentence (or, when
    the first sentence is long too, at a word, with an ellipsis)."""
    step = " ".join(step.split())
    if len(step) <= limit:
        return step
    ends = [m.end() for m in re.finditer(r"[.!?](?=\s|$)", step)]
    fitting = [end for end in ends if end <= limit]
    if fitting:
        return step[: fitting[-1]]
    if ends and ends[0] <= limit * 2:
        return step[: ends[0]]
    cut = step[:limit].rsplit(" ", 1)[0].rstrip(",;:-")
    return cut + "…"


def _indicator_links(method: Methodology, card: ScoreCard) -> dict[str, tuple[IndicatorLink, ...]]:
    """Question id -> the indicator components that read it, for indicators that apply."""
    results = {i.id: i for i in card.indicators}
    links: dict[str, list[IndicatorLink]] = {}
    for indicator in method.indicators:
        result = results.get(indicator.id)
        if result is not None and not result.applies:
            continue
        met = {c.id: c.met for c in result.components} if result is not None else {}
        for component in indicator.components:
            link = IndicatorLink(
                indicator.id, indicator.label, component.id, component.label, bool(met.get(component.id))
            )
            for leaf in leaves(component.when):
                if leaf.subject == "answer" and link not in links.setdefault(leaf.name, []):
                    links[leaf.name].append(link)
    return {qid: tuple(found) for qid, found in links.items()}


def _function_of(gaps: Sequence[GapLink]) -> str | None:
    """The most common function among the gaps; ties go to the first in bank order."""
    counts = Counter(g.function for g in gaps if g.function)
    if not counts:
        return None
    best = max(counts.values())
    return next(g.function for g in gaps if g.function and counts[g.function] == best)


def _lookup(bank: QuestionBank, profile: Profile, answers: Mapping[str, AnswerData], card: ScoreCard):
    """Condition lookup over the profile and the answers of questions that apply (with the risk
    register's levels the card was scored with)."""
    applicable = bank.applicability(profile, answers, card.risk)

    def lookup(leaf) -> Any:
        if leaf.subject == "profile":
            return profile.get(leaf.name)
        answer = answers.get(leaf.name)
        if not applicable.get(leaf.name) or answer is None or answer.not_applicable or not answer.has_value:
            return MISSING
        return answer.value

    return lookup


# -- the plan ----------------------------------------------------------------------------------


def build_action_plan(
    bank: QuestionBank,
    method: Methodology,
    profile: Profile,
    answers: Mapping[str, AnswerData],
    card: ScoreCard,
    register: Iterable[Any] | None = None,
) -> ActionPlan:
    """Turn the gaps of a scored assessment into a prioritised action plan.

    Every question the card scored (status ``scored``) whose answer is short of its target
    becomes, or joins, an action item. Unanswered questions in a draft are not gaps - not even
    under a methodology that counts them as zero - so a plan from a draft covers only what has
    been answered. ``profile`` picks the targets (by size band) and feeds the conditions of
    priority overrides; applicability and indicator results come from the card. ``register``
    (the cells of a children's risk register) adds the risks each item reduces and the uplift
    of :func:`dd_toolkit.engine.risk.uplift_plan`; ``None`` leaves the plan as it was.
    """
    rules = method.actions
    taxonomy = bank.taxonomy
    order = {qid: position for position, qid in enumerate(bank.questions)}
    indicator_links = _indicator_links(method, card)
    size_band = profile.get("size_band")
    rank = {p.id: position for position, p in enumerate(rules.priorities)}
    overrides: dict[str, list] = {}
    for override in rules.overrides:
        overrides.setdefault(override.question, []).append(override)
    lookup = _lookup(bank, profile, answers, card) if overrides else None

    gaps: list[GapLink] = []
    for scored in card.questions:
        if scored.status != "scored" or scored.points is None:
            continue
        question = bank.questions.get(scored.question_id)
        answer = answers.get(scored.question_id)
        if question is None or answer is None or not answer.has_value or answer.not_applicable:
            continue
        points_now = float(scored.points)
        if question.type is AnswerType.MATURITY:
            target_level = target_level_for(method, question.id, size_band)
            if int(answer.value) >= target_level:
                continue
        elif scored.gap is None:
            continue
        else:
            target_level = None
        residual = residual_levels(question, answer.value, points_now, target_level or TOP_LEVEL)
        indicators = indicator_links.get(question.id, ())
        failing = points_now < method.critical.below
        if rules.residual_points is not None:
            size_points = rules.residual_points.get(min(residual, max(rules.residual_points)), 0.0)
        else:
            size_points = (rules.gap_points or {}).get(scored.gap, 0.0)
        counts_critical = scored.critical and (rules.critical_points_when == "critical" or failing)
        counts_indicator = bool(indicators) and (
            rules.indicator_points_when == "applies" or any(not link.met for link in indicators)
        )
        points = (
            max((rules.harm_severity.get(h, 0.0) for h in question.harms), default=0.0)
            + size_points
            + (rules.critical_points if counts_critical else 0.0)
            + (rules.indicator_points if counts_indicator else 0.0)
        )
        priority = rules.priority_for(points).id
        raised_by = ""
        for override in overrides.get(question.id, ()):
            if rank[override.at_least] < rank[priority] and evaluate(override.when, lookup):
                priority, raised_by = override.at_least, override.why
        section = bank.section_of[question.id]
        gaps.append(
            GapLink(
                question_id=question.id,
                question_text=question.text.get(),
                section_id=section.id,
                section_title=section.title.get(),
                module_id=bank.module_of[question.id].id,
                current_answer=display_value(question, answer.value, taxonomy.wording),
                current_points=points_now,
                target=target_for(
                    question, taxonomy.wording, method, target_level if target_level is not None else TOP_LEVEL
                ),
                gap=scored.gap,
                refs=question.refs,
                ref_labels=tuple(taxonomy.label("frameworks", ref) for ref in question.refs),
                harms=question.harms,
                critical=bool(scored.critical),
                indicators=indicators,
                function=question.function,
                points=float(points),
                steps=answer_steps(question, answer.value, target_level if target_level is not None else TOP_LEVEL),
                target_level=target_level,
                residual=residual,
                priority=priority,
                raised_by=raised_by,
            )
        )
    gaps.sort(key=lambda g: order[g.question_id])

    group_of = {qid: group for group in rules.groups for qid in group.questions}
    grouped: dict[str, list[GapLink]] = {}
    singles: list[GapLink] = []
    for gap in gaps:
        group = group_of.get(gap.question_id)
        if group is None:
            singles.append(gap)
        else:
            grouped.setdefault(group.id, []).append(gap)

    items: list[ActionItem] = []
    for group in rules.groups:
        if group.id in grouped:
            items.append(_item(group.id, group.title, True, grouped[group.id], method, taxonomy))
    for gap in singles:
        title = short_title(gap.steps[0]) if gap.steps else gap.question_text
        items.append(_item(gap.question_id, title, False, [gap], method, taxonomy))

    items.sort(key=lambda i: (rank[i.priority], -i.points, order[i.gaps[0].question_id]))
    counts = {p.id: 0 for p in rules.priorities}
    for item in items:
        counts[item.priority] += 1
    plan = ActionPlan(
        methodology=method.key,
        items=tuple(items),
        counts=counts,
        priority_labels={p.id: p.label for p in rules.priorities},
        horizons={p.id: p.horizon_days for p in rules.priorities},
        size_band=size_band,
        target_level=rules.targets.get(size_band, TOP_LEVEL) if size_band else TOP_LEVEL,
    )
    if register is None:
        return plan
    from dd_toolkit.engine.risk import uplift_plan  # risk imports this module

    return uplift_plan(plan, register, method, taxonomy)


def _item(item_id: str, title: str, merged: bool, gaps: list[GapLink], method: Methodology, taxonomy) -> ActionItem:
    """One item from its gaps: the highest priority of any of them, and their highest points."""
    rules = method.actions
    points = max(g.points for g in gaps)
    rank = [p.id for p in rules.priorities]
    priority = next(p for p in rules.priorities if p.id == min((g.priority for g in gaps), key=rank.index))
    seen: set[str] = set()
    step_groups = []
    for gap in gaps:
        fresh = tuple(step for step in gap.steps if step not in seen)
        seen.update(fresh)
        if fresh:
            step_groups.append(StepGroup(gap.question_id, fresh))
    function = _function_of(gaps)
    return ActionItem(
        id=item_id,
        title=title,
        merged=merged,
        priority=priority.id,
        priority_label=priority.label,
        horizon_days=priority.horizon_days,
        points=points,
        function=function,
        function_label=taxonomy.label("functions", function) if function else None,
        gaps=tuple(gaps),
        steps=tuple(step_groups),
    )


# -- from one cycle to the next ----------------------------------------------------------------


@dataclass(frozen=True)
class CarriedItem:
    """A previous item that is still open: its id is in the new plan."""

    id: str
    title: str
    previous_status: str
    priority: str  # in the new plan
    question_ids: tuple[str, ...]  # gaps in the new plan
    closed_question_ids: tuple[str, ...]  # linked before, no longer a gap
    new_question_ids: tuple[str, ...]  # gaps the item did not have before
    reopened: bool  # marked done (or won't do) last cycle, yet the gap is still there


@dataclass(frozen=True)
class ClosedItem:
    """A previous item that is not in the new plan."""

    id: str
    title: str
    previous_status: str
    closed_question_ids: tuple[str, ...]  # the gaps that closed
    still_open_question_ids: tuple[str, ...]  # gaps that remain, now under another item
    moved_to: tuple[str, ...]  # ids of the new items holding those


@dataclass(frozen=True)
class CarryForward:
    open: tuple[CarriedItem, ...]
    closed: tuple[ClosedItem, ...]
    new: tuple[str, ...]  # ids of new-plan items that were not in the previous cycle

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def carry_forward(previous_items: Iterable[Mapping[str, Any]], plan: ActionPlan) -> CarryForward:
    """Compare the previous cycle's items (plain dicts ``{id, title, status, question_ids}``,
    status one of :data:`STATUSES`, ``todo`` when missing) with a new plan."""
    previous = list(previous_items)
    current = {item.id: item for item in plan.items}
    item_of_question = {qid: item.id for item in plan.items for qid in item.question_ids}
    carried: list[CarriedItem] = []
    closed: list[ClosedItem] = []
    for old in previous:
        item_id = str(old["id"])
        status = getattr(old.get("status"), "value", old.get("status")) or "todo"
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r} for item {item_id}; use one of {STATUSES}")
        question_ids = tuple(old.get("question_ids") or ())
        title = str(old.get("title") or "")
        if item_id in current:
            item = current[item_id]
            carried.append(
                CarriedItem(
                    id=item_id,
                    title=item.title,
                    previous_status=status,
                    priority=item.priority,
                    question_ids=item.question_ids,
                    closed_question_ids=tuple(q for q in question_ids if q not in item.question_ids),
                    new_question_ids=tuple(q for q in item.question_ids if q not in question_ids),
                    reopened=status in ("done", "wont_do"),
                )
            )
        else:
            remaining = tuple(q for q in question_ids if q in item_of_question)
            closed.append(
                ClosedItem(
                    id=item_id,
                    title=title,
                    previous_status=status,
                    closed_question_ids=tuple(q for q in question_ids if q not in item_of_question),
                    still_open_question_ids=remaining,
                    moved_to=tuple(dict.fromkeys(item_of_question[q] for q in remaining)),
                )
            )
    known = {str(old["id"]) for old in previous}
    return CarryForward(
        open=tuple(carried),
        closed=tuple(closed),
        new=tuple(item.id for item in plan.items if item.id not in known),
    )

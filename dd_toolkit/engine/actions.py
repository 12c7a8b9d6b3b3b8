"""Gaps to a prioritised action plan, and what carries forward from one cycle to the next.

A pure module: it reads the question bank, the methodology, the answers and the score card,
and returns plain frozen dataclasses. No Flask, no database.

How a gap becomes an action (the numbers live in the methodology's ``actions:`` block):

* A *gap* is a scored question with status ``scored`` whose points fall short of good
  practice (``card.questions[...].gap`` is ``major``, ``moderate`` or ``minor``). Questions a
  draft has not answered yet are **not** gaps: they are missing answers, listed by the score
  card, and an action plan built from a draft covers only what has been answered.
* Its priority points add up: the most severe form of harm the question bears on
  (``harm_severity``), the size of the gap (``gap_points``), ``critical_points`` when the
  question is critical, and ``indicator_points`` when an RPA indicator component that applies
  to the organisation rests on the question. The total picks the priority and its horizon.
* Gaps of questions in one ``groups`` entry become one action item (id = the group id) that
  keeps a link to every gap; other gaps each become an item whose id is the question id. Ids
  are stable across re-generation, so a UI can keep an owner and a status per item.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from dd_toolkit.engine.content import AnswerData, AnswerType, GapLevel, Profile, Question, QuestionBank
from dd_toolkit.engine.content.conditions import leaves
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
    "StepGroup",
    "build_action_plan",
    "carry_forward",
    "gap_steps",
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
# From a gap level to the levels whose steps stand in when it has none, nearest first.
_FALLBACK = {
    GapLevel.MINOR: (GapLevel.MINOR, GapLevel.MODERATE, GapLevel.MAJOR),
    GapLevel.MODERATE: (GapLevel.MODERATE, GapLevel.MAJOR, GapLevel.MINOR),
    GapLevel.MAJOR: (GapLevel.MAJOR, GapLevel.MODERATE, GapLevel.MINOR),
}


@dataclass(frozen=True)
class IndicatorLink:
    """An RPA indicator component whose condition reads the question's answer."""

    indicator_id: str
    indicator_label: str
    component_id: str
    component_label: str


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
    target: str  # "100 points: ..." - what good practice looks like
    gap: str  # major | moderate | minor
    refs: tuple[str, ...]
    ref_labels: tuple[str, ...]  # the framework labels of ``refs``, same order
    harms: tuple[str, ...]
    critical: bool
    indicators: tuple[IndicatorLink, ...]
    function: str | None
    points: float  # priority points of this gap alone
    steps: tuple[str, ...]  # recommended steps for its gap level


@dataclass(frozen=True)
class StepGroup:
    """The steps an item recommends for one of its questions."""

    question_id: str
    steps: tuple[str, ...]


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

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
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
        }


# -- helpers -----------------------------------------------------------------------------------


def gap_steps(question: Question, gap: str) -> tuple[str, ...]:
    """The recommended steps for a gap level: the level's own, else those of the next larger
    gap level present, else any there are; de-duplicated, in order."""
    level = GapLevel(gap)
    for candidate in _FALLBACK[level]:
        steps = question.actions.get(candidate)
        if steps:
            return tuple(dict.fromkeys(step.get() for step in steps))
    for steps in question.actions.values():
        if steps:
            return tuple(dict.fromkeys(step.get() for step in steps))
    return ()


def target_for(question: Question) -> str:
    """What 100 points looks like for a scored question."""
    if question.type is AnswerType.MATURITY:
        return f"100 points: Level 4: {question.levels[4].get()}"
    if question.type is AnswerType.YES_PARTIAL_NO:
        return "100 points: Yes"
    scored = [o for o in question.options if o.points]
    if question.type is AnswerType.SINGLE:
        best = max(scored, key=lambda o: o.points or 0, default=None)
        return f"100 points: {best.label.get()}" if best else "100 points"
    # Multiple choice adds the points of the options chosen up to 100: the options with the
    # most points, until they reach 100, in questionnaire order.
    chosen: list[str] = []
    total = 0.0
    for option in sorted(scored, key=lambda o: -(o.points or 0)):
        if total >= 100:
            break
        chosen.append(option.value)
        total += option.points or 0
    labels = [o.label.get() for o in question.options if o.value in chosen]
    return "100 points: " + "; ".join(labels) if labels else "100 points"


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
    applies = {i.id: i.applies for i in card.indicators}
    links: dict[str, list[IndicatorLink]] = {}
    for indicator in method.indicators:
        if not applies.get(indicator.id, True):
            continue
        for component in indicator.components:
            link = IndicatorLink(indicator.id, indicator.label, component.id, component.label)
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


# -- the plan ----------------------------------------------------------------------------------


def build_action_plan(
    bank: QuestionBank,
    method: Methodology,
    profile: Profile,
    answers: Mapping[str, AnswerData],
    card: ScoreCard,
) -> ActionPlan:
    """Turn the gaps of a scored assessment into a prioritised action plan.

    Every question the card scored (status ``scored``) with a gap becomes, or joins, an
    action item. Unanswered questions in a draft are not gaps - not even under a methodology
    that counts them as zero - so a plan from a draft covers only what has been answered.
    ``profile`` is accepted for symmetry with :func:`dd_toolkit.scoring.score`; what it
    decides is already in the card.
    """
    del profile  # applicability and indicator applicability come from the card
    rules = method.actions
    taxonomy = bank.taxonomy
    order = {qid: position for position, qid in enumerate(bank.questions)}
    indicator_links = _indicator_links(method, card)

    gaps: list[GapLink] = []
    for scored in card.questions:
        if scored.status != "scored" or scored.gap is None or scored.points is None:
            continue
        question = bank.questions.get(scored.question_id)
        answer = answers.get(scored.question_id)
        if question is None or answer is None or not answer.has_value or answer.not_applicable:
            continue
        indicators = indicator_links.get(question.id, ())
        points = (
            max((rules.harm_severity.get(h, 0.0) for h in question.harms), default=0.0)
            + rules.gap_points[scored.gap]
            + (rules.critical_points if scored.critical else 0.0)
            + (rules.indicator_points if indicators else 0.0)
        )
        section = bank.section_of[question.id]
        gaps.append(
            GapLink(
                question_id=question.id,
                question_text=question.text.get(),
                section_id=section.id,
                section_title=section.title.get(),
                module_id=bank.module_of[question.id].id,
                current_answer=display_value(question, answer.value),
                current_points=float(scored.points),
                target=target_for(question),
                gap=scored.gap,
                refs=question.refs,
                ref_labels=tuple(taxonomy.label("frameworks", ref) for ref in question.refs),
                harms=question.harms,
                critical=bool(scored.critical),
                indicators=indicators,
                function=question.function,
                points=float(points),
                steps=gap_steps(question, scored.gap),
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

    rank = {p.id: position for position, p in enumerate(rules.priorities)}
    items.sort(key=lambda i: (rank[i.priority], -i.points, order[i.gaps[0].question_id]))
    counts = {p.id: 0 for p in rules.priorities}
    for item in items:
        counts[item.priority] += 1
    return ActionPlan(
        methodology=method.key,
        items=tuple(items),
        counts=counts,
        priority_labels={p.id: p.label for p in rules.priorities},
        horizons={p.id: p.horizon_days for p in rules.priorities},
    )


def _item(item_id: str, title: str, merged: bool, gaps: list[GapLink], method: Methodology, taxonomy) -> ActionItem:
    points = max(g.points for g in gaps)
    priority = method.actions.priority_for(points)
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

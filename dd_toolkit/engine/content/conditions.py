"""Applicability conditions: a small, declarative language over profile fields and answers.

Written in YAML as nested mappings, never evaluated as code::

    applies_when:
      all:
        - {profile: features, includes: live_streaming}
        - not: {profile: size_band, equals: startup}
        - any:
            - {answer: hrdd.risk.assessment_done, in: ["yes", partial]}
            - {answer: hrdd.risk.maturity, gte: 2}

Leaves name a profile field or an earlier question, and one operator. ``all``/``any`` take a
list, ``not`` takes one condition.

A leaf may also read the assessment's children's risk register: ``{risk: grooming, at_least:
medium}`` holds when the register rates the harm (its risk before the controls, the highest over
the age groups rated relevant) at that level or above, on the order of the methodology's
``risk.levels``. The risk before the controls, because the questions it brings in ask about
those controls: answering them must not make them disappear. Without a register, or with the
harm not rated, it does not hold. Only applicability rules read the register
(:class:`RiskLevels` is what they read).

A leaf ``{condition: NAME}`` stands for a named condition defined once in the taxonomy
(``conditions:`` in ``questionnaires/_taxonomy.yaml``). Names are expanded when content is
parsed, inside :func:`named_conditions`, so the trees that are evaluated hold only the four
node types below.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from dd_toolkit.engine.content.answers import PROFILE_FIELDS, PROFILE_LIST_FIELDS, PROFILE_SCALAR_FIELDS  # noqa: F401

LIST_OPERATORS = ("includes", "includes_any", "includes_all")
SCALAR_OPERATORS = ("equals", "in", "not_in", "gte", "lte")
ANSWER_ONLY_OPERATORS = ("answered",)
RISK_OPERATORS = ("at_least",)
OPERATORS = LIST_OPERATORS + SCALAR_OPERATORS + ANSWER_ONLY_OPERATORS + RISK_OPERATORS


class ConditionError(ValueError):
    """A condition is malformed."""


@dataclass(frozen=True)
class All:
    items: tuple[Condition, ...]


@dataclass(frozen=True)
class Any_:
    items: tuple[Condition, ...]


@dataclass(frozen=True)
class Not:
    item: Condition


@dataclass(frozen=True)
class Leaf:
    subject: str  # "profile", "answer" or "risk"
    name: str  # the profile field, the question id or the harm id
    operator: str
    operand: Any


Condition = All | Any_ | Not | Leaf

# The named conditions in force while content is parsed (name -> YAML form or parsed tree),
# and the names being expanded right now (to report cycles).
_NAMED: ContextVar[Mapping[str, Any] | None] = ContextVar("named_conditions", default=None)
_EXPANDING: ContextVar[tuple[str, ...]] = ContextVar("expanding_conditions", default=())


@contextmanager
def named_conditions(definitions: Mapping[str, Any]) -> Iterator[None]:
    """Parse conditions inside this block with ``{condition: NAME}`` resolved from ``definitions``."""
    token = _NAMED.set(definitions)
    try:
        yield
    finally:
        _NAMED.reset(token)


def parse_named_conditions(definitions: Mapping[str, Any]) -> dict[str, Condition]:
    """Parse a map of named conditions, which may refer to each other (not in a cycle)."""
    if not isinstance(definitions, Mapping):
        raise ConditionError("'conditions' must map names to conditions")
    parsed: dict[str, Condition] = {}
    with named_conditions(definitions):
        for name in definitions:
            if not isinstance(name, str) or not name:
                raise ConditionError(f"a named condition needs a text name, not {name!r}")
            parsed[name] = _expand(name)
    return parsed


def _expand(name: Any) -> Condition:
    if not isinstance(name, str):
        raise ConditionError(f"'condition' must name a condition, not {name!r}")
    definitions = _NAMED.get() or {}
    if name not in definitions:
        known = ", ".join(sorted(definitions)) or "none are defined"
        raise ConditionError(f"unknown named condition '{name}' (known: {known})")
    path = _EXPANDING.get()
    if name in path:
        cycle = " -> ".join((*path[path.index(name) :], name))
        raise ConditionError(f"named conditions form a cycle: {cycle}")
    token = _EXPANDING.set((*path, name))
    try:
        return parse_condition(definitions[name])
    finally:
        _EXPANDING.reset(token)


def parse_condition(raw: Any) -> Condition:
    """Turn the YAML form into a condition tree, or raise :class:`ConditionError`."""
    if isinstance(raw, All | Any_ | Not | Leaf):
        return raw
    if not isinstance(raw, Mapping):
        raise ConditionError(f"a condition must be a mapping, not {raw!r}")
    keys = set(raw)
    if keys == {"condition"}:
        return _expand(raw["condition"])
    if keys == {"all"} or keys == {"any"}:
        (key,) = keys
        items = raw[key]
        if not isinstance(items, list) or not items:
            raise ConditionError(f"'{key}' needs a non-empty list of conditions")
        parsed = tuple(parse_condition(item) for item in items)
        return All(parsed) if key == "all" else Any_(parsed)
    if keys == {"not"}:
        return Not(parse_condition(raw["not"]))
    subjects = keys & {"profile", "answer", "risk"}
    if len(subjects) != 1:
        raise ConditionError(
            "a condition is 'all', 'any', 'not', a named 'condition', or names one 'profile' field, 'answer' "
            f"or 'risk' (a harm of the risk register); got keys {sorted(keys)}"
        )
    (subject,) = subjects
    operators = keys - subjects
    if len(operators) != 1:
        raise ConditionError(
            f"a {subject} condition needs exactly one operator out of {', '.join(OPERATORS)}; "
            f"got {sorted(operators) or 'none'}"
        )
    (operator,) = operators
    if operator not in OPERATORS:
        raise ConditionError(f"unknown operator '{operator}'; use one of {', '.join(OPERATORS)}")
    name = raw[subject]
    operand = raw[operator]
    if not isinstance(name, str):
        raise ConditionError(f"'{subject}' must name a field, question id or harm, not {name!r}")
    if (subject == "risk") != (operator in RISK_OPERATORS):
        if subject == "risk":
            raise ConditionError(f"a risk condition takes 'at_least' (a risk level), not '{operator}'")
        raise ConditionError(f"'{operator}' only applies to a 'risk' condition (a harm of the risk register)")
    if subject == "risk":
        if not isinstance(operand, str) or not operand:
            raise ConditionError("'at_least' needs a risk level id, such as medium")
        return Leaf(subject, name, operator, operand)
    if subject == "profile":
        if name not in PROFILE_FIELDS:
            raise ConditionError(f"unknown profile field '{name}'; use one of {', '.join(PROFILE_FIELDS)}")
        if operator in ANSWER_ONLY_OPERATORS:
            raise ConditionError(f"'{operator}' only applies to answers")
        allowed = LIST_OPERATORS if name in PROFILE_LIST_FIELDS else ("equals", "in", "not_in")
        if operator not in allowed:
            raise ConditionError(f"profile field '{name}' takes {', '.join(allowed)}, not '{operator}'")
    if operator in ("includes_any", "includes_all", "in", "not_in"):
        if not isinstance(operand, list) or not operand:
            raise ConditionError(f"'{operator}' needs a non-empty list")
        operand = tuple(str(v) if not isinstance(v, int | float) else v for v in operand)
    elif operator in ("gte", "lte"):
        if not isinstance(operand, int | float) or isinstance(operand, bool):
            raise ConditionError(f"'{operator}' needs a number")
    elif operator == "answered":
        if not isinstance(operand, bool):
            raise ConditionError("'answered' needs true or false")
    elif isinstance(operand, list | dict):
        raise ConditionError(f"'{operator}' needs a single value")
    return Leaf(subject, name, operator, operand)


def leaves(condition: Condition | None) -> Iterator[Leaf]:
    if condition is None:
        return
    if isinstance(condition, Leaf):
        yield condition
    elif isinstance(condition, Not):
        yield from leaves(condition.item)
    else:
        for item in condition.items:
            yield from leaves(item)


def risk_dependencies(condition: Condition | None) -> set[str]:
    """Harms of the risk register the condition reads."""
    return {leaf.name for leaf in leaves(condition) if leaf.subject == "risk"}


@dataclass(frozen=True)
class RiskLevels:
    """What applicability reads of an assessment's children's risk register: the levels, lowest
    first (the methodology's ``risk.levels``), and per harm the highest risk before the controls
    over the age groups rated relevant. A submission's score card keeps the ones it was scored
    with (:meth:`to_dict`), so what it means stays as it was submitted."""

    order: tuple[str, ...]
    harms: tuple[tuple[str, str], ...] = ()  # (harm, level), in the order given

    def level(self, harm: str) -> str | None:
        return dict(self.harms).get(harm)

    def reached(self, harm: str) -> Any:
        """The levels the harm is rated at or above (``MISSING`` when it is not rated)."""
        level = self.level(harm)
        if level is None or level not in self.order:
            return _MISSING
        return self.order[: self.order.index(level) + 1]

    def to_dict(self) -> dict[str, Any]:
        return {"order": list(self.order), "harms": dict(self.harms)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> RiskLevels | None:
        if not data:
            return None
        return cls(
            tuple(data.get("order") or ()), tuple((str(h), str(v)) for h, v in (data.get("harms") or {}).items())
        )


def risk_value(risk: RiskLevels | None, leaf: Leaf) -> Any:
    """What a lookup gives a ``risk`` leaf: the levels its harm reached, or ``MISSING``."""
    return risk.reached(leaf.name) if risk is not None else _MISSING


def answer_dependencies(condition: Condition | None) -> set[str]:
    """Question ids whose answers the condition reads."""
    return {leaf.name for leaf in leaves(condition) if leaf.subject == "answer"}


_MISSING = object()


def leaf_holds(leaf: Leaf, value: Any) -> bool:
    """Whether one leaf holds for a value (``_MISSING`` when there is no answer)."""
    if leaf.operator == "answered":
        return (value is not _MISSING) == leaf.operand
    if leaf.operator == "at_least":
        return isinstance(value, tuple) and leaf.operand in value
    if value is _MISSING or value is None:
        # "not_in" over a missing value stays false: nothing is known.
        return False
    op, operand = leaf.operator, leaf.operand
    if op in LIST_OPERATORS:
        present = set(value) if isinstance(value, list | tuple | set) else {value}
        if op == "includes":
            return operand in present
        if op == "includes_any":
            return bool(present & set(operand))
        return set(operand) <= present
    if isinstance(value, list | tuple):
        return False
    if op == "equals":
        return _same(value, operand)
    if op == "in":
        return any(_same(value, v) for v in operand)
    if op == "not_in":
        return not any(_same(value, v) for v in operand)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return False
    return number >= operand if op == "gte" else number <= operand


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, int | float) and isinstance(b, int | float):
        return float(a) == float(b)
    return str(a) == str(b)


@dataclass(frozen=True)
class Explanation:
    """A readable trace of how a condition was decided, for the "why is this shown" note."""

    text: str
    holds: bool
    children: tuple[Explanation, ...] = ()


Lookup = Callable[[Leaf], Any]
Describe = Callable[[Leaf], str]


def assessment_lookup(
    profile: Mapping[str, Any], answers: Mapping[str, Any], risk: RiskLevels | None, applies: Callable[[str], bool]
) -> Lookup:
    """What a condition reads in an assessment: a profile field, the levels the risk register
    reached (``risk``), or an answer's value. An answer reads as missing when its question does
    not apply (``applies``), is unanswered or is marked not applicable."""

    def lookup(leaf: Leaf) -> Any:
        if leaf.subject == "profile":
            return profile.get(leaf.name)
        if leaf.subject == "risk":
            return risk_value(risk, leaf)
        if not applies(leaf.name):
            return _MISSING
        answer = answers.get(leaf.name)
        if answer is None or answer.not_applicable or not answer.has_value:
            return _MISSING
        return answer.value

    return lookup


def evaluate(condition: Condition | None, lookup: Lookup) -> bool:
    if condition is None:
        return True
    if isinstance(condition, Leaf):
        return leaf_holds(condition, lookup(condition))
    if isinstance(condition, Not):
        return not evaluate(condition.item, lookup)
    results = (evaluate(item, lookup) for item in condition.items)
    return all(results) if isinstance(condition, All) else any(results)


def explain(
    condition: Condition, lookup: Lookup, describe: Describe, heading: Callable[[str], str] = str
) -> Explanation:
    """The trace of a condition, worded by ``describe`` (a leaf) and ``heading`` (a group: given
    "all", "any" or "none", it returns the words, e.g. the taxonomy's ``condition_all``)."""
    if isinstance(condition, Leaf):
        return Explanation(describe(condition), leaf_holds(condition, lookup(condition)))
    if isinstance(condition, Not):
        inner = explain(condition.item, lookup, describe, heading)
        return Explanation(heading("none"), not inner.holds, (inner,))
    children = tuple(explain(item, lookup, describe, heading) for item in condition.items)
    if isinstance(condition, All):
        return Explanation(heading("all"), all(c.holds for c in children), children)
    return Explanation(heading("any"), any(c.holds for c in children), children)


MISSING = _MISSING


Predicate = Callable[[Lookup], bool]


def compile_condition(condition: Condition | None) -> Predicate:
    """The condition as a function of a lookup, with the tree walked once here rather than on
    every evaluation (the engine evaluates the same conditions for thousands of assessments)."""
    if condition is None:
        return lambda lookup: True
    if isinstance(condition, Leaf):
        return _compile_leaf(condition)
    if isinstance(condition, Not):
        inner = compile_condition(condition.item)
        return lambda lookup: not inner(lookup)
    parts = tuple(compile_condition(item) for item in condition.items)
    if isinstance(condition, All):

        def all_hold(lookup: Lookup) -> bool:
            for part in parts:
                if not part(lookup):
                    return False
            return True

        return all_hold

    def any_holds(lookup: Lookup) -> bool:
        for part in parts:
            if part(lookup):
                return True
        return False

    return any_holds


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float)  # as in _same, where True counts as 1


def _compile_leaf(leaf: Leaf) -> Predicate:
    """A leaf as a closure specialised to its operator; it decides exactly as
    :func:`leaf_holds` does (the tests compare the two)."""
    op, operand = leaf.operator, leaf.operand
    if op in ("equals", "in", "not_in"):
        operands = operand if isinstance(operand, tuple) else (operand,)
        numbers = frozenset(float(v) for v in operands if _is_number(v))
        texts = frozenset(str(v) for v in operands if not _is_number(v))
        all_texts = frozenset(str(v) for v in operands)

        def matches(value: Any) -> bool:
            if _is_number(value):
                return float(value) in numbers or str(value) in texts
            return str(value) in all_texts

        def holds(lookup: Lookup) -> bool:
            value = lookup(leaf)
            if value is _MISSING or value is None or isinstance(value, list | tuple):
                return False
            return matches(value) if op != "not_in" else not matches(value)

        return holds
    return lambda lookup: leaf_holds(leaf, lookup(leaf))

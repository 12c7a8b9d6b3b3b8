"""The loaded question bank and what can be asked of it: lookups and applicability."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dd_toolkit.engine.content.answers import AnswerData, Profile
from dd_toolkit.engine.content.catalogues import Catalogues, load_catalogues
from dd_toolkit.engine.content.conditions import (
    MISSING,
    All,
    Explanation,
    Leaf,
    Predicate,
    RiskLevels,
    compile_condition,
    explain,
    risk_value,
)
from dd_toolkit.engine.content.languages import load_languages
from dd_toolkit.engine.content.loader import load_content_parts
from dd_toolkit.engine.content.models import AnswerType, Question, Questionnaire, Section, Taxonomy


@dataclass(frozen=True)
class Visibility:
    """Whether a question applies to an organisation, and the trace of why."""

    applies: bool
    reasons: tuple[Explanation, ...] = ()


@dataclass
class QuestionBank:
    root: Path
    taxonomy: Taxonomy
    questionnaires: tuple[Questionnaire, ...]
    # The content's translations: applied to the questions at load, and read for the plain
    # English texts (scoring labels, report sentences) when they are shown.
    catalogues: Catalogues = field(default_factory=Catalogues, compare=False)
    questions: dict[str, Question] = field(init=False)
    section_of: dict[str, Section] = field(init=False)
    module_of: dict[str, Questionnaire] = field(init=False)
    _descriptions: dict[tuple[Leaf, str], str] = field(init=False, repr=False, compare=False)
    # Per question, its section's and its own condition as one compiled predicate.
    _predicates: dict[str, Predicate] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.questions, self.section_of, self.module_of = {}, {}, {}
        self._descriptions = {}
        self._predicates = {}
        for module in self.questionnaires:
            for section in module.sections:
                for question in section.questions:
                    self.questions[question.id] = question
                    self.section_of[question.id] = section
                    self.module_of[question.id] = module
                    conditions = tuple(c for c in (section.applies_when, question.applies_when) if c is not None)
                    self._predicates[question.id] = compile_condition(
                        All(conditions) if len(conditions) > 1 else next(iter(conditions), None)
                    )

    # -- lookups -------------------------------------------------------------------
    def versions(self) -> dict[str, str]:
        return {m.id: m.version for m in self.questionnaires}

    def module(self, module_id: str) -> Questionnaire | None:
        return next((m for m in self.questionnaires if m.id == module_id), None)

    def section(self, section_id: str) -> tuple[Questionnaire, Section] | None:
        for module in self.questionnaires:
            for section in module.sections:
                if section.id == section_id:
                    return module, section
        return None

    def by_form_key(self, key: str) -> Question | None:
        return self.questions.get(key.replace("-", "."))

    # -- applicability -------------------------------------------------------------
    def applicability(
        self, profile: Profile, answers: Mapping[str, AnswerData], risk: RiskLevels | None = None
    ) -> dict[str, bool]:
        """Which questions apply, given the profile, the answers saved so far and the levels of
        the assessment's risk register (``risk``; None without a register).

        A condition on an earlier answer reads nothing from a question that does not apply
        itself, or that is unanswered or marked not applicable.
        """
        memo: dict[str, bool] = {}

        def lookup(leaf: Leaf) -> Any:
            if leaf.subject == "profile":
                return profile.get(leaf.name)
            if leaf.subject == "risk":
                return risk_value(risk, leaf)
            if not applies(leaf.name):
                return MISSING
            answer = answers.get(leaf.name)
            if answer is None or answer.not_applicable or not answer.has_value:
                return MISSING
            return answer.value

        predicates = self._predicates

        def applies(qid: str) -> bool:
            if qid not in memo:
                memo[qid] = predicates[qid](lookup)
            return memo[qid]

        for qid in self.questions:
            applies(qid)
        # Keep the bank's order, which is the order questions are shown in.
        return {qid: memo[qid] for qid in self.questions}

    def visibility(
        self,
        qid: str,
        profile: Profile,
        answers: Mapping[str, AnswerData],
        language: str = "en",
        applicable: Mapping[str, bool] | None = None,
        risk: RiskLevels | None = None,
    ) -> Visibility:
        """Whether a question applies and why; pass ``applicable`` when the applicability of the
        whole bank is already worked out (a page asking about many questions)."""
        if applicable is None:
            applicable = self.applicability(profile, answers, risk)

        def lookup(leaf: Leaf) -> Any:
            if leaf.subject == "profile":
                return profile.get(leaf.name)
            if leaf.subject == "risk":
                return risk_value(risk, leaf)
            answer = answers.get(leaf.name)
            if not applicable.get(leaf.name) or answer is None or answer.not_applicable or not answer.has_value:
                return MISSING
            return answer.value

        describe = functools.partial(self.describe_leaf, language=language)
        reasons = tuple(
            explain(cond, lookup, describe)
            for cond in (self.section_of[qid].applies_when, self.questions[qid].applies_when)
            if cond is not None
        )
        return Visibility(applicable[qid], reasons)

    # -- wording -------------------------------------------------------------------
    _PROFILE_NAMES = {
        "service_types": ("service types", "service_types"),
        "features": ("product features", "features"),
        "countries": ("countries of operation", "countries"),
        "hq_country": ("headquarters country", "countries"),
        "size_band": ("size", "size_bands"),
        "under18_users": ("under-18 users", "under18_users"),
        "age_groups": ("age groups", "age_groups"),
    }

    def describe_leaf(self, leaf: Leaf, language: str = "en") -> str:
        """Plain-language wording of one condition, e.g. "Product features include Live streaming"."""
        key = (leaf, language)
        if key not in self._descriptions:
            self._descriptions[key] = self._describe(leaf, language)
        return self._descriptions[key]

    def _describe(self, leaf: Leaf, language: str) -> str:
        if leaf.subject == "risk":
            harm = self.taxonomy.label("harms", leaf.name, language)
            return f"The risk register rates {harm} {leaf.operand} or higher (before the controls)"
        if leaf.subject == "profile":
            name, vocabulary = self._PROFILE_NAMES[leaf.name]

            def label(v: Any) -> str:
                return self.taxonomy.label(vocabulary, str(v), language)

            subject = f"The organisation's {name}"
        else:
            question = self.questions[leaf.name]
            short = question.text.get(language)
            if len(short) > 90:
                short = short[:87].rstrip() + "..."

            def label(v: Any) -> str:
                return _answer_label(question, v, language)

            subject = f'The answer to "{short}"'
        operand = leaf.operand
        if leaf.operator == "answered":
            return f"{subject} {'has' if operand else 'has not'} been given"
        if leaf.operator == "includes":
            return f"{subject} include {label(operand)}"
        if leaf.operator == "includes_any":
            return f"{subject} include any of: {', '.join(label(v) for v in operand)}"
        if leaf.operator == "includes_all":
            return f"{subject} include all of: {', '.join(label(v) for v in operand)}"
        if leaf.operator == "equals":
            return f"{subject} is {label(operand)}"
        if leaf.operator == "in":
            return f"{subject} is one of: {', '.join(label(v) for v in operand)}"
        if leaf.operator == "not_in":
            return f"{subject} is none of: {', '.join(label(v) for v in operand)}"
        comparison = "at least" if leaf.operator == "gte" else "at most"
        return f"{subject} is {comparison} {label(operand)}"


def _answer_label(question: Question, value: Any, language: str) -> str:
    if question.type is AnswerType.YES_PARTIAL_NO:
        return {"yes": "Yes", "partial": "Partly", "no": "No"}.get(str(value), str(value))
    if question.type is AnswerType.MATURITY:
        return f"level {value}"
    if question.type in (AnswerType.SINGLE, AnswerType.MULTI):
        return question.option_label(str(value), language)
    return str(value)


def load_bank(root: Path) -> QuestionBank:
    taxonomy, questionnaires = load_content_parts(root)
    catalogues = load_catalogues(root, load_languages(Path(root) / "questionnaires"))
    catalogues.apply([taxonomy, *questionnaires])
    return QuestionBank(Path(root), taxonomy, tuple(questionnaires), catalogues)

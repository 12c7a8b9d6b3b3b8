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
    All,
    Explanation,
    Leaf,
    Predicate,
    RiskLevels,
    assessment_lookup,
    compile_condition,
    explain,
)
from dd_toolkit.engine.content.languages import load_languages
from dd_toolkit.engine.content.loader import load_content_parts
from dd_toolkit.engine.content.models import (
    AnswerType,
    Question,
    Questionnaire,
    Section,
    Taxonomy,
    reading_language,
)


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
    # The risk register's levels by id with their English labels, named by the methodology the
    # content is scored with (name_risk_levels), for conditions on a harm's level.
    _risk_levels: dict[str, str] = field(default_factory=dict, repr=False, compare=False)
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
        predicates = self._predicates

        def applies(qid: str) -> bool:
            if qid not in memo:
                memo[qid] = predicates[qid](lookup)
            return memo[qid]

        lookup = assessment_lookup(profile, answers, risk, applies)

        for qid in self.questions:
            applies(qid)
        # Keep the bank's order, which is the order questions are shown in.
        return {qid: memo[qid] for qid in self.questions}

    def visibility(
        self,
        qid: str,
        profile: Profile,
        answers: Mapping[str, AnswerData],
        language: str | None = None,
        applicable: Mapping[str, bool] | None = None,
        risk: RiskLevels | None = None,
    ) -> Visibility:
        """Whether a question applies and why; pass ``applicable`` when the applicability of the
        whole bank is already worked out (a page asking about many questions)."""
        if applicable is None:
            applicable = self.applicability(profile, answers, risk)

        lookup = assessment_lookup(profile, answers, risk, lambda qid: bool(applicable.get(qid)))

        language = language or reading_language()  # by default the reader's
        describe = functools.partial(self.describe_leaf, language=language)
        heading = functools.partial(self.heading, language=language)
        reasons = tuple(
            explain(cond, lookup, describe, heading)
            for cond in (self.section_of[qid].applies_when, self.questions[qid].applies_when)
            if cond is not None
        )
        return Visibility(applicable[qid], reasons)

    # -- wording -------------------------------------------------------------------
    def say(self, key: str, language: str | None = None, **params: Any) -> str:
        """One of the engine's sentences (the taxonomy's ``wording``) in ``language``, by default the reader's."""
        return self.taxonomy.say(key, language, **params)

    def heading(self, kind: str, language: str | None = None) -> str:
        """The words over a group of conditions: ``kind`` is "all", "any" or "none"."""
        return self.say(f"condition_{kind}", language)

    # The vocabulary of the taxonomy each profile field's values come from.
    _PROFILE_VOCABULARIES = {
        "service_types": "service_types",
        "features": "features",
        "countries": "countries",
        "hq_country": "countries",
        "size_band": "size_bands",
        "under18_users": "under18_users",
        "age_groups": "age_groups",
    }

    def name_risk_levels(self, labels: Mapping[str, str]) -> None:
        """The risk levels' labels (English, by id) that condition wording names a level by."""
        self._risk_levels = dict(labels)
        self._descriptions.clear()

    def describe_leaf(self, leaf: Leaf, language: str = "en") -> str:
        """Plain-language wording of one condition, e.g. "Product features include Live streaming"."""
        key = (leaf, language)
        if key not in self._descriptions:
            self._descriptions[key] = self._describe(leaf, language)
        return self._descriptions[key]

    def _describe(self, leaf: Leaf, language: str) -> str:
        if leaf.subject == "risk":
            harm = self.taxonomy.label("harms", leaf.name, language)
            level = self.catalogues.text(self._risk_levels.get(leaf.operand, leaf.operand), language)
            return self.say("condition_risk", language, harm=harm, level=level)
        if leaf.subject == "profile":
            vocabulary = self._PROFILE_VOCABULARIES[leaf.name]

            def label(v: Any) -> str:
                return self.taxonomy.label(vocabulary, str(v), language)

            subject = self.say("condition_subject_profile", language, field=self.say(f"profile_{leaf.name}", language))
        else:
            question = self.questions[leaf.name]
            short = question.text.get(language)
            if len(short) > 90:
                short = short[:87].rstrip() + "..."

            def label(v: Any) -> str:
                return self._answer_label(question, v, language)

            subject = self.say("condition_subject_answer", language, question=short)
        operand = leaf.operand
        if leaf.operator == "answered":
            return self.say("condition_answered" if operand else "condition_not_answered", language, subject=subject)
        if leaf.operator in ("includes_any", "includes_all", "in", "not_in"):
            values = ", ".join(label(v) for v in operand)
            return self.say(f"condition_{leaf.operator}", language, subject=subject, values=values)
        return self.say(f"condition_{leaf.operator}", language, subject=subject, value=label(operand))

    def _answer_label(self, question: Question, value: Any, language: str) -> str:
        if question.type is AnswerType.YES_PARTIAL_NO:
            key = {"yes": "answer_yes", "partial": "answer_partial", "no": "answer_no"}.get(str(value))
            return self.say(key, language) if key else str(value)
        if question.type is AnswerType.MATURITY:
            return self.say("condition_level", language, level=value)
        if question.type in (AnswerType.SINGLE, AnswerType.MULTI):
            return question.option_label(str(value), language)
        return str(value)


def load_bank(root: Path) -> QuestionBank:
    taxonomy, questionnaires = load_content_parts(root)
    catalogues = load_catalogues(root, load_languages(Path(root) / "questionnaires"))
    catalogues.apply([taxonomy, *questionnaires])
    return QuestionBank(Path(root), taxonomy, tuple(questionnaires), catalogues)

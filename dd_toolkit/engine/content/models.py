"""Typed models of the questionnaire content.

The YAML in ``questionnaires/`` is validated into these models by :mod:`.loader`. They are
plain pydantic models with no Flask or database imports, so the CLI, the web pages and the
tests all share them.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from dd_toolkit.engine.content.conditions import Condition, parse_condition, parse_named_conditions

ID_PATTERN = r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$"
DEFAULT_LANGUAGE = "en"


# The language content is read in: set per request by the web layer and per document by the
# CLI, so every ``LocalText.get()`` follows the reader without being told.
_language: ContextVar[str] = ContextVar("dd_content_language", default=DEFAULT_LANGUAGE)
_fallbacks: ContextVar[set[str] | None] = ContextVar("dd_content_fallbacks", default=None)


def set_content_language(language: str) -> None:
    """Read content in ``language`` from now on in this context (a request), noting the texts
    shown in English for want of a translation."""
    _language.set(language)
    _fallbacks.set(set())


def reset_content_language() -> None:
    """Back to English with nothing noted: the end of a request, so nothing outlives it."""
    _language.set(DEFAULT_LANGUAGE)
    _fallbacks.set(None)


@contextmanager
def content_language(language: str) -> Iterator[set[str]]:
    """Read content in ``language`` inside the block; yields the set of texts that fell back to
    English, filled as they are read."""
    noted: set[str] = set()
    language_token, fallback_token = _language.set(language), _fallbacks.set(noted)
    try:
        yield noted
    finally:
        _language.reset(language_token)
        _fallbacks.reset(fallback_token)


def reading_language() -> str:
    return _language.get()


def note_fallback(english: str) -> None:
    """Note that ``english`` was shown for want of a translation in the reader's language."""
    noted = _fallbacks.get()
    if noted is not None:
        noted.add(english)


def fallbacks() -> set[str]:
    """The texts read in English so far for want of a translation (in this context)."""
    noted = _fallbacks.get()
    return noted if noted is not None else set()


class LocalText(BaseModel):
    """Text with an English original and optional translations keyed by language code.

    In YAML it is written either as a plain string (English) or as a mapping
    ``{en: ..., id: ..., th: ...}``.
    """

    model_config = ConfigDict(frozen=True)
    translations: dict[str, str]

    @model_validator(mode="before")
    @classmethod
    def _from_yaml(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"translations": {DEFAULT_LANGUAGE: value}}
        if isinstance(value, dict) and "translations" not in value:
            return {"translations": value}
        return value

    @field_validator("translations")
    @classmethod
    def _needs_english(cls, value: dict[str, str]) -> dict[str, str]:
        if not value.get(DEFAULT_LANGUAGE, "").strip():
            raise ValueError("text must have a non-empty English ('en') version")
        return value

    def get(self, language: str | None = None) -> str:
        """The text in ``language``, by default the reader's (:func:`content_language`); the
        English original where that language has none (noted in :func:`fallbacks`)."""
        language = language or _language.get()
        found = self.translations.get(language)
        if found:
            return found
        english = self.translations[DEFAULT_LANGUAGE]
        if language != DEFAULT_LANGUAGE:
            note_fallback(english)
        return english

    def has(self, language: str) -> bool:
        return bool(self.translations.get(language, "").strip())

    def __str__(self) -> str:
        return self.get()


class AnswerType(StrEnum):
    MATURITY = "maturity"
    YES_PARTIAL_NO = "yes_partial_no"
    SINGLE = "single"
    MULTI = "multi"
    NUMBER = "number"
    TEXT = "text"
    DATE = "date"


class GapLevel(StrEnum):
    """How far an answer's points are from good practice (the score card's gap band)."""

    MAJOR = "major"
    MODERATE = "moderate"
    MINOR = "minor"


YES_PARTIAL_NO_CHOICES = ("yes", "partial", "no")


class Option(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    value: Annotated[str, Field(pattern=r"^[a-z0-9_]+$")]
    label: LocalText
    # Points (0-100) when the option contributes to a score; None when it does not.
    points: Annotated[float | None, Field(ge=0, le=100)] = None


# The 2026.1 format keyed steps by the size of the gap (major/moderate/minor), so a company
# could be told to do what its answer says is done. It is rejected with a pointer to the new one.
_GAP_KEYS = ("major", "moderate", "minor")
_MISSING = "missing"


def _answer_key(key: Any) -> str:
    """A YAML key as an answer value: ``0`` -> "0", and YAML 1.1's booleans back to yes/no."""
    if isinstance(key, bool):
        return "yes" if key else "no"
    return str(key)


class ActionSteps(BaseModel):
    """Recommended steps chosen by the answer given, so a step never asks for what is done.

    Written in YAML under ``actions:``, keyed by the answer the steps start from:

    * maturity: ``{0: [...], 1: [...], 2: [...], 3: [...]}`` - the steps that lift an answer
      from that level to the next (a plan joins them from the current level up to the target);
    * yes_partial_no: ``{"no": [...], partial: [...]}``;
    * single choice: ``{option_value: [...]}`` for each option short of the best;
    * multiple choice: ``{missing: {option_value: [...]}}`` - steps for each option not ticked.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    by_answer: dict[str, tuple[LocalText, ...]] = {}
    missing: dict[str, tuple[LocalText, ...]] = {}

    @model_validator(mode="before")
    @classmethod
    def _from_yaml(cls, value: Any) -> Any:
        if not isinstance(value, dict) or "by_answer" in value:
            return value
        keys = [_answer_key(k) for k in value]
        if any(k in _GAP_KEYS for k in keys):
            raise ValueError(
                "actions keyed by gap (major/moderate/minor) are the 2026.1 format and are no longer read: "
                'key the steps by the answer they start from - maturity levels 0-3, "no"/partial, '
                "the option chosen, or missing: {option: [...]} for multiple choice"
            )
        missing = value.get(_MISSING) or {}
        if not isinstance(missing, dict):
            raise ValueError("'missing' maps each option not ticked to its steps")
        return {
            "by_answer": {_answer_key(k): v for k, v in value.items() if k != _MISSING},
            "missing": {_answer_key(k): v for k, v in missing.items()},
        }

    def __bool__(self) -> bool:
        return bool(self.by_answer or self.missing)

    def steps_for(self, key: str) -> tuple[str, ...]:
        return tuple(step.get() for step in self.by_answer.get(key, ()))

    def steps_if_missing(self, option: str) -> tuple[str, ...]:
        return tuple(step.get() for step in self.missing.get(option, ()))

    def problems(self, question: Question) -> list[str]:
        """What is wrong with these steps for ``question`` (empty when they fit its type)."""
        kind, scored = question.type, question.is_scored
        if kind is AnswerType.MULTI:
            allowed, given = [o.value for o in question.options], self.missing
            need = [o.value for o in question.options if o.points]
            if self.by_answer:
                return ["a multiple-choice question keys its steps under 'missing:' by the options not ticked"]
        else:
            if self.missing:
                return ["'missing:' only belongs to multiple-choice questions"]
            given = self.by_answer
            if kind is AnswerType.MATURITY:
                allowed = need = ["0", "1", "2", "3"]
            elif kind is AnswerType.YES_PARTIAL_NO:
                allowed = need = ["no", "partial"]
            elif kind is AnswerType.SINGLE:
                allowed = [o.value for o in question.options]
                best = max((o.points or 0 for o in question.options), default=0)
                need = [o.value for o in question.options if o.points is not None and o.points < best]
            else:
                allowed = need = []
        if not scored:
            need = []
        out = [
            f"steps keyed by '{k}', which is not an answer they can start from ({', '.join(allowed) or 'none'})"
            for k in given
            if k not in allowed
        ]
        lacking = [k for k in need if not given.get(k)]
        if lacking:
            out.append(f"recommended actions are missing for the answer(s) {', '.join(lacking)}")
        return out


class Question(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    id: Annotated[str, Field(pattern=ID_PATTERN)]
    type: AnswerType
    text: LocalText
    guidance: LocalText
    levels: tuple[LocalText, ...] = ()
    # What "Partly" means on a yes/partly/no question (required there, shown with the question).
    partial_means: LocalText | None = None
    options: tuple[Option, ...] = ()
    unit: LocalText | None = None
    minimum: float | None = None
    maximum: float | None = None
    integer: bool = False
    # A metric feeds the Outcomes of a transparency report: its answer carries a
    # reporting period and a methodology note beside the number.
    metric: bool = False
    max_length: int = 5000
    required: bool = True
    scored: bool | None = None
    weight: Annotated[float, Field(gt=0)] = 1.0
    critical: bool = False
    allow_not_applicable: bool = True
    evidence: tuple[LocalText, ...] = ()
    refs: tuple[str, ...] = ()
    harms: tuple[str, ...] = ()
    risks: tuple[str, ...] = ()
    applies_when: Condition | None = None
    # Recommended steps keyed by the answer given (see ActionSteps).
    actions: ActionSteps = ActionSteps()
    # The function that usually owns closing a gap on this question (a taxonomy id).
    function: str | None = None

    @field_validator("applies_when", mode="before")
    @classmethod
    def _parse_condition(cls, value: Any) -> Any:
        return None if value is None else parse_condition(value)

    @model_validator(mode="after")
    def _check_type_specific(self) -> Question:
        if self.type is AnswerType.MATURITY:
            if len(self.levels) != 5:
                raise ValueError(
                    f"a maturity question needs exactly five level descriptors (0-4), found {len(self.levels)}"
                )
            texts = [lvl.get().strip().lower() for lvl in self.levels]
            if len(set(texts)) != 5:
                raise ValueError("the five level descriptors must all be different")
        elif self.levels:
            raise ValueError(f"'levels' only belongs to maturity questions, not {self.type}")
        if self.type in (AnswerType.SINGLE, AnswerType.MULTI):
            if len(self.options) < 2:
                raise ValueError(f"a {self.type} question needs at least two options")
            values = [o.value for o in self.options]
            if len(set(values)) != len(values):
                raise ValueError("option values must be unique")
        elif self.options:
            raise ValueError(f"'options' only belongs to single and multi questions, not {self.type}")
        if self.type is not AnswerType.NUMBER and (
            self.unit or self.metric or self.minimum is not None or self.maximum is not None
        ):
            raise ValueError("'unit', 'metric', 'minimum' and 'maximum' only belong to number questions")
        if self.type is AnswerType.NUMBER and not self.unit:
            raise ValueError("a number question needs a 'unit'")
        for problem in self.actions.problems(self):
            raise ValueError(f"actions: {problem}")
        if self.is_scored and self.type is AnswerType.SINGLE and all(o.points is None for o in self.options):
            raise ValueError("a scored single-choice question needs points on its options")
        if self.critical and not self.is_scored:
            raise ValueError("only a scored question can be critical")
        if self.critical and self.allow_not_applicable:
            raise ValueError(
                "a critical question is core and cannot be answered 'not applicable': set allow_not_applicable: false"
            )
        if self.partial_means is not None and self.type is not AnswerType.YES_PARTIAL_NO:
            raise ValueError(f"'partial_means' only belongs to yes_partial_no questions, not {self.type}")
        if self.type is AnswerType.YES_PARTIAL_NO and self.partial_means is None:
            raise ValueError("a yes_partial_no question needs 'partial_means': say exactly what \"Partly\" means")
        return self

    @property
    def is_scored(self) -> bool:
        if self.scored is not None:
            return self.scored
        if self.type in (AnswerType.MATURITY, AnswerType.YES_PARTIAL_NO):
            return True
        if self.type in (AnswerType.SINGLE, AnswerType.MULTI):
            return any(o.points is not None for o in self.options)
        return False

    @property
    def form_key(self) -> str:
        """The question id made safe for HTML names and anchors (ids never contain '-')."""
        return self.id.replace(".", "-")

    def option_label(self, value: str, language: str = DEFAULT_LANGUAGE) -> str:
        for option in self.options:
            if option.value == value:
                return option.label.get(language)
        return value


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    id: Annotated[str, Field(pattern=ID_PATTERN)]
    title: LocalText
    intro: LocalText | None = None
    applies_when: Condition | None = None
    questions: tuple[Question, ...]

    @field_validator("applies_when", mode="before")
    @classmethod
    def _parse_condition(cls, value: Any) -> Any:
        return None if value is None else parse_condition(value)

    @property
    def form_key(self) -> str:
        return self.id.replace(".", "-")


class Questionnaire(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    version: Annotated[str, Field(min_length=1)]
    title: LocalText
    description: LocalText | None = None
    order: int = 100
    sections: tuple[Section, ...]

    @field_validator("version", mode="before")
    @classmethod
    def _version_is_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int | float) else value

    def questions(self) -> list[Question]:
        return [q for s in self.sections for q in s.questions]


class TaxonomyEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    label: LocalText
    description: LocalText | None = None
    asean: bool = False


class HarmEntry(TaxonomyEntry):
    """A form of harm; ``group`` is an id from the taxonomy's ``harm_groups`` (optional)."""

    group: str | None = None


class AgeGroup(BaseModel):
    """An age group of the children's risk register, inclusive of both ages."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    label: LocalText
    min_age: Annotated[int, Field(ge=0, le=17)]
    max_age: Annotated[int, Field(ge=0, le=17)]

    @model_validator(mode="after")
    def _ordered(self) -> AgeGroup:
        if self.min_age > self.max_age:
            raise ValueError(f"age group {self.id}: min_age is above max_age")
        return self


class RiskFactorLink(BaseModel):
    """One harm a product feature raises, and why (shown in the risk register)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    harm: str
    reason: LocalText


# The words the engine puts around content when it tells a reader something (an answer, a
# target, a condition, a reason): each key with the placeholders its text takes. The words
# themselves are content, under ``wording:`` in ``questionnaires/_taxonomy.yaml``.
WORDING_KEYS: dict[str, tuple[str, ...]] = {
    "answer_level": ("level", "descriptor"),
    "answer_yes": (),
    "answer_partial": (),
    "answer_no": (),
    "answer_number": ("number", "unit"),
    "target_points": ("points", "target"),
    "target_points_only": ("points",),
    "condition_all": (),
    "condition_any": (),
    "condition_none": (),
    "condition_subject_answer": ("question",),
    "condition_subject_profile": ("field",),
    "profile_service_types": (),
    "profile_features": (),
    "profile_countries": (),
    "profile_hq_country": (),
    "profile_size_band": (),
    "profile_under18_users": (),
    "profile_age_groups": (),
    "condition_level": ("level",),
    "condition_answered": ("subject",),
    "condition_not_answered": ("subject",),
    "condition_includes": ("subject", "value"),
    "condition_includes_any": ("subject", "values"),
    "condition_includes_all": ("subject", "values"),
    "condition_equals": ("subject", "value"),
    "condition_in": ("subject", "values"),
    "condition_not_in": ("subject", "values"),
    "condition_gte": ("subject", "value"),
    "condition_lte": ("subject", "value"),
    "condition_risk": ("harm", "level"),
    "reason_question": ("question", "note"),
    "reason_answered": ("answer",),
    "reason_no_answer": (),
    "reason_not_asked": (),
    "reason_not_applicable": (),
    "component_met": ("reason",),
    "component_not_met": ("reason",),
    "indicator_met": (),
    "indicator_not_met": ("components",),
    "indicator_not_applicable": ("reason",),
}


def _placeholders(text: str) -> set[str]:
    return {name for _literal, name, _spec, _conversion in string.Formatter().parse(text) if name is not None}


def say(wording: Mapping[str, LocalText], key: str, language: str | None = None, **params: Any) -> str:
    """The text of ``key`` in ``language`` (by default the reader's) with its placeholders
    filled; a translation whose placeholders do not fit falls back to the English."""
    text = wording[key]
    try:
        return text.get(language).format(**params)
    except (KeyError, IndexError, ValueError):
        return text.get(DEFAULT_LANGUAGE).format(**params)


class Taxonomy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    service_types: tuple[TaxonomyEntry, ...]
    size_bands: tuple[TaxonomyEntry, ...]
    features: tuple[TaxonomyEntry, ...]
    under18_users: tuple[TaxonomyEntry, ...]
    countries: tuple[TaxonomyEntry, ...]
    harms: tuple[HarmEntry, ...]
    risks: tuple[TaxonomyEntry, ...]
    frameworks: tuple[TaxonomyEntry, ...]
    functions: tuple[TaxonomyEntry, ...]
    # How strong the evidence behind an answer is, weakest first.
    evidence_strengths: tuple[TaxonomyEntry, ...] = ()
    # The children's risk register: the groups harms are sorted under, the age groups it is
    # kept for (youngest first), and per product feature the harms it raises with the reason.
    harm_groups: tuple[TaxonomyEntry, ...] = ()
    age_groups: tuple[AgeGroup, ...] = ()
    risk_factors: dict[str, tuple[RiskFactorLink, ...]] = {}
    # Named, reusable conditions: written once here, used as {condition: NAME} anywhere.
    conditions: dict[str, Condition] = {}
    # The words the engine composes sentences with (WORDING_KEYS), key -> text with {placeholders}.
    wording: dict[str, LocalText]

    @field_validator("conditions", mode="before")
    @classmethod
    def _parse_conditions(cls, value: Any) -> Any:
        return {} if value is None else parse_named_conditions(value)

    @field_validator("wording")
    @classmethod
    def _every_word(cls, value: dict[str, LocalText]) -> dict[str, LocalText]:
        problems = []
        missing = [key for key in WORDING_KEYS if key not in value]
        if missing:
            problems.append(f"wording is missing {', '.join(missing)}")
        unknown = [key for key in value if key not in WORDING_KEYS]
        if unknown:
            problems.append(f"wording has keys the engine does not use: {', '.join(unknown)}")
        for key, text in value.items():
            if key not in WORDING_KEYS:
                continue
            expected = set(WORDING_KEYS[key])
            for language, words in text.translations.items():
                try:
                    found = _placeholders(words)
                except ValueError as exc:
                    problems.append(f"wording {key} ({language}): {exc}")
                    continue
                if found != expected:
                    wanted = ", ".join(f"{{{name}}}" for name in sorted(expected)) or "no placeholders"
                    problems.append(f"wording {key} ({language}) must use {wanted}")
        if problems:
            raise ValueError("; ".join(problems))
        return value

    def say(self, key: str, language: str | None = None, **params: Any) -> str:
        """A sentence of the engine's (``wording``) in ``language``, by default the reader's."""
        return say(self.wording, key, language, **params)

    def ids(self, vocabulary: str) -> list[str]:
        return [e.id for e in getattr(self, vocabulary)]

    def label(self, vocabulary: str, entry_id: str, language: str = DEFAULT_LANGUAGE) -> str:
        for entry in getattr(self, vocabulary):
            if entry.id == entry_id:
                return entry.label.get(language)
        return entry_id

    @property
    def asean_countries(self) -> list[str]:
        return [c.id for c in self.countries if c.asean]


_REF_PATTERN = re.compile(r"^[A-Za-z]+:[A-Za-z0-9_.]+$")


def is_reference(text: str) -> bool:
    return bool(_REF_PATTERN.match(text))

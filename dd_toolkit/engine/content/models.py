"""Typed models of the questionnaire content.

The YAML in ``questionnaires/`` is validated into these models by :mod:`.loader`. They are
plain pydantic models with no Flask or database imports, so the CLI, the web pages and the
tests all share them.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from dd_toolkit.engine.content.conditions import Condition, parse_condition

ID_PATTERN = r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$"
DEFAULT_LANGUAGE = "en"


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

    def get(self, language: str = DEFAULT_LANGUAGE) -> str:
        return self.translations.get(language) or self.translations[DEFAULT_LANGUAGE]

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
    """How far an answer is from good practice; recommended actions are keyed by it."""

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


class Question(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    id: Annotated[str, Field(pattern=ID_PATTERN)]
    type: AnswerType
    text: LocalText
    guidance: LocalText
    levels: tuple[LocalText, ...] = ()
    options: tuple[Option, ...] = ()
    unit: str | None = None
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
    actions: dict[GapLevel, tuple[LocalText, ...]] = {}
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
        if self.is_scored and GapLevel.MAJOR not in self.actions:
            raise ValueError("a scored question needs recommended actions for at least the 'major' gap")
        if self.is_scored and self.type is AnswerType.SINGLE and all(o.points is None for o in self.options):
            raise ValueError("a scored single-choice question needs points on its options")
        if self.critical and not self.is_scored:
            raise ValueError("only a scored question can be critical")
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
    asean: bool = False


class Taxonomy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    service_types: tuple[TaxonomyEntry, ...]
    size_bands: tuple[TaxonomyEntry, ...]
    features: tuple[TaxonomyEntry, ...]
    under18_users: tuple[TaxonomyEntry, ...]
    countries: tuple[TaxonomyEntry, ...]
    harms: tuple[TaxonomyEntry, ...]
    risks: tuple[TaxonomyEntry, ...]
    frameworks: tuple[TaxonomyEntry, ...]
    functions: tuple[TaxonomyEntry, ...]

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

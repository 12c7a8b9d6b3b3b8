"""Questionnaire content: typed models, validation and applicability. No Flask, no database."""

from dd_toolkit.engine.content.answers import AnswerData, Evidence, Profile
from dd_toolkit.engine.content.bank import QuestionBank, Visibility, load_bank
from dd_toolkit.engine.content.conditions import ConditionError, Explanation
from dd_toolkit.engine.content.loader import CONTENT_FOLDERS, ContentError, ContentProblem
from dd_toolkit.engine.content.models import (
    YES_PARTIAL_NO_CHOICES,
    AnswerType,
    GapLevel,
    LocalText,
    Option,
    Question,
    Questionnaire,
    Section,
    Taxonomy,
    content_language,
    fallbacks,
    reading_language,
    reset_content_language,
    set_content_language,
)

__all__ = [
    "CONTENT_FOLDERS",
    "YES_PARTIAL_NO_CHOICES",
    "AnswerData",
    "AnswerType",
    "ConditionError",
    "ContentError",
    "ContentProblem",
    "Evidence",
    "Explanation",
    "GapLevel",
    "LocalText",
    "Option",
    "Profile",
    "Question",
    "QuestionBank",
    "Questionnaire",
    "Section",
    "Taxonomy",
    "Visibility",
    "content_language",
    "fallbacks",
    "load_bank",
    "reading_language",
    "reset_content_language",
    "set_content_language",
]

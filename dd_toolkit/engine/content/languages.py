"""The languages the content is translated into, how far, and whether each translation has been
reviewed (``questionnaires/_languages.yaml``). A draft translation is labelled as one wherever
it is shown, so that nobody takes it for a reviewed one."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from dd_toolkit.engine.content.models import DEFAULT_LANGUAGE, LocalText

LANGUAGES_FILE = "_languages.yaml"
STATUSES = ("draft", "reviewed")


@dataclass(frozen=True)
class LanguageStatus:
    code: str
    name: str  # in the language itself
    status: str  # "draft" or "reviewed"
    reviewed_by: str = ""  # the reviewing organisation, for a reviewed translation
    reviewed_on: dt.date | None = None

    @property
    def draft(self) -> bool:
        return self.status != "reviewed"


def load_languages(questionnaires: Path) -> dict[str, LanguageStatus]:
    """The content languages other than English, by code; raises ``ValueError`` on a bad file."""
    path = questionnaires / LANGUAGES_FILE
    if not path.exists():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    found = {}
    for code, entry in (data.get("languages") or {}).items():
        entry = entry or {}
        status = entry.get("status", "draft")
        if status not in STATUSES:
            raise ValueError(f"{LANGUAGES_FILE}: {code}: status must be one of {', '.join(STATUSES)}")
        reviewed_on = entry.get("reviewed_on")
        if status == "reviewed" and not (entry.get("reviewed_by") and reviewed_on):
            raise ValueError(f"{LANGUAGES_FILE}: {code}: a reviewed translation names its reviewer and date")
        found[str(code)] = LanguageStatus(
            code=str(code),
            name=str(entry.get("name") or code),
            status=status,
            reviewed_by=str(entry.get("reviewed_by") or ""),
            reviewed_on=reviewed_on if isinstance(reviewed_on, dt.date) else None,
        )
    return found


def local_texts(value: Any) -> Iterator[LocalText]:
    """Every translatable text inside a content model (questions, options, levels, guidance...)."""
    if isinstance(value, LocalText):
        yield value
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from local_texts(getattr(value, name))
    elif isinstance(value, dict):
        for item in value.values():
            yield from local_texts(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from local_texts(item)


@dataclass(frozen=True)
class Coverage:
    language: str
    translated: int
    total: int

    @property
    def share(self) -> float:
        return self.translated / self.total if self.total else 1.0


def coverage(models: Iterable[Any], languages: Iterable[str]) -> list[Coverage]:
    """How many of the texts in ``models`` each language translates."""
    texts = [text for model in models for text in local_texts(model)]
    return [
        Coverage(language, sum(1 for text in texts if text.has(language)), len(texts))
        for language in languages
        if language != DEFAULT_LANGUAGE
    ]

"""Translations of the content, kept as gettext catalogues beside the content they translate.

Each content folder (``questionnaires/``, ``scoring/``, ``reports/``) holds a ``translations/``
folder with one PO file per source and language, e.g. ``questionnaires/translations/th/hrdd.po``.
A message's id is the English text itself, as in gettext: a translation belongs to the exact
words it translates, so when the English changes the old translation no longer matches and the
text falls back to English, visibly, until a translator has looked at it again
(``dd-toolkit content-catalogues`` marks the entry "fuzzy" and keeps the old translation as a
suggestion). Translators use any PO editor; reviewers see each text's source in its comments.

Questions, options, levels and guidance (``LocalText``) receive their translations when the
bank loads; texts stored as plain English (scoring labels, report sentences, the labels frozen
in a submitted score card) are looked up when they are shown (:meth:`Catalogues.text`).
"""

from __future__ import annotations

import functools
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po
from pydantic import BaseModel

from dd_toolkit.engine.content.models import DEFAULT_LANGUAGE, LocalText, note_fallback, reading_language

TRANSLATIONS_DIR = "translations"
# A translator marks an entry "#, english" when the English is kept on purpose (a proper name, an
# acronym, a citation): it is then complete, and still shown as English on the page.
KEPT_ENGLISH = "english"
CATALOGUE_FOLDERS = ("questionnaires", "scoring", "reports")
PROJECT = "Child-rights due diligence toolkit: content"
# Values in the report and scoring YAML that are identifiers, not words for a reader.
_IDENTIFIER = re.compile(r"^[a-z0-9_.\-]+$")
_SKIPPED_KEYS = frozenset({"version", "id", "topic", "part", "refs", "modules", "band", "question", "questions"})
# The scoring methodology's words for readers; everything else in it is numbers and ids.
_SCORING_KEYS = frozenset({"title", "description", "label", "why"})


@dataclass
class Source:
    """The texts of one catalogue: where they are, and, per English text, where it is used."""

    folder: str
    name: str
    texts: dict[str, list[str]] = field(default_factory=dict)

    def add(self, english: str, where: str) -> None:
        english = english.strip()
        if english:
            self.texts.setdefault(english, []).append(where)

    def path(self, root: Path, language: str) -> Path:
        return Path(root) / self.folder / TRANSLATIONS_DIR / language / f"{self.name}.po"


class Catalogues:
    """The translated texts, per language, keyed by their English original."""

    def __init__(self, texts: dict[str, dict[str, str]] | None = None):
        self._texts = texts or {}

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(sorted(self._texts))

    def lookup(self, english: str, language: str) -> str | None:
        return self._texts.get(language, {}).get(english.strip()) or None

    def text(self, english: str | None, language: str | None = None) -> str:
        """``english`` in the reader's language; the English itself, noted as a fallback, when
        the catalogue has no translation of it."""
        if not english:
            return english or ""
        language = language or reading_language()
        if language == DEFAULT_LANGUAGE:
            return english
        found = self.lookup(english, language)
        if found:
            return found
        note_fallback(english)
        return english

    def apply(self, models: Iterable[Any]) -> None:
        """Give every ``LocalText`` in ``models`` the catalogues' translations of its English,
        where the YAML itself carries none."""
        for text in (text for model in models for text in _local_texts(model)):
            english = text.translations[DEFAULT_LANGUAGE].strip()
            for language, table in self._texts.items():
                found = table.get(english)
                if found and not text.has(language):
                    # LocalText is frozen as a model; its dict of translations is filled once,
                    # at load, before anybody reads it.
                    text.translations[language] = found


def load_catalogues(root: Path, languages: Iterable[str]) -> Catalogues:
    """Read every content catalogue under ``root`` for ``languages``. Fuzzy entries (the English
    changed since they were translated) and empty ones are not translations."""
    texts: dict[str, dict[str, str]] = {}
    for language in languages:
        table = texts.setdefault(language, {})
        for folder in CATALOGUE_FOLDERS:
            for path in sorted((Path(root) / folder / TRANSLATIONS_DIR / language).glob("*.po")):
                stat = path.stat()
                for english, translated in _translations(path, stat.st_mtime_ns, stat.st_size, language):
                    table.setdefault(english, translated)
    return Catalogues(texts)


@functools.lru_cache(maxsize=256)
def _translations(path: Path, _mtime_ns: int, _size: int, language: str) -> tuple[tuple[str, str], ...]:
    """One PO file's translations, parsed once per process and version of the file (every app and
    command that loads the bank reads the same files)."""
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    return tuple(
        (message.id, message.string)
        for message in catalog
        if message.id and isinstance(message.id, str) and message.string and not message.fuzzy
    )


# -- extraction -----------------------------------------------------------------------------


def sources(root: Path, bank: Any) -> list[Source]:
    """Every text of the content a reader sees, grouped into the catalogues it belongs in."""
    root = Path(root)
    found = [_from_model(Source("questionnaires", "_taxonomy"), bank.taxonomy, "taxonomy")]
    for module in bank.questionnaires:
        found.append(_from_model(Source("questionnaires", module.id), module, ""))
    cards = root / "questionnaires" / "_reference_cards.yaml"
    if cards.exists():  # the cards' notes; names of bodies, laws and sources stay as published
        notes = Source("questionnaires", "_reference_cards")
        _from_yaml(
            notes, yaml.safe_load(cards.read_text(encoding="utf-8")), "reference_cards", keys=frozenset({"note"})
        )
        found.append(notes)
    scoring = Source("scoring", "scoring")
    for path in sorted((root / "scoring").glob("*.yaml")):
        _from_yaml(scoring, yaml.safe_load(path.read_text(encoding="utf-8")), path.stem, keys=_SCORING_KEYS)
    found.append(scoring)
    reports = Source("reports", "reports")
    for path in sorted((root / "reports").glob("*.yaml")):
        _from_yaml(reports, yaml.safe_load(path.read_text(encoding="utf-8")), path.stem, keys=None)
    found.append(reports)
    found.append(template_source(root))
    return [source for source in found if source.texts]


# The report templates' own words (``{% trans %}``, ``_()``) and the few words the document
# renderer adds around them (``translate()``), extracted as Babel's jinja2 and python extractors do.
_TEMPLATE_OPTIONS = {"extensions": "jinja2.ext.do,jinja2.ext.i18n", "trim_blocks": "true", "lstrip_blocks": "true"}
_RENDERER = Path(__file__).resolve().parents[1] / "documents.py"


def template_source(root: Path) -> Source:
    """The words of ``reports/*.j2`` and of the document renderer: ``reports/translations/<lang>/templates.po``."""
    from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_file

    source = Source("reports", "templates")
    found = [(path, "jinja2", dict(_TEMPLATE_OPTIONS)) for path in sorted((Path(root) / "reports").glob("*.j2"))]
    found.append((_RENDERER, "python", {}))
    for path, method, options in found:
        keywords = {"translate": None} if method == "python" else DEFAULT_KEYWORDS
        # Where: the file, not the line, so that editing a template leaves the catalogues current.
        for _line, message, _comments, _context in extract_from_file(method, path, keywords, options=options):
            for english in message if isinstance(message, tuple) else (message,):
                if english:
                    source.add(
                        english, f"reports/{path.name}" if method == "jinja2" else "dd_toolkit/engine/documents.py"
                    )
    return source


def _from_model(source: Source, value: Any, where: str) -> Source:
    for place, text in _located_texts(value, where):
        source.add(text.translations[DEFAULT_LANGUAGE], place)
    return source


def _located_texts(value: Any, where: str) -> Iterator[tuple[str, LocalText]]:
    if isinstance(value, LocalText):
        yield where, value
    elif isinstance(value, BaseModel):
        ident = getattr(value, "id", None)
        if isinstance(ident, str):  # a question's id is whole ("hrdd.policy.exists"), an option's is not
            where = ident if "." in ident or not where else f"{where}.{ident}"
        for name in type(value).model_fields:
            yield from _located_texts(getattr(value, name), f"{where}.{name}")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _located_texts(item, f"{where}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _located_texts(item, f"{where}[{index}]")


def _local_texts(value: Any) -> Iterator[LocalText]:
    for _, text in _located_texts(value, ""):
        yield text


def _from_yaml(source: Source, value: Any, where: str, keys: frozenset[str] | None) -> None:
    if isinstance(value, dict):
        if set(value) <= {DEFAULT_LANGUAGE, "id", "th", "vi"} and DEFAULT_LANGUAGE in value:
            source.add(str(value[DEFAULT_LANGUAGE]), where)  # a text with its translations inline
            return
        for key, item in value.items():
            if str(key) in _SKIPPED_KEYS:
                continue
            if keys is not None and isinstance(item, str) and str(key) not in keys:
                continue
            _from_yaml(source, item, f"{where}.{key}", keys)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _from_yaml(source, item, f"{where}[{index}]", keys)
    elif isinstance(value, str) and not _IDENTIFIER.match(value.strip()):
        source.add(value, where)


# -- keeping the catalogues current -----------------------------------------------------------


def _header(source: Source) -> str:
    return (
        f"# Translation of the toolkit's content: {source.folder}/{source.name}.\n"
        "# Each entry's comment says where its English is used. Leave an entry empty rather than\n"
        "# guess; an untranslated text is shown in English, marked as such. Whether this translation\n"
        "# has been reviewed is recorded in questionnaires/_languages.yaml.\n"
        "# Kept current with `make content-catalogues`."
    )


def _new_catalog(source: Source, language: str | None = None) -> Catalog:
    return Catalog(
        locale=language,
        project=PROJECT,
        version=None,
        header_comment=_header(source),
        fuzzy=False,
        last_translator="draft translation",
        language_team=None,
    )


def template(source: Source) -> Catalog:
    catalog = _new_catalog(source)
    for english, places in source.texts.items():
        catalog.add(english, auto_comments=sorted(set(places))[:5])
    return catalog


def update(root: Path, bank: Any, languages: Iterable[str], write: bool = True) -> list[Path]:
    """Bring every language's catalogues in line with the content: new texts are added empty,
    texts whose English changed are kept as fuzzy suggestions, texts no longer used are dropped.
    Returns the files written (with ``write=False``, those that are not current)."""
    languages = list(languages)
    written = []
    for source in sources(root, bank):
        fresh = template(source)
        for language in languages:
            path = source.path(root, language)
            if path.exists():
                with path.open("rb") as handle:
                    catalog = read_po(handle, locale=language)
                catalog.update(fresh, update_header_comment=False, update_creation_date=False)
                catalog.obsolete.clear()
            else:
                catalog = _new_catalog(source, language)
                catalog.update(fresh)
            buffer = io.BytesIO()
            write_po(buffer, catalog, width=100, omit_header=False, ignore_obsolete=True)
            if path.exists() and _entries(path.read_bytes()) == _entries(buffer.getvalue()):
                continue  # the same texts, translations and marks, however the file is wrapped
            if write:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(buffer.getvalue())
            written.append(path)
    return written


def _entries(po: bytes) -> list[tuple[str, str, frozenset[str], tuple[str, ...]]]:
    return [
        (str(m.id), str(m.string), frozenset(m.flags), tuple(m.auto_comments)) for m in read_po(io.BytesIO(po)) if m.id
    ]


@dataclass(frozen=True)
class LanguageCompleteness:
    language: str
    total: int
    translated: int
    fuzzy: tuple[str, ...]  # English changed since translated: shown in English until looked at
    missing: tuple[str, ...]  # never translated: shown in English
    kept_english: tuple[str, ...] = ()  # marked by a translator as staying English

    @property
    def complete(self) -> bool:
        return not self.fuzzy and not self.missing

    @property
    def share(self) -> float:
        return self.translated / self.total if self.total else 1.0


def completeness(root: Path, bank: Any, languages: Iterable[str]) -> list[LanguageCompleteness]:
    """How much of the content each language translates, counting the catalogues and any
    translation written inline in the YAML."""
    texts: set[str] = set()
    inline: dict[str, set[str]] = {}
    for source in sources(root, bank):
        texts.update(source.texts)
    for text in (t for model in (bank.taxonomy, *bank.questionnaires) for t in _local_texts(model)):
        for language, value in text.translations.items():
            if value.strip():
                inline.setdefault(language, set()).add(text.translations[DEFAULT_LANGUAGE].strip())
    found = []
    for language in languages:
        if language == DEFAULT_LANGUAGE:
            continue
        translated, fuzzy, kept = set(inline.get(language, ())), set(), set()
        for folder in CATALOGUE_FOLDERS:
            for path in (Path(root) / folder / TRANSLATIONS_DIR / language).glob("*.po"):
                with path.open("rb") as handle:
                    for message in read_po(handle, locale=language):
                        if message.id and KEPT_ENGLISH in message.flags and not message.fuzzy:
                            kept.add(message.id)
                        if not message.id or not message.string:
                            continue
                        (fuzzy if message.fuzzy else translated).add(message.id)
        kept -= translated
        fuzzy -= translated | kept
        found.append(
            LanguageCompleteness(
                language,
                len(texts),
                len(texts & translated),
                tuple(sorted(texts & fuzzy)),
                tuple(sorted(texts - translated - fuzzy - kept)),
                tuple(sorted(texts & kept)),
            )
        )
    return found

"""National reference cards (``questionnaires/_reference_cards.yaml``): for each ASEAN Member
State, the regulator, the reporting hotline or police unit, the child helpline and the main laws
on online child sexual exploitation, each with its sources and the date it was checked.

A field nobody could source is marked "to verify" and holds no value: a card never guesses.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

CARDS_FILE = "_reference_cards.yaml"
# The four fields of a card, in the order they are shown, with their English labels.
FIELDS: dict[str, str] = {
    "regulator": "Regulator or ministry",
    "reporting": "Reporting abuse material (hotline or police)",
    "helpline": "Child helpline",
    "laws": "Main laws",
}


class ReferenceCardsError(ValueError):
    """The cards file is broken; ``problems`` lists every problem found."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Source:
    document: str
    section: str = ""
    url: str = ""


@dataclass(frozen=True)
class CardField:
    name: str  # one of FIELDS
    value: str = ""
    sources: tuple[Source, ...] = ()
    checked: dt.date | None = None
    note: str = ""

    @property
    def to_verify(self) -> bool:
        return not self.value

    @property
    def label(self) -> str:
        return FIELDS[self.name]


@dataclass(frozen=True)
class ReferenceCard:
    country: str
    fields: tuple[CardField, ...]

    def field(self, name: str) -> CardField:
        return next(f for f in self.fields if f.name == name)

    def subset(self, names: Iterable[str]) -> tuple[CardField, ...]:
        wanted = set(names)
        return tuple(f for f in self.fields if f.name in wanted)


@dataclass(frozen=True)
class ReferenceCards:
    cards: Mapping[str, ReferenceCard]  # by country id, in file order
    questions: Mapping[str, tuple[str, ...]]  # question id -> the fields it needs

    def for_countries(self, countries: Iterable[str]) -> list[ReferenceCard]:
        """The cards of these countries, in the order of the file (that of the taxonomy)."""
        wanted = set(countries)
        return [card for country, card in self.cards.items() if country in wanted]

    def counts(self) -> tuple[int, int]:
        """(fields sourced, fields to verify) over every card."""
        fields = [f for card in self.cards.values() for f in card.fields]
        sourced = sum(1 for f in fields if not f.to_verify)
        return sourced, len(fields) - sourced


EMPTY = ReferenceCards(cards={}, questions={})


def parse_reference_cards(
    data: Any, countries: Iterable[str] = (), required: Iterable[str] = (), question_ids: Iterable[str] | None = None
) -> ReferenceCards:
    """Check and build the cards from the loaded YAML. ``countries`` are the taxonomy's country
    ids (a card for another id is refused), ``required`` those that must have a card (the ASEAN
    members), ``question_ids`` the bank's questions (a listed question must exist)."""
    problems: list[str] = []
    data = data or {}
    if not isinstance(data, dict):
        raise ReferenceCardsError([f"{CARDS_FILE}: expected a mapping"])
    known = set(countries)
    cards: dict[str, ReferenceCard] = {}
    raw_cards = data.get("cards") or {}
    if not isinstance(raw_cards, dict):
        raise ReferenceCardsError([f"{CARDS_FILE}: cards: expected a mapping of country ids"])
    for country, entry in raw_cards.items():
        where = f"{CARDS_FILE}: {country}"
        if known and country not in known:
            problems.append(f"{where}: not a country id of the taxonomy")
        entry = entry or {}
        if not isinstance(entry, dict):
            problems.append(f"{where}: expected a mapping of fields")
            continue
        for extra in sorted(set(entry) - set(FIELDS)):
            problems.append(f"{where}: unknown field {extra!r} (fields: {', '.join(FIELDS)})")
        fields = []
        for name in FIELDS:
            if name not in entry:
                problems.append(f"{where}: {name}: missing (fill it with its source, or mark it to_verify)")
                fields.append(CardField(name))
                continue
            fields.append(_field(f"{where}: {name}", name, entry[name], problems))
        cards[str(country)] = ReferenceCard(str(country), tuple(fields))
    for country in required:
        if country not in cards:
            problems.append(f"{CARDS_FILE}: no card for {country}")
    questions: dict[str, tuple[str, ...]] = {}
    bank_ids = None if question_ids is None else set(question_ids)
    for qid, names in (data.get("questions") or {}).items():
        names = [names] if isinstance(names, str) else list(names or FIELDS)
        bad = [n for n in names if n not in FIELDS]
        if bad:
            problems.append(f"{CARDS_FILE}: questions: {qid}: unknown field(s) {', '.join(map(str, bad))}")
        if bank_ids is not None and qid not in bank_ids:
            problems.append(f"{CARDS_FILE}: questions: {qid}: no such question")
        questions[str(qid)] = tuple(n for n in FIELDS if n in names)
    if problems:
        raise ReferenceCardsError(problems)
    return ReferenceCards(cards=cards, questions=questions)


def _field(where: str, name: str, raw: Any, problems: list[str]) -> CardField:
    if not isinstance(raw, dict):
        problems.append(f"{where}: expected a mapping (value, sources, checked) or to_verify: true")
        return CardField(name)
    value = str(raw.get("value") or "").strip()
    note = str(raw.get("note") or "").strip()
    to_verify = raw.get("to_verify", False)
    if to_verify not in (True, False):
        problems.append(f"{where}: to_verify must be true or false")
    if to_verify:
        if value or raw.get("sources") or raw.get("checked"):
            problems.append(f"{where}: a field marked to_verify holds no value, sources or date")
        return CardField(name, note=note)
    if not value:
        problems.append(f"{where}: no value: fill it with its source, or mark it to_verify")
        return CardField(name, note=note)
    sources = []
    for index, src in enumerate(raw.get("sources") or []):
        if isinstance(src, dict) and str(src.get("document") or "").strip():
            sources.append(
                Source(
                    document=str(src["document"]).strip(),
                    section=str(src.get("section") or "").strip(),
                    url=str(src.get("url") or "").strip(),
                )
            )
        else:
            problems.append(f"{where}: sources[{index}]: every source names its document")
    if not sources:
        problems.append(f"{where}: a filled field needs at least one source")
    for src in sources:
        if src.url and not src.url.startswith(("https://", "http://")):
            problems.append(f"{where}: {src.url}: a source's url is a web address")
    checked = raw.get("checked")
    if not isinstance(checked, dt.date) or isinstance(checked, dt.datetime):
        problems.append(f"{where}: a filled field needs the date it was checked (checked: YYYY-MM-DD)")
        checked = None
    elif checked > dt.date.today():
        problems.append(f"{where}: checked {checked} is in the future")
    return CardField(name, value=value, sources=tuple(sources), checked=checked, note=note)


def load_reference_cards(
    questionnaires: Path, countries: Iterable[str] = (), required: Iterable[str] = (), question_ids=None
) -> ReferenceCards:
    """The cards of a content folder's ``questionnaires/`` (none when it has no cards file);
    raises ``ReferenceCardsError`` on a broken file."""
    path = questionnaires / CARDS_FILE
    if not path.exists():
        return EMPTY
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ReferenceCardsError([f"{CARDS_FILE}: not valid YAML: {exc}"]) from exc
    return parse_reference_cards(data, countries, required, question_ids)


def cards_for_bank(questionnaires: Path, bank) -> ReferenceCards:
    """The cards checked against a question bank: its countries, its ASEAN members, its questions.
    Kept while the file is unchanged."""
    path = questionnaires / CARDS_FILE
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        return EMPTY
    taxonomy = bank.taxonomy
    return _cached(
        str(path),
        stamp,
        tuple(taxonomy.ids("countries")),
        tuple(taxonomy.asean_countries),
        frozenset(bank.questions),
    )


@functools.lru_cache(maxsize=8)
def _cached(path: str, _stamp: int, countries: tuple, asean: tuple, questions: frozenset) -> ReferenceCards:
    return load_reference_cards(Path(path).parent, countries, asean, questions)

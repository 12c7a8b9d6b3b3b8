"""What a frozen submission means, decoded once.

A submission is stored as canonical JSON with its SHA-256; that text stays the source of truth
for integrity. At submission (and by the migration that backfills older submissions) it is
decoded here, once, into the plain pieces the rest of the toolkit reads: the profile summary,
the score card, each RPA indicator and component outcome, the benchmark entry and the answers.
Pages, documents, the API and the CLI read those pieces instead of parsing the JSON again.

Plain data in, plain data out: the records layer stores the result in its tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dd_toolkit.engine.content import AnswerData, Evidence, Profile
from dd_toolkit.engine.content.answers import PROFILE_FIELDS, PROFILE_LIST_FIELDS

#: The answer fields kept in the decoded record (the portable file's, without who and when).
ANSWER_KEYS = ("value", "not_applicable", "justification", "comment", "evidence", "meta")


@dataclass(frozen=True)
class IndicatorOutcome:
    """One RPA indicator (``component_id`` empty) or one of its components, for one submission."""

    indicator_id: str
    component_id: str
    label: str
    applies: bool
    met: bool | None  # None where the indicator does not apply

    @property
    def key(self) -> str:
        """ "RPA:7.2.1" for the indicator, "RPA:7.2.1/identification" for a component."""
        return f"{self.indicator_id}/{self.component_id}" if self.component_id else self.indicator_id


@dataclass(frozen=True)
class DecodedSubmission:
    organisation_name: str
    profile: dict[str, Any]  # the organisation block of the snapshot, without the description
    overall: float | None
    band: str | None
    score_card: dict[str, Any]
    benchmark_entry: dict[str, Any]  # modules, lenses, indicators, practices
    outcomes: tuple[IndicatorOutcome, ...]
    answers: dict[str, dict[str, Any]]
    # The children's risk register as frozen, or None when the submission has none.
    risk_register: dict[str, Any] | None = None


def decode(snapshot: dict[str, Any]) -> DecodedSubmission:
    """Decode a parsed snapshot (the canonical JSON, loaded) into its stored pieces."""
    card, org = snapshot["score_card"], snapshot["organisation"]
    return DecodedSubmission(
        organisation_name=org["name"],
        profile={k: list(org.get(k) or ()) if k in _LIST_FIELDS else org.get(k) for k in PROFILE_FIELDS},
        overall=card["overall"],
        band=card["band"],
        score_card=card,
        benchmark_entry=benchmark_entry_of(card),
        outcomes=tuple(indicator_outcomes(card)),
        answers={qid: {k: item.get(k) for k in ANSWER_KEYS} for qid, item in snapshot["answers"].items()},
        risk_register=snapshot.get("risk_register"),
    )


def benchmark_entry_of(card: dict[str, Any]) -> dict[str, Any]:
    """The figures of a score card that take part in the anonymised benchmark."""
    return {
        "overall": card["overall"],
        "modules": {m["id"]: m["score"] for m in card["modules"] if m["score"] is not None},
        "lenses": {
            item["ref"]: item["score"] for lens in card["lenses"] for item in lens["items"] if item["score"] is not None
        },
        "indicators": {outcome.key: outcome.met for outcome in indicator_outcomes(card)},
        "practices": dict(card["practices"]),
    }


def indicator_outcomes(card: dict[str, Any]) -> list[IndicatorOutcome]:
    outcomes = []
    for indicator in card["indicators"]:
        outcomes.append(
            IndicatorOutcome(indicator["id"], "", indicator["label"], indicator["applies"], indicator["met"])
        )
        for component in indicator["components"]:
            met = component["met"] if indicator["applies"] else None
            outcomes.append(
                IndicatorOutcome(indicator["id"], component["id"], component["label"], indicator["applies"], met)
            )
    return outcomes


#: The profile fields, as organisations, snapshots and decoded records all hold them (one list,
#: with the Profile).
_LIST_FIELDS = PROFILE_LIST_FIELDS


def profile_from(source: Any) -> Profile:
    """The profile held by a mapping (a snapshot's organisation block) or by an object with the
    profile fields as attributes (an organisation, a decoded record)."""
    get = source.get if isinstance(source, dict) else (lambda name: getattr(source, name, None))
    values = {name: get(name) for name in PROFILE_FIELDS}
    return Profile(**{k: tuple(v or ()) if k in _LIST_FIELDS else v for k, v in values.items()})


def answer_from(source: Any) -> AnswerData:
    """An answer from its stored fields: a mapping (a decoded record's) or an answer row. They
    were validated when saved, so they are not checked against the bank again."""
    get = source.get if isinstance(source, dict) else (lambda name: getattr(source, name, None))
    return AnswerData(
        value=get("value"),
        not_applicable=bool(get("not_applicable")),
        justification=get("justification") or "",
        comment=get("comment") or "",
        evidence=tuple(Evidence(e["url"], e.get("description", "")) for e in get("evidence") or ()),
        meta=dict(get("meta") or {}),
    )

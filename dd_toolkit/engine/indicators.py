"""The RPA indicator report: how many submitting institutions meet RPA Indicators 7.2.1 (and
each component), 7.3.1 where it applies, and 7.4.1, per jurisdiction and cycle.

Plain data in (one :class:`Addressed` row per submission addressed to a jurisdiction, with its
decoded indicator outcomes), plain data out. The records layer stores the reports; every page,
export, API response and CLI command reads them from there.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

INDICATORS = ("RPA:7.2.1", "RPA:7.3.1", "RPA:7.4.1")


@dataclass(frozen=True)
class Outcome:
    indicator_id: str
    component_id: str  # empty for the indicator itself
    label: str
    met: bool | None  # None where the indicator does not apply


@dataclass(frozen=True)
class Addressed:
    """One submission addressed to one jurisdiction."""

    jurisdiction: str
    organisation_id: int
    version: int
    organisation_name: str
    service_types: tuple[str, ...]
    outcomes: tuple[Outcome, ...]


@dataclass
class IndicatorCount:
    """How many submitting institutions meet one indicator (or one of its components)."""

    key: str  # "RPA:7.2.1" or "RPA:7.2.1/identification"
    label: str
    met: int = 0
    applies: int = 0
    companies: list[str] = field(default_factory=list)  # names; shown to regulators only

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "label": self.label,
            "met": self.met,
            "applies": self.applies,
            "companies": self.companies,
        }


@dataclass
class IndicatorReport:
    jurisdiction: str
    cycle: int
    institutions: int
    by_service_type: dict[str, list[IndicatorCount]]  # "all" first, then each service type
    # Never shown: used to protect counts-only views against differencing.
    organisation_ids: frozenset[int] = frozenset()

    def to_dict(self) -> dict[str, Any]:
        return {
            "jurisdiction": self.jurisdiction,
            "cycle": self.cycle,
            "institutions": self.institutions,
            "by_service_type": {g: [c.to_dict() for c in counts] for g, counts in self.by_service_type.items()},
            "organisation_ids": sorted(self.organisation_ids),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> IndicatorReport:
        return cls(
            data["jurisdiction"],
            data["cycle"],
            data["institutions"],
            {g: [IndicatorCount(**c) for c in counts] for g, counts in data["by_service_type"].items()},
            frozenset(data.get("organisation_ids") or ()),
        )


def _sort_key(count: IndicatorCount) -> tuple[int, bool]:
    return INDICATORS.index(count.key.split("/")[0]), "/" in count.key


def indicator_reports(cycle: int, addressed: Iterable[Addressed]) -> dict[str, IndicatorReport]:
    """One report per jurisdiction, counting each institution's latest submission of the cycle
    addressed to that jurisdiction (a later version replaces an earlier one)."""
    latest: dict[str, dict[int, Addressed]] = {}
    for row in addressed:
        mine = latest.setdefault(row.jurisdiction, {})
        if row.organisation_id not in mine or mine[row.organisation_id].version < row.version:
            mine[row.organisation_id] = row
    reports = {}
    entries_of: dict[int, list[tuple[str, str, bool | None]]] = {}  # a submission's, worked out once
    for jurisdiction, rows in latest.items():
        counts: dict[str, dict[str, IndicatorCount]] = {}
        for row in sorted(rows.values(), key=lambda r: r.organisation_id):
            entries = entries_of.get(id(row.outcomes))
            if entries is None:
                entries = entries_of[id(row.outcomes)] = [
                    (f"{o.indicator_id}/{o.component_id}" if o.component_id else o.indicator_id, o.label, o.met)
                    for o in row.outcomes
                    if o.indicator_id in INDICATORS
                ]
            for group in ("all", *row.service_types):
                table = counts.setdefault(group, {})
                for key, label, met in entries:
                    count = table.get(key)
                    if count is None:
                        count = table[key] = IndicatorCount(key, label)
                    if met is None:
                        continue
                    count.applies += 1
                    if met:
                        count.met += 1
                        count.companies.append(row.organisation_name)
        order = ["all"] + sorted(k for k in counts if k != "all")
        reports[jurisdiction] = IndicatorReport(
            jurisdiction,
            cycle,
            len(rows),
            {group: sorted(counts[group].values(), key=_sort_key) for group in order},
            frozenset(rows),
        )
    return reports


INDICATOR_COLUMNS = (
    "jurisdiction",
    "cycle",
    "service_type",
    "indicator",
    "label",
    "institutions",
    "meeting",
    "companies",
)


def indicator_rows(report: IndicatorReport) -> list[dict]:
    """The rows of a regulator's indicator report as its exports (CSV, PDF, API, CLI) show them.
    The working group never sees this report: its figures come from the releases
    (:func:`dd_toolkit.engine.disclosure.country_indicator_view`)."""
    rows = []
    for group, counts in report.by_service_type.items():
        for count in counts:
            rows.append(
                {
                    "jurisdiction": report.jurisdiction,
                    "cycle": report.cycle,
                    "service_type": group,
                    "indicator": count.key,
                    "label": count.label,
                    "institutions": count.applies,
                    "meeting": count.met,
                    "companies": "; ".join(count.companies),
                }
            )
    return rows

"""The RPA indicator report: how many submitting institutions meet RPA Indicators 7.2.1 (and
each component), 7.3.1 where it applies, and 7.4.1, per jurisdiction and cycle.

Plain data in (one :class:`Addressed` row per submission addressed to a jurisdiction, with its
decoded indicator outcomes), plain data out. The records layer stores the reports; every page,
export, API response and CLI command reads them from there.

Each outcome has one of three statuses: met, not met, or *not applicable* (the indicator's
``applies_when`` does not hold for the institution, e.g. 7.2.1 for an institution that hosts no
content from users). An institution an indicator does not apply to is counted in its own
column, never as not meeting it; the components of an indicator that does not apply do not
apply either. The sentence that states this convention on every page and export is content
(``reports/indicator_report.yaml``), read by :func:`report_notes`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from dd_toolkit.engine.reports import csv_text
from dd_toolkit.paths import bundled_root

INDICATORS = ("RPA:7.2.1", "RPA:7.3.1", "RPA:7.4.1")

MET = "met"
NOT_MET = "not_met"
NOT_APPLICABLE = "not_applicable"

#: The content file holding the report's sentences, in a content folder's ``reports/``.
NOTES_FILE = "indicator_report.yaml"
#: The sentences it must hold.
NOTE_KEYS = ("not_applicable", "working_group_not_applicable")


@dataclass(frozen=True)
class Outcome:
    indicator_id: str
    component_id: str  # empty for the indicator itself
    label: str
    met: bool | None  # None where the indicator does not apply
    applies: bool | None = None  # as stored; None when the source does not say

    @property
    def status(self) -> str:
        if self.met is None or (self.applies is not None and not self.applies):
            return NOT_APPLICABLE
        return MET if self.met else NOT_MET


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
    """How many submitting institutions meet one indicator (or one of its components), how many
    it applies to, and how many it does not apply to (counted apart, never as not met)."""

    key: str  # "RPA:7.2.1" or "RPA:7.2.1/identification"
    label: str
    met: int = 0
    applies: int = 0
    companies: list[str] = field(default_factory=list)  # names; shown to regulators only
    not_applicable: int = 0

    @property
    def not_met(self) -> int:
        """Institutions it applies to that do not meet it."""
        return self.applies - self.met

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "label": self.label,
            "met": self.met,
            "applies": self.applies,
            "not_applicable": self.not_applicable,
            "companies": self.companies,
        }


_COUNT_FIELDS = frozenset(f.name for f in fields(IndicatorCount))


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
        """A stored report (one stored before "not applicable" was counted reads as none)."""
        return cls(
            data["jurisdiction"],
            data["cycle"],
            data["institutions"],
            {
                g: [IndicatorCount(**{k: v for k, v in c.items() if k in _COUNT_FIELDS}) for c in counts]
                for g, counts in data["by_service_type"].items()
            },
            frozenset(data.get("organisation_ids") or ()),
        )


def _sort_key(count: IndicatorCount) -> tuple[int, bool]:
    return INDICATORS.index(count.key.split("/")[0]), "/" in count.key


def _entries(outcomes: Iterable[Outcome]) -> list[tuple[str, str, str]]:
    return [
        (f"{o.indicator_id}/{o.component_id}" if o.component_id else o.indicator_id, o.label, o.status)
        for o in outcomes
        if o.indicator_id in INDICATORS
    ]


def indicator_reports(cycle: int, addressed: Iterable[Addressed]) -> dict[str, IndicatorReport]:
    """One report per jurisdiction, counting each institution's latest submission of the cycle
    addressed to that jurisdiction (a later version replaces an earlier one).

    An institution an indicator does not apply to is counted under ``not_applicable`` of the
    indicator and of each of its components, and nowhere else."""
    latest: dict[str, dict[int, Addressed]] = {}
    for row in addressed:
        mine = latest.setdefault(row.jurisdiction, {})
        if row.organisation_id not in mine or mine[row.organisation_id].version < row.version:
            mine[row.organisation_id] = row
    reports = {}
    entries_of: dict[int, list[tuple[str, str, str]]] = {}  # a submission's, worked out once
    for jurisdiction, rows in latest.items():
        counts: dict[str, dict[str, IndicatorCount]] = {}
        # Per group, each institution's indicators that do not apply and the keys it reported:
        # the components of those indicators are not applicable to it either.
        inapplicable: dict[str, list[tuple[set[str], set[str]]]] = {}
        for row in sorted(rows.values(), key=lambda r: r.organisation_id):
            entries = entries_of.get(id(row.outcomes))
            if entries is None:
                entries = entries_of[id(row.outcomes)] = _entries(row.outcomes)
            not_applying = {key for key, _, status in entries if "/" not in key and status == NOT_APPLICABLE}
            for group in ("all", *row.service_types):
                table = counts.setdefault(group, {})
                for key, label, status in entries:
                    count = table.get(key)
                    if count is None:
                        count = table[key] = IndicatorCount(key, label)
                    if status == NOT_APPLICABLE:
                        count.not_applicable += 1
                        continue
                    count.applies += 1
                    if status == MET:
                        count.met += 1
                        count.companies.append(row.organisation_name)
                if not_applying:
                    inapplicable.setdefault(group, []).append((not_applying, {key for key, _, _ in entries}))
        for group, institutions in inapplicable.items():
            for not_applying, reported in institutions:
                for key, count in counts[group].items():
                    if "/" in key and key.split("/")[0] in not_applying and key not in reported:
                        count.not_applicable += 1
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
    "not_met",
    "not_applicable",
    "companies",
)


def indicator_rows(report: IndicatorReport) -> list[dict]:
    """The rows of a regulator's indicator report as its exports (CSV, PDF, API, CLI) show them:
    ``institutions`` it applies to, of which ``meeting`` and ``not_met``, and apart from them
    ``not_applicable``. The working group never sees this report: its figures come from the
    releases (:func:`dd_toolkit.engine.disclosure.country_indicator_view`)."""
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
                    "not_met": count.not_met,
                    "not_applicable": count.not_applicable,
                    "companies": "; ".join(count.companies),
                }
            )
    return rows


def indicator_csv(report: IndicatorReport, notes: Mapping[str, str]) -> str:
    """The report's CSV: :func:`indicator_rows`, then a last row ``note`` stating the
    not-applicable convention (``notes`` from :func:`report_notes`)."""
    note = {
        "jurisdiction": report.jurisdiction,
        "cycle": report.cycle,
        "indicator": "note",
        "label": notes["not_applicable"],
    }
    return csv_text(INDICATOR_COLUMNS, [*indicator_rows(report), note])


def report_notes(root: Path | None = None) -> dict[str, str]:
    """The sentences of the indicator reports, from ``root/reports/indicator_report.yaml`` (a
    content folder's own copy), else from the bundled one."""
    for folder in (Path(root) / "reports" if root else None, bundled_root() / "reports"):
        if folder is not None and (folder / NOTES_FILE).is_file():
            path = folder / NOTES_FILE
            return dict(_notes(path, path.stat().st_mtime_ns))
    raise FileNotFoundError(f"reports/{NOTES_FILE} is missing")


@functools.lru_cache(maxsize=8)
def _notes(path: Path, _mtime: int) -> tuple[tuple[str, str], ...]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    missing = [key for key in NOTE_KEYS if not isinstance(data.get(key), str) or not data[key].strip()]
    if missing:
        raise ValueError(f"{path}: missing text for {', '.join(missing)}")
    return tuple((key, " ".join(str(text).split())) for key, text in data.items())

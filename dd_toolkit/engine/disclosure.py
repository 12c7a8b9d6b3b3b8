"""Every disclosure rule for what the Industry Working Group (WG) sees, applied to published releases.

The WG never sees live aggregates. It sees *releases*: numbered, dated snapshots of the anonymised
benchmark (:mod:`dd_toolkit.engine.benchmark`) of one or more cycles, with the trend across cycles
and, derived from the same figures, the RPA indicator view per country. A WG member can keep every
release and compare any of them with any other, so the rules below are about everything ever
published, not one snapshot. This module is pure Python (no web app, no database): callers hand it
:class:`Contribution` records and the previous :class:`Release`, and store what it returns.

Rules
-----
Consent. A contribution without benchmark consent is ignored entirely: it is dropped before
anything else, so its data, and even its existence, change nothing the WG sees. Consent is given
per submission; for each organisation and cycle the latest *consenting* submission (the highest
``submission_id``) is the one that counts.

Figures and contributor sets. A figure is the size of a peer group (metric ``companies``) or one
metric of a group (quartiles of a score, or the share of companies meeting an indicator or adopting
a practice, shown with the number of companies it is computed over), of one cycle; plus the
release's number of companies covered. Its contributor set is the set of contributions it is
computed over. Every set is kept twice: keyed by submission id (a new version of an answer is a
new member, so a re-submission is one member out and one in) and keyed by organisation id (a
company stays the same member across versions and cycles: the worst case, as if its answers had
not changed). Each release keeps a private ledger of the sets of every figure published so far.

1. Threshold. A figure over fewer than ``threshold`` (t) contributions is withheld ("not enough
   companies"); a group withheld is withheld as a whole.
2. Differencing. Two figures of the same metric (any group, any cycle, any release) may have
   contributor sets differing by 0 or by at least t members in each direction, in both keyings.
3. Combinations. No linear combination of the figures of one metric ever published (any groups,
   cycles and releases, in both keyings) may be confined to fewer than t members (the exact check
   ``benchmark._find_leak``).

Rules 2 and 3 are applied by ``benchmark._protect``: within a release, the candidate figures of a
metric are admitted from the largest down (earlier cycles first; within a cycle the order of
:func:`benchmark.build_benchmark`), each checked against the ledger's sets and those admitted
before it. With no earlier release and one cycle this is exactly ``build_benchmark``'s rules.

Carry-over. A figure that is not admitted is shown exactly as the previous release showed it, when
it showed it (same numbers, same contributor set: nothing new), and withheld otherwise, with the
reason only ("could reveal a single company" or "not enough companies"), never a number. So a
figure once shown stays shown, and it changes only when at least t new consenting submissions (in
each direction) have changed its contributors; one company submitting, re-submitting or joining a
group changes nothing the WG sees. The trend across cycles is the ``all`` group of each cycle, and
the per-country indicator view is the ``country:<ISO>`` group: the same figures, so they add no
contributor set and can never disagree with the benchmark.

Resolution. Shown quartiles are rounded to ``score_step`` (whole points by default) and shares to
``share_step`` (5 % by default), half to even. Rounding is not what protects companies (rules 1-3
do, whatever the resolution); it removes detail nobody needs and that helps an attacker. Scores
are computed to hundredths of a point, and with 5 to 8 companies the inclusive quartiles are
(interpolations of) individual companies' scores: at full precision a quartile can match a score a
company has made public, naming it; whole points are how the scores are read anyway. A share is a
count divided by the number of companies shown with it: in a group of 5 to 20 one company moves it
by 5 % or more, so rounding to 5 % keeps every count distinct there (and does not hide it, which
is why rules 1-3 treat shares as exact counts), while in larger groups it blurs the count by up to
a few companies, so that small changes mostly do not show at all.

Not covered (see also ``benchmark``'s module docstring): a share of 0 or 1 tells a reader who
knows a company is in the group what it answered; t-1 colluding companies can learn the t-th's
answers in a group of exactly t; the pattern of withheld and carried-over figures is visible; the
two keyings are the two extremes (every version different, or every company unchanged), not every
mixture of them; and figures of different metrics are checked separately.
"""

from __future__ import annotations

import operator
import statistics
import time
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from dd_toolkit.engine import reports
from dd_toolkit.engine.benchmark import (
    GROUP_SIZE_METRIC,
    REASON_DIFFERENCING,
    REASON_TOO_FEW,
    SEARCH_DEADLINE,
    STATUS_SHOWN,
    Benchmark,
    GroupResult,
    MetricResult,
    Trend,
    _check_threshold,
    _group_sort_key,
    _label,
    _Metric,
    _metrics_of,
    _protect,
    group_ids,
)
from dd_toolkit.paths import bundled_root

#: Seconds a release's combination checks may take in all (see :func:`build_release`).
TIME_BUDGET = 20.0

__all__ = [
    "WORKING_GROUP_COLUMNS",
    "Contribution",
    "CountryIndicators",
    "Ledger",
    "LedgerEntry",
    "Release",
    "Rules",
    "build_release",
    "country_indicator_view",
    "has_news",
    "shows_news",
    "what_the_working_group_sees",
    "working_group_csv",
    "working_group_rows",
]

POLICY_TEMPLATE = "working_group_policy.md.j2"

WORKING_GROUP_COLUMNS = (
    "release",
    "cycle",
    "group_id",
    "group_label",
    "metric",
    "companies",
    "p25",
    "median",
    "p75",
    "share",
    "status",
    "reason",
)

STATUS_WITHHELD = "withheld"

#: The ledger's name for the release's number of companies covered (all cycles together).
COVERED_GROUP = "covered"
_COVERED = (0, COVERED_GROUP)

_METRIC_KIND_ORDER = ("overall", "module", "lens", "indicator", "practice", "risk")


# --------------------------------------------------------------------------------------------
# Input
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rules:
    """The disclosure settings: threshold t and the resolution of shown figures."""

    threshold: int = 5
    score_step: float = 1.0  # shown quartiles rounded to whole points
    share_step: float = 0.05  # shown shares rounded to the nearest 5 %

    def __post_init__(self) -> None:
        _check_threshold(self.threshold)
        for step in (self.score_step, self.share_step):
            if isinstance(step, bool) or not isinstance(step, int | float) or not step > 0:
                raise ValueError("score_step and share_step must be positive numbers")

    def to_dict(self) -> dict[str, Any]:
        return {"threshold": self.threshold, "score_step": self.score_step, "share_step": self.share_step}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Rules:
        defaults = cls()
        return cls(
            threshold=int(data.get("threshold", defaults.threshold)),
            score_step=float(data.get("score_step", defaults.score_step)),
            share_step=float(data.get("share_step", defaults.share_step)),
        )


@dataclass(frozen=True)
class Contribution:
    """One submission as the WG computations see it (a new version is a new submission)."""

    submission_id: int
    organisation_id: int
    cycle: int
    consent: bool
    service_types: tuple[str, ...]
    size_band: str | None
    countries: tuple[str, ...]
    overall: float | None
    modules: Mapping[str, float] = field(default_factory=dict)
    lenses: Mapping[str, float] = field(default_factory=dict)
    # "RPA:7.2.1" and components "RPA:7.2.1/identification"; None where it does not apply.
    indicators: Mapping[str, bool | None] = field(default_factory=dict)
    practices: Mapping[str, bool] = field(default_factory=dict)
    # "harm/age_group/level" -> whether the residual risk of that cell is at that level.
    risks: Mapping[str, bool] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# Ledger (private)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LedgerEntry:
    """The contributor set of one published figure, in both keyings. Never shown."""

    release: int  # the release that first showed it
    cycle: int  # 0 for the release's companies covered
    group_id: str
    metric: str
    submissions: frozenset[int]
    organisations: frozenset[int]


@dataclass(frozen=True)
class Ledger:
    """The contributor sets of every figure published so far. Never shown; it only checks the
    next release."""

    entries: tuple[LedgerEntry, ...] = ()

    def family(self, metric: str) -> list[tuple[frozenset[int], frozenset[int]]]:
        """The distinct (by submission, by organisation) sets published for ``metric``."""
        return list(dict.fromkeys((e.submissions, e.organisations) for e in self.entries if e.metric == metric))

    def to_dict(self) -> dict[str, Any]:
        """Compact: each distinct set once, figures referring to it by index."""
        index: dict[frozenset[int], int] = {}
        for entry in self.entries:
            for members in (entry.submissions, entry.organisations):
                index.setdefault(members, len(index))
        return {
            "sets": [sorted(members) for members in index],
            "figures": [
                [e.release, e.cycle, e.group_id, e.metric, index[e.submissions], index[e.organisations]]
                for e in self.entries
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Ledger:
        if not data:
            return cls()
        sets = [frozenset(members) for members in data["sets"]]
        return cls(
            tuple(
                LedgerEntry(release, cycle, group_id, metric, sets[subs], sets[orgs])
                for release, cycle, group_id, metric, subs, orgs in data["figures"]
            )
        )


# --------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------


def _group_dict(group: GroupResult) -> dict[str, Any]:
    data = group.to_dict()
    if group.suppressed:
        data.pop("n_display")  # "fewer than t" is a bound on a count: a withheld group shows its reason only
    return data


@dataclass(frozen=True)
class Release:
    """A published release: the benchmark of each cycle covered, the trend, and the private ledger."""

    number: int
    published_at: str
    final: bool
    cycles: tuple[int, ...]
    companies: int | None  # distinct organisations covered; None while that figure is withheld
    rules: Rules
    benchmarks: Mapping[int, Benchmark]
    trends: tuple[Trend, ...]
    ledger: Ledger = field(default_factory=Ledger, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The public part: no ledger, no ids."""
        return {
            "number": self.number,
            "published_at": self.published_at,
            "final": self.final,
            "cycles": list(self.cycles),
            "companies": self.companies,
            "rules": self.rules.to_dict(),
            "benchmarks": {
                str(cycle): {
                    "cycle": b.cycle,
                    "threshold": b.threshold,
                    "groups": [_group_dict(g) for g in b.groups],
                }
                for cycle, b in self.benchmarks.items()
            },
            "trends": [t.to_dict() for t in self.trends],
        }

    def ledger_dict(self) -> dict[str, Any]:
        return self.ledger.to_dict()

    @classmethod
    def from_dicts(cls, public: Mapping[str, Any], ledger: Mapping[str, Any] | None) -> Release:
        """A release from :meth:`to_dict` and :meth:`ledger_dict` (``None``: no ledger, to show it only)."""
        rules = Rules.from_dict(public["rules"])
        benchmarks = {
            int(cycle): Benchmark(
                cycle=data["cycle"],
                threshold=data["threshold"],
                groups=tuple(GroupResult.from_dict(g, data["threshold"]) for g in data["groups"]),
            )
            for cycle, data in public["benchmarks"].items()
        }
        return cls(
            number=public["number"],
            published_at=public["published_at"],
            final=public["final"],
            cycles=tuple(public["cycles"]),
            companies=public["companies"],
            rules=rules,
            benchmarks=benchmarks,
            trends=tuple(Trend.from_dict(t) for t in public["trends"]),
            ledger=Ledger.from_dict(ledger),
        )


@dataclass(frozen=True)
class CountryIndicators:
    """The WG's RPA indicator view of one country and cycle: the indicator metrics of the release's
    ``country:<ISO>`` group, or nothing but a reason when that group is withheld."""

    release: int
    cycle: int
    country: str
    withheld: bool
    reason: str | None
    companies: int | None
    metrics: tuple[MetricResult, ...] = ()  # share and companies it applies to, or a reason

    def to_dict(self) -> dict[str, Any]:
        return {
            "release": self.release,
            "cycle": self.cycle,
            "country": self.country,
            "withheld": self.withheld,
            "reason": self.reason,
            "companies": self.companies,
            "metrics": [m.to_dict() for m in self.metrics],
        }


# --------------------------------------------------------------------------------------------
# Building a release
# --------------------------------------------------------------------------------------------

_Views = tuple[frozenset[int], frozenset[int]]  # (by submission, by organisation)
_Key = tuple[int, str]  # (cycle, group id)


_SUBMISSION_ID = operator.attrgetter("submission_id")
_ORGANISATION_ID = operator.attrgetter("organisation_id")


def _views(contributions: Iterable[Contribution]) -> _Views:
    contributions = list(contributions)
    return (frozenset(map(_SUBMISSION_ID, contributions)), frozenset(map(_ORGANISATION_ID, contributions)))


def _counted(contributions: Iterable[Contribution]) -> dict[int, dict[int, Contribution]]:
    """Per cycle, the latest consenting submission of each organisation (highest submission id).
    Contributions without consent are dropped first: they count for nothing."""
    latest: dict[int, dict[int, Contribution]] = {}
    for c in contributions:
        if not c.consent:
            continue
        mine = latest.setdefault(c.cycle, {})
        if c.organisation_id not in mine or mine[c.organisation_id].submission_id < c.submission_id:
            mine[c.organisation_id] = c
    return latest


def _rounded(value: float | Fraction, step: float) -> float:
    """``value`` to the nearest multiple of ``step``, half to even, in exact arithmetic."""
    unit = Fraction(str(step))
    return float(round(Fraction(value) / unit) * unit)


def _figure(metric: _Metric, values: Sequence[Any], rules: Rules) -> MetricResult:
    """The shown figure of a metric over ``values`` (already admitted), at the rules' resolution."""
    if metric.kind == "quartiles":
        p25, median, p75 = (
            _rounded(q, rules.score_step)
            for q in statistics.quantiles([float(v) for v in values], n=4, method="inclusive")
        )
        return MetricResult(metric.name, metric.kind, STATUS_SHOWN, len(values), p25, median, p75)
    share = _rounded(Fraction(sum(1 for v in values if v), len(values)), rules.share_step)
    return MetricResult(metric.name, metric.kind, STATUS_SHOWN, len(values), share=share)


def _metric_sort_key(name: str) -> tuple[int, str]:
    prefix = name.split(":", 1)[0]
    return (_METRIC_KIND_ORDER.index(prefix) if prefix in _METRIC_KIND_ORDER else len(_METRIC_KIND_ORDER), name)


def _admit(
    metric: str,
    candidates: Mapping[Hashable, _Views],
    priority: Sequence[Hashable],
    ledger: Ledger,
    threshold: int,
    cache: dict,
) -> set[Hashable]:
    """The candidates of one metric's family admitted under rules 2 and 3, given every set the
    ledger holds for the metric (both keyings)."""
    family = ledger.family(metric)
    memo = (frozenset(family), frozenset(candidates.items()), tuple(priority))
    if memo not in cache:
        fixed = {("published", i): views for i, views in enumerate(family)}
        cache[memo] = _protect(candidates, priority, threshold, admitted=fixed)
    return set(candidates) - set(cache[memo])


def _priority(keys: Iterable[Hashable], size: Mapping[Hashable, int], order: Mapping[Hashable, int]) -> list:
    """First to give way first: later cycles, then (within a cycle) smaller sets, then later groups;
    the release's companies covered gives way before anything."""

    def rank(key: Hashable) -> tuple:
        if key == _COVERED:
            return (float("-inf"), 0, 0)
        cycle, _ = key
        return (-cycle, size[key], -order[key])

    return sorted(keys, key=rank)


def _shown(previous: Release | None) -> tuple[dict[_Key, GroupResult], dict[tuple[int, str, str], MetricResult]]:
    """The groups and metric figures the previous release showed."""
    groups: dict[_Key, GroupResult] = {}
    metrics: dict[tuple[int, str, str], MetricResult] = {}
    for cycle, benchmark in (previous.benchmarks if previous else {}).items():
        for group in benchmark.groups:
            if group.suppressed:
                continue
            groups[(cycle, group.group_id)] = group
            for result in group.metrics:
                if not result.suppressed:
                    metrics[(cycle, group.group_id, result.metric)] = result
    return groups, metrics


_LABEL_KINDS = (("service_type", "service_types"), ("size_band", "size_bands"), ("country", "countries"))


def _withheld_reasons(previous: Release | None) -> dict[tuple[int, str, str], str]:
    """(cycle, group, metric) -> reason, for every figure the previous release withheld."""
    reasons: dict[tuple[int, str, str], str] = {}
    for cycle, benchmark in previous.benchmarks.items() if previous else ():
        for group in benchmark.groups:
            if group.suppressed:
                reasons[(cycle, group.group_id, GROUP_SIZE_METRIC)] = group.reason
                continue
            for metric in group.metrics:
                if metric.suppressed:
                    reasons[(cycle, group.group_id, metric.metric)] = metric.reason
    return reasons


def build_release(
    contributions: Iterable[Contribution],
    *,
    previous: Release | None,
    rules: Rules,
    labels: Mapping[str, Mapping[str, str]] | None = None,
    number: int,
    published_at: str,
    final: bool = False,
) -> Release:
    """The next release after ``previous``, under the rules of this module.

    The combination checks share a time budget (``TIME_BUDGET`` seconds): a check not decided
    by then withholds its figure (carried over when the previous release showed it), so a
    release is always built, never left hanging, and never discloses more for being slow."""
    token = SEARCH_DEADLINE.set(time.monotonic() + TIME_BUDGET)
    try:
        return _build_release(
            contributions,
            previous=previous,
            rules=rules,
            labels=labels,
            number=number,
            published_at=published_at,
            final=final,
        )
    finally:
        SEARCH_DEADLINE.reset(token)


def _attribute_columns(
    contributions: Sequence[Contribution], attr: str, keys: Sequence[str]
) -> dict[str | None, Sequence[Any]]:
    """Each contribution's ``attr`` as columns in their order: the overall score (under None),
    or one column per key of the mapping, None where a contribution's mapping lacks the key.
    Each mapping is read by one item getter, in C, not by one ``get`` per key and contribution."""
    if attr == "overall":
        return {None: [c.overall for c in contributions]}
    if not contributions or not keys:
        return {key: () for key in keys}
    wanted, blank = set(keys), dict.fromkeys(keys)
    mappings = (getattr(c, attr, None) or {} for c in contributions)
    complete = [m if wanted <= m.keys() else {**blank, **m} if m else blank for m in mappings]
    rows = list(map(operator.itemgetter(*keys), complete))
    if len(keys) == 1:
        return {keys[0]: rows}
    return dict(zip(keys, zip(*rows, strict=True), strict=True))


def _picker(column_of: Sequence[Contribution], chosen: Sequence[Contribution]) -> Callable[[Sequence], tuple]:
    """A function taking, from a column in the order of ``column_of``, the values of ``chosen``
    (in their order) as a tuple."""
    position = {id(c): n for n, c in enumerate(column_of)}
    indexes = [position[id(c)] for c in chosen]
    if len(indexes) > 1:
        return operator.itemgetter(*indexes)
    return lambda column: tuple(column[i] for i in indexes)


def _build_release(
    contributions: Iterable[Contribution],
    *,
    previous: Release | None,
    rules: Rules,
    labels: Mapping[str, Mapping[str, str]] | None,
    number: int,
    published_at: str,
    final: bool,
) -> Release:
    t = rules.threshold
    counted = _counted(contributions)
    ledger = previous.ledger if previous else Ledger()
    shown_groups, shown_metrics = _shown(previous)
    cycles = sorted(set(counted) | set(previous.cycles if previous else ()))
    new_entries: list[LedgerEntry] = []
    cache: dict = {}

    # Members of every group of every cycle (and groups the previous release showed).
    members: dict[_Key, list[Contribution]] = {}
    for cycle in cycles:
        for c in sorted(counted.get(cycle, {}).values(), key=lambda c: c.organisation_id):
            for gid in group_ids(c):
                members.setdefault((cycle, gid), []).append(c)
    # Every group the labels name is listed in every cycle, with or without members: a group
    # appearing would tell that a company of its kind has joined.
    named = {f"{kind}:{key}" for kind, vocabulary in _LABEL_KINDS for key in (labels or {}).get(vocabulary, {})}
    listed = {(cycle, gid) for cycle in cycles for gid in named}
    keys = sorted(set(members) | set(shown_groups) | listed, key=lambda k: (k[0], _group_sort_key(k[1])))
    # A figure withheld before and still withheld keeps its reason: a reason changing from "not
    # enough companies" to "could reveal a single company" would tell that a group has grown.
    earlier_reasons = _withheld_reasons(previous)
    order = {key: i for i, key in enumerate(keys)}
    group_views = {key: _views(members.get(key, ())) for key in keys}
    everyone = [c for cycle in cycles for c in counted.get(cycle, {}).values()]

    # Group sizes (and the companies covered): one family, metric "companies".
    candidates = {key: group_views[key] for key in keys if len(group_views[key][1]) >= t}
    covered_views = _views(everyone)
    if len(covered_views[1]) >= t:
        candidates[_COVERED] = covered_views
    size = {key: len(views[1]) for key, views in candidates.items()}
    admitted = _admit(GROUP_SIZE_METRIC, candidates, _priority(candidates, size, order), ledger, t, cache)
    for key in admitted:
        cycle, gid = key
        subs, orgs = candidates[key]
        new_entries.append(LedgerEntry(number, cycle, gid, GROUP_SIZE_METRIC, subs, orgs))

    if _COVERED in admitted:
        companies = len(covered_views[1])
    else:
        companies = previous.companies if previous else None

    group_n: dict[_Key, int] = {}
    withheld_groups: dict[_Key, str] = {}
    for key in keys:
        if key in admitted:
            group_n[key] = len(group_views[key][1])
        elif key in shown_groups:
            group_n[key] = shown_groups[key].n
        else:
            reason = REASON_TOO_FEW if len(group_views[key][1]) < t else REASON_DIFFERENCING
            withheld_groups[key] = earlier_reasons.get((*key, GROUP_SIZE_METRIC), reason)
    open_keys = [key for key in keys if key in group_n]

    # Metrics: one family per metric name, across the cycles and groups of this release.
    metric_defs: dict[str, _Metric] = {}
    metrics_of_cycle: dict[int, set[str]] = {}
    for cycle in cycles:
        defs = _metrics_of(counted.get(cycle, {}).values()) if counted.get(cycle) else []
        metrics_of_cycle[cycle] = {m.name for m in defs}
        for m in defs:
            metric_defs.setdefault(m.name, m)
    results: dict[_Key, dict[str, MetricResult]] = {key: {} for key in open_keys}
    # A metric's values are read once per cycle, into a column in the order of the cycle's
    # contributions; each group takes its members' values from it in one call (a picker of their
    # positions). The metrics are sorted by kind, so the columns of all the metrics one attribute
    # holds are read together, when its first metric comes.
    in_cycle = {cycle: sorted(counted.get(cycle, {}).values(), key=lambda c: c.organisation_id) for cycle in cycles}
    pick = {key: _picker(in_cycle[key[0]], members.get(key, ())) for key in open_keys}
    keys_of: dict[str, list[str]] = {}
    for metric in metric_defs.values():
        if metric.key is not None:
            keys_of.setdefault(metric.attr, []).append(metric.key)
    read: tuple[str, dict[int, dict[str | None, Sequence[Any]]]] = ("", {})
    for name, metric in sorted(metric_defs.items(), key=lambda kv: _metric_sort_key(kv[0])):
        if read[0] != metric.attr:
            wanted = keys_of.get(metric.attr, [])
            read = (metric.attr, {cycle: _attribute_columns(cs, metric.attr, wanted) for cycle, cs in in_cycle.items()})
        columns = {cycle: found[metric.key] for cycle, found in read[1].items() if name in metrics_of_cycle[cycle]}
        family: dict[_Key, _Views] = {}
        values: dict[_Key, Sequence[Any]] = {}
        for key in open_keys:
            if key[0] not in columns:
                continue
            found = pick[key](columns[key[0]])
            present = len(found) - found.count(None)
            if present < t:
                continue
            if present == len(found):
                # Every member contributing is the common case: the group's own sets, built once.
                family[key], values[key] = group_views[key], found
            else:
                family[key] = _views(c for c, v in zip(members.get(key, ()), found, strict=True) if v is not None)
                values[key] = [v for v in found if v is not None]
        size = {key: len(views[1]) for key, views in family.items()}
        admitted = _admit(name, family, _priority(family, size, order), ledger, t, cache)
        for key in open_keys:
            if name not in metrics_of_cycle[key[0]]:
                continue
            if key in admitted:
                results[key][name] = _figure(metric, values[key], rules)
                new_entries.append(LedgerEntry(number, key[0], key[1], name, *family[key]))
            elif (key[0], key[1], name) in shown_metrics:
                results[key][name] = shown_metrics[(key[0], key[1], name)]
            else:
                reason = earlier_reasons.get((*key, name), REASON_DIFFERENCING if key in family else REASON_TOO_FEW)
                results[key][name] = MetricResult(name, metric.kind, f"suppressed: {reason}")
    # Figures shown before whose metric no longer occurs in the data stay as they were.
    for (cycle, gid, name), result in shown_metrics.items():
        if (cycle, gid) in results and name not in results[(cycle, gid)]:
            results[(cycle, gid)][name] = result

    benchmarks = {}
    for cycle in cycles:
        groups = []
        for key in (k for k in keys if k[0] == cycle):
            label = _label(key[1], labels)
            if key in withheld_groups:
                groups.append(GroupResult(key[1], label, True, withheld_groups[key], None, (), t))
            else:
                shown = tuple(results[key][m] for m in sorted(results[key], key=_metric_sort_key))
                groups.append(GroupResult(key[1], label, False, None, group_n[key], shown, t))
        benchmarks[cycle] = Benchmark(cycle=cycle, threshold=t, groups=tuple(groups))

    # Entries the ledger holds already are not added again. They are found by figure first: a
    # set of every entry would hash every contributor set the ledger has ever kept.
    known: dict[tuple[int, str, str], list[_Views]] = {}
    for e in ledger.entries:
        known.setdefault((e.cycle, e.group_id, e.metric), []).append((e.submissions, e.organisations))
    fresh = [
        e for e in new_entries if (e.submissions, e.organisations) not in known.get((e.cycle, e.group_id, e.metric), ())
    ]
    return Release(
        number=number,
        published_at=published_at,
        final=final,
        cycles=tuple(cycles),
        companies=companies,
        rules=rules,
        benchmarks=benchmarks,
        trends=tuple(_trend(benchmarks[cycle]) for cycle in cycles),
        ledger=Ledger(ledger.entries + tuple(fresh)),
    )


def _trend(benchmark: Benchmark) -> Trend:
    """The trend point of one cycle: its ``all`` group's size, overall median and indicator shares,
    the very figures of the benchmark (so the trend adds no contributor set of its own)."""
    everyone = benchmark.group("all")
    if everyone is None or everyone.suppressed:
        status = everyone.status if everyone is not None else f"suppressed: {REASON_TOO_FEW}"
        return Trend(benchmark.cycle, status, None, None, ())
    overall = everyone.metric("overall")
    median = overall.median if overall is not None and not overall.suppressed else None
    indicators = tuple(m for m in everyone.metrics if m.metric.startswith("indicator:"))
    note = None
    if any(m.suppressed for m in indicators):
        note = "Some indicator shares are withheld: showing them could reveal a single company."
    return Trend(benchmark.cycle, STATUS_SHOWN, everyone.n, median, indicators, note)


def _content(release: Release) -> dict:
    """What a release shows, labels and dates aside: to tell whether a new one would show news.

    Only shown figures count: which withheld groups a release lists depends on the labels it was
    built with (every named group is listed), and a withheld figure shows nothing."""
    figures: dict = {"companies": release.companies}
    for cycle, benchmark in release.benchmarks.items():
        for group in benchmark.groups:
            if group.suppressed:
                continue
            figures[(cycle, group.group_id)] = (group.status, group.n)
            for m in (m for m in group.metrics if not m.suppressed):
                figures[(cycle, group.group_id, m.metric)] = (m.status, m.companies, m.p25, m.median, m.p75, m.share)
    return figures


def has_news(contributions: Iterable[Contribution], previous: Release | None, rules: Rules) -> bool:
    """Would :func:`build_release` show anything ``previous`` does not? With no previous release:
    would it show any figure at all?"""
    number = previous.number + 1 if previous else 1
    candidate = build_release(contributions, previous=previous, rules=rules, number=number, published_at="")
    return shows_news(candidate, previous)


def shows_news(candidate: Release, previous: Release | None) -> bool:
    """Does ``candidate``, built after ``previous``, show anything it does not (labels and dates
    aside)? With no previous release: does it show any figure at all? A caller that would
    publish the candidate asks this rather than :func:`has_news`, which builds it again."""
    if previous is None:
        return any(not g.suppressed for b in candidate.benchmarks.values() for g in b.groups)
    return _content(candidate) != _content(previous)


# --------------------------------------------------------------------------------------------
# Views and formats
# --------------------------------------------------------------------------------------------


def country_indicator_view(release: Release, cycle: int, country: str) -> CountryIndicators:
    """The RPA indicators of one country, read only from the release's ``country:<ISO>`` group of
    ``cycle``: per indicator and component, the shown share and the companies it applies to, or
    the reason it is withheld. Withheld as a whole when the group is withheld (or absent).

    A company an indicator does not apply to has no value for it, so it is in neither the share
    nor the companies it applies to: not applicable, never "not met" (the page states this,
    from ``reports/indicator_report.yaml``). No count of such companies is shown: the group's
    size and a metric's companies may come from different releases (a figure carried over), so
    their difference is not a count, and a count of its own would be a new figure to protect."""
    benchmark = release.benchmarks.get(cycle)
    group = benchmark.group(f"country:{country}") if benchmark is not None else None
    if group is None:
        return CountryIndicators(release.number, cycle, country, True, REASON_TOO_FEW, None)
    if group.suppressed:
        return CountryIndicators(release.number, cycle, country, True, group.reason, None)
    metrics = tuple(m for m in group.metrics if m.metric.startswith("indicator:RPA:"))
    return CountryIndicators(release.number, cycle, country, False, None, group.n, metrics)


def working_group_rows(release: Release, cycle: int) -> list[dict[str, Any]]:
    """The rows every WG format shows for a cycle's benchmark: each group's ``companies`` row, then
    a row per metric of a shown group. A withheld figure has status "withheld", its reason, and no
    number of any kind. Empty when the release does not cover ``cycle``."""
    benchmark = release.benchmarks.get(cycle)
    if benchmark is None:
        return []
    rows: list[dict[str, Any]] = []

    def row(group: GroupResult, metric: str, reason: str | None, figures: Mapping[str, Any]) -> None:
        shown = reason is None
        rows.append(
            {
                "release": release.number,
                "cycle": cycle,
                "group_id": group.group_id,
                "group_label": group.label,
                "metric": metric,
                "companies": figures.get("companies") if shown else None,
                "p25": figures.get("p25") if shown else None,
                "median": figures.get("median") if shown else None,
                "p75": figures.get("p75") if shown else None,
                "share": figures.get("share") if shown else None,
                "status": STATUS_SHOWN if shown else STATUS_WITHHELD,
                "reason": reason,
            }
        )

    for group in benchmark.groups:
        row(group, GROUP_SIZE_METRIC, group.reason if group.suppressed else None, {"companies": group.n})
        if group.suppressed:
            continue
        for m in group.metrics:
            figures = {"companies": m.companies, "p25": m.p25, "median": m.median, "p75": m.p75, "share": m.share}
            row(group, m.metric, m.reason if m.suppressed else None, figures)
    return rows


def working_group_csv(release: Release, cycle: int) -> str:
    """:func:`working_group_rows` as CSV text."""
    return reports.csv_text(WORKING_GROUP_COLUMNS, working_group_rows(release, cycle))


def what_the_working_group_sees(rules: Rules | None = None, root: Path | None = None) -> list[str]:
    """Plain statements shown to a company before it consents, and on the working group's pages:
    the items of ``reports/working_group_policy.md.j2`` (in the content folder ``root``, else the
    bundled one), filled in with ``rules``."""
    env = reports.report_environment(root or bundled_root())
    text = env.get_template(POLICY_TEMPLATE).render(rules=rules or Rules())
    return [line[2:].strip() for line in text.splitlines() if line.startswith("- ")]

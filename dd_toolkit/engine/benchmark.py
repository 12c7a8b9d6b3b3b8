"""Anonymised benchmarks across companies, with disclosure control.

The Industry Working Group sees anonymised figures for peer groups of companies, and each
company sees where it stands against the peer groups it belongs to. Nothing shown, alone or
combined with anything else shown, may let a reader work out one company's figures. This
module is pure Python (standard library only) and knows nothing about the web app or the
database: callers hand it :class:`BenchmarkEntry` records.

What is shown
-------------
Peer groups: ``all``, one per service type (``service_type:<id>``), one per size band
(``size_band:<id>``) and one per country of operation (``country:<ISO>``) present in the cycle.
For a disclosed group: the number of companies, the 25th percentile, median and 75th percentile
(``statistics.quantiles(..., n=4, method="inclusive")``) of the overall score, of each module
score and of each lens item, and the share (0-1) of companies meeting each indicator (among
those it applies to) and adopting each key practice. Each metric row also shows how many
companies it is computed over. Never shown: a minimum, a maximum, a mean of fewer than
``threshold`` companies, any one company's value, or an organisation id.

Disclosure rules (``threshold`` = t, 5 by default)
-------------------------------------------------
A "contributor set" is the set of companies a figure is computed over: the group's members for
the group itself, and the members having a value for a metric (a score present, an indicator
that applies, a practice answered) for that metric.

1. Primary suppression. A group with fewer than t companies is suppressed: only its label, a
   flag and the reason "not enough companies" are shown, and its size is stored as ``None``
   (displayed as "fewer than t"). Within a disclosed group, a metric with fewer than t
   contributors is suppressed on its own, with the same reason.

2. Differencing between two figures. Shares are counts divided by the number of contributors,
   and the number of contributors is shown, so two figures of the same metric over contributor
   sets A and B let a reader subtract counts. For every pair of disclosed contributor sets of
   the same metric (and, for the groups themselves, of every pair of disclosed groups,
   ``all`` included), |A \\ B| and |B \\ A| must each be 0 or at least t. Otherwise the figure
   of the smaller set is suppressed (ties: the group later in the stable order "all", service
   types, size bands, countries), with the reason "could reveal a single company".

3. Differencing through combinations. Pairs are not enough: size bands partition ``all``, so
   ``all`` minus every disclosed band gives the total of a suppressed band; two service types
   minus ``all`` gives the companies in both; and so on. The rule applied is the linear one: no
   linear combination of the disclosed figures of one metric (each a sum over its contributor
   set) may be confined to fewer than t companies. Technically: the row space of the 0/1
   contributor-set matrix must contain no non-zero vector whose support covers fewer than t
   companies. The check is exact (exact arithmetic; see ``_find_leak``); in the unlikely event
   that it cannot finish within its search budget it reports a leak, erring on the side of
   suppression. The same check protects the group sizes themselves (sums of ones).

   Rules 2 and 3 are applied together: the figures of a metric (or the groups) are admitted
   from the largest contributor set down (ties: earlier in the stable order first), and a
   figure is suppressed when it clashes under rule 2 with one already admitted, or would give
   a leak under rule 3 together with them. So the smaller figure always gives way, a figure is
   never suppressed for the sake of one that is itself suppressed, and the result is stable:
   adding back any suppressed figure would break a rule. Rules 2 and 3 are applied to the
   quartile metrics too, although quartiles are not sums: the cheap, conservative choice.

4. Dominance (the "(n, k) rule" for business statistics, where one large contributor dominates a
   total) is not applicable: the figures here are quartiles of scores bounded to 0-100 and
   shares of yes/no answers, so no single company can dominate a figure; the threshold and the
   differencing rules are what protect individual companies.

Between cycles, :func:`trends` shows the ``all`` group of each cycle. Treating each company's
answers as if they were unchanged from one cycle to the next (the worst case), the sets of
companies of the cycles are checked with the same rules 2 and 3 (a cycle whose set differs from
an earlier cycle with shown shares by 1..t-1 companies in either direction has its indicator
shares withheld, and says why); the later cycle is always the one that gives way.

What the rules do not cover (deliberately, or because it is outside this module): a group in
which every contributor gives the same answer (share 0 or 1) tells a reader who knows a company
is in the group what that company answered; a coalition of t-1 companies pooling their own
answers can learn the last one's in a group of exactly t; with t companies the quartiles are
values of individual (unnamed) companies, which is inherent to medians; the pattern of which
figures are suppressed is itself visible; and :func:`build_benchmark` protects one cycle on its
own, so showing the benchmarks of two cycles side by side is only as safe as the change in
participants between them (which :func:`trends` checks for the ``all`` group).
"""

from __future__ import annotations

import contextvars
import functools
import itertools
import math
import statistics
import time
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

__all__ = [
    "BAND_ABOVE_P75",
    "BAND_BELOW_P25",
    "BAND_MEDIAN_P75",
    "BAND_P25_MEDIAN",
    "CSV_COLUMNS",
    "REASON_DIFFERENCING",
    "REASON_TOO_FEW",
    "STATUS_DIFFERENCING",
    "STATUS_SHOWN",
    "STATUS_TOO_FEW",
    "Benchmark",
    "BenchmarkEntry",
    "GroupResult",
    "MetricResult",
    "Placement",
    "Position",
    "Trend",
    "benchmark_rows",
    "build_benchmark",
    "group_ids",
    "position",
    "trends",
]

REASON_TOO_FEW = "not enough companies"
REASON_DIFFERENCING = "could reveal a single company"
STATUS_SHOWN = "shown"
STATUS_TOO_FEW = f"suppressed: {REASON_TOO_FEW}"
STATUS_DIFFERENCING = f"suppressed: {REASON_DIFFERENCING}"

BAND_BELOW_P25 = "below the 25th percentile"
BAND_P25_MEDIAN = "between the 25th percentile and the median"
BAND_MEDIAN_P75 = "between the median and the 75th percentile"
BAND_ABOVE_P75 = "above the 75th percentile"

CSV_COLUMNS = (
    "group_id",
    "group_label",
    "companies",
    "metric",
    "p25",
    "median",
    "p75",
    "share",
    "status",
)

#: Metric name of the per-group row giving the number of companies in the group.
GROUP_SIZE_METRIC = "companies"

SIZE_BAND_ORDER = ("startup", "medium", "large", "very_large")
_KIND_ORDER = ("all", "service_type", "size_band", "country")
_LABEL_KEYS = {"service_type": "service_types", "size_band": "size_bands", "country": "countries"}

_QUARTILE_DECIMALS = 2
_SHARE_DECIMALS = 4


# --------------------------------------------------------------------------------------------
# Input
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BenchmarkEntry:
    """The scored, latest submission of one consenting organisation in one cycle."""

    organisation_id: int
    cycle: int
    service_types: tuple[str, ...]
    size_band: str
    countries: tuple[str, ...]
    overall: float
    modules: Mapping[str, float] = field(default_factory=dict)
    lenses: Mapping[str, float] = field(default_factory=dict)
    indicators: Mapping[str, bool | None] = field(default_factory=dict)
    practices: Mapping[str, bool] = field(default_factory=dict)
    # The residual levels of the children's risk register: "harm/age_group/level" -> whether the
    # company's cell is at that level (only the cells it rated), so a share is the distribution.
    risks: Mapping[str, bool] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MetricResult:
    """One metric of one group: quartiles (scores) or a share (indicators, practices).

    ``companies`` is the number of companies the figure is computed over (for an indicator,
    those it applies to). Every figure is ``None`` when the metric is suppressed.
    """

    metric: str
    kind: str  # "quartiles" | "share"
    status: str
    companies: int | None = None
    p25: float | None = None
    median: float | None = None
    p75: float | None = None
    share: float | None = None

    @property
    def suppressed(self) -> bool:
        return self.status != STATUS_SHOWN

    @property
    def reason(self) -> str | None:
        return None if not self.suppressed else self.status.removeprefix("suppressed: ")

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "kind": self.kind,
            "status": self.status,
            "suppressed": self.suppressed,
            "reason": self.reason,
            "companies": self.companies,
            "p25": self.p25,
            "median": self.median,
            "p75": self.p75,
            "share": self.share,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MetricResult:
        return cls(**{k: data[k] for k in ("metric", "kind", "status", "companies", "p25", "median", "p75", "share")})


@dataclass(frozen=True)
class GroupResult:
    """A peer group. A suppressed group carries only its label, the flag and the reason."""

    group_id: str
    label: str
    suppressed: bool
    reason: str | None
    n: int | None
    metrics: tuple[MetricResult, ...] = ()
    threshold: int = 5

    @property
    def kind(self) -> str:
        return self.group_id.split(":", 1)[0]

    @property
    def status(self) -> str:
        return STATUS_SHOWN if not self.suppressed else f"suppressed: {self.reason}"

    @property
    def n_display(self) -> str:
        """What a page shows for the size: the number, "fewer than t", or "not shown"."""
        if self.n is not None:
            return str(self.n)
        if self.reason == REASON_TOO_FEW:
            return f"fewer than {self.threshold}"
        return "not shown"

    def metric(self, name: str) -> MetricResult | None:
        for result in self.metrics:
            if result.metric == name:
                return result
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "group_id": self.group_id,
            "kind": self.kind,
            "label": self.label,
            "suppressed": self.suppressed,
            "reason": self.reason,
            "status": self.status,
            "n": self.n,
            "n_display": self.n_display,
            "metrics": [m.to_dict() for m in self.metrics],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], threshold: int) -> GroupResult:
        return cls(
            group_id=data["group_id"],
            label=data["label"],
            suppressed=data["suppressed"],
            reason=data["reason"],
            n=data["n"],
            metrics=tuple(MetricResult.from_dict(m) for m in data["metrics"]),
            threshold=threshold,
        )


@dataclass(frozen=True)
class Benchmark:
    """Anonymised benchmark of one cycle: peer groups in a stable order."""

    cycle: int
    threshold: int
    groups: tuple[GroupResult, ...]

    def group(self, group_id: str) -> GroupResult | None:
        for result in self.groups:
            if result.group_id == group_id:
                return result
        return None

    @property
    def disclosed(self) -> tuple[GroupResult, ...]:
        return tuple(g for g in self.groups if not g.suppressed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "cycle": self.cycle,
            "threshold": self.threshold,
            "groups": [g.to_dict() for g in self.groups],
        }


@dataclass(frozen=True)
class Placement:
    """Where one of the company's own values falls in a group's disclosed quartiles."""

    metric: str
    value: float
    status: str
    band: str | None = None
    p25: float | None = None
    median: float | None = None
    p75: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "value": self.value,
            "status": self.status,
            "band": self.band,
            "p25": self.p25,
            "median": self.median,
            "p75": self.p75,
        }


@dataclass(frozen=True)
class Position:
    """A company's standing in one peer group it belongs to."""

    group_id: str
    group_label: str
    suppressed: bool
    reason: str | None
    companies: int | None
    placements: tuple[Placement, ...] = ()

    def placement(self, metric: str) -> Placement | None:
        for item in self.placements:
            if item.metric == metric:
                return item
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "group_id": self.group_id,
            "group_label": self.group_label,
            "suppressed": self.suppressed,
            "reason": self.reason,
            "companies": self.companies,
            "placements": [p.to_dict() for p in self.placements],
        }


@dataclass(frozen=True)
class Trend:
    """The "all" group of one cycle, for year-on-year comparison.

    ``indicators`` holds one share per indicator; ``note`` says why shares are withheld when
    the companies taking part changed too little since an earlier cycle.
    """

    cycle: int
    status: str
    n: int | None
    overall_median: float | None
    indicators: tuple[MetricResult, ...] = ()
    note: str | None = None

    @property
    def suppressed(self) -> bool:
        return self.status != STATUS_SHOWN

    def indicator(self, name: str) -> MetricResult | None:
        for result in self.indicators:
            if result.metric == name:
                return result
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "cycle": self.cycle,
            "status": self.status,
            "suppressed": self.suppressed,
            "n": self.n,
            "overall_median": self.overall_median,
            "indicators": [m.to_dict() for m in self.indicators],
            "note": self.note,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Trend:
        return cls(
            cycle=data["cycle"],
            status=data["status"],
            n=data["n"],
            overall_median=data["overall_median"],
            indicators=tuple(MetricResult.from_dict(m) for m in data["indicators"]),
            note=data["note"],
        )


# --------------------------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Metric:
    name: str
    kind: str  # "quartiles" | "share"
    # Where the value is read: the entry's attribute, and the key in that mapping (None: the
    # attribute is the value). A caller reading many metrics of many entries reads these itself.
    attr: str = "overall"
    key: str | None = None

    def value(self, entry: BenchmarkEntry) -> Any:
        """The entry's value of this metric; None when the company does not contribute."""
        found = getattr(entry, self.attr, None)
        return found if self.key is None else (found or {}).get(self.key)


def _metrics_of(entries: Iterable[BenchmarkEntry]) -> list[_Metric]:
    entries = list(entries)
    metrics = [_Metric("overall", "quartiles")]
    for attr, prefix, kind in (
        ("modules", "module", "quartiles"),
        ("lenses", "lens", "quartiles"),
        ("indicators", "indicator", "share"),
        ("practices", "practice", "share"),
        ("risks", "risk", "share"),
    ):
        keys = sorted({k for e in entries for k in (getattr(e, attr, None) or {})})
        metrics.extend(_Metric(f"{prefix}:{k}", kind, attr, k) for k in keys)
    return metrics


def _quartiles(values: Sequence[float]) -> tuple[float, float, float]:
    p25, median, p75 = statistics.quantiles(values, n=4, method="inclusive")
    return (
        round(p25, _QUARTILE_DECIMALS),
        round(median, _QUARTILE_DECIMALS),
        round(p75, _QUARTILE_DECIMALS),
    )


def _figure(metric: _Metric, values: Sequence[Any]) -> MetricResult:
    """The shown figure of a metric over ``values`` (already checked to be disclosable)."""
    if metric.kind == "quartiles":
        p25, median, p75 = _quartiles([float(v) for v in values])
        return MetricResult(metric.name, metric.kind, STATUS_SHOWN, len(values), p25, median, p75)
    share = round(sum(1 for v in values if v) / len(values), _SHARE_DECIMALS)
    return MetricResult(metric.name, metric.kind, STATUS_SHOWN, len(values), share=share)


def _withheld(metric: _Metric, status: str) -> MetricResult:
    return MetricResult(metric.name, metric.kind, status)


# --------------------------------------------------------------------------------------------
# Disclosure control: exact rank arithmetic
# --------------------------------------------------------------------------------------------

# Exponents of Mersenne primes 2**e - 1.
_MERSENNE_EXPONENTS = (61, 89, 107, 127, 521, 607, 1279, 2203, 2281, 3217, 4253, 4423, 9689)


def _modulus_for(size: int) -> int | None:
    """A prime above every non-zero minor of a 0/1 matrix whose rank is at most ``size``.

    Hadamard's bound for an n x n 0/1 matrix is (n+1)**((n+1)/2) / 2**n. With a prime larger
    than that, no non-zero minor vanishes modulo the prime, so the rank modulo the prime equals
    the rank over the rationals: the arithmetic is fast and still exact. ``None`` means "use
    fractions" (only for absurdly large families).
    """
    n = max(size, 1)
    bits = (n + 1) / 2 * math.log2(n + 1) - n + 2
    for exponent in _MERSENNE_EXPONENTS:
        if exponent > bits:
            return (1 << exponent) - 1
    return None


class _Basis:
    """Incremental Gaussian elimination, exact (modulo a large prime or in fractions)."""

    def __init__(self, modulus: int | None):
        self.modulus = modulus
        self.vectors: list[tuple[int, list[Any]]] = []

    def __len__(self) -> int:
        return len(self.vectors)

    def reduce(self, vector: Sequence[Any]) -> list[Any]:
        """What is left of ``vector`` after removing its part in the span of the basis."""
        m = self.modulus
        v: list[Any] = list(vector) if m else [Fraction(x) for x in vector]
        for pivot, b in self.vectors:
            c = v[pivot]
            if c:
                if m:
                    v = [(x - c * y) % m for x, y in zip(v, b, strict=True)]
                else:
                    v = [x - c * y for x, y in zip(v, b, strict=True)]
        return v

    def add(self, vector: Sequence[Any]) -> bool:
        """Add ``vector``; True when it is independent of those added before."""
        m = self.modulus
        v = self.reduce(vector)
        for i, x in enumerate(v):
            if x:
                if m:
                    inv = pow(x, -1, m)
                    v = [(y * inv) % m for y in v]
                else:
                    v = [y / x for y in v]
                self.vectors.append((i, v))
                return True
        return False


class _Quotient:
    """Coordinates of 0/1 columns modulo the span of a basis, read off cheaply.

    Every vector has exactly one representative in its class modulo the span that is zero on
    the basis's pivot coordinates, whatever the order of reduction: :meth:`_Basis.reduce` finds
    it one basis vector at a time. Once the basis is fully reduced (each vector zero on the other
    vectors' pivots), that representative of a 0/1 column is the column minus the basis vectors
    whose pivots it holds, and only its free (non-pivot) coordinates need be kept. When the
    basis spans all but a few dimensions, as the large atoms of a big benchmark do, a column
    then costs a few additions of vectors of that few entries, instead of a pass of the whole
    basis over the whole column.
    """

    def __init__(self, basis: _Basis, size: int):
        m = basis.modulus
        vectors = [(pivot, list(v)) for pivot, v in basis.vectors]
        for i in range(len(vectors) - 1, -1, -1):  # clear each pivot from the vectors before it
            pivot, lower = vectors[i]
            for j in range(i):
                c = vectors[j][1][pivot]
                if c:
                    upper = vectors[j][1]
                    cleared = [x - c * y for x, y in zip(upper, lower, strict=True)]
                    vectors[j] = (vectors[j][0], [x % m for x in cleared] if m else cleared)
        pivots = {pivot for pivot, _ in vectors}
        self.modulus, self.size = m, size
        self.free = [i for i in range(size) if i not in pivots]
        self.pivot_mask = _bitmask(pivots)
        self.tail = {pivot: [v[i] for i in self.free] for pivot, v in vectors}

    def __len__(self) -> int:
        return len(self.free)

    def coordinates(self, mask: int) -> list[Any]:
        """The free coordinates of the column with bit i of ``mask`` set in row i, reduced."""
        w: list[Any] = [(mask >> i) & 1 for i in self.free]
        held = mask & self.pivot_mask
        if not held:
            return w
        while held:  # each pivot row the column holds takes its basis vector away
            low = held & -held
            held ^= low
            w = [x - y for x, y in zip(w, self.tail[low.bit_length() - 1], strict=True)]
        m = self.modulus
        return [x % m for x in w] if m else w

    def columns(self, masks: Sequence[int]) -> list[list[Any]]:
        """:meth:`coordinates` of many columns. When the rows fit a machine word and the basis's
        entries are small integers (modulo the prime, as fully reduced 0/1 vectors mostly are),
        all the sums are one small matrix product in exact int64 arithmetic, reduced after."""
        small = self._small_tails()
        if small is None:
            return [self.coordinates(mask) for mask in masks]
        import numpy

        pivots, tails = small
        m = self.modulus
        rows = numpy.arange(self.size, dtype=numpy.int64)
        held = (numpy.array(masks, dtype=numpy.int64)[:, None] >> rows) & 1
        sums = held[:, self.free] - held[:, pivots] @ tails
        if m < 1 << 62:  # the residues fit int64 too
            return numpy.mod(sums, m).tolist()
        return [[x % m for x in row] for row in sums.tolist()]

    def _small_tails(self) -> tuple[list[int], Any] | None:
        """The pivots and, as a pivots x free int64 matrix, their tails as signed integers, when
        the rows fit a word and every entry is below 2**40 in size (so that a sum over the rows
        stays exact in int64); None otherwise."""
        m = self.modulus
        if not m or self.size > _WORD_ROWS or not self.tail:
            return None
        import numpy

        pivots = sorted(self.tail)
        signed = [[x if x <= m // 2 else x - m for x in self.tail[p]] for p in pivots]
        if any(abs(x) >= 1 << 40 for row in signed for x in row):
            return None
        return pivots, numpy.array(signed, dtype=numpy.int64).reshape(len(pivots), len(self.free))


def _atoms(rows: Sequence[frozenset]) -> list[tuple[int, list]]:
    """Companies grouped by which of ``rows`` they belong to, largest groups first.

    Every linear combination of the rows' indicator vectors is constant on such an atom, so the
    atoms (weighted by their size) are the columns of the contributor-set matrix. Each atom is
    (column as a bit mask, bit i: in row i; its companies); :func:`_column` turns the mask into
    a 0/1 vector.
    Companies in none of the rows are left out: no combination involves them.
    """
    if len(rows) <= _WORD_ROWS and all(_set_mask(row) is not None for row in rows):
        return _id_atoms(rows)
    masks: dict[Hashable, int] = {}
    for i, row in enumerate(rows):
        bit = 1 << i
        for company in row:
            masks[company] = masks.get(company, 0) | bit
    by_mask: dict[int, list] = {}
    for company, mask in masks.items():
        by_mask.setdefault(mask, []).append(company)
    return sorted(by_mask.items(), key=lambda kv: (-len(kv[1]), kv[0]))


#: Families of at most this many sets have each company's membership as one machine word, so
#: their atoms and reduced columns are computed by numpy, array by array (a family at 10,000
#: companies has thousands of atoms, each a Python loop before). Larger ones take the loops.
_WORD_ROWS = 63


def _id_atoms(rows: Sequence[frozenset]) -> list[tuple[int, list]]:
    """:func:`_atoms` of sets of non-negative int ids, at most ``_WORD_ROWS`` of them."""
    import numpy

    ids = numpy.concatenate([numpy.fromiter(row, dtype=numpy.int64, count=len(row)) for row in rows])
    bits = numpy.concatenate([numpy.full(len(row), 1 << i, dtype=numpy.int64) for i, row in enumerate(rows)])
    order = numpy.argsort(ids, kind="stable")
    ids, bits = ids[order], bits[order]
    companies, first = numpy.unique(ids, return_index=True)
    masks = numpy.bitwise_or.reduceat(bits, first)  # each company's rows
    order = numpy.lexsort((companies, masks))
    masks, companies = masks[order], companies[order]
    distinct, starts, counts = numpy.unique(masks, return_index=True, return_counts=True)
    order = numpy.lexsort((distinct, -counts))  # largest atoms first, then by mask
    flat = companies.tolist()
    in_order = zip(distinct[order].tolist(), starts[order].tolist(), counts[order].tolist(), strict=True)
    return [(mask, flat[start : start + count]) for mask, start, count in in_order]


@functools.lru_cache(maxsize=4096)
def _set_mask(members: frozenset) -> int | None:
    """The set as a bit mask over its members (non-negative ints, as organisation ids are);
    None for other members. Cached: one build checks the same sets many times."""
    if not members:
        return 0
    if not all(map(isinstance, members, itertools.repeat(int))) or min(members) < 0:
        return None
    return _bitmask(members)


def _bitmask(positions: Iterable[int]) -> int:
    """An int with the given bits set, built in linear time (by numpy's bit packing: a set of
    ten thousand ids is a few arrays' work, not a Python loop over each)."""
    import numpy  # the disclosure rules' bulk work; the rest of the engine does not need it

    found = numpy.fromiter(positions, dtype=numpy.int64)
    if not found.size:
        return 0
    bits = numpy.zeros(int(found.max()) + 1, dtype=bool)
    bits[found] = True
    return int.from_bytes(numpy.packbits(bits, bitorder="little").tobytes(), "little")


def _column(mask: int, size: int) -> list[int]:
    return [(mask >> i) & 1 for i in range(size)]


def _rank_of_sets(rows: Sequence[frozenset]) -> int:
    """The rank over the rationals of the sets' 0/1 indicator vectors.

    It equals the rank of their Gram matrix (entry i, j: the size of the intersection of sets
    i and j), which is small and cheap to build however many companies there are. Bareiss's
    fraction-free elimination keeps the arithmetic in exact integers.
    """
    masks = [_set_mask(row) for row in rows]
    if all(mask is not None for mask in masks):
        m = [[(a & b).bit_count() for b in masks] for a in masks]
    else:
        m = [[len(a & b) for b in rows] for a in rows]
    n = len(m)
    rank, previous = 0, 1
    for col in range(n):
        pivot = next((r for r in range(rank, n) if m[r][col]), None)
        if pivot is None:
            continue
        m[rank], m[pivot] = m[pivot], m[rank]
        lead = m[rank][col]
        for r in range(rank + 1, n):
            factor = m[r][col]
            m[r] = [(lead * x - factor * y) // previous for x, y in zip(m[r], m[rank], strict=True)]
        previous = lead
        rank += 1
    return rank


class _Memo(dict):
    """A dict that computes a missing value from its key once, on first use."""

    def __init__(self, compute: Callable[[Any], Any]):
        super().__init__()
        self._compute = compute

    def __missing__(self, key: Any) -> Any:
        value = self[key] = self._compute(key)
        return value


#: Search nodes after which the combination check gives up and reports a leak (the safe side).
_SEARCH_LIMIT = 3000


class _Undecided(Exception):
    """The combination check ran out of its search budget (or its caller's time)."""


#: A caller may bound the combination checks in wall time (``time.monotonic()`` deadline): a
#: check still running then counts as a leak, so the figure is withheld. Safe, never silent.
SEARCH_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar("search_deadline", default=None)


def _find_leak(sets: Iterable[frozenset], threshold: int) -> frozenset | None:
    """Companies, fewer than ``threshold``, on which some combination of ``sets`` is confined.

    Returns a set T of companies (a union of atoms) such that a non-zero linear combination of
    the sets' indicator vectors vanishes outside T, i.e. the sums over the sets determine a
    non-trivial linear function of the values of the companies in T alone; ``None`` when every
    such combination involves at least ``threshold`` companies.

    Such a combination exists exactly when removing T's columns (atoms) lowers the rank of the
    matrix, i.e. when T meets every basis of its columns; the smallest such T are the matroid's
    cocircuits. Atoms of ``threshold`` or more companies can never be in T, so the columns are
    first reduced modulo the span of those large atoms (usually nothing is left, and the answer
    is immediate). Then, after Brouwer and Zimmermann's minimum-distance algorithm: with k
    pairwise disjoint bases, a cocircuit of weight w meets one of them in at most w // k
    columns. At most 0 means no leak; 1 or 2 means checking, for each basis, the combinations
    meeting it in one column (fundamental cocircuits) or two (the best ratio of two systematic
    rows) is complete; otherwise the search branches on the light columns of one basis (a leak
    contains one of them) and repeats. The result is exact. Should the search exceed
    ``_SEARCH_LIMIT`` nodes, the empty set is returned: "could not rule out a leak".
    """
    rows = list(dict.fromkeys(s for s in sets if s))
    if not rows or threshold <= 1:
        return None
    atoms = _atoms(rows)
    modulus = _modulus_for(min(len(rows), len(atoms)))
    rank = _rank_of_sets(rows)
    large = _Basis(modulus)
    small: list[int] = []
    for index, (mask, members) in enumerate(atoms):
        if len(members) >= threshold:
            if len(large) < rank:  # once they span every row's dimension, the rest add nothing
                large.add(_column(mask, len(rows)))
        else:
            small.append(index)
    # The reduced columns span exactly rank(rows) - rank(large atoms) dimensions.
    most_possible = rank - len(large)
    if most_possible == 0:
        return None
    # Each small atom's column is reduced modulo the large atoms' span once, and kept as its
    # few free coordinates: the large atoms usually span all but a handful of dimensions.
    quotient = _Quotient(large, len(rows))
    full = dict(zip(small, quotient.columns([atoms[a][0] for a in small]), strict=True))
    weights = {a: len(atoms[a][1]) for a in small}
    # A column in the large atoms' span can join no basis and weighs in no codeword: the search
    # reads only the others (at 10,000 companies most small atoms are such columns).
    live = [a for a in small if any(full[a])]
    # Parallel columns share a direction (kept for the search below: the projection to the pivot
    # coordinates is injective, so it keeps which columns are parallel).
    direction: dict[int, tuple] = _Memo(lambda a: _direction(full[a], modulus))
    dimension, offered = _Basis(modulus), set()
    for a in live:
        if len(dimension) == most_possible:
            break
        if direction[a] not in offered:
            offered.add(direction[a])
            dimension.add(full[a])
    d = len(dimension)
    if d == 0:
        return None
    # On the span of the reduced columns, keeping only the echelon basis's pivot coordinates is
    # injective (the basis is unit triangular there), so ranks are unchanged and vectors shrink
    # to length d. A column in the large atoms' span reduces to zero and never joins a basis.
    pivots = [pivot for pivot, _ in dimension.vectors]
    reduced = _Memo(lambda a: [full[a][p] for p in pivots])
    seen: set[frozenset[int]] = set()

    def disjoint_bases(excluded: frozenset[int], budget: int) -> list[list[int]]:
        """Pairwise disjoint bases of the columns outside ``excluded``; [] if they don't span.

        For many bases, each column goes to the least filled basis it is independent of, so
        that no basis hoards the few columns some sparse row depends on. More than ``budget``
        bases are never needed (with budget + 1 of them no leak of that weight can meet them
        all), so no more are built: that keeps large benchmarks fast.
        """
        columns = [a for a in live if a not in excluded]
        # A column parallel to one a basis was offered before is never independent of it (the
        # earlier one is in its span, taken or not): it is not offered again. At 10,000
        # companies thousands of columns share a handful of directions.
        first, offered = _Basis(modulus), set()
        one = []
        for a in columns:
            if direction[a] in offered:
                continue
            offered.add(direction[a])
            if first.add(reduced[a]):
                one.append(a)
                if len(one) == d:
                    break
        if len(one) < d:
            return []
        slots = [(_Basis(modulus), [], set()) for _ in range(min(len(columns) // d, budget + 1))]
        unfilled = len(slots)
        least_filled_first = list(slots)
        for a in columns:
            if not unfilled:
                break
            for basis, chosen, offered in least_filled_first:
                if len(chosen) < d and direction[a] not in offered:
                    offered.add(direction[a])
                    if basis.add(reduced[a]):
                        chosen.append(a)
                        unfilled -= len(chosen) == d
                        least_filled_first = sorted(slots, key=lambda slot: len(slot[1]))
                        break
        packed = [chosen for _, chosen, _ in slots if len(chosen) == d]
        return packed if len(packed) > 1 else [one]

    def light_codeword(excluded: frozenset[int], basis: list[int], budget: int, most: int) -> set[int] | None:
        """Support of a codeword meeting ``basis`` in at most ``most`` (1 or 2) columns and
        weighing at most ``budget`` outside ``excluded``, if there is one.

        In the systematic form for ``basis``, row i is the codeword meeting the basis in its
        i-th column alone (that column's fundamental cocircuit). A codeword meeting it in
        columns i and j alone is row_i + x row_j with x != 0: it vanishes on a column where
        both rows are non-zero exactly when x is minus their ratio there, so the lightest one
        takes the ratio that cancels the most weight.
        """
        chosen = set(basis)
        columns = basis + [a for a in live if a not in excluded and a not in chosen]
        rows = _systematic([reduced[a] for a in columns], d, modulus)
        supports = []
        for i, row in enumerate(rows):
            support = {x for x in range(d, len(columns)) if row[x]}
            if weights[basis[i]] + sum(weights[columns[x]] for x in support) <= budget:
                return {basis[i]} | {columns[x] for x in support}
            supports.append(support)
        if most < 2:
            return None
        for i, j in itertools.combinations(range(d), 2):
            union = supports[i] | supports[j]
            both = supports[i] & supports[j]
            heavy = weights[basis[i]] + weights[basis[j]]
            heavy += sum(weights[columns[x]] for x in union - both)
            if heavy > budget:
                continue
            by_ratio: dict[Any, int] = {}
            for x in both:
                a, b = rows[i][x], rows[j][x]
                ratio = a * pow(b, -1, modulus) % modulus if modulus else Fraction(a) / b
                by_ratio[ratio] = by_ratio.get(ratio, 0) + weights[columns[x]]
            ratio, cancelled = max(by_ratio.items(), key=lambda kv: kv[1], default=(None, 0))
            if heavy + sum(weights[columns[x]] for x in both) - cancelled <= budget:
                kept = {
                    x
                    for x in union
                    if x not in both
                    or (
                        rows[i][x] * pow(rows[j][x], -1, modulus) % modulus
                        if modulus
                        else Fraction(rows[i][x]) / rows[j][x]
                    )
                    != ratio
                }
                return {basis[i], basis[j]} | {columns[x] for x in kept}
        return None

    nodes = 0

    def search(excluded: frozenset[int], budget: int) -> frozenset[int] | None:
        nonlocal nodes
        nodes += 1
        deadline = SEARCH_DEADLINE.get()
        if nodes > _SEARCH_LIMIT or (deadline is not None and time.monotonic() > deadline):
            raise _Undecided
        bases = disjoint_bases(excluded, budget)
        if not bases:
            return excluded  # the columns left no longer span: a leak
        # A minimal leak D meets every basis, and sum_j |D & basis_j| <= |D| <= budget, so it
        # meets one of the k disjoint bases in at most budget // k columns.
        most = budget // len(bases)
        if most == 0:
            return None
        if most <= 2:
            # Checking the codewords meeting some basis in one or two columns is complete.
            for basis in bases:
                found = light_codeword(excluded, basis, budget, most)
                if found is not None:
                    return excluded | found
            return None
        # Otherwise branch: D contains one of the light members of any basis.
        candidates = min(([a for a in basis if weights[a] <= budget] for basis in bases), key=len)
        for a in sorted(candidates, key=lambda a: (weights[a], a)):
            branch = excluded | {a}
            if branch in seen:
                continue
            seen.add(branch)
            found = search(branch, budget - weights[a])
            if found is not None:
                return found
        return None

    try:
        found = search(frozenset(), threshold - 1)
    except _Undecided:
        return frozenset()
    if found is None:
        return None
    return frozenset().union(*(atoms[a][1] for a in found))


def _direction(vector: Sequence[Any], modulus: int | None) -> tuple:
    """A non-zero vector scaled so that its first non-zero entry is 1: parallel vectors alike."""
    lead = next(x for x in vector if x)
    if modulus:
        inverse = pow(lead, -1, modulus)
        return tuple(x * inverse % modulus for x in vector)
    return tuple(Fraction(x) / lead for x in vector)


def _systematic(columns: Sequence[Sequence[Any]], d: int, modulus: int | None) -> list[list[Any]]:
    """Row-reduce the d x n matrix with these columns until its first d columns are the identity.

    The first d columns must be independent. Row i then holds the coordinates on the i-th of
    them of every column, so its non-zero entries are that column's fundamental cocircuit.
    """
    rows = [[v[i] for v in columns] for i in range(d)]
    p = modulus
    for col in range(d):
        pivot = next(r for r in range(col, d) if rows[r][col])
        rows[col], rows[pivot] = rows[pivot], rows[col]
        lead = rows[col]
        if p:
            inv = pow(lead[col], -1, p)
            lead = [x * inv % p for x in lead]
        else:
            c = lead[col]
            lead = [Fraction(x) / c for x in lead]
        rows[col] = lead
        for r in range(d):
            f = rows[r][col]
            if r != col and f:
                if p:
                    rows[r] = [(x - f * y) % p for x, y in zip(rows[r], lead, strict=True)]
                else:
                    rows[r] = [x - f * y for x, y in zip(rows[r], lead, strict=True)]
    return rows


def _protect(
    sets: Mapping[Hashable, frozenset | tuple[frozenset, ...]],
    priority: Sequence[Hashable],
    threshold: int,
    *,
    admitted: Mapping[Hashable, frozenset | tuple[frozenset, ...]] | None = None,
) -> dict[Hashable, Hashable | None]:
    """Rules 2 and 3 over one family of contributor sets that passed rule 1.

    ``priority`` lists the keys from the first to give way to the last (smallest first). Keys
    are admitted from the last of ``priority`` backwards; a key is suppressed when it differs
    from an admitted set by 1..threshold-1 companies in either direction (rule 2) or when,
    together with the admitted sets, it would leave a combination confined to fewer than
    ``threshold`` companies (rule 3). So of two clashing sets the one earlier in ``priority``
    (the smaller) always gives way, and a set is never sacrificed for one that is itself
    suppressed. The admitted family is checked as a whole, and it is maximal: each suppressed
    set would still clash or leak if added back alone.

    ``admitted`` holds sets that are already published (keys distinct from those of ``sets``):
    they are never suppressed, and every key is checked against them as against the sets
    admitted before it. A set may also be given as a tuple of views of the same figure, its
    members keyed in different ways (e.g. by submission and by organisation): each view is
    compared only with the same view of the other sets, and a key is admitted only if the
    rules hold in every view.

    Returns the suppressed keys, each mapped to the admitted key it clashed with (rule 2) or to
    ``None`` (rule 3).
    """
    fixed = dict(admitted or {})
    if fixed.keys() & sets.keys():
        raise ValueError("keys of admitted sets and candidate sets must be distinct")
    views = {key: (members if isinstance(members, tuple) else (members,)) for key, members in {**fixed, **sets}.items()}
    width = max((len(v) for v in views.values()), default=1)

    # Sets as bit masks, per view: differences are then counted fast.
    masks: dict[Hashable, list[int]] = {key: [] for key in views}
    for i in range(width):
        mine = {key: _set_mask(v[i]) for key, v in views.items()}
        if any(mask is None for mask in mine.values()):
            index = {company: n for n, company in enumerate(set().union(*(v[i] for v in views.values())))}
            mine = {key: _bitmask(index[c] for c in v[i]) for key, v in views.items()}
        for key, mask in mine.items():
            masks[key].append(mask)

    def differ(a: Hashable, b: Hashable) -> bool:
        return any(
            0 < (x & ~y).bit_count() < threshold or 0 < (y & ~x).bit_count() < threshold
            for x, y in zip(masks[a], masks[b], strict=True)
        )

    def leaks(keys: Sequence[Hashable]) -> bool:
        return any(_leaks(frozenset(views[k][i] for k in keys), threshold) for i in range(width))

    # A candidate identical (in every view) to a published set adds nothing: it is admitted as is.
    published = [{v[i] for v in (views[k] for k in fixed)} for i in range(width)]
    repeats = {key for key in priority if all(views[key][i] in published[i] for i in range(width))}

    def admit(check_leaks: bool) -> tuple[list[Hashable], dict[Hashable, Hashable | None]]:
        chosen: list[Hashable] = list(fixed)
        dropped: dict[Hashable, Hashable | None] = {}
        for key in reversed(priority):
            if key in repeats:
                continue
            clash = next((other for other in chosen if differ(key, other)), None)
            if clash is not None:
                dropped[key] = clash
            elif check_leaks and leaks([*chosen, key]):
                dropped[key] = None
            else:
                chosen.append(key)
        return chosen, dropped

    # Without leaks among the survivors of rule 2, checking each admission would change
    # nothing (every family checked would be part of a family without leaks): check once.
    chosen, dropped = admit(check_leaks=False)
    if not leaks(chosen):
        return dropped
    return admit(check_leaks=True)[1]


def _components(rows: Iterable[frozenset]) -> list[frozenset[frozenset]]:
    """The rows grouped into connected components (rows sharing a member are connected).

    A combination of rows from different components is confined to a set only if each
    component's part is, so a family has a leak exactly when one of its components has.
    """
    parent: dict[Hashable, Hashable] = {}

    def find(x: Hashable) -> Hashable:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    rows = [row for row in dict.fromkeys(rows) if row]
    masks = [_set_mask(row) for row in rows]
    if all(mask is not None for mask in masks):
        return _mask_components(rows, masks)
    for row in rows:
        first = next(iter(row))
        for member in row:
            a, b = find(first), find(member)
            if a != b:
                parent[b] = a
    grouped: dict[Hashable, list[frozenset]] = {}
    for row in rows:
        grouped.setdefault(find(next(iter(row))), []).append(row)
    return [frozenset(group) for group in grouped.values()]


def _mask_components(rows: list[frozenset], masks: list[int]) -> list[frozenset[frozenset]]:
    """:func:`_components` of sets given as bit masks: a component grows by every row its
    members' mask meets, so the work is a few mask operations per row, not one per member."""
    left = list(range(len(rows)))
    components = []
    while left:
        first, *left = left
        members, chosen = masks[first], [first]
        while joining := [i for i in left if masks[i] & members]:
            for i in joining:
                members |= masks[i]
            chosen += joining
            joined = set(joining)
            left = [i for i in left if i not in joined]
        components.append(frozenset(rows[i] for i in chosen))
    return components


@functools.lru_cache(maxsize=2048)
def _component_leaks(rows: frozenset[frozenset], threshold: int) -> bool:
    return _find_leak(sorted(rows, key=_row_order), threshold) is not None


def _row_order(row: frozenset) -> tuple:
    """A fixed order of a family's sets, so that a check never depends on the order a frozenset
    iterates in: larger first, then by mask (sets of ids) or by their members' text."""
    mask = _set_mask(row)
    if mask is not None:
        return (-len(row), 0, mask, ())
    return (-len(row), 1, 0, sorted(map(repr, row)))


def _leaks(rows: frozenset[frozenset], threshold: int) -> bool:
    """Whether :func:`_find_leak` finds a leak in ``rows``, one connected component at a time
    (each remembered: releases check the same families again and again)."""
    return any(_component_leaks(component, threshold) for component in _components(rows))


# --------------------------------------------------------------------------------------------
# Benchmark
# --------------------------------------------------------------------------------------------


def _latest(entries: Iterable[BenchmarkEntry]) -> dict[tuple[int, int], BenchmarkEntry]:
    """One entry per (organisation, cycle); a later entry in the input replaces an earlier."""
    latest: dict[tuple[int, int], BenchmarkEntry] = {}
    for entry in entries:
        key = (entry.organisation_id, entry.cycle)
        latest.pop(key, None)
        latest[key] = entry
    return latest


def group_ids(entry: BenchmarkEntry) -> list[str]:
    ids = ["all"]
    ids.extend(f"service_type:{s}" for s in dict.fromkeys(entry.service_types or ()))
    if entry.size_band:
        ids.append(f"size_band:{entry.size_band}")
    ids.extend(f"country:{c}" for c in dict.fromkeys(entry.countries or ()))
    return ids


def _group_sort_key(group_id: str) -> tuple:
    kind, _, key = group_id.partition(":")
    if kind == "size_band":
        inner = (SIZE_BAND_ORDER.index(key), "") if key in SIZE_BAND_ORDER else (len(SIZE_BAND_ORDER), key)
    else:
        inner = (0, key)
    return (_KIND_ORDER.index(kind), inner)


def _label(group_id: str, labels: Mapping[str, Mapping[str, str]] | None) -> str:
    kind, _, key = group_id.partition(":")
    if kind == "all":
        return "All companies"
    mapping = (labels or {}).get(_LABEL_KEYS[kind]) or {}
    return str(mapping.get(key, key))


def _check_threshold(threshold: int) -> None:
    if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 2:
        raise ValueError("threshold must be an integer of at least 2")


def build_benchmark(
    entries: Iterable[BenchmarkEntry],
    *,
    cycle: int,
    threshold: int = 5,
    labels: Mapping[str, Mapping[str, str]] | None = None,
) -> Benchmark:
    """Anonymised benchmark of ``cycle`` under the disclosure rules of this module."""
    _check_threshold(threshold)
    current = [e for (_, c), e in _latest(entries).items() if c == cycle]
    by_org = {e.organisation_id: e for e in current}

    members: dict[str, set[int]] = {"all": set()}
    for entry in current:
        for gid in group_ids(entry):
            members.setdefault(gid, set()).add(entry.organisation_id)
    order = sorted(members, key=_group_sort_key)
    position_of = {gid: i for i, gid in enumerate(order)}
    group_sets = {gid: frozenset(members[gid]) for gid in order}

    # Rule 1, then rules 2 and 3 on the groups themselves.
    reasons: dict[str, str] = {gid: REASON_TOO_FEW for gid in order if len(group_sets[gid]) < threshold}
    open_groups = [gid for gid in order if gid not in reasons]
    priority = sorted(open_groups, key=lambda g: (len(group_sets[g]), -position_of[g]))
    for gid in _protect(group_sets, priority, threshold):
        reasons[gid] = REASON_DIFFERENCING
    disclosed = [gid for gid in order if gid not in reasons]

    # Metrics: rule 1 per metric, then rules 2 and 3 per metric across disclosed groups.
    metric_results: dict[str, list[MetricResult]] = {gid: [] for gid in disclosed}
    sorted_members = {gid: sorted(group_sets[gid]) for gid in disclosed}
    cache: dict[tuple, dict] = {}
    for metric in _metrics_of(current):
        value_of = {o: metric.value(e) for o, e in by_org.items()}
        contributors: dict[str, frozenset] = {}
        values: dict[str, list[Any]] = {}
        for gid in disclosed:
            present = [o for o in sorted_members[gid] if value_of[o] is not None]
            contributors[gid] = group_sets[gid] if len(present) == len(group_sets[gid]) else frozenset(present)
            values[gid] = [value_of[o] for o in present]
        eligible = [gid for gid in disclosed if len(contributors[gid]) >= threshold]
        key = tuple((gid, contributors[gid]) for gid in eligible)
        if key not in cache:
            prio = sorted(eligible, key=lambda g: (len(contributors[g]), -position_of[g]))
            cache[key] = _protect(contributors, prio, threshold)
        clashes = cache[key]
        for gid in disclosed:
            if gid not in eligible:
                result = _withheld(metric, STATUS_TOO_FEW)
            elif gid in clashes:
                result = _withheld(metric, STATUS_DIFFERENCING)
            else:
                result = _figure(metric, values[gid])
            metric_results[gid].append(result)

    groups = []
    for gid in order:
        label = _label(gid, labels)
        if gid in reasons:
            groups.append(GroupResult(gid, label, True, reasons[gid], None, (), threshold))
        else:
            groups.append(
                GroupResult(
                    gid,
                    label,
                    False,
                    None,
                    len(group_sets[gid]),
                    tuple(metric_results[gid]),
                    threshold,
                )
            )
    return Benchmark(cycle=cycle, threshold=threshold, groups=tuple(groups))


# --------------------------------------------------------------------------------------------
# Company position
# --------------------------------------------------------------------------------------------


def _band(value: float, p25: float, median: float, p75: float) -> str:
    """Bands: below p25 | [p25, median) | [median, p75] | above p75."""
    if value < p25:
        return BAND_BELOW_P25
    if value > p75:
        return BAND_ABOVE_P75
    if value < median:
        return BAND_P25_MEDIAN
    return BAND_MEDIAN_P75


def position(benchmark: Benchmark, entry: BenchmarkEntry) -> list[Position]:
    """Where ``entry`` stands in each peer group of ``benchmark`` it belongs to.

    Uses only the company's own values and the benchmark's disclosed quartiles. A value equal
    to the median or the 75th percentile counts in the band between them; a value equal to the
    25th percentile counts in the band above it.
    """
    mine = set(group_ids(entry))
    own: list[tuple[str, float]] = [("overall", float(entry.overall))]
    own.extend((f"module:{k}", float(v)) for k, v in sorted((entry.modules or {}).items()) if v is not None)
    positions = []
    for group in benchmark.groups:
        if group.group_id not in mine:
            continue
        if group.suppressed:
            positions.append(Position(group.group_id, group.label, True, group.reason, None))
            continue
        placements = []
        for name, value in own:
            result = group.metric(name)
            if result is None:
                continue
            if result.suppressed or result.p25 is None:
                placements.append(Placement(name, value, result.status))
                continue
            band = _band(value, result.p25, result.median, result.p75)
            placements.append(Placement(name, value, STATUS_SHOWN, band, result.p25, result.median, result.p75))
        positions.append(Position(group.group_id, group.label, False, None, group.n, tuple(placements)))
    return positions


# --------------------------------------------------------------------------------------------
# Change between cycles
# --------------------------------------------------------------------------------------------


def trends(entries: Iterable[BenchmarkEntry], *, threshold: int = 5) -> list[Trend]:
    """The "all" group of every cycle present, oldest first.

    Per cycle: the number of companies and the overall median when at least ``threshold``
    companies took part, and the indicator shares unless comparing the cycle with an earlier
    one could isolate fewer than ``threshold`` companies (rules 2 and 3 over the cycles' sets
    of companies, then per indicator over the cycles' contributor sets; the later cycle gives
    way). Companies' answers are assumed unchanged between cycles, the worst case.
    """
    _check_threshold(threshold)
    by_cycle: dict[int, list[BenchmarkEntry]] = {}
    for (_, cycle), entry in _latest(entries).items():
        by_cycle.setdefault(cycle, []).append(entry)
    cycles = sorted(by_cycle)
    sets = {c: frozenset(e.organisation_id for e in by_cycle[c]) for c in cycles}
    large = [c for c in cycles if len(sets[c]) >= threshold]
    later_first = list(reversed(large))

    withheld = _protect(sets, later_first, threshold)
    notes: dict[int, str] = {}
    for c, other in withheld.items():
        if other is not None:
            notes[c] = (
                f"Indicator shares withheld: fewer than {threshold} companies joined or left "
                f"since cycle {other}, so comparing the two cycles could reveal their answers."
            )
        else:
            notes[c] = (
                "Indicator shares withheld: combined with earlier cycles, the change in the "
                f"companies taking part could isolate fewer than {threshold} companies."
            )
    share_cycles = [c for c in large if c not in withheld]

    all_entries = [e for c in cycles for e in by_cycle[c]]
    indicators = [m for m in _metrics_of(all_entries) if m.kind == "share" and m.name.startswith("indicator:")]
    shares: dict[int, list[MetricResult]] = {c: [] for c in large}
    for metric in indicators:
        contributors: dict[int, frozenset] = {}
        values: dict[int, list[Any]] = {}
        for c in share_cycles:
            present = sorted((e.organisation_id, metric.value(e)) for e in by_cycle[c])
            present = [(o, v) for o, v in present if v is not None]
            contributors[c] = frozenset(o for o, _ in present)
            values[c] = [v for _, v in present]
        eligible = [c for c in share_cycles if len(contributors[c]) >= threshold]
        clashes = _protect(contributors, list(reversed(eligible)), threshold)
        for c in large:
            if c in withheld or c in clashes:
                shares[c].append(_withheld(metric, STATUS_DIFFERENCING))
            elif c not in eligible:
                shares[c].append(_withheld(metric, STATUS_TOO_FEW))
            else:
                shares[c].append(_figure(metric, values[c]))
        for c in clashes:
            notes.setdefault(
                c,
                "Some indicator shares withheld: the companies they apply to changed by fewer "
                f"than {threshold} since an earlier cycle, so comparing the cycles could reveal "
                "those companies' answers.",
            )

    result = []
    for c in cycles:
        if c not in large:
            withheld_all = tuple(_withheld(m, STATUS_TOO_FEW) for m in indicators)
            result.append(Trend(c, STATUS_TOO_FEW, None, None, withheld_all))
            continue
        median = round(statistics.median(float(e.overall) for e in by_cycle[c]), _QUARTILE_DECIMALS)
        result.append(Trend(c, STATUS_SHOWN, len(sets[c]), median, tuple(shares[c]), notes.get(c)))
    return result


# --------------------------------------------------------------------------------------------
# Rows and CSV
# --------------------------------------------------------------------------------------------


def benchmark_rows(benchmark: Benchmark) -> list[dict[str, Any]]:
    """Exactly what pages and exports show: one row per (group, metric).

    Each group starts with a ``companies`` row (its size, or its suppression); a disclosed group
    then has one row per metric. Blank cells are ``None``.
    """
    rows: list[dict[str, Any]] = []
    for group in benchmark.groups:
        rows.append(
            {
                "group_id": group.group_id,
                "group_label": group.label,
                "companies": group.n,
                "metric": GROUP_SIZE_METRIC,
                "p25": None,
                "median": None,
                "p75": None,
                "share": None,
                "status": group.status,
            }
        )
        for result in group.metrics:
            rows.append(
                {
                    "group_id": group.group_id,
                    "group_label": group.label,
                    "companies": result.companies,
                    "metric": result.metric,
                    "p25": result.p25,
                    "median": result.median,
                    "p75": result.p75,
                    "share": result.share,
                    "status": result.status,
                }
            )
    return rows

"""Aggregates computed once and stored: the anonymised benchmark per methodology and cycle (one
row per peer group), its trend across cycles, and the RPA indicator report per jurisdiction and
cycle (the regulators' full report and the working group's counts-only one).

They are computed by the engine from the decoded submission records, kept in the ``aggregate``
table so every worker on every host reads the same figures, and refreshed when a submission (with
its consent and its recipients, which are chosen at submission) arrives. Pages read only the rows
they need; none of them rebuilds an aggregate.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, select

from dd_toolkit.engine.benchmark import Benchmark, BenchmarkEntry, GroupResult, Trend, build_benchmark, trends
from dd_toolkit.engine.content import QuestionBank
from dd_toolkit.engine.indicators import Addressed, IndicatorReport, Outcome, counts_only, indicator_reports
from dd_toolkit.engine.scoring import Methodology
from dd_toolkit.records.models import Aggregate, IndicatorOutcomeRecord, Recipient, SubmissionRecord, utcnow

BENCHMARK = "benchmark"
BENCHMARK_SUMMARY = "benchmark_summary"
TRENDS = "trends"
INDICATORS = "indicators"  # a regulator's report of one jurisdiction (with institution names)
INDICATOR_COUNTS = "indicator_counts"  # the working group's counts-only report


# -- storing -------------------------------------------------------------------------------------


def _replace(db: Session, kind: str, scope: str, parts: dict[str, object], marker: int) -> None:
    """Replace the stored rows of one (kind, scope) with ``parts``, unless a refresh that saw
    newer submissions has already stored them (two submissions refreshing at once)."""
    stored = db.exec(
        select(sa.func.max(Aggregate.source_marker)).where(Aggregate.kind == kind, Aggregate.scope == scope)
    ).one()
    if stored is not None and stored > marker:
        return
    db.execute(sa.delete(Aggregate).where(Aggregate.kind == kind, Aggregate.scope == scope))
    now = utcnow()
    db.add_all(
        Aggregate(kind=kind, scope=scope, part=part, payload=payload, source_marker=marker, computed_at=now)
        for part, payload in parts.items()
    )


def _payload(db: Session, kind: str, scope: str, part: str = ""):
    return db.exec(
        select(Aggregate.payload).where(Aggregate.kind == kind, Aggregate.scope == scope, Aggregate.part == part)
    ).first()


def _benchmark_scope(method_key: str, cycle: int) -> str:
    return f"{method_key}|{cycle}"


# -- benchmark -------------------------------------------------------------------------------------


def _labels(bank: QuestionBank) -> dict[str, dict[str, str]]:
    taxonomy = bank.taxonomy
    return {
        vocabulary: {entry.id: entry.label.get() for entry in getattr(taxonomy, vocabulary)}
        for vocabulary in ("service_types", "size_bands", "countries")
    }


def entry_of(record: SubmissionRecord) -> BenchmarkEntry:
    """A submission's figures as they take part in the benchmark."""
    return _entry(
        record.organisation_id,
        record.cycle,
        record.service_types,
        record.size_band,
        record.countries,
        record.benchmark_entry,
    )


def _entry(organisation_id, cycle, service_types, size_band, countries, figures) -> BenchmarkEntry:
    return BenchmarkEntry(
        organisation_id=organisation_id,
        cycle=cycle,
        service_types=tuple(service_types),
        size_band=size_band,
        countries=tuple(countries),
        overall=figures["overall"],
        modules=figures["modules"],
        lenses=figures["lenses"],
        indicators=figures["indicators"],
        practices=figures["practices"],
    )


def _entries(db: Session, method_key: str, cycle: int | None = None) -> list[BenchmarkEntry]:
    """The latest consenting submission per organisation and cycle scored with ``method_key``."""
    query = select(
        SubmissionRecord.organisation_id,
        SubmissionRecord.cycle,
        SubmissionRecord.service_types,
        SubmissionRecord.size_band,
        SubmissionRecord.countries,
        SubmissionRecord.benchmark_entry,
    ).where(
        SubmissionRecord.latest == sa.true(),
        SubmissionRecord.benchmark_consent == sa.true(),
        SubmissionRecord.methodology == method_key,
    )
    if cycle is not None:
        query = query.where(SubmissionRecord.cycle == cycle)
    return [_entry(*row) for row in db.exec(query.order_by(SubmissionRecord.organisation_id))]


def _marker(db: Session) -> int:
    return db.exec(select(sa.func.max(SubmissionRecord.submission_id))).one() or 0


def refresh_benchmark(db: Session, bank: QuestionBank, method: Methodology, cycle: int) -> None:
    """Rebuild and store the benchmark of one cycle under ``method``, and the trend."""
    marker = _marker(db)
    threshold = method.benchmark.disclosure_threshold
    entries = _entries(db, method.key, cycle)
    scope = _benchmark_scope(method.key, cycle)
    if entries:
        benchmark = build_benchmark(entries, cycle=cycle, threshold=threshold, labels=_labels(bank))
        parts = {group.group_id: group.to_dict() for group in benchmark.groups}
        parts[""] = {"cycle": cycle, "threshold": threshold, "groups": [g.group_id for g in benchmark.groups]}
    else:
        parts = {}
    _replace(db, BENCHMARK, scope, parts, marker)
    every_cycle = _entries(db, method.key)
    _replace(db, TRENDS, method.key, {"": [t.to_dict() for t in trends(every_cycle, threshold=threshold)]}, marker)
    other = db.exec(
        select(sa.func.count())
        .select_from(SubmissionRecord)
        .where(
            SubmissionRecord.latest == sa.true(),
            SubmissionRecord.benchmark_consent == sa.true(),
            SubmissionRecord.methodology != method.key,
        )
    ).one()
    cycles = sorted({e.cycle for e in every_cycle}, reverse=True)
    _replace(db, BENCHMARK_SUMMARY, method.key, {"": {"cycles": cycles, "other_methodology": other}}, marker)


@dataclass(frozen=True)
class BenchmarkSummary:
    cycles: list[int]  # newest first
    # Consenting submissions left out because they were scored with another methodology.
    other_methodology: int


def benchmark_summary(db: Session, method: Methodology) -> BenchmarkSummary:
    stored = _payload(db, BENCHMARK_SUMMARY, method.key) or {"cycles": [], "other_methodology": 0}
    return BenchmarkSummary(list(stored["cycles"]), stored["other_methodology"])


def stored_benchmark(
    db: Session, method: Methodology, cycle: int, groups: Iterable[str] | None = None
) -> Benchmark | None:
    """The stored benchmark of a cycle; with ``groups``, only those peer groups are read."""
    query = select(Aggregate.part, Aggregate.payload).where(
        Aggregate.kind == BENCHMARK, Aggregate.scope == _benchmark_scope(method.key, cycle)
    )
    if groups is not None:
        query = query.where(Aggregate.part.in_(["", *groups]))
    rows = dict(db.exec(query).all())
    summary = rows.pop("", None)
    if summary is None:
        return None
    threshold = summary["threshold"]
    return Benchmark(
        cycle=cycle,
        threshold=threshold,
        groups=tuple(GroupResult.from_dict(rows[g], threshold) for g in summary["groups"] if g in rows),
    )


def stored_trends(db: Session, method: Methodology) -> list[Trend]:
    return [Trend.from_dict(t) for t in _payload(db, TRENDS, method.key) or []]


def peer_medians(db: Session, method: Methodology, cycle: int) -> dict[str, float]:
    """Median of all companies for each framework reference, where the benchmark discloses it
    (empty when it discloses none)."""
    benchmark = stored_benchmark(db, method, cycle, groups=["all"])
    everyone = benchmark.group("all") if benchmark else None
    if everyone is None or everyone.suppressed:
        return {}
    return {
        metric.metric.removeprefix("lens:"): metric.median
        for metric in everyone.metrics
        if metric.metric.startswith("lens:") and not metric.suppressed and metric.median is not None
    }


# -- RPA indicator reports -------------------------------------------------------------------------


def _addressed(db: Session, cycle: int) -> list[Addressed]:
    rows = db.exec(
        select(
            Recipient.jurisdiction,
            SubmissionRecord.submission_id,
            SubmissionRecord.organisation_id,
            SubmissionRecord.version,
            SubmissionRecord.organisation_name,
            SubmissionRecord.service_types,
        )
        .join(SubmissionRecord, SubmissionRecord.submission_id == Recipient.submission_id)
        .where(SubmissionRecord.cycle == cycle)
    ).all()
    outcomes: dict[int, list[Outcome]] = {}
    submission_ids = {row[1] for row in rows}
    if submission_ids:
        for sid, indicator_id, component_id, label, met in db.exec(
            select(
                IndicatorOutcomeRecord.submission_id,
                IndicatorOutcomeRecord.indicator_id,
                IndicatorOutcomeRecord.component_id,
                IndicatorOutcomeRecord.label,
                IndicatorOutcomeRecord.met,
            )
            .join(SubmissionRecord, SubmissionRecord.submission_id == IndicatorOutcomeRecord.submission_id)
            .where(SubmissionRecord.cycle == cycle)
            .order_by(IndicatorOutcomeRecord.id)
        ):
            outcomes.setdefault(sid, []).append(Outcome(indicator_id, component_id, label, met))
    return [
        Addressed(jurisdiction, org_id, version, name, tuple(service_types), tuple(outcomes.get(sid, ())))
        for jurisdiction, sid, org_id, version, name, service_types in rows
    ]


def refresh_indicators(db: Session, bank: QuestionBank, method: Methodology, cycle: int) -> None:
    """Rebuild and store both indicator reports of every jurisdiction for one cycle."""
    marker = _marker(db)
    reports = indicator_reports(cycle, _addressed(db, cycle))
    _replace(db, INDICATORS, str(cycle), {j: r.to_dict() for j, r in reports.items()}, marker)
    protected = counts_only(reports, bank.taxonomy.asean_countries, cycle, method.benchmark.disclosure_threshold)
    _replace(
        db,
        INDICATOR_COUNTS,
        str(cycle),
        {j: {"report": r.to_dict(), "withheld": withheld} for j, (r, withheld) in protected.items()},
        marker,
    )


def stored_indicator_report(db: Session, jurisdiction: str, cycle: int) -> IndicatorReport:
    """A regulator's report of one jurisdiction (empty when nothing is addressed to it)."""
    stored = _payload(db, INDICATORS, str(cycle), jurisdiction)
    return IndicatorReport.from_dict(stored) if stored else IndicatorReport(jurisdiction, cycle, 0, {})


def stored_indicator_counts(db: Session, jurisdiction: str, cycle: int) -> tuple[IndicatorReport, bool]:
    """The working group's counts-only report of one jurisdiction, and whether it is withheld."""
    stored = _payload(db, INDICATOR_COUNTS, str(cycle), jurisdiction)
    if stored is None:
        return IndicatorReport(jurisdiction, cycle, 0, {}), True
    return IndicatorReport.from_dict(stored["report"]), stored["withheld"]


def report_cycles(db: Session) -> list[int]:
    """Cycles with at least one submission, newest first."""
    return list(db.exec(select(SubmissionRecord.cycle).distinct().order_by(SubmissionRecord.cycle.desc())))


# -- refreshing ------------------------------------------------------------------------------------


def refresh_after_submission(db: Session, bank: QuestionBank, method: Methodology, cycle: int) -> None:
    """Everything a new submission of ``cycle`` scored with ``method`` can change; commits."""
    refresh_benchmark(db, bank, method, cycle)
    refresh_indicators(db, bank, method, cycle)
    db.commit()


def refresh_all(db: Session, bank: QuestionBank, method: Methodology) -> None:
    """Recompute every stored aggregate (after a migration, a bulk load or a restore); commits."""
    db.execute(sa.delete(Aggregate))
    for cycle in report_cycles(db):
        refresh_benchmark(db, bank, method, cycle)
        refresh_indicators(db, bank, method, cycle)
    if not report_cycles(db):
        refresh_benchmark(db, bank, method, 0)  # stores the empty summary
    db.commit()

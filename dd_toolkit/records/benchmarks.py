"""Building the anonymised benchmark from the database, for the pages and the CLI."""

from __future__ import annotations

from sqlmodel import Session

from dd_toolkit.engine.benchmark import Benchmark, build_benchmark
from dd_toolkit.engine.registry import Content
from dd_toolkit.records.assessments import BenchmarkData, benchmark_entries


def labels(content: Content) -> dict[str, dict[str, str]]:
    taxonomy = content.bank.taxonomy
    return {
        vocabulary: {entry.id: entry.label.get() for entry in getattr(taxonomy, vocabulary)}
        for vocabulary in ("service_types", "size_bands", "countries")
    }


def load(db: Session, content: Content) -> BenchmarkData:
    return benchmark_entries(db, content.current_methodology)


def cycles(data: BenchmarkData) -> list[int]:
    return sorted({entry.cycle for entry in data.entries}, reverse=True)


def benchmark_for(data: BenchmarkData, content: Content, cycle: int) -> Benchmark:
    method = content.current_methodology
    return build_benchmark(
        data.entries,
        cycle=cycle,
        threshold=method.benchmark.disclosure_threshold,
        labels=labels(content),
    )


def peer_medians(db: Session, content: Content, cycle: int) -> dict[str, float]:
    """Median of all companies for each framework reference, where the benchmark discloses it
    (empty when it discloses none)."""
    data = load(db, content)
    if cycle not in cycles(data):
        return {}
    everyone = benchmark_for(data, content, cycle).group("all")
    if everyone is None or everyone.suppressed:
        return {}
    return {
        metric.metric.removeprefix("lens:"): metric.median
        for metric in everyone.metrics
        if metric.metric.startswith("lens:") and not metric.suppressed and metric.median is not None
    }

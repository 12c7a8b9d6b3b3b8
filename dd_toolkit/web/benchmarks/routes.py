"""Anonymised benchmarks: the working group's dashboard and a company's own position."""

from __future__ import annotations

from flask import Blueprint, Response, abort, render_template, request

from dd_toolkit.engine.benchmark import benchmark_csv, group_ids, position
from dd_toolkit.engine.charts import boxplot_svg
from dd_toolkit.records import aggregates
from dd_toolkit.records.aggregates import BenchmarkSummary, entry_of
from dd_toolkit.records.assessments import submission_of
from dd_toolkit.records.models import Organisation
from dd_toolkit.records.submissions import record_of
from dd_toolkit.web import db
from dd_toolkit.web.assess.routes import load_assessment
from dd_toolkit.web.authz import Action, policy
from dd_toolkit.web.context import current_content, current_methodology

bp = Blueprint("benchmarks", __name__)


def _selected_cycle(summary: BenchmarkSummary) -> int | None:
    if not summary.cycles:
        return None
    try:
        chosen = int(request.args.get("cycle", summary.cycles[0]))
    except ValueError:
        abort(404)
    if chosen not in summary.cycles:
        abort(404)
    return chosen


def _stored(cycle: int):
    """The stored benchmark of a cycle under the current methodology, or 404."""
    benchmark = aggregates.stored_benchmark(db.session(), current_methodology(), cycle)
    if benchmark is None:
        abort(404)
    return benchmark


def _metric_labels() -> dict[str, str]:
    method = current_content().current_methodology
    bank = current_content().bank
    names = {"overall": "Overall"}
    names.update({f"module:{m.id}": m.title.get() for m in bank.questionnaires})
    names.update({f"indicator:{i.id}": f"{i.id} {i.label}" for i in method.indicators})
    names.update({f"practice:{p.id}": p.label for p in method.practices})
    for lens in method.lenses:
        names.update({f"lens:{ref}": ref for ref in lens.refs})
    return names


@bp.route("/benchmarks/")
@policy(Action.BENCHMARK_VIEW)
def dashboard():
    method = current_methodology()
    summary = aggregates.benchmark_summary(db.session(), method)
    cycle = _selected_cycle(summary)
    return render_template(
        "benchmarks/dashboard.html",
        summary=summary,
        cycle=cycle,
        cycles=summary.cycles,
        benchmark=_stored(cycle) if cycle else None,
        trends=aggregates.stored_trends(db.session(), method) if cycle else [],
        method=method,
        names=_metric_labels(),
    )


@bp.route("/benchmarks/<int:cycle>.csv")
@policy(Action.BENCHMARK_VIEW)
def export_csv(cycle: int):
    return Response(
        benchmark_csv(_stored(cycle)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="benchmark-{cycle}.csv"'},
    )


@bp.route("/benchmarks/<int:cycle>/<metric>.svg")
@policy(Action.BENCHMARK_VIEW)
def box_plot(cycle: int, metric: str):
    benchmark = _stored(cycle)
    shown = [
        (group.label, result)
        for group in benchmark.disclosed
        if (result := group.metric(metric)) is not None and not result.suppressed
    ]
    if not shown:
        abort(404)
    svg = boxplot_svg([label for label, _ in shown], [(r.p25, r.median, r.p75) for _, r in shown])
    return Response(svg, mimetype="image/svg+xml", headers={"Cache-Control": "private, no-store"})


@bp.route("/assessments/<int:assessment_id>/peers")
@policy(Action.ASSESSMENT_VIEW)
def peers(assessment_id: int):
    """Where a submitted assessment stands against its peer groups, when they are large enough."""
    assessment = load_assessment(assessment_id)
    submission = submission_of(db.session(), assessment.id)
    org = db.session().get(Organisation, assessment.organisation_id)
    method = current_methodology()
    positions, reason = [], None
    record = record_of(db.session(), submission.id) if submission is not None else None
    if record is None:
        reason = "draft"
    elif record.methodology != method.key:
        reason = "methodology"
    else:
        own = entry_of(record)
        # Only the peer groups this company belongs to are read.
        benchmark = aggregates.stored_benchmark(db.session(), method, assessment.cycle, groups=group_ids(own))
        positions = position(benchmark, own) if benchmark is not None else []
    return render_template(
        "benchmarks/peers.html",
        assessment=assessment,
        org=org,
        positions=positions,
        reason=reason,
        method=method,
        names=_metric_labels(),
        submission=submission,
    )

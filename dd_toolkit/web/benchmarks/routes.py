"""Anonymised benchmarks: the working group's dashboard and a company's own position."""

from __future__ import annotations

from flask import Blueprint, Response, abort, render_template, request

from dd_toolkit.engine.benchmark import benchmark_csv, position, trends
from dd_toolkit.engine.charts import boxplot_svg
from dd_toolkit.records import benchmarks as service
from dd_toolkit.records.assessments import entry_from_submission, submission_of
from dd_toolkit.records.models import Organisation
from dd_toolkit.web import db
from dd_toolkit.web.assess.routes import load_assessment
from dd_toolkit.web.authz import Action, policy
from dd_toolkit.web.context import current_content

bp = Blueprint("benchmarks", __name__)


def _selected_cycle(data) -> int | None:
    available = service.cycles(data)
    if not available:
        return None
    try:
        chosen = int(request.args.get("cycle", available[0]))
    except ValueError:
        abort(404)
    if chosen not in available:
        abort(404)
    return chosen


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
    data = service.load(db.session(), current_content())
    cycle = _selected_cycle(data)
    benchmark = service.benchmark_for(data, current_content(), cycle) if cycle else None
    method = current_content().current_methodology
    return render_template(
        "benchmarks/dashboard.html",
        data=data,
        cycle=cycle,
        cycles=service.cycles(data),
        benchmark=benchmark,
        trends=trends(data.entries, threshold=method.benchmark.disclosure_threshold) if cycle else [],
        method=method,
        names=_metric_labels(),
    )


@bp.route("/benchmarks/<int:cycle>.csv")
@policy(Action.BENCHMARK_VIEW)
def export_csv(cycle: int):
    data = service.load(db.session(), current_content())
    if cycle not in service.cycles(data):
        abort(404)
    return Response(
        benchmark_csv(service.benchmark_for(data, current_content(), cycle)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="benchmark-{cycle}.csv"'},
    )


@bp.route("/benchmarks/<int:cycle>/<metric>.svg")
@policy(Action.BENCHMARK_VIEW)
def box_plot(cycle: int, metric: str):
    data = service.load(db.session(), current_content())
    if cycle not in service.cycles(data):
        abort(404)
    benchmark = service.benchmark_for(data, current_content(), cycle)
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
    method = current_content().current_methodology
    positions, reason = [], None
    if submission is None:
        reason = "draft"
    elif submission.methodology != method.key:
        reason = "methodology"
    else:
        data = service.load(db.session(), current_content())
        own = entry_from_submission(submission, assessment.organisation_id, assessment.cycle)
        benchmark = service.benchmark_for(data, current_content(), assessment.cycle)
        positions = position(benchmark, own)
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

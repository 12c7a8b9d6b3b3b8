"""Anonymised benchmarks: the working group's dashboard and a company's own position."""

from __future__ import annotations

from functools import partial

from flask import Blueprint, Response, abort, render_template, request
from flask_babel import get_locale
from flask_babel import gettext as _

from dd_toolkit.engine import disclosure
from dd_toolkit.engine.benchmark import position
from dd_toolkit.engine.charts import boxplot_svg
from dd_toolkit.engine.documents import stored_pdf
from dd_toolkit.engine.indicators import report_notes
from dd_toolkit.records import releases
from dd_toolkit.records.assessments import submission_of
from dd_toolkit.records.models import Organisation
from dd_toolkit.records.plans import frozen_submission
from dd_toolkit.records.submissions import record_of
from dd_toolkit.web import db
from dd_toolkit.web.assess.routes import load_assessment
from dd_toolkit.web.authz import Action, policy
from dd_toolkit.web.context import current_bank, current_content, current_methodology
from dd_toolkit.web.downloads import download
from dd_toolkit.web.fragments import frozen_fragment, store
from dd_toolkit.web.inputs import MAX_CYCLE, MAX_PAGE, int_arg
from dd_toolkit.web.outputs.store import document_store
from dd_toolkit.web.pages import kept_page, shared_figures_only

bp = Blueprint("benchmarks", __name__)


def _release():
    """The release the working group asked for (the latest by default), or None before the first."""
    number = int_arg("release", maximum=MAX_PAGE)
    release = releases.published(db.session(), current_methodology(), number)
    if release is None and number is not None:
        abort(404)
    return release


def _policy(release) -> list[str]:
    """The disclosure policy, with the rules of the release shown (else those in force)."""
    rules = release.rules if release else releases.rules_of(current_methodology())
    return disclosure.what_the_working_group_sees(rules, current_content().root)


def _cycle_of(release) -> int | None:
    if release is None or not release.cycles:
        return None
    cycle = int_arg("cycle", maximum=MAX_CYCLE) or max(release.cycles)
    if cycle not in release.cycles:
        abort(404)
    return cycle


def _metric_labels() -> dict[str, str]:
    method = current_content().current_methodology
    bank = current_content().bank
    names = {"overall": _("Overall"), "companies": _("Companies")}
    names.update({f"module:{m.id}": m.title.get() for m in bank.questionnaires})
    for indicator in method.indicators:
        names[f"indicator:{indicator.id}"] = f"{indicator.id} {indicator.label}"
        names.update({f"indicator:{indicator.id}/{c.id}": f"— {c.label}" for c in indicator.components})
    names.update({f"practice:{p.id}": p.label for p in method.practices})
    for lens in method.lenses:
        names.update({f"lens:{ref}": bank.taxonomy.label("frameworks", ref) for ref in lens.refs})
    return _MetricLabels(names, method.risk, bank.taxonomy)


class _MetricLabels(dict):
    """The labels of the benchmark's measures. The residual-risk shares (one per harm, age group
    and level: a few hundred) are named when a page shows one, not all at every request."""

    def __init__(self, names: dict[str, str], risk, taxonomy) -> None:
        super().__init__(names)
        self._risk, self._taxonomy = risk, taxonomy

    def __missing__(self, metric: str) -> str:
        found = self._risk_label(metric)
        if found is None:
            raise KeyError(metric)
        return found

    def get(self, metric, default=None):
        if metric in self:
            return self[metric]
        found = self._risk_label(metric)
        return default if found is None else found

    def _risk_label(self, metric: str) -> str | None:
        # "risk:<harm>/<age group>/<level>": the distribution of residual risk levels of the registers
        if self._risk is None or not isinstance(metric, str) or not metric.startswith("risk:"):
            return None
        parts = metric.removeprefix("risk:").split("/")
        levels = {level.id: level.label for level in self._risk.levels}
        if len(parts) != 3 or parts[0] not in self._taxonomy.ids("harms") or parts[2] not in levels:
            return None
        if parts[1] not in self._taxonomy.ids("age_groups"):
            return None
        label = _(
            "Residual risk %(level)s: %(harm)s, %(ages)s",
            level=levels[parts[2]],
            harm=self._taxonomy.label("harms", parts[0]),
            ages=self._taxonomy.label("age_groups", parts[1]),
        )
        self[metric] = label
        return label


@bp.route("/benchmarks/")
@policy(Action.BENCHMARK_VIEW)
@kept_page(shows=shared_figures_only)
def dashboard():
    release = _release()
    cycle = _cycle_of(release)
    method = current_methodology()
    numbers = releases.release_numbers(db.session(), method)

    def body() -> str:
        return render_template(
            "benchmarks/_dashboard_body.html",
            release=release,
            numbers=numbers,
            cycle=cycle,
            benchmark=release.benchmarks[cycle] if cycle else None,
            trends=release.trends if release else [],
            method=method,
            names=_metric_labels(),
            policy=_policy(release),
        )

    # A published release never changes: its figures are rendered once per release, cycle, list
    # of releases, methodology and language.
    key = ("benchmark-dashboard", release.number if release else None, cycle, tuple(numbers), method.key)
    return render_template("benchmarks/dashboard.html", body=store().get_or_render((*key, str(get_locale())), body))


@bp.route("/benchmarks/<int:cycle>.<fmt>")
@policy(Action.BENCHMARK_VIEW)
def export(cycle: int, fmt: str):
    """The release's figures of one cycle as CSV or PDF: the same rows as the page and the API."""
    release = _release()
    if release is None or cycle not in release.cycles or fmt not in ("csv", "pdf"):
        abort(404)
    name = f"benchmark-release-{release.number}-{cycle}"
    if fmt == "csv":
        data, mimetype = disclosure.working_group_csv(release, cycle), "text/csv"
    else:
        html = render_template(
            "benchmarks/print.html",
            release=release,
            cycle=cycle,
            rows=disclosure.working_group_rows(release, cycle),
            names=_metric_labels(),
            policy=_policy(release),
        )
        data, mimetype = stored_pdf(html, document_store()), "application/pdf"
    return download(data, mimetype, f"{name}.{fmt}", headers={"Cache-Control": "private, no-store"})


@bp.route("/benchmarks/<int:cycle>/<metric>.svg")
@policy(Action.BENCHMARK_VIEW)
def box_plot(cycle: int, metric: str):
    release = _release()
    if release is None or cycle not in release.cycles:
        abort(404)
    shown = [
        (group.label, result)
        for group in release.benchmarks[cycle].disclosed
        if (result := group.metric(metric)) is not None and not result.suppressed
    ]
    if not shown:
        abort(404)
    svg = boxplot_svg([label for label, _ in shown], [(r.p25, r.median, r.p75) for _, r in shown])
    return Response(svg, mimetype="image/svg+xml", headers={"Cache-Control": "private, no-store"})


@bp.route("/benchmarks/indicators")
@policy(Action.BENCHMARK_VIEW)
@kept_page(shows=shared_figures_only)
def indicators():
    """RPA indicator rates by country, from the same release (and the same rules) as the benchmark."""
    release = _release()
    cycle = _cycle_of(release)
    countries = current_bank().taxonomy.asean_countries
    asked = request.args.get("country") or None
    if asked is not None and asked not in countries:
        abort(404)
    numbers = releases.release_numbers(db.session(), current_methodology())

    def body() -> str:
        country, every_country_withheld = asked, False
        if country is None:
            # Open on the first country whose rates are shown; when the release shows none, say so.
            view_of = partial(disclosure.country_indicator_view, release, cycle)
            shown = [c for c in countries if cycle and not view_of(c).withheld]
            country = shown[0] if shown else countries[0]
            every_country_withheld = bool(cycle) and not shown
        return render_template(
            "benchmarks/_indicators_body.html",
            release=release,
            numbers=numbers,
            cycle=cycle,
            country=country,
            countries=countries,
            view=disclosure.country_indicator_view(release, cycle, country) if cycle else None,
            every_country_withheld=every_country_withheld,
            names=_metric_labels(),
            policy=_policy(release),
            notes=report_notes(current_content().root),
            taxonomy=current_bank().taxonomy,
        )

    # Rendered once per release, cycle, country asked for, list of releases, methodology and
    # language, as the dashboard: a published release never changes.
    key = ("benchmark-indicators", release.number if release else None, cycle, asked, tuple(numbers))
    key += (current_methodology().key, str(get_locale()))
    return render_template("benchmarks/indicators.html", body=store().get_or_render(key, body))


@bp.route("/assessments/<int:assessment_id>/peers")
@policy(Action.ASSESSMENT_VIEW)
@kept_page
def peers(assessment_id: int):
    """Where a submitted assessment stands against its peer groups, when they are large enough.

    The groups' part depends only on the submission, the release and the locale: it is rendered
    once per worker for each (web/fragments.py)."""
    assessment = load_assessment(assessment_id)
    session = db.session()
    frozen = frozen_submission(session, assessment)  # (SHA-256, methodology key) of its record
    method = current_methodology()
    positions_html, reason = None, None
    if frozen is None:
        reason = "draft"
    elif frozen[1] != method.key:
        reason = "methodology"
    else:
        # Against the latest release: a company sees what the working group sees, no more.
        release = releases.published(session, method)
        if release is None or assessment.cycle not in release.cycles:
            reason = "no_release"
        else:

            def render() -> str:
                record = record_of(session, submission_of(session, assessment.id).id, entry_only=True)
                return render_template(
                    "benchmarks/_peer_positions.html",
                    positions=position(release.benchmarks[assessment.cycle], releases.entry_of(record)),
                    names=_metric_labels(),
                )

            positions_html = frozen_fragment(f"peers:{release.number}", assessment.id, *frozen, render)
    return render_template(
        "benchmarks/peers.html",
        assessment=assessment,
        org=session.get(Organisation, assessment.organisation_id),
        positions_html=positions_html,
        reason=reason,
        method=method,
        scored_with=frozen[1] if frozen else None,
    )

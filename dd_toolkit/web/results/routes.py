"""The company's results: scores, bands, indicators, charts and the per-question breakdown."""

from __future__ import annotations

from flask import Blueprint, Response, abort, render_template, request
from flask_babel import gettext as _
from markupsafe import Markup

from dd_toolkit.engine.charts import bars_svg, heat_map_svg, label_lines, radar_svg
from dd_toolkit.engine.portable import ImportError_
from dd_toolkit.engine.risk_record import build_heat_map
from dd_toolkit.engine.scoring.engine import marked_not_applicable
from dd_toolkit.records.assessments import rescore_submission
from dd_toolkit.records.models import Assessment, Organisation
from dd_toolkit.records.reader import AssessmentView, read_assessment
from dd_toolkit.web import db
from dd_toolkit.web.assess.routes import load_assessment
from dd_toolkit.web.authz import Action, policy
from dd_toolkit.web.context import current_bank, current_content
from dd_toolkit.web.fragments import frozen_fragment
from dd_toolkit.web.language import translated_output
from dd_toolkit.web.pages import kept_page

bp = Blueprint("results", __name__, url_prefix="/assessments")


def _view(assessment: Assessment) -> AssessmentView:
    return read_assessment(db.session(), current_content(), assessment)


@bp.route("/<int:assessment_id>/results")
@policy(Action.ASSESSMENT_VIEW)
@kept_page
def results(assessment_id: int):
    assessment = load_assessment(assessment_id)
    view = _view(assessment)
    card, method, frozen = view.card, view.method, view.frozen
    comparison = None
    comparison_error = None
    newer = [m for m in current_content().methodologies.values() if m.id == method.id and m.key != method.key]
    compare_key = request.args.get("compare")
    if frozen and compare_key:
        other = current_content().methodology(compare_key)
        if other is None:
            abort(404)
        try:
            comparison = (other, rescore_submission(current_bank(), other, view.submission))
        except ImportError_ as exc:
            comparison_error = exc.problems
    bands = {b.id: b.label for b in method.bands}

    def detail() -> str:
        return render_template(
            "results/_detail.html",
            assessment=assessment,
            card=card,
            method=method,
            bands=bands,
            questions_by_section=_by_section(card.questions),
            confidence_labels=_confidence_labels(method),
            strength_labels={e.id: e.label.get() for e in current_bank().taxonomy.evidence_strengths},
            not_applicable=not_applicable_list(current_bank(), card, view.answers, view.profile),
            heat_map=_heat_map(view),
        )

    org = db.session().get(Organisation, assessment.organisation_id)

    def headline() -> str:
        return render_template(
            "results/_headline.html",
            assessment=assessment,
            org=org,
            method_fallback=view.method_fallback,
            card=card,
            method=method,
            frozen=frozen,
            other_methods=newer if frozen else [],
            bands=bands,
            confidence_labels=_confidence_labels(method),
        )

    if frozen:
        sha256 = view.submission.sha256
        detail_html = frozen_fragment("results", assessment.id, sha256, method.key, detail)
        # The headline also names the organisation, which can be renamed.
        headline_html = frozen_fragment(("results-headline", org.name), assessment.id, sha256, method.key, headline)
    else:
        detail_html, headline_html = Markup(detail()), Markup(headline())
    return render_template(
        "results/results.html",
        assessment=assessment,
        card=card,
        method=method,
        frozen=frozen,
        comparison=comparison,
        comparison_error=comparison_error,
        bands=bands,
        confidence_labels=_confidence_labels(method),
        headline_html=headline_html,
        other_confidence_labels=_confidence_labels(comparison[0]) if comparison else {},
        detail_html=detail_html,
    )


def _heat_map(view: AssessmentView):
    """The heat map of the assessment's risk register; None when it has none."""
    register = getattr(view, "risk_register", None)
    if not register or view.method.risk is None:
        return None
    return build_heat_map(current_bank().taxonomy, view.method.risk, register)


def _confidence_labels(method) -> dict[str, str]:
    return {level.id: level.label for level in method.confidence.levels} if method.confidence else {}


def not_applicable_list(bank, card, answers, profile) -> list:
    """The questions marked not applicable, for reviewers: from the card, or, for a card frozen
    before methodology 2027.1 (which has no such list), from the answers."""
    if card.coverage is not None:
        return list(card.not_applicable)
    return marked_not_applicable(bank, answers, bank.applicability(profile, answers, card.risk))


def _by_section(questions):
    """The card's question scores grouped by section, in the card's order."""
    grouped: dict[str, list] = {}
    for question in questions:
        grouped.setdefault(question.section_id, []).append(question)
    return grouped


@bp.route("/<int:assessment_id>/charts/<name>.svg")
@policy(Action.ASSESSMENT_VIEW)
def chart(assessment_id: int, name: str):
    assessment = load_assessment(assessment_id)
    view = _view(assessment)
    card = view.card
    if name == "risks":
        heat = _heat_map(view)
        if heat is None or heat.empty:
            abort(404)
        rank = {level.id: i for i, level in enumerate(heat.levels)}
        svg = heat_map_svg(
            [label_lines(row.label, 26) for row in heat.rows],
            [group.label for group in heat.age_groups],
            [
                [
                    (rank[c.level], c.label)
                    if c.level
                    else (None, _("not rated") if not c.rated else _("not relevant") if not c.relevant else "")
                    for c in row.cells
                ]
                for row in heat.rows
            ],
            len(heat.levels),
        )
    elif name == "lenses":
        items = [item for lens in card.lenses for item in lens.items]
        if not items:
            abort(404)  # nothing to draw: the page shows no chart then
        # Each spoke is named, never coded: "HRDD step 2 - assess actual and potential impacts"
        # is drawn as its name, "Assess actual and potential impacts", on short lines (the table
        # under the chart gives the whole label).
        names = [translated_output(i.label).rpartition(" - ")[2] or i.ref for i in items]
        svg = radar_svg([label_lines(n[:1].upper() + n[1:], 18) for n in names], [i.score for i in items])
    elif name == "sections":
        # A section none of whose questions apply to the profile has neither a score nor a
        # coverage; it is left off the chart rather than shown as "not scored".
        sections = [s for m in card.modules for s in m.sections if s.score is not None or s.coverage is not None]
        # Long titles on two or three short lines: a narrower chart, readable on a phone.
        svg = bars_svg([label_lines(translated_output(s.title), 30) for s in sections], [s.score for s in sections])
    else:
        abort(404)
    return Response(svg, mimetype="image/svg+xml", headers={"Cache-Control": "private, no-store"})

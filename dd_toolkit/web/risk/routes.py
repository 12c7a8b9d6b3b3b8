"""The children's risk register of an assessment in the browser: the grid of harms by age group,
pre-filled from the profile's features, the register's record (who, how, sources, review), one
page per cell, the start from the last register and the "significant change" reassessment.

Saving behaves as on the question pages: each cell and the record carry the version they were
loaded with; a save that meets someone else's keeps what was typed, shows their version and
saves nothing until the person saves again (js/section.js keeps the typing in the browser and
warns before leaving)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from dd_toolkit.engine.risk import prefill_register
from dd_toolkit.records import risk as registers
from dd_toolkit.records.assessments import AssessmentError, answer_records, profile_of, to_answer_data
from dd_toolkit.records.models import Assessment, Organisation, User
from dd_toolkit.records.versioned import StaleVersion
from dd_toolkit.web import db
from dd_toolkit.web.authz import Action, can, policy, require
from dd_toolkit.web.context import current_bank, current_content, current_methodology
from dd_toolkit.web.forms import Form
from dd_toolkit.web.outputs.store import prepares_documents
from dd_toolkit.web.problems import problem_text

bp = Blueprint("risk", __name__, url_prefix="/assessments")

CELL_LISTS = ("likelihood_evidence", "impact_evidence", "controls")
CELL_TEXTS = ("relevant", "not_relevant_reason", "likelihood", "impact", "residual", "rationale", "owner")


class RegisterForm(Form):
    """The CSRF token of the register's forms; the fields are read from the request."""


def _load(assessment_id: int) -> Assessment:
    return require(Action.ASSESSMENT_VIEW, db.session().get(Assessment, assessment_id))


def _rules():
    return current_methodology().risk


def _version(value: Any) -> int:
    text = str(value or "0").strip()
    return int(text) if text.isdigit() and len(text) < 18 else 0


def _grid(org: Organisation, rows: dict) -> tuple[Any, list[str], list[str]]:
    """The pre-filled grid, and the harms and age groups shown: those the profile raises, then
    any other harm or age group a cell has been rated for."""
    taxonomy = current_bank().taxonomy
    grid = prefill_register(taxonomy, profile_of(org))
    rated_harms = {h for h, _g in rows}
    rated_groups = {g for _h, g in rows}
    harms = [h for h in taxonomy.ids("harms") if h in grid.harms or h in rated_harms]
    groups = [g for g in taxonomy.ids("age_groups") if g in grid.age_groups or g in rated_groups]
    return grid, harms, groups


def _factors(harm: str) -> list:
    """The features of the taxonomy that raise ``harm``, each with its reason."""
    taxonomy = current_bank().taxonomy
    return [
        (feature, taxonomy.label("features", feature), link.reason.get())
        for feature in taxonomy.ids("features")
        for link in taxonomy.risk_factors.get(feature, ())
        if link.harm == harm
    ]


def _names(ids) -> dict[int, str]:
    ids = {i for i in ids if i}
    if not ids:
        return {}
    from sqlmodel import select

    return {u.id: u.name for u in db.session().exec(select(User).where(User.id.in_(ids)))}


@bp.route("/<int:assessment_id>/risk", methods=["GET", "POST"])
@policy(Action.ASSESSMENT_VIEW)
@prepares_documents
def register(assessment_id: int):
    """The register: its record (a form for those who may edit it) and the grid."""
    assessment = _load(assessment_id)
    session = db.session()
    org = session.get(Organisation, assessment.organisation_id)
    rules = _rules()
    record = registers.register_of(session, assessment.id)
    can_edit = assessment.is_draft and can(current_user, Action.ASSESSMENT_EDIT, assessment)
    form = RegisterForm()
    errors: dict[str, str] = {}
    conflict: dict[str, Any] | None = None
    typed: dict[str, Any] | None = None
    status = 200
    if request.method == "POST":
        require(Action.ASSESSMENT_EDIT, assessment)
        if rules is None or record is None:
            abort(404)
        if not assessment.is_draft:
            flash(_("This assessment has been submitted and is read-only."), "error")
            return redirect(url_for("risk.register", assessment_id=assessment.id))
        typed = {
            "assessed_by": request.form.get("register-assessed_by", ""),
            "method": request.form.get("register-method", ""),
            "sources": request.form.getlist("register-sources"),
            "next_review_due": request.form.get("register-next_review_due", ""),
            "reviewed": request.form.get("register-reviewed") == "y",
            "change_note": request.form.get("register-change_note", record.change_note),
        }
        base = _version(request.form.get("register-base_version"))
        if not form.validate():
            flash(_("Your session expired before saving. Nothing was lost: press Save again."), "error")
            status = 400
        else:
            try:
                registers.save_register_meta(session, assessment, current_user, typed, base, content=current_content())
                session.commit()
                flash(_("The register's record was saved."), "success")
                return redirect(url_for("risk.register", assessment_id=assessment.id))
            except registers.CellInvalid as exc:
                session.rollback()
                errors = {p.field: problem_text(p.message) for p in exc.problems}
                status = 422
            except StaleVersion as stale:
                session.commit()
                theirs = stale.current
                conflict = {
                    "editor": _names([theirs.updated_by_id]).get(theirs.updated_by_id) or _("someone"),
                    "at": theirs.updated_at,
                    "row": theirs,
                }
                status = 422
            except AssessmentError as exc:
                flash(problem_text(exc), "error")
                return redirect(url_for("assess.overview", assessment_id=assessment.id))
            record = registers.register_of(session, assessment.id)
    rows = registers.cell_rows(session, assessment.id)
    grid, harms, groups = _grid(org, rows) if rules is not None else (None, [], [])
    changed = registers.changed_since_last(session, assessment) if record and record.previous_assessment_id else set()
    version = conflict["row"].version if conflict else (record.version if record else 0)
    shown = typed or (
        {
            "assessed_by": record.assessed_by,
            "method": record.method,
            "sources": list(record.sources),
            "next_review_due": record.next_review_due.isoformat(),
            "reviewed": False,
            "change_note": record.change_note,
        }
        if record
        else None
    )
    previous_id = record.previous_assessment_id if record else None
    previous = session.get(Assessment, previous_id) if previous_id else None
    return render_template(
        "risk/register.html",
        assessment=assessment,
        org=org,
        rules=rules,
        record=record,
        previous=previous,
        review_state=registers.review_state(record),
        grid=grid,
        harms=harms,
        groups=groups,
        rows=rows,
        changed=changed,
        factors={harm: _factors(harm) for harm in harms},
        not_raised=[h for h in (grid.not_raised if grid else ()) if h not in harms],
        can_edit=can_edit,
        can_manage=can(current_user, Action.ASSESSMENT_MANAGE, assessment),
        form=form,
        shown=shown,
        version=version,
        errors=errors,
        conflict=conflict,
        levels={p.id: p for p in rules.levels} if rules else {},
        review_months=registers.REVIEW_MONTHS,
    ), status


def _posted(assessment_id: int, action: Action) -> Assessment:
    """The assessment a register form was posted for: allowed to the user, under a methodology
    with risk rules (404 otherwise), with a valid CSRF token (400 otherwise)."""
    assessment = require(action, db.session().get(Assessment, assessment_id))
    if _rules() is None:
        abort(404)
    if not RegisterForm().validate():
        abort(400)
    return assessment


@bp.route("/<int:assessment_id>/risk/start", methods=["POST"])
@policy(Action.ASSESSMENT_EDIT)
@prepares_documents
def start(assessment_id: int):
    """Open the draft's register, from the organisation's last one when there is one."""
    assessment = _posted(assessment_id, Action.ASSESSMENT_EDIT)
    session = db.session()
    try:
        started = registers.start_register(session, assessment, current_user)
        session.commit()
    except AssessmentError as exc:
        flash(problem_text(exc), "error")
        return redirect(url_for("assess.overview", assessment_id=assessment.id))
    if started.previous_assessment_id:
        flash(_("The register starts from your last one. Review each cell: none is marked reviewed yet."), "success")
    else:
        flash(_("The register is started. Rate the cells the profile suggests."), "success")
    return redirect(url_for("risk.register", assessment_id=assessment.id))


@bp.route("/<int:assessment_id>/risk/significant-change", methods=["POST"])
@policy(Action.ASSESSMENT_MANAGE)
def significant_change(assessment_id: int):
    """Reassess the register outside the yearly cycle (a new feature, market or major incident)."""
    assessment = _posted(assessment_id, Action.ASSESSMENT_MANAGE)
    session = db.session()
    try:
        draft = registers.significant_change(
            session, current_content(), assessment, current_user, request.form.get("change_note", "")
        )
    except registers.CellInvalid:
        session.rollback()
        flash(_("Say what changed: a new feature, a new market or a major incident."), "error")
        return redirect(url_for("risk.register", assessment_id=assessment.id) + "#significant-change")
    except AssessmentError as exc:
        session.rollback()
        flash(problem_text(exc), "error")
        return redirect(url_for("risk.register", assessment_id=assessment.id))
    flash(_("A reassessment is open: review every cell of the register in the light of the change."), "success")
    return redirect(url_for("risk.register", assessment_id=draft.id))


def _typed_cell() -> dict[str, Any]:
    values: dict[str, Any] = {name: request.form.get(f"cell-{name}", "") for name in CELL_TEXTS}
    values.update({name: request.form.getlist(f"cell-{name}") for name in CELL_LISTS})
    values["relevant"] = values["relevant"] != "no"
    return values


def _saved_cell(row) -> dict[str, Any]:
    if row is None:
        return {"relevant": True, **{name: [] for name in CELL_LISTS}}
    return {**row.fields, "owner": row.owner}


@bp.route("/<int:assessment_id>/risk/<harm>/<age_group>", methods=["GET", "POST"])
@policy(Action.ASSESSMENT_VIEW)
@prepares_documents
def cell(assessment_id: int, harm: str, age_group: str):
    """One cell: likelihood and impact with their evidence, the controls (answered questions),
    the residual risk, the rationale and the owner; or "not relevant" with a reason."""
    assessment = _load(assessment_id)
    session = db.session()
    rules = _rules()
    taxonomy = current_bank().taxonomy
    if rules is None or harm not in taxonomy.ids("harms") or age_group not in taxonomy.ids("age_groups"):
        abort(404)
    org = session.get(Organisation, assessment.organisation_id)
    record = registers.register_of(session, assessment.id)
    if record is None:
        flash(_("Start the register first."), "info")
        return redirect(url_for("risk.register", assessment_id=assessment.id))
    rows = registers.cell_rows(session, assessment.id)
    row = rows.get((harm, age_group))
    can_edit = assessment.is_draft and can(current_user, Action.ASSESSMENT_EDIT, assessment)
    form = RegisterForm()
    errors: dict[str, str] = {}
    conflict: dict[str, Any] | None = None
    values = _saved_cell(row)
    version = row.version if row else 0
    status = 200
    if request.method == "POST":
        require(Action.ASSESSMENT_EDIT, assessment)
        if not assessment.is_draft:
            flash(_("This assessment has been submitted and is read-only."), "error")
            return redirect(url_for("risk.register", assessment_id=assessment.id))
        values = _typed_cell()
        version = _version(request.form.get("cell-base_version"))
        if not form.validate():
            flash(_("Your session expired before saving. Nothing was lost: press Save again."), "error")
            status = 400
        else:
            try:
                registers.save_cell(
                    session, assessment, current_user, harm, age_group, values, version, content=current_content()
                )
                session.commit()
                flash(_("The cell was saved."), "success")
                # Back to this page, as a question page does: showing the cell saved clears what
                # the browser kept of the typing (js/section.js).
                return redirect(url_for("risk.cell", assessment_id=assessment.id, harm=harm, age_group=age_group))
            except registers.CellInvalid as exc:
                session.rollback()
                errors = {p.field: problem_text(p.message) for p in exc.problems}
                flash(_("The cell needs correcting; it was not saved yet."), "error")
                status = 422
            except StaleVersion as stale:
                session.commit()
                theirs = stale.current
                conflict = {
                    "editor": (_names([theirs.updated_by_id]).get(theirs.updated_by_id) if theirs else None)
                    or _("someone"),
                    "at": theirs.updated_at if theirs else None,
                    "cell": _saved_cell(theirs) if theirs else None,
                }
                version = theirs.version if theirs else 0  # the next save deliberately replaces theirs
                flash(_("Someone else changed this cell while you worked. Compare and save again."), "error")
                status = 422
            except AssessmentError as exc:
                flash(problem_text(exc), "error")
                return redirect(url_for("assess.overview", assessment_id=assessment.id))
    bank = current_bank()
    rows = answer_records(session, assessment.id)
    answered = {qid: to_answer_data(a) for qid, a in rows.items() if a.value is not None}
    suggested = [q for q in rules.addressed_by.get(harm, ()) if q in answered]
    chosen = [q for q in values.get("controls") or () if q in bank.questions]
    others = [q for q in bank.questions if q in answered and q not in suggested]
    first_control = (suggested or others or [None])[0]
    targets = {
        "harm": "cell-relevant-yes",
        "age_group": "cell-relevant-yes",
        "likelihood": f"cell-likelihood-{rules.likelihood[0].id}",
        "impact": f"cell-impact-{rules.impact[0].id}",
        "residual": f"cell-residual-{rules.levels[0].id}",
        "likelihood_evidence": f"cell-likelihood_evidence-{rules.evidence_sources[0].id}",
        "impact_evidence": f"cell-impact_evidence-{rules.evidence_sources[0].id}",
        "controls": f"cell-controls-{bank.questions[first_control].form_key}" if first_control else "cell-rationale",
        "not_relevant_reason": "cell-not_relevant_reason",
        "rationale": "cell-rationale",
        "owner": "cell-owner",
    }
    previous = None
    if record.previous_assessment_id:
        previous = registers.cell_rows(session, record.previous_assessment_id).get((harm, age_group))
    return render_template(
        "risk/cell.html",
        assessment=assessment,
        org=org,
        rules=rules,
        harm=harm,
        age_group=age_group,
        factors=_factors(harm),
        raised=harm in prefill_register(taxonomy, profile_of(org)).harms,
        row=row,
        previous=previous,
        values=values,
        version=version,
        errors=errors,
        conflict=conflict,
        can_edit=can_edit,
        form=form,
        answers=answered,
        suggested=suggested,
        others=others,
        chosen_controls=chosen,
        levels={p.id: p for p in rules.levels},
        point_labels={p.id: p.label for p in (*rules.likelihood, *rules.impact, *rules.levels)},
        targets=targets,
        scales={"likelihood": rules.likelihood, "impact": rules.impact},
        updated_by=_names([row.updated_by_id]).get(row.updated_by_id) if row else None,
    ), status

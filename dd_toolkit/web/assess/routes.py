"""The company's assessments: list, start, answer section by section, submit, export, import."""

from __future__ import annotations

import json

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from markupsafe import Markup
from sqlmodel import select
from wtforms import SelectChoice

from dd_toolkit.engine import disclosure, portable
from dd_toolkit.engine.completion import progress
from dd_toolkit.engine.content import AnswerType
from dd_toolkit.engine.content.reference_cards import ReferenceCardsError, cards_for_bank
from dd_toolkit.engine.content.values import AnswerValueError
from dd_toolkit.engine.render import slug
from dd_toolkit.engine.transparency import check_metrics, load_metric_checks
from dd_toolkit.records import assignments as assignment_records
from dd_toolkit.records import releases, review
from dd_toolkit.records import risk as risk_records
from dd_toolkit.records.assessments import (
    AssessmentError,
    IncompleteAssessment,
    answer_records,
    answer_rows,
    carried_to_review,
    export_document,
    import_document,
    new_version,
    profile_of,
    save_answers,
    start_assessment,
    submission_of,
    submit,
    to_answer_data,
)
from dd_toolkit.records.models import Assessment, AssessmentStatus, Organisation, User
from dd_toolkit.records.plans import frozen_submission
from dd_toolkit.records.reader import assessment_with_record, read_assessment
from dd_toolkit.web import db
from dd_toolkit.web.assess.forms import (
    ConfirmForm,
    ImportForm,
    StartAssessmentForm,
    SubmitForm,
    assignment_choices,
    assignment_key,
    assignments_form,
    base_version,
    error_targets,
    field_labels,
    read_answer,
    section_form,
)
from dd_toolkit.web.authz import Action, can, policy, require
from dd_toolkit.web.benchmarks.publishing import publish_after_response
from dd_toolkit.web.context import current_bank, current_content, current_methodology
from dd_toolkit.web.downloads import download
from dd_toolkit.web.fragments import frozen_fragment
from dd_toolkit.web.orgs.routes import current_organisation
from dd_toolkit.web.outputs.store import prepares_documents
from dd_toolkit.web.pages import kept_page
from dd_toolkit.web.problems import problem_text, problem_texts
from dd_toolkit.web.regulator.forms import status_labels

bp = Blueprint("assess", __name__, url_prefix="/assessments")


def load_assessment(assessment_id: int, action: Action = Action.ASSESSMENT_VIEW) -> Assessment:
    """The assessment, if the current user may do ``action`` on it (else 404 or 403), read with
    its submission and record: the pages of a submitted assessment read all three."""
    return require(action, assessment_with_record(db.session(), assessment_id))


def _organisation_assessments(org: Organisation) -> list[Assessment]:
    return list(
        db.session().exec(
            select(Assessment)
            .where(Assessment.organisation_id == org.id)
            .order_by(Assessment.cycle.desc(), Assessment.version.desc())
        )
    )


def assessment_state(assessment: Assessment):
    """An assessment's organisation, answer records, answers and progress (which questions apply,
    given the profile, the answers and the risk register): what its pages and the home page read."""
    session = db.session()
    org = session.get(Organisation, assessment.organisation_id)
    rows = answer_records(session, assessment.id)
    answers = {qid: to_answer_data(row) for qid, row in rows.items()}
    risk = risk_records.risk_levels(session, assessment, current_methodology().risk)
    return org, rows, answers, progress(current_bank(), profile_of(org), answers, risk)


@bp.route("/")
@policy(Action.COMPANY)
def index():
    org = current_organisation()
    assessments = _organisation_assessments(org)
    session = db.session()
    summaries = []
    for assessment in assessments:
        answers = {qid: to_answer_data(r) for qid, r in answer_records(session, assessment.id).items()}
        risk = risk_records.risk_levels(session, assessment, current_methodology().risk)
        summaries.append((assessment, progress(current_bank(), profile_of(org), answers, risk)))
    start_form = _start_form(assessments)
    return render_template(
        "assess/index.html",
        org=org,
        summaries=summaries,
        start_form=start_form,
        import_form=ImportForm(),
        can_manage=can(current_user, Action.ASSESSMENT_MANAGE, org),
    )


def _start_form(assessments: list[Assessment], formdata=None) -> StartAssessmentForm:
    form = StartAssessmentForm(formdata=formdata) if formdata is not None else StartAssessmentForm()
    form.prefill_from.choices = [SelectChoice("", _("An empty assessment"))] + [
        SelectChoice(
            str(a.id),
            _(
                "Answers of %(cycle)s version %(version)s (%(status)s)",
                cycle=a.cycle,
                version=a.version,
                status=_status_label(a.status),
            ),
        )
        for a in assessments
    ]
    return form


def _status_label(status: str) -> str:
    return {AssessmentStatus.DRAFT: _("draft"), AssessmentStatus.SUBMITTED: _("submitted")}.get(status, status)


@bp.route("/new", methods=["POST"])
@policy(Action.ASSESSMENT_MANAGE)
def start():
    org = current_organisation(Action.ASSESSMENT_MANAGE)
    if not org.profile_complete:
        flash(_("Complete the organisation profile first: it decides which questions apply."), "error")
        return redirect(url_for("orgs.profile"))
    assessments = _organisation_assessments(org)
    form = _start_form(assessments, formdata=request.form)
    if not form.validate():
        for field in form:
            for error in field.errors:
                flash(f"{field.label.text}: {error}", "error")
        return redirect(url_for("assess.index"))
    source = None
    if form.prefill_from.data:
        source = load_assessment(int(form.prefill_from.data))
    try:
        assessment = start_assessment(db.session(), current_bank(), org, form.cycle.data, current_user, source)
    except AssessmentError as exc:
        flash(problem_text(exc), "error")
        return redirect(url_for("assess.index"))
    flash(_("Assessment for %(cycle)s started.", cycle=assessment.cycle), "success")
    return redirect(url_for("assess.overview", assessment_id=assessment.id))


@bp.route("/<int:assessment_id>")
@policy(Action.ASSESSMENT_VIEW)
def overview(assessment_id: int):
    assessment = load_assessment(assessment_id)
    org, rows, _answers, state = assessment_state(assessment)
    session = db.session()
    risk_register = risk_records.register_of(session, assessment.id)
    return render_template(
        "assess/overview.html",
        risk_rules=current_methodology().risk,
        risk_register=risk_register,
        risk_cells=len(risk_records.cell_rows(session, assessment.id)) if risk_register else 0,
        risk_review=risk_records.review_state(risk_register),
        assessment=assessment,
        org=org,
        state=state,
        submission=submission_of(session, assessment.id),
        previous=session.get(Assessment, assessment.previous_id) if assessment.previous_id else None,
        newer=session.exec(select(Assessment).where(Assessment.previous_id == assessment.id)).first(),
        can_manage=can(current_user, Action.ASSESSMENT_MANAGE, assessment),
        can_edit=assessment.is_draft and can(current_user, Action.ASSESSMENT_EDIT, assessment),
        confirm=ConfirmForm(),
        outdated=assessment.questionnaire_versions != current_bank().versions(),
        reviews=[(r, review.timeline(session, r)) for r in review.recipients_of_assessment(session, assessment.id)],
        review_labels=status_labels(),
        assigned=assignment_records.assignments_of(session, assessment.id) if assessment.is_draft else {},
        to_review=carried_to_review(current_bank(), rows, state.applicable) if assessment.is_draft else {},
    )


def _section_or_404(section_id: str):
    found = current_bank().section(section_id)
    if found is None:
        abort(404)
    return found


@bp.route("/<int:assessment_id>/sections/<section_id>", methods=["GET", "POST"])
@policy(Action.ASSESSMENT_VIEW)
@kept_page
def section(assessment_id: int, section_id: str):
    assessment = load_assessment(assessment_id)
    module, current = _section_or_404(section_id)
    if request.method == "GET":
        frozen = frozen_submission(db.session(), assessment)
        if frozen is not None:
            return _submitted_section(assessment, module, current, frozen)
    org, rows, answers, state = assessment_state(assessment)
    profile = profile_of(org)
    shown = [q for q in current.questions if state.applicable[q.id]]
    editable = assessment.is_draft
    can_edit = editable and can(current_user, Action.ASSESSMENT_EDIT, assessment)
    saved = {qid: (answers[qid], row.version) for qid, row in rows.items()}
    conflicts: dict[str, dict] = {}
    answer_errors: dict[str, dict[str, str]] = {}

    member = assignment_records.assignments_of(db.session(), assessment.id).get(current.id) if editable else None
    assignee = None
    if member is not None:
        you = member.id == current_user.id
        assignee = _("Assigned to you.") if you else _("Assigned to %(name)s.", name=member.name or member.email)

    def page(form, state, answers, rows):
        editing = {"editable": editable, "can_edit": can_edit, "conflicts": conflicts, "answer_errors": answer_errors}
        to_review = {qid for qid, row in rows.items() if not row.reviewed} if editable else set()
        main = _section_main(
            assessment, module, current, state, profile, answers, form=form, assignee=assignee, to_review=to_review,
            **editing,
        )  # fmt: skip
        return render_template("assess/section.html", section=current, main_html=Markup(main))

    if request.method == "POST":
        require(Action.ASSESSMENT_EDIT, assessment)
        if not editable:
            flash(_("This assessment has been submitted and is read-only."), "error")
            return redirect(url_for("assess.overview", assessment_id=assessment.id))
        form = section_form(shown, saved, formdata=request.form, strengths=_strengths())
        if not form.validate():
            # Only the CSRF token can fail here: answer checks are done below.
            flash(_("Your session expired before saving. Nothing was lost: press Save again."), "error")
            return page(form, state, answers, rows), 400
        changes = {}
        for question in shown:
            subform = form[question.form_key].form
            try:
                previous = saved.get(question.id, (None, 0))[0]
                changes[question.id] = (read_answer(question, subform, previous), base_version(subform))
            except AnswerValueError as exc:
                # Every problem of the answer at once, each beside its field.
                problems = getattr(exc, "errors", None) or {getattr(exc, "field", "value"): exc}
                answer_errors[question.id] = problem_texts(problems)
        invalid = len(answer_errors)
        try:
            outcome = save_answers(db.session(), assessment, current_user, changes)
        except AssessmentError as exc:
            flash(problem_text(exc), "error")
            return redirect(url_for("assess.overview", assessment_id=assessment.id))
        fresh = answer_rows(db.session(), assessment.id)
        for qid in outcome.saved:
            form[qid.replace(".", "-")].form.base_version.data = str(fresh[qid].version)
        for qid, theirs in outcome.conflicts.items():
            subform = form[qid.replace(".", "-")].form
            editor = db.session().get(User, theirs.updated_by_id) if theirs.updated_by_id else None
            conflicts[qid] = {
                "editor": editor.name if editor else _("someone"),
                "at": theirs.updated_at,
                "answer": to_answer_data(theirs) if theirs.id else None,
            }
            # The next save is a deliberate overwrite of the version now shown.
            subform.base_version.data = str(theirs.version)
        if outcome.saved:
            flash(ngettext("%(num)d answer saved.", "%(num)d answers saved.", len(outcome.saved)), "success")
        if invalid or outcome.conflicts:
            if invalid:
                flash(
                    ngettext(
                        "%(num)d answer needs correcting; it was not saved yet.",
                        "%(num)d answers need correcting; they were not saved yet.",
                        invalid,
                    ),
                    "error",
                )
            if outcome.conflicts:
                flash(
                    ngettext(
                        "%(num)d answer was changed by someone else while you worked. Compare and save again.",
                        "%(num)d answers were changed by someone else while you worked. Compare and save again.",
                        len(outcome.conflicts),
                    ),
                    "error",
                )
            _org, fresh_rows, answers, state = assessment_state(assessment)
            return page(form, state, answers, fresh_rows), 422
        if not outcome.saved:
            flash(_("No changes to save."), "info")
        if form.save_next.data:
            following = _next_section(section_id)
            if following:
                return redirect(url_for("assess.section", assessment_id=assessment.id, section_id=following))
            return redirect(url_for("assess.overview", assessment_id=assessment.id))
        return redirect(url_for("assess.section", assessment_id=assessment.id, section_id=section_id))

    # The questions' fields are only rendered for someone who may edit them.
    return page(section_form(shown if can_edit else [], saved, strengths=_strengths()), state, answers, rows)


def _submitted_section(assessment: Assessment, module, current, frozen: tuple[str, str]):
    """A submitted assessment's section as it was submitted (the frozen profile, answers and
    register levels). It cannot change, so its main part is rendered once per worker and
    language (web/fragments.py)."""

    def render() -> str:
        view = read_assessment(db.session(), current_content(), assessment)
        state = progress(current_bank(), view.profile, view.answers, view.card.risk)
        return _section_main(assessment, module, current, state, view.profile, view.answers)

    main_html = frozen_fragment(f"section:{current.id}", assessment.id, *frozen, render)
    return render_template("assess/section.html", section=current, main_html=main_html)


def _section_main(
    assessment,
    module,
    current,
    state,
    profile,
    answers,
    *,
    form=None,
    editable: bool = False,
    can_edit: bool = False,
    conflicts: dict | None = None,
    answer_errors: dict | None = None,
    assignee: str | None = None,
    to_review: set[str] | frozenset[str] = frozenset(),
) -> str:
    """The section page's main part: its questions, with their fields when ``can_edit``."""
    conflicts, answer_errors = conflicts or {}, answer_errors or {}
    shown = [q for q in current.questions if state.applicable[q.id]]
    return render_template(
        "assess/_section_main.html",
        assessment=assessment,
        module=module,
        section=current,
        shown=shown,
        hidden=[q for q in current.questions if not state.applicable[q.id]],
        state=state,
        form=form,
        answers=answers,
        editable=editable,
        can_edit=can_edit,
        conflicts=conflicts,
        answer_errors=answer_errors,
        assignee=assignee,
        to_review=[q for q in shown if q.id in to_review],
        error_summary=[
            (q, error_targets(q, answer_errors.get(q.id, {})))
            for q in shown
            if q.id in answer_errors or q.id in conflicts
        ],
        **_derived_context(current, shown, state, form, profile, answers),
    )


def _strengths() -> tuple:
    """The evidence strengths answers record (taxonomy), weakest first."""
    return tuple(current_bank().taxonomy.evidence_strengths)


def _derived_context(current, shown, state, form, profile, answers) -> dict:
    """What the section page works out from its questions: why each applies, the translated
    labels it repeats, and the next section."""
    bank = current_bank()
    maturity_levels = max((len(q.levels) for q in shown if q.type is AnswerType.MATURITY), default=0)
    evidence_rows = max(
        (len(form[q.form_key].form.evidence) for q in shown if form is not None and q.form_key in form), default=0
    )
    return {
        "visibility": {
            q.id: bank.visibility(q.id, profile, answers, applicable=state.applicable, risk=state.risk)
            for q in current.questions
        },
        "field_labels": field_labels(),
        # Numbered labels, translated once for the page rather than once per question.
        "level_labels": [_("Level %(n)s", n=n) for n in range(maturity_levels)],
        "link_labels": [_("Link %(n)d", n=n) for n in range(1, evidence_rows + 1)],
        "next_section": _next_section(current.id),
        "previous_section": _next_section(current.id, step=-1),
        "taxonomy": bank.taxonomy,
        "metric_issues": _metric_issues(current, state, answers),
        "reference_cards": _reference_cards(shown, profile),
    }


def _reference_cards(shown, profile) -> dict:
    """The national reference cards beside the questions that need them, for the countries the
    organisation operates in: {question id: (field names, cards)}."""
    countries = profile.countries
    if not countries:
        return {}
    try:
        cards = cards_for_bank(current_content().root / "questionnaires", current_bank())
    except ReferenceCardsError:
        return {}  # `dd-toolkit validate-content` reports the broken file
    mine = cards.for_countries(countries)
    if not mine:
        return {}
    return {q.id: (cards.questions[q.id], mine) for q in shown if q.id in cards.questions}


def _metric_issues(current, state, answers) -> list:
    """The failed consistency checks (reports/metric_checks.yaml) on this section's metrics."""
    ids = {q.id for q in current.questions if q.metric}
    if not ids:
        return []
    issues = check_metrics(current_bank(), answers, load_metric_checks(current_content().root), state.applicable)
    return [issue for issue in issues if ids & set(issue.question_ids)]


def _sections() -> list:
    """Every section of the question bank, in its order."""
    return [s for m in current_bank().questionnaires for s in m.sections]


def _next_section(section_id: str, step: int = 1) -> str | None:
    """The section after this one (``step=-1``: before it), in the question bank's order."""
    ids = [s.id for s in _sections()]
    position = ids.index(section_id) + step
    return ids[position] if 0 <= position < len(ids) else None


@bp.route("/<int:assessment_id>/assignments", methods=["GET", "POST"])
@policy(Action.ASSESSMENT_MANAGE)
def assignments(assessment_id: int):
    """The admins give each section of a draft to a member to answer (records/assignments.py)."""
    assessment = load_assessment(assessment_id, Action.ASSESSMENT_MANAGE)
    if not assessment.is_draft:
        flash(_("This assessment has been submitted and is read-only."), "error")
        return redirect(url_for("assess.overview", assessment_id=assessment.id))
    org, _rows, _answers, state = assessment_state(assessment)
    session = db.session()
    sections = [s for s in _sections() if state.for_section(s.id).applicable]
    members = assignment_records.assignable_members(session, org.id)
    assigned = assignment_records.assignments_of(session, assessment.id)
    conflicts: dict = {}

    def page(form, status: int = 200):
        return render_template(
            "assess/assignments.html",
            assessment=assessment,
            org=org,
            state=state,
            form=form,
            members=members,
            conflicts=conflicts,
            key=assignment_key,
        ), status

    if request.method == "GET":
        return page(assignments_form(sections, members, assigned))
    form = assignments_form(sections, members, assigned, formdata=request.form)
    if not form.validate():
        if form.csrf_token.errors:
            flash(_("Your session expired before saving. Nothing was lost: press Save again."), "error")
        return page(form, 422)
    try:
        outcome = assignment_records.assign_sections(
            session,
            assessment,
            assignment_choices(form, sections),
            section_ids=[s.id for s in sections],
            by=current_user,
        )
    except AssessmentError as exc:
        flash(problem_text(exc), "error")
        return page(form, 422)
    if outcome.conflicts:
        for section_id, now in outcome.conflicts.items():
            conflicts[section_id] = now
            # Saving again is a deliberate change of the assignment now shown.
            form[assignment_key(section_id) + "-shown"].data = str(now.id) if now else ""
        flash(
            ngettext(
                "Someone else changed %(num)d assignment while you worked: see it as it is now and save again.",
                "Someone else changed %(num)d assignments while you worked: see them as they are now and save again.",
                len(outcome.conflicts),
            ),
            "error",
        )
        return page(form, 422)
    if outcome.changed:
        flash(ngettext("%(num)d assignment saved.", "%(num)d assignments saved.", len(outcome.changed)), "success")
    else:
        flash(_("No changes to save."), "info")
    return redirect(url_for("assess.overview", assessment_id=assessment.id))


@bp.route("/<int:assessment_id>/submit", methods=["GET", "POST"])
@policy(Action.ASSESSMENT_MANAGE)
@prepares_documents
def submit_assessment(assessment_id: int):
    """Two steps on one address: choose the regulators and the benchmark consent, then confirm
    them on a summary (see :class:`SubmitForm`). Nothing is submitted before the confirmation,
    and never to nobody; a refused choice comes back as the user left it."""
    assessment = load_assessment(assessment_id, Action.ASSESSMENT_MANAGE)
    if not assessment.is_draft:
        flash(_("This assessment has already been submitted."), "info")
        return redirect(url_for("assess.overview", assessment_id=assessment.id))
    org, rows, _answers, state = assessment_state(assessment)
    to_review = carried_to_review(current_bank(), rows, state.applicable)
    form = SubmitForm()
    taxonomy = current_bank().taxonomy
    asean = taxonomy.asean_countries
    form.jurisdictions.choices = [SelectChoice(code, taxonomy.label("countries", code)) for code in asean]
    # The regulators waiting for this version as the reply to their clarification request.
    replies = [
        (code, taxonomy.label("countries", code))
        for code in review.reply_jurisdictions(db.session(), assessment.previous_id)
    ]

    def page(template: str = "assess/submit.html", status: int = 200):
        return render_template(
            template,
            assessment=assessment,
            org=org,
            state=state,
            form=form,
            replies=replies,
            to_review=[(section, to_review[section.id]) for section in _sections() if section.id in to_review],
            recipients=sorted((taxonomy.label("countries", code), code) for code in set(form.jurisdictions.data or [])),
            working_group_sees=disclosure.what_the_working_group_sees(
                releases.rules_of(current_methodology()), current_content().root
            ),
        ), status

    if request.method == "GET":
        earlier = (
            review.recipients_of_assessment(db.session(), assessment.previous_id) if assessment.previous_id else []
        )
        chosen = [r.jurisdiction for r in earlier] or [c for c in org.countries if c in asean]
        form.jurisdictions.data = sorted(set(chosen) | {code for code, _name in replies})
        return page()
    if not state.ready_to_submit:
        flash(_("Some required questions still need an answer."), "error")
        return page(status=422)
    if form.change.data:  # back from the confirmation, with the choices as they were
        return page()
    if not form.validate():
        for error in form.jurisdictions.errors:
            flash(str(error), "error")
        return page(status=422)
    left_out = [name for code, name in replies if code not in form.jurisdictions.data]
    if left_out:
        message = ngettext(
            "The regulator of %(names)s asked for clarification: this version is your reply and goes to them.",
            "The regulators of %(names)s asked for clarification: this version is your reply and goes to them.",
            len(left_out),
            names=", ".join(left_out),
        )
        form.jurisdictions.errors.append(message)
        flash(message, "error")
        return page(status=422)
    if not form.confirm.data:
        return page("assess/submit_confirm.html")
    try:
        submission = submit(
            db.session(),
            current_bank(),
            current_methodology(),
            assessment,
            current_user,
            benchmark_consent=form.benchmark_consent.data,
            jurisdictions=form.jurisdictions.data,
            publish_release=False,
        )
    except IncompleteAssessment:
        flash(_("Some required questions still need an answer."), "error")
    except AssessmentError as exc:
        flash(problem_text(exc), "error")
    else:
        flash(_("Submitted. The frozen copy has SHA-256 %(sha)s.", sha=submission.sha256), "success")
        publish_after_response()  # the working group's next release, when due
        return redirect(url_for("assess.overview", assessment_id=assessment.id))
    org, _rows, _answers, state = assessment_state(assessment)
    return page(status=422)


@bp.route("/<int:assessment_id>/new-version", methods=["POST"])
@policy(Action.ASSESSMENT_MANAGE)
def start_new_version(assessment_id: int):
    assessment = load_assessment(assessment_id, Action.ASSESSMENT_MANAGE)
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        draft = new_version(db.session(), current_bank(), assessment, current_user)
    except AssessmentError as exc:
        flash(problem_text(exc), "error")
        return redirect(url_for("assess.overview", assessment_id=assessment.id))
    flash(_("Version %(version)s started from the submitted answers.", version=draft.version), "success")
    return redirect(url_for("assess.overview", assessment_id=draft.id))


@bp.route("/<int:assessment_id>/export.json")
@policy(Action.ASSESSMENT_VIEW)
def export(assessment_id: int):
    assessment = load_assessment(assessment_id)
    document = export_document(db.session(), assessment)
    filename = f"assessment-{slug(document['organisation']['name'])}-{assessment.cycle}-v{assessment.version}.json"
    return download(json.dumps(document, indent=2, ensure_ascii=False), "application/json", filename)


@bp.route("/import", methods=["POST"])
@policy(Action.ASSESSMENT_MANAGE)
def import_file():
    org = current_organisation(Action.ASSESSMENT_MANAGE)
    form = ImportForm()
    if not form.validate_on_submit():
        for error in form.file.errors:
            flash(str(error), "error")
        return redirect(url_for("assess.index"))
    try:
        parsed = portable.parse_document(form.file.data.read(), current_bank(), current_methodology().risk)
        assessment = import_document(db.session(), current_bank(), parsed, org, current_user)
    except portable.ImportError_ as exc:
        problems = [problem_text(problem) for problem in exc.problems]
        return render_template("assess/import_failed.html", org=org, problems=problems), 422
    except AssessmentError as exc:
        return render_template("assess/import_failed.html", org=org, problems=[problem_text(exc)]), 422
    flash(
        ngettext(
            "Imported %(num)d answer as a new draft.", "Imported %(num)d answers as a new draft.", len(parsed.answers)
        ),
        "success",
    )
    return redirect(url_for("assess.overview", assessment_id=assessment.id))

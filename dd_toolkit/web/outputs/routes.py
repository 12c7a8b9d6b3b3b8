"""What the company takes away: the prioritised action plan and the draft transparency
section, edited in the browser and exported as Markdown, HTML, PDF and CSV."""

from __future__ import annotations

from functools import partial

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    get_template_attribute,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup

from dd_toolkit.engine.actions import ActionPlan, carry_forward
from dd_toolkit.engine.documents import (
    Inputs,
    action_plan,
    action_plan_document,
    draft_markdown,
    risk_assessment_document,
    transparency_document,
    transparency_draft,
)
from dd_toolkit.engine.render import MAX_USER_MARKDOWN, user_markdown_html
from dd_toolkit.engine.reports import document_language
from dd_toolkit.engine.risk_record import NoRegister
from dd_toolkit.engine.transparency import TransparencyDraft
from dd_toolkit.records.assessments import AssessmentError
from dd_toolkit.records.models import ActionStatus, Organisation
from dd_toolkit.records.plans import (
    ConflictError,
    discard_transparency,
    frozen_submission,
    inputs_for,
    previous_items,
    previous_submitted,
    save_transparency,
    set_public_commitments,
    tracking_key,
    tracking_of,
    transparency_edit,
    update_tracking,
)
from dd_toolkit.web import db, fragments
from dd_toolkit.web.assess.routes import load_assessment
from dd_toolkit.web.authz import Action, can, policy, require
from dd_toolkit.web.context import current_content
from dd_toolkit.web.downloads import download
from dd_toolkit.web.outputs.forms import (
    STATUS_LABELS,
    CommitmentsForm,
    RegenerateForm,
    TrackingForm,
    TransparencyForm,
)
from dd_toolkit.web.outputs.store import document_inputs, document_store, prepares_documents
from dd_toolkit.web.pages import kept_page
from dd_toolkit.web.problems import problem_text

bp = Blueprint("outputs", __name__, url_prefix="/assessments")

PLAN_FORMATS = ("md", "html", "pdf", "csv")
TRANSPARENCY_FORMATS = ("md", "html", "pdf")
RISK_FORMATS = ("md", "html", "pdf")


def _inputs(assessment, with_peers: bool = True, **already_read):
    """The documents' inputs; the pages pass ``with_peers=False``: only the exports show peers."""
    return inputs_for(db.session(), current_content(), assessment, with_peers=with_peers, **already_read)


def _text(lazy) -> Markup:
    """A lazily translated string, translated now: it renders as the lazy string does (as
    markup), without a translation lookup at every use."""
    return Markup(str(lazy))


# The tracking fields' labels by locale: building a TrackingForm to read them costs a millisecond.
_labels_by_locale: dict[str, dict[str, Markup]] = {}


def _tracking_labels() -> dict[str, Markup]:
    locale = str(get_locale())
    labels = _labels_by_locale.get(locale)
    if labels is None:
        form = TrackingForm(formdata=None, meta={"csrf": False})
        labels = _labels_by_locale[locale] = {field.short_name: _text(field.label.text) for field in form}
    return labels


def _item_details(assessment, plan) -> dict[str, Markup]:
    """Each item's gaps and steps, by item id. They depend only on the item (and the locale and
    the assessment its links point into), so each is rendered once per worker and then found
    by the item itself: an unchanged item of a draft is found too."""
    macro = get_template_attribute("outputs/_plan_item.html", "item_detail")
    section_urls: dict[str, str] = {}
    locale = str(get_locale())

    def render(item) -> str:
        for gap in item.gaps:
            if gap.section_id not in section_urls:
                section_urls[gap.section_id] = url_for(
                    "assess.section", assessment_id=assessment.id, section_id=gap.section_id
                )
        why = ngettext("Why: %(num)d gap", "Why: %(num)d gaps", len(item.gaps))
        return str(macro(item, why, section_urls))

    store = fragments.store()
    return {
        item.id: store.get_or_render(("plan-item", assessment.id, locale, item), partial(render, item))
        for item in plan.items
    }


def _tracking_fields(assessment, plan, tracking, statuses, labels, status_labels, refused) -> dict[str, Markup]:
    """Each item's tracking fields, by item id: rendered once per worker for each saved state of
    the item's tracking (its row and version), except the one refused form, shown as typed."""
    macro = get_template_attribute("outputs/_plan_item.html", "tracking_fields")
    store = fragments.store()
    locale = str(get_locale())
    found: dict[str, Markup] = {}
    for item in plan.items:
        row, status = tracking.get(item.id), statuses[item.id]
        if refused and refused["item_id"] == item.id:
            typed, errors = refused["values"], refused["errors"]
            found[item.id] = Markup(macro(item, row, status, typed, errors, labels, status_labels))
            continue
        key = ("plan-tracking", assessment.id, locale, item.id, row.id if row else None, row.version if row else 0)
        found[item.id] = store.get_or_render(
            key, partial(lambda i, r, s: str(macro(i, r, s, None, {}, labels, status_labels)), item, row, status)
        )
    return found


@bp.route("/<int:assessment_id>/action-plan")
@policy(Action.ASSESSMENT_VIEW)
@kept_page
@prepares_documents
def action_plan_page(assessment_id: int):
    return _action_plan_page(load_assessment(assessment_id))


def _action_plan_page(assessment, refused: dict | None = None):
    """The action plan; ``refused`` is an item's tracking form sent back with its errors:
    ``{"item_id": ..., "values": {field: typed}, "errors": {field: message}}``, shown as typed
    with each message beside its field.

    A submitted assessment's plan is kept whole (web/fragments.py), under everything it shows:
    the submission, the reader's locale and whether they may edit, this assessment's tracking
    rows and the previous cycle's (what was carried forward). The plan is then not rebuilt; a
    refused form is never kept."""
    session = db.session()
    previous = previous_submitted(session, assessment)
    tracking = tracking_of(session, assessment.id)
    can_edit = can(current_user, Action.ASSESSMENT_EDIT, assessment)
    frozen = frozen_submission(session, assessment)
    asked = _asked_filters(request.args)
    if frozen is None or refused is not None:
        main_html = Markup(_action_plan_main(assessment, previous, tracking, can_edit, refused, generate_csrf(), asked))
    else:
        key = (
            "action-plan",
            assessment.id,
            *frozen,
            str(get_locale()),
            can_edit,
            tracking_key(tracking),
            _previous_key(session, previous),
            tuple(sorted(asked.items())),
        )
        render = partial(_action_plan_main, assessment, previous, tracking, can_edit, None, fragments.CSRF_SLOT, asked)
        main_html = fragments.store().get_or_render(key, render, csrf=True)
    return render_template(
        "outputs/action_plan.html",
        assessment=assessment,
        org=session.get(Organisation, assessment.organisation_id),
        main_html=main_html,
    )


def _previous_key(session, previous) -> tuple | None:
    """What the plan shows of the previous cycle's assessment: which one, and its tracking."""
    if previous is None:
        return None
    rows = tracking_of(session, previous.id)
    return (previous.id, previous.version, previous.cycle, previous.submitted_at, tracking_key(rows))


# The action plan page lists every action, or those of one priority and/or status: "open" is
# to do or in progress. The filters are plain query arguments, so a filtered list can be
# bookmarked and works without JavaScript; a value that is not one of these is ignored.
PLAN_FILTERS = ("priority", "status")
# The tracking statuses each status filter lists.
STATUS_FILTERS = {
    "open": frozenset({ActionStatus.TODO, ActionStatus.IN_PROGRESS}),
    **{status.value: frozenset({status}) for status in ActionStatus},
}


def _asked_filters(args) -> dict[str, str]:
    """The plan's filters in ``args`` that name a status or a priority of an installed
    methodology; anything else is dropped here, so it never reaches the key the plan is kept
    under."""
    known = {
        "priority": {p.id for method in current_content().methodologies.values() for p in method.actions.priorities},
        "status": STATUS_FILTERS,
    }
    return {name: args[name] for name in PLAN_FILTERS if args.get(name) in known[name]}


def _plan_filters(asked: dict[str, str], plan: ActionPlan) -> dict[str, str]:
    """The filters of ``asked`` (:func:`_asked_filters`) that apply to ``plan``: a priority of
    its own methodology."""
    return {name: value for name, value in asked.items() if name != "priority" or value in plan.counts}


def _shown(plan: ActionPlan, statuses: dict[str, ActionStatus], filters: dict[str, str]) -> list:
    """The plan's items that the filters let through, in the plan's order."""
    priority, status = filters.get("priority"), filters.get("status")
    return [
        item
        for item in plan.items
        if priority in (None, item.priority) and (status is None or statuses[item.id] in STATUS_FILTERS[status])
    ]


def _action_plan_main(assessment, previous, tracking, can_edit, refused, csrf, asked=None) -> str:
    """The plan's main part, with ``csrf`` in its forms (the slot, when it is kept), listing the
    actions that the filters ``asked`` let through."""
    inputs = _inputs(assessment, with_peers=False, previous=previous, tracking_rows=tracking)
    plan = action_plan(inputs)
    filters = _plan_filters(asked or {}, plan)
    # The fields' labels and the words shown for every item, translated once for the page; the
    # fields themselves are plain HTML in the template.
    labels = _tracking_labels()
    statuses = {
        item.id: (tracking[item.id].status if item.id in tracking else ActionStatus.TODO) for item in plan.items
    }
    horizons = {days: _("within %(d)d days", d=days) for days in {item.horizon_days for item in plan.items}}
    functions = {
        label: _("owning function: %(f)s", f=label) for label in {item.function_label for item in plan.items} if label
    }
    item_details = _item_details(assessment, plan)
    status_labels = {status: _text(label) for status, label in STATUS_LABELS.items()}
    fields = _tracking_fields(assessment, plan, tracking, statuses, labels, status_labels, refused) if can_edit else {}
    carried = carry_forward(previous_items(db.session(), current_content(), previous), plan) if previous else None
    return render_template(
        "outputs/_action_plan_main.html",
        assessment=assessment,
        plan=plan,
        shown=_shown(plan, statuses, filters),
        filters=filters,
        tracking=tracking,
        labels=labels,
        horizons=horizons,
        functions=functions,
        item_details=item_details,
        tracking_fields=fields,
        csrf=csrf,
        statuses=statuses,
        status_labels=status_labels,
        previous=previous,
        carried=carried,
        can_edit=can_edit,
        frozen=inputs.frozen,
        answered=any(a.has_value or a.not_applicable for a in inputs.answers.values()),
        refused=refused,
    )


@bp.route("/<int:assessment_id>/action-plan/items/<item_id>", methods=["POST"])
@policy(Action.ASSESSMENT_EDIT)
@prepares_documents
def update_item(assessment_id: int, item_id: str):
    assessment = load_assessment(assessment_id, Action.ASSESSMENT_EDIT)
    plan = action_plan(_inputs(assessment))
    item = next((i for i in plan.items if i.id == item_id), None)
    if item is None:
        abort(404)
    form = TrackingForm(prefix=f"item-{item.id}")
    anchor = f"item-{item.id}"
    filters = _plan_filters(_asked_filters(request.args), plan)
    back = url_for("outputs.action_plan_page", assessment_id=assessment.id, _anchor=anchor, **filters)
    valid = form.validate()
    csrf_errors = form.csrf_token.errors if "csrf_token" in form else []
    if csrf_errors:
        for error in csrf_errors:
            flash(f"{item.title}: {error}", "error")
        return redirect(back)
    errors = {field.short_name: " ".join(map(str, field.errors)) for field in form if field.errors}
    errors.pop("base_version", None)  # not a field anyone fills in: read as 0, a conflict
    if form.status.data == ActionStatus.WONT_DO and not (form.reason.data or "").strip():
        errors.setdefault("reason", _("Say why this action will not be done."))
    if not valid or errors:
        # The form comes back as it was filled in, the status chosen included, with each
        # message beside its field.
        flash(_("%(title)s: not saved; correct the fields marked below.", title=item.title), "error")
        values = {field.short_name: field.raw_data[0] if field.raw_data else "" for field in form}
        refused = {"item_id": item.id, "values": values, "errors": errors}
        return _action_plan_page(assessment, refused), 422
    try:
        update_tracking(
            db.session(),
            assessment,
            item_id=item.id,
            title=item.title,
            question_ids=list(item.question_ids),
            owner=form.owner.data or "",
            due_date=form.due_date.data,
            status=ActionStatus(form.status.data),
            reason=form.reason.data or "",
            notes=form.notes.data or "",
            base_version=int(form.base_version.data or 0),
            user=current_user,
        )
    except ConflictError:
        flash(
            _(
                "%(title)s was changed by someone else while you were editing. Their version is "
                "shown now; make your change again.",
                title=item.title,
            ),
            "error",
        )
    except AssessmentError as exc:
        flash(f"{item.title}: {exc}", "error")
    else:
        flash(_("Saved: %(title)s.", title=item.title), "success")
    return redirect(back)


DOCUMENT_LANGUAGES = ("en", "id", "th", "vi")


def _export_inputs(assessment):
    """The inputs of a downloaded document, in the language asked for (``?lang=``), by default the
    reader's own."""
    from dd_toolkit.engine.content import reading_language

    language = request.args.get("lang") or reading_language()
    if language not in DOCUMENT_LANGUAGES:
        abort(404)
    return document_inputs(assessment, language)


def _download(document) -> Response:
    return download(
        document.data,
        document.mimetype.split(";")[0],
        document.filename,
        inline=document.mimetype.startswith("application/pdf"),
    )


@bp.route("/<int:assessment_id>/action-plan.<fmt>")
@policy(Action.ASSESSMENT_VIEW)
def action_plan_export(assessment_id: int, fmt: str):
    if fmt not in PLAN_FORMATS:
        abort(404)
    assessment = load_assessment(assessment_id)
    return _download(action_plan_document(_export_inputs(assessment), fmt, document_store()))


@bp.route("/<int:assessment_id>/transparency", methods=["GET", "POST"])
@policy(Action.ASSESSMENT_VIEW)
@kept_page
@prepares_documents
def transparency_page(assessment_id: int):
    """The draft transparency section. A submitted assessment's page, as read (GET), is kept
    whole (web/fragments.py) under everything it shows: the submission, the reader's locale and
    whether they may edit, the tracking rows (the commitments), the previous cycle's assessment
    and the saved edit; the draft is then not rebuilt. A page answering a POST is never kept."""
    assessment = load_assessment(assessment_id)
    session = db.session()
    edit = transparency_edit(session, assessment.id)
    form = None
    preview_html = None
    status = 200
    if request.method == "POST":
        require(Action.ASSESSMENT_EDIT, assessment)
        form = TransparencyForm()
        if not form.validate():
            status = 422
            for field in (form.markdown, form.base_version):
                for error in field.errors:
                    flash(f"{field.label.text}: {error}" if field is form.markdown else str(error), "error")
        elif form.preview.data:
            preview_html = user_markdown_html(form.markdown.data)
        else:
            try:
                edit = save_transparency(
                    session, assessment, form.markdown.data or "", int(form.base_version.data or 0), current_user
                )
            except ConflictError:
                flash(
                    _(
                        "Someone else saved this draft while you were editing. Your text is kept "
                        "below; the newer saved version is under “Saved version”. Save again to "
                        "replace it."
                    ),
                    "error",
                )
                edit = transparency_edit(session, assessment.id)
                form.base_version.data = str(edit.version if edit else 0)
                status = 409
            except AssessmentError as exc:
                flash(problem_text(exc), "error")
                status = 422
            else:
                flash(_("Draft saved."), "success")
                return redirect(url_for("outputs.transparency_page", assessment_id=assessment.id))
    previous = previous_submitted(session, assessment)
    tracking = tracking_of(session, assessment.id)
    can_edit = can(current_user, Action.ASSESSMENT_EDIT, assessment)
    render = partial(_transparency_main, assessment, previous, tracking, edit, can_edit, form, preview_html)
    frozen = frozen_submission(session, assessment) if form is None else None
    if frozen is None:
        main_html = Markup(render(generate_csrf()))
    else:
        key = (
            "transparency",
            assessment.id,
            *frozen,
            str(get_locale()),
            can_edit,
            tracking_key(tracking),
            (previous.id, previous.version, previous.cycle, previous.submitted_at) if previous else None,
            (edit.id, edit.version, edit.updated_at) if edit else None,
        )
        main_html = fragments.store().get_or_render(key, partial(render, fragments.CSRF_SLOT), csrf=True)
    return render_template("outputs/transparency.html", assessment=assessment, main_html=main_html), status


def _transparency_main(assessment, previous, tracking, edit, can_edit, form, preview_html, csrf) -> str:
    """The page's main part, with ``csrf`` in its forms (the slot, when it is kept); ``form`` is
    the form as posted, or None for the saved text (or the generated draft)."""
    inputs = _inputs(assessment, with_peers=False, previous=previous, tracking_rows=tracking)
    draft = transparency_draft(inputs)
    if form is None:
        form = TransparencyForm(formdata=None)
        form.markdown.data = transparency_text(inputs, draft=draft)
        form.base_version.data = str(edit.version if edit else 0)
    return render_template(
        "outputs/_transparency_main.html",
        assessment=assessment,
        form=form,
        csrf=csrf,
        regenerate=RegenerateForm(formdata=None),
        commitments_form=CommitmentsForm(formdata=None),
        public_ids={item_id for item_id, row in inputs.tracking.items() if row.get("public_commitment")},
        edit=edit,
        draft=draft,
        preview_html=preview_html if preview_html is not None else _draft_html(inputs, draft, form.markdown.data),
        can_edit=can_edit,
    )


def _draft_html(inputs: Inputs, draft: TransparencyDraft, text: str | None):
    """The draft's HTML: a text the team edited within its length limit, the generated one whole."""
    generated = inputs.transparency_markdown is None and text == transparency_text(inputs, draft=draft)
    return user_markdown_html(text, limit=None if generated else MAX_USER_MARKDOWN)


def transparency_text(inputs: Inputs, *, plan: ActionPlan | None = None, draft: TransparencyDraft | None = None) -> str:
    """``transparency_markdown(inputs)``, from the plan or the draft a page has already built."""
    if inputs.transparency_markdown is not None:
        return inputs.transparency_markdown
    if draft is None:
        draft = transparency_draft(inputs, plan)
    # The template's own words (headings, labels) in the reader's language too, as in the exports.
    with document_language(inputs.content.bank.catalogues, inputs.language):
        return draft_markdown(inputs, draft)


@bp.route("/<int:assessment_id>/transparency/preview", methods=["POST"])
@policy(Action.ASSESSMENT_EDIT)
def transparency_preview(assessment_id: int):
    """The live preview: the same sanitised rendering as the exports."""
    load_assessment(assessment_id, Action.ASSESSMENT_EDIT)
    return Response(str(user_markdown_html(request.form.get("markdown", ""))), mimetype="text/html")


@bp.route("/<int:assessment_id>/transparency/regenerate", methods=["POST"])
@policy(Action.ASSESSMENT_EDIT)
@prepares_documents
def transparency_regenerate(assessment_id: int):
    assessment = load_assessment(assessment_id, Action.ASSESSMENT_EDIT)
    if RegenerateForm().validate_on_submit():
        try:
            discard_transparency(db.session(), assessment, current_user)
        except ConflictError:
            flash(_("Someone else saved the text just now; it was kept. Regenerate again to discard it."), "error")
        else:
            flash(_("The draft was regenerated from the answers."), "success")
    return redirect(url_for("outputs.transparency_page", assessment_id=assessment.id))


@bp.route("/<int:assessment_id>/transparency/commitments", methods=["POST"])
@policy(Action.ASSESSMENT_EDIT)
@prepares_documents
def transparency_commitments(assessment_id: int):
    """Mark the action items that the public text names as commitments; nothing else is."""
    assessment = load_assessment(assessment_id, Action.ASSESSMENT_EDIT)
    if CommitmentsForm().validate_on_submit():
        plan = action_plan(_inputs(assessment, with_peers=False))
        items = [(item.id, item.title, list(item.question_ids)) for item in plan.items]
        set_public_commitments(db.session(), assessment, items, set(request.form.getlist("public")), current_user)
        flash(_("Public commitments saved."), "success")
    return redirect(url_for("outputs.transparency_page", assessment_id=assessment.id, _anchor="commitments"))


@bp.route("/<int:assessment_id>/transparency.<fmt>")
@policy(Action.ASSESSMENT_VIEW)
def transparency_export(assessment_id: int, fmt: str):
    if fmt not in TRANSPARENCY_FORMATS:
        abort(404)
    assessment = load_assessment(assessment_id)
    return _download(transparency_document(_export_inputs(assessment), fmt, document_store()))


@bp.route("/<int:assessment_id>/risk-assessment.<fmt>")
@policy(Action.ASSESSMENT_VIEW)
def risk_assessment_export(assessment_id: int, fmt: str):
    """The written record of the children's risk assessment; 404 when there is no register."""
    if fmt not in RISK_FORMATS:
        abort(404)
    assessment = load_assessment(assessment_id)
    try:
        return _download(risk_assessment_document(_export_inputs(assessment), fmt, document_store()))
    except NoRegister:
        abort(404)

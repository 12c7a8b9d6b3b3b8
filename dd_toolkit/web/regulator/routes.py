"""Regulators: the inbox of submissions addressed to their jurisdictions, the review of one
submission, and the RPA indicator report."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy.orm import defer
from sqlmodel import select

from dd_toolkit.engine.documents import action_plan, stored_pdf
from dd_toolkit.engine.indicators import indicator_csv, indicator_rows, report_notes
from dd_toolkit.engine.render import MAX_USER_MARKDOWN, user_markdown_html
from dd_toolkit.records import aggregates
from dd_toolkit.records.models import Assessment, Recipient, Submission, SubmissionRecord, User
from dd_toolkit.records.plans import inputs_for
from dd_toolkit.records.review import (
    STATUS_LABELS,
    ReviewError,
    changed_answers,
    comment,
    inbox_groups,
    integrity_ok,
    timeline,
    transition,
)
from dd_toolkit.records.submissions import RECORD_JSON, record_of
from dd_toolkit.web import db, fragments
from dd_toolkit.web.authz import Action, policy, require
from dd_toolkit.web.context import current_bank, current_content
from dd_toolkit.web.downloads import download
from dd_toolkit.web.inputs import MAX_CYCLE, MAX_PAGE, int_arg
from dd_toolkit.web.outputs.routes import transparency_text
from dd_toolkit.web.outputs.store import document_store
from dd_toolkit.web.pages import kept_page, reviewed_organisation, shared_figures_only
from dd_toolkit.web.problems import problem_text
from dd_toolkit.web.regulator.forms import CommentForm, StatusForm, status_labels

bp = Blueprint("regulator", __name__, url_prefix="/review")


def _recipient(recipient_id: int) -> Recipient:
    return require(Action.REVIEW, db.session().get(Recipient, recipient_id))


@bp.route("/")
@policy(Action.REVIEW)
@kept_page(shows=shared_figures_only)
def index():
    args = request.args
    cycle = int_arg("cycle", maximum=MAX_CYCLE)
    jurisdictions = list(current_user.jurisdictions or [])
    result = inbox_groups(
        db.session(),
        jurisdictions,
        status=args.get("status") or None,
        service_type=args.get("service_type") or None,
        size_band=args.get("size_band") or None,
        cycle=cycle,
        page=int_arg("page", 1, minimum=1, maximum=MAX_PAGE),
    )
    taxonomy = current_bank().taxonomy
    locale = str(get_locale())
    store = fragments.store()

    def filters() -> str:
        return render_template(
            "regulator/_inbox_filters.html",
            jurisdictions=jurisdictions,
            status_labels=status_labels(),
            taxonomy=taxonomy,
            args=args,
        )

    # The filters are kept only for values they offer: anything else a URL carries is shown as
    # it is (escaped), never kept.
    chosen = tuple(args.get(name, "") for name in ("status", "service_type", "size_band", "cycle"))
    known = (
        chosen[0] in ("", *STATUS_LABELS)
        and chosen[1] in ("", *(e.id for e in taxonomy.service_types))
        and chosen[2] in ("", *(e.id for e in taxonomy.size_bands))
        and (chosen[3] == "" or (chosen[3].isdigit() and len(chosen[3]) <= 4))
    )
    if known:
        filters_html = store.get_or_render(("inbox-filters", locale, tuple(jurisdictions), chosen), filters)
    else:
        filters_html = Markup(filters())
    # The tables are kept under what the page was read from (records/review.py, inbox_groups):
    # any change of a review (its status, a new version, a new submission) or of a record (its
    # verification) gives another key.
    groups_html = store.get_or_render(
        ("inbox-groups", locale, result.key),
        lambda: render_template(
            "regulator/_inbox_groups.html", groups=result.groups, status_labels=status_labels(), taxonomy=taxonomy
        ),
    )
    return render_template(
        "regulator/inbox.html",
        result=result,
        groups=result.groups,
        filters_html=filters_html,
        groups_html=groups_html,
        args=args,
    )


# Built once (the page is read on every review): building a statement costs more than running it.
_VERSIONS = (
    select(Submission.id, Assessment.version)
    .join(Assessment, Assessment.id == Submission.assessment_id)
    .where(Submission.id.in_(sa.bindparam("ids", expanding=True)))
)
_NAMES = select(User.id, User.name).where(User.id.in_(sa.bindparam("ids", expanding=True)))
# A review with its submission, the assessment it froze and its decoded record (its large JSON
# columns read on first use only): the review pages read all four, in one query.
_REVIEWED = (
    select(Recipient, Submission, Assessment, SubmissionRecord)
    .join(Submission, Submission.id == Recipient.submission_id)
    .join(Assessment, Assessment.id == Submission.assessment_id)
    .join(SubmissionRecord, SubmissionRecord.submission_id == Submission.id)
    .where(Recipient.id == sa.bindparam("recipient_id"))
    .options(*(defer(column) for column in RECORD_JSON))
)
# The same without the frozen snapshot, which only the review page's integrity check reads.
_REVIEWED_LIGHT = _REVIEWED.options(defer(Submission.snapshot))


def _reviewed(
    recipient_id: int, *, snapshot: bool = True
) -> tuple[Recipient, Submission, Assessment, SubmissionRecord]:
    """The review (authorised before anything of it is used), its submission, the assessment and
    the submission's record."""
    statement = _REVIEWED if snapshot else _REVIEWED_LIGHT
    reviewed = db.session().exec(statement, params={"recipient_id": recipient_id}).first()
    recipient = require(Action.REVIEW, reviewed[0] if reviewed else None)
    return recipient, reviewed[1], reviewed[2], reviewed[3]


def _answered_sections(answers: dict) -> list[tuple]:
    """(module, section, questions) for each section with at least one frozen answer, in bank
    order: the review page lists them and each has a page of its own."""
    answered = []
    for module in current_bank().questionnaires:
        for section in module.sections:
            found = [q for q in section.questions if q.id in answers]
            if found:
                answered.append((module, section, found))
    return answered


def _question_url(recipient_id: int):
    """The address of a question's answer in a review: its section's page, at the question."""
    section_of = current_bank().section_of

    def url(question_id: str) -> str:
        anchor = "q-" + question_id.replace(".", "-")
        section = section_of.get(question_id)
        if section is None:  # a question the installed bank no longer has: no page shows it
            return "#" + anchor
        return url_for("regulator.answers", recipient_id=recipient_id, section_id=section.id, _anchor=anchor)

    return url


@bp.route("/<int:recipient_id>")
@policy(Action.REVIEW)
@kept_page(shows=reviewed_organisation)
def submission(recipient_id: int):
    """A submission's review. Its main part is kept per worker under all it shows that can change:
    the review's status, its timeline (events are only ever added) and the names of the people in
    it, and the integrity check, which is run on every visit."""
    session = db.session()
    recipient, submission, assessment, record = _reviewed(recipient_id)
    steps = timeline(session, recipient)  # this version's review and the earlier versions it answers
    users = _names(session, steps)
    integrity = integrity_ok(submission, record)
    key = (submission.sha256, submission.methodology)
    question_url = _question_url(recipient.id)

    def frozen_part() -> str:
        inputs = inputs_for(session, current_content(), assessment, as_submitted=True)  # the frozen text
        plan = action_plan(inputs)
        return render_template(
            "regulator/_submission_frozen.html",
            recipient=recipient,
            submission=submission,
            record=record,
            card=inputs.card,
            plan=plan,
            transparency=user_markdown_html(
                transparency_text(inputs, plan=plan),
                limit=None if inputs.transparency_markdown is None else MAX_USER_MARKDOWN,
            ),
            bands={b.id: b.label for b in inputs.method.bands},
            method=inputs.method,
            answered_sections=_answered_sections(record.answers),
            risk_register=inputs.risk_register,
            risk_rules=inputs.method.risk,
            question_url=question_url,
        )

    def changes_part() -> str:
        # Both versions are frozen: the table is worked out once per worker.
        changes = _changes_since_previous(session, recipient, record)
        return render_template("regulator/_submission_changes.html", changes=changes, question_url=question_url)

    def main_part() -> str:
        changes_html = None
        if recipient.previous_id is not None:  # a recipient's previous version never changes
            changes_html = fragments.frozen_fragment("review-changes", recipient.id, *key, changes_part)
        # Each step names the version of the assessment it is about, never a submission's row id.
        ids = sorted({item.submission_id for item, _ in steps})
        versions = dict(session.exec(_VERSIONS, params={"ids": ids}).all())
        return render_template(
            "regulator/_submission_main.html",
            recipient=recipient,
            submission=submission,
            assessment=assessment,
            record=record,
            integrity=integrity,
            changes_html=changes_html,
            steps=steps,
            versions=versions,
            users=users,
            question_url=question_url,
            status_moves=StatusForm.moves(recipient.status),
            status_field_labels=StatusForm.labels(),
            status_labels=status_labels(),
            frozen_html=fragments.frozen_fragment("review", recipient.id, *key, frozen_part),
            csrf_slot=fragments.CSRF_SLOT,
        )

    state = (
        "review-main",
        str(recipient.status),
        integrity,
        record.intact,
        tuple(event.id for _, event in steps),
        tuple(sorted(users.items())),
    )
    main_html = fragments.frozen_fragment(state, recipient.id, *key, main_part, csrf=True)
    return render_template("regulator/submission.html", record=record, main_html=main_html)


@bp.route("/<int:recipient_id>/sections/<section_id>")
@policy(Action.REVIEW)
@kept_page(shows=reviewed_organisation)
def answers(recipient_id: int, section_id: str):
    """One section's frozen answers, evidence and comments, with a comment form per question: a
    submission's answers are read, and commented on, a section at a time."""
    session = db.session()
    recipient, submission, assessment, record = _reviewed(recipient_id, snapshot=False)
    module_section = current_bank().section(section_id)
    if module_section is None:
        abort(404)
    module, section = module_section
    asked = {q.id for q in section.questions}
    comments = [(item, event) for item, event in timeline(session, recipient) if event.question_id in asked]
    # A comment made on an earlier version names it.
    earlier = sorted({item.submission_id for item, _ in comments if item.id != recipient.id})
    versions = dict(session.exec(_VERSIONS, params={"ids": earlier}).all()) if earlier else {}

    def answers_part() -> str:
        # Only a first visit decodes the frozen answers: the part is kept with its pager.
        sections = _answered_sections(record.answers)
        position = next((i for i, (_, answered, _) in enumerate(sections) if answered.id == section_id), None)
        if position is None:
            abort(404)  # a section of the bank the submission has no answer in
        # A new version's answers that changed since the version it answers are marked.
        changed = {change.question_id for change in _changes_since_previous(session, recipient, record)}
        return render_template(
            "regulator/_section_answers.html",
            recipient=recipient,
            record=record,
            section=section,
            changed=changed,
            questions=sections[position][2],
            previous=sections[position - 1][1] if position > 0 else None,
            following=sections[position + 1][1] if position + 1 < len(sections) else None,
            csrf_slot=fragments.CSRF_SLOT,
        )

    return render_template(
        "regulator/section.html",
        recipient=recipient,
        assessment=assessment,
        record=record,
        module=module,
        section=section,
        comments=comments,
        users=_names(session, comments),
        versions=versions,
        status_label=gettext(STATUS_LABELS[recipient.status]),
        answers_html=fragments.frozen_fragment(
            ("review-section", section.id),
            recipient.id,
            submission.sha256,
            submission.methodology,
            answers_part,
            csrf=True,
        ),
    )


def _changes_since_previous(session, recipient: Recipient, record: SubmissionRecord) -> list:
    """What changed in the answers since the version this review's version answers (none for a
    first version)."""
    if recipient.previous_id is None:
        return []
    previous = session.get(Recipient, recipient.previous_id)
    return changed_answers(record_of(session, previous.submission_id).answers, record.answers)


def _names(session, steps: list) -> dict[int, str]:
    """The names of the people who took the steps of a review's timeline."""
    ids = sorted({event.user_id for _, event in steps if event.user_id})
    return dict(session.exec(_NAMES, params={"ids": ids}).all()) if ids else {}


@bp.route("/<int:recipient_id>/status", methods=["POST"])
@policy(Action.REVIEW)
def change_status(recipient_id: int):
    recipient = _recipient(recipient_id)
    form = StatusForm()
    if form.validate_on_submit():
        try:
            transition(db.session(), recipient, form.to_status.data, current_user, form.text.data or "")
        except ReviewError as exc:
            flash(problem_text(exc), "error")
        else:
            status = gettext(STATUS_LABELS[form.to_status.data])
            flash(gettext("Status changed to “%(status)s”.", status=status), "success")
    else:
        flash(gettext("Choose a status."), "error")
    return redirect(url_for("regulator.submission", recipient_id=recipient.id))


@bp.route("/<int:recipient_id>/comments", methods=["POST"])
@policy(Action.REVIEW)
def add_comment(recipient_id: int):
    recipient = _recipient(recipient_id)
    form = CommentForm()
    question_id = form.question_id.data or None
    if question_id and question_id not in current_bank().questions:
        abort(400)
    if form.validate_on_submit():
        try:
            comment(db.session(), recipient, current_user, form.text.data, question_id)
        except ReviewError as exc:
            flash(problem_text(exc), "error")
        else:
            flash(gettext("Comment added."), "success")
    else:
        flash(gettext("Write the comment first."), "error")
    if question_id:
        return redirect(_question_url(recipient.id)(question_id))
    return redirect(url_for("regulator.submission", recipient_id=recipient.id, _anchor="timeline"))


# -- RPA indicator report ------------------------------------------------------------------


def _report_args():
    jurisdictions = list(current_user.jurisdictions or [])
    jurisdiction = request.args.get("country") or (jurisdictions[0] if jurisdictions else None)
    if jurisdiction not in jurisdictions:
        abort(404)
    cycle = int_arg("cycle", maximum=MAX_CYCLE)
    cycles = aggregates.report_cycles(db.session())
    return jurisdictions, jurisdiction, cycle or (cycles[0] if cycles else None), cycles


@bp.route("/indicators")
@policy(Action.REVIEW)
@kept_page(shows=shared_figures_only)
def indicators():
    """A regulator's statutory view: every submission addressed to the jurisdiction counts,
    with the names of the institutions. The working group's rates are on the benchmark pages."""
    jurisdictions, jurisdiction, cycle, cycles = _report_args()
    taxonomy = current_bank().taxonomy
    if cycle:
        # The figures are rendered once per worker for each stored report (any refresh of it gives
        # another version), jurisdiction, cycle and locale.
        version = aggregates.stored_indicator_version(db.session(), jurisdiction, cycle)
        key = ("rpa-indicators", jurisdiction, cycle, version, str(get_locale()))
        report_html = fragments.store().get_or_render(
            key,
            lambda: render_template(
                "regulator/_indicators_report.html",
                report=aggregates.stored_indicator_report(db.session(), jurisdiction, cycle),
                taxonomy=taxonomy,
            ),
        )
    else:
        report_html = Markup(render_template("regulator/_indicators_report.html", report=None, taxonomy=taxonomy))
    return render_template(
        "regulator/indicators.html",
        report_html=report_html,
        jurisdictions=jurisdictions,
        jurisdiction=jurisdiction,
        cycle=cycle,
        cycles=cycles,
        taxonomy=taxonomy,
        notes=report_notes(current_content().root),
    )


@bp.route("/indicators.<fmt>")
@policy(Action.REVIEW)
def indicators_export(fmt: str):
    if fmt not in ("csv", "pdf"):
        abort(404)
    _jurisdictions, jurisdiction, cycle, _cycles = _report_args()
    if cycle is None:
        abort(404)
    report = aggregates.stored_indicator_report(db.session(), jurisdiction, cycle, all_names=True)
    notes = report_notes(current_content().root)
    name = f"rpa-indicators-{jurisdiction}-{cycle}"
    if fmt == "csv":
        return download(indicator_csv(report, notes), "text/csv", f"{name}.csv")
    html = render_template(
        "regulator/indicators_print.html",
        report=report,
        rows=indicator_rows(report),
        notes=notes,
        taxonomy=current_bank().taxonomy,
    )
    return download(stored_pdf(html, document_store()), "application/pdf", f"{name}.pdf", inline=True)

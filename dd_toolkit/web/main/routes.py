"""The start page: what the toolkit is, and for a signed-in user, their home page saying what to do
next. Every figure on a home page is read from stored records (the submissions' decoded records,
the review rows, the action tracking, the published releases), never recomputed here."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, render_template
from flask_babel import gettext as _
from flask_login import current_user
from sqlmodel import select

from dd_toolkit.records import home as homes
from dd_toolkit.records import notifications
from dd_toolkit.records.assessments import carried_to_review
from dd_toolkit.records.models import Membership, Organisation, PlatformRole, utcnow
from dd_toolkit.records.review import STATUS_LABELS
from dd_toolkit.web import db
from dd_toolkit.web.assess.routes import assessment_state
from dd_toolkit.web.authz import Action, can, memberships, policy
from dd_toolkit.web.context import current_bank, current_content, current_methodology
from dd_toolkit.web.pages import kept_page

bp = Blueprint("main", __name__)


@bp.route("/")
@policy(Action.PUBLIC)
@kept_page
def home():
    if not current_user.is_authenticated:
        return render_template("main/welcome.html")
    member = memberships(current_user)
    if member:
        return _company_home(member[0])
    role = PlatformRole(current_user.platform_role)
    if role == PlatformRole.REGULATOR:
        return _regulator_home()
    if role == PlatformRole.WORKING_GROUP:
        return _working_group_home()
    return render_template("main/account_home.html", role=role)


def _section_of(question_id: str | None):
    """The (module, section) holding a question, if the bank still has it."""
    if question_id is None:
        return None
    for module in current_bank().questionnaires:
        for section in module.sections:
            if any(q.id == question_id for q in section.questions):
                return module, section
    return None


def _band_labels() -> dict[str, dict[str, str]]:
    """Band labels of every installed methodology, by methodology key then band id."""
    return {key: {b.id: b.label for b in method.bands} for key, method in current_content().methodologies.items()}


def _company_home(member: Membership):
    session = db.session()
    org = session.get(Organisation, member.organisation_id)
    # An action falling due is noticed here (and by `dd-toolkit notify-due`): each reminder once.
    today = dt.date.today()
    due = notifications.due_actions(session, org.id, today=today)
    notifications.notify_due_actions(session, organisation_id=org.id, today=today, due=due)
    data = homes.company_home(session, org.id, reader_id=current_user.id, today=today, due=due)
    state = resume = next_section = None
    mine, to_review = [], {}
    if data.draft is not None:
        _org, rows, _answers, state = assessment_state(data.draft)
        to_review = carried_to_review(current_bank(), rows, state.applicable)
        resume = _section_of(data.last_saved_question)
        next_section = next((s for s in state.sections if s.status in ("not_started", "in_progress")), None)
        # The sections assigned to the reader that have questions to answer, in the bank's order.
        mine = [s for s in state.sections if s.section.id in data.assigned and s.applicable]
    return render_template(
        "main/company_home.html",
        org=org,
        role=member.role,
        home=data,
        state=state,
        resume=resume,
        next_section=next_section,
        mine=mine,
        # A section of the reader's is open while it has questions to answer or answers to review.
        mine_open=[s for s in mine if s.status != "complete" or s.section.id in to_review],
        to_review=to_review,
        can_manage=can(current_user, Action.ASSESSMENT_MANAGE, org),
        bands=_band_labels(),
        status_labels=STATUS_LABELS,
        taxonomy=current_bank().taxonomy,
    )


def _regulator_home():
    jurisdictions = list(current_user.jurisdictions or [])
    return render_template(
        "main/regulator_home.html",
        home=homes.regulator_home(db.session(), jurisdictions),
        jurisdictions=jurisdictions,
        places=[current_bank().taxonomy.label("countries", j) for j in jurisdictions],
        now=utcnow(),
        status_labels=STATUS_LABELS,
        taxonomy=current_bank().taxonomy,
    )


def _working_group_home():
    method = current_methodology()
    data = homes.working_group_home(db.session(), method)
    names = {"overall": _("Overall")}
    for indicator in method.indicators:
        names[f"indicator:{indicator.id}"] = f"{indicator.id.removeprefix('RPA:')} {indicator.label}"
    return render_template("main/working_group_home.html", home=data, method=method, names=names)


@bp.route("/healthz")
@policy(Action.PUBLIC)
def health():
    db.session().exec(select(1)).one()
    return {"status": "ok"}

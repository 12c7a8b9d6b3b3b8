"""The start page: what the toolkit is, and for a signed-in user, where to go next."""

from flask import Blueprint, render_template
from flask_login import current_user
from sqlmodel import select

from dd_toolkit.records.models import Assessment, AssessmentStatus, Organisation, PlatformRole
from dd_toolkit.web import db
from dd_toolkit.web.authz import Action, memberships, policy

bp = Blueprint("main", __name__)


@bp.route("/")
@policy(Action.PUBLIC)
def home():
    if not current_user.is_authenticated:
        return render_template("main/welcome.html")
    member = memberships(current_user)
    if member:
        session = db.session()
        org = session.get(Organisation, member[0].organisation_id)
        drafts = session.exec(
            select(Assessment)
            .where(Assessment.organisation_id == org.id, Assessment.status == AssessmentStatus.DRAFT)
            .order_by(Assessment.cycle.desc())
        ).all()
        return render_template("main/company_home.html", org=org, role=member[0].role, drafts=drafts)
    return render_template("main/account_home.html", role=PlatformRole(current_user.platform_role))


@bp.route("/healthz")
@policy(Action.PUBLIC)
def health():
    db.session().exec(select(1)).one()
    return {"status": "ok"}

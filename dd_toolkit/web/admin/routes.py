"""Platform administration: regulator and working-group accounts. A platform admin manages
accounts and roles and never reads company answers."""

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlmodel import select
from wtforms import EmailField, RadioField, SelectChoice, StringField, SubmitField
from wtforms.validators import DataRequired, Email, Length

from dd_toolkit.records import accounts, releases
from dd_toolkit.records.models import PlatformRole, User
from dd_toolkit.web import db
from dd_toolkit.web.authz import Action, policy
from dd_toolkit.web.context import current_bank, current_methodology
from dd_toolkit.web.forms import MultiCheckboxField

bp = Blueprint("admin", __name__, url_prefix="/admin")


class AccountForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    email = EmailField(_l("Email"), validators=[DataRequired(), Email(check_deliverability=False), Length(max=254)])
    role = RadioField(
        _l("Role"),
        choices=[
            SelectChoice(
                PlatformRole.REGULATOR.value, _l("Regulator: reviews submissions addressed to its jurisdictions")
            ),
            SelectChoice(PlatformRole.WORKING_GROUP.value, _l("Industry Working Group: anonymised aggregates only")),
        ],
        validators=[DataRequired()],
    )
    jurisdictions = MultiCheckboxField(_l("Jurisdictions (regulators)"))
    submit = SubmitField(_l("Create account and invitation link"))


@bp.route("/accounts", methods=["GET", "POST"])
@policy(Action.PLATFORM_ADMIN)
def accounts_page():
    form = AccountForm()
    form.jurisdictions.choices = [
        SelectChoice(code, current_bank().taxonomy.label("countries", code))
        for code in current_bank().taxonomy.asean_countries
    ]
    invitation = None
    session = db.session()
    if form.validate_on_submit():
        try:
            user, token = accounts.invite_platform_user(
                session,
                email=form.email.data,
                name=form.name.data,
                role=PlatformRole(form.role.data),
                jurisdictions=form.jurisdictions.data or [],
                invited_by=current_user,
            )
        except accounts.AccountError as exc:
            form.email.errors.append(str(exc))
        else:
            invitation = {"user": user, "url": url_for("auth.accept_invite", token=token, _external=True)}
    users = session.exec(
        select(User)
        .where(User.platform_role.in_([PlatformRole.REGULATOR, PlatformRole.WORKING_GROUP]))
        .order_by(User.platform_role, User.name)
    ).all()
    return render_template("admin/accounts.html", form=form, users=users, invitation=invitation)


class PublishForm(FlaskForm):
    submit = SubmitField(_l("Publish the final release of the cycle"))


@bp.route("/releases", methods=["GET", "POST"])
@policy(Action.PLATFORM_ADMIN)
def releases_page():
    """The working group's releases; at a cycle's close, the final one (under the same rules)."""
    method = current_methodology()
    form = PublishForm()
    if form.validate_on_submit():
        row = releases.publish(db.session(), current_bank(), method, final=True, user=current_user)
        if row is None:
            flash(_("Nothing can be published: no company has consented to the benchmark yet."), "error")
        else:
            flash(_("Release %(n)d published as the final release.", n=row.number), "success")
        return redirect(url_for("admin.releases_page"))
    return render_template(
        "admin/releases.html", rows=releases.release_rows(db.session(), method), form=form, method=method
    )

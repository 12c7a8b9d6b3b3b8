"""Platform administration: regulator and working-group accounts. A platform admin manages
accounts and roles and never reads company answers."""

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlmodel import select
from wtforms import EmailField, RadioField, SelectChoice, StringField, SubmitField
from wtforms.validators import DataRequired, Email, Length

from dd_toolkit.records import accounts, integrity, releases
from dd_toolkit.records.models import PlatformRole, User
from dd_toolkit.web import db
from dd_toolkit.web.authz import Action, policy
from dd_toolkit.web.context import current_bank, current_methodology
from dd_toolkit.web.forms import Form, MultiCheckboxField
from dd_toolkit.web.problems import problem_text

bp = Blueprint("admin", __name__, url_prefix="/admin")


class AccountForm(Form):
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
    form = _account_form()
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
            form.email.errors.append(problem_text(exc))
        else:
            if token is None:
                # Separation of duties: the creator of a regulator account never sees its link.
                flash(
                    _(
                        "%(email)s awaits confirmation of %(list)s by a regulator of the jurisdiction, or, for a "
                        "jurisdiction's first regulator, by the operator on the server: dd-toolkit "
                        "confirm-regulator %(email)s. The invitation link goes to whoever confirms.",
                        email=user.email,
                        list=", ".join(form.jurisdictions.data or []),
                    ),
                    "info",
                )
                return redirect(url_for("admin.accounts_page"))
            invitation = {"user": user, "url": url_for("auth.accept_invite", token=token, _external=True)}
    return _accounts_page(form, invitation=invitation)


def _account_form(**kwargs) -> AccountForm:
    form = AccountForm(**kwargs)
    form.jurisdictions.choices = [
        SelectChoice(code, current_bank().taxonomy.label("countries", code))
        for code in current_bank().taxonomy.asean_countries
    ]
    return form


def _accounts_page(form: AccountForm, *, invitation=None, reset=None):
    session = db.session()
    more = MoreJurisdictionsForm(prefix="more")
    more.jurisdictions.choices = form.jurisdictions.choices
    users = session.exec(
        select(User)
        .where(User.platform_role.in_([PlatformRole.REGULATOR, PlatformRole.WORKING_GROUP]))
        .order_by(User.platform_role, User.name)
    ).all()
    pending: dict[int, list[str]] = {}
    for grant in accounts.pending_grants(session):
        pending.setdefault(grant.user_id, []).append(grant.jurisdiction)
    return render_template(
        "admin/accounts.html",
        form=form,
        more=more,
        users=users,
        pending=pending,
        invitation=invitation,
        reset=reset,
        button=ButtonForm(),
    )


class MoreJurisdictionsForm(Form):
    email = EmailField(_l("Regulator's email"), validators=[DataRequired(), Email(check_deliverability=False)])
    jurisdictions = MultiCheckboxField(_l("Jurisdictions to add"), validators=[DataRequired()])
    submit = SubmitField(_l("Request the jurisdictions"))


class ButtonForm(Form):
    submit = SubmitField(_l("Go"))


@bp.route("/accounts/jurisdictions", methods=["POST"])
@policy(Action.PLATFORM_ADMIN)
def request_jurisdictions():
    """Ask for more jurisdictions on a regulator account; each takes effect once confirmed."""
    session = db.session()
    more = MoreJurisdictionsForm(prefix="more")
    more.jurisdictions.choices = [(code, code) for code in current_bank().taxonomy.asean_countries]
    user = accounts.find_user(session, more.email.data or "") if more.validate_on_submit() else None
    if user is None or user.platform_role != PlatformRole.REGULATOR:
        flash(_("Name a regulator account and at least one jurisdiction."), "error")
        return redirect(url_for("admin.accounts_page"))
    added = accounts.request_jurisdictions(session, user, more.jurisdictions.data, by=current_user)
    flash(
        _(
            "%(n)d jurisdiction(s) requested for %(email)s; each takes effect when a regulator of it (or, for its "
            "first regulator, the operator) confirms.",
            n=added,
            email=user.email,
        ),
        "info",
    )
    return redirect(url_for("admin.accounts_page"))


@bp.route("/accounts/<int:user_id>/<any(deactivate, reactivate):change>", methods=["POST"])
@policy(Action.PLATFORM_ADMIN)
def account_status(user_id: int, change: str):
    """Deactivate (ending its sessions and revoking its API tokens) or reactivate an account."""
    session = db.session()
    user = session.get(User, user_id)
    if user is None or user.platform_role not in (PlatformRole.REGULATOR, PlatformRole.WORKING_GROUP):
        abort(404)
    if not ButtonForm().validate_on_submit():
        abort(400)
    if change == "deactivate":
        revoked = accounts.deactivate(session, user, by=current_user)
        flash(_("%(email)s is deactivated; %(n)d API token(s) revoked.", email=user.email, n=revoked), "success")
    else:
        accounts.reactivate(session, user, by=current_user)
        flash(_("%(email)s is active again.", email=user.email), "success")
    return redirect(url_for("admin.accounts_page"))


@bp.route("/accounts/<int:user_id>/reset-link", methods=["POST"])
@policy(Action.PLATFORM_ADMIN)
def account_reset_link(user_id: int):
    """A one-time password-reset link for a working-group account, shown once on the page that
    answers. A regulator's is refused (separation of duties): the operator issues it."""
    session = db.session()
    user = session.get(User, user_id)
    if user is None or user.platform_role not in (PlatformRole.REGULATOR, PlatformRole.WORKING_GROUP):
        abort(404)
    if not ButtonForm().validate_on_submit():
        abort(400)
    try:
        token = accounts.issue_account_reset(session, user, by=current_user)
    except accounts.AccountError as exc:
        flash(problem_text(exc), "error")
        return redirect(url_for("admin.accounts_page"))
    reset = {"user": user, "url": url_for("auth.reset_password", token=token, _external=True)}
    return _accounts_page(_account_form(formdata=None), reset=reset)


@bp.route("/accounts/<int:user_id>/reinvite", methods=["POST"])
@policy(Action.PLATFORM_ADMIN)
def account_reinvite(user_id: int):
    """A new invitation link for a working-group account that has not joined, shown once."""
    session = db.session()
    user = session.get(User, user_id)
    if user is None or user.platform_role not in (PlatformRole.REGULATOR, PlatformRole.WORKING_GROUP):
        abort(404)
    if not ButtonForm().validate_on_submit():
        abort(400)
    try:
        token = accounts.reissue_working_group_invitation(
            session, user, by=current_user, valid_days=current_app.config["INVITE_VALID_DAYS"]
        )
    except accounts.AccountError as exc:
        flash(problem_text(exc), "error")
        return redirect(url_for("admin.accounts_page"))
    invitation = {"user": user, "url": url_for("auth.accept_invite", token=token, _external=True)}
    return _accounts_page(_account_form(formdata=None), invitation=invitation)


class PublishForm(Form):
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


@bp.route("/integrity")
@policy(Action.PLATFORM_ADMIN)
def integrity_page():
    """The last ``dd-toolkit verify`` run: when, whether everything checked out, what did not.
    Problems name tables and row ids, never answer text."""
    return render_template("admin/integrity.html", run=integrity.last_run(db.session()))

"""Sign-in, sign-out, registration of a new organisation, invitations, password reset and
change, and regulators confirming each other's jurisdictions."""

from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from dd_toolkit.records import accounts
from dd_toolkit.records.models import RegulatorGrant, User
from dd_toolkit.web import db, limits
from dd_toolkit.web.auth.forms import (
    AcceptInviteForm,
    ChangePasswordForm,
    ConfirmForm,
    LoginForm,
    RegisterForm,
    ResetForm,
)
from dd_toolkit.web.authz import Action, policy
from dd_toolkit.web.problems import problem_text

bp = Blueprint("auth", __name__, url_prefix="/auth")


def _safe_next(target: str | None) -> str:
    """Only same-site paths, so a crafted link cannot send a user elsewhere after sign-in."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//"):
            return target
    return url_for("main.home")


def _sign_in(user: User, *, remember: bool = False) -> None:
    """Start a new session: nothing of the session before sign-in survives (its CSRF token
    included), and the session id carries a fresh nonce, so every sign-in's remember-me cookie
    differs."""
    session.clear()
    user._dd_session_nonce = accounts.new_session_nonce()
    login_user(user, remember=remember, duration=current_app.config["REMEMBER_COOKIE_DURATION"])


@bp.route("/login", methods=["GET", "POST"])
@policy(Action.PUBLIC)
@limits.login_by_address
@limits.login_by_account
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    form = LoginForm()
    if form.validate_on_submit():
        user = accounts.authenticate(db.session(), form.email.data, form.password.data)
        if user is not None:
            _sign_in(user, remember=form.remember.data)
            return redirect(_safe_next(request.args.get("next")))
        form.password.errors.append(_("The email or password is not right."))
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@policy(Action.SIGNED_IN)
def logout():
    """Sign out. The account's session generation moves on, so no copy of this session's
    cookie, nor any remember-me cookie, works again: this ends the account's sessions on
    every device."""
    user = db.session().get(User, current_user.id)
    if user is not None:
        accounts.end_sessions(db.session(), user, by=user, reason="sign-out")
    logout_user()
    session.clear()
    flash(_("You are signed out on every device."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/register", methods=["GET", "POST"])
@policy(Action.PUBLIC)
@limits.registration
def register():
    """The answer is the same whether or not the email already has an account, so registration
    does not reveal who has one: the new admin signs in next."""
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            accounts.register_organisation(
                db.session(),
                organisation_name=form.organisation.data,
                name=form.name.data,
                email=form.email.data,
                password=form.password.data,
            )
        except accounts.AccountError:
            accounts.note_duplicate_registration(db.session(), form.email.data, form.password.data)
        flash(
            _(
                "Your organisation is registered if this email had no account yet. Sign in with the email and "
                "password you chose; then describe the organisation: the profile decides which questions apply."
            ),
            "success",
        )
        return redirect(url_for("auth.login", next=url_for("orgs.profile")))
    return render_template("auth/register.html", form=form)


@bp.route("/invite/<token>", methods=["GET", "POST"])
@policy(Action.PUBLIC)
@limits.links
def accept_invite(token: str):
    dbs = db.session()
    user = accounts.user_for_invite(dbs, token)
    if user is None:
        abort(404)
    signed_in = current_user if current_user.is_authenticated else None
    try:
        accounts.refuse_creator(dbs, user, signed_in)
    except accounts.AccountError:
        abort(403)
    form = AcceptInviteForm()
    form.password_context = (user.email, user.name)
    if form.validate_on_submit():
        try:
            accounts.accept_invite(dbs, user, form.password.data, signed_in=signed_in)
        except accounts.AccountError as exc:
            form.password.errors.append(problem_text(exc))
        else:
            logout_user()
            _sign_in(user)
            flash(_("Welcome, %(name)s. Your password is set.", name=user.name), "success")
            return redirect(url_for("main.home"))
    return render_template("auth/accept_invite.html", form=form, invited=user)


@bp.route("/reset/<token>", methods=["GET", "POST"])
@policy(Action.PUBLIC)
@limits.links
def reset_password(token: str):
    """A one-time password-reset link (issued by the operator: ``dd-toolkit reset-password``)."""
    dbs = db.session()
    user = accounts.user_for_reset(dbs, token)
    if user is None:
        abort(404)
    form = ResetForm()
    form.password_context = (user.email, user.name)
    if form.validate_on_submit():
        try:
            accounts.complete_reset(dbs, user, form.password.data)
        except accounts.AccountError as exc:
            form.password.errors.append(problem_text(exc))
        else:
            logout_user()
            session.clear()
            flash(_("Your password is set. Sign in with it."), "success")
            return redirect(url_for("auth.login"))
    return render_template("auth/reset.html", form=form, user=user)


@bp.route("/account", methods=["GET", "POST"])
@policy(Action.SIGNED_IN)
def account():
    """One's own account: change the password (which ends every other session too)."""
    dbs = db.session()
    user = dbs.get(User, current_user.id)
    form = ChangePasswordForm()
    form.password_context = (user.email, user.name)
    if form.validate_on_submit():
        try:
            accounts.change_password(dbs, user, form.current.data, form.password.data)
        except accounts.AccountError as exc:
            form.current.errors.append(problem_text(exc))
        else:
            _sign_in(user)  # this session goes on under the new generation; all others end
            flash(_("Your password is changed. Your other sessions have ended."), "success")
            return redirect(url_for("auth.account"))
    confirmations = len(accounts.grants_to_confirm(dbs, user))
    return render_template("auth/account.html", form=form, confirmations=confirmations)


@bp.route("/confirmations", methods=["GET"])
@policy(Action.REVIEW)
def confirmations():
    """Regulator accounts and jurisdictions awaiting confirmation by another regulator of the
    same jurisdiction."""
    dbs = db.session()
    rows = accounts.grants_to_confirm(dbs, dbs.get(User, current_user.id))
    requesters = {r.requested_by_id for r, _u in rows if r.requested_by_id}
    names = {u.id: u for u in (dbs.get(User, i) for i in requesters) if u is not None}
    return render_template("auth/confirmations.html", rows=rows, names=names, form=ConfirmForm())


@bp.route("/confirmations/<int:grant_id>/<any(confirm, decline):decision>", methods=["POST"])
@policy(Action.REVIEW)
def decide_confirmation(grant_id: int, decision: str):
    dbs = db.session()
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    me = dbs.get(User, current_user.id)
    grant = dbs.get(RegulatorGrant, grant_id)
    if grant is None or all(g.id != grant_id for g, _u in accounts.grants_to_confirm(dbs, me)):
        abort(404)
    user = dbs.get(User, grant.user_id)
    if decision == "decline":
        accounts.decline_grant(dbs, grant, by=me)
        flash(_("Declined: %(email)s does not get %(j)s.", email=user.email, j=grant.jurisdiction), "info")
        return redirect(url_for("auth.confirmations"))
    token = accounts.confirm_grant(dbs, grant, by=me, valid_days=current_app.config["INVITE_VALID_DAYS"])
    invitation = url_for("auth.accept_invite", token=token, _external=True) if token else None
    flash(_("Confirmed: %(email)s now regulates %(j)s.", email=user.email, j=grant.jurisdiction), "success")
    if invitation is None:
        return redirect(url_for("auth.confirmations"))
    # The new regulator's invitation link is shown once, to the confirmer, never to its creator.
    response = current_app.make_response(render_template("auth/invitation_issued.html", invited=user, url=invitation))
    response.headers["Cache-Control"] = "no-store"
    return response

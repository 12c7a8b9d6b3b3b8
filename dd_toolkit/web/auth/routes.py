"""Sign-in, sign-out, registration of a new organisation, and accepting an invitation."""

from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from dd_toolkit.records import accounts
from dd_toolkit.web import db
from dd_toolkit.web.auth.forms import AcceptInviteForm, LoginForm, RegisterForm
from dd_toolkit.web.authz import Action, policy

bp = Blueprint("auth", __name__, url_prefix="/auth")


def _safe_next(target: str | None) -> str:
    """Only same-site paths, so a crafted link cannot send a user elsewhere after sign-in."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//"):
            return target
    return url_for("main.home")


@bp.route("/login", methods=["GET", "POST"])
@policy(Action.PUBLIC)
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    form = LoginForm()
    if form.validate_on_submit():
        user = accounts.authenticate(db.session(), form.email.data, form.password.data)
        if user is not None:
            login_user(user, remember=form.remember.data)
            return redirect(_safe_next(request.args.get("next")))
        form.password.errors.append(_("The email or password is not right."))
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@policy(Action.SIGNED_IN)
def logout():
    logout_user()
    flash(_("You are signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/register", methods=["GET", "POST"])
@policy(Action.PUBLIC)
def register():
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            _org, user = accounts.register_organisation(
                db.session(),
                organisation_name=form.organisation.data,
                name=form.name.data,
                email=form.email.data,
                password=form.password.data,
            )
        except accounts.AccountError as exc:
            form.email.errors.append(str(exc))
        else:
            login_user(user)
            flash(
                _(
                    "Your organisation is registered. Start by describing it: the profile decides "
                    "which questions apply."
                ),
                "success",
            )
            return redirect(url_for("orgs.profile"))
    return render_template("auth/register.html", form=form)


@bp.route("/invite/<token>", methods=["GET", "POST"])
@policy(Action.PUBLIC)
def accept_invite(token: str):
    session = db.session()
    user = accounts.user_for_invite(session, token)
    if user is None:
        abort(404)
    form = AcceptInviteForm()
    if form.validate_on_submit():
        accounts.accept_invite(session, user, form.password.data)
        logout_user()
        login_user(user)
        flash(_("Welcome, %(name)s. Your password is set.", name=user.name), "success")
        return redirect(url_for("main.home"))
    return render_template("auth/accept_invite.html", form=form, invited=user)

"""The organisation's profile and its members."""

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from sqlmodel import select

from dd_toolkit.engine.content.answers import PROFILE_FIELDS as _PROFILE
from dd_toolkit.records import accounts
from dd_toolkit.records.assessments import answers_of, profile_of, record
from dd_toolkit.records.models import Assessment, AssessmentStatus, Membership, Organisation, OrgRole, User, utcnow
from dd_toolkit.records.risk import risk_levels
from dd_toolkit.web import db
from dd_toolkit.web.authz import Action, can, memberships, policy, require
from dd_toolkit.web.context import current_bank, current_methodology
from dd_toolkit.web.orgs.forms import InviteForm, MemberActionForm, MemberRoleForm, ProfileForm
from dd_toolkit.web.problems import problem_text

bp = Blueprint("orgs", __name__, url_prefix="/organisation")

# The form's fields: the name and description, then the profile fields (one list, with the Profile).
PROFILE_FIELDS = ("name", "description", *_PROFILE)


def current_organisation(action: Action = Action.ORG_VIEW) -> Organisation:
    """The signed-in user's organisation, checked for ``action``."""
    member = memberships(current_user)
    organisation = db.session().get(Organisation, member[0].organisation_id) if member else None
    return require(action, organisation)


def _applicability_change(org: Organisation, before, after) -> tuple[int, int]:
    """How many questions of the open drafts start or stop applying after a profile change."""
    session = db.session()
    drafts = session.exec(
        select(Assessment).where(Assessment.organisation_id == org.id, Assessment.status == AssessmentStatus.DRAFT)
    ).all()
    added = removed = 0
    for draft in drafts:
        answers = answers_of(session, draft.id)
        risk = risk_levels(session, draft, current_methodology().risk)
        old = current_bank().applicability(before, answers, risk)
        new = current_bank().applicability(after, answers, risk)
        added += sum(1 for q in new if new[q] and not old[q])
        removed += sum(1 for q in new if old[q] and not new[q])
    return added, removed


@bp.route("/profile", methods=["GET", "POST"])
@policy(Action.ORG_VIEW)
def profile():
    org = current_organisation()
    form = ProfileForm(current_bank().taxonomy, obj=org)
    if request.method == "POST":
        require(Action.ORG_MANAGE, org)  # every member sees the page; only an admin may post, valid form or not
    if form.validate_on_submit():
        before = profile_of(org)
        changed = {f: getattr(form, f).data for f in PROFILE_FIELDS if getattr(org, f) != getattr(form, f).data}
        for field_name, value in changed.items():
            setattr(org, field_name, value)
        org.updated_at = utcnow()
        session = db.session()
        added, removed = _applicability_change(org, before, profile_of(org))
        session.add(org)
        record(
            session,
            user=current_user,
            organisation_id=org.id,
            action="organisation.profile",
            entity="organisation",
            entity_id=org.id,
            detail={"changed": sorted(changed)},
        )
        session.commit()
        flash(_("Profile saved."), "success")
        if added or removed:
            flash(
                _(
                    "In your draft assessment %(added)s and %(removed)s.",
                    added=ngettext("%(num)d question now applies", "%(num)d questions now apply", added),
                    removed=ngettext("%(num)d no longer applies", "%(num)d no longer apply", removed),
                ),
                "info",
            )
        return redirect(url_for("orgs.profile"))
    return render_template("orgs/profile.html", form=form, org=org, is_admin=_is_admin(org))


def _is_admin(org: Organisation) -> bool:
    return can(current_user, Action.ORG_MANAGE, org)


@bp.route("/members", methods=["GET", "POST"])
@policy(Action.ORG_VIEW)
def members():
    org = current_organisation()
    form = InviteForm()
    invitation = None
    session = db.session()
    if request.method == "POST":
        require(Action.ORG_MANAGE, org)  # every member sees the page; only an admin may post, valid form or not
    if form.validate_on_submit():
        try:
            user, token = accounts.invite_member(
                session,
                org,
                email=form.email.data,
                name=form.name.data,
                role=OrgRole(form.role.data),
                invited_by=current_user,
            )
        except accounts.AccountError as exc:
            form.email.errors.append(problem_text(exc))
        else:
            invitation = {"user": user, "url": url_for("auth.accept_invite", token=token, _external=True)}
            form = InviteForm(formdata=None)
    return _members_page(org, form, invitation=invitation)


def _member_status(user: User) -> str:
    if not user.active:
        return _("Deactivated")
    if user.password_hash:
        return _("Active")
    if user.invite_token_hash is None:
        return _("Invitation revoked")
    if accounts.invitation_expired(user):
        return _("Invitation expired")
    return _("Invited, not yet joined")


def _members_page(org: Organisation, form: InviteForm, *, invitation=None, reset=None):
    session = db.session()
    rows = session.exec(
        select(Membership, User)
        .join(User, User.id == Membership.user_id)
        .where(Membership.organisation_id == org.id)
        .order_by(User.name)
    ).all()
    return render_template(
        "orgs/members.html",
        org=org,
        rows=rows,
        statuses={user.id: _member_status(user) for _m, user in rows},
        form=form,
        invitation=invitation,
        reset=reset,
        is_admin=_is_admin(org),
    )


@bp.route("/members/<int:user_id>/<any(role, remove, reinvite, revoke, reset):step>", methods=["POST"])
@policy(Action.ORG_MANAGE)
def member_step(user_id: int, step: str):
    """An admin changes one member: their role, removal, a new invitation link or its
    revocation, or a password-reset link. A link is shown once, on the page that answers."""
    org = current_organisation(Action.ORG_MANAGE)
    session = db.session()
    found = accounts.membership_of(session, org, user_id)
    if found is None:
        abort(404)
    _membership, member = found
    form = MemberRoleForm() if step == "role" else MemberActionForm()
    if not form.validate_on_submit():
        abort(400)
    me = session.get(User, current_user.id)
    try:
        if step == "role":
            changed = accounts.change_member_role(session, org, member, OrgRole(form.role.data), by=me)
            if changed:
                flash(_("%(name)s is now %(role)s.", name=member.name, role=_role_label(form.role.data)), "success")
        elif step == "remove":
            released = accounts.remove_member(session, org, member, by=me)
            flash(_("%(name)s is no longer a member; their sessions have ended.", name=member.name), "success")
            if released:
                message = ngettext(
                    "%(num)d section they were asked to answer is nobody's now: give it to someone on the assessment's"
                    " Assign sections page.",
                    "%(num)d sections they were asked to answer are nobody's now: give them to someone on the"
                    " assessment's Assign sections page.",
                    released,
                )
                flash(message, "info")
        elif step == "revoke":
            accounts.revoke_invitation(session, org, member, by=me)
            flash(_("The invitation of %(name)s no longer works.", name=member.name), "success")
        elif step == "reinvite":
            token = accounts.reissue_invitation(
                session, org, member, by=me, valid_days=current_app.config["INVITE_VALID_DAYS"]
            )
            url = url_for("auth.accept_invite", token=token, _external=True)
            return _members_page(org, InviteForm(formdata=None), invitation={"user": member, "url": url})
        else:
            token = accounts.issue_member_reset(session, org, member, by=me)
            url = url_for("auth.reset_password", token=token, _external=True)
            return _members_page(org, InviteForm(formdata=None), reset={"user": member, "url": url})
    except accounts.AccountError as exc:
        session.rollback()
        flash(problem_text(exc), "error")
    return redirect(url_for("orgs.members"))


def _role_label(role: str) -> str:
    return _("an admin") if role == OrgRole.ADMIN else _("a contributor")

"""The one authoriser: every route declares an action, and :func:`can` decides it.

Route level: :func:`policy` marks a view with its action; a ``before_request`` hook refuses
any endpoint without one (fail closed) and checks the action for the signed-in user.
Object level: views load organisations and assessments through :func:`require`, which
answers 404 for anything the user may not see, so another company's ids reveal nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any, TypeVar

import sqlalchemy as sa
from flask import Flask, abort, g, redirect, request, url_for
from flask_login import current_user
from sqlmodel import Session, select

from dd_toolkit.records import notifications, revisions
from dd_toolkit.records.models import (
    ApiToken,
    Assessment,
    Membership,
    Notification,
    Organisation,
    OrgRole,
    PlatformRole,
    Recipient,
    User,
)
from dd_toolkit.web import db

F = TypeVar("F", bound=Callable[..., Any])

# Blueprints whose clients are programs that authenticate with an API token
# (``Authorization: Bearer``): a browser session does not apply there, and an unauthenticated
# request gets 401 rather than the sign-in page.
TOKEN_BLUEPRINTS = frozenset({"api"})
# The accounts that may hold API tokens; a token sees what its account sees.
TOKEN_ROLES = (PlatformRole.REGULATOR, PlatformRole.WORKING_GROUP)


class Action(StrEnum):
    PUBLIC = "public"  # anyone, signed in or not
    SIGNED_IN = "signed_in"  # any signed-in account
    COMPANY = "company"  # a member of some organisation
    ORG_VIEW = "org.view"
    ORG_MANAGE = "org.manage"  # profile and members: organisation admins
    ASSESSMENT_VIEW = "assessment.view"
    ASSESSMENT_EDIT = "assessment.edit"  # answer questions: any member
    ASSESSMENT_MANAGE = "assessment.manage"  # start, import, submit, new version: admins
    CONTENT_BROWSE = "content.browse"
    BENCHMARK_VIEW = "benchmark.view"  # anonymised aggregates: the Industry Working Group
    REVIEW = "review"  # submissions addressed to a regulator's jurisdictions
    API_TOKENS = "api.tokens"  # one's own API tokens: regulators and the working group
    NOTIFICATIONS = "notifications"  # one's own notifications: any signed-in account
    PLATFORM_ADMIN = "platform.admin"


def policy(action: Action) -> Callable[[F], F]:
    def mark(view: F) -> F:
        view._dd_policy = action  # type: ignore[attr-defined]
        return view

    return mark


# Built once, as every request runs it: building a statement and its cache key costs more than
# running it.
_USER_WITH_MEMBERSHIPS = (
    select(User, Membership, Organisation, notifications.UNREAD_OF_USER, revisions.SHARED)
    .outerjoin(Membership, Membership.user_id == User.id)
    .outerjoin(Organisation, Organisation.id == Membership.organisation_id)
    .where(User.id == sa.bindparam("user_id"))
)


def load_user(session: Session, user_id: int) -> User | None:
    """An account with its memberships and its unread notifications' count, in one query: every
    signed-in page needs them. The memberships' organisations come in the same query, so that
    the company pages' look-up of their organisation by id is answered from the session without
    another query; with them, their revisions and the shared one, which key the pages kept whole
    (:mod:`dd_toolkit.web.pages`)."""
    rows = session.exec(_USER_WITH_MEMBERSHIPS, params={"user_id": user_id}).all()
    if not rows:
        return None
    user = rows[0][0]
    user._dd_memberships = [row[1] for row in rows if row[1] is not None]  # type: ignore[attr-defined]
    # The session's identity map holds its objects weakly: the organisations stay in it only
    # while something refers to them.
    user._dd_organisations = [row[2] for row in rows if row[2] is not None]  # type: ignore[attr-defined]
    user._dd_unread = rows[0][3]  # type: ignore[attr-defined]
    user._dd_shared_revision = rows[0][4]  # type: ignore[attr-defined]
    return user


def memberships(user: User) -> list[Membership]:
    cache = getattr(user, "_dd_memberships", None)
    if cache is None:
        cache = list(db.session().exec(select(Membership).where(Membership.user_id == user.id)))
        user._dd_memberships = cache  # type: ignore[attr-defined]
    return cache


def role_in(user: User, organisation_id: int) -> str | None:
    for membership in memberships(user):
        if membership.organisation_id == organisation_id:
            return membership.role
    return None


def _org_id(target: Any) -> int | None:
    if isinstance(target, Organisation):
        return target.id
    if isinstance(target, Assessment):
        return target.organisation_id
    return None


def can(user: Any, action: Action, target: Any = None) -> bool:
    """Whether ``user`` may do ``action`` (on ``target``, for object-level actions)."""
    if action is Action.PUBLIC:
        return True
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if action in (Action.SIGNED_IN, Action.CONTENT_BROWSE):
        return True
    if action is Action.PLATFORM_ADMIN:
        return user.platform_role == PlatformRole.PLATFORM_ADMIN
    if action is Action.NOTIFICATIONS:
        return target is None or (isinstance(target, Notification) and target.user_id == user.id)
    if action is Action.BENCHMARK_VIEW:
        return user.platform_role == PlatformRole.WORKING_GROUP
    if action is Action.API_TOKENS:
        if user.platform_role not in TOKEN_ROLES:
            return False
        return target is None or (isinstance(target, ApiToken) and target.user_id == user.id)
    if action is Action.REVIEW:
        if user.platform_role != PlatformRole.REGULATOR:
            return False
        # A regulator sees a submission only through a recipient of their own jurisdiction.
        return target is None or (isinstance(target, Recipient) and target.jurisdiction in (user.jurisdictions or []))
    if action is Action.COMPANY:
        return bool(memberships(user))
    if target is None:
        # Route-level check of an object-level action: the user must at least be company
        # staff; the object check follows when the view loads the object.
        return bool(memberships(user))
    role = role_in(user, _org_id(target))
    if role is None:
        return False
    if action in (Action.ORG_VIEW, Action.ASSESSMENT_VIEW, Action.ASSESSMENT_EDIT):
        return True
    if action in (Action.ORG_MANAGE, Action.ASSESSMENT_MANAGE):
        return role == OrgRole.ADMIN
    return False


T = TypeVar("T")


def require(action: Action, target: T | None) -> T:
    """Return ``target`` if the current user may act on it; otherwise 404 (or 403 when the
    user can see the object but not do this to it)."""
    if target is None:
        abort(404)
    if not can(current_user, action, target):
        if isinstance(target, (Recipient, ApiToken, Notification)):
            abort(404)
        visible_action = Action.ORG_VIEW if isinstance(target, Organisation) else Action.ASSESSMENT_VIEW
        abort(403 if can(current_user, visible_action, target) else 404)
    return target


def init_app(app: Flask) -> None:
    @app.before_request
    def _enforce_policy():
        if request.endpoint is None:
            return None  # no such route: Flask answers 404
        if request.endpoint == "static" or request.endpoint.endswith(".static"):
            return None
        view = app.view_functions.get(request.endpoint)
        action = getattr(view, "_dd_policy", None)
        if action is None:
            app.logger.error("route %s has no authorisation policy", request.endpoint)
            abort(403)
        if can(current_user, action):
            return None
        if not current_user.is_authenticated:
            if request.blueprint in TOKEN_BLUEPRINTS:
                abort(401)
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        abort(403)


# The route-level actions the site navigation shows links for (templates/_site_header.html).
NAV_ACTIONS = (Action.COMPANY, Action.PLATFORM_ADMIN, Action.REVIEW, Action.API_TOKENS, Action.BENCHMARK_VIEW)


def navigation() -> dict[str, bool]:
    """What the current user may reach from the navigation, decided once per request."""
    user = current_user._get_current_object()
    key = user.get_id() if user.is_authenticated else None  # signing in or out mid-request changes it
    cached = g.get("_dd_navigation")
    if cached is None or cached[0] != key:
        cached = g._dd_navigation = (key, {str(action): can(user, action) for action in NAV_ACTIONS})
    return cached[1]

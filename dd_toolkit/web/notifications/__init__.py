"""Notifications in the app: the list with mark-as-read, the unread count in the navigation, and
the email settings (sent only when ``MAIL_SERVER`` is configured)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlsplit

from babel.lists import format_list
from flask import Flask, g
from flask_babel import force_locale, format_date, get_locale, gettext
from flask_login import current_user

from dd_toolkit.records import notifications
from dd_toolkit.records.review import STATUS_LABELS
from dd_toolkit.web import db
from dd_toolkit.web.context import current_bank

# The page each kind of notification links to: (endpoint, name of the id argument or None).
TARGETS: dict[str, tuple[str, str | None]] = {
    notifications.ENTITY_ASSESSMENT: ("assess.overview", "assessment_id"),
    notifications.ENTITY_ACTION_PLAN: ("outputs.action_plan_page", "assessment_id"),
    notifications.ENTITY_SECTION: ("assess.section", "assessment_id"),
    notifications.ENTITY_RECIPIENT: ("regulator.submission", "recipient_id"),
    notifications.ENTITY_MEMBERS: ("orgs.members", None),
    notifications.ENTITY_ACCOUNTS: ("admin.accounts_page", None),
    notifications.ENTITY_CONFIRMATIONS: ("auth.confirmations", None),
}


# The further arguments of a page taken from the notification's parameters: {argument: parameter}.
PARAM_ARGUMENTS: dict[str, dict[str, str]] = {notifications.ENTITY_SECTION: {"section_id": "section"}}


def target(entity: str, entity_id: int | None, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The endpoint and arguments of the page a notification links to (the list when it names
    none, or lacks a parameter the page needs). The page still goes through the authoriser."""
    endpoint, argument = TARGETS.get(entity, ("notifications.index", None))
    values = {argument: entity_id} if argument else {}
    values |= {name: params.get(parameter) for name, parameter in PARAM_ARGUMENTS.get(entity, {}).items()}
    if any(value is None or value == "" for value in values.values()):
        return "notifications.index", {}
    return endpoint, values


def _shown_params(params: dict[str, Any]) -> dict[str, Any]:
    """The message's parameters as a person reads them: names, not codes."""
    shown = dict(params)
    if "jurisdiction" in shown:
        shown["jurisdiction"] = current_bank().taxonomy.label("countries", shown["jurisdiction"])
    if "status" in shown:
        shown["status"] = gettext(STATUS_LABELS.get(shown["status"], shown["status"]))
    if "section" in shown:
        shown["section"] = _section_title(shown["section"])
    if "sections" in shown:
        titles = [_section_title(section_id) for section_id in shown["sections"]]
        shown["sections"] = format_list(titles, locale=get_locale())  # "A, B and C" as the language writes it
    if "due" in shown:
        try:
            shown["due"] = format_date(dt.date.fromisoformat(shown["due"]), format="long")
        except (TypeError, ValueError):
            pass
    return shown


def _section_title(section_id: str) -> str:
    found = current_bank().section(section_id)
    return found[1].title if found is not None else section_id


def title_of(kind: str) -> str:
    return gettext(notifications.TITLES.get(kind, "Notification"))


def text_of(kind: str, params: dict[str, Any]) -> str:
    """The translated message of a notification, filled in."""
    message = notifications.MESSAGES.get(kind)
    if message is None:
        return title_of(kind)
    try:
        return gettext(message, **_shown_params(params))
    except (KeyError, TypeError, ValueError):
        return title_of(kind)


def unread_count() -> int:
    """The signed-in account's unread notifications, counted once per request."""
    user = current_user
    if not user.is_authenticated:
        return 0
    cached = g.get("_dd_unread")
    if cached is None or cached[0] != user.id:
        # Read with the account (web/authz.py), unless this request has changed notifications since.
        count = getattr(user, "_dd_unread", None)
        if count is None or notifications.changed_in(db.session()):
            count = notifications.unread_count(db.session(), user.id)
        cached = g._dd_unread = (user.id, count)
    return cached[1]


def _composer(app: Flask):
    """Subject and body of a notification email, in its reader's language (the account's, else
    the app's default), with a link to the page when ``PUBLIC_URL`` says where the toolkit is
    served."""
    public = urlsplit(app.config.get("PUBLIC_URL") or "")

    def compose(item: dict[str, Any]) -> tuple[str, str]:
        language = item.get("language") or app.config["BABEL_DEFAULT_LOCALE"]
        with app.app_context(), force_locale(language):
            subject = title_of(item["kind"])
            lines = [gettext("Hello %(name)s,", name=item["name"]), "", text_of(item["kind"], item["params"]), ""]
            if public.scheme and public.netloc:
                endpoint, values = target(item["entity"], item["entity_id"], item["params"])
                adapter = app.url_map.bind(public.netloc, script_name=public.path or "/", url_scheme=public.scheme)
                lines.append(gettext("Open it: %(url)s", url=adapter.build(endpoint, values, force_external=True)))
            else:
                lines.append(gettext("Sign in to the child-rights due diligence toolkit to see it."))
            lines += ["", gettext("You receive this email because your account has notifications in the toolkit.")]
            return gettext("Child-rights DD toolkit: %(title)s", title=subject), "\n".join(lines)

    return compose


def init_app(app: Flask) -> None:
    if app.config.get("MAIL_SERVER"):
        notifications.configure_mail(
            app.extensions["dd_engine"],
            notifications.MailSettings(
                server=app.config["MAIL_SERVER"],
                port=int(app.config.get("MAIL_PORT") or 25),
                sender=app.config.get("MAIL_FROM") or "dd-toolkit@localhost",
                username=app.config.get("MAIL_USERNAME") or None,
                password=app.config.get("MAIL_PASSWORD") or None,
                use_tls=bool(app.config.get("MAIL_USE_TLS")),
                timeout=float(app.config.get("MAIL_TIMEOUT") or 10),
                compose=_composer(app),
            ),
        )

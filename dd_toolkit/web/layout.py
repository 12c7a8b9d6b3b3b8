"""The site header every page starts with (navigation, account, language switch), rendered once
for each thing it can show and kept in the app's fragment store (web/fragments.py).

It costs a page a third of its rendering otherwise. Its key holds everything it shows: the
locale, the links the reader may follow and the one marked as the current page (by endpoint),
the reader's name and unread count, and whether the page was a GET (which adds the page to come
back to after switching language). The request's CSRF token and that page go into slots.
"""

from __future__ import annotations

from flask import Flask, render_template, request
from flask_babel import get_locale
from flask_login import current_user
from markupsafe import Markup, escape

from dd_toolkit.web import fragments
from dd_toolkit.web.authz import navigation
from dd_toolkit.web.notifications import unread_count

NEXT_SLOT = Markup("<!--dd:next-->")


def site_header() -> Markup:
    signed_in = current_user.is_authenticated
    reader = (tuple(navigation().items()), current_user.name, unread_count()) if signed_in else None
    is_get = request.method == "GET"
    key = ("site-header", str(get_locale()), request.endpoint, is_get, reader)

    def render() -> str:
        return render_template(
            "_site_header.html",
            may=dict(reader[0]) if reader else {},
            user_name=reader[1] if reader else "",
            unread=reader[2] if reader else 0,
            csrf_slot=fragments.CSRF_SLOT,
            next_slot=NEXT_SLOT,
        )

    header = fragments.store().get_or_render(key, render, csrf=True)
    if is_get:
        back = request.full_path if request.query_string else request.path
        header = Markup(str.replace(header, NEXT_SLOT, escape(back)))  # Markup's own escapes again, slowly
    return header


def init_app(app: Flask) -> None:
    app.jinja_env.globals["site_header"] = site_header

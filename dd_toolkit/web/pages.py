"""Pages kept whole, under the revisions of what they show.

A company page (the home page, a section of answers, an assessment's results, action plan,
transparency draft, peers) shows the rows of the reader's organisation, the shared figures, and
the reader's own account; a regulator's review page shows the rows of the organisation
reviewed; the regulator's inbox and indicator report and the working group's pages show the
shared figures. The database raises an organisation's revision with every
write to a row of it, and the shared revision with every write to the shared figures
(:mod:`dd_toolkit.records.revisions`); the account's query reads the reader's organisations'
revisions and the shared one on every request, a review page reads its organisation's with one
more. So a page rendered once is served again, without reading or rendering anything else, for
as long as these are unchanged:

- the reader (account, session generation, name, role, jurisdictions) and the request (path and
  query);
- the revisions of the organisations the page shows, and the shared revision;
- the reader's unread notifications, the language, the day, the installed content.

A page that would show a message (a flash) is always rendered. The CSRF token is the request's
own: the page is kept with a slot where the token goes. Whether the reader may see the page was
decided by the view when it was rendered; what decides it (the account, its memberships and
jurisdictions, the rows of the organisation shown) is in the key, so it holds for every request
served from the store.

Each worker keeps its own pages, bounded in bytes, least recently used out first; every worker
reads the same revisions, so none serves a page another has seen change.
"""

from __future__ import annotations

import datetime as dt
import functools
import secrets
from collections.abc import Callable, Hashable

from flask import Flask, current_app, g, request, session
from flask.globals import request_ctx
from flask_babel import get_locale
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from dd_toolkit.records import revisions
from dd_toolkit.web import db
from dd_toolkit.web.context import current_content
from dd_toolkit.web.fragments import SizedStore

_EXTENSION = "dd_pages"
# Flask-WTF keeps the request's signed token on ``g`` under its field name and returns it from
# there: a page rendered for the store gets this marker instead, random per worker so that no
# text can name it, and each request puts its own token in its place.
_CSRF_FIELD = "csrf_token"
_CSRF_MARKER = "ddcsrf" + secrets.token_hex(16)


def _size(pieces: tuple[str, ...]) -> int:
    # A page is kept as the pieces around its CSRF token slots.
    return sum(len(piece) for piece in pieces)


def init_app(app: Flask) -> None:
    app.extensions[_EXTENSION] = SizedStore(int(app.config["PAGE_CACHE_BYTES"]), _size)


def store() -> SizedStore:
    return current_app.extensions[_EXTENSION]


def _key(organisations: tuple[tuple[int, int], ...] | None) -> Hashable | None:
    """The key of this request's page showing ``organisations`` (id and revision each), or None
    when it must be rendered."""
    user = current_user._get_current_object()
    if organisations is None or not user.is_authenticated or session.get("_flashes"):
        return None
    shared = getattr(user, "_dd_shared_revision", None)
    if shared is None or not store().enabled:
        return None
    return (
        request.full_path,
        user.get_id(),
        user.name,
        user.platform_role,
        tuple(user.jurisdictions or ()),
        organisations,
        shared,
        getattr(user, "_dd_unread", None),
        str(get_locale()),
        dt.date.today(),
        id(current_content()),
    )


def readers_organisations(**_view_args) -> tuple[tuple[int, int], ...] | None:
    """A company page shows the reader's organisations (read with the account); None for a
    reader of none."""
    organisations = getattr(current_user, "_dd_organisations", None)
    if not organisations:
        return None
    return tuple(sorted((organisation.id, organisation.revision) for organisation in organisations))


def reviewed_organisation(recipient_id: int, **_view_args) -> tuple[tuple[int, int], ...] | None:
    """A regulator's review page shows the organisation reviewed; None when there is no such review."""
    found = revisions.of_recipient(db.session(), recipient_id)
    return None if found is None else (found,)


def shared_figures_only(**_view_args) -> tuple[tuple[int, int], ...]:
    """A page of the stored figures alone shows no organisation's own rows."""
    return ()


OwnerOf = Callable[..., "tuple[tuple[int, int], ...] | None"]


def kept_page(view: Callable | None = None, *, shows: OwnerOf = readers_organisations) -> Callable:
    """Serve a page from the store while what it shows is unchanged (see above); the view renders
    it otherwise. ``shows`` gives, from the view's arguments, the organisations the page shows
    (the reader's by default). Only a page the view rendered with 200 (not a redirect, a file or
    an error) is kept."""
    if view is None:
        return functools.partial(kept_page, shows=shows)

    @functools.wraps(view)
    def serve(*args, **kwargs):
        key = _key(shows(**kwargs)) if request.method == "GET" else None
        if key is None:
            return view(*args, **kwargs)
        pieces = store().get(key)
        if pieces is None:
            setattr(g, _CSRF_FIELD, _CSRF_MARKER)
            try:
                rendered = view(*args, **kwargs)
            finally:
                g.pop(_CSRF_FIELD, None)
            body, rest = (rendered[0], rendered[1:]) if isinstance(rendered, tuple) else (rendered, ())
            if not isinstance(body, str):
                return rendered  # a redirect or a file: not kept
            pieces = tuple(body.split(_CSRF_MARKER))
            if rest not in ((), (200,)) or request_ctx.flashes:
                # A refusal or a conflict, or a page that showed a message: not kept.
                body = generate_csrf().join(pieces)
                return (body, *rest) if rest else body
            store().put(key, pieces)
        if len(pieces) == 1:
            return pieces[0]
        return generate_csrf().join(pieces)

    return serve

"""Limits on what a request may carry, in one place: bad input is refused with a message (a 400
or a 404), never a server error.

- Every ``<int:...>`` in a URL is a database id or a year: a number above 2^31 - 1 (the
  largest value of the integer id columns, on PostgreSQL as on SQLite) matches no route, so
  it is a 404.
- No text may hold a NUL character: PostgreSQL cannot store one, and no person types one.
- A form's hidden version number is digits only (:data:`VERSION_VALIDATORS`).
"""

from __future__ import annotations

import re

from flask import Flask, abort, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.routing import IntegerConverter
from wtforms.validators import Regexp

MAX_ID = 2**31 - 1
_WHOLE = re.compile(r"-?[0-9]{1,18}")
MAX_CYCLE = 9999  # a year
MAX_PAGE = 1_000_000  # a page of a list, a release number


class BoundedIntegerConverter(IntegerConverter):
    """``<int:...>`` up to :data:`MAX_ID`: a larger number matches no route (404)."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def has_nul(value: object) -> bool:
    return isinstance(value, str) and "\x00" in value


def _refuse_nul() -> None:
    for values in (request.args, request.form):
        for key, value in values.items(multi=True):
            if has_nul(key) or has_nul(value):
                abort(400, description=_("The request holds a NUL character, which no text may contain."))


def int_arg(name: str, default: int | None = None, *, minimum: int = 0, maximum: int = MAX_ID) -> int | None:
    """A whole-number query parameter within bounds, else ``default`` (a page never fails on one)."""
    raw = request.args.get(name, "").strip()
    if not raw:
        return default
    if not _WHOLE.fullmatch(raw):
        return default
    number = int(raw)
    return number if minimum <= number <= maximum else default


# The hidden version a form was loaded at: digits, as many as a database integer holds.
VERSION_VALIDATORS = [Regexp(r"^[0-9]{1,18}$", message=_l("This form is out of date: reload the page and try again."))]


def init_app(app: Flask) -> None:
    """Before any blueprint: the converter is looked up as each route is added."""
    app.url_map.converters["int"] = BoundedIntegerConverter
    app.before_request(_refuse_nul)

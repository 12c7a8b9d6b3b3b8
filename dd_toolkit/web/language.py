"""The interface language: chosen from the account's preference, else the visitor's own choice
(kept in a cookie, so the sign-in page has one too), else the browser's Accept-Language, else
English. The switcher on every page posts here."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from flask import Blueprint, Flask, current_app, g, has_request_context, redirect, request
from flask_login import current_user
from jinja2 import pass_context

from dd_toolkit.engine.content import fallbacks, reset_content_language, set_content_language
from dd_toolkit.engine.content.languages import LanguageStatus, load_languages
from dd_toolkit.engine.content.models import DEFAULT_LANGUAGE, reading_language
from dd_toolkit.records import accounts
from dd_toolkit.web import db
from dd_toolkit.web.authz import Action, policy

bp = Blueprint("language", __name__)

COOKIE = "dd_language"
COOKIE_DAYS = 365

# Each language named in itself, as the switcher lists them.
NAMES = {"en": "English", "id": "Bahasa Indonesia", "th": "ไทย", "vi": "Tiếng Việt"}


def languages() -> tuple[str, ...]:
    return tuple(current_app.config["LANGUAGES"])


def select_locale() -> str:
    """The language of this request (Flask-Babel's locale selector), decided once per request;
    outside a request (an email, a command), the default."""
    if not has_request_context():
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    try:
        return g._dd_language
    except AttributeError:
        pass
    offered = languages()
    chosen = None
    if current_user.is_authenticated:
        chosen = getattr(current_user, "locale", None)
    if chosen not in offered:
        chosen = request.cookies.get(COOKIE)
    if chosen not in offered:
        chosen = request.accept_languages.best_match(offered, default=current_app.config["BABEL_DEFAULT_LOCALE"])
    g._dd_language = chosen
    return chosen


def _safe_next(target: str | None) -> str:
    """Back to the page the switcher was on: a path on this site only."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


@bp.route("/language", methods=["POST"])
@policy(Action.PUBLIC)
def choose():
    chosen = request.form.get("language", "")
    response = redirect(_safe_next(request.form.get("next")))
    if chosen not in languages():
        return response  # an unknown choice changes nothing
    response.set_cookie(
        COOKIE,
        chosen,
        max_age=COOKIE_DAYS * 24 * 3600,
        secure=current_app.config["SESSION_COOKIE_SECURE"],
        httponly=True,
        samesite="Lax",
    )
    if current_user.is_authenticated:
        accounts.set_language(db.session(), current_user, chosen)
    return response


def _read_content_in_language() -> None:
    if request.endpoint != "static":
        set_content_language(select_locale())


def content_translation() -> LanguageStatus | None:
    """The review status of the content in this request's language (None for English)."""
    return current_app.extensions["dd_languages"].get(select_locale())


def translated_output(value):
    """Every value a page prints passes here (Jinja's ``finalize``): a plain English text of the
    content, such as a band, a cap or an indicator label frozen in a submitted score card, is
    shown in the reader's language when the content's catalogues translate it."""
    if type(value) is str and value:
        language = reading_language()
        if language != DEFAULT_LANGUAGE:
            return current_app.extensions["dd_bank"].catalogues.lookup(value, language) or value
    return value


def _with_content_arguments(env) -> None:
    """A page's sentences take the same translated content texts as arguments: "capped at
    %(band)s" names the band in the reader's language (after Flask-Babel installed gettext)."""
    gettext, ngettext = env.globals["gettext"], env.globals["ngettext"]

    @pass_context
    def translated_gettext(__context, __string, **variables):
        return gettext(__context, __string, **{k: translated_output(v) for k, v in variables.items()})

    @pass_context
    def translated_ngettext(__context, __singular, __plural, __num, **variables):
        variables = {k: translated_output(v) for k, v in variables.items()}
        return ngettext(__context, __singular, __plural, __num, **variables)

    env.globals.update(gettext=translated_gettext, _=translated_gettext, ngettext=translated_ngettext)


def init_app(app: Flask) -> None:
    app.extensions["dd_languages"] = load_languages(Path(app.config["CONTENT_DIR"]) / "questionnaires")
    app.register_blueprint(bp)
    app.before_request(_read_content_in_language)
    app.teardown_request(lambda _error: reset_content_language())
    app.jinja_env.globals["language_names"] = NAMES
    app.jinja_env.globals["current_language"] = select_locale
    app.jinja_env.globals["content_translation"] = content_translation
    app.jinja_env.globals["untranslated_count"] = lambda: len(fallbacks())
    app.jinja_env.finalize = translated_output
    _with_content_arguments(app.jinja_env)

"""The interface language: chosen from the account's preference, else the visitor's own choice
(kept in a cookie, so the sign-in page has one too), else the browser's Accept-Language, else
English. The switcher on every page posts here."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from flask import Blueprint, Flask, current_app, g, has_request_context, redirect, request
from flask_babel import get_translations
from flask_login import current_user
from jinja2 import pass_context
from markupsafe import Markup

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


def _request_translations():
    """The request's catalog, looked up once per request: Flask-Babel resolves the domain and
    the locale again at every call, and a page makes a hundred of them."""
    try:
        return g._dd_translations
    except AttributeError:
        translations = g._dd_translations = get_translations()
        return translations
    except RuntimeError:  # outside an app context: Flask-Babel's null catalog
        return get_translations()


def _formatted(context, text: str, variables: dict) -> str:
    # As Jinja's "newstyle" gettext: the text is escaped markup when the template autoescapes,
    # and always a format string ("%%" is one "%"), so that every message reads the same way.
    if context.eval_ctx.autoescape:
        text = Markup(text)
    if not variables and "%" not in text:
        return text  # what the format would give, without building it (most of a page's texts)
    return text % {k: translated_output(v) for k, v in variables.items()}


def _install_gettext(env) -> None:
    """The templates' gettext, ngettext, pgettext and npgettext, with Jinja's newstyle rules, in
    one call each: a page makes dozens of them. Their arguments may be content texts, such as a
    band in "capped at %(band)s": those are shown in the reader's language too."""

    @pass_context
    def gettext(__context, __string, **variables):
        return _formatted(__context, _request_translations().ugettext(__string), variables)

    @pass_context
    def ngettext(__context, __singular, __plural, __num, **variables):
        variables.setdefault("num", __num)
        text = _request_translations().ungettext(__singular, __plural, __num)
        return _formatted(__context, text, variables)

    @pass_context
    def pgettext(__context, __message_context, __string, **variables):
        return _formatted(__context, _request_translations().upgettext(__message_context, __string), variables)

    @pass_context
    def npgettext(__context, __message_context, __singular, __plural, __num, **variables):
        variables.setdefault("num", __num)
        text = _request_translations().unpgettext(__message_context, __singular, __plural, __num)
        return _formatted(__context, text, variables)

    env.newstyle_gettext = True  # what {% trans %} compiles to: calls of these, with keyword arguments
    env.globals.update(gettext=gettext, _=gettext, ngettext=ngettext, pgettext=pgettext, npgettext=npgettext)


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
    _install_gettext(app.jinja_env)

"""Configuration. Environment variables override the defaults; tests pass a mapping."""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

from dd_toolkit.paths import bundled_root


def _switch(variable: str) -> bool | None:
    """An on/off environment variable: "1", "0", or unset (None: see :func:`on_unless_testing`)."""
    return {"1": True, "0": False}.get(os.environ.get(variable, ""))


class Config:
    SECRET_KEY: str | None = os.environ.get("SECRET_KEY")
    # Earlier keys, comma-separated, still accepted on session cookies while a routine rotation
    # settles (README, Security). Leave empty after a leak: every old session must end.
    SECRET_KEY_FALLBACKS = [key for key in os.environ.get("DD_SECRET_KEY_FALLBACKS", "").split(",") if key.strip()]
    DATABASE_URL: str | None = os.environ.get("DATABASE_URL")
    # A folder holding questionnaires/, scoring/ and reports/ (an installation's own content).
    CONTENT_DIR: str = os.environ.get("DD_CONTENT_DIR") or str(bundled_root())
    # Which scoring methodology (by id) new scores use; its latest version is taken.
    METHODOLOGY: str = os.environ.get("DD_METHODOLOGY") or "standard"
    BABEL_DEFAULT_LOCALE = "en"
    # The interface languages (a catalogue each in dd_toolkit/web/translations, but English).
    LANGUAGES = ("en", "id", "th", "vi")
    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = os.environ.get("SESSION_COOKIE_SECURE", "0") == "1"
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE
    REMEMBER_COOKIE_DURATION = timedelta(days=int(os.environ.get("DD_REMEMBER_DAYS") or 14))
    MAX_CONTENT_LENGTH = 6 * 1024 * 1024
    INVITE_VALID_DAYS = 14
    RESET_VALID_MINUTES = 60
    # Abuse limits (Flask-Limiter). The counters live in the toolkit's database by default, so
    # every worker shares them; a deployment with Redis may name it instead (redis://host:6379).
    RATELIMIT_ENABLED = os.environ.get("DD_RATELIMIT_ENABLED", "1") == "1"
    RATELIMIT_STORAGE_URI: str = os.environ.get("RATELIMIT_STORAGE_URI") or "dd-database://"
    RATELIMIT_HEADERS_ENABLED = True  # X-RateLimit-* and, on 429, Retry-After
    # Sign-in: failed attempts per account and per address; a success does not count.
    RATELIMIT_LOGIN_ACCOUNT = os.environ.get("DD_RATELIMIT_LOGIN_ACCOUNT") or "5 per 15 minutes"
    RATELIMIT_LOGIN_ADDRESS = os.environ.get("DD_RATELIMIT_LOGIN_ADDRESS") or "30 per 15 minutes"
    RATELIMIT_REGISTER = os.environ.get("DD_RATELIMIT_REGISTER") or "10 per hour"
    RATELIMIT_LINKS = os.environ.get("DD_RATELIMIT_LINKS") or "20 per hour"  # invitation and reset links
    RATELIMIT_API = os.environ.get("DD_RATELIMIT_API") or "600 per minute"
    # Response headers (dd_toolkit/web/security.py). Pages load scripts and styles from /static
    # only: no inline script, no inline style, no framing, forms post to this site only.
    CONTENT_SECURITY_POLICY = os.environ.get("DD_CONTENT_SECURITY_POLICY") or (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
    # "same-origin", not "no-referrer": Flask-WTF checks the Referer of form posts over HTTPS.
    REFERRER_POLICY = os.environ.get("DD_REFERRER_POLICY") or "same-origin"
    # Strict-Transport-Security is sent only when the cookies are Secure (SESSION_COOKIE_SECURE=1),
    # that is when the site is served over HTTPS; 0 turns it off.
    HSTS_SECONDS = int(os.environ.get("DD_HSTS_SECONDS") or 365 * 24 * 3600)
    HSTS_INCLUDE_SUBDOMAINS = os.environ.get("DD_HSTS_INCLUDE_SUBDOMAINS", "0") == "1"
    # Behind a reverse proxy: how many proxies in front of the app set X-Forwarded-For and
    # X-Forwarded-Proto (werkzeug's ProxyFix). 0, the default, trusts no forwarded header, so a
    # client cannot choose the address the abuse limits count against.
    PROXY_FIX_COUNT = int(os.environ.get("DD_PROXY_COUNT") or 0)
    PROXY_FIX_HOST = os.environ.get("DD_PROXY_HOST", "0") == "1"  # trust X-Forwarded-Host/-Port/-Prefix too
    # An assessment's PDFs are rendered in the worker once the response to a change, or to a page
    # of its documents, is sent (unset: on, except under TESTING); DD_PRERENDER_DOCUMENTS=0 leaves
    # them to their first download.
    PRERENDER_DOCUMENTS = _switch("DD_PRERENDER_DOCUMENTS")
    # Rendered PDFs are kept in the instance folder (document-cache/) up to this many megabytes;
    # past it, the PDFs read longest ago are removed.
    DOCUMENT_CACHE_BYTES = int(float(os.environ.get("DD_DOCUMENT_CACHE_MB") or 1024) * 1024 * 1024)
    # PDFs are rendered in a child process of each worker (started at its first rendering), so a
    # rendering does not hold the worker's interpreter lock while it serves pages (unset: on,
    # except under TESTING); DD_PDF_PROCESS=0 renders in the worker.
    PDF_PROCESS = _switch("DD_PDF_PROCESS")
    # The working group's next release, when a submission makes one due, is built right after the
    # submitter's response, by a process of its own (unset: on, except under TESTING, where it is
    # built in the worker before the response).
    PUBLISH_AFTER_RESPONSE = _switch("DD_PUBLISH_AFTER_RESPONSE")
    # What the app holds from its start (the content, its catalogues, the modules) is moved out of
    # the garbage collector's full collections (gc.freeze): each one walked it all, a pause of
    # a tenth of a second every few hundred requests. Unset: on, except under TESTING (a test
    # run makes many apps, which must be freed) and for the dd-toolkit commands.
    FREEZE_STARTUP_OBJECTS = _switch("DD_FREEZE_STARTUP_OBJECTS")
    # Each worker keeps up to this many megabytes of whole pages, served again while the revisions
    # of what they show are unchanged (web/pages.py); 0 renders every page afresh.
    PAGE_CACHE_BYTES = int(float(os.environ.get("DD_PAGE_CACHE_MB") or 32) * 1024 * 1024)
    # Notification emails (off by default): sent through this SMTP server when it is set.
    MAIL_SERVER: str | None = os.environ.get("MAIL_SERVER") or None
    MAIL_PORT = int(os.environ.get("MAIL_PORT") or 25)
    MAIL_FROM = os.environ.get("MAIL_FROM") or "dd-toolkit@localhost"
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME") or None
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD") or None
    MAIL_USE_TLS = os.environ.get("MAIL_USE_TLS", "0") == "1"  # STARTTLS
    MAIL_TIMEOUT = float(os.environ.get("MAIL_TIMEOUT") or 10)
    # Where the toolkit is served (https://dd.example.org), for the links in emails; without it an
    # email asks the reader to sign in instead.
    PUBLIC_URL: str | None = os.environ.get("DD_PUBLIC_URL") or None


def instance_secret_key(instance_path: str) -> str:
    """A persistent secret key kept in the instance folder, created on first use."""
    path = Path(instance_path) / "secret_key"
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    key = secrets.token_hex(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(key, encoding="utf-8")
    return key


def default_database_url(instance_path: str) -> str:
    return f"sqlite:///{Path(instance_path) / 'dd_toolkit.sqlite'}"


def on_unless_testing(app, name: str) -> bool:
    """A switch of the work a server does on its own (rendering ahead, rendering in a child
    process, publishing after the response, freezing start-up objects): its setting when set,
    else on, except under ``TESTING``, where tests ask for it."""
    setting = app.config.get(name)
    return (not app.testing) if setting is None else bool(setting)

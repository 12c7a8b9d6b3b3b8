"""Abuse limits (Flask-Limiter): sign-in per account and per address, registration, invitation
and password-reset links, and the API. A limited request gets 429 with ``Retry-After``.

The counters are shared by every worker: by default they live in the toolkit's database
(:mod:`dd_toolkit.records.ratelimit`); ``RATELIMIT_STORAGE_URI`` may name Redis instead. The
limits are set in :class:`dd_toolkit.web.config.Config`.
"""

from __future__ import annotations

from flask import Flask, Response, current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

import dd_toolkit.records.ratelimit  # noqa: F401  (registers the dd-database:// storage)
from dd_toolkit.records.accounts import normalise_email

limiter = Limiter(key_func=get_remote_address)


def _config(name: str):
    return lambda: current_app.config[name]


def _engine():
    return current_app.extensions["dd_engine"]


def _failed_sign_in(response: Response) -> bool:
    # A successful sign-in redirects; a refused one shows the form again.
    return response.status_code != 302


def _account_key() -> str:
    return "account:" + normalise_email(request.form.get("email", ""))[:254]


login_by_address = limiter.limit(
    _config("RATELIMIT_LOGIN_ADDRESS"), methods=["POST"], deduct_when=_failed_sign_in, scope="login-address"
)
login_by_account = limiter.limit(
    _config("RATELIMIT_LOGIN_ACCOUNT"),
    key_func=_account_key,
    methods=["POST"],
    deduct_when=_failed_sign_in,
    scope="login-account",
)
registration = limiter.limit(_config("RATELIMIT_REGISTER"), methods=["POST"], scope="register")
# One budget per address across the invitation and reset links, and one across the whole API.
links = limiter.shared_limit(_config("RATELIMIT_LINKS"), scope="links")
api = limiter.shared_limit(_config("RATELIMIT_API"), scope="api")


def init_app(app: Flask) -> None:
    if app.config["RATELIMIT_STORAGE_URI"].startswith("dd-database://"):
        app.config["RATELIMIT_STORAGE_OPTIONS"] = {"engine": _engine}
    limiter.init_app(app)

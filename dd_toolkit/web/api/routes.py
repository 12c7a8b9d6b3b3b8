"""The read-only JSON API (``/api/v1``) and the page where a regulator manages API tokens.

Every view declares its action for the one authoriser (:mod:`dd_toolkit.authz`); the API is
answered in JSON throughout, errors included, and authenticates only with bearer tokens
(see :mod:`dd_toolkit.api.tokens`).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask.sessions import SecureCookieSessionInterface
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from werkzeug.exceptions import HTTPException, InternalServerError
from wtforms import IntegerField, StringField, SubmitField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from dd_toolkit.engine import disclosure
from dd_toolkit.engine.indicators import indicator_rows, report_notes
from dd_toolkit.records import aggregates, releases
from dd_toolkit.records.models import ApiToken, Assessment, Recipient, ReviewStatus, Submission
from dd_toolkit.records.review import STATUS_LABELS, InboxRow, inbox, integrity_ok
from dd_toolkit.records.submissions import record_of
from dd_toolkit.web import db
from dd_toolkit.web.api import tokens
from dd_toolkit.web.api.openapi import COUNTRY, MAX_CYCLE, MAX_PAGE, MIN_CYCLE, PER_PAGE, document
from dd_toolkit.web.authz import Action, can, policy, require
from dd_toolkit.web.context import current_content, current_methodology
from dd_toolkit.web.forms import Form
from dd_toolkit.web.problems import problem_text

bp = Blueprint("api", __name__, url_prefix="/api/v1")
tokens_bp = Blueprint("api_tokens", __name__, url_prefix="/api")


# -- the JSON API ------------------------------------------------------------------------------

MESSAGES = {
    401: "Send a valid API token in the header: Authorization: Bearer <token>.",
    403: "This token's account may not read this: a regulator's token reads submissions and indicators, "
    "a working-group token the benchmark.",
    404: "Not found.",
    405: "This method is not allowed here; the Allow header names those that are.",
    429: "Too many requests: try again after the number of seconds in the Retry-After header.",
    500: "The server could not answer this request.",
}
# Statuses whose own description is the message: what exactly was wrong with the request.
OWN_DESCRIPTION = (400,)


def is_api_request() -> bool:
    """Whether the request is for the JSON API, matched to a route or not (an unknown API path, an
    undeclared method): every error there is answered in JSON."""
    return request.path == bp.url_prefix or request.path.startswith(bp.url_prefix + "/")


def error_response(exc: Exception):
    """The documented error shape (``Error`` in the OpenAPI document) for any HTTP error."""
    if not isinstance(exc, HTTPException):
        exc = InternalServerError(original_exception=exc)
    code = exc.code or 500
    message = exc.description if code in OWN_DESCRIPTION else MESSAGES.get(code, exc.description)
    response = jsonify({"error": {"status": code, "title": exc.name, "message": str(message)}})
    response.status_code = code
    # Allow (405), Retry-After (429) and the like, but not the HTML content type.
    for name, value in exc.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    if code == 401:
        challenge = 'Bearer realm="dd-toolkit"'
        if tokens.bearer_token(request):
            challenge += ', error="invalid_token"'
        response.headers["WWW-Authenticate"] = challenge
    response.headers["Cache-Control"] = "no-store"
    return response


class SessionlessApi(SecureCookieSessionInterface):
    """The API authenticates with bearer tokens only, so it neither reads nor writes the browser's
    session cookie. Were it to read one, a client that carries a session (a browser that has opened
    any page, a program that keeps cookies) would be refused with its valid token: Flask-Login's
    strong session protection treats a session without its sign-in identifier as stolen, and then
    never asks for the token."""

    def open_session(self, app, request):
        if request.path == bp.url_prefix or request.path.startswith(bp.url_prefix + "/"):
            return self.make_null_session(app)
        return super().open_session(app, request)


# The application's HTML error pages are registered by status code, which Flask prefers to a
# handler for HTTPException as such: the API registers its own for the same codes. An unknown path
# or an undeclared method under the API matches no route, so no blueprint: the application's own
# handlers answer those through :func:`error_response` (see ``dd_toolkit.web._error_page``).
for _code in (400, 401, 403, 404, 405, 409, 413, 429, 500):
    bp.register_error_handler(_code, error_response)
bp.register_error_handler(HTTPException, error_response)


@bp.after_request
def _no_store(response):
    # Submissions are confidential: no shared cache keeps them.
    response.headers["Cache-Control"] = "no-store"
    return response


def _bad_request(message: str):
    abort(400, description=message)


_WHOLE_NUMBER = re.compile(r"-?[0-9]{1,19}")


def _int_arg(name: str, *, required: bool = False, minimum: int, maximum: int) -> int | None:
    """A whole-number query parameter within the bounds the OpenAPI document gives; anything else,
    an empty value included, is a 400 in the documented shape."""
    if name not in request.args:
        if required:
            _bad_request(f"The query parameter '{name}' is required.")
        return None
    raw = request.args[name]
    if not _WHOLE_NUMBER.fullmatch(raw) or not minimum <= int(raw) <= maximum:
        _bad_request(f"The query parameter '{name}' must be a whole number from {minimum} to {maximum}.")
    return int(raw)


def _cycle_arg(*, required: bool = False) -> int | None:
    return _int_arg("cycle", required=required, minimum=MIN_CYCLE, maximum=MAX_CYCLE)


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # stored in UTC; SQLite returns it naive
    return moment.isoformat()


def _summary(row: InboxRow) -> dict[str, Any]:
    recipient, submission, assessment = row.recipient, row.submission, row.assessment
    return {
        "id": recipient.id,
        "jurisdiction": recipient.jurisdiction,
        "status": recipient.status,
        "status_label": STATUS_LABELS.get(recipient.status, recipient.status),
        "previous_id": recipient.previous_id,
        "organisation_name": row.organisation_name,
        "cycle": assessment.cycle,
        "version": assessment.version,
        "submitted_at": _iso(submission.submitted_at),
        "sha256": submission.sha256,
        "methodology": submission.methodology,
        "verified": row.record.intact if row.record is not None else False,
        "links": {
            "self": url_for("api.submission", recipient_id=recipient.id),
            "html": url_for("regulator.submission", recipient_id=recipient.id),
        },
    }


@bp.get("/openapi.json")
@policy(Action.PUBLIC)
def openapi():
    return jsonify(document())


@bp.get("/submissions")
@policy(Action.REVIEW)
def submissions():
    status = request.args.get("status")
    if status is not None and status not in set(ReviewStatus):
        _bad_request("The query parameter 'status' must be one of: " + ", ".join(s.value for s in ReviewStatus) + ".")
    cycle = _cycle_arg()
    page = _int_arg("page", minimum=1, maximum=MAX_PAGE) or 1
    result = inbox(
        db.session(), list(current_user.jurisdictions or []), status=status, cycle=cycle, page=page, per_page=PER_PAGE
    )
    items = [_summary(row) for row in result.rows if can(current_user, Action.REVIEW, row.recipient)]
    return jsonify({"items": items, "count": len(items), "total": result.total, "page": page, "pages": result.pages})


@bp.get("/submissions/<int:recipient_id>")
@policy(Action.REVIEW)
def submission(recipient_id: int):
    session = db.session()
    recipient = require(Action.REVIEW, session.get(Recipient, recipient_id))
    found = session.get(Submission, recipient.submission_id)
    assessment = session.get(Assessment, found.assessment_id)
    record = record_of(session, found.id)
    return jsonify(
        {
            "recipient": _summary(InboxRow(recipient, found, assessment, record)),
            "snapshot": json.loads(found.snapshot),
            "sha256": found.sha256,
            "integrity_verified": integrity_ok(found, record),
        }
    )


@bp.get("/indicators")
@policy(Action.REVIEW)
def indicators():
    country = request.args.get("country")
    if country is None:
        _bad_request("The query parameter 'country' is required.")
    if not COUNTRY.fullmatch(country):
        _bad_request("The query parameter 'country' must be a jurisdiction's two-letter ISO code, such as SG.")
    cycle = _cycle_arg(required=True)
    if country not in (current_user.jurisdictions or []):
        abort(404)
    report = aggregates.stored_indicator_report(db.session(), country, cycle, all_names=True)
    # A regulator's view of the HTML report: the rows are the report's own, and the names of
    # the institutions come from the same counts as a list rather than the CSV's joined text.
    counts = [count for group in report.by_service_type.values() for count in group]
    rows = [
        {
            "service_type": row["service_type"],
            "indicator": row["indicator"],
            "label": row["label"],
            "institutions": row["institutions"],
            "meeting": row["meeting"],
            "not_met": row["not_met"],
            "not_applicable": row["not_applicable"],
            "companies": list(count.companies),
        }
        for row, count in zip(indicator_rows(report), counts, strict=True)
    ]
    return jsonify(
        {
            "jurisdiction": report.jurisdiction,
            "cycle": report.cycle,
            "institutions": report.institutions,
            "rows": rows,
            "note": report_notes(current_content().root)["not_applicable"],
        }
    )


@bp.get("/benchmark")
@policy(Action.BENCHMARK_VIEW)
def benchmark():
    """The working group's benchmark: a published release, the same rows as its pages and CSV."""
    number = _int_arg("release", minimum=1, maximum=MAX_PAGE)
    cycle = _cycle_arg()  # a bad parameter is a 400 whether or not there is a release
    release = releases.published(db.session(), current_methodology(), number)
    if release is None:
        abort(404)
    if cycle is None:
        cycle = max(release.cycles)
    if cycle not in release.cycles:
        abort(404)
    return jsonify(
        {
            "release": {
                "number": release.number,
                "published_at": release.published_at,
                "final": release.final,
                "cycles": list(release.cycles),
                "companies": release.companies,
                "rules": release.rules.to_dict(),
            },
            "cycle": cycle,
            "rows": disclosure.working_group_rows(release, cycle),
        }
    )


# -- managing tokens (HTML, signed in with a session) -----------------------------------------


class TokenForm(Form):
    name = StringField(
        _l("Name"),
        validators=[DataRequired(), Length(max=tokens.MAX_NAME)],
        description=_l("What will use it, so you know which token to revoke later."),
    )
    expires_in_days = IntegerField(
        _l("Expires after (days)"),
        validators=[Optional(), NumberRange(min=1, max=tokens.MAX_DAYS)],
        default=90,
        description=_l("Leave empty for a token that lasts until it is revoked."),
    )
    submit = SubmitField(_l("Create token"))


class RevokeForm(Form):
    submit = SubmitField(_l("Revoke"))


@tokens_bp.route("/tokens", methods=["GET", "POST"])
@policy(Action.API_TOKENS)
def manage_tokens():
    session = db.session()
    form = TokenForm()
    created = None
    if form.validate_on_submit():
        try:
            row, token = tokens.create_token(session, current_user, form.name.data, form.expires_in_days.data)
        except tokens.TokenError as exc:
            form.name.errors.append(problem_text(exc))
        else:
            created = {"row": row, "token": token}
            form = TokenForm(formdata=None)
    response = render_template(
        "api/tokens.html",
        form=form,
        revoke_form=RevokeForm(),
        created=created,
        rows=tokens.tokens_of(session, current_user),
    )
    # The page may carry a new token: no cache keeps it.
    return response, 200, {"Cache-Control": "no-store"}


@tokens_bp.route("/tokens/<int:token_id>/revoke", methods=["POST"])
@policy(Action.API_TOKENS)
def revoke(token_id: int):
    session = db.session()
    row = require(Action.API_TOKENS, session.get(ApiToken, token_id))
    if RevokeForm().validate_on_submit():
        tokens.revoke_token(session, row, current_user)
        flash(f"The token “{row.name}” is revoked; it no longer opens the API.", "success")
    return redirect(url_for("api_tokens.manage_tokens"))

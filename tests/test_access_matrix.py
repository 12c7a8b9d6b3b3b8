"""The exact access matrix: every route of ``app.url_map``, every method, as every identity, on its
own and on other organisations' or jurisdictions' objects, compared with a table that gives one
expected status per cell. A route without a row fails, as does a row for a route that is gone.

One app and one prepared database for the whole matrix. GET requests are sent as they are. A POST
that the table expects to be refused by the authoriser (302 to the sign-in page, 401, 403, 404) is
sent with a valid CSRF token, so the refusal is the authoriser's; a POST the table gives 400 is one
the identity may make, sent without its CSRF token so that nothing changes: 400 is then the CSRF
refusal, and the form's own behaviour is left to the tests of each page.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlmodel import select

from dd_toolkit.records import accounts, notifications
from dd_toolkit.records import database as db
from dd_toolkit.records.models import ApiToken, Assessment, Organisation, OrgRole, PlatformRole, RegulatorGrant
from dd_toolkit.web.authz import Action, can, load_user, memberships, policy

from . import factories
from .conftest import _fresh_database, csrf_token, make_app
from .test_api import new_token, recipients, send

# The identities, in the order of the columns of MATRIX.
IDENTITIES = (
    "anon",  # not signed in
    "a_admin",  # organisation A, admin
    "a_contrib",  # organisation A, contributor
    "b_admin",  # organisation B, admin
    "reg_sg",  # regulator of Singapore (signed in with a browser)
    "reg_my",  # regulator of Malaysia
    "wg",  # the Industry Working Group
    "padmin",  # platform admin
    "tok_sg",  # API token of the Singapore regulator (no browser session)
    "tok_my",  # API token of the Malaysia regulator
    "tok_wg",  # API token of the working group
)

# (method, rule, variant) -> the expected status for each identity, in the order of IDENTITIES.
# Variants name whose object the URL points at: A or B (an organisation's submitted assessment, or
# its draft of the next cycle), SG or MY
# (a jurisdiction's recipient, indicator report or regulator's token); "-" when the URL has none.
MATRIX: dict[tuple[str, str, str], str] = {
    # columns: anon a_admin a_contrib b_admin reg_sg reg_my wg padmin tok_sg tok_my tok_wg
    ("GET", "/", "-"): "200 200 200 200 200 200 200 200 200 200 200",
    ("GET", "/admin/accounts", "-"): "302 403 403 403 403 403 403 200 302 302 302",
    ("POST", "/admin/accounts", "-"): "302 403 403 403 403 403 403 400 302 302 302",
    (
        "POST",
        "/admin/accounts/<int:user_id>/<any(deactivate, reactivate):change>",
        "-",
    ): "302 403 403 403 403 403 403 400 302 302 302",
    ("POST", "/admin/accounts/jurisdictions", "-"): "302 403 403 403 403 403 403 400 302 302 302",
    ("POST", "/admin/accounts/<int:user_id>/reset-link", "-"): "302 403 403 403 403 403 403 400 302 302 302",
    ("POST", "/admin/accounts/<int:user_id>/reinvite", "-"): "302 403 403 403 403 403 403 400 302 302 302",
    ("GET", "/admin/integrity", "-"): "302 403 403 403 403 403 403 200 302 302 302",
    ("GET", "/admin/releases", "-"): "302 403 403 403 403 403 403 200 302 302 302",
    ("POST", "/admin/releases", "-"): "302 403 403 403 403 403 403 400 302 302 302",
    ("GET", "/api/tokens", "-"): "302 403 403 403 200 200 200 403 302 302 302",
    ("POST", "/api/tokens", "-"): "302 403 403 403 400 400 400 403 302 302 302",
    ("POST", "/api/tokens/<int:token_id>/revoke", "MY"): "302 403 403 403 404 400 404 403 302 302 302",
    ("POST", "/api/tokens/<int:token_id>/revoke", "SG"): "302 403 403 403 400 404 404 403 302 302 302",
    ("GET", "/api/v1/benchmark", "-"): "401 401 401 401 401 401 401 401 403 403 200",
    ("GET", "/api/v1/indicators", "MY"): "401 401 401 401 401 401 401 401 404 200 403",
    ("GET", "/api/v1/indicators", "SG"): "401 401 401 401 401 401 401 401 200 404 403",
    ("GET", "/api/v1/openapi.json", "-"): "200 200 200 200 200 200 200 200 200 200 200",
    ("GET", "/api/v1/submissions", "-"): "401 401 401 401 401 401 401 401 200 200 403",
    ("GET", "/api/v1/submissions/<int:recipient_id>", "MY"): "401 401 401 401 401 401 401 401 404 200 403",
    ("GET", "/api/v1/submissions/<int:recipient_id>", "SG"): "401 401 401 401 401 401 401 401 200 404 403",
    ("GET", "/assessments/", "-"): "302 200 200 200 403 403 403 403 302 302 302",
    ("GET", "/assessments/<int:assessment_id>", "A"): "302 200 200 404 403 403 403 403 302 302 302",
    ("GET", "/assessments/<int:assessment_id>", "B"): "302 404 404 200 403 403 403 403 302 302 302",
    ("GET", "/assessments/<int:assessment_id>/action-plan", "A"): "302 200 200 404 403 403 403 403 302 302 302",
    ("GET", "/assessments/<int:assessment_id>/action-plan", "B"): "302 404 404 200 403 403 403 403 302 302 302",
    ("GET", "/assessments/<int:assessment_id>/action-plan.<fmt>", "A"): "302 200 200 404 403 403 403 403 302 302 302",
    ("GET", "/assessments/<int:assessment_id>/action-plan.<fmt>", "B"): "302 404 404 200 403 403 403 403 302 302 302",
    (
        "POST",
        "/assessments/<int:assessment_id>/action-plan/items/<item_id>",
        "A",
    ): "302 400 400 404 403 403 403 403 302 302 302",
    (
        "POST",
        "/assessments/<int:assessment_id>/action-plan/items/<item_id>",
        "B",
    ): "302 404 404 400 403 403 403 403 302 302 302",
    ("GET", "/assessments/<int:assessment_id>/charts/<name>.svg", "A"): "302 200 200 404 403 403 403 403 302 302 302",
    ("GET", "/assessments/<int:assessment_id>/charts/<name>.svg", "B"): "302 404 404 200 403 403 403 403 302 302 302",
    ("GET", "/assessments/<int:assessment_id>/export.json", "A"): "302 200 200 404 403 403 403 403 302 302 302",
    ("GET", "/assessments/<int:assessment_id>/export.json", "B"): "302 404 404 200 403 403 403 403 302 302 302",
    ("POST", "/assessments/<int:assessment_id>/new-version", "A"): "302 400 403 404 403 403 403 403 302 302 302",
    ("POST", "/assessments/<int:assessment_id>/new-version", "B"): "302 404 404 400 403 403 403 403 302 302 302",
    ("GET", "/assessments/<int:assessment_id>/peers", "A"): "302 200 200 404 403 403 403 403 302 302 302",
    ("GET", "/assessments/<int:assessment_id>/peers", "B"): "302 404 404 200 403 403 403 403 302 302 302",
    ("GET", "/assessments/<int:assessment_id>/results", "A"): "302 200 200 404 403 403 403 403 302 302 302",
    ("GET", "/assessments/<int:assessment_id>/results", "B"): "302 404 404 200 403 403 403 403 302 302 302",
    (
        "GET",
        "/assessments/<int:assessment_id>/sections/<section_id>",
        "A",
    ): "302 200 200 404 403 403 403 403 302 302 302",
    (
        "GET",
        "/assessments/<int:assessment_id>/sections/<section_id>",
        "B",
    ): "302 404 404 200 403 403 403 403 302 302 302",
    (
        "POST",
        "/assessments/<int:assessment_id>/sections/<section_id>",
        "A",
    ): "302 400 400 404 403 403 403 403 302 302 302",
    (
        "POST",
        "/assessments/<int:assessment_id>/sections/<section_id>",
        "B",
    ): "302 404 404 400 403 403 403 403 302 302 302",
    # The children's risk register: the fixture's methodology has no register rules, so a cell's
    # page is the route's 404 even for its own organisation; the grid page says so with a 200.
    (
        "GET",
        "/assessments/<int:assessment_id>/risk",
        "A",
    ): "302 200 200 404 403 403 403 403 302 302 302",
    (
        "GET",
        "/assessments/<int:assessment_id>/risk",
        "A draft",
    ): "302 200 200 404 403 403 403 403 302 302 302",
    (
        "GET",
        "/assessments/<int:assessment_id>/risk",
        "B",
    ): "302 404 404 200 403 403 403 403 302 302 302",
    (
        "GET",
        "/assessments/<int:assessment_id>/risk",
        "B draft",
    ): "302 404 404 200 403 403 403 403 302 302 302",
    (
        "POST",
        "/assessments/<int:assessment_id>/risk",
        "A",
    ): "302 400 400 404 403 403 403 403 302 302 302",
    (
        "POST",
        "/assessments/<int:assessment_id>/risk",
        "A draft",
    ): "302 400 400 404 403 403 403 403 302 302 302",
    (
        "POST",
        "/assessments/<int:assessment_id>/risk",
        "B",
    ): "302 404 404 400 403 403 403 403 302 302 302",
    (
        "POST",
        "/assessments/<int:assessment_id>/risk",
        "B draft",
    ): "302 404 404 400 403 403 403 403 302 302 302",
    (
        "GET",
        "/assessments/<int:assessment_id>/risk/<harm>/<age_group>",
        "A",
    ): "302 404 404 404 403 403 403 403 302 302 302",
    (
        "GET",
        "/assessments/<int:assessment_id>/risk/<harm>/<age_group>",
        "A draft",
    ): "302 404 404 404 403 403 403 403 302 302 302",
    (
        "GET",
        "/assessments/<int:assessment_id>/risk/<harm>/<age_group>",
        "B",
    ): "302 404 404 404 403 403 403 403 302 302 302",
    (
        "GET",
        "/assessments/<int:assessment_id>/risk/<harm>/<age_group>",
        "B draft",
    ): "302 404 404 404 403 403 403 403 302 302 302",
    (
        "POST",
        "/assessments/<int:assessment_id>/risk/<harm>/<age_group>",
        "A",
    ): "302 400 400 404 403 403 403 403 302 302 302",
    (
        "POST",
        "/assessments/<int:assessment_id>/risk/<harm>/<age_group>",
        "A draft",
    ): "302 400 400 404 403 403 403 403 302 302 302",
    (
        "POST",
        "/assessments/<int:assessment_id>/risk/<harm>/<age_group>",
        "B",
    ): "302 404 404 400 403 403 403 403 302 302 302",
    (
        "POST",
        "/assessments/<int:assessment_id>/risk/<harm>/<age_group>",
        "B draft",
    ): "302 404 404 400 403 403 403 403 302 302 302",
    (
        "POST",
        "/assessments/<int:assessment_id>/risk/significant-change",
        "A",
    ): "302 400 403 404 403 403 403 403 302 302 302",
    (
        "POST",
        "/assessments/<int:assessment_id>/risk/significant-change",
        "A draft",
    ): "302 400 403 404 403 403 403 403 302 302 302",
    (
        "POST",
        "/assessments/<int:assessment_id>/risk/significant-change",
        "B",
    ): "302 404 404 400 403 403 403 403 302 302 302",
    (
        "POST",
        "/assessments/<int:assessment_id>/risk/significant-change",
        "B draft",
    ): "302 404 404 400 403 403 403 403 302 302 302",
    (
        "POST",
        "/assessments/<int:assessment_id>/risk/start",
        "A",
    ): "302 400 400 404 403 403 403 403 302 302 302",
    (
        "POST",
        "/assessments/<int:assessment_id>/risk/start",
        "A draft",
    ): "302 400 400 404 403 403 403 403 302 302 302",
    (
        "POST",
        "/assessments/<int:assessment_id>/risk/start",
        "B",
    ): "302 404 404 400 403 403 403 403 302 302 302",
    (
        "POST",
        "/assessments/<int:assessment_id>/risk/start",
        "B draft",
    ): "302 404 404 400 403 403 403 403 302 302 302",
    # Assigning sections: an admin of the organisation, on a draft (a submitted one sends them back).
    ("GET", "/assessments/<int:assessment_id>/assignments", "A"): "302 302 403 404 403 403 403 403 302 302 302",
    ("GET", "/assessments/<int:assessment_id>/assignments", "B"): "302 404 404 302 403 403 403 403 302 302 302",
    ("POST", "/assessments/<int:assessment_id>/assignments", "A"): "302 400 403 404 403 403 403 403 302 302 302",
    ("POST", "/assessments/<int:assessment_id>/assignments", "B"): "302 404 404 400 403 403 403 403 302 302 302",
    ("GET", "/assessments/<int:assessment_id>/submit", "A"): "302 302 403 404 403 403 403 403 302 302 302",
    ("GET", "/assessments/<int:assessment_id>/submit", "B"): "302 404 404 302 403 403 403 403 302 302 302",
    ("POST", "/assessments/<int:assessment_id>/submit", "A"): "302 400 403 404 403 403 403 403 302 302 302",
    ("POST", "/assessments/<int:assessment_id>/submit", "B"): "302 404 404 400 403 403 403 403 302 302 302",
    ("GET", "/assessments/<int:assessment_id>/transparency", "A"): "302 200 200 404 403 403 403 403 302 302 302",
    ("GET", "/assessments/<int:assessment_id>/transparency", "B"): "302 404 404 200 403 403 403 403 302 302 302",
    ("POST", "/assessments/<int:assessment_id>/transparency", "A"): "302 400 400 404 403 403 403 403 302 302 302",
    ("POST", "/assessments/<int:assessment_id>/transparency", "B"): "302 404 404 400 403 403 403 403 302 302 302",
    # The written risk assessment: this world's assessments keep no risk register, so even their
    # own organisation gets the route's 404; everyone else is refused by the authoriser first.
    (
        "GET",
        "/assessments/<int:assessment_id>/risk-assessment.<fmt>",
        "A",
    ): "302 404 404 404 403 403 403 403 302 302 302",
    (
        "GET",
        "/assessments/<int:assessment_id>/risk-assessment.<fmt>",
        "B",
    ): "302 404 404 404 403 403 403 403 302 302 302",
    (
        "GET",
        "/assessments/<int:assessment_id>/risk-assessment.<fmt>",
        "A draft",
    ): "302 404 404 404 403 403 403 403 302 302 302",
    (
        "GET",
        "/assessments/<int:assessment_id>/risk-assessment.<fmt>",
        "B draft",
    ): "302 404 404 404 403 403 403 403 302 302 302",
    ("GET", "/assessments/<int:assessment_id>/transparency.<fmt>", "A"): "302 200 200 404 403 403 403 403 302 302 302",
    ("GET", "/assessments/<int:assessment_id>/transparency.<fmt>", "B"): "302 404 404 200 403 403 403 403 302 302 302",
    (
        "POST",
        "/assessments/<int:assessment_id>/transparency/commitments",
        "A",
    ): "302 400 400 404 403 403 403 403 302 302 302",
    (
        "POST",
        "/assessments/<int:assessment_id>/transparency/commitments",
        "B",
    ): "302 404 404 400 403 403 403 403 302 302 302",
    (
        "POST",
        "/assessments/<int:assessment_id>/transparency/preview",
        "A",
    ): "302 400 400 404 403 403 403 403 302 302 302",
    (
        "POST",
        "/assessments/<int:assessment_id>/transparency/preview",
        "B",
    ): "302 404 404 400 403 403 403 403 302 302 302",
    (
        "POST",
        "/assessments/<int:assessment_id>/transparency/regenerate",
        "A",
    ): "302 400 400 404 403 403 403 403 302 302 302",
    (
        "POST",
        "/assessments/<int:assessment_id>/transparency/regenerate",
        "B",
    ): "302 404 404 400 403 403 403 403 302 302 302",
    ("POST", "/assessments/import", "-"): "302 400 403 400 403 403 403 403 302 302 302",
    ("POST", "/assessments/new", "-"): "302 400 403 400 403 403 403 403 302 302 302",
    ("GET", "/auth/account", "-"): "302 200 200 200 200 200 200 200 302 302 302",
    ("POST", "/auth/account", "-"): "302 400 400 400 400 400 400 400 302 302 302",
    ("GET", "/auth/confirmations", "-"): "302 403 403 403 200 200 403 403 302 302 302",
    (
        "POST",
        "/auth/confirmations/<int:grant_id>/<any(confirm, decline):decision>",
        "MY",
    ): "302 403 403 403 404 400 403 403 302 302 302",
    (
        "POST",
        "/auth/confirmations/<int:grant_id>/<any(confirm, decline):decision>",
        "SG",
    ): "302 403 403 403 400 404 403 403 302 302 302",
    ("GET", "/auth/invite/<token>", "-"): "404 404 404 404 404 404 404 404 404 404 404",
    ("POST", "/auth/invite/<token>", "-"): "400 400 400 400 400 400 400 400 400 400 400",
    ("GET", "/auth/login", "-"): "200 302 302 302 302 302 302 302 200 200 200",
    ("POST", "/auth/login", "-"): "400 400 400 400 400 400 400 400 400 400 400",
    ("POST", "/auth/logout", "-"): "302 400 400 400 400 400 400 400 302 302 302",
    ("GET", "/auth/register", "-"): "200 302 302 302 302 302 302 302 200 200 200",
    ("POST", "/auth/register", "-"): "400 400 400 400 400 400 400 400 400 400 400",
    ("GET", "/auth/reset/<token>", "-"): "404 404 404 404 404 404 404 404 404 404 404",
    ("POST", "/auth/reset/<token>", "-"): "400 400 400 400 400 400 400 400 400 400 400",
    ("POST", "/language", "-"): "400 400 400 400 400 400 400 400 400 400 400",
    ("GET", "/benchmarks/", "-"): "302 403 403 403 403 403 200 403 302 302 302",
    ("GET", "/benchmarks/<int:cycle>.<fmt>", "-"): "302 403 403 403 403 403 200 403 302 302 302",
    ("GET", "/benchmarks/<int:cycle>/<metric>.svg", "-"): "302 403 403 403 403 403 200 403 302 302 302",
    ("GET", "/benchmarks/indicators", "-"): "302 403 403 403 403 403 200 403 302 302 302",
    ("GET", "/healthz", "-"): "200 200 200 200 200 200 200 200 200 200 200",
    # One's own notifications: any signed-in account; another's answer 404, as if they did not exist.
    ("GET", "/notifications/", "-"): "302 200 200 200 200 200 200 200 302 302 302",
    ("POST", "/notifications/read", "-"): "302 400 400 400 400 400 400 400 302 302 302",
    ("POST", "/notifications/<int:notification_id>/read", "A"): "302 400 404 404 404 404 404 404 302 302 302",
    ("GET", "/organisation/members", "-"): "302 200 200 200 403 403 403 403 302 302 302",
    ("POST", "/organisation/members", "-"): "302 400 403 400 403 403 403 403 302 302 302",
    (
        "POST",
        "/organisation/members/<int:user_id>/<any(role, remove, reinvite, revoke, reset):step>",
        "-",
    ): "302 400 403 404 403 403 403 403 302 302 302",
    ("GET", "/organisation/profile", "-"): "302 200 200 200 403 403 403 403 302 302 302",
    ("POST", "/organisation/profile", "-"): "302 400 403 400 403 403 403 403 302 302 302",
    ("GET", "/question-bank/", "-"): "302 200 200 200 200 200 200 200 302 302 302",
    ("GET", "/review/", "-"): "302 403 403 403 200 200 403 403 302 302 302",
    ("GET", "/review/<int:recipient_id>", "MY"): "302 403 403 403 404 200 403 403 302 302 302",
    ("GET", "/review/<int:recipient_id>", "SG"): "302 403 403 403 200 404 403 403 302 302 302",
    ("GET", "/review/<int:recipient_id>/sections/<section_id>", "MY"): "302 403 403 403 404 200 403 403 302 302 302",
    ("GET", "/review/<int:recipient_id>/sections/<section_id>", "SG"): "302 403 403 403 200 404 403 403 302 302 302",
    ("POST", "/review/<int:recipient_id>/comments", "MY"): "302 403 403 403 404 400 403 403 302 302 302",
    ("POST", "/review/<int:recipient_id>/comments", "SG"): "302 403 403 403 400 404 403 403 302 302 302",
    ("POST", "/review/<int:recipient_id>/status", "MY"): "302 403 403 403 404 400 403 403 302 302 302",
    ("POST", "/review/<int:recipient_id>/status", "SG"): "302 403 403 403 400 404 403 403 302 302 302",
    ("GET", "/review/indicators", "MY"): "302 403 403 403 404 200 403 403 302 302 302",
    ("GET", "/review/indicators", "SG"): "302 403 403 403 200 404 403 403 302 302 302",
    ("GET", "/review/indicators.<fmt>", "MY"): "302 403 403 403 404 200 403 403 302 302 302",
    ("GET", "/review/indicators.<fmt>", "SG"): "302 403 403 403 200 404 403 403 302 302 302",
    # Drafts of the next cycle: answering, submitting, and what a contributor may not do.
    ("GET", "/assessments/<int:assessment_id>", "A draft"): "302 200 200 404 403 403 403 403 302 302 302",
    ("GET", "/assessments/<int:assessment_id>", "B draft"): "302 404 404 200 403 403 403 403 302 302 302",
    ("GET", "/assessments/<int:assessment_id>/action-plan", "A draft"): "302 200 200 404 403 403 403 403 302 302 302",
    ("GET", "/assessments/<int:assessment_id>/action-plan", "B draft"): "302 404 404 200 403 403 403 403 302 302 302",
    (
        "GET",
        "/assessments/<int:assessment_id>/action-plan.<fmt>",
        "A draft",
    ): "302 200 200 404 403 403 403 403 302 302 302",
    (
        "GET",
        "/assessments/<int:assessment_id>/action-plan.<fmt>",
        "B draft",
    ): "302 404 404 200 403 403 403 403 302 302 302",
    (
        "POST",
        "/assessments/<int:assessment_id>/action-plan/items/<item_id>",
        "A draft",
    ): "302 400 400 404 403 403 403 403 302 302 302",
    (
        "POST",
        "/assessments/<int:assessment_id>/action-plan/items/<item_id>",
        "B draft",
    ): "302 404 404 400 403 403 403 403 302 302 302",
    (
        "GET",
        "/assessments/<int:assessment_id>/charts/<name>.svg",
        "A draft",
    ): "302 200 200 404 403 403 403 403 302 302 302",
    (
        "GET",
        "/assessments/<int:assessment_id>/charts/<name>.svg",
        "B draft",
    ): "302 404 404 200 403 403 403 403 302 302 302",
    ("GET", "/assessments/<int:assessment_id>/export.json", "A draft"): "302 200 200 404 403 403 403 403 302 302 302",
    ("GET", "/assessments/<int:assessment_id>/export.json", "B draft"): "302 404 404 200 403 403 403 403 302 302 302",
    ("POST", "/assessments/<int:assessment_id>/new-version", "A draft"): "302 400 403 404 403 403 403 403 302 302 302",
    ("POST", "/assessments/<int:assessment_id>/new-version", "B draft"): "302 404 404 400 403 403 403 403 302 302 302",
    ("GET", "/assessments/<int:assessment_id>/peers", "A draft"): "302 200 200 404 403 403 403 403 302 302 302",
    ("GET", "/assessments/<int:assessment_id>/peers", "B draft"): "302 404 404 200 403 403 403 403 302 302 302",
    ("GET", "/assessments/<int:assessment_id>/results", "A draft"): "302 200 200 404 403 403 403 403 302 302 302",
    ("GET", "/assessments/<int:assessment_id>/results", "B draft"): "302 404 404 200 403 403 403 403 302 302 302",
    (
        "GET",
        "/assessments/<int:assessment_id>/sections/<section_id>",
        "A draft",
    ): "302 200 200 404 403 403 403 403 302 302 302",
    (
        "GET",
        "/assessments/<int:assessment_id>/sections/<section_id>",
        "B draft",
    ): "302 404 404 200 403 403 403 403 302 302 302",
    (
        "POST",
        "/assessments/<int:assessment_id>/sections/<section_id>",
        "A draft",
    ): "302 400 400 404 403 403 403 403 302 302 302",
    (
        "POST",
        "/assessments/<int:assessment_id>/sections/<section_id>",
        "B draft",
    ): "302 404 404 400 403 403 403 403 302 302 302",
    ("GET", "/assessments/<int:assessment_id>/assignments", "A draft"): "302 200 403 404 403 403 403 403 302 302 302",
    ("GET", "/assessments/<int:assessment_id>/assignments", "B draft"): "302 404 404 200 403 403 403 403 302 302 302",
    ("POST", "/assessments/<int:assessment_id>/assignments", "A draft"): "302 400 403 404 403 403 403 403 302 302 302",
    ("POST", "/assessments/<int:assessment_id>/assignments", "B draft"): "302 404 404 400 403 403 403 403 302 302 302",
    ("GET", "/assessments/<int:assessment_id>/submit", "A draft"): "302 200 403 404 403 403 403 403 302 302 302",
    ("GET", "/assessments/<int:assessment_id>/submit", "B draft"): "302 404 404 200 403 403 403 403 302 302 302",
    ("POST", "/assessments/<int:assessment_id>/submit", "A draft"): "302 400 403 404 403 403 403 403 302 302 302",
    ("POST", "/assessments/<int:assessment_id>/submit", "B draft"): "302 404 404 400 403 403 403 403 302 302 302",
    ("GET", "/assessments/<int:assessment_id>/transparency", "A draft"): "302 200 200 404 403 403 403 403 302 302 302",
    ("GET", "/assessments/<int:assessment_id>/transparency", "B draft"): "302 404 404 200 403 403 403 403 302 302 302",
    ("POST", "/assessments/<int:assessment_id>/transparency", "A draft"): "302 400 400 404 403 403 403 403 302 302 302",
    ("POST", "/assessments/<int:assessment_id>/transparency", "B draft"): "302 404 404 400 403 403 403 403 302 302 302",
    (
        "GET",
        "/assessments/<int:assessment_id>/transparency.<fmt>",
        "A draft",
    ): "302 200 200 404 403 403 403 403 302 302 302",
    (
        "GET",
        "/assessments/<int:assessment_id>/transparency.<fmt>",
        "B draft",
    ): "302 404 404 200 403 403 403 403 302 302 302",
    (
        "POST",
        "/assessments/<int:assessment_id>/transparency/commitments",
        "A draft",
    ): "302 400 400 404 403 403 403 403 302 302 302",
    (
        "POST",
        "/assessments/<int:assessment_id>/transparency/commitments",
        "B draft",
    ): "302 404 404 400 403 403 403 403 302 302 302",
    (
        "POST",
        "/assessments/<int:assessment_id>/transparency/preview",
        "A draft",
    ): "302 400 400 404 403 403 403 403 302 302 302",
    (
        "POST",
        "/assessments/<int:assessment_id>/transparency/preview",
        "B draft",
    ): "302 404 404 400 403 403 403 403 302 302 302",
    (
        "POST",
        "/assessments/<int:assessment_id>/transparency/regenerate",
        "A draft",
    ): "302 400 400 404 403 403 403 403 302 302 302",
    (
        "POST",
        "/assessments/<int:assessment_id>/transparency/regenerate",
        "B draft",
    ): "302 404 404 400 403 403 403 403 302 302 302",
}


@dataclass
class Target:
    """One cell row's URL and the object the authoriser decides on."""

    path: str
    target: object | None = None


@pytest.fixture(scope="module")
def matrix_world(migrated_template, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("access_matrix")
    database = _fresh_database(migrated_template, tmp, "matrix")
    url = next(database)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DD_INSTANCE_PATH", str(tmp / "instance"))
        # The matrix sends hundreds of requests from one address: the limits are tested elsewhere.
        app = make_app(url, tmp, RATELIMIT_ENABLED=False)
        with db.standalone_session(app.extensions["dd_engine"]) as session:
            make = factories.Factory(session, app.extensions["dd_content"])
            org_a, org_b = make.organisation(name="Org A"), make.organisation(name="Org B")
            users = {
                "a_admin": make.user(org_a),
                "a_contrib": make.user(org_a, role=OrgRole.CONTRIBUTOR),
                "b_admin": make.user(org_b),
                "reg_sg": make.user(platform_role=PlatformRole.REGULATOR, jurisdictions=["SG"]),
                "reg_my": make.user(platform_role=PlatformRole.REGULATOR, jurisdictions=["MY"]),
                "wg": make.user(platform_role=PlatformRole.WORKING_GROUP),
                "padmin": make.user(platform_role=PlatformRole.PLATFORM_ADMIN),
            }
            assessment_a = send(app, make, org_a, ["SG", "MY"])
            assessment_b = send(app, make, org_b, ["MY"])
            for _ in range(5):  # consenting submissions: a published benchmark release
                make.submitted(make.organisation(), consent=True)
            # A draft of the next cycle beside each submitted assessment: the pages that edit answers.
            draft_a = make.assessment(org_a, users["a_admin"], 2027, {"mini.policy.owner": 2})
            draft_b = make.assessment(org_b, users["b_admin"], 2027, {"mini.policy.owner": 2})
            to = recipients(session, assessment_a)
            tokens = {
                "tok_sg": new_token(session, users["reg_sg"]),
                "tok_my": new_token(session, users["reg_my"]),
                "tok_wg": new_token(session, users["wg"]),
            }
            token_rows = {
                jurisdiction: session.exec(select(ApiToken).where(ApiToken.user_id == users[key].id)).one()
                for jurisdiction, key in (("SG", "reg_sg"), ("MY", "reg_my"))
            }
            objects = {
                "assessment_id": {
                    "A": session.get(Assessment, assessment_a.id),
                    "B": session.get(Assessment, assessment_b.id),
                    "A draft": draft_a,
                    "B draft": draft_b,
                },
                "recipient_id": {"SG": to["SG"], "MY": to["MY"]},
                "token_id": token_rows,
            }
            # A jurisdiction awaiting confirmation on a new regulator account, for SG and for MY: only
            # a regulator of that jurisdiction may confirm or decline it.
            grants = {}
            for jurisdiction in JURISDICTION_VARIANTS:
                pending = make.user(platform_role=PlatformRole.REGULATOR)
                accounts.request_jurisdictions(session, pending, [jurisdiction], by=users["padmin"])
                (grants[jurisdiction],) = accounts.pending_grants(session, pending)
            objects["grant_id"] = grants
            # A notification of organisation A's admin: nobody else may mark it read.
            (notice,) = notifications.notify(
                session,
                [users["a_admin"].id],
                notifications.Kind.REVIEW_STATUS,
                {"jurisdiction": "SG", "cycle": 2026, "version": 1, "status": "in_review"},
                entity="assessment",
                entity_id=assessment_a.id,
            )
            session.commit()
            objects["notification_id"] = {"A": notice}
            user_ids = {key: user.id for key, user in users.items()}
            victim = users["a_contrib"].id
        clients = {}
        for identity in IDENTITIES:
            client = app.test_client()
            if identity in user_ids:
                email = next(u.email for k, u in users.items() if k == identity)
                page = client.get("/auth/login")
                assert page.status_code == 200
                signed_in = client.post(
                    "/auth/login",
                    data={
                        "email": email,
                        "password": factories.PASSWORD,
                        "csrf_token": csrf_token(client, "/auth/login"),
                    },
                )
                assert signed_in.status_code == 302, identity
            clients[identity] = client
        yield {
            "app": app,
            "clients": clients,
            "tokens": tokens,
            "objects": objects,
            "user_ids": user_ids,
            "victim": victim,
            "database_url": url,
            "tmp": tmp,
        }
        app.extensions["dd_engine"].dispose()
    next(database, None)


# A value for each URL argument that is not an object id.
ARGUMENTS = {
    "section_id": "mini.policy",
    "name": "sections",
    "item_id": "policy",
    "metric": "overall",
    "cycle": 2026,
    "token": "not-a-real-link",
    "decision": "confirm",
    "change": "deactivate",
    "step": "role",
    "harm": "grooming",
    "age_group": "age_13_15",
}
FORMATS = {"regulator.indicators_export": "csv", "benchmarks.export": "csv"}
# Query strings some routes need, per variant.
QUERIES = {
    "regulator.indicators": "?country={variant}&cycle=2026",
    "regulator.indicators_export": "?country={variant}&cycle=2026",
    "api.indicators": "?country={variant}&cycle=2026",
}
JURISDICTION_VARIANTS = ("SG", "MY")


def _rows(app, world):
    """Every (method, rule, variant) of the app, with its URL and target object."""
    rows: dict[tuple[str, str, str], Target] = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        object_args = [name for name in rule.arguments if name in world["objects"]]
        if object_args:
            (name,) = object_args
            variants = {key: (name, value) for key, value in world["objects"][name].items()}
        elif rule.endpoint in QUERIES:
            variants = {key: None for key in JURISDICTION_VARIANTS}
        else:
            variants = {"-": None}
        for variant, pair in variants.items():
            values = {**ARGUMENTS, "fmt": FORMATS.get(rule.endpoint, "md"), "user_id": world["victim"]}
            target = None
            if pair is not None:
                values[pair[0]] = pair[1].id
                target = pair[1]
            path = rule.build({k: v for k, v in values.items() if k in rule.arguments}, append_unknown=False)[1]
            path += QUERIES.get(rule.endpoint, "").format(variant=variant)
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                rows[(method, rule.rule, variant)] = Target(path, target)
    return rows


def _request(world, identity: str, method: str, path: str, expected: str | None):
    if identity in world["tokens"]:
        # A program: its token on every request, and no cookies kept from one request to the next.
        client = world["app"].test_client()
        headers = {"Authorization": f"Bearer {world['tokens'][identity]}"}
    else:
        client, headers = world["clients"][identity], {}
    if method == "GET":
        return client.get(path, headers=headers)
    if expected == "400":
        return client.open(path, method=method, headers=headers)  # without its CSRF token: nothing changes
    page = "/auth/account" if identity in world["user_ids"] else "/auth/login"
    token = csrf_token(client, page)
    return client.open(path, method=method, headers=headers, data={"csrf_token": token})


# Forms whose POST asks more than the page's action: the page is for every member, the change for
# the organisation's admins.
POST_ACTIONS = {"/organisation/profile": Action.ORG_MANAGE, "/organisation/members": Action.ORG_MANAGE}
ROUTE_LEVEL = (Action.PUBLIC, Action.SIGNED_IN, Action.COMPANY, Action.CONTENT_BROWSE, Action.PLATFORM_ADMIN)


def _allowed(app, world, identity, action, target) -> bool:
    """Whether the authoriser lets ``identity`` do the row's action, on the row's object or else on
    its own organisation: how to POST a cell that has no row yet, never with a CSRF token where the
    POST could change something."""
    if identity not in world["user_ids"]:
        return action is Action.PUBLIC
    with app.app_context():
        from dd_toolkit.web import db as web_db

        session = web_db.session()
        user = load_user(session, world["user_ids"][identity])
        if isinstance(target, RegulatorGrant):
            return can(user, action) and target.jurisdiction in (user.jurisdictions or [])
        if target is not None:
            target = session.get(type(target), target.id)
        elif action not in ROUTE_LEVEL and memberships(user):
            target = session.get(Organisation, memberships(user)[0].organisation_id)
        return can(user, action) and (target is None or can(user, action, target))


def test_access_matrix(matrix_world):
    world = matrix_world
    app = world["app"]
    rows = _rows(app, world)
    wrong, missing = [], []
    for key, row in sorted(rows.items(), key=lambda item: (item[0][1], item[0][0], item[0][2])):
        method, rule, variant = key
        expected = MATRIX.get(key)
        cells = expected.split() if expected else [None] * len(IDENTITIES)
        assert len(cells) == len(IDENTITIES), key
        observed = []
        action = next(app.view_functions[r.endpoint]._dd_policy for r in app.url_map.iter_rules() if r.rule == rule)
        if method == "POST":
            action = POST_ACTIONS.get(rule, action)
        for identity, cell in zip(IDENTITIES, cells, strict=True):
            if cell is None and method != "GET":
                cell_mode = None if not _allowed(app, world, identity, action, row.target) else "400"
            else:
                cell_mode = cell
            response = _request(world, identity, method, row.path, cell_mode)
            observed.append(str(response.status_code))
        line = " ".join(observed)
        if expected is None:
            missing.append(f'    ("{method}", "{rule}", "{variant}"): "{line}",')
        elif line != expected:
            wrong.append(f"{method} {row.path} [{variant}]\n  expected {expected}\n  observed {line}")
    stale = sorted(set(MATRIX) - set(rows))
    assert not missing, "Routes without a row in MATRIX (observed):\n" + "\n".join(missing)
    assert not stale, f"Rows for routes that are gone: {stale}"
    assert not wrong, "Cells that differ (columns: " + " ".join(IDENTITIES) + "):\n" + "\n".join(wrong)


def test_a_route_without_a_row_fails(matrix_world, monkeypatch):
    """A route added to the app has no row until someone decides, cell by cell, who may reach it."""
    world = matrix_world
    monkeypatch.setenv("DD_INSTANCE_PATH", str(world["tmp"] / "instance"))
    app = make_app(world["database_url"], world["tmp"], RATELIMIT_ENABLED=False)

    @app.get("/forgotten/<int:assessment_id>")
    @policy(Action.ASSESSMENT_VIEW)
    def forgotten(assessment_id: int):
        return ""

    try:
        unlisted = set(_rows(app, world)) - set(MATRIX)
    finally:
        app.extensions["dd_engine"].dispose()
    assert unlisted == {
        ("GET", "/forgotten/<int:assessment_id>", variant) for variant in world["objects"]["assessment_id"]
    }

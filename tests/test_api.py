"""The read-only regulator API: bearer tokens scoped like the regulator's account, JSON
everywhere, the frozen snapshot with its hash, the RPA indicator counts, and every response
checked against the OpenAPI document the API publishes."""

from __future__ import annotations

import csv
import hashlib
import io
import re

import pytest
from click.testing import CliRunner
from openapi_core import OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from sqlmodel import select

from dd_toolkit.cli import main as cli
from dd_toolkit.engine.portable import canonical_json, sha256_of
from dd_toolkit.records.assessments import new_version, submit
from dd_toolkit.records.models import ApiToken, PlatformRole, Recipient, ReviewStatus, Submission
from dd_toolkit.records.review import transition
from dd_toolkit.web.api import tokens
from dd_toolkit.web.api.openapi import document

from .conftest import FIXTURE_CONTENT

API = "/api/v1"
# The fixture methodology that defines RPA indicators (its newer version does not).
METHODOLOGY = "standard@test.1"


# -- helpers -----------------------------------------------------------------------------------


def send(app, make, org, jurisdictions, *, cycle=2026, answers=None, assessment=None):
    """Submit an assessment (a new one, or the given draft) to ``jurisdictions``."""
    user = make.user(org)
    if assessment is None:
        assessment = make.assessment(org, user, cycle, answers or make.complete_answers())
    elif answers:
        make.answer(assessment, user, answers)
    submit(
        make.session,
        make.bank,
        make.content.methodology(METHODOLOGY),
        assessment,
        user,
        jurisdictions=list(jurisdictions),
    )
    return assessment


def recipients(session, assessment) -> dict[str, Recipient]:
    rows = session.exec(
        select(Recipient)
        .join(Submission, Submission.id == Recipient.submission_id)
        .where(Submission.assessment_id == assessment.id)
    )
    return {row.jurisdiction: row for row in rows}


def regulator(make, *jurisdictions):
    return make.user(platform_role=PlatformRole.REGULATOR, jurisdictions=list(jurisdictions))


def new_token(session, user, name="case system") -> str:
    return tokens.create_token(session, user, name)[1]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def api_get(client, path: str, token: str | None):
    return client.get(f"{API}{path}", headers=bearer(token) if token else {})


def validate(spec: OpenAPI, response) -> None:
    """Raise unless the response is one the OpenAPI document allows for its request."""
    spec.validate_response(WerkzeugOpenAPIRequest(response.request), WerkzeugOpenAPIResponse(response))


@pytest.fixture
def world(app, make, session):
    """Two regulators (Singapore, Malaysia) and submissions addressed to one, the other, both."""
    sg, my = regulator(make, "SG"), regulator(make, "MY")
    only_sg = send(app, make, make.organisation(name="Lion Chat"), ["SG"])
    only_my = send(app, make, make.organisation(name="Tiger Pay"), ["MY"])
    both = send(app, make, make.organisation(name="Both Ways"), ["SG", "MY"])
    return {
        "sg": sg,
        "my": my,
        "sg_token": new_token(session, sg),
        "my_token": new_token(session, my),
        "only_sg": recipients(session, only_sg)["SG"],
        "only_my": recipients(session, only_my)["MY"],
        "both_sg": recipients(session, both)["SG"],
        "both_my": recipients(session, both)["MY"],
    }


# -- scope: a token sees what its account sees -------------------------------------------------


def test_list_shows_only_the_tokens_jurisdictions(client, world):
    sg = client.get(f"{API}/submissions", headers=bearer(world["sg_token"]))
    assert sg.status_code == 200
    assert {item["id"] for item in sg.json["items"]} == {world["only_sg"].id, world["both_sg"].id}
    assert {item["jurisdiction"] for item in sg.json["items"]} == {"SG"}
    assert sg.json["count"] == 2

    my = client.get(f"{API}/submissions", headers=bearer(world["my_token"]))
    assert {item["id"] for item in my.json["items"]} == {world["only_my"].id, world["both_my"].id}
    assert {item["organisation_name"] for item in my.json["items"]} == {"Tiger Pay", "Both Ways"}


def test_list_item_describes_the_submission(client, session, world):
    response = client.get(f"{API}/submissions", headers=bearer(world["sg_token"]))
    item = next(i for i in response.json["items"] if i["id"] == world["only_sg"].id)
    submission = session.get(Submission, world["only_sg"].submission_id)
    assert item["organisation_name"] == "Lion Chat"
    assert (item["cycle"], item["version"], item["status"]) == (2026, 1, "received")
    assert item["sha256"] == submission.sha256
    assert item["methodology"] == submission.methodology == METHODOLOGY
    assert item["submitted_at"].startswith(submission.submitted_at.strftime("%Y-%m-%dT%H:%M:%S"))
    assert item["links"] == {
        "self": f"{API}/submissions/{world['only_sg'].id}",
        "html": f"/review/{world['only_sg'].id}",
    }


def test_another_jurisdictions_submission_is_404_like_a_missing_one(client, world):
    foreign = api_get(client, f"/submissions/{world['only_my'].id}", world["sg_token"])
    missing = client.get(f"{API}/submissions/999999", headers=bearer(world["sg_token"]))
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json == missing.json
    # The same submission through the recipient of a jurisdiction the token has is open.
    own = client.get(f"{API}/submissions/{world['both_sg'].id}", headers=bearer(world["sg_token"]))
    assert own.status_code == 200
    assert client.get(f"{API}/submissions/{world['both_my'].id}", headers=bearer(world["sg_token"])).status_code == 404


def test_scope_follows_the_account(client, session, world):
    """A token acts as its account: when the regulator's jurisdictions change, so does its scope."""
    sg = world["sg"]
    sg.jurisdictions = ["MY"]
    session.add(sg)
    session.commit()
    response = client.get(f"{API}/submissions", headers=bearer(world["sg_token"]))
    assert {item["jurisdiction"] for item in response.json["items"]} == {"MY"}
    assert client.get(f"{API}/submissions/{world['only_sg'].id}", headers=bearer(world["sg_token"])).status_code == 404


def test_filters(app, client, make, session, world):
    transition(session, world["only_sg"], ReviewStatus.IN_REVIEW, world["sg"])
    earlier = send(app, make, make.organisation(name="Old Cycle"), ["SG"], cycle=2025)
    headers = bearer(world["sg_token"])

    in_review = client.get(f"{API}/submissions?status=in_review", headers=headers).json["items"]
    assert [item["id"] for item in in_review] == [world["only_sg"].id]
    assert in_review[0]["status_label"] == "In review"
    received = client.get(f"{API}/submissions?status=received&cycle=2026", headers=headers).json
    assert [item["id"] for item in received["items"]] == [world["both_sg"].id]
    cycle_2025 = client.get(f"{API}/submissions?cycle=2025", headers=headers).json["items"]
    assert [item["id"] for item in cycle_2025] == [recipients(session, earlier)["SG"].id]

    assert client.get(f"{API}/submissions?status=approved", headers=headers).status_code == 400
    bad_cycle = client.get(f"{API}/submissions?cycle=twenty", headers=headers)
    assert bad_cycle.status_code == 400
    assert "cycle" in bad_cycle.json["error"]["message"]


# -- the snapshot and its hash -----------------------------------------------------------------


def test_hash_in_response_is_sha256_of_the_canonical_snapshot(client, session, world):
    response = api_get(client, f"/submissions/{world['only_sg'].id}", world["sg_token"])
    body = response.json
    stored = session.get(Submission, world["only_sg"].submission_id)
    assert body["snapshot"]["format"] == "dd-toolkit/assessment"
    assert body["snapshot"]["organisation"]["name"] == "Lion Chat"
    assert canonical_json(body["snapshot"]) == stored.snapshot
    canonical = canonical_json(body["snapshot"]).encode("utf-8")
    assert body["sha256"] == hashlib.sha256(canonical).hexdigest()
    assert body["sha256"] == stored.sha256 == sha256_of(body["snapshot"])
    assert body["integrity_verified"] is True
    assert body["recipient"]["id"] == world["only_sg"].id


def test_tampered_snapshot_is_reported(client, session, world):
    stored = session.get(Submission, world["only_sg"].submission_id)
    stored.snapshot = stored.snapshot.replace("Lion Chat", "Lion Chat (edited)")
    session.add(stored)
    session.commit()
    body = api_get(client, f"/submissions/{world['only_sg'].id}", world["sg_token"]).json
    assert body["integrity_verified"] is False
    assert body["sha256"] == stored.sha256 != sha256_of(body["snapshot"])


# -- authentication ----------------------------------------------------------------------------


def test_no_token_is_401_json_not_a_redirect(client, world):
    for url in (
        f"{API}/submissions",
        f"{API}/submissions/{world['only_sg'].id}",
        f"{API}/indicators?country=SG&cycle=2026",
    ):
        response = client.get(url)
        assert response.status_code == 401, url
        assert response.is_json and response.json["error"]["status"] == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert "Location" not in response.headers


def test_unknown_or_malformed_token_is_401(client, world):
    unknown = client.get(f"{API}/submissions", headers=bearer("ddt_not-a-real-token"))
    assert unknown.status_code == 401
    assert 'error="invalid_token"' in unknown.headers["WWW-Authenticate"]
    # Only the Bearer scheme counts.
    basic = client.get(f"{API}/submissions", headers={"Authorization": f"Basic {world['sg_token']}"})
    assert basic.status_code == 401
    bare = client.get(f"{API}/submissions", headers={"Authorization": world["sg_token"]})
    assert bare.status_code == 401


def test_revoked_token_is_401(client, session, world):
    headers = bearer(world["sg_token"])
    assert client.get(f"{API}/submissions", headers=headers).status_code == 200
    row = session.exec(select(ApiToken).where(ApiToken.user_id == world["sg"].id)).one()
    tokens.revoke_token(session, row, world["sg"])
    response = client.get(f"{API}/submissions", headers=headers)
    assert response.status_code == 401
    assert response.json["error"]["status"] == 401


def test_token_of_an_account_that_may_no_longer_hold_tokens_is_401(client, session, world):
    headers = bearer(world["sg_token"])
    user = world["sg"]
    user.platform_role = PlatformRole.PLATFORM_ADMIN
    session.add(user)
    session.commit()
    assert client.get(f"{API}/submissions", headers=headers).status_code == 401
    user.platform_role = PlatformRole.REGULATOR
    user.active = False
    session.add(user)
    session.commit()
    assert client.get(f"{API}/submissions", headers=headers).status_code == 401


def test_token_use_is_recorded_and_sets_no_cookie(client, session, world):
    row = session.exec(select(ApiToken).where(ApiToken.user_id == world["sg"].id)).one()
    assert row.last_used_at is None
    response = client.get(f"{API}/submissions", headers=bearer(world["sg_token"]))
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    assert response.headers["Cache-Control"] == "no-store"
    session.refresh(row)
    assert row.last_used_at is not None


@pytest.mark.parametrize("role", [None, PlatformRole.WORKING_GROUP, PlatformRole.REGULATOR])
def test_browser_sessions_do_not_open_the_api(auth, client, make, world, role):
    """Company staff, the working group, and even a regulator signed in with a browser: the API
    knows only tokens."""
    if role is None:
        user = make.user(make.organisation())
    else:
        places = ["SG"] if role == PlatformRole.REGULATOR else []
        user = make.user(platform_role=role, jurisdictions=places)
    assert auth.login(user.email).status_code == 302
    for url in (
        f"{API}/submissions",
        f"{API}/submissions/{world['only_sg'].id}",
        f"{API}/indicators?country=SG&cycle=2026",
    ):
        response = client.get(url)
        assert response.status_code == 401, url  # the API never loads a browser session
        assert response.is_json
        assert "items" not in response.json and "snapshot" not in response.json


def test_a_token_works_from_a_client_that_carries_a_session_cookie(auth, client, make, world):
    """A browser that has opened a page, or a program that keeps cookies, sends its session cookie
    with the token: the API ignores the cookie, neither refusing the token nor touching the session."""
    headers = bearer(world["sg_token"])
    client.get("/auth/login")  # an anonymous session: the sign-in form's CSRF token
    response = client.get(f"{API}/submissions", headers=headers)
    assert response.status_code == 200 and "Set-Cookie" not in response.headers
    company = make.user(make.organisation())
    assert auth.login(company.email).status_code == 302  # a signed-in session of another account
    response = client.get(f"{API}/submissions", headers=headers)
    assert response.status_code == 200 and "Set-Cookie" not in response.headers
    assert client.get(f"{API}/submissions").status_code == 401  # the session opens nothing here
    assert client.get("/assessments/").status_code == 200  # and is still signed in on the site


def test_token_does_not_open_html_pages(client, world):
    headers = bearer(world["sg_token"])
    for url in ("/review/", f"/review/{world['only_sg'].id}", "/review/indicators?country=SG", "/api/tokens"):
        response = client.get(url, headers=headers)
        assert response.status_code == 302, url
        assert "/auth/login" in response.headers["Location"], url
    # The public home page is shown as to a visitor who is not signed in.
    home = client.get("/", headers=headers).get_data(as_text=True)
    assert "Sign out" not in home and world["sg"].name not in home


def test_post_with_a_token_is_refused(app, client, session, world):
    headers = bearer(world["sg_token"])
    # With CSRF on, a token is no way around it.
    assert (
        client.post(
            f"/review/{world['only_sg'].id}/status", data={"to_status": "in_review"}, headers=headers
        ).status_code
        == 400
    )
    # Even with CSRF checks off, a token does not sign a form in: it works only for reading.
    app.config["WTF_CSRF_ENABLED"] = False
    status = client.post(f"/review/{world['only_sg'].id}/status", data={"to_status": "in_review"}, headers=headers)
    assert status.status_code == 302 and "/auth/login" in status.headers["Location"]
    created = client.post("/api/tokens", data={"name": "made with a token"}, headers=headers)
    assert created.status_code == 302 and "/auth/login" in created.headers["Location"]
    assert client.post(f"{API}/submissions", headers=headers).status_code == 405  # no such method
    session.refresh(world["only_sg"])
    assert world["only_sg"].status == ReviewStatus.RECEIVED
    made = select(ApiToken).where(ApiToken.name == "made with a token")
    assert session.exec(made).first() is None


# -- managing tokens ---------------------------------------------------------------------------

TOKEN_RE = re.compile(r'id="new-token"[^>]*value="([^"]+)"')


def test_regulator_creates_and_revokes_a_token_on_the_page(auth, client, forms, make, session, world):
    user = regulator(make, "SG")
    auth.login(user.email)
    page = forms.post("/api/tokens", {"name": "Case management"})
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    token = TOKEN_RE.search(page.get_data(as_text=True)).group(1)
    assert token.startswith("ddt_")

    # Only the hash is stored, and the token is never shown again.
    row = session.exec(select(ApiToken).where(ApiToken.user_id == user.id)).one()
    assert row.name == "Case management"
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in (row.token_hash, row.name)
    again = client.get("/api/tokens").get_data(as_text=True)
    assert token not in again and "Case management" in again

    api = client.application.test_client()  # a program, without the browser's cookies
    assert api.get(f"{API}/submissions", headers=bearer(token)).status_code == 200

    revoked = forms.post(f"/api/tokens/{row.id}/revoke", page="/api/tokens")
    assert revoked.status_code == 302
    session.refresh(row)
    assert row.revoked
    assert api.get(f"{API}/submissions", headers=bearer(token)).status_code == 401
    assert "Revoked" in client.get("/api/tokens").get_data(as_text=True)


def test_tokens_page_is_for_regulators_and_their_own_tokens(auth, client, forms, make, session, world):
    # Another regulator's token cannot be revoked (404, as for a missing one).
    other = session.exec(select(ApiToken).where(ApiToken.user_id == world["my"].id)).one()
    auth.login(world["sg"].email)
    assert forms.post(f"/api/tokens/{other.id}/revoke", page="/api/tokens").status_code == 404
    session.refresh(other)
    assert not other.revoked
    # A form without its CSRF token is refused.
    assert client.post("/api/tokens", data={"name": "no csrf"}).status_code == 400
    auth.logout()

    company = make.user(make.organisation())
    auth.login(company.email)
    assert client.get("/api/tokens").status_code == 403
    assert "/api/tokens" not in client.get("/").get_data(as_text=True)
    auth.logout()
    # The working group manages its own tokens, and cannot revoke a regulator's.
    auth.login(make.user(platform_role=PlatformRole.WORKING_GROUP).email)
    page = client.get("/api/tokens").get_data(as_text=True)
    assert "published benchmark releases" in page and other.name not in page
    assert forms.post(f"/api/tokens/{other.id}/revoke", page="/api/tokens").status_code == 404


def test_only_regulators_and_the_working_group_get_tokens(make, session):
    with pytest.raises(tokens.TokenError):
        tokens.create_token(session, make.user(make.organisation()), "company")
    with pytest.raises(tokens.TokenError):
        tokens.create_token(session, make.user(platform_role=PlatformRole.PLATFORM_ADMIN), "admin")
    with pytest.raises(tokens.TokenError):
        tokens.create_token(session, regulator(make, "SG"), "   ")
    assert tokens.create_token(session, make.user(platform_role=PlatformRole.WORKING_GROUP), "wg")[1]


def test_a_token_sees_what_its_account_sees(client, make, session, world):
    """A working-group token reads releases and nothing else; a regulator's, never a release."""
    wg = new_token(session, make.user(platform_role=PlatformRole.WORKING_GROUP))
    assert api_get(client, "/submissions", wg).status_code == 403
    assert api_get(client, "/indicators?country=SG&cycle=2026", wg).status_code == 403
    assert api_get(client, "/benchmark", world["sg_token"]).status_code == 403
    assert api_get(client, "/benchmark", wg).status_code == 404  # no release yet


@pytest.fixture
def run(database_url, tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("DD_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setattr("dd_toolkit.web.config.Config.DATABASE_URL", database_url)

    def invoke(*args):
        return CliRunner().invoke(cli, ["--content", str(FIXTURE_CONTENT), *args])

    return invoke


def test_cli_creates_a_token_for_a_regulator_only(run, client, make, session, world):
    user = regulator(make, "SG")
    result = run("create-token", "--email", user.email, "--name", "Nightly export")
    assert result.exit_code == 0, result.output
    token = result.stdout.strip().splitlines()[-1]
    assert token.startswith("ddt_")
    row = session.exec(select(ApiToken).where(ApiToken.name == "Nightly export")).one()
    assert row.user_id == user.id and row.token_hash == tokens.hash_token(token)
    assert client.get(f"{API}/submissions", headers=bearer(token)).status_code == 200

    company = make.user(make.organisation())
    refused = run("create-token", "--email", company.email, "--name", "nope")
    assert refused.exit_code != 0 and "regulator" in refused.output
    assert run("create-token", "--email", "nobody@example.org", "--name", "x").exit_code != 0


# -- RPA indicator counts ----------------------------------------------------------------------

A_PAYMENTS_AND_SOCIAL = {"service_types": ["social_network", "payments"]}
SOCIAL_ONLY = {"service_types": ["social_network"]}
PAYMENTS_ONLY = {"service_types": ["payments"]}


def _answers(make, **changes):
    answers = make.complete_answers()
    for key, value in changes.items():
        if value is None:
            answers.pop(key)
        else:
            answers[key] = value
    return answers


@pytest.fixture
def indicator_world(app, make, session):
    """Submissions to Singapore for cycle 2026, built so the counts can be worked out by hand:

    - Alpha (social network, payments): policy yes, covers online, reports transactions: meets
      7.4.1 (policy, online) and 7.3.1 (mechanism).
    - Beta (social network): version 1 covers staff only; version 2, answering a clarification,
      covers online too. Only the latest version counts: meets 7.4.1; 7.3.1 does not apply.
    - Gamma (payments): no policy, reports transactions only partly: meets neither.
    - Delta submitted to Malaysia only, Epsilon to Singapore for 2025: neither is counted.
    """
    alpha = send(
        app,
        make,
        make.organisation(name="Alpha", **A_PAYMENTS_AND_SOCIAL),
        ["SG"],
        answers=_answers(make, **{"mini.ops.payments": "yes"}),
    )
    beta_org = make.organisation(name="Beta", **SOCIAL_ONLY)
    beta_v1 = send(
        app,
        make,
        beta_org,
        ["SG"],
        answers=_answers(make, **{"mini.policy.scope": ["staff"], "mini.policy.reviewed": None}),
    )
    beta_v2 = send(
        app,
        make,
        beta_org,
        ["SG"],
        assessment=new_version(session, make.bank, beta_v1, None),
        answers={"mini.policy.scope": ["online", "staff"], "mini.policy.reviewed": "2026-02-01"},
    )
    gamma = send(
        app,
        make,
        make.organisation(name="Gamma", **PAYMENTS_ONLY),
        ["SG"],
        answers=_answers(
            make,
            **{
                "mini.policy.exists": "no",
                "mini.policy.scope": None,
                "mini.policy.reviewed": None,
                "mini.ops.payments": "partial",
            },
        ),
    )
    send(app, make, make.organisation(name="Delta", **PAYMENTS_ONLY), ["MY"])
    send(app, make, make.organisation(name="Epsilon", **PAYMENTS_ONLY), ["SG"], cycle=2025)
    user = regulator(make, "SG")
    return {"user": user, "token": new_token(session, user), "alpha": alpha, "beta": beta_v2, "gamma": gamma}


# (meeting, institutions it applies to, companies meeting it), worked out by hand from the
# fixture methodology: RPA:7.4.1 needs both components; RPA:7.3.1 applies to payment services.
EXPECTED = {
    "all": {
        "RPA:7.4.1": (2, 3, ["Alpha", "Beta"]),
        "RPA:7.4.1/policy": (2, 3, ["Alpha", "Beta"]),
        "RPA:7.4.1/online": (2, 3, ["Alpha", "Beta"]),
        "RPA:7.3.1": (1, 2, ["Alpha"]),
        "RPA:7.3.1/mechanism": (1, 2, ["Alpha"]),
    },
    "payments": {
        "RPA:7.4.1": (1, 2, ["Alpha"]),
        "RPA:7.4.1/policy": (1, 2, ["Alpha"]),
        "RPA:7.4.1/online": (1, 2, ["Alpha"]),
        "RPA:7.3.1": (1, 2, ["Alpha"]),
        "RPA:7.3.1/mechanism": (1, 2, ["Alpha"]),
    },
    "social_network": {
        "RPA:7.4.1": (2, 2, ["Alpha", "Beta"]),
        "RPA:7.4.1/policy": (2, 2, ["Alpha", "Beta"]),
        "RPA:7.4.1/online": (2, 2, ["Alpha", "Beta"]),
        # Beta is a social network without payments, so 7.3.1 applies to Alpha alone here.
        "RPA:7.3.1": (1, 1, ["Alpha"]),
        "RPA:7.3.1/mechanism": (1, 1, ["Alpha"]),
    },
}


def test_indicator_counts_equal_counts_by_hand(client, indicator_world):
    response = api_get(client, "/indicators?country=SG&cycle=2026", indicator_world["token"])
    assert response.status_code == 200
    body = response.json
    assert (body["jurisdiction"], body["cycle"], body["institutions"]) == ("SG", 2026, 3)
    got: dict[str, dict[str, tuple]] = {}
    for row in body["rows"]:
        got.setdefault(row["service_type"], {})[row["indicator"]] = (
            row["meeting"],
            row["institutions"],
            sorted(row["companies"]),
        )
    assert got == EXPECTED


def test_indicator_counts_are_the_html_reports(auth, client, indicator_world):
    api = api_get(client, "/indicators?country=SG&cycle=2026", indicator_world["token"]).json
    auth.login(indicator_world["user"].email)
    exported = client.get("/review/indicators.csv?country=SG&cycle=2026")
    assert exported.status_code == 200
    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
    from_html = [
        (
            r["service_type"],
            r["indicator"],
            int(r["meeting"]),
            int(r["institutions"]),
            sorted(filter(None, r["companies"].split("; "))),
        )
        for r in rows
        if r["indicator"] != "note"  # the CSV's last row states the not-applicable convention
    ]
    assert rows[-1]["indicator"] == "note" and rows[-1]["label"] == api["note"]
    from_api = [
        (r["service_type"], r["indicator"], r["meeting"], r["institutions"], sorted(r["companies"]))
        for r in api["rows"]
    ]
    assert from_api == from_html


def test_indicator_parameters(client, indicator_world):
    headers = bearer(indicator_world["token"])
    assert client.get(f"{API}/indicators?cycle=2026", headers=headers).status_code == 400
    assert client.get(f"{API}/indicators?country=SG", headers=headers).status_code == 400
    assert client.get(f"{API}/indicators?country=SG&cycle=soon", headers=headers).status_code == 400
    # Another jurisdiction, one the token has not, is not found.
    assert client.get(f"{API}/indicators?country=MY&cycle=2026", headers=headers).status_code == 404
    assert client.get(f"{API}/indicators?country=XX&cycle=2026", headers=headers).status_code == 404
    empty = client.get(f"{API}/indicators?country=SG&cycle=2030", headers=headers).json
    assert empty["institutions"] == 0 and empty["rows"] == []


# -- the OpenAPI document ----------------------------------------------------------------------


def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule)


def test_openapi_document_is_public_valid_and_complete(app, client):
    response = client.get(f"{API}/openapi.json")
    assert response.status_code == 200
    assert response.json == document()
    spec = OpenAPI.from_dict(response.json)  # checks the document against the OpenAPI 3.1 schema
    assert spec.spec["openapi"] == "3.1.0"
    routes = {
        (_openapi_path(rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("api.")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    documented = {(path, method) for path, item in response.json["paths"].items() for method in item}
    assert routes == documented


def test_every_api_response_matches_the_openapi_document(app, client, make, session, world, indicator_world):
    spec = OpenAPI.from_dict(document())
    for _ in range(5):  # five consenting submissions: the first release
        make.submitted(make.organisation(), consent=True)
    wg = new_token(session, make.user(platform_role=PlatformRole.WORKING_GROUP), "dashboards")
    sg, revoked = world["sg_token"], new_token(session, world["sg"], "old")
    tokens.revoke_token(session, session.exec(select(ApiToken).where(ApiToken.name == "old")).one(), world["sg"])
    transition(session, world["only_sg"], ReviewStatus.IN_REVIEW, world["sg"])
    calls = [
        (f"{API}/openapi.json", None),
        (f"{API}/submissions", sg),
        (f"{API}/submissions?status=in_review&cycle=2026", sg),
        (f"{API}/submissions?status=reviewed", sg),
        (f"{API}/submissions?status=nonsense", sg),
        (f"{API}/submissions?cycle=x", sg),
        (f"{API}/submissions", None),
        (f"{API}/submissions", revoked),
        (f"{API}/submissions/{world['only_sg'].id}", sg),
        (f"{API}/submissions/{world['both_sg'].id}", sg),
        (f"{API}/submissions/{world['only_my'].id}", sg),
        (f"{API}/submissions/424242", sg),
        (f"{API}/submissions/{world['only_sg'].id}", None),
        (f"{API}/indicators?country=SG&cycle=2026", indicator_world["token"]),
        (f"{API}/indicators?country=SG&cycle=2026", sg),
        (f"{API}/indicators?country=SG&cycle=1999", sg),
        (f"{API}/indicators?country=SG", sg),
        (f"{API}/indicators?cycle=2026", sg),
        (f"{API}/indicators?country=MY&cycle=2026", sg),
        (f"{API}/indicators?country=SG&cycle=2026", None),
        (f"{API}/benchmark", wg),
        (f"{API}/benchmark?release=1&cycle=2026", wg),
        (f"{API}/benchmark?release=9", wg),
        (f"{API}/benchmark?cycle=x", wg),
        (f"{API}/benchmark", None),
        # A token whose account may not read the operation.
        (f"{API}/submissions", wg),
        (f"{API}/submissions/{world['only_sg'].id}", wg),
        (f"{API}/indicators?country=SG&cycle=2026", wg),
        (f"{API}/benchmark", sg),
    ]
    seen = set()

    def check(url, token):
        response = client.get(url, headers=bearer(token) if token else {})
        validate(spec, response)
        path = re.sub(r"/submissions/\d+$", "/submissions/{recipient_id}", url.split("?")[0])
        seen.add((path, response.status_code))
        return response

    for url, token in calls:
        check(url, token)
    # Past the API's limit, every operation answers 429 with Retry-After, in the error shape.
    app.config["RATELIMIT_API"] = "1 per hour"
    for url, token in (
        (f"{API}/openapi.json", None),
        (f"{API}/submissions", sg),
        (f"{API}/submissions/{world['only_sg'].id}", sg),
        (f"{API}/indicators?country=SG&cycle=2026", indicator_world["token"]),
        (f"{API}/benchmark", wg),
    ):
        check(url, token)
        limited = check(url, token)
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0, url
    # Every status the document promises for every path was produced and checked.
    promised = {
        (path, int(status)) for path, item in document()["paths"].items() for status in item["get"]["responses"]
    }
    assert promised <= seen, promised - seen


# -- errors: JSON in the documented shape, whatever went wrong ----------------------------------


def _assert_error(response, status: int) -> None:
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:200])
    assert response.mimetype == "application/json"
    assert response.json == {
        "error": {
            "status": status,
            "title": response.json["error"]["title"],
            "message": response.json["error"]["message"],
        }
    }
    assert response.json["error"]["title"] and response.json["error"]["message"]


def test_unknown_api_paths_and_methods_are_json(client, world):
    headers = bearer(world["sg_token"])
    for path in ("/nope", "/submissions/1.5", "/submissions/abc", "/submissions/-1", "/"):
        _assert_error(client.get(f"{API}{path}", headers=headers), 404)
    _assert_error(client.get(API), 404)
    for method in ("POST", "PUT", "PATCH", "DELETE", "TRACE"):
        for path in ("/submissions", f"/submissions/{world['only_sg'].id}", "/indicators", "/openapi.json"):
            response = client.open(f"{API}{path}", method=method, headers=headers)
            _assert_error(response, 405)
            assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}, (method, path)
    # Outside the API an error is still a page, and a 405 there names the allowed methods too.
    page = client.open("/", method="TRACE")
    assert page.status_code == 405 and page.mimetype == "text/html" and "GET" in page.headers["Allow"]


@pytest.mark.parametrize(
    "query",
    [
        "cycle=9223372036854775808",  # 2^63
        "cycle=18446744073709551616",  # 2^64
        "cycle=" + "9" * 400,
        "cycle=",
        "cycle=2026.0",
        "cycle=%202026",
        "cycle=%EF%BC%92%EF%BC%90",  # full-width digits
        "cycle=0",
        "cycle=10000",
        "page=0",
        "page=9223372036854775808",
        "page=",
        "status=",
        "status=Received",
        "status=%20received",
    ],
)
def test_bad_list_parameters_are_400_never_500(client, world, query):
    _assert_error(client.get(f"{API}/submissions?{query}", headers=bearer(world["sg_token"])), 400)


@pytest.mark.parametrize(
    "query",
    ["country=&cycle=2026", "country=sg&cycle=2026", "country=SGP&cycle=2026", "country=SG&cycle=99999999999999999999"],
)
def test_bad_indicator_parameters_are_400(client, world, query):
    _assert_error(client.get(f"{API}/indicators?{query}", headers=bearer(world["sg_token"])), 400)


def test_ids_beyond_a_database_integer_are_404(client, make, session, world):
    headers = bearer(world["sg_token"])
    for number in (2**31 - 1, 2**31, 2**63 - 1, 2**63, 2**64, 10**400):
        _assert_error(client.get(f"{API}/submissions/{number}", headers=headers), 404)
    wg = bearer(new_token(session, make.user(platform_role=PlatformRole.WORKING_GROUP)))
    _assert_error(client.get(f"{API}/benchmark?release=9223372036854775808", headers=wg), 400)
    _assert_error(client.get(f"{API}/benchmark?release=1&cycle=-1", headers=wg), 400)


def test_a_server_error_is_json(app, client, world, monkeypatch):
    app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production: the handler answers, not the test client

    def broken(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr("dd_toolkit.web.api.routes.inbox", broken)
    response = client.get(f"{API}/submissions", headers=bearer(world["sg_token"]))
    _assert_error(response, 500)
    assert "database" not in response.get_data(as_text=True)  # no internals leak


def test_validation_catches_a_response_that_breaks_the_document(client, world):
    """The check above is real: a response the document does not allow fails it."""
    from openapi_core.templating.responses.exceptions import ResponseNotFound
    from openapi_core.validation.response.exceptions import InvalidData

    spec = OpenAPI.from_dict(document())
    response = client.get(f"{API}/submissions", headers=bearer(world["sg_token"]))
    response.set_data(response.get_data(as_text=True).replace('"count":2', '"count":"two"'))
    with pytest.raises(InvalidData):
        validate(spec, response)
    response.status_code = 418
    with pytest.raises(ResponseNotFound):
        validate(spec, response)

"""One authoriser for every route, and no way into another organisation's assessments."""

import pytest

from .conftest import Forms


def test_every_route_declares_a_policy(app):
    missing = [
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static" and getattr(app.view_functions[rule.endpoint], "_dd_policy", None) is None
    ]
    assert missing == []


def test_a_route_without_policy_is_refused(app, client):
    @app.route("/forgotten")
    def forgotten():
        return "should never be served"

    assert client.get("/forgotten").status_code == 403


# A valid value for every URL argument the app uses, so each route can be requested.
SAMPLE_ARGUMENTS = {
    "section_id": "mini.policy",
    "name": "sections",
    "item_id": "policy",
    "fmt": "md",
    "recipient_id": 1,
    "harm": "grooming",
    "age_group": "age_13_15",
}


def _assessment_urls(app, assessment_id: int) -> list[tuple[str, str]]:
    """Every URL of the app that takes an assessment id, with its methods."""
    urls = []
    for rule in app.url_map.iter_rules():
        if "assessment_id" not in rule.arguments:
            continue
        values = {**SAMPLE_ARGUMENTS, "assessment_id": assessment_id}
        path = rule.build({k: v for k, v in values.items() if k in rule.arguments})[1]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            urls.append((method, path))
    return urls


def test_other_organisation_gets_404_on_every_assessment_url(app, make, auth, client):
    victim = make.organisation(name="Victim Co")
    victim_admin = make.user(victim)
    draft = make.assessment(victim, victim_admin, answers={"mini.policy.owner": 4})
    submitted = make.submitted(victim, victim_admin, cycle=2025)
    attacker_org = make.organisation(name="Attacker Co")
    attacker = make.user(attacker_org)
    auth.login(attacker.email)
    token_page = "/assessments/"
    checked = 0
    for target in (draft, submitted):
        for method, path in _assessment_urls(app, target.id):
            if method == "GET":
                response = client.get(path)
            else:
                response = Forms(client).post(path, {"mini-policy-owner-value": "0"}, page=token_page)
            assert response.status_code == 404, (method, path, response.status_code)
            assert "Victim Co" not in response.get_data(as_text=True)
            checked += 1
    assert checked >= 10
    # Pre-filling a new assessment from someone else's is refused too.
    response = Forms(client).post("/assessments/new", {"cycle": "2026", "prefill_from": str(draft.id)}, page=token_page)
    # The pre-fill choices are the user's own assessments: another's id is not a valid choice, so the
    # form goes back to the list with its error, and nothing of the victim's is read.
    assert response.status_code == 302 and response.headers["Location"].endswith("/assessments/")
    assert "Victim" not in client.get("/assessments/").get_data(as_text=True)


def test_platform_accounts_see_no_company_data(app, make, auth, client):
    from dd_toolkit.records.models import PlatformRole

    org = make.organisation()
    assessment = make.assessment(org, make.user(org), answers={"mini.policy.owner": 2})
    for role in (PlatformRole.REGULATOR, PlatformRole.WORKING_GROUP, PlatformRole.PLATFORM_ADMIN):
        user = make.user(platform_role=role, jurisdictions=["SG"])
        auth.login(user.email)
        for method, path in _assessment_urls(app, assessment.id):
            if method == "GET":
                assert client.get(path).status_code == 403, path
        assert client.get("/assessments/").status_code == 403
        assert client.get("/organisation/profile").status_code == 403
        auth.logout()


@pytest.mark.parametrize("path", ["/", "/auth/login", "/auth/register", "/healthz"])
def test_public_pages(client, path):
    assert client.get(path).status_code == 200


# The routes a signed-in user may reach that answer other than 200 in the smoke pass below (every
# route, every identity and every object: tests/test_access_matrix.py).
NOT_A_PAGE = {
    "auth.login": 302,  # a signed-in user is sent on
    "auth.register": 302,
    "assess.submit_assessment": 302,  # already submitted
    "assess.assignments": 302,  # a submitted assessment takes no assignment
    "benchmarks.export": 404,  # one consenting company makes no release: no figures to export or plot
    "benchmarks.box_plot": 404,
    "risk.cell": 404,  # the test content has no age groups, so the register has no cell to show
    "outputs.risk_assessment_export": 404,  # no register, so no record of one
}


@pytest.mark.parametrize("role", ["company_admin", "working_group"])
def test_every_get_route_answers_for_its_intended_user(app, make, auth, client, role):
    """A smoke pass over every GET route: nothing errors, and a 403 only where the one
    authoriser refuses the user's role."""
    from dd_toolkit.records.models import PlatformRole
    from dd_toolkit.web.authz import can

    org = make.organisation()
    admin = make.user(org)
    assessment = make.submitted(org, admin, consent=True)
    user = admin if role == "company_admin" else make.user(platform_role=PlatformRole.WORKING_GROUP)
    auth.login(user.email)
    with app.test_request_context():
        from dd_toolkit.web import db

        signed_in = db.session().get(type(user), user.id)
        allowed = {
            rule.endpoint: can(signed_in, app.view_functions[rule.endpoint]._dd_policy)
            for rule in app.url_map.iter_rules()
            if rule.endpoint != "static"
        }
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static" or "token" in rule.arguments:
            continue
        if rule.endpoint.startswith("api."):
            continue  # token-authenticated, for programs: tests/test_api.py covers it
        values = {**SAMPLE_ARGUMENTS, "assessment_id": assessment.id, "cycle": 2026, "metric": "overall"}
        path = rule.build({k: v for k, v in values.items() if k in rule.arguments})[1]
        response = client.get(path)
        if allowed[rule.endpoint]:
            expected = NOT_A_PAGE.get(rule.endpoint, 200)
            assert response.status_code == expected, (path, response.status_code)
        else:
            assert response.status_code == 403, (path, response.status_code)

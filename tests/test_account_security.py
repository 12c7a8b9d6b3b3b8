"""Account security (issue 12, findings 1, 5 and 6; build items 10 and 18): separation of duties
for regulator accounts, revocable sessions, abuse limits, the password policy, and account,
link and token life cycles."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlmodel import select

from dd_toolkit.cli import main as cli
from dd_toolkit.records import accounts
from dd_toolkit.records.models import ApiToken, AuditEvent, PlatformRole, RegulatorGrant, User, utcnow
from dd_toolkit.web.api import tokens

from .conftest import FIXTURE_CONTENT, AuthActions, Forms, csrf_token, make_app
from .factories import PASSWORD

WEAK = ("aaaaaaaaaaaa", "password1234")


def _from(app, address: str):
    """A test client at another network address."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def _actions(session, action: str) -> list[AuditEvent]:
    return list(session.exec(select(AuditEvent).where(AuditEvent.action == action)))


@pytest.fixture
def run(database_url, tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("DD_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setattr("dd_toolkit.web.config.Config.DATABASE_URL", database_url)

    def invoke(*args, input=None):
        return CliRunner().invoke(cli, ["--content", str(FIXTURE_CONTENT), *args], input=input)

    return invoke


@pytest.fixture
def limited(database_url, tmp_path, monkeypatch):
    """An app with small limits, so a test reaches them quickly."""
    monkeypatch.setenv("DD_INSTANCE_PATH", str(tmp_path / "instance"))
    apps = []

    def build(**limits):
        app = make_app(database_url, tmp_path, **limits)
        apps.append(app)
        return app

    yield build
    for app in apps:
        app.extensions["dd_engine"].dispose()


# -- finding 1: separation of duties -----------------------------------------------------------


def test_platform_admin_cannot_grant_themselves_a_regulators_view(client, auth, forms, make, session):
    """The reported attack: the admin creates a regulator for every jurisdiction. No link is
    shown, the account sees nothing, and the admin cannot confirm it."""
    admin = make.user(platform_role=PlatformRole.PLATFORM_ADMIN)
    auth.login(admin.email)
    everywhere = ["BN", "KH", "ID", "LA", "MY", "MM", "PH", "SG", "TH", "VN"]
    response = forms.post(
        "/admin/accounts",
        {"name": "Sock Puppet", "email": "puppet@example.org", "role": "regulator", "jurisdictions": everywhere},
    )
    assert response.status_code == 302
    page = client.get("/admin/accounts").get_data(as_text=True)
    assert "/auth/invite/" not in page
    puppet = session.exec(select(User).where(User.email == "puppet@example.org")).one()
    assert puppet.jurisdictions == [] and puppet.invite_token_hash is None and puppet.created_by_id == admin.id
    assert client.get("/auth/confirmations").status_code == 403
    grants = accounts.pending_grants(session, puppet)
    assert len(grants) == len(everywhere)
    with pytest.raises(accounts.AccountError):
        accounts.confirm_grant(session, grants[0], by=admin)
    assert session.get(RegulatorGrant, grants[0].id).confirmed_at is None
    assert _actions(session, "regulator.confirm_refused")
    assert len(_actions(session, "regulator.request")) == len(everywhere)
    assert _actions(session, "account.invite")[0].detail["awaiting_confirmation"] is True


def test_a_regulator_confirms_only_others_in_their_own_jurisdictions(make, session):
    requester = make.user(platform_role=PlatformRole.PLATFORM_ADMIN)
    sg = make.user(platform_role=PlatformRole.REGULATOR, jurisdictions=["SG"])
    new, token = accounts.invite_platform_user(
        session,
        email="new@regulator.example",
        name="New",
        role=PlatformRole.REGULATOR,
        jurisdictions=["SG", "TH"],
        invited_by=requester,
    )
    assert token is None
    by_place = {g.jurisdiction: g for g in accounts.pending_grants(session, new)}
    assert [g.jurisdiction for g, _u in accounts.grants_to_confirm(session, sg)] == ["SG"]
    with pytest.raises(accounts.AccountError):
        accounts.confirm_grant(session, by_place["TH"], by=sg)  # not their jurisdiction
    link = accounts.confirm_grant(session, by_place["SG"], by=sg)
    assert link and accounts.user_for_invite(session, link).id == new.id
    session.refresh(new)
    assert new.jurisdictions == ["SG"]
    # The new regulator cannot confirm their own pending jurisdiction.
    with pytest.raises(accounts.AccountError):
        accounts.confirm_grant(session, by_place["TH"], by=new)
    event = _actions(session, "regulator.confirm")[-1]
    assert event.user_id == sg.id and event.detail["via"] == "regulator" and event.detail["invitation_issued"]


def test_a_new_jurisdiction_on_a_regulator_awaits_confirmation(client, auth, forms, make, session):
    regulator = make.user(platform_role=PlatformRole.REGULATOR, jurisdictions=["SG"])
    auth.login(make.user(platform_role=PlatformRole.PLATFORM_ADMIN).email)
    response = forms.post(
        "/admin/accounts/jurisdictions",
        {"more-email": regulator.email, "more-jurisdictions": ["TH", "VN"]},
        page="/admin/accounts",
    )
    assert response.status_code == 302
    session.expire_all()
    assert session.get(User, regulator.id).jurisdictions == ["SG"]
    assert sorted(g.jurisdiction for g in accounts.pending_grants(session, regulator)) == ["TH", "VN"]
    assert "TH, VN" in client.get("/admin/accounts").get_data(as_text=True)


def test_a_regulator_cannot_confirm_a_request_they_made(make, session):
    sg = make.user(platform_role=PlatformRole.REGULATOR, jurisdictions=["SG"])
    other = make.user(platform_role=PlatformRole.REGULATOR, jurisdictions=["MY"])
    accounts.request_jurisdictions(session, other, ["SG"], by=sg)
    assert accounts.grants_to_confirm(session, sg) == []
    with pytest.raises(accounts.AccountError):
        accounts.confirm_grant(session, accounts.pending_grants(session, other)[0], by=sg)


def test_the_confirmation_page_confirms_and_declines(client, auth, forms, make, session):
    admin = make.user(platform_role=PlatformRole.PLATFORM_ADMIN)
    sg = make.user(platform_role=PlatformRole.REGULATOR, jurisdictions=["SG", "MY"])
    one, _ = accounts.invite_platform_user(
        session,
        email="one@example.org",
        name="One",
        role=PlatformRole.REGULATOR,
        jurisdictions=["SG"],
        invited_by=admin,
    )
    two, _ = accounts.invite_platform_user(
        session,
        email="two@example.org",
        name="Two",
        role=PlatformRole.REGULATOR,
        jurisdictions=["MY"],
        invited_by=admin,
    )
    auth.login(sg.email)
    assert "2 accounts or jurisdictions await your confirmation" in client.get("/auth/account").get_data(as_text=True)
    by_user = {g.user_id: g.id for g in accounts.pending_grants(session)}
    declined = forms.post(f"/auth/confirmations/{by_user[two.id]}/decline", page="/auth/confirmations")
    assert declined.status_code == 302
    session.expire_all()
    assert session.get(RegulatorGrant, by_user[two.id]) is None
    assert _actions(session, "regulator.decline")[0].user_id == sg.id
    confirmed = forms.post(f"/auth/confirmations/{by_user[one.id]}/confirm", page="/auth/confirmations")
    assert confirmed.status_code == 200
    assert confirmed.headers["Cache-Control"] == "no-store"
    assert "/auth/invite/" in confirmed.get_data(as_text=True)
    session.refresh(one)
    assert one.jurisdictions == ["SG"]
    # Someone else's grant, or one already decided: 404.
    assert forms.post(f"/auth/confirmations/{by_user[one.id]}/confirm", page="/").status_code == 404


def test_operator_confirms_only_a_jurisdictions_first_regulator(run, make, session):
    make.user(platform_role=PlatformRole.REGULATOR, jurisdictions=["SG"])
    created = run(
        "create-user",
        *("--email", "first@example.org", "--name", "First Regulator", "--role", "regulator"),
        *("--jurisdiction", "BN", "--jurisdiction", "SG", "--password", PASSWORD),
    )
    assert created.exit_code == 0, created.output
    assert "confirm-regulator first@example.org" in created.output
    user = session.exec(select(User).where(User.email == "first@example.org")).one()
    assert user.jurisdictions == []
    confirmed = run("confirm-regulator", "first@example.org")
    assert confirmed.exit_code == 0, confirmed.output
    assert "confirmed BN" in confirmed.output and "left to the regulators of SG" in confirmed.output
    assert "/auth/invite/" not in confirmed.output  # the account has its password already
    session.expire_all()
    assert session.get(User, user.id).jurisdictions == ["BN"]
    event = _actions(session, "regulator.confirm")[-1]
    assert event.user_id is None and event.detail["via"] == "operator"
    assert run("confirm-regulator", "nobody@example.org").exit_code != 0


def test_operator_confirmation_issues_the_invitation_of_an_admin_created_regulator(run, make, session):
    admin = make.user(platform_role=PlatformRole.PLATFORM_ADMIN)
    accounts.invite_platform_user(
        session,
        email="inv@example.org",
        name="Inv",
        role=PlatformRole.REGULATOR,
        jurisdictions=["KH"],
        invited_by=admin,
    )
    result = run("confirm-regulator", "inv@example.org")
    assert result.exit_code == 0, result.output
    token = re.search(r"/auth/invite/(\S+)", result.output).group(1)
    assert accounts.user_for_invite(session, token).email == "inv@example.org"


def test_the_creator_of_an_account_cannot_complete_its_invitation(client, auth, forms, make, session):
    org = make.organisation()
    admin = make.user(org)
    auth.login(admin.email)
    page = forms.post(
        "/organisation/members", {"name": "Ana", "email": "ana@example.org", "role": "contributor"}
    ).get_data(as_text=True)
    path = page.split('readonly value="')[1].split('"')[0].split("localhost", 1)[1]
    assert client.get(path).status_code == 403
    token = csrf_token(client, "/")
    refused = client.post(path, data={"password": PASSWORD, "confirm": PASSWORD, "csrf_token": token})
    assert refused.status_code == 403
    member = session.exec(select(User).where(User.email == "ana@example.org")).one()
    session.refresh(member)
    assert member.password_hash is None
    assert _actions(session, "account.invite_refused")[0].user_id == admin.id


def test_the_demo_regulator_is_confirmed_by_the_operator_path(run, session, client):
    assert run("load-demo").exit_code == 0
    regulator = session.exec(select(User).where(User.email == "regulator@demo.example")).one()
    assert regulator.jurisdictions == ["MY", "SG"]
    grants = list(session.exec(select(RegulatorGrant).where(RegulatorGrant.user_id == regulator.id)))
    assert {g.confirmed_via for g in grants} == {"operator"}


# -- finding 5: sessions -------------------------------------------------------------------------


def _cookie(client, name):
    cookie = client.get_cookie(name)
    return cookie.value if cookie else None


def test_sign_out_ends_the_old_session_cookie(client, auth, make):
    user = make.user(make.organisation())
    auth.login(user.email)
    stolen = _cookie(client, "session")
    assert client.get("/assessments/").status_code == 200
    auth.logout()
    client.set_cookie("session", stolen)
    assert client.get("/assessments/").status_code == 302


def test_the_csrf_token_from_before_sign_in_is_void_after_it(client, auth, make):
    user = make.user(make.organisation())
    before = csrf_token(client, "/auth/login")
    auth.login(user.email)
    response = client.post("/auth/logout", data={"csrf_token": before})
    assert response.status_code == 400
    assert client.get("/assessments/").status_code == 200  # still signed in


def test_remember_me_differs_per_sign_in_is_revocable_and_well_flagged(app, make):
    user = make.user(make.organisation())
    first, second = app.test_client(), app.test_client()
    for c in (first, second):
        Forms(c).post("/auth/login", {"email": user.email, "password": PASSWORD, "remember": "y"})
    one, two = _cookie(first, "remember_token"), _cookie(second, "remember_token")
    assert one and two and one != two
    header = next(
        h
        for h in Forms(app.test_client())
        .post("/auth/login", {"email": user.email, "password": PASSWORD, "remember": "y"})
        .headers.getlist("Set-Cookie")
        if h.startswith("remember_token=")
    )
    assert "HttpOnly" in header and "SameSite=Lax" in header
    expires = re.search(r"Expires=([^;]+)", header).group(1)
    from email.utils import parsedate_to_datetime

    assert timedelta(days=13) < parsedate_to_datetime(expires) - utcnow() <= timedelta(days=14, minutes=1)
    # The remember-me cookie alone signs in again...
    fresh = app.test_client()
    fresh.set_cookie("remember_token", one)
    assert fresh.get("/assessments/").status_code == 200
    # ...until the account signs out anywhere.
    AuthActions(second).logout()
    again = app.test_client()
    again.set_cookie("remember_token", one)
    assert again.get("/assessments/").status_code == 302
    assert first.get("/assessments/").status_code == 302


def test_remember_me_is_secure_when_secure_cookies_are_on(limited, make):
    from dd_toolkit.web.config import Config

    assert Config.REMEMBER_COOKIE_SECURE == Config.SESSION_COOKIE_SECURE
    app = limited(SESSION_COOKIE_SECURE=True)
    user = make.user(make.organisation())
    c = app.test_client()
    token = csrf_token(c, "/auth/login")
    response = c.post(
        "/auth/login", data={"email": user.email, "password": PASSWORD, "remember": "y", "csrf_token": token}
    )
    remember = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("remember_token="))
    assert "Secure" in remember


def test_changing_the_password_ends_every_other_session(app, make, session):
    user = make.user(make.organisation())
    here, elsewhere = app.test_client(), app.test_client()
    AuthActions(here).login(user.email)
    AuthActions(elsewhere).login(user.email)
    changed = Forms(here).post(
        "/auth/account",
        {"current": PASSWORD, "password": "a brand new passphrase", "confirm": "a brand new passphrase"},
    )
    assert changed.status_code == 302
    assert here.get("/assessments/").status_code == 200
    assert elsewhere.get("/assessments/").status_code == 302
    weak = Forms(here).post(
        "/auth/account", {"current": "a brand new passphrase", "password": WEAK[0], "confirm": WEAK[0]}
    )
    assert "too easy to guess" in weak.get_data(as_text=True)
    assert _actions(session, "account.password_change")


def test_deactivation_ends_sessions_and_revokes_tokens(app, client, auth, make, session):
    regulator = make.user(platform_role=PlatformRole.REGULATOR, jurisdictions=["SG"])
    _row, token = tokens.create_token(session, regulator, "nightly")
    theirs = app.test_client()
    AuthActions(theirs).login(regulator.email)
    assert theirs.get("/review/").status_code == 200
    headers = {"Authorization": f"Bearer {token}"}
    assert theirs.get("/api/v1/submissions", headers=headers).status_code == 200
    auth.login(make.user(platform_role=PlatformRole.PLATFORM_ADMIN).email)
    done = Forms(client).post(f"/admin/accounts/{regulator.id}/deactivate", page="/admin/accounts")
    assert done.status_code == 302
    assert theirs.get("/review/").status_code == 302
    assert app.test_client().get("/api/v1/submissions", headers=headers).status_code == 401
    session.expire_all()
    assert all(row.revoked for row in session.exec(select(ApiToken).where(ApiToken.user_id == regulator.id)))
    assert _actions(session, "account.deactivate")[0].detail["revoked_tokens"]
    # Reactivated, the account signs in again, but its tokens stay revoked.
    Forms(client).post(f"/admin/accounts/{regulator.id}/reactivate", page="/admin/accounts")
    assert app.test_client().get("/api/v1/submissions", headers=headers).status_code == 401


# -- finding 6 and build 10: lockout, limits and passwords --------------------------------------


def test_failed_sign_ins_lock_the_account_with_429(limited, make):
    app = limited()
    user = make.user(make.organisation())
    c = app.test_client()
    for _ in range(5):
        assert AuthActions(c).login(user.email, "wrong password here").status_code == 200
    locked = AuthActions(c).login(user.email)  # even the right password
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) > 0
    # Another address is locked out of this account too, but not of another one.
    other = _from(app, "10.0.0.9")
    assert AuthActions(other).login(user.email).status_code == 429
    assert AuthActions(other).login(make.user(make.organisation()).email).status_code == 302


def test_successful_sign_ins_do_not_count(limited, make):
    app = limited()
    user = make.user(make.organisation())
    for _ in range(7):
        c = app.test_client()
        assert AuthActions(c).login(user.email).status_code == 302


def test_failed_sign_ins_are_limited_per_address(limited, make):
    app = limited(RATELIMIT_LOGIN_ADDRESS="3 per 15 minutes")
    c = app.test_client()
    for n in range(3):
        assert AuthActions(c).login(f"nobody{n}@example.org", "wrong password here").status_code == 200
    assert AuthActions(c).login("nobody9@example.org", "wrong password here").status_code == 429
    assert AuthActions(_from(app, "10.0.0.7")).login("nobody9@example.org", "wrong password here").status_code == 200


def test_the_limits_are_shared_by_every_worker(limited, make):
    """Two app instances on one database stand for two gunicorn workers."""
    one, two = limited(), limited()
    user = make.user(make.organisation())
    for _ in range(3):
        AuthActions(one.test_client()).login(user.email, "wrong password here")
    for _ in range(2):
        AuthActions(two.test_client()).login(user.email, "wrong password here")
    assert AuthActions(two.test_client()).login(user.email).status_code == 429
    assert AuthActions(one.test_client()).login(user.email).status_code == 429


def test_registration_invitation_reset_and_api_are_limited(limited, make, session):
    app = limited(RATELIMIT_REGISTER="2 per hour", RATELIMIT_LINKS="3 per hour", RATELIMIT_API="2 per minute")
    c = app.test_client()
    for n in range(2):
        data = {"organisation": f"Org {n}", "name": "N", "email": f"r{n}@example.org", "password": PASSWORD}
        assert Forms(c).post("/auth/register", {**data, "confirm": PASSWORD}).status_code == 302
    limited_page = Forms(c).post("/auth/register", {"organisation": "O", "name": "N", "email": "z@example.org"})
    assert limited_page.status_code == 429 and "Retry-After" in limited_page.headers

    links = app.test_client()
    assert links.get("/auth/invite/guess-1").status_code == 404
    assert links.get("/auth/reset/guess-2").status_code == 404
    assert links.get("/auth/invite/guess-3").status_code == 404
    assert links.get("/auth/reset/guess-4").status_code == 429

    regulator = make.user(platform_role=PlatformRole.REGULATOR, jurisdictions=["SG"])
    _row, token = tokens.create_token(session, regulator, "x")
    api = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    assert api.get("/api/v1/submissions", headers=headers).status_code == 200
    assert api.get("/api/v1/submissions", headers=headers).status_code == 200
    refused = api.get("/api/v1/submissions", headers=headers)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert refused.get_json()["error"]["status"] == 429


@pytest.mark.parametrize("weak", WEAK)
def test_weak_passwords_are_refused_everywhere(weak, run, client, forms, make, session):
    register = forms.post(
        "/auth/register",
        {"organisation": "O", "name": "N", "email": "n@example.org", "password": weak, "confirm": weak},
    )
    assert register.status_code == 200 and "password" in register.get_data(as_text=True).lower()
    assert session.exec(select(User).where(User.email == "n@example.org")).first() is None
    org = make.organisation()
    _user, token = accounts.invite_member(
        session, org, email="m@example.org", name="M", role="contributor", invited_by=None
    )
    invited = forms.post(f"/auth/invite/{token}", {"password": weak, "confirm": weak})
    assert invited.status_code == 200 and accounts.user_for_invite(session, token) is not None
    cli = run("create-user", "--email", "c@example.org", "--name", "C", "--role", "working_group", "--password", weak)
    assert cli.exit_code != 0
    with pytest.raises(accounts.AccountError):
        accounts.check_password(weak)


def test_cli_create_user_refuses_a_one_letter_password(run):
    result = run("create-user", "--email", "c@example.org", "--name", "C", "--role", "working_group", "--password", "a")
    assert result.exit_code != 0 and "at least 12 characters" in result.output


# -- build 18: links and tokens --------------------------------------------------------------------


def test_invitation_links_expire(client, make, session):
    org = make.organisation()
    user, token = accounts.invite_member(
        session, org, email="late@example.org", name="Late", role="contributor", invited_by=None
    )
    assert client.get(f"/auth/invite/{token}").status_code == 200
    user.invite_expires_at = utcnow() - timedelta(minutes=1)
    session.add(user)
    session.commit()
    assert client.get(f"/auth/invite/{token}").status_code == 404


def test_password_reset_links_are_single_use_expire_and_end_sessions(run, app, make, session):
    user = make.user(make.organisation())
    elsewhere = app.test_client()
    AuthActions(elsewhere).login(user.email)
    issued = run("reset-password", user.email)
    assert issued.exit_code == 0, issued.output
    path = re.search(r"(/auth/reset/\S+)", issued.output).group(1)
    c = app.test_client()
    assert c.get(path).status_code == 200
    done = Forms(c).post(path, {"password": "another fine passphrase", "confirm": "another fine passphrase"})
    assert done.status_code == 302
    assert c.get(path).status_code == 404  # used up
    assert elsewhere.get("/assessments/").status_code == 302
    assert AuthActions(app.test_client()).login(user.email, "another fine passphrase").status_code == 302
    session.expire_all()
    token = accounts.issue_reset(session, session.get(User, user.id), valid_minutes=5)
    row = session.get(User, user.id)
    row.reset_expires_at = utcnow() - timedelta(seconds=1)
    session.add(row)
    session.commit()
    assert c.get(f"/auth/reset/{token}").status_code == 404
    assert _actions(session, "account.password_reset")


def test_api_tokens_expire(run, client, make, session):
    regulator = make.user(platform_role=PlatformRole.REGULATOR, jurisdictions=["SG"])
    result = run("create-token", "--email", regulator.email, "--name", "short", "--expires-in-days", "7")
    assert result.exit_code == 0, result.output
    token = result.stdout.strip().splitlines()[-1]
    row = session.exec(select(ApiToken).where(ApiToken.name == "short")).one()
    assert timedelta(days=6) < row.expires_at.replace(tzinfo=None) - utcnow().replace(tzinfo=None) <= timedelta(days=7)
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/submissions", headers=headers).status_code == 200
    row.expires_at = utcnow() - timedelta(seconds=1)
    session.add(row)
    session.commit()
    assert client.get("/api/v1/submissions", headers=headers).status_code == 401
    with pytest.raises(tokens.TokenError):
        tokens.create_token(session, regulator, "too long", expires_in_days=10_000)


def test_the_token_page_sets_an_expiry(client, auth, forms, make, session):
    regulator = make.user(platform_role=PlatformRole.REGULATOR, jurisdictions=["SG"])
    auth.login(regulator.email)
    forms.post("/api/tokens", {"name": "monthly", "expires_in_days": "30"})
    row = session.exec(select(ApiToken).where(ApiToken.name == "monthly")).one()
    assert row.expires_at is not None and row.role == "regulator"


def test_a_token_is_bound_to_the_role_it_was_made_for(client, make, session):
    user = make.user(platform_role=PlatformRole.REGULATOR, jurisdictions=["SG"])
    _row, token = tokens.create_token(session, user, "bound")
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/submissions", headers=headers).status_code == 200
    user.platform_role = PlatformRole.WORKING_GROUP
    session.add(user)
    session.commit()
    assert client.get("/api/v1/benchmark", headers=headers).status_code == 401
    assert client.get("/api/v1/submissions", headers=headers).status_code == 401

"""Platform administration: regulator and working-group accounts, created by a platform admin."""

import re

from sqlmodel import select

from dd_toolkit.records.models import PlatformRole, User

from .factories import PASSWORD


def test_platform_admin_creates_a_regulator_who_joins_after_confirmation(client, make, auth, forms, session):
    """Separation of duties: the admin's new regulator account has no effect, and the admin sees
    no invitation link, until a regulator of the jurisdiction (or the operator, for its first
    regulator) confirms it; the confirmer gets the link."""
    from dd_toolkit.records import accounts

    auth.login(make.user(platform_role=PlatformRole.PLATFORM_ADMIN).email)
    refused = forms.post("/admin/accounts", {"name": "No Places", "email": "np@example.org", "role": "regulator"})
    assert "A regulator account needs at least one jurisdiction." in refused.get_data(as_text=True)
    created = forms.post(
        "/admin/accounts",
        {
            "name": "Maya Regulator",
            "email": "maya@regulator.example",
            "role": "regulator",
            "jurisdictions": ["MY", "BN"],
        },
    )
    assert created.status_code == 302
    page = client.get("/admin/accounts").get_data(as_text=True)
    assert "invite-link" not in page and "/auth/invite/" not in page
    assert "awaits confirmation" in page
    user = session.exec(select(User).where(User.email == "maya@regulator.example")).one()
    assert user.platform_role == "regulator" and user.jurisdictions == [] and user.invite_token_hash is None
    auth.logout()

    # MY has a regulator, who confirms in the app and receives the link; BN has none: the operator.
    colleague = make.user(platform_role=PlatformRole.REGULATOR, jurisdictions=["MY"])
    auth.login(colleague.email)
    listing = client.get("/auth/confirmations").get_data(as_text=True)
    rows = re.sub(r'value="[^"]*"', "", listing.split("<tbody>")[1])  # a CSRF token can hold any two letters
    assert "maya@regulator.example" in listing and "BN" not in rows and "Brunei" not in rows
    grant = accounts.pending_grants(session, user)[0]
    if grant.jurisdiction != "MY":
        grant = accounts.pending_grants(session, user)[1]
    issued = forms.post(f"/auth/confirmations/{grant.id}/confirm", page="/auth/confirmations")
    assert issued.status_code == 200
    text = issued.get_data(as_text=True)
    link = text.split('id="invite-link" class="copy" type="text" readonly value="')[1].split('"')[0]
    auth.logout()
    session.refresh(user)
    assert user.jurisdictions == ["MY"]
    confirmed, left, token = accounts.confirm_by_operator(session, user)
    assert (confirmed, left, token) == (["BN"], [], None)  # the invitation was issued already
    session.refresh(user)
    assert user.jurisdictions == ["BN", "MY"]

    forms.post(link.split("localhost", 1)[1], {"password": PASSWORD, "confirm": PASSWORD})
    assert client.get("/review/").status_code == 200


def test_only_platform_admins_manage_accounts(client, make, auth):
    org = make.organisation()
    auth.login(make.user(org).email)
    assert client.get("/admin/accounts").status_code == 403
    auth.logout()
    auth.login(make.user(platform_role=PlatformRole.REGULATOR, jurisdictions=["SG"]).email)
    assert client.get("/admin/accounts").status_code == 403

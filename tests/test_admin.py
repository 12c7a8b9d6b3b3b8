"""Platform administration: regulator and working-group accounts, created by a platform admin."""

from sqlmodel import select

from dd_toolkit.records.models import PlatformRole, User

from .factories import PASSWORD


def test_platform_admin_creates_a_regulator_who_then_joins(client, make, auth, forms, session):
    auth.login(make.user(platform_role=PlatformRole.PLATFORM_ADMIN).email)
    refused = forms.post("/admin/accounts", {"name": "No Places", "email": "np@example.org", "role": "regulator"})
    assert "A regulator account needs at least one jurisdiction." in refused.get_data(as_text=True)
    page = forms.post(
        "/admin/accounts",
        {
            "name": "Maya Regulator",
            "email": "maya@regulator.example",
            "role": "regulator",
            "jurisdictions": ["MY", "BN"],
        },
    ).get_data(as_text=True)
    assert "Invitation for Maya Regulator" in page
    link = page.split('id="invite-link" class="copy" type="text" readonly value="')[1].split('"')[0]
    user = session.exec(select(User).where(User.email == "maya@regulator.example")).one()
    assert user.platform_role == "regulator" and sorted(user.jurisdictions) == ["BN", "MY"]
    auth.logout()
    forms.post(link.split("localhost", 1)[1], {"password": PASSWORD, "confirm": PASSWORD})
    assert client.get("/review/").status_code == 200


def test_only_platform_admins_manage_accounts(client, make, auth):
    org = make.organisation()
    auth.login(make.user(org).email)
    assert client.get("/admin/accounts").status_code == 403
    auth.logout()
    auth.login(make.user(platform_role=PlatformRole.REGULATOR, jurisdictions=["SG"]).email)
    assert client.get("/admin/accounts").status_code == 403

"""Registration, sign-in and invitations, through the real forms with CSRF."""

import re

from sqlmodel import select

from dd_toolkit.records.models import Membership, Organisation, OrgRole, User

from .factories import PASSWORD


def register(forms, email="lead@example.org", org="Kampung Games"):
    return forms.post(
        "/auth/register",
        {"organisation": org, "name": "Siti Lead", "email": email, "password": PASSWORD, "confirm": PASSWORD},
    )


def test_register_creates_organisation_and_admin(client, auth, forms, session):
    response = register(forms)
    assert response.status_code == 302
    # Registration does not sign in (the answer must not differ for a taken email): the new
    # admin signs in next and lands on the profile.
    assert response.headers["Location"] == "/auth/login?next=/organisation/profile"
    user = session.exec(select(User).where(User.email == "lead@example.org")).one()
    membership = session.exec(select(Membership).where(Membership.user_id == user.id)).one()
    assert membership.role == OrgRole.ADMIN
    assert session.get(Organisation, membership.organisation_id).name == "Kampung Games"
    assert user.password_hash.startswith("$argon2")
    signed_in = forms.post(
        "/auth/login?next=/organisation/profile",
        {"email": "lead@example.org", "password": PASSWORD},
        page="/auth/login",
    )
    assert signed_in.headers["Location"] == "/organisation/profile"
    assert "Organisation profile" in client.get("/organisation/profile").get_data(as_text=True)


def test_the_product_hashes_passwords_with_argon2id_at_its_recommended_cost(quick_password_hashes):
    # The suite signs in with cheap hashes (conftest); the product's own hasher must not be cheap.
    from argon2 import Type

    product = quick_password_hashes
    assert product.type is Type.ID
    assert product.time_cost >= 3 and product.memory_cost >= 64 * 1024
    assert product.hash(PASSWORD).startswith("$argon2id$v=19$m=65536,t=3")


def test_register_does_not_reveal_whether_an_email_has_an_account(client, forms, make, session):
    make.user(email="taken@example.org")
    taken = register(forms, email="Taken@Example.org", org="Second Co")
    taken_page = client.get(taken.headers["Location"]).get_data(as_text=True)
    fresh = register(forms, email="fresh@example.org", org="Third Co")
    fresh_page = client.get(fresh.headers["Location"]).get_data(as_text=True)
    assert taken.status_code == fresh.status_code == 302
    assert taken.headers["Location"] == fresh.headers["Location"]
    same = re.compile(r'name="csrf_token"[^>]*>|Second Co|Third Co')
    assert same.sub("", taken_page) == same.sub("", fresh_page)
    assert "already exists" not in taken_page
    # Nothing was created for the taken email.
    assert session.exec(select(Organisation).where(Organisation.name == "Second Co")).first() is None


def test_register_short_password(client, forms):
    response = forms.post(
        "/auth/register",
        {"organisation": "X", "name": "Y", "email": "y@example.org", "password": "short", "confirm": "short"},
    )
    assert "Use between 12 and 200 characters." in response.get_data(as_text=True)


def test_register_refuses_common_and_guessable_passwords(client, forms, session):
    for weak, message in (
        ("aaaaaaaaaaaa", "too easy to guess"),
        ("password1234", "list of common and breached passwords"),
        ("sitilead2026", "too easy to guess"),  # the person's own name
    ):
        response = forms.post(
            "/auth/register",
            {"organisation": "X", "name": "Siti Lead", "email": "y@example.org", "password": weak, "confirm": weak},
        )
        assert response.status_code == 200
        assert message in response.get_data(as_text=True)
    assert session.exec(select(User).where(User.email == "y@example.org")).first() is None


def test_post_without_csrf_token_is_refused(client):
    response = client.post("/auth/login", data={"email": "a@example.org", "password": "x"})
    assert response.status_code == 400


def test_login_logout(client, auth, make):
    org = make.organisation()
    user = make.user(org)
    bad = auth.login(user.email, "wrong password here")
    assert "The email or password is not right." in bad.get_data(as_text=True)
    good = auth.login(user.email)
    assert good.status_code == 302
    assert org.name in client.get("/").get_data(as_text=True)
    auth.logout()
    assert client.get("/assessments/").status_code == 302


def test_login_redirects_only_to_local_paths(client, forms, make):
    user = make.user(make.organisation())
    response = forms.post(
        "/auth/login?next=https://evil.example/", {"email": user.email, "password": PASSWORD}, page="/auth/login"
    )
    assert response.headers["Location"] == "/"
    client.get("/")  # stay signed in; now a local target
    forms.post("/auth/logout", page="/")
    response = forms.post(
        "/auth/login?next=/assessments/", {"email": user.email, "password": PASSWORD}, page="/auth/login"
    )
    assert response.headers["Location"] == "/assessments/"


def test_signed_out_user_is_sent_to_login(client):
    response = client.get("/assessments/")
    assert response.status_code == 302
    assert "/auth/login?next=" in response.headers["Location"]


def test_invite_flow(client, auth, forms, make, session):
    org = make.organisation()
    admin = make.user(org)
    auth.login(admin.email)
    response = forms.post(
        "/organisation/members", {"name": "Ana Contributor", "email": "ana@example.org", "role": "contributor"}
    )
    page = response.get_data(as_text=True)
    assert "Invitation for Ana Contributor" in page
    link = page.split('id="invite-link" class="copy" type="text" readonly value="')[1].split('"')[0]
    path = link.split("localhost", 1)[1]
    auth.logout()
    accept = forms.post(path, {"password": PASSWORD, "confirm": PASSWORD})
    assert accept.status_code == 302
    assert org.name in client.get("/").get_data(as_text=True)
    # The link works once.
    auth.logout()
    assert client.get(path).status_code == 404
    member = session.exec(select(User).where(User.email == "ana@example.org")).one()
    assert session.exec(select(Membership).where(Membership.user_id == member.id)).one().role == "contributor"


def test_contributor_cannot_invite_or_edit_profile(client, auth, forms, make):
    org = make.organisation(name="Original Name")
    contributor = make.user(org, role=OrgRole.CONTRIBUTOR)
    auth.login(contributor.email)
    assert "Only an organisation admin can change the profile." in client.get("/organisation/profile").get_data(
        as_text=True
    )
    response = forms.post(
        "/organisation/profile",
        {
            "name": "Hijacked",
            "hq_country": "SG",
            "countries": ["SG"],
            "service_types": ["gaming"],
            "size_band": "startup",
            "under18_users": "yes",
        },
    )
    assert response.status_code == 403
    response = forms.post("/organisation/members", {"name": "X", "email": "x@example.org", "role": "admin"})
    assert response.status_code == 403


def test_deactivated_user_cannot_sign_in(client, auth, make, session):
    user = make.user(make.organisation())
    user.active = False
    session.add(user)
    session.commit()
    assert "not right" in auth.login(user.email).get_data(as_text=True)


def _autocomplete(page: str) -> dict[str, str]:
    """Each input's name -> its autocomplete value ("" where it has none)."""
    fields = {}
    for tag in re.findall(r"<input\b[^>]*>", page):
        name = re.search(r'\bname="([^"]+)"', tag)
        if name and 'type="hidden"' not in tag and 'type="submit"' not in tag and 'type="checkbox"' not in tag:
            value = re.search(r'\bautocomplete="([^"]*)"', tag)
            fields[name.group(1)] = value.group(1) if value else ""
    return fields


def test_sign_in_and_password_fields_name_their_purpose_for_browsers(client, auth, make):
    # WCAG 1.3.5: a field that asks for the user's own details says which (a password manager
    # then fills the sign-in, and offers a strong new password where one is set).
    assert _autocomplete(client.get("/auth/login").get_data(as_text=True)) == {
        "email": "username",
        "password": "current-password",
    }
    assert _autocomplete(client.get("/auth/register").get_data(as_text=True)) == {
        "organisation": "organization",
        "name": "name",
        "email": "email",
        "password": "new-password",
        "confirm": "new-password",
    }
    auth.login(make.user(make.organisation()).email)
    account = _autocomplete(client.get("/auth/account").get_data(as_text=True))
    assert {name: account[name] for name in ("current", "password", "confirm")} == {
        "current": "current-password",
        "password": "new-password",
        "confirm": "new-password",
    }

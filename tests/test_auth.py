"""Registration, sign-in and invitations, through the real forms with CSRF."""

from sqlmodel import select

from dd_toolkit.records.models import Membership, Organisation, OrgRole, User

from .factories import PASSWORD


def register(forms, email="lead@example.org", org="Kampung Games"):
    return forms.post(
        "/auth/register",
        {"organisation": org, "name": "Siti Lead", "email": email, "password": PASSWORD, "confirm": PASSWORD},
    )


def test_register_creates_organisation_and_admin(client, forms, session):
    response = register(forms)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/organisation/profile")
    user = session.exec(select(User).where(User.email == "lead@example.org")).one()
    membership = session.exec(select(Membership).where(Membership.user_id == user.id)).one()
    assert membership.role == OrgRole.ADMIN
    assert session.get(Organisation, membership.organisation_id).name == "Kampung Games"
    assert user.password_hash.startswith("$argon2")
    assert "Organisation profile" in client.get("/organisation/profile").get_data(as_text=True)


def test_register_rejects_duplicate_email_and_keeps_input(client, forms, make):
    make.user(email="taken@example.org")
    response = register(forms, email="Taken@Example.org", org="Second Co")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "already exists" in page
    assert 'value="Second Co"' in page


def test_register_short_password(client, forms):
    response = forms.post(
        "/auth/register",
        {"organisation": "X", "name": "Y", "email": "y@example.org", "password": "short", "confirm": "short"},
    )
    assert "Use between 12 and 200 characters." in response.get_data(as_text=True)


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

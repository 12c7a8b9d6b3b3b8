"""Issue 13: account basics (member roles, removal, invitations, reset links, copy buttons) and a
command line that does what the browser does (create-organisation, add-member, submit,
benchmark, import-assessment's checks, the uninitialised-database message, run's demo sign-ins)."""

from __future__ import annotations

import json
import re

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlmodel import select

from dd_toolkit.cli import main as cli
from dd_toolkit.records import accounts
from dd_toolkit.records.models import (
    AuditEvent,
    Membership,
    Organisation,
    OrgRole,
    PlatformRole,
    Recipient,
    Submission,
    User,
)

from . import factories, test_browser
from .conftest import FIXTURE_CONTENT, AuthActions, Forms, csrf_token

page = test_browser.page

LINK_RE = re.compile(r'id="(invite-link|reset-link)" class="copy" type="text" readonly value="([^"]+)"')


def _link(page: str, kind: str) -> str:
    found = {k: v for k, v in LINK_RE.findall(page)}
    assert kind in found, page
    return "/" + found[kind].split("/", 3)[3]


def _events(session, action: str) -> list[AuditEvent]:
    session.expire_all()
    return list(session.exec(select(AuditEvent).where(AuditEvent.action == action)))


@pytest.fixture
def company(make, client, auth):
    """An organisation with its admin signed in, and a contributor."""
    org = make.organisation(name="Harbour Chat")
    admin = make.user(org)
    contributor = make.user(org, role=OrgRole.CONTRIBUTOR)
    auth.login(admin.email)
    return org, admin, contributor


def _step(forms, user_id: int, step: str, **data):
    return forms.post(f"/organisation/members/{user_id}/{step}", data, page="/organisation/members")


# -- account basics in the browser ------------------------------------------------------------------


def test_changing_the_password_needs_the_current_one(client, auth, forms, make, session):
    user = make.user(make.organisation())
    auth.login(user.email)
    wrong = forms.post(
        "/auth/account",
        {"current": "not my password", "password": "a brand new passphrase", "confirm": "a brand new passphrase"},
    )
    assert wrong.status_code == 200 and "The current password is not right." in wrong.get_data(as_text=True)
    assert accounts.authenticate(session, user.email, factories.PASSWORD) is not None
    assert _events(session, "account.password_change") == []


def test_an_admin_changes_a_members_role_and_it_is_audited(company, client, forms, session):
    org, admin, contributor = company
    made = _step(forms, contributor.id, "role", role="admin")
    assert made.status_code == 302
    session.expire_all()
    assert accounts.membership_of(session, org, contributor.id)[0].role == OrgRole.ADMIN
    (event,) = _events(session, "member.role")
    assert event.user_id == admin.id and event.organisation_id == org.id
    assert event.detail == {"email": contributor.email, "from": "contributor", "to": "admin"}
    # The contributor, now an admin, sees the role controls of the others.
    page = client.get("/organisation/members").get_data(as_text=True)
    assert f'id="member-role-{contributor.id}"' in page and f'id="member-role-{admin.id}"' not in page  # not one's own


def test_the_last_admin_who_can_sign_in_cannot_be_demoted_or_removed(company, client, forms, make, session):
    org, admin, contributor = company
    refused = _step(forms, admin.id, "role", role="contributor")
    assert refused.status_code == 302
    page = client.get("/organisation/members").get_data(as_text=True)
    assert "is the only admin of Harbour Chat who can sign in" in page
    session.expire_all()
    assert accounts.membership_of(session, org, admin.id)[0].role == OrgRole.ADMIN
    # An invited admin who has not joined does not count: the organisation could be left with nobody.
    invited, _token = accounts.invite_member(
        session, org, email="new-admin@example.org", name="New", role=OrgRole.ADMIN, invited_by=admin
    )
    with pytest.raises(accounts.AccountError, match="only admin"):
        accounts.change_member_role(session, org, admin, OrgRole.CONTRIBUTOR, by=None)
    with pytest.raises(accounts.AccountError, match="only admin"):
        accounts.remove_member(session, org, admin, by=None)
    with pytest.raises(accounts.AccountError, match="cannot remove yourself"):
        accounts.remove_member(session, org, admin, by=admin)
    # With a second admin who can sign in, the first may step down.
    accounts.change_member_role(session, org, contributor, OrgRole.ADMIN, by=admin)
    assert accounts.change_member_role(session, org, admin, OrgRole.CONTRIBUTOR, by=contributor)
    assert _events(session, "member.role")[-1].detail["to"] == "contributor"
    assert invited.password_hash is None


def test_removing_a_member_ends_their_sessions_and_they_can_be_invited_again(company, app, forms, make, session):
    org, admin, contributor = company
    theirs = app.test_client()
    AuthActions(theirs).login(contributor.email)
    assert theirs.get("/assessments/").status_code == 200
    removed = _step(forms, contributor.id, "remove")
    assert removed.status_code == 302
    assert theirs.get("/assessments/").status_code == 302  # signed out: their session ended
    session.expire_all()
    assert accounts.membership_of(session, org, contributor.id) is None
    gone = session.get(User, contributor.id)
    assert not gone.active  # in no organisation any more
    (event,) = _events(session, "member.remove")
    assert event.detail == {
        "email": contributor.email,
        "role": "contributor",
        "deactivated": True,
        "sections_released": 0,
    }
    # Invited again (here by another organisation), the account joins through the new link only.
    other = make.organisation(name="Other Co")
    user, token = accounts.invite_member(
        session, other, email=contributor.email, name="Back Again", role=OrgRole.CONTRIBUTOR, invited_by=None
    )
    assert user.id == contributor.id and user.active and user.password_hash is None
    assert _events(session, "member.invite")[-1].detail["reused_account"] is True
    assert accounts.authenticate(session, contributor.email, factories.PASSWORD) is None
    assert theirs.get(f"/auth/invite/{token}").status_code == 200


def test_a_member_of_another_organisation_or_a_stranger_cannot_be_changed(company, client, forms, make):
    org, admin, contributor = company
    elsewhere = make.user(make.organisation(name="Elsewhere"), role=OrgRole.CONTRIBUTOR)
    for step in ("role", "remove", "reinvite", "revoke", "reset"):
        assert _step(forms, elsewhere.id, step, role="admin").status_code == 404, step


def test_a_contributor_cannot_manage_members(client, auth, forms, make):
    org = make.organisation()
    make.user(org)
    contributor = make.user(org, role=OrgRole.CONTRIBUTOR)
    other = make.user(org, role=OrgRole.CONTRIBUTOR)
    auth.login(contributor.email)
    page = client.get("/organisation/members").get_data(as_text=True)
    assert "/organisation/members/" not in page  # no management buttons
    assert _step(forms, other.id, "remove").status_code == 403


def test_an_invitation_is_reissued_with_a_copy_button_and_revoked(company, client, forms, session, app):
    org, admin, _contributor = company
    invited = forms.post(
        "/organisation/members", {"name": "Ana", "email": "ana@example.org", "role": "contributor"}
    ).get_data(as_text=True)
    first = _link(invited, "invite-link")
    ana = accounts.find_user(session, "ana@example.org")
    page = client.get("/organisation/members").get_data(as_text=True)
    assert "Invited, not yet joined" in page and "invite-link" not in page  # the link is shown once

    again = _step(forms, ana.id, "reinvite")
    assert again.status_code == 200
    text = again.get_data(as_text=True)
    second = _link(text, "invite-link")
    assert second != first
    assert 'data-copy="invite-link"' in text and 'id="invite-link-status" role="status" aria-live="polite"' in text
    stranger = app.test_client()
    assert stranger.get(first).status_code == 404  # the old link stopped working
    assert stranger.get(second).status_code == 200
    assert _events(session, "member.invite_reissued")[0].detail["email"] == "ana@example.org"

    assert _step(forms, ana.id, "revoke").status_code == 302
    assert stranger.get(second).status_code == 404
    assert "Invitation revoked" in client.get("/organisation/members").get_data(as_text=True)
    assert len(_events(session, "member.invite_revoked")) == 1
    # A revoked invitation can be issued again; a member who joined has no invitation to change.
    assert (
        stranger.get(_link(_step(forms, ana.id, "reinvite").get_data(as_text=True), "invite-link")).status_code == 200
    )
    _contributor_joined = _step(forms, _contributor.id, "reinvite")
    assert "has already joined" in client.get("/organisation/members").get_data(as_text=True)


def test_an_organisation_admin_issues_a_reset_link_shown_once(company, app, client, forms, session):
    org, admin, contributor = company
    theirs = app.test_client()
    AuthActions(theirs).login(contributor.email)
    issued = _step(forms, contributor.id, "reset")
    assert issued.status_code == 200
    text = issued.get_data(as_text=True)
    link = _link(text, "reset-link")
    assert 'data-copy="reset-link"' in text and "it is not shown again" in text
    assert issued.headers["Cache-Control"] == "no-store"
    (event,) = _events(session, "account.reset_issued")
    assert (event.user_id, event.organisation_id, event.entity_id) == (admin.id, org.id, str(contributor.id))
    assert "reset-link" not in client.get("/organisation/members").get_data(as_text=True)

    person = app.test_client()  # the member, on the link they were sent
    done = Forms(person).post(link, {"password": "a brand new passphrase", "confirm": "a brand new passphrase"})
    assert done.status_code == 302
    assert theirs.get("/assessments/").status_code == 302  # their old session ended
    assert person.get(link).status_code == 404  # used up
    session.expire_all()
    assert accounts.authenticate(session, contributor.email, "a brand new passphrase") is not None


def test_a_reset_link_is_refused_for_oneself_and_for_an_account_with_access_elsewhere(company, client, forms, make):
    org, admin, contributor = company
    _step(forms, admin.id, "reset")
    assert "Change your own password" in client.get("/organisation/members").get_data(as_text=True)
    make.session.add(Membership(user_id=contributor.id, organisation_id=make.organisation().id, role="admin"))
    make.session.commit()
    refused = _step(forms, contributor.id, "reset")
    assert refused.status_code == 302
    assert "also has access elsewhere" in client.get("/organisation/members").get_data(as_text=True)


def test_the_platform_admin_issues_a_working_groups_reset_link_but_never_a_regulators(client, auth, forms, make):
    padmin = make.user(platform_role=PlatformRole.PLATFORM_ADMIN)
    wg = make.user(platform_role=PlatformRole.WORKING_GROUP)
    regulator = make.user(platform_role=PlatformRole.REGULATOR, jurisdictions=["SG"])
    auth.login(padmin.email)
    page = client.get("/admin/accounts").get_data(as_text=True)
    assert f"/admin/accounts/{wg.id}/reset-link" in page and f"/admin/accounts/{regulator.id}/reset-link" not in page
    issued = forms.post(f"/admin/accounts/{wg.id}/reset-link", page="/admin/accounts")
    assert issued.status_code == 200
    text = issued.get_data(as_text=True)
    assert client.get(_link(text, "reset-link")).status_code == 200
    assert 'data-copy="reset-link"' in text
    refused = forms.post(f"/admin/accounts/{regulator.id}/reset-link", page="/admin/accounts")
    assert refused.status_code == 302
    assert "comes from the operator on the server" in client.get("/admin/accounts").get_data(as_text=True)
    assert make.session.get(User, regulator.id).reset_token_hash is None


def test_the_platform_admin_issues_a_new_invitation_link_for_a_working_group_account(
    app, client, auth, forms, make, session
):
    padmin = make.user(platform_role=PlatformRole.PLATFORM_ADMIN)
    wg, first = accounts.invite_platform_user(
        session, email="wg@example.org", name="WG", role=PlatformRole.WORKING_GROUP, jurisdictions=[], invited_by=None
    )
    auth.login(padmin.email)
    again = forms.post(f"/admin/accounts/{wg.id}/reinvite", page="/admin/accounts")
    assert again.status_code == 200
    second = _link(again.get_data(as_text=True), "invite-link")
    stranger = app.test_client()
    assert stranger.get(f"/auth/invite/{first}").status_code == 404
    assert stranger.get(second).status_code == 200
    assert client.get(second).status_code == 403  # whoever hands out the link may not complete it
    assert _events(session, "account.invite_reissued")[0].user_id == padmin.id
    regulator = make.user(platform_role=PlatformRole.REGULATOR)
    refused = forms.post(f"/admin/accounts/{regulator.id}/reinvite", page="/admin/accounts")
    assert refused.status_code == 302 and make.session.get(User, regulator.id).invite_token_hash is None


def test_deactivating_a_working_group_account_ends_its_session_and_reactivation_restores_sign_in(
    app, client, auth, forms, make, session
):
    padmin = make.user(platform_role=PlatformRole.PLATFORM_ADMIN)
    wg = make.user(platform_role=PlatformRole.WORKING_GROUP)
    theirs = app.test_client()
    AuthActions(theirs).login(wg.email)
    assert theirs.get("/benchmarks/").status_code == 200
    auth.login(padmin.email)
    page = client.get("/admin/accounts").get_data(as_text=True)
    assert 'class="link-button">Deactivate' not in page  # a visible button, not white text on white
    assert forms.post(f"/admin/accounts/{wg.id}/deactivate", page="/admin/accounts").status_code == 302
    assert theirs.get("/benchmarks/").status_code == 302
    assert AuthActions(theirs).login(wg.email).status_code == 200  # refused: the form again
    assert forms.post(f"/admin/accounts/{wg.id}/reactivate", page="/admin/accounts").status_code == 302
    assert AuthActions(theirs).login(wg.email).status_code == 302
    assert [e.action for e in _events(session, "account.deactivate")] == ["account.deactivate"]
    assert len(_events(session, "account.reactivate")) == 1


def test_copy_buttons_use_the_static_script_and_a_live_region(client, auth, forms, make):
    regulator = make.user(platform_role=PlatformRole.REGULATOR, jurisdictions=["SG"])
    auth.login(regulator.email)
    created = forms.post("/api/tokens", {"name": "nightly", "expires_in_days": ""}, page="/api/tokens")
    text = created.get_data(as_text=True)
    assert 'data-copy="new-token"' in text and 'id="new-token-status" role="status" aria-live="polite"' in text
    assert '<script src="/static/js/copy.js" defer></script>' in text
    assert "<script>" not in text and "onclick" not in text  # CSP: no inline script
    script = client.get("/static/js/copy.js").get_data(as_text=True)
    assert "navigator.clipboard" in script and "data-copied" in script


# -- the command line ----------------------------------------------------------------------------------


@pytest.fixture
def run(database_url, tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("DD_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setattr("dd_toolkit.web.config.Config.DATABASE_URL", database_url)

    def invoke(*args, input=None):
        return CliRunner().invoke(cli, ["--content", str(FIXTURE_CONTENT), *args], input=input)

    return invoke


def _invite_path(output: str) -> str:
    (path,) = re.findall(r"^(/auth/invite/\S+)$", output, re.M)
    return path


def test_create_organisation_from_a_profile_file_and_options(run, session, client, tmp_path):
    profile = tmp_path / "profile.yaml"
    profile.write_text(
        "hq_country: SG\ncountries: [SG, MY]\nservice_types: [social_network]\nsize_band: medium\n"
        "under18_users: 'yes'\nfeatures: [live_streaming]\ndescription: Short videos.\n"
    )
    made = run(
        "create-organisation", "Reel Co", "--profile", str(profile), "--country", "TH",
        "--admin-email", "Lead@Reel.example", "--admin-name", "Lead",
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    org = session.exec(select(Organisation).where(Organisation.name == "Reel Co")).one()
    assert (org.hq_country, org.countries, org.service_types, org.size_band) == (
        "SG",
        ["TH"],
        ["social_network"],
        "medium",
    )
    assert org.description == "Short videos."
    admin = accounts.find_user(session, "lead@reel.example")
    assert accounts.membership_of(session, org, admin.id)[0].role == OrgRole.ADMIN
    assert client.get(_invite_path(made.output)).status_code == 200
    assert [e.detail for e in _events(session, "organisation.create")] == [{"source": "cli"}]

    full = run("create-organisation", "Other", "--admin-email", "a@other.example", "--base-url", "https://dd.example/")
    assert full.exit_code == 0, full.output
    assert re.search(r"^https://dd\.example/auth/invite/\S+$", full.output, re.M)


def test_create_organisation_checks_the_profile_and_needs_an_admin(run, session, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"service_type": ["social_network"], "size_band": "huge"}))
    refused = run("create-organisation", "Bad Co", "--profile", str(bad), "--admin-email", "x@bad.example")
    assert refused.exit_code == 1
    assert "service_type: Extra inputs are not permitted" in refused.output
    bad.write_text(json.dumps({"service_types": ["social_network", "fax"], "size_band": "huge"}))
    refused = run("create-organisation", "Bad Co", "--profile", str(bad), "--admin-email", "x@bad.example")
    assert "service_types: unknown value(s) fax" in refused.output
    assert "size_band: unknown value huge" in refused.output
    assert session.exec(select(Organisation)).all() == []
    assert "Traceback" not in refused.output
    no_admin = run("create-organisation", "Nobody Co")
    assert no_admin.exit_code == 2 and "--admin-email" in no_admin.output
    assert run("create-organisation", "Dup", "--admin-email", "one@dup.example").exit_code == 0
    twice = run("create-organisation", "Dup", "--admin-email", "two@dup.example")
    assert twice.exit_code == 1 and "already exists" in twice.output
    taken = run("create-organisation", "Third", "--admin-email", "one@dup.example")
    assert taken.exit_code == 1 and "already exists" in taken.output
    assert session.exec(select(Organisation).where(Organisation.name == "Third")).first() is None


def test_add_member_invites_as_the_members_page_does(run, make, session, client):
    org = make.organisation(name="Lagoon Games")
    added = run("add-member", "Lagoon Games", "dev@lagoon.example", "--role", "admin", "--name", "Dev")
    assert added.exit_code == 0, added.output
    user = accounts.find_user(session, "dev@lagoon.example")
    assert accounts.membership_of(session, org, user.id)[0].role == OrgRole.ADMIN
    assert client.get(_invite_path(added.output)).status_code == 200
    assert _events(session, "member.invite")[0].organisation_id == org.id
    by_id = run("add-member", str(org.id), "qa@lagoon.example")
    assert by_id.exit_code == 0 and "as contributor" in by_id.output
    again = run("add-member", str(org.id), "qa@lagoon.example")
    assert again.exit_code == 1 and "already exists" in again.output
    assert run("add-member", "No Such Co", "x@example.org").exit_code == 1


def test_submit_goes_to_named_regulators_with_the_consent_given(run, make, session):
    org = make.organisation()
    draft = make.assessment(org, make.user(org), 2026, make.complete_answers())
    nobody = run("submit", str(draft.id))
    assert nobody.exit_code == 1 and "name at least one recipient with --to" in nobody.output
    unknown = run("submit", str(draft.id), "--to", "XX")
    assert unknown.exit_code == 1 and "not an ASEAN Member State code: XX" in unknown.output
    assert session.exec(select(Submission)).all() == []
    sent = run("submit", str(draft.id), "--to", "SG", "--to", "MY", "--consent")
    assert sent.exit_code == 0, sent.output
    assert "to the regulators of MY, SG; benchmark consent: yes" in sent.output
    submission = session.exec(select(Submission)).one()
    assert submission.benchmark_consent is True
    assert sorted(r.jurisdiction for r in session.exec(select(Recipient))) == ["MY", "SG"]
    assert _events(session, "assessment.submit")[0].detail["jurisdictions"] == ["MY", "SG"]
    assert "already been submitted" in run("submit", str(draft.id), "--to", "SG").output

    incomplete = make.assessment(make.organisation(), None, 2026, {"mini.policy.owner": 2})
    missing = run("submit", str(incomplete.id), "--to", "SG")
    assert missing.exit_code == 1 and "mini.policy.exists" in missing.output
    default = make.assessment(make.organisation(), None, 2026, make.complete_answers())
    assert run("submit", str(default.id), "--to", "SG").exit_code == 0
    session.expire_all()
    consents = [s.benchmark_consent for s in session.exec(select(Submission).order_by(Submission.id))]
    assert consents == [True, False]  # no consent unless given


def _exported(run, make, tmp_path, **profile):
    org = make.organisation(name="Source Co", **profile)
    submitted = make.submitted(org, make.user(org), cycle=2025)
    out = tmp_path / "export.json"
    assert run("export-assessment", str(submitted.id), "-o", str(out)).exit_code == 0
    return out


def test_import_warns_listing_the_questions_when_the_profiles_differ(run, make, session, tmp_path):
    out = _exported(run, make, tmp_path)
    target = make.organisation(name="Payments-free", service_types=["social_network"], features=["live_streaming"])
    result = run("import-assessment", str(out), "--org", str(target.id))
    assert result.exit_code == 0, result.output
    assert "warning: the file's profile differs from Payments-free's (service_types, features)" in result.output
    assert "answered question(s) not asked of Payments-free: mini.ops.payments" in result.output
    same = make.organisation(name="Same profile")
    quiet = run("import-assessment", str(out), "--org", str(same.id))
    assert quiet.exit_code == 0 and "warning" not in quiet.output


def test_import_refuses_to_create_an_organisation_nobody_can_sign_in_to(run, make, session, client, tmp_path):
    out = _exported(run, make, tmp_path)
    document = json.loads(out.read_text())
    document["organisation"]["name"] = "Brand New Co"
    document.pop("submission")
    out.write_text(json.dumps(document))
    refused = run("import-assessment", str(out))
    assert refused.exit_code == 1 and "--admin-email" in refused.output
    assert session.exec(select(Organisation).where(Organisation.name == "Brand New Co")).first() is None
    made = run("import-assessment", str(out), "--admin-email", "boss@new.example")
    assert made.exit_code == 0, made.output
    org = session.exec(select(Organisation).where(Organisation.name == "Brand New Co")).one()
    boss = accounts.find_user(session, "boss@new.example")
    assert accounts.membership_of(session, org, boss.id)[0].role == OrgRole.ADMIN
    assert client.get(_invite_path(made.output)).status_code == 200


def test_benchmark_prints_only_what_the_disclosure_module_releases(run, make, session):
    for number in range(5):
        org = make.organisation(name=f"Consenting {number}", size_band="large" if number else "startup")
        make.submitted(org, make.user(org), consent=True)
    printed = run("benchmark")
    assert printed.exit_code == 0, printed.output
    assert "release 1" in printed.output
    assert "Consenting" not in printed.output  # never a company's name
    startup = [line for line in printed.output.splitlines() if "Start-up" in line]
    assert startup and all("withheld" in line and not re.search(r"\d", line.split("withheld")[1]) for line in startup)
    everyone = [line for line in printed.output.splitlines() if line.strip().startswith("All companies")]
    assert any("5 companies" in line for line in everyone)


def test_run_prints_demo_sign_ins_only_when_the_demo_is_loaded(run, monkeypatch):
    monkeypatch.setattr("flask.Flask.run", lambda *args, **kwargs: None)
    bare = run("run")
    assert bare.exit_code == 0, bare.output
    assert "Serving on" in bare.output and "Demo sign-ins" not in bare.output
    assert run("load-demo").exit_code == 0
    assert "Demo sign-ins" in run("run").output


# Every command that reads or writes the database, with arguments that would otherwise work.
DATABASE_COMMANDS = {
    "load-demo": [],
    "list-assessments": [],
    "export-assessment": ["1", "-o", "-"],
    "import-assessment": ["{file}"],
    "create-user": ["--email", "r@example.org", "--name", "R", "--role", "working_group", "--password", "x" * 20],
    "confirm-regulator": ["r@example.org"],
    "reset-password": ["r@example.org"],
    "create-organisation": ["X Co", "--admin-email", "a@x.example"],
    "add-member": ["1", "b@x.example"],
    "submit": ["1", "--to", "SG"],
    "benchmark": [],
    "publish-release": [],
    "notify-due": [],
    "indicators": ["--country", "SG", "--cycle", "2026"],
    "create-token": ["--email", "r@example.org", "--name", "n"],
    "verify": [],
    "backup": ["{tmp}/backup.dump"],
}
# Commands that need no database, or make one (init-db, run, restore).
OTHER_COMMANDS = {
    "validate-content", "content-catalogues", "init-db", "run", "restore", "coverage", "content-doc", "score",
    "weights", "report",
}  # fmt: skip


def test_every_command_is_classified():
    assert set(cli.commands) == set(DATABASE_COMMANDS) | OTHER_COMMANDS


@pytest.mark.parametrize("command", sorted(DATABASE_COMMANDS))
def test_a_command_on_an_uninitialised_database_says_to_run_init_db(command, tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("DD_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setattr("dd_toolkit.web.config.Config.DATABASE_URL", url)
    example = tmp_path / "file.json"
    example.write_text("{}")
    args = [a.format(file=example, tmp=tmp_path) for a in DATABASE_COMMANDS[command]]
    result = CliRunner().invoke(cli, ["--content", str(FIXTURE_CONTENT), command, *args])
    assert result.exit_code == 1, result.output
    assert "run dd-toolkit init-db first" in result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)


def test_an_older_schema_also_says_to_run_init_db(tmp_path, monkeypatch):
    from dd_toolkit.records.database import upgrade

    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    upgrade(url, "0001")
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("DD_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setattr("dd_toolkit.web.config.Config.DATABASE_URL", url)
    result = CliRunner().invoke(cli, ["--content", str(FIXTURE_CONTENT), "list-assessments"])
    assert result.exit_code == 1 and "run dd-toolkit init-db first" in result.output
    initialised = CliRunner().invoke(cli, ["--content", str(FIXTURE_CONTENT), "init-db"])
    assert initialised.exit_code == 0, initialised.output
    listed = CliRunner().invoke(cli, ["--content", str(FIXTURE_CONTENT), "list-assessments"])
    assert listed.exit_code == 0 and listed.output.strip() == "no assessments"


def test_the_members_page_posts_carry_no_duplicate_ids(company, client):
    page = client.get("/organisation/members").get_data(as_text=True)
    ids = re.findall(r'\sid="([^"]+)"', page)
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    assert csrf_token(client, "/organisation/members")


# -- the copy button in Chromium -------------------------------------------------------------------


@pytest.mark.browser
def test_the_copy_button_copies_the_link_and_says_copied(live_server, page, make):
    org = make.organisation(name="Copy Co")
    admin = make.user(org)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))  # a script error, not a missing favicon
    test_browser.sign_in(page, live_server, admin.email, factories.PASSWORD)
    page.goto(f"{live_server}/organisation/members")
    page.get_by_label("Name", exact=True).fill("Ana")
    page.get_by_label("Work email").fill("ana@copy.example")
    page.get_by_role("button", name="Create account and invitation link").click()
    link = page.locator("#invite-link").input_value()
    assert "/auth/invite/" in link
    button = page.get_by_role("button", name="Copy Invitation link")
    assert button.is_visible()  # shown by the script; hidden without it
    button.click()
    from playwright.sync_api import expect

    status = page.locator("#invite-link-status")
    expect(status).to_have_text("Copied")
    assert status.get_attribute("aria-live") == "polite"
    assert page.evaluate("navigator.clipboard.readText()") == link
    assert not errors, errors


def test_an_unreachable_database_is_named_without_a_traceback(tmp_path, monkeypatch):
    url = "postgresql://nobody@127.0.0.1:1/none"  # loopback, a port nothing listens on
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("DD_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setattr("dd_toolkit.web.config.Config.DATABASE_URL", url)
    result = CliRunner().invoke(cli, ["--content", str(FIXTURE_CONTENT), "list-assessments"])
    assert result.exit_code == 1, result.output
    assert "cannot connect to the database" in result.output and "check DATABASE_URL" in result.output
    assert isinstance(result.exception, SystemExit)


def test_the_profile_options_and_file_follow_the_one_list_of_profile_fields():
    from dd_toolkit.engine import portable
    from dd_toolkit.engine.snapshot import PROFILE_FIELDS

    assert set(portable._Organisation.model_fields) == {*PROFILE_FIELDS, "name", "description"}
    options = {p.name for p in cli.commands["create-organisation"].params}
    assert set(PROFILE_FIELDS) <= options


def test_publish_release_if_due_waits_for_the_threshold_of_new_consenting_companies(run, make, session):
    from dd_toolkit.records.models import Release

    threshold = make.content.current_methodology.benchmark.disclosure_threshold
    for number in range(threshold - 1):
        org = make.organisation(name=f"Consenting {number}")
        make.submitted(org, make.user(org), consent=True)
    waiting = run("publish-release", "--if-due")
    assert waiting.exit_code == 0 and "no release is due yet" in waiting.output, waiting.output
    # The threshold-th: submitting in the records layer publishes release 1 at once; it is taken
    # back here, so the command finds the release due.
    org = make.organisation(name="Consenting last")
    make.submitted(org, make.user(org), consent=True)
    session.exec(sa.delete(Release))
    session.commit()
    published = run("publish-release", "--if-due")
    assert published.exit_code == 0 and "published release 1" in published.output, published.output
    assert "no release is due yet" in run("publish-release", "--if-due").output
    both = run("publish-release", "--if-due", "--final")
    assert both.exit_code == 2 and "do not go together" in both.output

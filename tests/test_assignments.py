"""Who answers which section: an admin assigns the sections of a draft to members, who are
notified and find them on their home page; the overview and the section pages say whose each
section is; a change someone else made meanwhile is a conflict, never overwritten; a submitted
assessment takes no assignment; a new version keeps them and a member who leaves gives theirs up."""

from __future__ import annotations

import re

import pytest
from sqlmodel import select

from dd_toolkit.records import accounts
from dd_toolkit.records.assessments import AssessmentError, new_version, start_assessment, submit
from dd_toolkit.records.assignments import assign_sections, assignments_of
from dd_toolkit.records.database import standalone_session
from dd_toolkit.records.models import AuditEvent, Notification, OrgRole

from . import factories
from .conftest import mail_app

POLICY, OPS = "mini.policy", "mini.ops"


def url(assessment) -> str:
    return f"/assessments/{assessment.id}/assignments"


def choose(policy="", ops="", *, shown_policy="", shown_ops="") -> dict:
    """The assignment form as a browser posts it (member ids as text, "" for nobody)."""
    return {
        "section-mini-policy": str(policy),
        "section-mini-policy-shown": str(shown_policy),
        "section-mini-ops": str(ops),
        "section-mini-ops-shown": str(shown_ops),
    }


@pytest.fixture
def team(company, make):
    """The signed-in admin's company, with a contributor and a draft."""
    org, admin = company
    contributor = make.user(org, role=OrgRole.CONTRIBUTOR)
    return org, admin, contributor, make.assessment(org, admin)


def test_an_admin_assigns_a_section_and_the_member_is_told_and_finds_it(team, client, forms, auth, session):
    org, admin, contributor, draft = team
    page = client.get(url(draft)).get_data(as_text=True)
    # Each section's select is labelled by the section's title and lists the members and "Nobody".
    assert '<label for="section-mini-policy">' in page
    options = re.search(r'<select id="section-mini-policy" name="section-mini-policy">(.*?)</select>', page, re.S)
    assert re.findall(r'value="(\d*)"', options.group(1)) == ["", str(admin.id), str(contributor.id)]

    response = forms.post(url(draft), choose(contributor.id))
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/assessments/{draft.id}")
    overview = client.get(f"/assessments/{draft.id}").get_data(as_text=True)
    assert "1 assignment saved." in overview
    assert "1 of 2 sections are assigned to a member." in overview
    assert f"<td>{contributor.name}</td>" in overview and "Nobody" in overview

    assert {section: user.id for section, user in assignments_of(session, draft.id).items()} == {POLICY: contributor.id}
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "assessment.assign")).one()
    assert event.user_id == admin.id and event.detail == {"sections": {POLICY: contributor.id}}
    notice = session.exec(select(Notification).where(Notification.user_id == contributor.id)).one()
    assert (notice.kind, notice.entity, notice.entity_id, notice.params["section"]) == (
        "section_assigned",
        "section",
        draft.id,
        POLICY,
    )
    assert session.exec(select(Notification).where(Notification.user_id == admin.id)).first() is None

    auth.logout()
    auth.login(contributor.email)
    home = client.get("/").get_data(as_text=True)
    section_url = f"/assessments/{draft.id}/sections/{POLICY}"
    assert (
        "Your sections" in home
        and "You are asked to answer 1 section of the 2026 assessment." in home
        and "1 still needs answers or a review." in home
    )
    assert f'href="{section_url}">Continue with “Policy”' in home
    assert "Sections assigned to you" in home
    listed = client.get("/notifications/").get_data(as_text=True)
    assert f"{admin.name} asked you to answer the section “Policy” of the 2026 assessment." in listed
    assert f'href="{section_url}"' in listed
    assert '<p class="assignee">Assigned to you.</p>' in client.get(section_url).get_data(as_text=True)
    assert "<td>You</td>" in client.get(f"/assessments/{draft.id}").get_data(as_text=True)


def test_only_an_admin_of_the_company_may_assign(team, client, forms, auth, make):
    org, admin, contributor, draft = team
    auth.logout()
    auth.login(contributor.email)
    assert client.get(url(draft)).status_code == 403
    overview = client.get(f"/assessments/{draft.id}").get_data(as_text=True)
    assert "Assign sections" not in overview and "0 of 2 sections are assigned" in overview
    auth.logout()
    outsider = make.user(make.organisation())
    auth.login(outsider.email)
    assert client.get(url(draft)).status_code == 404


def test_a_section_goes_only_to_an_active_member_of_the_company(team, client, forms, make, session):
    org, admin, contributor, draft = team
    outsider = make.user(make.organisation())
    response = forms.post(url(draft), choose(outsider.id), page=url(draft))
    assert response.status_code == 422
    assert "Not a valid choice" in response.get_data(as_text=True)
    assert assignments_of(session, draft.id) == {}
    # The records layer refuses it too, whatever the form offered.
    with pytest.raises(AssessmentError):
        assign_sections(session, draft, {POLICY: (None, outsider.id)}, section_ids=[POLICY, OPS], by=admin)
    with pytest.raises(AssessmentError):
        assign_sections(session, draft, {"no.such": (None, admin.id)}, section_ids=[POLICY, OPS], by=admin)
    # The member the page showed is a number or nothing.
    response = forms.post(url(draft), {**choose(admin.id), "section-mini-policy-shown": "x"}, page=url(draft))
    assert response.status_code == 422 and assignments_of(session, draft.id) == {}


def test_a_change_made_meanwhile_is_shown_never_overwritten(team, client, forms, make, session):
    org, admin, contributor, draft = team
    other_admin = make.user(org)
    token_page = url(draft)
    # The page was read with both sections unassigned; another admin then assigns both.
    assign_sections(session, draft, {POLICY: (None, contributor.id), OPS: (None, contributor.id)},
                    section_ids=[POLICY, OPS], by=other_admin)  # fmt: skip
    response = forms.post(url(draft), choose(admin.id), page=token_page)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert f"Someone else assigned it to {contributor.name} meanwhile." in page
    assert "Someone else changed 1 assignment while you worked" in page
    # Kept as the admin chose it, with the assignment now stored as the one shown.
    assert re.search(rf'<option selected value="{admin.id}">', page)
    assert (
        f'id="section-mini-policy-shown" name="section-mini-policy-shown" type="hidden" value="{contributor.id}"'
        in page
    )
    # "ops", left as the page showed it, was not touched: it stays the other admin's choice.
    assert {s: u.id for s, u in assignments_of(session, draft.id).items()} == {
        POLICY: contributor.id,
        OPS: contributor.id,
    }

    again = forms.post(url(draft), choose(admin.id, shown_policy=contributor.id), page=token_page)
    assert again.status_code == 302
    assert {s: u.id for s, u in assignments_of(session, draft.id).items()} == {POLICY: admin.id, OPS: contributor.id}
    # Back to nobody.
    forms.post(url(draft), choose("", contributor.id, shown_policy=admin.id, shown_ops=contributor.id))
    assert {s: u.id for s, u in assignments_of(session, draft.id).items()} == {OPS: contributor.id}


def test_a_submitted_assessment_takes_no_assignment(company, client, make, session):
    org, admin = company
    draft = make.assessment(org, admin, answers=make.complete_answers())
    submit(session, make.bank, make.content.methodology("standard@test.1"), draft, admin,
           benchmark_consent=False, jurisdictions=["SG"])  # fmt: skip
    response = client.get(url(draft))
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/assessments/{draft.id}")
    assert "read-only" in client.get(f"/assessments/{draft.id}").get_data(as_text=True)
    with pytest.raises(AssessmentError):
        assign_sections(session, draft, {POLICY: (None, admin.id)}, section_ids=[POLICY, OPS], by=admin)


def test_a_new_version_keeps_the_assignments_and_a_member_who_leaves_gives_theirs_up(company, make, session):
    org, admin = company
    contributor = make.user(org, role=OrgRole.CONTRIBUTOR)
    leaving = make.user(org, role=OrgRole.CONTRIBUTOR)
    draft = make.assessment(org, admin, answers=make.complete_answers())
    assign_sections(session, draft, {POLICY: (None, contributor.id), OPS: (None, leaving.id)},
                    section_ids=[POLICY, OPS], by=admin)  # fmt: skip
    submit(session, make.bank, make.content.methodology("standard@test.1"), draft, admin,
           benchmark_consent=False, jurisdictions=["SG"])  # fmt: skip
    accounts.remove_member(session, org, leaving, by=admin)
    assert {s: u.id for s, u in assignments_of(session, draft.id).items()} == {POLICY: contributor.id}
    removal = session.exec(select(AuditEvent).where(AuditEvent.action == "member.remove")).one()
    assert removal.detail["sections_released"] == 1

    version_two = new_version(session, make.bank, draft, admin)
    assert {s: u.id for s, u in assignments_of(session, version_two.id).items()} == {POLICY: contributor.id}
    next_cycle = start_assessment(session, make.bank, org, 2027, admin, prefill_from=version_two)
    assert {s: u.id for s, u in assignments_of(session, next_cycle.id).items()} == {POLICY: contributor.id}
    start = session.exec(
        select(AuditEvent).where(AuditEvent.action == "assessment.start", AuditEvent.entity_id == str(next_cycle.id))
    ).one()
    assert start.detail["sections_assigned"] == 1


def test_sections_given_in_one_save_make_one_notification_that_names_them_all(team, client, forms, auth, session):
    org, admin, contributor, draft = team
    assert forms.post(url(draft), choose(contributor.id, contributor.id)).status_code == 302
    notice = session.exec(select(Notification).where(Notification.user_id == contributor.id)).one()
    assert (notice.kind, notice.entity, notice.params["sections"]) == ("sections_assigned", "assessment", [POLICY, OPS])
    auth.logout()
    auth.login(contributor.email)
    listed = client.get("/notifications/").get_data(as_text=True)
    assert f"{admin.name} asked you to answer these sections of the 2026 assessment: Policy and Operations." in listed
    assert f'href="/assessments/{draft.id}"' in listed
    home = client.get("/").get_data(as_text=True)
    assert "You are asked to answer 2 sections of the 2026 assessment." in home


def test_the_email_of_an_assignment_links_to_the_section(database_url, tmp_path, monkeypatch, smtp_sink):
    app = mail_app(database_url, tmp_path, monkeypatch, MAIL_SERVER="127.0.0.1",
                    MAIL_PORT=smtp_sink.server_address[1], PUBLIC_URL="https://dd.example.org")  # fmt: skip
    try:
        with standalone_session(app.extensions["dd_engine"]) as session:
            make = factories.Factory(session, app.extensions["dd_content"])
            org = make.organisation()
            admin, contributor = make.user(org), make.user(org, role=OrgRole.CONTRIBUTOR)
            draft = make.assessment(org, admin)
            assign_sections(session, draft, {POLICY: (None, contributor.id)}, section_ids=[POLICY, OPS], by=admin)
        ((_sender, (to,), message),) = smtp_sink.messages
        assert to == contributor.email
        assert message["Subject"] == "Child-rights DD toolkit: A section was assigned to you"
        body = message.get_payload(decode=True).decode()
        assert f"{admin.name} asked you to answer the section “Policy” of the 2026 assessment." in body
        assert f"https://dd.example.org/assessments/{draft.id}/sections/{POLICY}" in body
    finally:
        app.extensions["dd_engine"].dispose()


def test_removing_a_member_says_how_many_sections_need_someone_else(team, client, forms, session):
    org, admin, contributor, draft = team
    assign_sections(session, draft, {POLICY: (None, contributor.id), OPS: (None, contributor.id)},
                    section_ids=[POLICY, OPS], by=admin)  # fmt: skip
    response = forms.post(f"/organisation/members/{contributor.id}/remove", page="/organisation/members")
    assert response.status_code == 302
    page = client.get("/organisation/members").get_data(as_text=True)
    assert "2 sections they were asked to answer are nobody&#39;s now" in page
    assert assignments_of(session, draft.id) == {}

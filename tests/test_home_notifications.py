"""Each role's home page (what to do next, read from stored records) and notifications: created
by the records functions that perform the events, listed and marked as read by their owner only,
counted in the navigation, and sent by email when an SMTP server is configured."""

from __future__ import annotations

import datetime as dt
import logging
import re
import socket

import pytest
import sqlalchemy as sa
from alembic import command
from babel.dates import format_date
from click.testing import CliRunner
from sqlmodel import select

from dd_toolkit.cli import main as cli
from dd_toolkit.engine.completion import progress
from dd_toolkit.records import accounts, notifications, releases, review
from dd_toolkit.records import database as records_db
from dd_toolkit.records.assessments import answers_of, new_version, profile_of, submit
from dd_toolkit.records.database import alembic_config, make_engine
from dd_toolkit.records.models import (
    ActionTracking,
    IndicatorOutcomeRecord,
    Notification,
    OrgRole,
    PlatformRole,
    Recipient,
    ReviewStatus,
    Submission,
    SubmissionRecord,
    utcnow,
)

from . import factories
from .conftest import FIXTURE_CONTENT, AuthActions, Forms, mail_app, recorded_statements

# The fixture methodology with RPA indicator rules (its newer version has none).
WITH_INDICATORS = "standard@test.1"
TODAY = dt.date.today()


# -- helpers ---------------------------------------------------------------------------------------


def send_to(make, org, user, jurisdictions, cycle=2026, answers=None):
    """Submit a complete assessment of ``org`` to ``jurisdictions``; returns it and its recipients."""
    assessment = make.assessment(org, user, cycle, answers or make.complete_answers())
    submission = submit(
        make.session,
        make.bank,
        make.content.methodology(WITH_INDICATORS),
        assessment,
        user,
        jurisdictions=list(jurisdictions),
    )
    rows = make.session.exec(select(Recipient).where(Recipient.submission_id == submission.id)).all()
    return assessment, {r.jurisdiction: r for r in rows}


def regulator(make, *jurisdictions):
    return make.user(platform_role=PlatformRole.REGULATOR, jurisdictions=list(jurisdictions))


def track(session, assessment, item_id, due, status="todo", title=None):
    row = ActionTracking(
        assessment_id=assessment.id, item_id=item_id, title=title or f"Action {item_id}", due_date=due, status=status
    )
    session.add(row)
    session.commit()
    return row


def of(session, user, kind=None):
    query = select(Notification).where(Notification.user_id == user.id).order_by(Notification.id)
    if kind is not None:
        query = query.where(Notification.kind == kind)
    return list(session.exec(query))


def section_between(page: str, heading_id: str) -> str:
    """The text of the home page's panel whose heading has ``heading_id``."""
    return page.split(f'id="{heading_id}"')[1].split("</section>")[0]


# -- the company's home page -----------------------------------------------------------------------


def test_company_home_says_what_to_do_next_from_stored_records(client, make, auth, session):
    org = make.organisation(name="Acme Streams")
    admin = make.user(org)
    contributor = make.user(org, role=OrgRole.CONTRIBUTOR)
    first, _ = send_to(make, org, admin, ["SG"], cycle=2025)
    second, to = send_to(make, org, admin, ["SG"], cycle=2026)
    sg = regulator(make, "SG")
    review.transition(session, to["SG"], ReviewStatus.IN_REVIEW, sg)
    review.transition(session, to["SG"], ReviewStatus.CLARIFICATION_REQUESTED, sg, "Please explain the count.")
    draft = make.assessment(org, contributor, 2027, {"mini.ops.reports": 40})
    overdue = track(session, draft, "late", TODAY - dt.timedelta(days=3), title="Name a safeguarding lead")
    soon = track(session, draft, "soon", TODAY + dt.timedelta(days=3), status="in_progress", title="Train moderators")
    track(session, draft, "later", TODAY + dt.timedelta(days=30), title="Audit the classifier")
    track(session, draft, "done", TODAY - dt.timedelta(days=10), status="done", title="Publish the policy")
    # The trend is read from the stored records: a value written there is what the page shows.
    record = session.exec(select(SubmissionRecord).join(Submission).where(Submission.assessment_id == first.id)).one()
    record.overall = 12.4
    session.add(record)
    session.commit()

    auth.login(admin.email)
    page = client.get("/").get_data(as_text=True)

    # What to do next: the regulator's request comes first, with its text.
    assert "A regulator is waiting for your answer" in page
    requests = section_between(page, "h-requests")
    assert "Please explain the count." in requests and "Singapore" in requests
    assert f'href="/assessments/{second.id}"' in requests
    # Progress of the draft, and where anyone last saved.
    state = progress(make.bank, profile_of(org), answers_of(session, draft.id))
    cycle = section_between(page, "h-cycle")
    assert f"{state.answered} of {state.total} applicable questions answered" in cycle
    assert f'href="/assessments/{draft.id}/sections/mini.ops"' in cycle and "Operations" in cycle
    # Actions overdue and due soon, not those done or due later.
    actions = section_between(page, "h-actions")
    assert overdue.title in actions and soon.title in actions
    # Each leads to its own action on the plan, not to the top of it.
    assert f'href="/assessments/{draft.id}/action-plan#item-late">{overdue.title}</a>' in actions
    assert "Audit the classifier" not in actions and "Publish the policy" not in actions
    # The date as the reader's language writes it (English here: "Nov 2, 2026").
    assert f"overdue since {format_date(overdue.due_date, 'medium', locale='en')}" in actions
    # The score of each cycle as stored at submission.
    trend = section_between(page, "h-trend")
    stored = {
        r.cycle: r.overall
        for r in session.exec(select(SubmissionRecord).where(SubmissionRecord.organisation_id == org.id))
    }
    assert re.search(r">2025</a></th>\s*<td>12</td>", trend)
    assert re.search(rf">2026</a></th>\s*<td>{stored[2026]:.0f}</td>", trend)
    # The RPA indicators of the latest submission, each with its stored outcome.
    rpa = section_between(page, "h-rpa")
    outcomes = session.exec(
        select(IndicatorOutcomeRecord)
        .join(Submission, Submission.id == IndicatorOutcomeRecord.submission_id)
        .where(Submission.assessment_id == second.id, IndicatorOutcomeRecord.component_id == "")
    ).all()
    assert {o.indicator_id for o in outcomes} == {"RPA:7.3.1", "RPA:7.4.1"}  # the fixture methodology's
    for outcome in outcomes:
        word = "met" if outcome.met else "not met" if outcome.applies else "does not apply"
        assert re.search(
            rf"<strong>{re.escape(outcome.indicator_id.removeprefix('RPA:'))}</strong> {re.escape(outcome.label)}:\s*"
            rf"<span class=\"status[^\"]*\">{word}",
            rpa,
        ), outcome.indicator_id


def test_company_home_continue_link_is_the_section_saved_last_by_anyone(client, make, auth, session):
    org = make.organisation()
    admin, contributor = make.user(org), make.user(org, role=OrgRole.CONTRIBUTOR)
    draft = make.assessment(org, admin, 2026, {"mini.policy.owner": 2})
    make.answer(draft, contributor, {"mini.ops.reports": 10})  # saved after the admin's answer
    auth.login(admin.email)
    page = client.get("/").get_data(as_text=True)
    assert "Continue where you left off" in page
    assert f'href="/assessments/{draft.id}/sections/mini.ops"' in page
    assert f'href="/assessments/{draft.id}/sections/mini.policy"' not in page


def test_company_home_empty_states(client, make, auth):
    org = make.organisation()
    admin = make.user(org)
    contributor = make.user(org, role=OrgRole.CONTRIBUTOR)
    auth.login(admin.email)
    page = client.get("/").get_data(as_text=True)
    assert "No assessment in progress" in page and "Start this year’s assessment" in page
    assert "No draft is open." in page
    assert "No open request from a regulator." in page
    assert "No action is overdue or due within a week." in page
    assert "No assessment submitted yet" in page
    assert "appears here once an assessment is submitted" in page
    assert "<progress" not in page  # no bar for nothing
    auth.logout()
    auth.login(contributor.email)
    assert "An organisation admin starts each year’s assessment" in client.get("/").get_data(as_text=True)


def test_company_home_with_an_unanswered_draft_starts_the_first_section(client, make, auth):
    org = make.organisation()
    admin = make.user(org)
    draft = make.assessment(org, admin, 2026)
    auth.login(admin.email)
    page = client.get("/").get_data(as_text=True)
    assert "Nothing is answered yet" in page
    assert f'href="/assessments/{draft.id}/sections/mini.policy"' in page
    assert "0 of " in section_between(page, "h-cycle")


# -- the regulator's home page ---------------------------------------------------------------------


def test_regulator_home_lists_submissions_by_status_and_requests_awaiting_the_company(client, make, auth, session):
    sg = regulator(make, "SG")
    orgs = {name: make.organisation(name=name) for name in ("Alpha Chat", "Beta Games", "Gamma Pay", "Delta MY")}
    users = {name: make.user(org) for name, org in orgs.items()}
    _, alpha = send_to(make, orgs["Alpha Chat"], users["Alpha Chat"], ["SG"])
    _, beta = send_to(make, orgs["Beta Games"], users["Beta Games"], ["SG"])
    _, gamma = send_to(make, orgs["Gamma Pay"], users["Gamma Pay"], ["SG", "MY"])
    send_to(make, orgs["Delta MY"], users["Delta MY"], ["MY"])
    review.transition(session, beta["SG"], ReviewStatus.IN_REVIEW, sg)
    review.transition(session, gamma["SG"], ReviewStatus.IN_REVIEW, sg)
    review.transition(session, gamma["SG"], ReviewStatus.CLARIFICATION_REQUESTED, sg, "Which hotline?")
    alpha["SG"].updated_at = utcnow() - dt.timedelta(days=5, hours=1)  # received five days ago
    session.add(alpha["SG"])
    session.commit()

    auth.login(sg.email)
    page = client.get("/").get_data(as_text=True)
    assert "Submissions addressed to Singapore" in page
    assert "Alpha Chat has waited 5 days for “Received”." in page
    by_status = section_between(page, "h-status")
    for label, count, age in (
        ("Received", 1, "5 days"),
        ("In review", 1, "less than a day"),
        ("Clarification requested", 1, "less than a day"),
    ):
        assert re.search(rf">{label}</a></th><td>{count}</td><td>{age}</td>", by_status), label
    waiting = section_between(page, "h-waiting")
    assert "Alpha Chat" in waiting and "Beta Games" in waiting and "Gamma Pay" not in waiting
    assert f'href="/review/{alpha["SG"].id}"' in waiting
    awaiting = section_between(page, "h-company")
    assert "Gamma Pay" in awaiting and f'href="/review/{gamma["SG"].id}"' in awaiting
    assert "Alpha Chat" not in awaiting
    assert "Delta MY" not in page  # addressed to Malaysia only
    # The submission waiting longest is the next to review.
    assert page.index("Next to review") < page.index("Alpha Chat")


def test_regulator_home_empty_states(client, make, auth):
    sg = regulator(make, "SG")
    auth.login(sg.email)
    assert "Nothing to review yet" in client.get("/").get_data(as_text=True)
    auth.logout()
    pending = make.user(platform_role=PlatformRole.REGULATOR)
    auth.login(pending.email)
    assert "No jurisdiction confirmed yet" in client.get("/").get_data(as_text=True)


# -- the working group's home page -----------------------------------------------------------------


def test_working_group_home_shows_the_latest_release_headline_only(client, make, auth, session, app):
    wg = make.user(platform_role=PlatformRole.WORKING_GROUP)
    auth.login(wg.email)
    assert "No release yet" in client.get("/").get_data(as_text=True)
    names = [f"Consenting Co {n}" for n in range(5)]
    for name in names:
        make.submitted(make.organisation(name=name), consent=True)
    method = app.extensions["dd_content"].current_methodology
    release = releases.published(session, method)
    assert release is not None
    cycle = max(release.cycles)
    overall = release.benchmarks[cycle].group("all").metric("overall")
    page = client.get("/").get_data(as_text=True)
    assert f"Release {release.number}" in page
    assert f"Headline figures, {cycle}" in page
    assert f"{overall.median:.0f} ({overall.p25:.0f}–{overall.p75:.0f})" in page
    assert not any(name in page for name in names)  # never a company


# -- notifications: the events ---------------------------------------------------------------------


def test_a_review_status_change_and_a_clarification_request_notify_the_company(make, session):
    org = make.organisation()
    admin, contributor = make.user(org), make.user(org, role=OrgRole.CONTRIBUTOR)
    outsider = make.user(make.organisation())
    assessment, to = send_to(make, org, admin, ["SG"])
    sg = regulator(make, "SG")
    review.transition(session, to["SG"], ReviewStatus.IN_REVIEW, sg)
    for user in (admin, contributor):
        (status,) = of(session, user, notifications.Kind.REVIEW_STATUS)
        assert status.params == {"jurisdiction": "SG", "cycle": 2026, "version": 1, "status": "in_review"}
        assert (status.entity, status.entity_id) == ("assessment", assessment.id)
    review.transition(session, to["SG"], ReviewStatus.CLARIFICATION_REQUESTED, sg, "Why?")
    for user in (admin, contributor):
        assert len(of(session, user, notifications.Kind.CLARIFICATION_REQUESTED)) == 1
        assert len(of(session, user, notifications.Kind.REVIEW_STATUS)) == 1  # the request is not counted twice
    assert of(session, sg) == [] and of(session, outsider) == []


def test_a_refused_transition_notifies_nobody(make, session):
    org = make.organisation()
    admin = make.user(org)
    _, to = send_to(make, org, admin, ["SG"])
    with pytest.raises(review.ReviewError):
        review.transition(session, to["SG"], ReviewStatus.REVIEWED, regulator(make, "SG"))
    session.rollback()
    assert of(session, admin) == []


def test_the_reply_to_a_clarification_notifies_the_regulator_who_asked(make, session):
    org = make.organisation(name="Replying Co")
    admin = make.user(org)
    assessment, to = send_to(make, org, admin, ["SG", "MY"])
    asker, colleague, my = regulator(make, "SG"), regulator(make, "SG"), regulator(make, "MY")
    review.transition(session, to["SG"], ReviewStatus.IN_REVIEW, colleague)
    review.transition(session, to["SG"], ReviewStatus.CLARIFICATION_REQUESTED, asker, "Which hotline?")
    draft = new_version(session, make.bank, assessment, admin)
    make.answer(draft, admin, {"mini.ops.reports": 150})
    submit(session, make.bank, make.content.methodology(WITH_INDICATORS), draft, admin, jurisdictions=["SG", "MY"])
    newer = session.exec(
        select(Recipient).join(Submission).where(Submission.assessment_id == draft.id, Recipient.jurisdiction == "SG")
    ).one()
    (reply,) = of(session, asker)
    assert reply.kind == notifications.Kind.CLARIFICATION_ANSWERED
    assert (reply.entity, reply.entity_id) == ("recipient", newer.id)
    assert reply.params == {"organisation": "Replying Co", "cycle": 2026, "version": 2}
    assert of(session, colleague) == [] and of(session, my) == []


def test_an_accepted_invitation_notifies_the_inviter(make, session):
    org = make.organisation()
    admin = make.user(org)
    invited, token = accounts.invite_member(
        session, org, email="new.member@example.org", name="New Member", role=OrgRole.CONTRIBUTOR, invited_by=admin
    )
    assert of(session, admin) == []
    accounts.accept_invite(session, invited, factories.PASSWORD)
    (accepted,) = of(session, admin)
    assert accepted.kind == notifications.Kind.INVITATION_ACCEPTED
    assert accepted.params == {"name": "New Member", "email": "new.member@example.org"}
    assert accepted.entity == "members"
    assert of(session, invited) == []


def test_an_accepted_regulator_invitation_notifies_its_creator_and_who_issued_the_link(make, session):
    padmin = make.user(platform_role=PlatformRole.PLATFORM_ADMIN)
    sg = regulator(make, "SG")
    invited, none = accounts.invite_platform_user(
        session,
        email="new.regulator@example.org",
        name="New Regulator",
        role=PlatformRole.REGULATOR,
        jurisdictions=["SG"],
        invited_by=padmin,
    )
    assert none is None  # the link is issued at confirmation, to the confirmer
    (grant,) = accounts.pending_grants(session, invited)
    token = accounts.confirm_grant(session, grant, by=sg)
    assert token
    accounts.accept_invite(session, invited, factories.PASSWORD)
    assert [(n.kind, n.entity) for n in of(session, padmin)] == [("invitation_accepted", "accounts")]
    assert [(n.kind, n.entity) for n in of(session, sg)] == [("invitation_accepted", "confirmations")]


def test_due_actions_are_reminded_once_then_again_when_overdue(make, session):
    org = make.organisation()
    admin, contributor = make.user(org), make.user(org, role=OrgRole.CONTRIBUTOR)
    other_admin = make.user(make.organisation())
    draft = make.assessment(org, admin, 2026)
    due = track(session, draft, "soon", TODAY + dt.timedelta(days=2))
    track(session, draft, "later", TODAY + dt.timedelta(days=20))
    track(session, draft, "done", TODAY - dt.timedelta(days=1), status="done")
    assert notifications.notify_due_actions(session, today=TODAY) == 2  # one action, two members
    assert notifications.notify_due_actions(session, today=TODAY) == 0  # each reminder once
    for user in (admin, contributor):
        (reminder,) = of(session, user)
        assert reminder.kind == notifications.Kind.ACTION_DUE
        assert reminder.params == {"title": due.title, "due": due.due_date.isoformat()}
        assert (reminder.entity, reminder.entity_id) == ("action_plan", draft.id)
    later = TODAY + dt.timedelta(days=3)
    assert notifications.notify_due_actions(session, today=later) == 2
    assert [n.kind for n in of(session, admin)] == ["action_due", "action_overdue"]
    assert of(session, other_admin) == []


def test_an_action_carried_forward_is_reminded_on_its_newest_copy_only(make, session):
    org = make.organisation()
    admin = make.user(org)
    first = make.submitted(org, admin, cycle=2025)
    track(session, first, "policy", TODAY - dt.timedelta(days=1))
    draft = make.assessment(org, admin, 2026)
    from dd_toolkit.records.assessments import carry_forward_tracking

    carry_forward_tracking(session, first, draft)
    session.commit()
    assert notifications.notify_due_actions(session, today=TODAY) == 1
    (reminder,) = of(session, admin)
    assert reminder.entity_id == draft.id


def test_the_company_home_page_creates_due_reminders(client, make, auth, session):
    org = make.organisation()
    admin = make.user(org)
    draft = make.assessment(org, admin, 2026)
    track(session, draft, "late", TODAY - dt.timedelta(days=1), title="Appoint a contact point")
    auth.login(admin.email)
    first = client.get("/").get_data(as_text=True)
    client.get("/")
    session.expire_all()
    (reminder,) = of(session, admin)
    assert reminder.kind == notifications.Kind.ACTION_OVERDUE
    # The page that created the reminder counts it already, though the account (and its count)
    # was read before the reminder was made.
    assert re.search(r"Notifications <span class=\"count\">1<", first)


def test_the_unread_count_is_read_with_the_account(app, client, auth, make, notified):
    admin, _assessment, _sg = notified
    auth.login(admin.email)
    with recorded_statements(app.extensions["dd_engine"]) as statements:
        page = client.get("/question-bank/").get_data(as_text=True)
    assert re.search(r"Notifications <span class=\"count\">2<", page)
    counts = [s for s, _ in statements if "count(*)" in s and "FROM notification" in s]
    assert len(counts) == 1 and "FROM user_account" in counts[0]


def test_notify_due_command(make, session, database_url, monkeypatch, tmp_path):
    org = make.organisation()
    admin = make.user(org)
    draft = make.assessment(org, admin, 2026)
    track(session, draft, "soon", TODAY + dt.timedelta(days=5))
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("DD_INSTANCE_PATH", str(tmp_path / "i"))
    monkeypatch.setattr("dd_toolkit.web.config.Config.DATABASE_URL", database_url)
    run = CliRunner().invoke(cli, ["--content", str(FIXTURE_CONTENT), "notify-due"])
    assert run.exit_code == 0, run.output
    assert "1 notification(s) created" in run.output
    again = CliRunner().invoke(cli, ["--content", str(FIXTURE_CONTENT), "notify-due"])
    assert "0 notification(s) created" in again.output
    session.expire_all()
    assert [n.kind for n in of(session, admin)] == ["action_due"]


# -- notifications: the pages ----------------------------------------------------------------------


@pytest.fixture
def notified(make, session):
    """A company whose admin has two notifications (a status change and a clarification request)."""
    org = make.organisation()
    admin = make.user(org)
    assessment, to = send_to(make, org, admin, ["SG"])
    sg = regulator(make, "SG")
    review.transition(session, to["SG"], ReviewStatus.IN_REVIEW, sg)
    review.transition(session, to["SG"], ReviewStatus.CLARIFICATION_REQUESTED, sg, "Why?")
    return admin, assessment, sg


def test_the_list_shows_ones_own_notifications_in_words_linking_to_their_pages(client, auth, make, notified):
    admin, assessment, sg = notified
    auth.login(admin.email)
    page = client.get("/notifications/").get_data(as_text=True)
    assert "The regulator of Singapore asked for clarification on your 2026 assessment (version 1)" in page
    assert "The regulator of Singapore moved the review of your 2026 assessment (version 1) to “In review”" in page
    assert page.count(f'href="/assessments/{assessment.id}"') == 2
    assert "clarification_requested" not in page and "regulator of SG" not in page  # no internal codes
    assert "2 unread notifications." in page
    # The count in the navigation, on every page.
    assert re.search(r"Notifications <span class=\"count\">2<", client.get("/question-bank/").get_data(as_text=True))
    auth.logout()
    auth.login(sg.email)
    page = client.get("/notifications/").get_data(as_text=True)
    assert "asked for clarification" not in page and "Nothing yet." in page
    assert 'class="count"' not in page


def test_mark_as_read_needs_the_owner_and_a_csrf_token(client, auth, forms, make, session, notified):
    admin, _assessment, _sg = notified
    first, second = of(session, admin)
    intruder = make.user(make.organisation())
    auth.login(intruder.email)
    refused = forms.post(f"/notifications/{first.id}/read", page="/notifications/")
    assert refused.status_code == 404
    auth.logout()
    auth.login(admin.email)
    assert client.post(f"/notifications/{first.id}/read").status_code == 400  # no CSRF token
    session.expire_all()
    assert session.get(Notification, first.id).read_at is None
    done = forms.post(f"/notifications/{first.id}/read", page="/notifications/")
    assert done.status_code == 302 and done.headers["Location"].endswith("/notifications/")
    session.expire_all()
    assert session.get(Notification, first.id).read_at is not None
    assert session.get(Notification, second.id).read_at is None
    page = client.get("/notifications/").get_data(as_text=True)
    assert "1 unread notification." in page
    forms.post("/notifications/read", page="/notifications/")
    session.expire_all()
    assert session.get(Notification, second.id).read_at is not None
    assert 'class="count"' not in client.get("/notifications/").get_data(as_text=True)


def test_a_notifications_link_still_goes_through_the_authoriser(client, auth, make, session):
    org_a, org_b = make.organisation(), make.organisation()
    admin_a, user_b = make.user(org_a), make.user(org_b)
    assessment = make.assessment(org_a, admin_a, 2026)
    # A notification pointing at another organisation's assessment (say, from before a move).
    notifications.notify(
        session,
        [user_b.id],
        notifications.Kind.REVIEW_STATUS,
        {"jurisdiction": "SG", "cycle": 2026, "version": 1, "status": "in_review"},
        entity="assessment",
        entity_id=assessment.id,
    )
    session.commit()
    auth.login(user_b.email)
    page = client.get("/notifications/").get_data(as_text=True)
    assert f'href="/assessments/{assessment.id}"' in page
    assert client.get(f"/assessments/{assessment.id}").status_code == 404


def test_signed_out_visitors_have_no_notifications(client):
    assert client.get("/notifications/").status_code == 302


# -- email -----------------------------------------------------------------------------------------


def test_notifications_are_emailed_when_a_mail_server_is_configured(database_url, tmp_path, monkeypatch, smtp_sink):
    app = mail_app(
        database_url,
        tmp_path,
        monkeypatch,
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=smtp_sink.server_address[1],
        MAIL_FROM="toolkit@example.org",
        PUBLIC_URL="https://dd.example.org",
    )
    try:
        with records_db.standalone_session(app.extensions["dd_engine"]) as session:
            make = factories.Factory(session, app.extensions["dd_content"])
            org = make.organisation()
            admin, contributor = make.user(org), make.user(org, role=OrgRole.CONTRIBUTOR)
            assessment, to = send_to(make, org, admin, ["SG"])
            sg = regulator(make, "SG")
            assert smtp_sink.messages == []
            review.transition(session, to["SG"], ReviewStatus.IN_REVIEW, sg)
            review.transition(session, to["SG"], ReviewStatus.CLARIFICATION_REQUESTED, sg, "Why?")
        mails = [m for m in smtp_sink.messages if "clarification" in m[2]["Subject"]]
        assert sorted(to for _sender, (to,), _m in mails) == sorted([admin.email, contributor.email])
        _sender, _to, message = mails[0]
        assert message["From"] == "toolkit@example.org"
        assert message["Subject"] == "Child-rights DD toolkit: A regulator asked for clarification"
        body = message.get_payload(decode=True).decode()
        assert "The regulator of Singapore asked for clarification on your 2026 assessment" in body
        assert f"https://dd.example.org/assessments/{assessment.id}" in body
        assert len(smtp_sink.messages) == 4  # and the status change before it, to both members
    finally:
        app.extensions["dd_engine"].dispose()


def test_a_mail_server_that_fails_is_logged_and_breaks_nothing(database_url, tmp_path, monkeypatch, caplog):
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    app = mail_app(database_url, tmp_path, monkeypatch, MAIL_SERVER="127.0.0.1", MAIL_PORT=closed_port)
    try:
        client = app.test_client()
        with records_db.standalone_session(app.extensions["dd_engine"]) as session:
            make = factories.Factory(session, app.extensions["dd_content"])
            org = make.organisation()
            admin = make.user(org)
            _assessment, to = send_to(make, org, admin, ["SG"])
            sg = regulator(make, "SG")
        auth = AuthActions(client)
        auth.login(sg.email)
        url = f"/review/{to['SG'].id}"
        with caplog.at_level(logging.ERROR, logger="dd_toolkit.records.notifications"):
            response = Forms(client).post(f"{url}/status", {"to_status": "in_review"}, page=url)
        assert response.status_code == 302
        assert "could not send notification emails" in caplog.text
        with records_db.standalone_session(app.extensions["dd_engine"]) as session:
            assert session.get(Recipient, to["SG"].id).status == ReviewStatus.IN_REVIEW
            assert [n.kind for n in of(session, admin)] == ["review_status"]  # shown in the app all the same
    finally:
        app.extensions["dd_engine"].dispose()


def test_no_email_without_a_mail_server(app):
    assert app.config["MAIL_SERVER"] is None
    assert notifications._MAIL.get(app.extensions["dd_engine"]) is None


# -- the migration ---------------------------------------------------------------------------------


def test_the_notifications_migration_downgrades_and_upgrades(database_url):
    engine = make_engine(database_url)
    try:
        assert "notification" in sa.inspect(engine).get_table_names()
        command.downgrade(alembic_config(database_url), "0009")
        assert "notification" not in sa.inspect(engine).get_table_names()
        command.upgrade(alembic_config(database_url), "head")
        inspector = sa.inspect(engine)
        assert "notification" in inspector.get_table_names()
        assert "ix_notification_inbox" in {i["name"] for i in inspector.get_indexes("notification")}
    finally:
        engine.dispose()

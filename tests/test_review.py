"""Regulator review and RPA indicator monitoring: scoping by jurisdiction, the workflow and
its refusals, the clarification loop, and indicator counts checked by hand."""

import itertools
import json
import re

import pytest
from click.testing import CliRunner
from sqlmodel import select

from dd_toolkit.cli import main as cli
from dd_toolkit.records import review
from dd_toolkit.records.assessments import new_version
from dd_toolkit.records.models import PlatformRole, Recipient, ReviewStatus, Submission

from .conftest import Forms, recorded_statements


def regulator(make, *jurisdictions):
    return make.user(platform_role=PlatformRole.REGULATOR, jurisdictions=list(jurisdictions))


def test_regulator_sees_only_submissions_addressed_to_their_jurisdiction(client, make, auth, submitted_to):
    _, _, _, to_sg = submitted_to("SG", name="Only Singapore")
    _, _, _, to_both = submitted_to("SG", "MY", name="Both Countries")
    draft_org = make.organisation(name="Draft Co")
    make.assessment(draft_org, make.user(draft_org), answers=make.complete_answers())
    auth.login(regulator(make, "MY").email)
    page = client.get("/review/").get_data(as_text=True)
    assert "Both Countries" in page
    assert "Only Singapore" not in page and "Draft Co" not in page
    assert client.get(f"/review/{to_sg['SG'].id}").status_code == 404
    # The SG recipient of a submission also sent to MY is still not theirs.
    assert client.get(f"/review/{to_both['SG'].id}").status_code == 404
    assert client.get(f"/review/{to_both['MY'].id}").status_code == 200
    forms = Forms(client)
    refused = forms.post(f"/review/{to_sg['SG'].id}/status", {"to_status": "in_review"}, page="/review/")
    assert refused.status_code == 404


def test_company_and_working_group_cannot_open_the_review(client, make, auth, submitted_to):
    org, admin, _, recipients = submitted_to("SG")
    auth.login(admin.email)
    assert client.get(f"/review/{recipients['SG'].id}").status_code == 403
    assert client.get("/review/").status_code == 403
    auth.logout()
    auth.login(make.user(platform_role=PlatformRole.WORKING_GROUP).email)
    assert client.get(f"/review/{recipients['SG'].id}").status_code == 403


ALL = [s.value for s in ReviewStatus]
INVALID = [(a, b) for a, b in itertools.product(ALL, ALL) if b not in review.TRANSITIONS[a]]


@pytest.mark.parametrize(("start", "target"), INVALID)
def test_every_invalid_transition_is_refused(make, session, submitted_to, start, target):
    _, _, _, recipients = submitted_to("SG")
    recipient = recipients["SG"]
    recipient.status = start
    session.add(recipient)
    session.commit()
    with pytest.raises(review.ReviewError) as info:
        review.transition(session, recipient, target, regulator(make, "SG"), "Please clarify.")
    assert "“" in str(info.value)  # the message names the statuses
    session.refresh(recipient)
    assert recipient.status == start


def test_invalid_transition_through_the_page_shows_a_clear_message(client, make, auth, submitted_to):
    _, _, _, recipients = submitted_to("SG")
    auth.login(regulator(make, "SG").email)
    page = (
        Forms(client)
        .post(
            f"/review/{recipients['SG'].id}/status", {"to_status": "reviewed"}, page="/review/", follow_redirects=True
        )
        .get_data(as_text=True)
    )
    assert "A submission that is “Received” can move to “In review”, not to “Reviewed”." in page


def test_clarification_loop(client, make, auth, session, submitted_to):
    org, admin, assessment, recipients = submitted_to("SG", "MY")
    recipient = recipients["SG"]
    sg = regulator(make, "SG")
    auth.login(sg.email)
    forms = Forms(client)
    url = f"/review/{recipient.id}"
    forms.post(f"{url}/status", {"to_status": "in_review"}, page=url)
    forms.post(f"{url}/comments", {"question_id": "mini.ops.reports", "text": "How were reports counted?"}, page=url)
    forms.post(f"{url}/status", {"to_status": "clarification_requested", "text": "Please explain the count."}, page=url)
    session.refresh(recipient)
    assert recipient.status == "clarification_requested"
    auth.logout()
    # The company sees the request on its question, and answers with a new version.
    auth.login(admin.email)
    overview = client.get(f"/assessments/{assessment.id}").get_data(as_text=True)
    assert "How were reports counted?" in overview and "Clarification requested" in overview
    draft = new_version(session, make.bank, assessment, admin)
    make.answer(draft, admin, {"mini.ops.reports": 150})
    submit_page = client.get(f"/assessments/{draft.id}/submit").get_data(as_text=True)
    # The new version goes to the same regulators by default.
    assert 'checked id="jurisdictions-' in submit_page
    confirm = forms.post(f"/assessments/{draft.id}/submit", {"jurisdictions": ["MY", "SG"], "review": "Continue"})
    assert "Confirm the submission" in confirm.get_data(as_text=True)
    forms.post(f"/assessments/{draft.id}/submit", {"jurisdictions": ["MY", "SG"], "confirm": "Submit"})
    session.expire_all()
    newer = session.exec(
        select(Recipient).join(Submission).where(Submission.assessment_id == draft.id, Recipient.jurisdiction == "SG")
    ).one()
    assert newer.previous_id == recipient.id
    assert session.get(Recipient, recipient.id).status == "superseded"
    auth.logout()
    # The regulator sees what changed, the whole timeline, and closes the review.
    auth.login(sg.email)
    page = client.get(f"/review/{newer.id}").get_data(as_text=True)
    changes = page.split('<h2 id="changes">')[1].split("</section>")[0]
    assert "Reports sent to a hotline" in changes and "120 reports" in changes and "150 reports" in changes
    timeline = page.split('id="timeline"')[1].split("</section>")[0]
    for step in ("In review", "Clarification requested", "How were reports counted?", "answered with a new version"):
        assert step in timeline
    forms.post(f"/review/{newer.id}/status", {"to_status": "in_review"}, page=f"/review/{newer.id}")
    forms.post(f"/review/{newer.id}/status", {"to_status": "reviewed"}, page=f"/review/{newer.id}")
    session.expire_all()
    assert session.get(Recipient, newer.id).status == "reviewed"


def test_integrity_badge_detects_a_changed_snapshot(client, make, auth, session, submitted_to):
    _, _, assessment, recipients = submitted_to("SG")
    auth.login(regulator(make, "SG").email)
    assert "Integrity verified" in client.get(f"/review/{recipients['SG'].id}").get_data(as_text=True)
    submission = session.exec(select(Submission).where(Submission.assessment_id == assessment.id)).one()
    submission.snapshot = submission.snapshot.replace('"value":3', '"value":4', 1)
    session.add(submission)
    session.commit()
    assert "Integrity check failed" in client.get(f"/review/{recipients['SG'].id}").get_data(as_text=True)


def test_indicator_report_is_the_regulators_alone(client, make, auth, submitted_to):
    """The statutory report counts every submission addressed to the jurisdiction, with names;
    the working group never opens it (its rates come from the benchmark releases)."""
    yes = {**make.complete_answers(), "mini.policy.exists": "yes", "mini.policy.scope": ["online"]}
    no = {**make.complete_answers(), "mini.policy.exists": "no"}
    for number in range(3):
        submitted_to("SG", name=f"Meets {number}", answers=yes)
    submitted_to("SG", name="Misses", answers=no)
    auth.login(regulator(make, "SG").email)
    page = client.get("/review/indicators?country=SG&cycle=2026").get_data(as_text=True)
    assert "4 submitting institutions." in page and "Meets 0" in page
    csv_text = client.get("/review/indicators.csv?country=SG&cycle=2026").get_data(as_text=True)
    assert "Meets 0" in csv_text and "RPA:7.4.1" in csv_text
    auth.logout()
    auth.login(make.user(platform_role=PlatformRole.WORKING_GROUP).email)
    for url in ("/review/indicators?country=SG&cycle=2026", "/review/indicators.csv?country=SG&cycle=2026"):
        assert client.get(url).status_code == 403
    rates = client.get("/benchmarks/indicators?country=SG").get_data(as_text=True)
    assert "No release yet" in rates and "Meets" not in rates


def test_indicator_counts_of_the_demo_equal_a_count_by_hand(real_app, demo):
    """RPA 7.2.1, 7.3.1 and 7.4.1 counted straight from the demo's frozen answers by the rules of
    the standard methodology 2027.1, against the report: met, applies, and not applicable apart."""
    sg_submissions = demo.exec(select(Submission).join(Recipient).where(Recipient.jurisdiction == "SG")).all()
    latest = {}
    for submission in sorted(sg_submissions, key=lambda s: s.id):
        snapshot = json.loads(submission.snapshot)
        if snapshot["assessment"]["cycle"] == 2025:
            latest[snapshot["organisation"]["name"]] = snapshot
    assert {s["score_card"]["methodology"]["version"] for s in latest.values()} == {"2027.1"}

    def answer(snapshot, qid):
        item = snapshot["answers"].get(qid)
        return None if item is None or item["not_applicable"] else item["value"]

    def at_least(snapshot, qid, level):
        value = answer(snapshot, qid)
        return value is not None and value >= level

    def hosts_user_content(s):
        org = s["organisation"]
        services = {"isp", "mobile_operator", "social_network", "messaging", "gaming", "streaming", "storage"}
        services |= {"marketplace", "education", "generative_ai"}
        features = {"user_uploads", "live_streaming", "direct_messaging", "group_chats", "voice_chat", "comments"}
        features |= {"generative_ai", "ai_chatbot"}
        return bool(services & set(org["service_types"]) or features & set(org["features"]))

    def meets_7_2_1(s):
        return all(
            at_least(s, f"hrdd.act.{q}", 3)
            for q in ("csam_identification", "csam_removal", "csam_reporting", "le_contact_point")
        )

    def moves_value(s):
        org = s["organisation"]
        return "payments" in org["service_types"] or bool({"payments", "virtual_currency"} & set(org["features"]))

    def meets_7_3_1(s):
        return (
            at_least(s, "hrdd.act.suspicious_transactions_mechanism", 3)
            and at_least(s, "hrdd.act.suspicious_activity_reporting", 3)
            and answer(s, "hrdd.act.suspicious_transactions_use") in ("yes", "no_alerts")
        )

    def meets_7_4_1(s):
        return (
            answer(s, "hrdd.policy.safeguarding_policy") == "yes"
            and "online_harms" in (answer(s, "hrdd.policy.policy_scope") or [])
            and at_least(s, "hrdd.policy.safeguarding_plan", 3)
        )

    def counted(applies, meets):
        applying = [s for s in latest.values() if applies(s)]
        return sum(meets(s) for s in applying), len(applying), len(latest) - len(applying)

    expected = {
        "RPA:7.2.1": counted(hosts_user_content, meets_7_2_1),
        "RPA:7.3.1": counted(moves_value, meets_7_3_1),
        "RPA:7.4.1": counted(lambda s: True, meets_7_4_1),
    }
    # The demo has a payment-only institution in SG, and one without value transfer.
    assert expected["RPA:7.2.1"][2] >= 1 and expected["RPA:7.3.1"][2] >= 1
    from dd_toolkit.records.aggregates import stored_indicator_report

    report = stored_indicator_report(demo, "SG", 2025)
    assert report.institutions == len(latest) > 3
    got = {c.key: (c.met, c.applies, c.not_applicable) for c in report.by_service_type["all"] if "/" not in c.key}
    assert got == expected


def test_indicators_cli(make, submitted_to, database_url, monkeypatch, tmp_path):
    from .conftest import FIXTURE_CONTENT

    submitted_to("SG", name="Cli Co")
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("DD_INSTANCE_PATH", str(tmp_path / "i"))
    monkeypatch.setattr("dd_toolkit.web.config.Config.DATABASE_URL", database_url)
    result = CliRunner().invoke(
        cli, ["--content", str(FIXTURE_CONTENT), "indicators", "--country", "SG", "--cycle", "2026", "--csv"]
    )
    assert result.exit_code == 0, result.output
    assert "RPA:7.4.1" in result.output and "Cli Co" in result.output
    from dd_toolkit.engine.indicators import report_notes

    assert report_notes(FIXTURE_CONTENT)["not_applicable"] in result.output  # the CSV's note row


def test_a_long_list_of_institutions_is_in_the_csv_not_on_the_page(client, make, auth, submitted_to, monkeypatch):
    from dd_toolkit.records import aggregates

    monkeypatch.setattr(aggregates, "NAMES_ON_PAGE", 2)
    yes = {**make.complete_answers(), "mini.policy.exists": "yes", "mini.policy.scope": ["online"]}
    for number in range(3):
        submitted_to("SG", name=f"Listed {number}", answers=yes)
    auth.login(regulator(make, "SG").email)
    page = client.get("/review/indicators?country=SG&cycle=2026").get_data(as_text=True)
    assert "3 institutions: see the CSV" in page and "Listed 0" not in page
    csv_text = client.get("/review/indicators.csv?country=SG&cycle=2026").get_data(as_text=True)
    assert all(f"Listed {number}" in csv_text for number in range(3))


def test_the_status_form_offers_the_allowed_moves_in_fields_the_form_reads(client, make, auth, session, submitted_to):
    _, _, _, recipients = submitted_to("SG")
    recipient = recipients["SG"]
    auth.login(regulator(make, "SG").email)
    url = f"/review/{recipient.id}"
    page = client.get(url, headers={"Accept-Language": "th"}).get_data(as_text=True)
    form = page.split(f'action="{url}/status"')[1].split("</form>")[0]
    offered = re.findall(r'<option value="([a-z_]+)">([^<]+)</option>', form)
    assert [value for value, _ in offered] == [str(move) for move in review.allowed_moves(recipient.status)]
    assert all(label not in ("In review", "Reviewed") for _, label in offered)  # named in Thai
    assert 'name="to_status"' in form and 'name="text"' in form and 'name="csrf_token"' in form
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    done = client.post(f"{url}/status", data={"csrf_token": token, "to_status": "in_review", "text": "Started."})
    assert done.status_code == 302
    session.refresh(recipient)
    assert recipient.status == "in_review"
    # A closed review offers no move at all.
    recipient.status = "reviewed"
    session.add(recipient)
    session.commit()
    assert f'action="{url}/status"' not in client.get(url).get_data(as_text=True)


def test_the_review_page_reads_its_review_submission_assessment_and_record_in_one_query(
    app, client, make, auth, submitted_to
):
    _, _, assessment, recipients = submitted_to("SG", "MY")
    auth.login(regulator(make, "SG").email)
    with recorded_statements(app.extensions["dd_engine"]) as recorded:
        page = client.get(f"/review/{recipients['SG'].id}").get_data(as_text=True)
    statements = [statement for statement, _ in recorded]
    assert f"version {assessment.version}" in page and "Integrity verified" in page
    reads = [s for s in statements if re.search(r"FROM recipient\b", s) and "WHERE recipient.id = " in s]
    assert len(reads) == 1 and all(f"JOIN {t} " in reads[0] for t in ("submission", "assessment", "submission_record"))
    assert not [s for s in statements if re.search(r"FROM (submission|assessment)\s+WHERE \w+\.id = ", s)]
    # The record's row is not read again (its large JSON columns are, on first use only).
    assert not [s for s in statements if re.search(r"SELECT submission_record\.id\b.*FROM submission_record", s, re.S)]
    # Another jurisdiction's review of the same submission is still not this regulator's to see.
    assert client.get(f"/review/{recipients['MY'].id}").status_code == 404


def test_the_answers_are_read_and_commented_on_a_section_at_a_time(client, make, auth, submitted_to):
    _, _, _, recipients = submitted_to("SG", "MY")
    auth.login(regulator(make, "SG").email)
    review_url = f"/review/{recipients['SG'].id}"
    page = client.get(review_url).get_data(as_text=True)
    answers = page.split('<h2 id="answers">', 1)[1].split("</section>", 1)[0]
    sections = [f"{review_url}/sections/mini.policy", f"{review_url}/sections/mini.ops"]
    assert re.findall(r'href="([^"]+)"', answers) == sections
    assert '<article class="question"' not in page and 'name="question_id"' not in page
    policy = client.get(f"{review_url}/sections/mini.policy").get_data(as_text=True)
    ops = client.get(f"{review_url}/sections/mini.ops").get_data(as_text=True)
    assert 'id="q-mini-policy-exists"' in policy and 'id="q-mini-ops-reports"' not in policy
    assert 'id="q-mini-ops-reports"' in ops and 'id="q-mini-policy-exists"' not in ops
    # The pager leads from one section to the next and back to the list.
    assert f'href="{review_url}/sections/mini.ops" rel="next"' in policy and 'rel="prev"' not in policy
    assert f'href="{review_url}/sections/mini.policy" rel="prev"' in ops and 'rel="next"' not in ops
    assert f'href="{review_url}#answers"' in policy
    # In the site's navigation, a section's page is one of the submissions.
    assert '<a href="/review/" aria-current="page">Submissions</a>' in policy
    # A section the bank does not have, and another jurisdiction's review, are not found.
    assert client.get(f"{review_url}/sections/mini.nothing").status_code == 404
    assert client.get(f"/review/{recipients['MY'].id}/sections/mini.policy").status_code == 404


def test_a_section_page_lists_the_comments_on_its_questions_naming_an_earlier_versions(
    client, make, auth, session, submitted_to
):
    from dd_toolkit.records.assessments import submit

    _, admin, first, recipients = submitted_to("SG", name="Two Versions Co")
    reviewer = regulator(make, "SG")
    review.comment(session, recipients["SG"], reviewer, "Which hotline?", "mini.ops.reports")
    draft = new_version(session, make.bank, first, admin)
    submit(session, make.bank, make.content.methodology("standard@test.1"), draft, admin, jurisdictions=["SG"])
    newer = session.exec(
        select(Recipient).join(Submission).where(Submission.assessment_id == draft.id, Recipient.jurisdiction == "SG")
    ).one()
    review.comment(session, newer, reviewer, "And this year?", "mini.ops.reports")
    auth.login(reviewer.email)
    page = client.get(f"/review/{newer.id}/sections/mini.ops").get_data(as_text=True)
    comments = page.split('id="section-comments"', 1)[1].split("</section>", 1)[0]
    earlier, current = comments.split("<li>")[1:]
    assert "Which hotline?" in earlier and "· on version 1" in earlier
    assert "And this year?" in current and "on version" not in current
    # The policy section's page has no comment on its questions.
    assert 'id="section-comments"' not in client.get(f"/review/{newer.id}/sections/mini.policy").get_data(as_text=True)


def test_a_new_versions_section_page_marks_the_answers_that_changed(client, make, auth, session):
    from .test_submit_review_13 import submitted_twice

    newer = submitted_twice(make, session, "Marked Changes Co")
    auth.login(regulator(make, "SG").email)
    ops = client.get(f"/review/{newer.id}/sections/mini.ops").get_data(as_text=True)
    found = re.finditer(r'<article class="question" id="q-([^"]+)".*?</article>', ops, re.S)
    articles = {m.group(1): m.group(0) for m in found}
    assert "Changed since the previous version" in articles["mini-ops-reports"]
    assert [key for key, html in articles.items() if "Changed since" in html] == ["mini-ops-reports"]
    policy = client.get(f"/review/{newer.id}/sections/mini.policy").get_data(as_text=True)
    assert "Changed since the previous version" not in policy
    # The first version has nothing to compare with.
    first = session.get(Recipient, newer.previous_id)
    assert "Changed since" not in client.get(f"/review/{first.id}/sections/mini.ops").get_data(as_text=True)

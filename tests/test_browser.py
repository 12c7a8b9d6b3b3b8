"""End to end in Debian's headless Chromium, driven by Playwright (no browser download)."""

from __future__ import annotations

import os
import re
import shutil
import threading

import pytest
from werkzeug.serving import make_server

pytestmark = pytest.mark.browser

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    path = os.environ.get("DD_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.fail("Debian's chromium is needed for the browser tests: `make browser` installs it")
    return path


@pytest.fixture
def live_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def page(tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(15_000)
        page = context.new_page()
        yield page
        context.close()
        browser.close()


PASSWORD = "a long browser passphrase"


def test_register_profile_answer_leave_resume_submit(live_server, page):
    from playwright.sync_api import expect

    # Register an organisation and its first admin.
    page.goto(f"{live_server}/auth/register")
    page.get_by_label("Organisation name").fill("Selat Streams")
    page.get_by_label("Your name").fill("Nadia Tan")
    page.get_by_label("Work email").fill("nadia@selat.example")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat the password").fill(PASSWORD)
    page.get_by_role("button", name="Create organisation").click()
    # Registration answers the same for a taken email, so it does not sign in: the admin does.
    page.get_by_label("Email").fill("nadia@selat.example")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    # Describe the service.
    expect(page.get_by_role("heading", name="Organisation profile")).to_be_visible()
    page.get_by_label("Headquarters country").select_option("SG")
    page.get_by_role("group", name="Countries where the service operates").get_by_label("Singapore").check()
    page.get_by_role("group", name="Countries where the service operates").get_by_label("Malaysia").check()
    page.get_by_label("Digital media or streaming service").check()
    page.get_by_label("Medium (50-249 staff)").check()
    page.get_by_label("Yes, children use the service").check()
    page.get_by_label("Live streaming or live video").check()
    page.get_by_role("button", name="Save profile").click()
    expect(page.get_by_role("status").filter(has_text="Profile saved.")).to_be_visible()

    # Start this cycle's assessment and open the first section.
    page.get_by_role("link", name="Assessments").click()
    expect(page.get_by_text("No assessments yet")).to_be_visible()
    page.get_by_role("button", name="Start assessment").click()
    expect(page.get_by_role("status").filter(has_text="started")).to_be_visible()
    assessment_url = page.url
    page.get_by_role("link", name="Policy").click()

    owner = page.get_by_role("article", name="Who owns child safety?")
    owner.get_by_label("A named person owns it in writing.").check()
    policy = page.get_by_role("article", name="Is there a child safeguarding policy?")
    policy.get_by_label("Yes").check()
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("status").filter(has_text="2 answers saved.")).to_be_visible()
    # The follow-up question appears because of the answer just given.
    expect(page.get_by_role("article", name="What does the policy cover?")).to_be_visible()

    # Leave: sign out, sign back in, resume where we were.
    page.get_by_role("button", name="Sign out").click()
    page.get_by_label("Email").fill("nadia@selat.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name=re.compile(r"Assessment \d{4}, version 1")).click()
    expect(page.get_by_text("2 of 6 applicable questions answered")).to_be_visible()
    page.get_by_role("link", name="Policy").click()
    owner = page.get_by_role("article", name="Who owns child safety?")
    expect(owner.get_by_label("A named person owns it in writing.")).to_be_checked()

    # An invalid number is refused with the typed text kept beside the message.
    page.get_by_role("article", name="What does the policy cover?").get_by_label("Online protection").check()
    page.get_by_role("button", name="Save and continue").click()
    expect(page.get_by_role("heading", name="Operations")).to_be_visible()
    page.get_by_role("article", name="How are live streams moderated?").get_by_label("Proactive detection").check()
    reports = page.get_by_role("article", name="Reports sent to a hotline")
    reports.get_by_label("Your answer").fill("twelve")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(reports.get_by_text("Enter a number, for example 1250 or 12.5.")).to_be_visible()
    expect(reports.get_by_label("Your answer")).to_have_value("twelve")
    reports.get_by_label("Your answer").fill("12")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("status").filter(has_text="1 answer saved.")).to_be_visible()

    # Submit from the overview.
    page.goto(assessment_url)
    page.get_by_role("link", name="Review and submit").click()
    page.get_by_role("button", name="Submit and freeze this version").click()
    expect(page.get_by_role("status").filter(has_text="Submitted. The frozen copy has SHA-256")).to_be_visible()
    expect(page.locator("code.hash")).to_have_text(re.compile(r"^[0-9a-f]{64}$"))
    expect(page.locator(".badge-draft")).to_have_count(0)
    expect(page.locator("h1 .badge-submitted")).to_have_text("Submitted")


def sign_in(page, base: str, email: str, password: str) -> None:
    page.goto(f"{base}/auth/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def sign_out(page) -> None:
    page.get_by_role("button", name="Sign out").click()


def test_regulator_review_loop(live_server, page, make):
    """A company submits to its regulator, the regulator asks for clarification on one
    question, the company answers with a new version, and the regulator closes the review."""
    import re

    from playwright.sync_api import expect

    from dd_toolkit.records.models import PlatformRole

    from .factories import PASSWORD as FACTORY_PASSWORD

    org = make.organisation(name="Temasek Streams")
    admin = make.user(org)
    assessment = make.assessment(org, admin, answers=make.complete_answers())
    regulator = make.user(platform_role=PlatformRole.REGULATOR, jurisdictions=["SG"])

    # The company submits; its countries of operation are preselected as recipients.
    sign_in(page, live_server, admin.email, FACTORY_PASSWORD)
    page.goto(f"{live_server}/assessments/{assessment.id}")
    page.get_by_role("link", name="Review and submit").click()
    recipients = page.get_by_role("group", name="Send to the regulators of")
    expect(recipients.get_by_label("Singapore")).to_be_checked()
    page.get_by_role("button", name="Submit and freeze this version").click()
    expect(page.get_by_role("status").filter(has_text="Submitted.")).to_be_visible()
    sign_out(page)

    # The regulator opens it, starts the review and asks about one question.
    sign_in(page, live_server, regulator.email, FACTORY_PASSWORD)
    page.get_by_role("link", name="Submissions", exact=True).click()
    page.get_by_role("link", name="Temasek Streams").click()
    expect(page.get_by_text("Integrity verified")).to_be_visible()
    page.get_by_label("Move to").select_option("in_review")
    page.get_by_role("button", name="Change status").click()
    question = page.locator("#q-mini-ops-reports")
    question.get_by_text("Comment on this question").click()
    question.get_by_role("textbox").fill("Do these include reports to the national hotline?")
    question.get_by_role("button", name="Add comment").click()
    expect(page.get_by_role("status").filter(has_text="Comment added.")).to_be_visible()
    page.get_by_label("Move to").select_option("clarification_requested")
    page.get_by_role("button", name="Change status").click()
    expect(page.locator("h1 .status")).to_have_text("Clarification requested")
    sign_out(page)

    # The company reads the request and answers with a new version.
    sign_in(page, live_server, admin.email, FACTORY_PASSWORD)
    page.goto(f"{live_server}/assessments/{assessment.id}")
    expect(page.get_by_text("Do these include reports to the national hotline?")).to_be_visible()
    page.get_by_role("button", name="Start a new version from this submission").click()
    expect(page.get_by_role("status").filter(has_text="Version 2 started")).to_be_visible()
    page.get_by_role("link", name="Operations").click()
    page.get_by_role("article", name="Reports sent to a hotline").get_by_label("Your answer").fill("150")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("status").filter(has_text="1 answer saved.")).to_be_visible()
    page.get_by_role("link", name=re.compile(r"\d{4}, version 2")).click()
    page.get_by_role("link", name="Review and submit").click()
    page.get_by_role("button", name="Submit and freeze this version").click()
    expect(page.get_by_role("status").filter(has_text="Submitted.")).to_be_visible()
    sign_out(page)

    # The regulator sees what changed and marks the new version reviewed.
    sign_in(page, live_server, regulator.email, FACTORY_PASSWORD)
    page.get_by_role("link", name="Submissions", exact=True).click()
    page.get_by_role("row").filter(has_text="Received").get_by_role("link", name="Temasek Streams").click()
    changes = page.get_by_role("region", name="What changed since the previous version")
    expect(changes).to_contain_text("150 reports")
    page.get_by_label("Move to").select_option("in_review")
    page.get_by_role("button", name="Change status").click()
    page.get_by_label("Move to").select_option("reviewed")
    page.get_by_role("button", name="Change status").click()
    expect(page.locator("h1 .status")).to_have_text("Reviewed")
    expect(page.get_by_role("region", name="Timeline")).to_contain_text("the company answered with a new version")

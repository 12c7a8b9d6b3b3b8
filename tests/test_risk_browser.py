"""The children's risk register end to end in Debian's headless Chromium (issue 14): start the
register from the overview, fill part of the grid, leave with a cell half typed (the browser asks
first), come back to find the typing put back, save it, and submit the assessment with the
register frozen in its snapshot."""

from __future__ import annotations

import json
import re

import pytest

from dd_toolkit.records import database
from dd_toolkit.records.assessments import profile_of, save_answers, start_assessment
from dd_toolkit.records.demo import COMPANIES, demo_answers
from dd_toolkit.records.models import Submission

from .factories import PASSWORD, Factory
from .test_browser import page, sign_in  # noqa: F401 - the browser fixture
from .test_pages_checked import AXE, AXE_RUN, WCAG_TAGS, WIDTH
from .test_risk_register import answer_what_the_register_brings

pytestmark = pytest.mark.browser
LUMEN = COMPANIES[0]


@pytest.fixture
def draft(real_app):
    content = real_app.extensions["dd_content"]
    with database.standalone_session(real_app.extensions["dd_engine"]) as db:
        make = Factory(db, content)
        org = make.organisation(
            "Lumen Browser",
            countries=list(LUMEN.countries),
            service_types=list(LUMEN.service_types),
            features=list(LUMEN.features),
            size_band=LUMEN.size_band,
            hq_country="SG",
        )
        admin = make.user(org)
        assessment = start_assessment(db, content.bank, org, 2026, admin)
        answers = demo_answers(content.bank, profile_of(org), LUMEN, 2026)
        save_answers(db, assessment, admin, {qid: (a, 0) for qid, a in answers.items()})
        yield db, admin, assessment


def check_page(page, url: str) -> None:  # noqa: F811
    """axe-core finds no WCAG 2.2 A/AA violation on ``url``, and it does not scroll sideways at
    390 px (when axe-core is installed: `make page-checks`)."""
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(url)
    if AXE.exists():
        page.evaluate(AXE.read_text(encoding="utf-8"))
        violations = page.evaluate(AXE_RUN, WCAG_TAGS)
        assert violations == [], (url, violations)
    page.set_viewport_size({"width": 390, "height": 800})
    scroll_width, inner = page.evaluate(WIDTH)
    assert scroll_width <= inner, url
    page.set_viewport_size({"width": 1280, "height": 900})


def test_fill_part_of_the_grid_leave_resume_and_submit(real_app, real_live_server, page, draft):  # noqa: F811
    from playwright.sync_api import expect

    db, admin, assessment = draft
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.type), dialog.accept()))
    sign_in(page, real_live_server, admin.email, PASSWORD)
    page.goto(f"{real_live_server}/assessments/{assessment.id}")
    page.get_by_role("link", name="Start the risk register").click()
    page.get_by_role("button", name="Start the risk register").click()
    expect(page.get_by_role("status").filter(has_text="The register is started")).to_be_visible()

    # One cell rated and saved.
    page.get_by_role("link", name=re.compile(r"^Not rated\W*Grooming, 13")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Grooming")
    page.get_by_label(re.compile(r"^Likely\.")).check()
    page.get_by_role("group", name="Evidence for the likelihood").get_by_label("User reports", exact=False).check()
    page.get_by_label(re.compile(r"^Severe\.")).check()
    page.get_by_role("group", name="Evidence for the impact").get_by_label("Incidents", exact=False).check()
    page.get_by_role("group", name="Existing controls").get_by_role("checkbox").first.check()
    page.get_by_role("group", name=re.compile("Residual risk")).get_by_label(re.compile(r"^Medium\.")).check()
    page.get_by_label("Rationale").fill("Messages from adults are screened; reports are reviewed within the hour.")
    page.get_by_label("Who owns the measures").fill("Head of Trust and Safety")
    page.get_by_role("button", name="Save the cell").click()
    expect(page.get_by_role("status").filter(has_text="The cell was saved.")).to_be_visible()
    expect(page.locator("#draft-notice")).to_be_hidden()
    assert page.evaluate("() => Object.keys(localStorage)") == []  # nothing kept once saved
    page.get_by_role("link", name="Back to the register").click()
    expect(page.locator("#cell-grooming-age_13_15 .risk-level")).to_have_text("Medium")

    # The grid and a cell pass axe-core and fit a 390 px phone (the grid scrolls in its region).
    for url in (page.url.split("#")[0], page.url.split("#")[0] + "/grooming/age_13_15"):
        check_page(page, url)
    page.goto(f"{real_live_server}/assessments/{assessment.id}/risk")

    assert dialogs == []
    # A second cell half typed, then leaving: the browser asks first.
    page.get_by_role("link", name=re.compile(r"^Not rated\W*Grooming, 16")).click()
    page.get_by_label(re.compile(r"^Possible\.")).check()
    page.get_by_label("Rationale").fill("Older teenagers meet new contacts through group chats.")
    page.get_by_role("link", name="Children's risk register").first.click()
    expect(page.get_by_role("heading", level=1, name="Children's risk register")).to_be_visible()
    assert dialogs == ["beforeunload"]

    # Coming back puts the typing back; finishing it and saving keeps it.
    page.get_by_role("link", name=re.compile(r"^Not rated\W*Grooming, 16")).click()
    notice = page.get_by_role("status").filter(has_text="What you typed on this page and did not save")
    expect(notice).to_be_visible()
    expect(page.get_by_label("Rationale")).to_have_value("Older teenagers meet new contacts through group chats.")
    expect(page.get_by_label(re.compile(r"^Possible\."))).to_be_checked()
    # Saved as it is, the cell is refused with every field kept and the summary read first.
    page.get_by_role("button", name="Save the cell").click()
    expect(page.locator("#error-summary")).to_be_focused()
    expect(page.get_by_label("Rationale")).to_have_value("Older teenagers meet new contacts through group chats.")
    page.get_by_role("group", name="Evidence for the likelihood").get_by_label("Research", exact=False).check()
    page.get_by_label(re.compile(r"^Serious\.")).check()
    page.get_by_role("group", name="Evidence for the impact").get_by_label("Research", exact=False).check()
    page.get_by_role("group", name=re.compile("Residual risk")).get_by_label(re.compile(r"^Low\.")).check()
    page.get_by_role("button", name="Save the cell").click()
    expect(page.get_by_role("status").filter(has_text="The cell was saved.")).to_be_visible()
    page.get_by_role("link", name="Back to the register").click()
    expect(page.locator("#cell-grooming-age_16_17 .risk-level")).to_have_text("Low")

    # The record of the register, then submit.
    page.get_by_label("Who carried out the assessment").fill("Safety lead with the data protection officer")
    page.get_by_label("How it was done").fill("Two workshops with moderators and a review of user reports.")
    page.get_by_role("button", name="Save the record").click()
    expect(page.get_by_role("status").filter(has_text="The register's record was saved.")).to_be_visible()
    # Grooming rated high before the controls brings its deeper question in; it is answered too.
    content = real_app.extensions["dd_content"]
    assert answer_what_the_register_brings(db, content, assessment, admin) == {"hrdd.act.grooming_contact_patterns"}
    page.goto(f"{real_live_server}/assessments/{assessment.id}")
    page.get_by_role("link", name="Review and submit").click()
    page.get_by_role("button", name="Continue to the confirmation").click()
    page.get_by_role("button", name="Submit and freeze this version").click()
    expect(page.locator("h1 .badge-submitted")).to_have_text("Submitted")

    db.expire_all()
    snapshot = json.loads(db.exec(Submission.__table__.select()).first().snapshot)
    register = snapshot["risk_register"]
    assert register["assessed_by"] == "Safety lead with the data protection officer"
    assert {(c["harm"], c["age_group"], c["residual"]) for c in register["cells"]} == {
        ("grooming", "age_13_15", "medium"),
        ("grooming", "age_16_17", "low"),
    }

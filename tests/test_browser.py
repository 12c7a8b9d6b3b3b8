"""End to end in Debian's headless Chromium, driven by Playwright (no browser download)."""

from __future__ import annotations

import os
import re
import shutil

import pytest

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
def page(tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(15_000)
        page = context.new_page()
        # A page's own files (style sheet, scripts, icon) must all load: a 404 there is a broken
        # page for every user, even when the test's steps pass. (A page itself may answer 4xx,
        # as a form sent back with errors does: that is the page, not one of its files.)
        failed = []
        page.on(
            "console",
            lambda message: (
                message.type == "error"
                and message.text.startswith("Failed to load resource")
                and message.location["url"] != page.url
                and failed.append(f"{message.location['url']}: {message.text}")
            ),
        )
        yield page
        context.close()
        browser.close()
        assert not failed, f"files of a page failed to load: {failed}"


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
    # The home page says where work stopped, and leads to every section.
    expect(page.get_by_role("link", name="Continue with “Policy”")).to_be_visible()
    page.get_by_role("link", name=re.compile(r"All sections of the \d{4} assessment")).click()
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
    page.get_by_role("button", name="Continue to the confirmation").click()
    recipients = page.get_by_role("region", name=re.compile("Sent to the regulators of 2"))
    expect(recipients.get_by_role("listitem")).to_have_text(["Malaysia", "Singapore"])
    expect(page.get_by_text("Not included: this submission is left out")).to_be_visible()
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
    page.get_by_role("button", name="Continue to the confirmation").click()
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
    # The answers are read a section at a time, each on its own page with its comment forms.
    page.get_by_role("region", name="Answers, evidence and comments").get_by_role("link", name="Operations").click()
    expect(page.locator("h1")).to_contain_text("Operations")
    question = page.locator("#q-mini-ops-reports")
    question.get_by_text("Comment on this question").click()
    question.get_by_role("textbox").fill("Do these include reports to the national hotline?")
    question.get_by_role("button", name="Add comment").click()
    expect(page.get_by_role("status").filter(has_text="Comment added.")).to_be_visible()
    expect(page.get_by_role("region", name="Comments on these questions")).to_contain_text("national hotline")
    page.get_by_role("navigation", name="Breadcrumb").get_by_role("link", name="Temasek Streams").click()
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
    page.get_by_role("button", name="Continue to the confirmation").click()
    expect(page.get_by_text("(your reply to its clarification request)")).to_be_visible()
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


# Issue 13: the questionnaire's pages in the browser.


def _company_with_draft(make):
    org = make.organisation(name="Selat Streams")
    admin = make.user(org)
    return org, admin, make.assessment(org, admin)


def test_typed_answers_are_kept_when_leaving_and_put_back_on_return(live_server, page, make, session):
    """Type, follow a link: the browser asks first; leave anyway and come back: what was typed is
    put back with a notice. Saving it keeps the compare-and-set: an answer someone else saved
    meanwhile comes back as a conflict, not overwritten. Discarding shows the saved answers."""
    from playwright.sync_api import expect

    from dd_toolkit.records.assessments import answers_of

    from .factories import PASSWORD as FACTORY_PASSWORD

    org, admin, assessment = _company_with_draft(make)
    colleague = make.user(org)
    sign_in(page, live_server, admin.email, FACTORY_PASSWORD)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.type), dialog.accept()))

    page.goto(f"{live_server}/assessments/{assessment.id}/sections/mini.ops")
    notes = page.get_by_role("article", name="Describe your escalation path.").get_by_label("Your answer")
    live = page.get_by_role("article", name="How are live streams moderated?")
    live.get_by_label("Proactive detection").check()
    notes.fill("Escalate to the on-call child safety lead.")
    page.get_by_role("link", name="Previous section").click()
    expect(page.get_by_role("heading", name="Policy", exact=True)).to_be_visible()
    assert dialogs == ["beforeunload"]  # warned before leaving with unsaved changes

    # Meanwhile a colleague answers one of the same questions.
    make.answer(assessment, colleague, {"mini.ops.live": "reactive"})

    page.get_by_role("link", name="Next section").click()
    expect(page.get_by_role("heading", name="Operations", exact=True)).to_be_visible()
    notice = page.get_by_role("status").filter(has_text="What you typed on this page and did not save")
    expect(notice).to_be_visible()
    expect(notice.get_by_text("Someone has saved some of these answers since")).to_be_visible()
    expect(notes).to_have_value("Escalate to the on-call child safety lead.")
    expect(live.get_by_label("Proactive detection")).to_be_checked()

    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("status").filter(has_text="1 answer saved.")).to_be_visible()
    expect(live.get_by_text("changed this answer while you were editing")).to_be_visible()
    session.expire_all()
    saved = answers_of(session, assessment.id)
    assert saved["mini.ops.notes"].value == "Escalate to the on-call child safety lead."
    assert saved["mini.ops.live"].value == "reactive"  # the colleague's answer is not overwritten

    # Discarding what was put back shows the saved answers.
    page.goto(f"{live_server}/assessments/{assessment.id}/sections/mini.ops")
    notes.fill("A second thought.")
    page.goto(f"{live_server}/assessments/{assessment.id}")
    page.goto(f"{live_server}/assessments/{assessment.id}/sections/mini.ops")
    expect(notes).to_have_value("A second thought.")
    page.get_by_role("button", name="Discard what was put back").click()
    expect(notes).to_have_value("Escalate to the on-call child safety lead.")
    expect(page.locator("#draft-notice")).to_be_hidden()
    page.reload()
    expect(notes).to_have_value("Escalate to the on-call child safety lead.")
    expect(page.locator("#draft-notice")).to_be_hidden()

    # Once saved, nothing is put back (a saved link adds an empty evidence row to the page).
    reports = page.get_by_role("article", name="Reports sent to a hotline")
    reports.get_by_text("Comment and evidence").click()
    reports.get_by_label("Link 1").fill("https://safety.example/report-2026")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("status").filter(has_text="1 answer saved.")).to_be_visible()
    page.goto(f"{live_server}/assessments/{assessment.id}/sections/mini.ops")
    expect(reports.get_by_label("Link 2")).to_have_value("")
    expect(page.locator("#draft-notice")).to_be_hidden()

    # Signing out forgets what was kept, for the next person at a shared computer.
    notes.fill("Not for the next person.")
    assert page.evaluate("() => Object.keys(localStorage)") == [
        f"dd-toolkit/draft/v1/{admin.id}/{assessment.id}/mini.ops"
    ]
    sign_out(page)
    expect(page.get_by_label("Email")).to_be_visible()
    assert page.evaluate("() => Object.keys(localStorage)") == []


FOCUSED = """() => {
  const el = document.activeElement;
  const bar = document.querySelector('.section-form .form-actions');
  if (!el || el === document.body) return null;
  const r = el.getBoundingClientRect(), b = bar.getBoundingClientRect();
  return {name: el.name || el.id || el.textContent.trim().slice(0, 40), inBar: bar.contains(el),
          top: r.top, bottom: r.bottom, barTop: b.top, barBottom: b.bottom, first: el.classList.contains('skip-link')};
}"""


@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 600}, {"width": 390, "height": 700}])
def test_keyboard_focus_never_goes_under_the_save_bar(live_server, page, make, viewport):
    """WCAG 2.4.11: tab through a section page; no focused control is covered by the sticky bar."""
    from .factories import PASSWORD as FACTORY_PASSWORD

    _org, admin, assessment = _company_with_draft(make)
    sign_in(page, live_server, admin.email, FACTORY_PASSWORD)
    page.set_viewport_size(viewport)
    page.goto(f"{live_server}/assessments/{assessment.id}/sections/mini.ops")
    seen, covered = [], []
    for _ in range(250):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        if focused is None or (focused["first"] and seen):
            break
        seen.append(focused["name"])
        # Covered: any part of the control behind the bar.
        behind = focused["bottom"] > focused["barTop"] + 0.5 and focused["top"] < focused["barBottom"]
        if behind and not focused["inBar"]:
            covered.append(focused)
    assert len(seen) > 20  # the walk went through the questions' controls
    assert "mini-ops-notes-value" in seen and "save_next" in seen
    assert covered == []


def _luminance(rgb: tuple[int, int, int]) -> float:
    def channel(c: int) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _contrast(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    light, dark = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def _rgb(css: str) -> tuple[int, int, int]:
    css = css.strip()
    if css.startswith("#"):
        return tuple(int(css[i : i + 2], 16) for i in (1, 3, 5))
    r, g, b = re.findall(r"[\d.]+", css)[:3]
    return int(float(r)), int(float(g)), int(float(b))


def test_the_focus_ring_stands_out_from_the_page(live_server, page, make):
    """WCAG 1.4.11: 3:1 against white and the page's backgrounds (the old amber ring: 1.6:1)."""
    from .factories import PASSWORD as FACTORY_PASSWORD

    _org, admin, assessment = _company_with_draft(make)
    sign_in(page, live_server, admin.email, FACTORY_PASSWORD)
    page.goto(f"{live_server}/assessments/{assessment.id}/sections/mini.ops")
    page.get_by_role("article", name="Describe your escalation path.").get_by_label("Your answer").focus()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")  # focus by keyboard, so :focus-visible applies
    ring = page.evaluate(
        """() => { const s = getComputedStyle(document.activeElement);
                   return [s.outlineStyle, s.outlineWidth, s.outlineColor]; }"""
    )
    assert ring[0] == "solid" and float(ring[1].rstrip("px")) >= 2
    colour = _rgb(ring[2])
    backgrounds = page.evaluate(
        """() => { const root = getComputedStyle(document.documentElement);
                   return [getComputedStyle(document.body).backgroundColor, root.getPropertyValue('--bg'),
                           root.getPropertyValue('--panel')]; }"""
    )
    page_background = backgrounds[0] if "0, 0, 0, 0" not in backgrounds[0] else backgrounds[1]
    for background in ((255, 255, 255), _rgb(page_background), _rgb(backgrounds[2])):
        assert _contrast(colour, background) >= 3, (ring[2], background)

    # On the dark header the ring is light.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Assessments").focus()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")
    header = page.evaluate(
        """() => [getComputedStyle(document.activeElement).outlineColor,
                  getComputedStyle(document.querySelector('.site-header')).backgroundColor]"""
    )
    assert _contrast(_rgb(header[0]), _rgb(header[1])) >= 3


def test_the_error_summary_is_read_first_and_leads_to_each_field(live_server, page, make):
    from playwright.sync_api import expect

    from .factories import PASSWORD as FACTORY_PASSWORD

    _org, admin, assessment = _company_with_draft(make)
    sign_in(page, live_server, admin.email, FACTORY_PASSWORD)
    page.goto(f"{live_server}/assessments/{assessment.id}/sections/mini.ops")
    reports = page.get_by_role("article", name="Reports sent to a hotline")
    reports.get_by_label("Your answer").fill("1e3")
    reports.get_by_text("Comment and evidence").click()
    reports.get_by_label("Link 1").fill("javascript:alert(1)")
    reports.get_by_text("Comment and evidence").click()  # closed again before saving
    page.get_by_role("button", name="Save", exact=True).click()
    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    expect(summary.get_by_role("heading")).to_have_text("1 answer was not saved: correct it and save again")
    expect(reports.get_by_label("Your answer")).to_have_attribute("aria-invalid", "true")
    expect(reports.get_by_text("without an exponent: for example 1000, not 1e3")).to_be_visible()
    # The evidence panel opened by itself over the bad link.
    expect(reports.get_by_label("Link 1")).to_be_visible()
    expect(reports.get_by_label("Link 1")).to_have_attribute("aria-invalid", "true")
    summary.get_by_role("link", name=re.compile("Evidence links must start")).click()
    expect(reports.get_by_label("Link 1")).to_be_focused()


def test_the_transparency_preview_follows_the_typing(live_server, page, make):
    """The live preview of the transparency draft shows what is typed, rendered, in its own area
    (it once wrote into the Preview button, which shared its id)."""
    from playwright.sync_api import expect

    from .factories import PASSWORD as FACTORY_PASSWORD

    org, admin, assessment = _company_with_draft(make)
    sign_in(page, live_server, admin.email, FACTORY_PASSWORD)
    page.goto(f"{live_server}/assessments/{assessment.id}/transparency")
    button = page.get_by_role("button", name="Preview")
    label_before = button.inner_text()
    page.locator("form.editor-form textarea").fill("## Our promise\n\nWe **report** every case.")
    preview = page.locator("#preview-output")
    expect(preview.get_by_role("heading", name="Our promise")).to_be_visible()
    expect(preview.locator("strong")).to_have_text("report")
    assert button.inner_text() == label_before

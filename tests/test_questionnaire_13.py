"""Issue 13, the questionnaire's pages: every error of an answer shown at once and summarised at
the top, numbers only as digits, the action plan's refused "Won't do", empty states that say
what to do, and the way through the sections. The browser half (typing kept, focus clear of the
Save bar, the focus ring's contrast) is in test_browser.py."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from sqlmodel import select

from dd_toolkit.engine.content.values import AnswerValueError, build_answer, normalise_value
from dd_toolkit.records.assessments import answers_of
from dd_toolkit.records.models import ActionTracking

from .conftest import Forms

OPS = "/assessments/{id}/sections/mini.ops"
POLICY = "/assessments/{id}/sections/mini.policy"


class Elements(HTMLParser):
    """Every element's attributes by id, and the open state of each <details> around an id."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.by_id: dict[str, dict[str, str | None]] = {}
        self.details: list[dict] = []  # the open <details> stack, with their attributes
        self.inside_details: dict[str, list[dict]] = {}
        self.tags: list[tuple[str, dict]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        attributes["<tag>"] = tag
        self.tags.append((tag, attributes))
        if tag == "details":
            self.details.append(attributes)
        if "id" in attributes:
            self.by_id[attributes["id"]] = attributes
            self.inside_details[attributes["id"]] = list(self.details)

    def handle_endtag(self, tag):
        if tag == "details" and self.details:
            self.details.pop()


@pytest.fixture
def company(make, auth):
    org = make.organisation(name="Selat Streams")
    admin = make.user(org)
    auth.login(admin.email)
    return org, admin


# 1e3 and friends: float() takes them, a person reading the form would not.
@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("1e3", "without an exponent"),
        ("1E3", "without an exponent"),
        ("2.5e-1", "without an exponent"),
        ("1,000e2", "without an exponent"),
        ("inf", "finite number"),
        ("-Infinity", "finite number"),
        ("NaN", "finite number"),
        ("1_000", "Enter a number, for example"),
        ("\u0661\u0662", "Enter a number, for example"),  # Arabic-Indic digits
        ("0x10", "Enter a number, for example"),
    ],
)
def test_a_number_is_digits_only(make, typed, message):
    with pytest.raises(AnswerValueError, match=message):
        normalise_value(make.bank.questions["mini.ops.reports"], typed)


@pytest.mark.parametrize(("typed", "value"), [("1,250", 1250), (" 40 ", 40), ("+7", 7), ("0", 0), ("1000", 1000)])
def test_numbers_written_in_digits_still_read(make, typed, value):
    assert normalise_value(make.bank.questions["mini.ops.reports"], typed) == value


def test_the_form_refuses_1e3_with_a_clear_message_and_saves_nothing(client, company, make, session):
    org, admin = company
    assessment = make.assessment(org, admin)
    url = OPS.format(id=assessment.id)
    response = Forms(client).post(url, {"mini-ops-reports-value": "1e3", "mini-ops-reports-base_version": "0"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Write the number out in digits, without an exponent: for example 1000, not 1e3." in page
    assert 'name="mini-ops-reports-value" type="text" value="1e3"' in page  # kept as typed
    assert "mini.ops.reports" not in answers_of(session, assessment.id)


def test_build_answer_names_every_problem(make):
    question = make.bank.questions["mini.ops.reports"]
    with pytest.raises(AnswerValueError) as caught:
        build_answer(
            question,
            value="twelve",
            comment="x" * 6000,
            evidence=[
                {"url": "https://ok.example/a", "description": "fine"},
                {"url": "javascript:alert(1)", "description": "bad"},
                {"url": "", "description": "a description without a link"},
            ],
            meta={"period_start": "2026-12-31", "period_end": "2026-01-01", "methodology": "m"},
        )
    error = caught.value
    assert error.field == "value"  # the first problem, as before
    assert error.errors == {
        "value": "Enter a number, for example 1250 or 12.5.",
        "comment": "Keep comments under 5000 characters.",
        "evidence.1": "Evidence links must start with http:// or https://.",
        "evidence.2": "Each piece of evidence needs a link.",
        "meta.period_end": "The reporting period must end after it starts.",
    }


def test_every_error_of_a_question_is_shown_at_once_and_summarised(client, company, make):
    org, admin = company
    assessment = make.assessment(org, admin)
    url = OPS.format(id=assessment.id)
    response = Forms(client).post(
        url,
        {
            "mini-ops-reports-value": "twelve",
            "mini-ops-reports-base_version": "0",
            "mini-ops-reports-period_start": "2026-12-31",
            "mini-ops-reports-period_end": "2026-01-01",
            "mini-ops-reports-evidence-0-url": "javascript:alert(1)",
            "mini-ops-reports-evidence-0-description": "Our report",
            "mini-ops-notes-value": "Kept.",
            "mini-ops-notes-base_version": "0",
            "save": "Save",
        },
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    dom = Elements(html)

    # Each field in error: aria-invalid and described by its own message, which is on the page.
    expected = {
        "mini-ops-reports-value": "Enter a number, for example 1250 or 12.5.",
        "mini-ops-reports-period_end": "The reporting period must end after it starts.",
        "mini-ops-reports-evidence-0-url": "Evidence links must start with http:// or https://.",
    }
    for field_id, message in expected.items():
        field = dom.by_id[field_id]
        assert field.get("aria-invalid") == "true", field_id
        described = field["aria-describedby"].split()
        assert any(html.count(f'id="{d}"') == 1 for d in described)
        message_id = next(d for d in described if d.startswith("err-"))
        assert re.search(rf'<p class="error" id="{message_id}">{re.escape(message)}</p>', html), field_id
    # Fields without a problem are not marked.
    assert "aria-invalid" not in dom.by_id["mini-ops-reports-period_start"]
    assert "aria-invalid" not in dom.by_id["mini-ops-notes-value"]

    # The panel holding the bad link is open.
    panels = dom.inside_details["mini-ops-reports-evidence-0-url"]
    assert panels and "open" in panels[-1]

    # The summary at the top: a heading and a link to every field in error, before the form.
    summary = html.split('id="error-summary"')[1].split("</div>")[0]
    assert html.index('id="error-summary"') < html.index('class="section-form"')
    assert "<h2" in summary and "1 answer was not saved" in summary
    links = re.findall(r'<a href="#([^"]+)">([^<]+)</a>', summary)
    assert {target for target, _text in links} == set(expected)
    assert all(text.startswith("Reports sent to a hotline: ") for _target, text in links)
    assert all(target in dom.by_id for target, _text in links)
    # js/section.js focuses the summary: it must be focusable.
    assert dom.by_id["error-summary"]["tabindex"] == "-1"
    assert "data-unsaved" in dom.by_id["q-mini-ops-reports"]


def test_a_bad_choice_marks_every_option_and_links_to_the_first(client, company, make):
    org, admin = company
    assessment = make.assessment(org, admin)
    response = Forms(client).post(
        POLICY.format(id=assessment.id),
        {"mini-policy-owner-value": "9", "mini-policy-owner-base_version": "0", "save": "Save"},
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    dom = Elements(html)
    options = [attrs for tag, attrs in dom.tags if attrs.get("name") == "mini-policy-owner-value"]
    assert options and all(o.get("aria-invalid") == "true" for o in options)
    assert all(o["aria-describedby"] == "err-mini-policy-owner-value" for o in options)
    assert 'href="#mini-policy-owner-value-0"' in html.split('id="error-summary"')[1]


def test_no_error_summary_without_errors(client, company, make):
    org, admin = company
    assessment = make.assessment(org, admin)
    assert 'id="error-summary"' not in client.get(OPS.format(id=assessment.id)).get_data(as_text=True)


def test_the_section_page_carries_the_draft_keeper(client, company, make):
    """What js/section.js needs: a key per user, assessment and section, and the notice."""
    org, admin = company
    assessment = make.assessment(org, admin)
    html = client.get(OPS.format(id=assessment.id)).get_data(as_text=True)
    assert f'data-draft-key="dd-toolkit/draft/v1/{admin.id}/{assessment.id}/mini.ops"' in html
    assert '<script src="/static/js/section.js" defer></script>' in html
    assert 'id="draft-notice" role="status" hidden' in html


def gapped_answers(make):
    return {**make.complete_answers(), "mini.ops.live": "none"}


def test_wont_do_without_a_reason_keeps_the_choice_and_says_why_beside_the_field(client, company, make, session):
    org, admin = company
    assessment = make.submitted(org, admin, answers=gapped_answers(make), methodology="standard@test.1")
    page = f"/assessments/{assessment.id}/action-plan"
    p = "item-mini.ops.live-"
    response = Forms(client).post(
        f"/assessments/{assessment.id}/action-plan/items/mini.ops.live",
        {f"{p}owner": "Head of Trust & Safety", f"{p}status": "wont_do", f"{p}reason": " ", f"{p}base_version": "0"},
        page=page,
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    item = html.split('id="item-mini.ops.live"')[1].split("</article>")[0]
    dom = Elements(item)
    reason = dom.by_id[f"{p}reason"]
    assert reason["aria-invalid"] == "true" and "autofocus" in reason
    assert reason["aria-describedby"] == f"{p}reason-error"
    # The message is beside the field, in the item's own form.
    assert re.search(
        rf'<label for="{p}reason">[^<]+</label><p class="error" id="{p}reason-error">'
        r"Say why this action will not be done.</p><textarea",
        item,
    )
    assert '<option value="wont_do" selected>' in item
    assert '<option value="todo" selected>' not in item
    assert dom.by_id[f"{p}owner"]["value"] == "Head of Trust & Safety"  # typed, not lost
    assert "open" in dom.inside_details[f"{p}reason"][-1]
    assert session.exec(select(ActionTracking)).first() is None
    # The other items keep their saved state.
    assert html.count('<option value="wont_do" selected>') == 1


def test_a_draft_with_no_answers_says_so_and_where_to_start(client, company, make):
    org, admin = company
    assessment = make.assessment(org, admin)
    first_section = POLICY.format(id=assessment.id)

    results = client.get(f"/assessments/{assessment.id}/results").get_data(as_text=True)
    assert "top of its scale" not in results
    assert "No scored question is answered yet" in results
    assert f'href="{first_section}"' in results

    plan = client.get(f"/assessments/{assessment.id}/action-plan").get_data(as_text=True)
    assert "No gaps" not in plan
    assert "Nothing is answered yet" in plan
    assert f'href="{first_section}"' in plan


def test_no_full_progress_bar_for_nothing_to_answer(client, make, auth):
    """A section with no question that applies reads "0 of 0": no bar, let alone a full one."""
    org = make.organisation(under18_users="no")  # mini.ops applies only when children use it
    admin = make.user(org)
    auth.login(admin.email)
    assessment = make.assessment(org, admin)
    section = client.get(OPS.format(id=assessment.id)).get_data(as_text=True)
    assert "No question in this section applies" in section
    assert "<progress" not in section
    assert "0 of 0" not in section
    overview = client.get(f"/assessments/{assessment.id}").get_data(as_text=True)
    ops_row = overview.split(f'href="{OPS.format(id=assessment.id)}"')[1].split("</tr>")[0]
    assert "No questions apply" in ops_row and "<progress" not in ops_row


def test_previous_and_next_section_links(client, company, make):
    org, admin = company
    assessment = make.assessment(org, admin)
    ops = client.get(OPS.format(id=assessment.id)).get_data(as_text=True)
    pager = ops.split('<nav class="pager"')[1].split("</nav>")[0]
    assert f'href="{POLICY.format(id=assessment.id)}" rel="prev"' in pager
    assert "Previous section" in pager and 'rel="next"' not in pager  # the last section
    policy = client.get(POLICY.format(id=assessment.id)).get_data(as_text=True)
    pager = policy.split('<nav class="pager"')[1].split("</nav>")[0]
    assert f'href="{OPS.format(id=assessment.id)}" rel="next"' in pager
    assert 'rel="prev"' not in pager  # the first section


def test_a_new_drafts_main_button_starts_the_first_section(client, company, make):
    org, admin = company
    assessment = make.assessment(org, admin)
    overview = client.get(f"/assessments/{assessment.id}").get_data(as_text=True)
    primary = re.findall(r'<a class="button primary" href="([^"]+)">([^<]+)</a>', overview)
    assert primary == [(POLICY.format(id=assessment.id), "Start the first section")]
    assert f'<a class="button" href="/assessments/{assessment.id}/results">Preview results</a>' in overview

    # Once started, it continues with the first section not complete.
    make.answer(assessment, admin, {"mini.policy.owner": 2, "mini.policy.exists": "no"})
    overview = client.get(f"/assessments/{assessment.id}").get_data(as_text=True)
    primary = re.findall(r'<a class="button primary" href="([^"]+)">([^<]+)</a>', overview)
    assert primary == [(OPS.format(id=assessment.id), "Continue where you left off")]

"""The draft TRUST transparency section and the report templates.

Fixture content (tests/fixtures/content): the public statements are in
reports/transparency_statements.yaml there (mini.policy.*: topic "Our safeguarding policy";
mini.ops.notes: own text; mini.ops.live "proactive"; mini.ops.payments "yes"); the Outcomes
table has one metric, mini.ops.reports ("Reports sent to a hotline", unit "reports").
"""

import dataclasses
import html as htmllib
import json
import re

import pytest

from dd_toolkit.engine.actions import build_action_plan
from dd_toolkit.engine.content import AnswerData, Profile, load_bank
from dd_toolkit.engine.render import markdown_html
from dd_toolkit.engine.reports import (
    escape_text,
    format_date,
    format_number,
    render_action_plan_markdown,
    render_transparency_markdown,
    report_environment,
)
from dd_toolkit.engine.scoring import load_methodologies, score
from dd_toolkit.engine.transparency import build_transparency_draft, load_statements

from .conftest import FIXTURE_CONTENT, REPO_ROOT

BANK = load_bank(FIXTURE_CONTENT)
METHOD = load_methodologies(FIXTURE_CONTENT, BANK)["standard@test.1"]
PROFILE = Profile(service_types=("social_network", "payments"), features=("live_streaming",), under18_users="yes")
STATEMENTS = load_statements(FIXTURE_CONTENT)
ENV = report_environment(FIXTURE_CONTENT)
PERIOD = {
    "period_start": "2025-01-01",
    "period_end": "2025-12-31",
    "methodology": "Each report counted once at filing.",
}
ANSWERS = {
    "mini.policy.owner": 3,
    "mini.policy.exists": "yes",
    "mini.policy.scope": ["online", "staff"],
    "mini.ops.live": "reactive",
    "mini.ops.payments": "partial",
    "mini.ops.reports": AnswerData(value=1250, meta=PERIOD),
    "mini.ops.notes": "Reviewers escalate within one hour to the safety lead.",
}
SECTIONS = ("Policies and Practices", "Processes and Systems", "Outcomes")


def answers_of(values: dict) -> dict[str, AnswerData]:
    return {q: v if isinstance(v, AnswerData) else AnswerData(value=v) for q, v in values.items()}


def draft_for(
    values=ANSWERS,
    *,
    name="Acme Social",
    cycle="2025",
    previous=None,
    previous_cycle=None,
    tracking=None,
    statements=STATEMENTS,
):
    answers = answers_of(values)
    card = score(BANK, METHOD, PROFILE, answers)
    plan = build_action_plan(BANK, METHOD, PROFILE, answers, card)
    previous_answers = answers_of(previous) if previous is not None else None
    return build_transparency_draft(
        BANK,
        METHOD,
        name,
        cycle,
        PROFILE,
        answers,
        card,
        plan,
        previous_answers=previous_answers,
        previous_cycle=previous_cycle,
        statements=statements,
        tracking=tracking,
        content_root=FIXTURE_CONTENT,
    )


def render(draft, env=ENV) -> str:
    return render_transparency_markdown(env, draft)


def section(markdown: str, title: str) -> str:
    """The text of one "## title" section."""
    body = markdown.split(f"\n## {title}\n", 1)[1]
    return body.split("\n## ", 1)[0]


def metric_row(markdown: str, metric: str) -> str:
    (row,) = [line for line in markdown.splitlines() if line.startswith(f"| {metric} |")]
    return row


def cells(row: str) -> list[str]:
    return [c.strip() for c in re.split(r"(?<!\\)\|", row)[1:-1]]


def kinds(draft, question_id=None) -> list[tuple[str, str]]:
    return [(n.question_id, n.kind) for n in draft.notes if question_id in (None, n.question_id)]


# -- structure and statements -----------------------------------------------------------------


def test_sections_in_order():
    text = render(draft_for())
    positions = [text.index(f"\n## {title}\n") for title in SECTIONS]
    assert positions == sorted(positions)
    assert text.startswith("# Child safety transparency report: Acme Social (2025)")


def test_statements_come_from_the_content_and_weak_answers_stay_internal():
    draft = draft_for()
    text = render(draft)
    policies = section(text, "Policies and Practices")
    assert "### Our safeguarding policy" in policies
    for sentence in (
        "A named owner of child safety reports to the board every year.",
        "We have a child safeguarding policy.",
        "The policy covers online protection.",
        "The policy covers how staff behave.",
    ):
        assert sentence in policies
    processes = section(text, "Processes and Systems")
    assert "Reviewers escalate within one hour to the safety lead." in processes  # own text, as typed
    # Partly and "on user report" are below the threshold: internal gaps, never public text.
    assert "suspicious transactions" not in text.lower()
    assert "live stream" not in text.lower() and "On user report" not in text
    assert kinds(draft) == [("mini.ops.live", "below_threshold"), ("mini.ops.payments", "below_threshold")] + [
        ("", "no_commitments")
    ]
    for word in ("Gap", "partly", "Note from the assessment", "Draft for editing", "we plan"):
        assert word.lower() not in text.lower()


def test_strong_answers_are_published_under_their_topics():
    strong = {**ANSWERS, "mini.ops.live": "proactive", "mini.ops.payments": "yes", "mini.policy.owner": 4}
    text = render(draft_for(strong))
    processes = section(text, "Processes and Systems")
    assert "### Live streams\n\nOur own detection finds abuse in live streams." in processes
    assert "### Payments\n\nWe report suspicious transactions." in processes
    assert "The board reviews child safety every quarter, with metrics." in text
    assert "A named owner of child safety reports to the board every year." not in text  # level 3's, not 4's


def test_a_level_below_the_threshold_says_nothing_in_public():
    draft = draft_for({**ANSWERS, "mini.policy.owner": 2})
    text = render(draft)
    assert "owner" not in text.lower()
    for level in BANK.questions["mini.policy.owner"].levels[:3]:
        assert level.get() not in text
    (note,) = [n for n in draft.notes if n.question_id == "mini.policy.owner"]
    assert note.kind == "below_threshold" and note.answer.startswith("Level 2")


def test_unanswered_and_no_are_team_notes_never_claims():
    values = {k: v for k, v in ANSWERS.items() if k != "mini.ops.notes"}
    draft = draft_for({**values, "mini.ops.payments": "no"})
    assert ("mini.ops.notes", "not_answered") in kinds(draft)
    assert ("mini.ops.payments", "below_threshold") in kinds(draft)
    text = render(draft)
    assert "Describe your escalation path" not in text and "Do you report" not in text
    assert "**Gap:**" not in text


def test_an_answer_without_a_statement_asks_the_team_to_write_one():
    kept = {k: v for k, v in STATEMENTS.statements.items() if k != "mini.ops.payments"}
    trimmed = dataclasses.replace(STATEMENTS, statements=kept)
    draft = draft_for({**ANSWERS, "mini.ops.payments": "yes"}, statements=trimmed)
    assert ("mini.ops.payments", "no_statement") in kinds(draft)
    assert "suspicious" not in render(draft).lower()


def test_comments_are_team_notes_and_not_applicable_is_not_a_gap():
    values = {
        **ANSWERS,
        "mini.policy.exists": AnswerData(value="yes", comment="Adopted in March."),
        "mini.ops.payments": AnswerData(not_applicable=True, justification="No payments."),
    }
    draft = draft_for(values)
    text = render(draft)
    assert "Adopted in March." not in text
    (note,) = [n for n in draft.notes if n.kind == "comment"]
    assert (note.question_id, note.detail) == ("mini.policy.exists", "Adopted in March.")
    assert "mini.ops.payments" not in draft.note_question_ids
    assert "suspicious transactions" not in text


# -- outcomes ---------------------------------------------------------------------------------


def test_outcomes_table_shows_the_answer_exactly():
    text = render(draft_for())
    outcomes = section(text, "Outcomes")
    header = "| Metric | Value | Reporting period | Methodology note |\n|---|---|---|---|\n"
    assert header in outcomes
    assert cells(metric_row(text, "Reports sent to a hotline")) == [
        "Reports sent to a hotline",
        "1,250 reports",
        "1 January 2025 – 31 December 2025",
        "Each report counted once at filing.",
    ]
    html = markdown_html(text)
    assert "<td>1,250 reports</td>" in html


def test_a_missing_metric_is_a_team_note_and_never_a_number():
    values = {k: v for k, v in ANSWERS.items() if k != "mini.ops.reports"}
    draft = draft_for(values)
    text = render(draft)
    assert "Reports sent to a hotline" not in text and "## Outcomes" not in text
    assert kinds(draft, "mini.ops.reports") == [("mini.ops.reports", "metric_not_answered")]


def test_a_metric_without_period_or_methodology_is_not_published():
    draft = draft_for({**ANSWERS, "mini.ops.reports": AnswerData(value=40)})
    assert "40" not in render(draft)
    assert kinds(draft, "mini.ops.reports") == [
        ("mini.ops.reports", "no_period"),
        ("mini.ops.reports", "no_methodology"),
    ]
    half = AnswerData(value=40, meta={"period_start": "2025-01-01", "methodology": "Counted."})
    draft = draft_for({**ANSWERS, "mini.ops.reports": half})
    assert "Counted." not in render(draft)
    assert kinds(draft, "mini.ops.reports") == [("mini.ops.reports", "no_period")]


def test_a_negative_count_fails_the_content_check_and_is_withheld():
    draft = draft_for({**ANSWERS, "mini.ops.reports": AnswerData(value=-3, meta=PERIOD)})
    assert [i.check_id for i in draft.inconsistencies] == ["counts_are_not_negative"]
    assert ("mini.ops.reports", "inconsistent") in kinds(draft)
    assert "-3" not in render(draft)


def test_a_metric_marked_not_applicable_is_left_out_with_a_note():
    na = AnswerData(not_applicable=True, justification="We do not report to hotlines ourselves.")
    draft = draft_for({**ANSWERS, "mini.ops.reports": na})
    assert "Not applicable" not in render(draft) and "hotlines ourselves" not in render(draft)
    (note,) = [n for n in draft.notes if n.question_id == "mini.ops.reports"]
    assert note.kind == "metric_not_applicable" and note.detail == "We do not report to hotlines ourselves."


@pytest.mark.parametrize(
    ("previous", "expected"),
    [
        (1000, ["1,000 reports", "+250 reports (+25.0%)"]),
        (1500, ["1,500 reports", "-250 reports (-16.7%)"]),
        (1250, ["1,250 reports", "0 reports (0.0%)"]),
        (0, ["0 reports", "+1,250 reports"]),  # no percent change from zero
    ],
)
def test_previous_cycle_and_change(previous, expected):
    draft = draft_for(previous={"mini.ops.reports": previous}, previous_cycle="2024")
    text = render(draft)
    assert "| Previous (2024) | Change |" in text
    assert cells(metric_row(text, "Reports sent to a hotline"))[4:] == expected


def test_no_previous_value_shows_a_dash_not_a_number():
    draft = draft_for(previous={}, previous_cycle="2024")
    assert cells(metric_row(render(draft), "Reports sent to a hotline"))[4:] == ["—", "—"]
    assert "Previous" not in render(draft_for())


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1250, "1,250"),
        (12.5, "12.5"),
        (1234567, "1,234,567"),
        (1234.125, "1,234.125"),
        (0, "0"),
        (25.0, "25"),
        (0.05, "0.05"),
        (-250, "-250"),
    ],
)
def test_numbers_are_never_rounded(value, text):
    assert format_number(value) == text


def test_number_and_date_filters():
    assert format_number(250, signed=True) == "+250"
    assert format_number(-3, signed=True) == "-3"
    assert format_date("2025-01-01") == "1 January 2025"
    assert format_date("<b>soon</b>") == "&lt;b&gt;soon&lt;/b&gt;"


# -- next steps: only what the team marked public ---------------------------------------------


def test_suggestions_are_never_commitments_unless_marked():
    draft = draft_for()
    assert draft.plan_items and draft.commitments == ()
    text = render(draft)
    assert "## Challenges and next steps" not in text
    for item in draft.plan_items:
        assert item.title not in text
    for phrase in ("we plan", "we will", "committed", "priorit"):
        assert phrase not in text.lower()
    assert ("", "no_commitments") in kinds(draft)


def test_marked_items_are_the_only_next_steps():
    plan_items = draft_for().plan_items
    chosen, other = plan_items[0], plan_items[1]
    tracking = {
        chosen.id: {"public_commitment": True, "status": "in_progress", "due": "2026-03-31"},
        other.id: {"public_commitment": False, "status": "todo"},
    }
    draft = draft_for(tracking=tracking)
    assert [i.id for i in draft.commitments] == [chosen.id]
    challenges = section(render(draft), "Challenges and next steps")
    assert f"- {escape_text(chosen.title)} (by 31 March 2026)" in challenges
    assert other.title not in challenges
    assert ("", "no_commitments") not in kinds(draft)


@pytest.mark.parametrize("status", ["done", "wont_do"])
def test_a_closed_item_is_no_next_step(status):
    item = draft_for().plan_items[0]
    draft = draft_for(tracking={item.id: {"public_commitment": True, "status": status}})
    assert draft.commitments == ()
    assert "Challenges and next steps" not in render(draft)


# -- user text never becomes markup -----------------------------------------------------------

SCRIPT = "<script>alert(1)</script>"
PAYLOADS = [
    SCRIPT,
    "<img src=x onerror=alert(1)>",
    "[click](javascript:alert(1))",
    "a | b\n\n# Heading\n\n<script>alert(2)</script>",
    "</td></tr></table><script>alert(3)</script>",
    "<!-- hidden --> **bold** `code`",
]


def draft_with(where: str, payload: str):
    values = dict(ANSWERS)
    kwargs = {}
    if where == "organisation name":
        kwargs["name"] = payload
    elif where == "cycle":
        kwargs["cycle"] = payload
        kwargs.update(previous={"mini.ops.reports": 1}, previous_cycle=payload)
    elif where == "text answer":
        values["mini.ops.notes"] = AnswerData(value=payload)
    elif where == "methodology note":
        values["mini.ops.reports"] = AnswerData(value=5, meta={**PERIOD, "methodology": payload})
    elif where == "committed item's due date":
        item = draft_for().plan_items[0]
        kwargs["tracking"] = {item.id: {"public_commitment": True, "status": "todo", "due": payload}}
    return draft_for(values, **kwargs)


PUBLIC_INPUTS = ["organisation name", "cycle", "text answer", "methodology note"]


def assert_inert(html: str) -> None:
    lowered = html.lower()
    assert "<script" not in lowered
    assert "<img" not in lowered
    assert "javascript:" not in re.sub(r">[^<]*<", "><", lowered)  # only ever as text
    assert "<h1>heading" not in lowered
    assert "<code>code" not in lowered and "<strong>bold" not in lowered
    # The Outcomes table keeps its shape: every row has as many cells as the header.
    for table in re.findall(r"<table>.*?</table>", html, re.S):
        header = len(re.findall(r"<th>", table))
        for row in re.findall(r"<tr>(.*?)</tr>", table, re.S)[1:]:
            assert len(re.findall(r"<td>", row)) == header


@pytest.mark.parametrize("where", PUBLIC_INPUTS)
@pytest.mark.parametrize("payload", PAYLOADS)
def test_user_text_never_becomes_markup(where, payload):
    markdown = render(draft_with(where, payload))
    html = markdown_html(markdown)
    assert_inert(html)
    # And it is there, as text.
    visible = htmllib.unescape(re.sub(r"<[^>]+>", "", html))
    first_words = " ".join(payload.split())[:12]
    assert first_words in " ".join(visible.split())


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_typed_due_date_never_becomes_markup(payload):
    assert_inert(markdown_html(render(draft_with("committed item's due date", payload))))


@pytest.mark.parametrize(
    "text",
    PAYLOADS
    + [
        "1. not a list",
        "- not a list",
        "+ not either",
        "## not a heading",
        "> not a quote",
        "AT&T &amp; co",
        "snake_case *stars* \\backslash\\",
    ],
)
def test_escaped_text_reads_back_exactly(text):
    html = markdown_html(escape_text(text))
    assert html.startswith("<p>") and html.endswith("</p>") and html.count("<p>") == 1
    assert htmllib.unescape(html[3:-4]) == " ".join(text.split())


def test_multiline_text_keeps_paragraphs_only():
    html = markdown_html(escape_text("First.\n\n# Second\n* third", multiline=True))
    assert html == "<p>First.</p>\n<p># Second * third</p>"


# -- templates can be changed without Python ---------------------------------------------------


def test_a_content_folder_without_templates_uses_the_bundled_ones():
    assert not (FIXTURE_CONTENT / "reports" / "transparency.md.j2").exists()
    bundled = (REPO_ROOT / "reports" / "transparency.md.j2").read_text(encoding="utf-8")
    assert '## {{ _("Policies and Practices") }}' in bundled
    assert "## Policies and Practices" in render(draft_for())


def test_a_content_folder_without_statements_uses_the_bundled_ones(tmp_path):
    (tmp_path / "reports").mkdir()
    assert load_statements(tmp_path) == load_statements(REPO_ROOT)
    assert load_statements(FIXTURE_CONTENT) != load_statements(REPO_ROOT)


def test_a_custom_template_in_the_content_folder_is_used(tmp_path):
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "transparency.md.j2").write_text(
        "# Our report, {{ draft.organisation_name|text }}\n"
        "{% for row in draft.published_metrics %}{{ row.metric }}: {{ row.value|number }}\n{% endfor %}",
        encoding="utf-8",
    )
    env = report_environment(tmp_path)
    draft = draft_for(name="Acme <b>")
    assert render(draft, env) == "# Our report, Acme &lt;b&gt;\nReports sent to a hotline: 1,250\n"
    # The action plan template is not overridden there: the bundled one is used.
    answers = answers_of(ANSWERS)
    card = score(BANK, METHOD, PROFILE, answers)
    plan = build_action_plan(BANK, METHOD, PROFILE, answers, card)
    assert render_action_plan_markdown(env, plan, organisation_name="Acme", cycle=2025).startswith(
        "# Child-safety action plan: Acme"
    )


def test_a_template_typo_fails_loudly(tmp_path):
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "transparency.md.j2").write_text("{{ draft.no_such_field }}", encoding="utf-8")
    with pytest.raises(Exception, match="no_such_field"):
        render(draft_for(), report_environment(tmp_path))


# -- the draft as data ------------------------------------------------------------------------


def test_draft_is_plain_data():
    draft = draft_for(previous={"mini.ops.reports": 1000}, previous_cycle="2024")
    data = json.loads(json.dumps(draft.to_dict()))
    (row,) = data["metrics"]
    assert (row["value"], row["previous_value"], row["change"], row["change_percent"]) == (1250, 1000, "250", "25.0")
    assert row["published"] is True
    assert data["organisation_name"] == "Acme Social"

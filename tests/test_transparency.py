"""The draft TRUST transparency section and the report templates.

Fixture content (tests/fixtures/content): Policies and Practices draws on mini.policy.exists
and mini.policy.scope (RPA 7.4.1); Processes and Systems on mini.ops.notes (TRUST processes,
text) and mini.ops.payments (RPA 7.3.1); the Outcomes table on the one metric,
mini.ops.reports ("Reports sent to a hotline", unit "reports").
"""

import html as htmllib
import json
import re

import pytest

from dd_toolkit.engine.actions import build_action_plan
from dd_toolkit.engine.content import AnswerData
from dd_toolkit.engine.render import markdown_html
from dd_toolkit.engine.reports import (
    escape_text,
    format_date,
    format_number,
    render_action_plan_markdown,
    render_transparency_markdown,
    report_environment,
)
from dd_toolkit.engine.scoring import score
from dd_toolkit.engine.transparency import build_transparency_draft, question_statement

from .conftest import FIXTURE_CONTENT, REPO_ROOT
from .test_actions import (
    BANK,
    LARGE,
    METHOD,
    PROFILE,
    REAL_BANK,
    REAL_METHOD,
    answers_of,
    realistic_answers,
    with_p1_from,
)

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
SECTIONS = ("Policies and Practices", "Processes and Systems", "Outcomes", "Challenges and next steps")


def draft_for(
    values=ANSWERS,
    *,
    name="Acme Social",
    cycle="2025",
    previous=None,
    previous_cycle=None,
    method=METHOD,
    bank=BANK,
    profile=PROFILE,
):
    answers = answers_of(values)
    card = score(bank, method, profile, answers)
    plan = build_action_plan(bank, method, profile, answers, card)
    previous_answers = answers_of(previous) if previous is not None else None
    return build_transparency_draft(
        bank,
        method,
        name,
        cycle,
        profile,
        answers,
        card,
        plan,
        previous_answers=previous_answers,
        previous_cycle=previous_cycle,
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


# -- structure and statements -----------------------------------------------------------------


def test_sections_in_order():
    text = render(draft_for())
    positions = [text.index(f"\n## {title}\n") for title in SECTIONS]
    assert positions == sorted(positions)
    assert text.startswith("# Child safety transparency report: Acme Social (2025)")


def test_statements_come_from_the_answers_in_our_voice():
    draft = draft_for()
    text = render(draft)
    policies = section(text, "Policies and Practices")
    assert "There is a child safeguarding policy." in policies
    assert "The policy covers: Online protection; Staff conduct." in policies
    processes = section(text, "Processes and Systems")
    # The company's own text, as typed.
    assert "Reviewers escalate within one hour to the safety lead." in processes
    assert "This is partly in place: we report suspicious transactions." in processes
    assert draft.gaps == ()
    assert "**Gap:**" not in text
    assert [s.question_id for s in draft.policies.statements] == ["mini.policy.exists", "mini.policy.scope"]
    assert [s.question_id for s in draft.processes.statements] == ["mini.ops.notes", "mini.ops.payments"]


@pytest.mark.parametrize(
    ("question", "statement"),
    [
        (
            "Do you publish your definitions, naming each form you prohibit?",
            "We publish our definitions, naming each form we prohibit",
        ),
        ("Does the company have a standalone policy?", "We have a standalone policy"),
        ("Does your public reporting say who is accountable?", "Our public reporting says who is accountable"),
        ("Is there a documented flow that you can describe?", "There is a documented flow that we can describe"),
        ("Are your safety rules easy to find?", "Our safety rules are easy to find"),
        ("Is your reporting checked by the privacy team?", "Our reporting is checked by the privacy team"),
        ("Can users appeal enforcement decisions?", "Users can appeal enforcement decisions"),
        ("Has an independent party reviewed your practices?", "An independent party has reviewed our practices"),
        ("When you act on abuse, do you preserve the data?", "When we act on abuse, we preserve the data"),
        (
            "Do people who report get a confirmation, and are they told the outcome?",
            "People who report get a confirmation, and they are told the outcome",
        ),
        ("What does the policy cover?", "The policy covers"),
        ("Which efforts do you take part in?", "We take part in the following efforts"),
        ("How often is the policy reviewed?", "The policy is reviewed"),
        ("Who owns child safety?", None),
    ],
)
def test_questions_become_statements(question, statement):
    assert question_statement(question) == statement


def test_unanswered_and_no_are_marked_gaps_never_claims():
    values = {k: v for k, v in ANSWERS.items() if k != "mini.ops.notes"}
    draft = draft_for({**values, "mini.ops.payments": "no"})
    assert [(g.part, g.question_id, g.reason) for g in draft.gaps] == [
        ("processes", "mini.ops.notes", "not_answered"),
        ("processes", "mini.ops.payments", "not_in_place"),
    ]
    processes = section(render(draft), "Processes and Systems")
    gap_lines = [line for line in processes.splitlines() if line.startswith("> **Gap:**")]
    assert len(gap_lines) == 2
    assert "`mini.ops.notes`" in gap_lines[0]
    assert "Describe your escalation path." in gap_lines[0]
    assert "`mini.ops.payments`" in gap_lines[1]
    assert "Do you report suspicious transactions?" in gap_lines[1]
    assert "our answer: No" in gap_lines[1]
    # Nothing claims what is not in place.
    assert "we report suspicious transactions" not in processes.lower()
    assert "Our assessment does not yet describe this part." in processes
    html = markdown_html(render(draft))
    assert html.count("<strong>Gap:</strong>") == 2


def test_every_gap_is_marked_once_in_the_text():
    values = {"mini.policy.owner": 1, "mini.ops.reports": 7}  # no period, no methodology
    draft = draft_for(values)
    text = render(draft)
    reasons = sorted((g.question_id, g.reason) for g in draft.gaps)
    assert reasons == sorted(
        [
            ("mini.policy.exists", "not_answered"),
            ("mini.ops.notes", "not_answered"),
            ("mini.ops.payments", "not_answered"),
            ("mini.ops.reports", "no_period"),
            ("mini.ops.reports", "no_methodology"),
        ]
    )
    assert text.count("**Gap:**") == len(draft.gaps)
    for gap in draft.gaps:
        marked = [line for line in text.splitlines() if "**Gap:**" in line and f"`{gap.question_id}`" in line]
        assert marked, gap
    assert draft.gap_question_ids == ("mini.policy.exists", "mini.ops.notes", "mini.ops.payments", "mini.ops.reports")


def test_comments_are_notes_and_not_applicable_is_not_a_gap():
    values = {
        **ANSWERS,
        "mini.policy.exists": AnswerData(value="yes", comment="Adopted in March."),
        "mini.ops.payments": AnswerData(not_applicable=True, justification="No payments."),
    }
    draft = draft_for(values)
    text = render(draft)
    assert "> **Note from the assessment** (`mini.policy.exists`): Adopted in March." in text
    assert draft.gaps == ()
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


def test_a_missing_metric_is_a_gap_and_never_a_number():
    values = {k: v for k, v in ANSWERS.items() if k != "mini.ops.reports"}
    draft = draft_for(values)
    row = metric_row(render(draft), "Reports sent to a hotline")
    assert cells(row)[1] == "**Gap:** not answered — question `mini.ops.reports`"
    assert not re.search(r"\d", row)
    assert [(g.question_id, g.reason) for g in draft.gaps] == [("mini.ops.reports", "not_answered")]


def test_a_metric_without_period_or_methodology_has_gap_cells():
    draft = draft_for({**ANSWERS, "mini.ops.reports": AnswerData(value=40)})
    row = cells(metric_row(render(draft), "Reports sent to a hotline"))
    assert row[1] == "40 reports"
    assert row[2] == "**Gap:** no reporting period — question `mini.ops.reports`"
    assert row[3] == "**Gap:** no methodology note — question `mini.ops.reports`"
    half = AnswerData(value=40, meta={"period_start": "2025-01-01", "methodology": "Counted."})
    row = cells(metric_row(render(draft_for({**ANSWERS, "mini.ops.reports": half})), "Reports sent to a hotline"))
    assert row[2].startswith("**Gap:** no reporting period") and row[3] == "Counted."


def test_a_metric_marked_not_applicable_shows_why():
    na = AnswerData(not_applicable=True, justification="We do not report to hotlines ourselves.")
    draft = draft_for({**ANSWERS, "mini.ops.reports": na})
    row = cells(metric_row(render(draft), "Reports sent to a hotline"))
    assert row == ["Reports sent to a hotline", "Not applicable: We do not report to hotlines ourselves.", "—", "—"]
    assert draft.gaps == ()


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


# -- challenges -------------------------------------------------------------------------------


def test_challenges_name_the_first_priorities_in_prose():
    draft = draft_for()
    # Items: live (P2, 5 points), owner (P3: minor gap 1 + critical 3), payments (P3: moderate
    # 2 + RPA 7.3.1 2).
    assert [i.id for i in draft.next] == ["mini.ops.live"] and draft.urgent == ()
    challenges = section(render(draft), "Challenges and next steps")
    assert "Our self-assessment points to 3 areas" in challenges
    assert "Our next priorities are: to add live-stream detection." in challenges
    assert "Our plan holds 2 further actions of lower priority." in challenges
    assert "name an owner" not in challenges.lower()  # P3 items are counted, not named
    assert set(re.findall(r"\d+", challenges)) <= {"3", "2"}


def test_challenges_with_urgent_items():
    draft = draft_for(method=with_p1_from(4))
    challenges = section(render(draft), "Challenges and next steps")
    # Owner at level 3 is a minor gap, which has no steps of its own: the moderate step leads.
    assert (
        "Our most urgent priorities are: to add live-stream detection; to write down the "
        "owner's remit; and to set up suspicious transaction reporting."
    ) in challenges
    assert set(re.findall(r"\d+", challenges)) <= {"3"}


def test_no_gaps_says_so():
    perfect = {**ANSWERS, "mini.policy.owner": 4, "mini.ops.live": "proactive", "mini.ops.payments": "yes"}
    challenges = section(render(draft_for(perfect)), "Challenges and next steps")
    assert "found no gaps that call for action" in challenges


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
    elif where == "comment on a text answer":
        values["mini.ops.notes"] = AnswerData(value="Escalation.", comment=payload)
    elif where == "comment on a statement":
        values["mini.policy.exists"] = AnswerData(value="yes", comment=payload)
    elif where == "methodology note":
        values["mini.ops.reports"] = AnswerData(value=5, meta={**PERIOD, "methodology": payload})
    elif where == "metric comment":
        values["mini.ops.reports"] = AnswerData(value=5, meta=PERIOD, comment=payload)
    elif where == "not-applicable reason":
        values["mini.ops.reports"] = AnswerData(not_applicable=True, justification=payload)
    return draft_for(values, **kwargs)


INPUTS = [
    "organisation name",
    "cycle",
    "text answer",
    "comment on a text answer",
    "comment on a statement",
    "methodology note",
    "metric comment",
    "not-applicable reason",
]


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


@pytest.mark.parametrize("where", INPUTS)
@pytest.mark.parametrize("payload", PAYLOADS)
def test_user_text_never_becomes_markup(where, payload):
    markdown = render(draft_with(where, payload))
    html = markdown_html(markdown)
    assert_inert(html)
    # And it is there, as text.
    visible = htmllib.unescape(re.sub(r"<[^>]+>", "", html))
    first_words = " ".join(payload.split())[:12]
    assert first_words in " ".join(visible.split())


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
    assert "## Policies and Practices" in bundled
    assert "## Policies and Practices" in render(draft_for())


def test_a_custom_template_in_the_content_folder_is_used(tmp_path):
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "transparency.md.j2").write_text(
        "# Our report, {{ draft.organisation_name|text }}\n"
        "{% for row in draft.metrics %}{{ row.metric }}: {{ row.value|number }}\n{% endfor %}",
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
    (tmp_path / "reports" / "action_plan.md.j2").write_text(
        "{% for item in plan.items %}{{ item.id }} {{ item.priority }}\n{% endfor %}", encoding="utf-8"
    )
    assert render_action_plan_markdown(report_environment(tmp_path), plan, organisation_name="Acme", cycle=2025) == (
        "mini.ops.live P2\nmini.policy.owner P3\nmini.ops.payments P3\n"
    )


def test_a_template_typo_fails_loudly(tmp_path):
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "transparency.md.j2").write_text("{{ draft.no_such_field }}", encoding="utf-8")
    with pytest.raises(Exception, match="no_such_field"):
        render(draft_for(), report_environment(tmp_path))


# -- the draft as data and on the real bank ----------------------------------------------------


def test_draft_is_plain_data():
    draft = draft_for(previous={"mini.ops.reports": 1000}, previous_cycle="2024")
    data = json.loads(json.dumps(draft.to_dict()))
    (row,) = data["metrics"]
    assert (row["value"], row["previous_value"], row["change"], row["change_percent"]) == (1250, 1000, "250", "25.0")
    assert data["organisation_name"] == "Acme Social"


def test_realistic_draft_on_the_real_bank():
    values = realistic_answers(LARGE)
    values["trust.policies.approach"] = "We build our app for young people and put their safety first."
    values["trust.outcomes.proactive_rate"] = AnswerData(value=12.5, meta=PERIOD)
    values["trust.outcomes.reports_ncmec"] = AnswerData(value=1234567, meta=PERIOD)
    values.pop("trust.outcomes.content_actioned")
    draft = draft_for(values, name="Lumen Social", cycle="2026", bank=REAL_BANK, method=REAL_METHOD, profile=LARGE)
    text = render(draft, report_environment(REPO_ROOT))
    policies = section(text, "Policies and Practices")
    assert policies.lstrip().startswith("We build our app for young people")
    assert len(draft.policies.statements) > 5 and len(draft.processes.statements) > 5
    # Every applicable metric has a row, in bank order, with the number exactly as answered.
    applicable = REAL_BANK.applicability(LARGE, answers_of(values))
    metrics = [q.id for q in REAL_BANK.questions.values() if q.metric and applicable[q.id]]
    assert [r.question_id for r in draft.metrics] == metrics
    share = REAL_BANK.questions["trust.outcomes.proactive_rate"].text.get()
    assert cells(metric_row(text, share))[1] == "12.5%"
    ncmec = REAL_BANK.questions["trust.outcomes.reports_ncmec"].text.get()
    assert cells(metric_row(text, ncmec))[1] == "1,234,567 reports"
    actioned = REAL_BANK.questions["trust.outcomes.content_actioned"].text.get()
    assert cells(metric_row(text, actioned))[1].startswith("**Gap:** not answered")
    # Answers of "no" and level 0 are gaps, not statements.
    for gap in draft.gaps:
        if gap.reason == "not_in_place":
            answer = values[gap.question_id]
            assert answer in ("no", 0) or isinstance(answer, list | str)
    assert any(g.reason == "not_in_place" for g in draft.gaps)
    assert text.count("**Gap:**") == len(draft.gaps)
    html = markdown_html(text)
    assert_inert(html)
    assert html.count("<h2>") == 4

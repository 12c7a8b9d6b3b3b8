"""The publishable transparency draft of 2027.1 (issue 11, point 9), on the real question bank.

- Public sentences come from reports/transparency_statements.yaml; none is built in Python.
- Answers below the publish threshold are internal gaps for the team, never public text.
- Suggestions become next steps only when the team marks them as public commitments.
- Metrics are checked against each other (reports/metric_checks.yaml); an inconsistent figure
  is flagged on the Outcomes section and in the draft's team notes, and is not published.
- Processes and Systems covers grooming, sextortion and live-stream handling.
"""

import ast
import dataclasses
import re
import shutil

import pytest
import yaml
from click.testing import CliRunner

from dd_toolkit.cli import main as cli
from dd_toolkit.engine.actions import ActionPlan, build_action_plan
from dd_toolkit.engine.content import AnswerData, AnswerType, Profile, load_bank
from dd_toolkit.engine.reports import render_transparency_markdown, report_environment
from dd_toolkit.engine.scoring import latest, load_methodologies, score
from dd_toolkit.engine.transparency import (
    build_transparency_draft,
    check_metrics,
    check_statements,
    load_metric_checks,
    load_statements,
)
from dd_toolkit.records import database as db
from dd_toolkit.records.assessments import profile_of

from . import factories
from .conftest import REPO_ROOT, AuthActions, Forms

BANK = load_bank(REPO_ROOT)
METHOD = latest(load_methodologies(REPO_ROOT, BANK), "standard")
STATEMENTS = load_statements(REPO_ROOT)
CHECKS = load_metric_checks(REPO_ROOT)
ENV = report_environment(REPO_ROOT)
# Every question of the bank can apply to this profile.
BROAD = Profile(
    service_types=tuple(t.id for t in BANK.taxonomy.service_types),
    features=tuple(f.id for f in BANK.taxonomy.features),
    under18_users="yes",
    size_band="large",
    countries=("SG", "MY"),
    hq_country="SG",
)
PERIOD = {"period_start": "2025-01-01", "period_end": "2025-12-31", "methodology": "Counted once per item."}
EMPTY_PLAN = ActionPlan(methodology=METHOD.key, items=(), counts={}, priority_labels={}, horizons={})
PART_TITLES = ("Policies and Practices", "Processes and Systems", "Outcomes", "Challenges and next steps")


def answers_of(values: dict) -> dict[str, AnswerData]:
    return {q: v if isinstance(v, AnswerData) else AnswerData(value=v) for q, v in values.items()}


def strong_value(question):
    kind = question.type
    if kind is AnswerType.MATURITY:
        return 4
    if kind is AnswerType.YES_PARTIAL_NO:
        return "yes"
    if kind is AnswerType.SINGLE:
        return max(question.options, key=lambda o: o.points or 0).value
    if kind is AnswerType.MULTI:
        return [o.value for o in question.options if (o.points or 0) > 0] or [question.options[-1].value]
    if kind is AnswerType.NUMBER:
        return AnswerData(value=10, meta=PERIOD)
    if kind is AnswerType.TEXT:
        return "We describe this in our own words."
    return "2025-06-30"


def weak_values(question) -> list:
    """Every answer below the publish threshold (a multi question: one weak option ticked)."""
    if question.type in (AnswerType.MATURITY, AnswerType.YES_PARTIAL_NO, AnswerType.SINGLE):
        values = range(len(question.levels)) if question.type is AnswerType.MATURITY else ["yes", "partial", "no"]
        if question.type is AnswerType.SINGLE:
            values = [o.value for o in question.options]
        return [v for v in values if not STATEMENTS.publishable(question, v)]
    if question.type is AnswerType.MULTI:
        return [[o.value] for o in question.options if not STATEMENTS.publishable(question, o.value)]
    return []


def strong_answers(profile=BROAD) -> dict:
    values: dict = {}
    for _ in range(4):  # conditions on earlier answers open more questions
        applicable = BANK.applicability(profile, answers_of(values))
        for qid, applies in applicable.items():
            if applies and qid not in values:
                values[qid] = strong_value(BANK.questions[qid])
    return values


STRONG = strong_answers()


def draft_for(values, profile=BROAD, plan=None, tracking=None, statements=STATEMENTS):
    answers = answers_of(values)
    card = score(BANK, METHOD, profile, answers)
    if plan is None:
        plan = build_action_plan(BANK, METHOD, profile, answers, card)
    return build_transparency_draft(
        BANK,
        METHOD,
        "Lumen Social",
        "2026",
        profile,
        answers,
        card,
        plan,
        statements=statements,
        checks=CHECKS,
        tracking=tracking,
    )


def render(draft) -> str:
    return render_transparency_markdown(ENV, draft)


def section(markdown: str, title: str) -> str:
    body = markdown.split(f"\n## {title}\n", 1)[1]
    return body.split("\n## ", 1)[0]


def statements_of(question_id: str) -> list[str]:
    entry = STATEMENTS.statements.get(question_id)
    if entry is None or entry.own_text:
        return []
    return [" ".join(str(t).split()) for t in entry.texts.values()]


def one_line(text: str) -> str:
    return " ".join(text.split())


def weak_descriptors() -> set[str]:
    """The descriptor of every maturity level below the threshold, and every "Partly" meaning."""
    out = set()
    for question in BANK.questions.values():
        if question.type is AnswerType.MATURITY:
            out |= {question.levels[v].get() for v in weak_values(question)}
        if question.type is AnswerType.YES_PARTIAL_NO and question.partial_means is not None:
            out.add(question.partial_means.get())
    return out


WEAK_DESCRIPTORS = weak_descriptors()


# -- the content -----------------------------------------------------------------------------


def test_the_statements_and_checks_fit_the_real_bank():
    """No statement for an answer below the threshold, no unknown question or answer value, and
    every check is on metric questions."""
    assert check_statements(BANK, STATEMENTS, CHECKS) == []
    assert STATEMENTS.maturity_threshold == 3 and STATEMENTS.yes_partial_no == ("yes",)


def test_a_statement_below_the_threshold_is_refused():
    texts = {**STATEMENTS.statements["hrdd.act.csam_reporting"].texts, "2": "We report some cases."}
    entry = dataclasses.replace(STATEMENTS.statements["hrdd.act.csam_reporting"], texts=texts)
    bad = dataclasses.replace(STATEMENTS, statements={**STATEMENTS.statements, "hrdd.act.csam_reporting": entry})
    assert check_statements(BANK, bad) == [
        "hrdd.act.csam_reporting: '2' is below the publish threshold and cannot have a public statement"
    ]


def test_statements_come_from_the_yaml_not_from_python(tmp_path):
    """Change one statement in a copy of the content: the draft follows the copy."""
    shutil.copytree(REPO_ROOT / "reports", tmp_path / "reports")
    path = tmp_path / "reports" / "transparency_statements.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["statements"]["hrdd.act.csam_reporting"][4] = "Every case we confirm goes to the hotline the same day."
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    original = one_line(STATEMENTS.statements["hrdd.act.csam_reporting"].texts["4"])
    changed = draft_for(STRONG, plan=EMPTY_PLAN, statements=load_statements(tmp_path))
    text = one_line(render(changed))
    assert "Every case we confirm goes to the hotline the same day." in text and original not in text
    assert original in one_line(render(draft_for(STRONG, plan=EMPTY_PLAN)))


def test_transparency_py_holds_no_english_sentences_or_word_lists():
    source = (REPO_ROOT / "dd_toolkit" / "engine" / "transparency.py").read_text(encoding="utf-8")
    tree = ast.parse(source)
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.FunctionDef | ast.ClassDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    strings = [
        n.value
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docstrings
    ]
    # Public sentences speak as the company ("we", "our") or report a state ("in place", "partly").
    voice = re.compile(r"\b(we|our|us|you|your|in place|partly|plan|commit\w*)\b", re.I)
    assert [s for s in strings if voice.search(s)] == []
    # No word lists: no set, list or tuple of five or more plain words.
    for node in ast.walk(tree):
        if isinstance(node, ast.Set | ast.List | ast.Tuple):
            words = [e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
            assert len([w for w in words if w.isalpha() and w.islower()]) < 5, words


# -- weak answers are never public -----------------------------------------------------------


def test_no_answer_below_the_threshold_reaches_the_public_text():
    """Every question and every weak answer of the real bank: the draft never prints the
    descriptor of a level below the publish threshold, nor any statement of that question,
    and the answer is an internal gap for the team."""
    checked = set()
    for qid, question in BANK.questions.items():
        for weak in weak_values(question):
            values = {**STRONG, qid: weak}
            if not BANK.applicability(BROAD, answers_of(values)).get(qid):
                continue
            draft = draft_for(values, plan=EMPTY_PLAN)
            text = one_line(render(draft))
            leaked = [d for d in WEAK_DESCRIPTORS if one_line(d) in text]
            assert leaked == [], (qid, weak)
            for statement in statements_of(qid):
                assert statement not in text, (qid, weak)
            if question.type is AnswerType.MATURITY:
                assert one_line(question.levels[weak].get()) not in text
            if qid in STATEMENTS.statements:
                assert (qid, "below_threshold") in {(n.question_id, n.kind) for n in draft.notes}, (qid, weak)
            checked.add((qid, str(weak)))
    # Every question with public statements was checked at each of its weak answers.
    for qid in STATEMENTS.statements:
        for weak in weak_values(BANK.questions[qid]):
            assert (qid, str(weak)) in checked, (qid, weak)
    assert len(checked) > 150


def test_a_strong_draft_prints_only_content_headings():
    draft = draft_for(STRONG, plan=EMPTY_PLAN)
    text = render(draft)
    topics = {t.heading for t in STATEMENTS.topics if t.heading}
    headings = [line for line in text.splitlines() if line.startswith("#")]
    assert headings[0] == "# Child safety transparency report: Lumen Social (2026)"
    for line in headings[1:]:
        level, title = line.split(" ", 1)
        assert (level == "##" and title in PART_TITLES) or (level == "###" and title in topics), line
    bank_titles = {s.title.get() for m in BANK.questionnaires for s in m.sections} - set(PART_TITLES)
    for title in bank_titles:
        assert title not in text
    for internal in ("Gap", "Note from the assessment", "Draft for editing", "our answer", "For your team"):
        assert internal not in text
    assert not re.search(r"\byou(r)?\b", text, re.I)  # the company speaks; nobody is addressed
    for question in BANK.questions.values():
        assert one_line(question.text.get()) not in one_line(text) or question.metric, question.id
    assert not [n for n in draft.notes if n.kind == "below_threshold"]


# -- processes: grooming, sextortion, live streams --------------------------------------------


def test_grooming_sextortion_and_live_streams_appear_under_processes_when_answered_well():
    profile = Profile(
        service_types=("social_network",),
        features=("direct_messaging", "live_streaming", "user_uploads"),
        under18_users="yes",
        size_band="medium",
    )
    values = strong_answers(profile)
    processes = one_line(section(render(draft_for(values, profile, plan=EMPTY_PLAN)), "Processes and Systems"))
    for heading, qids in (
        ("Grooming", ("hrdd.act.grooming_detection",)),
        ("Sexual extortion", ("hrdd.act.sextortion_response",)),
        ("Live streams", ("hrdd.act.live_stream_detection",)),
    ):
        assert f"### {heading}" in processes
        for qid in qids:
            assert STATEMENTS.statements[qid].topic in {t.id for t in STATEMENTS.topics if t.part == "processes"}
            assert one_line(STATEMENTS.text_for(qid, values[qid])) in processes, qid
    # Answered weakly, they are gaps for the team instead, and their statements are not printed.
    weak = {**values, "hrdd.act.grooming_detection": 1, "hrdd.act.live_stream_detection": 0}
    draft = draft_for(weak, profile, plan=EMPTY_PLAN)
    gaps = {n.question_id for n in draft.notes if n.kind == "below_threshold"}
    assert {"hrdd.act.grooming_detection", "hrdd.act.live_stream_detection"} <= gaps
    text = one_line(render(draft))
    for qid in ("hrdd.act.grooming_detection", "hrdd.act.live_stream_detection"):
        assert not [s for s in statements_of(qid) if s in text]


# -- commitments ------------------------------------------------------------------------------


def test_next_steps_are_only_items_marked_public():
    values = {**STRONG, "hrdd.act.grooming_detection": 1, "sbd.p2.report_feedback": "no", "hrdd.engage.children": 0}
    draft = draft_for(values)
    assert len(draft.plan_items) >= 3
    text = render(draft)
    assert "Challenges and next steps" not in text
    assert not re.search(r"\b(we plan|we will|committed|next, we)\b", text, re.I)
    chosen = draft.plan_items[1]
    marked = draft_for(values, tracking={chosen.id: {"public_commitment": True, "status": "todo"}})
    challenges = section(render(marked), "Challenges and next steps")
    assert chosen.title in one_line(challenges)
    for item in draft.plan_items:
        if item.id != chosen.id:
            assert f"- {item.title}" not in challenges


# -- metric checks ----------------------------------------------------------------------------


def outcome_values(**figures) -> dict:
    values = dict(STRONG)
    for qid, value in figures.items():
        values[f"trust.outcomes.{qid}"] = AnswerData(value=value, meta=PERIOD)
    return values


def test_restored_after_appeal_cannot_exceed_appeals():
    values = outcome_values(appeals_received=348, reinstated=1480)
    issues = check_metrics(BANK, answers_of(values), CHECKS)
    assert [(i.check_id, i.question_ids) for i in issues] == [
        ("restored_within_appealed", ("trust.outcomes.reinstated", "trust.outcomes.appeals_received"))
    ]
    draft = draft_for(values, plan=EMPTY_PLAN)
    (note,) = [n for n in draft.notes if n.kind == "inconsistent"]
    assert note.question_id == "trust.outcomes.reinstated"
    assert [f[1] for f in note.figures] == ["1,480 items or accounts", "348 appeals"]
    text = render(draft)
    outcomes = section(text, "Outcomes")
    assert "1,480" not in text and "348" not in text  # neither figure is published as fact
    assert BANK.questions["trust.outcomes.reinstated"].text.get() not in outcomes
    assert BANK.questions["trust.outcomes.content_actioned"].text.get() in outcomes  # the rest stands
    # Consistent figures are published.
    fine = draft_for(outcome_values(appeals_received=348, reinstated=120), plan=EMPTY_PLAN)
    assert fine.inconsistencies == () and "| 348 appeals |" in render(fine)


@pytest.mark.parametrize(
    ("figures", "check", "flagged"),
    [
        ({"proactive_rate": 112.5}, "shares_are_percentages", ("trust.outcomes.proactive_rate",)),
        ({"le_requests_answered": -4}, "shares_are_percentages", ("trust.outcomes.le_requests_answered",)),
        ({"accounts_actioned": -1}, "counts_are_not_negative", ("trust.outcomes.accounts_actioned",)),
        (
            {"reports_ncmec": 10, "reports_national": 5, "reports_grooming": 16},
            "grooming_within_reports",
            ("trust.outcomes.reports_grooming", "trust.outcomes.reports_ncmec", "trust.outcomes.reports_national"),
        ),
    ],
)
def test_each_declared_check(figures, check, flagged):
    issues = check_metrics(BANK, answers_of(outcome_values(**figures)), CHECKS)
    assert [(i.check_id, i.question_ids) for i in issues] == [(check, flagged)]


def test_periods_must_agree():
    values = dict(STRONG)
    values["trust.outcomes.user_reports"] = AnswerData(
        value=10, meta={**PERIOD, "period_start": "2024-01-01", "period_end": "2024-12-31"}
    )
    issues = check_metrics(BANK, answers_of(values), CHECKS)
    assert [(i.check_id, i.question_ids) for i in issues] == [
        ("one_reporting_period", ("trust.outcomes.user_reports",))
    ]
    assert issues[0].periods == (("trust.outcomes.user_reports", "2024-01-01", "2024-12-31"),)
    # A pair over different periods is not compared (the period check says why).
    values = outcome_values(appeals_received=348)
    values["trust.outcomes.reinstated"] = AnswerData(
        value=1480, meta={**PERIOD, "period_start": "2024-01-01", "period_end": "2024-12-31"}
    )
    assert [i.check_id for i in check_metrics(BANK, answers_of(values), CHECKS)] == ["one_reporting_period"]


# -- the pages --------------------------------------------------------------------------------


@pytest.fixture
def real_company(real_app):
    """A company (the factories' medium-sized profile) with a few gaps, whose Outcomes say
    1,480 items were restored after 348 appeals."""
    with db.standalone_session(real_app.extensions["dd_engine"]) as session:
        make = factories.Factory(session, real_app.extensions["dd_content"])
        org = make.organisation(name="Lumen Social")
        admin = make.user(org)
        values = {
            **outcome_values(appeals_received=348, reinstated=1480),
            "hrdd.act.grooming_detection": 1,
            "sbd.p2.report_feedback": "no",
        }
        assessment = make.assessment(org, admin)
        applicable = BANK.applicability(profile_of(org), answers_of(values))
        make.answer(assessment, admin, {k: v for k, v in values.items() if applicable.get(k)})
        yield assessment.id, admin.email


def test_outcomes_section_and_draft_page_flag_the_inconsistency(real_client, real_company):
    assessment_id, email = real_company
    AuthActions(real_client).login(email)
    page = real_client.get(f"/assessments/{assessment_id}/sections/trust.outcomes").get_data(as_text=True)
    flagged = page.split('id="metric-issues"', 1)[1].split("</div>", 1)[0]
    assert "More items or accounts were restored after appeal than appeals were received" in flagged
    assert "1,480 items or accounts" in flagged and "348 appeals" in flagged
    # No flag on a section without metrics.
    other = real_client.get(f"/assessments/{assessment_id}/sections/trust.processes").get_data(as_text=True)
    assert 'id="metric-issues"' not in other
    # The draft page lists it for the team; the public exports do not contain it.
    draft_page = real_client.get(f"/assessments/{assessment_id}/transparency").get_data(as_text=True)
    notes = draft_page.split('id="team-notes"', 1)[1].split("</section>", 1)[0]
    assert "More items or accounts were restored after appeal" in notes and "1,480" in notes
    markdown = real_client.get(f"/assessments/{assessment_id}/transparency.md").get_data(as_text=True)
    assert "1,480" not in markdown and "restored after appeal" not in markdown
    assert "For your team" not in markdown


def test_marking_a_commitment_on_the_draft_page(real_client, real_company):
    assessment_id, email = real_company
    AuthActions(real_client).login(email)
    url = f"/assessments/{assessment_id}/transparency"
    page = real_client.get(url).get_data(as_text=True)
    item_ids = re.findall(r'name="public" value="([^"]+)"', page)
    assert item_ids and "## Challenges and next steps" not in page
    response = Forms(real_client).post(f"{url}/commitments", {"public": [item_ids[0]]}, page=url)
    assert response.status_code == 302
    markdown = real_client.get(f"{url}.md").get_data(as_text=True)
    assert "## Challenges and next steps" in markdown
    page = real_client.get(url).get_data(as_text=True)
    assert f'name="public" value="{item_ids[0]}" id="public-1" checked' in page
    Forms(real_client).post(f"{url}/commitments", {}, page=url)
    assert "## Challenges and next steps" not in real_client.get(f"{url}.md").get_data(as_text=True)


# -- statements for the questions added in 2027.1 ---------------------------------------------

# Questions that bear on TRUST policies or processes, or on RPA 7.2-7.4, added in 2027.1.
NEW_PUBLIC_QUESTIONS = (
    "hrdd.act.suspicious_activity_reporting",
    "hrdd.act.survivor_centred_removal",
    "hrdd.act.deterrence_messaging",
    "hrdd.assess.proportionality",
    "hrdd.act.child_creators",
    "sbd.p2.sextortion_prevention",
    "sbd.p2.group_chat_safeguards",
    "sbd.p2.voice_chat_safeguards",
    "sbd.p2.comment_safeguards",
    "sbd.p2.disappearing_messages",
    "sbd.p2.public_profile_exposure",
    "sbd.p1.encryption_safeguards",
    "sbd.p1.anonymous_accounts",
    "sbd.p1.generative_ai",
    "services.network.url_blocklist",
    "services.network.notice_takedown",
    "services.device.nudity_protection",
    "services.device.detection_privacy",
    "services.value.payee_due_diligence",
    "services.ai.chatbot_design",
    "services.ai.downstream_use",
    "services.education.adult_contact",
    "services.marketplace.young_users",
)
PUBLIC_REFS = ("TRUST:policies", "TRUST:processes", "RPA:7.2.1", "RPA:7.3.1", "RPA:7.4.1")


def publishable_values(question) -> list[str]:
    if question.type is AnswerType.MATURITY:
        return [str(level) for level in range(len(question.levels)) if level >= STATEMENTS.maturity_threshold]
    if question.type is AnswerType.YES_PARTIAL_NO:
        return list(STATEMENTS.yes_partial_no)
    return [o.value for o in question.options if STATEMENTS.publishable(question, o.value)]


def test_every_public_facing_question_has_a_statement_for_each_publishable_answer():
    """The new questions, and every question referenced to TRUST policies or processes or to an
    RPA 7.2-7.4 indicator, have a statement for each answer at or above the threshold."""
    wanted = set(NEW_PUBLIC_QUESTIONS) | {
        q.id
        for q in BANK.questions.values()
        if not q.metric and q.type is not AnswerType.TEXT and set(q.refs) & set(PUBLIC_REFS)
    }
    for qid in sorted(wanted):
        question = BANK.questions[qid]
        entry = STATEMENTS.statements.get(qid)
        assert entry is not None, qid
        assert set(publishable_values(question)) <= set(entry.texts), qid


def test_no_qualifying_alerts_is_a_public_statement_not_a_gap():
    qid = "hrdd.act.suspicious_transactions_use"
    question = BANK.questions[qid]
    assert STATEMENTS.publishable(question, "no_alerts")
    draft = draft_for({**STRONG, qid: "no_alerts"}, plan=EMPTY_PLAN)
    payments = [s.text for s in draft.processes.statements if s.question_id == qid]
    assert payments == [STATEMENTS.text_for(qid, "no_alerts")]
    assert qid not in {n.question_id for n in draft.notes if n.kind == "below_threshold"}
    weak = draft_for({**STRONG, qid: "partial"}, plan=EMPTY_PLAN)
    assert (qid, "below_threshold") in {(n.question_id, n.kind) for n in weak.notes}


def test_new_topics_appear_under_their_parts():
    draft = draft_for(STRONG, plan=EMPTY_PLAN)
    text = render(draft)
    policies = section(text, "Policies and Practices")
    processes = section(text, "Processes and Systems")
    assert "### Weighing safety and privacy" in policies
    assert one_line(STATEMENTS.text_for("hrdd.assess.proportionality", 4)) in one_line(policies)
    assert "### Deterring searches for abuse material" in processes
    assert one_line(STATEMENTS.text_for("hrdd.act.deterrence_messaging", 4)) in one_line(processes)
    assert "### Children who earn from content" in processes
    assert one_line(STATEMENTS.text_for("hrdd.act.child_creators", 4)) in one_line(processes)


# -- actioned <= received ---------------------------------------------------------------------


def test_the_pair_of_user_report_metrics_follows_the_metric_schema():
    received = BANK.questions["trust.outcomes.user_reports"]
    actioned = BANK.questions["trust.outcomes.user_reports_actioned"]
    for question in (received, actioned):
        assert question.metric and question.type is AnswerType.NUMBER and question.unit.get() == "reports"
        assert question.id in STATEMENTS.metric_labels or question.text.get()
    assert STATEMENTS.metric_label(actioned) != actioned.text.get()  # a public name of its own
    (check,) = [c for c in CHECKS if c.id == "actioned_within_received"]
    assert (check.kind, check.metrics, check.limit) == ("at_most", (actioned.id,), (received.id,))


def test_actioned_reports_cannot_exceed_reports_received():
    values = outcome_values(user_reports=40, user_reports_actioned=55)
    issues = check_metrics(BANK, answers_of(values), CHECKS)
    assert [(i.check_id, i.question_ids) for i in issues] == [
        ("actioned_within_received", ("trust.outcomes.user_reports_actioned", "trust.outcomes.user_reports"))
    ]
    draft = draft_for(values, plan=EMPTY_PLAN)
    (note,) = [n for n in draft.notes if n.kind == "inconsistent"]
    assert note.question_id == "trust.outcomes.user_reports_actioned"
    assert [f[1] for f in note.figures] == ["55 reports", "40 reports"]
    published = {r.question_id for r in draft.published_metrics}
    assert not published & {"trust.outcomes.user_reports_actioned", "trust.outcomes.user_reports"}
    assert "| 55 reports |" not in render(draft)
    # Consistent figures are published, under their public names.
    fine = draft_for(outcome_values(user_reports=40, user_reports_actioned=31), plan=EMPTY_PLAN)
    assert fine.inconsistencies == ()
    outcomes = section(render(fine), "Outcomes")
    label = STATEMENTS.metric_label(BANK.questions["trust.outcomes.user_reports_actioned"])
    assert label in outcomes and "| 31 reports |" in outcomes
    # A negative count is flagged too.
    negative = check_metrics(BANK, answers_of(outcome_values(user_reports_actioned=-1)), CHECKS)
    assert [i.check_id for i in negative] == ["counts_are_not_negative"]


# -- dd-toolkit validate-content --------------------------------------------------------------


def copy_content(target, reports=True):
    for folder in ("questionnaires", "scoring") + (("reports",) if reports else ()):
        shutil.copytree(REPO_ROOT / folder, target / folder)
    return target


def test_validate_content_checks_the_bundled_statements_and_metric_checks():
    result = CliRunner().invoke(cli, ["validate-content"])
    assert result.exit_code == 0, result.output
    assert f"transparency statements: {len(STATEMENTS.statements)} questions" in result.output
    assert f"metric checks: {len(CHECKS)} checks" in result.output


def test_validate_content_refuses_a_bad_statement_or_check_in_a_custom_folder(tmp_path):
    root = copy_content(tmp_path / "content")
    statements = root / "reports" / "transparency_statements.yaml"
    text = statements.read_text(encoding="utf-8")
    anchor = "  hrdd.act.csam_reporting:\n    topic: removal\n"
    assert anchor in text
    statements.write_text(text.replace(anchor, anchor + "    2: We report some cases.\n"), encoding="utf-8")
    checks = root / "reports" / "metric_checks.yaml"
    checks.write_text(
        checks.read_text(encoding="utf-8").replace(
            "\nchecks:\n",
            "\nchecks:\n"
            "  - {id: bogus, kind: at_most, metric: hrdd.act.csam_reporting, limit: trust.outcomes.reinstated}\n",
            1,
        ),
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli, ["--content", str(root), "validate-content"])
    assert result.exit_code == 1
    assert (
        "error: reports/transparency_statements.yaml: hrdd.act.csam_reporting: '2' is below the publish "
        "threshold and cannot have a public statement"
    ) in result.output
    assert "error: reports/metric_checks.yaml: check bogus: hrdd.act.csam_reporting is not a metric question" in (
        result.output
    )
    assert "2 problem(s)" in result.output


def test_validate_content_says_when_the_bundled_statements_are_used(tmp_path):
    root = copy_content(tmp_path / "content", reports=False)
    result = CliRunner().invoke(cli, ["--content", str(root), "validate-content"])
    assert result.exit_code == 0, result.output
    assert "has no transparency_statements.yaml; the bundled transparency statements are used" in result.output
    assert "has no metric_checks.yaml; the bundled metric checks are used" in result.output


# -- the action plan shows the public commitments ----------------------------------------------


def test_action_plan_page_marks_public_commitments(real_client, real_company):
    assessment_id, email = real_company
    AuthActions(real_client).login(email)
    url = f"/assessments/{assessment_id}/transparency"
    item_ids = re.findall(r'name="public" value="([^"]+)"', real_client.get(url).get_data(as_text=True))
    assert len(item_ids) >= 2
    plan_url = f"/assessments/{assessment_id}/action-plan"

    def articles(page: str) -> dict[str, str]:
        return {i: page.split(f'id="item-{i}"', 1)[1].split("</article>", 1)[0] for i in item_ids}

    page = real_client.get(plan_url).get_data(as_text=True)
    assert "0 actions are marked as public commitments." in page
    assert not [i for i, body in articles(page).items() if "public-commitment" in body]
    Forms(real_client).post(f"{url}/commitments", {"public": [item_ids[1]]}, page=url)
    page = real_client.get(plan_url).get_data(as_text=True)
    assert "1 action is marked as a public commitment." in page
    marked = [i for i, body in articles(page).items() if '<span class="tag public-commitment">' in body]
    assert marked == [item_ids[1]]


def test_the_demo_companies_figures_pass_every_metric_check():
    """Demo data is what a new user meets first: its outcome figures must not be flagged."""
    from dd_toolkit.records.demo import COMPANIES, demo_answers

    for company in COMPANIES:
        profile = Profile(
            service_types=company.service_types,
            features=company.features,
            countries=company.countries,
            size_band=company.size_band,
            under18_users="yes",
        )
        answers = demo_answers(BANK, profile, company, 2025)
        assert check_metrics(BANK, answers, CHECKS) == (), company.name

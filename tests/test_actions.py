"""The action plan against priorities worked out by hand from
tests/fixtures/content/scoring/mini.yaml (methodology standard@test.1).

Action rules there: harm severity live_streaming_abuse 3 (and others); gap points major 3,
moderate 2, minor 1; critical +3; a question an applicable RPA indicator rests on +2;
priorities P1 from 8 (30 days), P2 from 5 (90), P3 from 3 (180), P4 from 0 (365); group
``policy`` = mini.policy.exists + mini.policy.scope. Gap limits: major < 40, moderate < 75,
minor < 100 points.
"""

import csv
import io
import json
from collections import Counter

import pytest

from dd_toolkit.engine.actions import ActionPlan, StepGroup, answer_steps, build_action_plan, carry_forward, short_title
from dd_toolkit.engine.content import AnswerData, Profile, Question, load_bank
from dd_toolkit.engine.render import markdown_html
from dd_toolkit.engine.reports import CSV_COLUMNS, action_plan_csv, render_action_plan_markdown, report_environment
from dd_toolkit.engine.scoring import load_methodologies, score

from .conftest import FIXTURE_CONTENT, REPO_ROOT

BANK = load_bank(FIXTURE_CONTENT)
METHOD = load_methodologies(FIXTURE_CONTENT, BANK)["standard@test.1"]
PROFILE = Profile(service_types=("social_network", "payments"), features=("live_streaming",), under18_users="yes")
# owner level 1 = 25 points (major, critical); exists partly = 50 (moderate, RPA 7.4.1);
# scope online only = 50 (moderate, RPA 7.4.1); live on report = 40 (moderate, live-stream
# abuse); payments no = 0 (major, RPA 7.3.1 applies to payment services).
ANSWERS = {
    "mini.policy.owner": 1,
    "mini.policy.exists": "partial",
    "mini.policy.scope": ["online"],
    "mini.ops.live": "reactive",
    "mini.ops.payments": "no",
    "mini.ops.reports": 1250,
}


def answers_of(values: dict) -> dict[str, AnswerData]:
    return {q: v if isinstance(v, AnswerData) else AnswerData(value=v) for q, v in values.items()}


def plan_for(values: dict = ANSWERS, profile: Profile = PROFILE, method=METHOD):
    answers = answers_of(values)
    card = score(BANK, method, profile, answers)
    return build_action_plan(BANK, method, profile, answers, card), card


def gaps_in(card) -> set[str]:
    return {q.question_id for q in card.questions if q.status == "scored" and q.gap}


# -- gaps to items ----------------------------------------------------------------------------


def test_every_gap_becomes_exactly_one_item_link():
    plan, card = plan_for()
    linked = [qid for item in plan.items for qid in item.question_ids]
    assert sorted(linked) == sorted(gaps_in(card))
    assert len(linked) == len(set(linked)) == 5
    assert plan.gap_count == 5


def test_priority_points_by_hand():
    plan, _ = plan_for()
    owner = plan.item("mini.policy.owner")
    # No harm (0) + major gap (3) + critical (3); no indicator rests on it: 6 -> P2, 90 days.
    assert owner.points == 6 and owner.priority == "P2" and owner.horizon_days == 90
    live = plan.item("mini.ops.live")
    # Live-stream abuse (3) + moderate gap (2) = 5 -> P2.
    assert live.points == 5 and live.priority == "P2"
    payments = plan.item("mini.ops.payments")
    # No harm + major gap (3) + RPA 7.3.1 rests on it (2) = 5 -> P2.
    assert payments.points == 5 and payments.priority == "P2"
    (link,) = payments.gaps[0].indicators
    assert (link.indicator_id, link.component_id) == ("RPA:7.3.1", "mechanism")


def test_indicator_points_only_when_the_indicator_applies():
    # Payments as a product feature: the question applies, but RPA 7.3.1 (payment services)
    # does not, so no indicator points: major gap 3 -> P3.
    feature_only = Profile(
        service_types=("social_network",), features=("live_streaming", "payments"), under18_users="yes"
    )
    plan, _ = plan_for(profile=feature_only)
    payments = plan.item("mini.ops.payments")
    assert payments.points == 3 and payments.priority == "P3" and payments.horizon_days == 180
    assert payments.gaps[0].indicators == ()


def with_p1_from(points: float):
    """The fixture methodology with P1 starting at ``points`` (P2 halfway down to P3)."""
    rules = METHOD.actions.model_dump(by_alias=True)
    rules["priorities"] = [
        {"id": "P1", "label": "Act now", "from": points, "horizon_days": 30},
        {"id": "P2", "label": "Next quarter", "from": (points + 3) / 2, "horizon_days": 90},
        {"id": "P3", "label": "Within six months", "from": 3, "horizon_days": 180},
        {"id": "P4", "label": "Within the year", "from": 0, "horizon_days": 365},
    ]
    actions = type(METHOD.actions).model_validate(rules)
    return METHOD.model_copy(update={"actions": actions, "version": f"p1-{points}"})


def test_a_first_priority_gap_keeps_its_references():
    # The same answers under rules where 6 points is already P1 (and 4.5 is P2).
    plan, _ = plan_for(method=with_p1_from(6))
    assert [i.id for i in plan.by_priority("P1")] == ["mini.policy.owner"]
    gap = plan.item("mini.policy.owner").gaps[0]
    assert gap.refs == ("HRDD:1",) and gap.ref_labels == ("HRDD step 1 - policy commitment",)
    assert plan.counts == {"P1": 1, "P2": 2, "P3": 1, "P4": 0}


def test_gap_links_trace_back_to_the_question():
    plan, _ = plan_for()
    gap = plan.item("mini.policy.owner").gaps[0]
    assert gap.question_text == "Who owns child safety?"
    assert (gap.section_id, gap.section_title, gap.module_id) == ("mini.policy", "Policy", "mini")
    assert gap.current_answer == "Level 1: Someone handles it informally."
    assert gap.current_points == 25
    assert gap.target == "100 points: Level 4: The board reviews it every quarter with metrics."
    assert gap.gap == "major" and gap.critical
    assert plan.item("mini.ops.live").gaps[0].target == "100 points: Proactive detection"
    assert plan.item("mini.ops.live").gaps[0].harms == ("live_streaming_abuse",)
    assert plan.item("mini.ops.payments").gaps[0].target == "100 points: Yes"
    scope = plan.item("policy").gaps[1]
    assert scope.target == "100 points: Online protection; Staff conduct"
    assert scope.current_answer == "Online protection"


def test_merging_a_group_keeps_every_gap_link():
    plan, _ = plan_for()
    policy = plan.item("policy")
    assert policy.merged
    assert policy.title == "Adopt a safeguarding policy that covers online protection"
    assert policy.question_ids == ("mini.policy.exists", "mini.policy.scope")
    # Each gap: moderate (2) + RPA 7.4.1 (2) = 4; the item takes the highest: P3.
    assert [g.points for g in policy.gaps] == [4, 4]
    assert policy.points == 4 and policy.priority == "P3"
    # Steps follow the answers: the policy exists partly, and the scope lacks staff conduct.
    assert policy.steps == (
        StepGroup("mini.policy.exists", ("Complete the policy.",)),
        StepGroup("mini.policy.scope", ("Extend the policy to staff conduct.",)),
    )
    assert plan.item("mini.policy.exists") is None and plan.item("mini.policy.scope") is None


def test_a_group_with_one_gap_is_still_the_group_item():
    plan, _ = plan_for({**ANSWERS, "mini.policy.exists": "yes"})
    policy = plan.item("policy")
    assert policy.question_ids == ("mini.policy.scope",)


def test_order_is_priority_then_points_then_bank_order():
    plan, _ = plan_for()
    # P2: owner (6), then live and payments (5 each, live first in the bank); P3: policy.
    assert [i.id for i in plan.items] == ["mini.policy.owner", "mini.ops.live", "mini.ops.payments", "policy"]
    assert plan.counts == {"P1": 0, "P2": 3, "P3": 1, "P4": 0}


def test_single_item_title_is_its_first_step():
    plan, _ = plan_for()
    # Owner at level 1: the first step is the one that lifts level 1 to 2.
    assert plan.item("mini.policy.owner").title == "Write down the owner's remit."
    long_step = "Do the first thing now. " + "Then do many more things in a long sentence " * 5
    assert short_title(long_step) == "Do the first thing now."
    assert short_title("Short step.") == "Short step."


@pytest.mark.parametrize(
    ("owner_level", "expected"),
    [
        (0, ("Name an owner.", "Write down the owner's remit.", "Have the owner report to the board every year.")),
        (2, ("Have the owner report to the board every year.",)),
        (3, ()),
    ],
)
def test_maturity_steps_run_from_the_current_level_to_the_target(owner_level, expected):
    # The fixture methodology has no targets: every question aims at level 4, as in 2026.1.
    plan, _ = plan_for({**ANSWERS, "mini.policy.owner": owner_level})
    steps = plan.item("mini.policy.owner").all_steps
    assert steps[: len(expected)] == expected
    assert steps[-1] == "Have the board review child safety every quarter with metrics."
    # Nothing below the current level: a step never asks for what the answer says is done.
    assert "Name an owner." not in steps or owner_level == 0


def test_yes_partial_no_and_choice_steps_follow_the_answer():
    partly = plan_for({**ANSWERS, "mini.ops.payments": "partial"})[0].item("mini.ops.payments")
    assert partly.all_steps == ("Report every suspicious transaction within the required time.",)
    nothing = plan_for({**ANSWERS, "mini.ops.payments": "no"})[0].item("mini.ops.payments")
    assert nothing.all_steps == ("Set up suspicious transaction reporting.",)
    none = plan_for({**ANSWERS, "mini.ops.live": "none"})[0].item("mini.ops.live")
    assert none.all_steps == ("Act on viewers' reports while the stream is live.", "Add live-stream detection.")
    reactive = plan_for()[0].item("mini.ops.live")  # reports already acted on: only detection is left
    assert reactive.all_steps == ("Add live-stream detection.",)


def test_multi_steps_are_those_of_the_options_not_ticked():
    question = BANK.questions["mini.policy.scope"]
    assert answer_steps(question, ["online"]) == ("Extend the policy to staff conduct.",)
    assert answer_steps(question, ["staff"]) == ("Extend the policy to online protection.",)
    assert answer_steps(question, []) == (
        "Extend the policy to online protection.",
        "Extend the policy to staff conduct.",
    )


def test_steps_are_deduplicated():
    question = Question.model_validate(
        {
            "id": "x.dup",
            "type": "yes_partial_no",
            "text": "T",
            "guidance": "G",
            "partial_means": "Half done.",
            "actions": {"no": ["Polish it.", "Polish it.", "Ship it."], "partial": ["Ship it."]},
        }
    )
    assert answer_steps(question, "no") == ("Polish it.", "Ship it.")
    assert answer_steps(question, "yes") == ()


def test_unanswered_questions_are_not_gaps():
    plan, card = plan_for({"mini.policy.owner": 1})
    assert card.question("mini.ops.payments").status == "unanswered"
    assert plan.gap_question_ids == ("mini.policy.owner",)
    # Not even under a methodology that scores unanswered questions as zero.
    zero = METHOD.model_copy(update={"unanswered": "zero"})
    plan, card = plan_for({"mini.policy.owner": 1}, method=zero)
    assert card.question("mini.ops.payments").gap == "major"
    assert plan.gap_question_ids == ("mini.policy.owner",)


def test_no_gaps_no_items():
    perfect = {
        "mini.policy.owner": 4,
        "mini.policy.exists": "yes",
        "mini.policy.scope": ["online", "staff"],
        "mini.ops.live": "proactive",
        "mini.ops.payments": "yes",
    }
    plan, _ = plan_for(perfect)
    assert plan.items == () and plan.counts == {"P1": 0, "P2": 0, "P3": 0, "P4": 0}


def test_plan_is_plain_data():
    plan, _ = plan_for()
    data = json.loads(json.dumps(plan.to_dict()))
    policy = next(i for i in data["items"] if i["id"] == "policy")
    assert policy["question_ids"] == ["mini.policy.exists", "mini.policy.scope"]
    assert policy["refs"] == ["RPA:7.4.1"]
    assert data["methodology"] == "standard@test.1"


# -- functions (real bank: the fixture has none) -------------------------------------------------

REAL_BANK = load_bank(REPO_ROOT)
REAL_METHODS = load_methodologies(REPO_ROOT, REAL_BANK)
REAL_METHOD = max(REAL_METHODS.values(), key=lambda m: m.version)
LARGE = Profile(
    service_types=("social_network",),
    features=("user_uploads", "direct_messaging"),
    countries=("ID", "MY"),
    size_band="large",
    under18_users="yes",
    hq_country="SG",
)


def real_plan(values: dict, profile: Profile = LARGE) -> tuple[ActionPlan, object, dict]:
    answers = answers_of(values)
    card = score(REAL_BANK, REAL_METHOD, profile, answers)
    return build_action_plan(REAL_BANK, REAL_METHOD, profile, answers, card), card, answers


def test_merged_item_takes_the_most_common_function_ties_to_bank_order():
    best = {
        "hrdd.comm.transparency_report": "trust_aligned",
        "hrdd.comm.public_policy": "yes",
        "trust.policies.csea_definitions": "no",  # trust_safety
        "trust.policies.governance": "no",  # communications
    }
    plan, _, _ = real_plan(best)
    item = plan.item("transparency_reporting")
    assert item.question_ids == ("trust.policies.csea_definitions", "trust.policies.governance")
    assert item.function == "trust_safety"  # one each: the first in bank order
    assert item.function_label == "Trust and safety"
    plan, _, _ = real_plan({**best, "hrdd.comm.public_policy": "no"})
    item = plan.item("transparency_reporting")
    assert item.function == "communications"  # two of three


def realistic_answers(profile: Profile) -> dict:
    """Answer every applicable question, with a spread of maturity, the way a company might."""
    values: dict = {}
    for _ in range(4):  # conditions on earlier answers open more questions
        applicable = REAL_BANK.applicability(profile, answers_of(values))
        for position, (qid, applies) in enumerate(applicable.items()):
            question = REAL_BANK.questions[qid]
            if not applies or qid in values:
                continue
            kind = question.type.value
            if kind == "maturity":
                values[qid] = position % 5
            elif kind == "yes_partial_no":
                values[qid] = ("yes", "partial", "no")[position % 3]
            elif kind == "single":
                values[qid] = question.options[position % len(question.options)].value
            elif kind == "multi":
                values[qid] = [question.options[-1].value]
            elif kind == "number":
                values[qid] = AnswerData(
                    value=position * 37,
                    meta={
                        "period_start": "2025-01-01",
                        "period_end": "2025-12-31",
                        "methodology": "Counted once per item.",
                    },
                )
            elif kind == "text":
                values[qid] = "We describe this in our own words."
            elif kind == "date":
                values[qid] = "2025-06-30"
    return values


def test_realistic_assessment_on_the_real_bank():
    values = realistic_answers(LARGE)
    plan, card, _ = real_plan(values)
    linked = [qid for item in plan.items for qid in item.question_ids]
    assert sorted(linked) == sorted(gaps_in(card)) and len(linked) == len(set(linked))
    assert sum(plan.counts.values()) == len(plan.items) > 10
    assert plan.counts["P1"] >= 1
    rank = {p.id: n for n, p in enumerate(REAL_METHOD.actions.priorities)}
    keys = [(rank[i.priority], -i.points) for i in plan.items]
    assert keys == sorted(keys)
    rules = REAL_METHOD.actions
    for item in plan.items:
        assert item.points == max(g.points for g in item.gaps)
        # Points pick the priority unless an override of the methodology raised it.
        by_points = min((rules.priority_for(g.points).id for g in item.gaps), key=rank.get)
        assert item.priority == by_points or (item.raised_by and rank[item.priority] < rank[by_points])
        assert item.all_steps, item.id
        assert item.function  # every scored question in the real bank names a function
    groups = {g.id: g for g in REAL_METHOD.actions.groups}
    for item in plan.items:
        if item.merged:
            assert set(item.question_ids) <= set(groups[item.id].questions)
    markdown = render_action_plan_markdown(
        report_environment(REPO_ROOT), plan, organisation_name="Lumen Social", cycle=2026
    )
    for item in plan.by_priority("P1"):
        for gap in item.gaps:
            assert gap.refs == REAL_BANK.questions[gap.question_id].refs
            section = markdown.split(f"`{gap.question_id}`", 1)[1].split("\n- ", 1)[0]
            for ref in gap.refs:
                assert ref in section
    # Ids are stable: the same answers give the same items.
    again, _, _ = real_plan(values)
    assert [i.id for i in again.items] == [i.id for i in plan.items]


# -- carrying items forward ---------------------------------------------------------------------


def test_carry_forward_open_closed_and_new():
    before, _ = plan_for()
    previous = [
        {"id": i.id, "title": i.title, "status": status, "question_ids": list(i.question_ids)}
        for i, status in zip(before.items, ("in_progress", "done", "todo", "todo"), strict=True)
    ]
    # Next cycle: live streams are now proactively moderated (gap closed), the policy exists
    # in full (one of the group's two gaps closed, its scope gap remains), payments are still
    # "no" and the owner answer is unchanged.
    after, _ = plan_for({**ANSWERS, "mini.ops.live": "proactive", "mini.policy.exists": "yes"})
    result = carry_forward(previous, after)
    open_items = {c.id: c for c in result.open}
    assert set(open_items) == {"mini.policy.owner", "mini.ops.payments", "policy"}
    assert open_items["policy"].closed_question_ids == ("mini.policy.exists",)
    assert open_items["policy"].question_ids == ("mini.policy.scope",)
    assert open_items["mini.policy.owner"].previous_status == "in_progress"
    assert not open_items["mini.policy.owner"].reopened
    (closed,) = result.closed
    assert closed.id == "mini.ops.live" and closed.closed_question_ids == ("mini.ops.live",)
    assert closed.previous_status == "done" and closed.moved_to == ()
    assert result.new == ()

    # A gap on a question nobody tracked before is a new item; a "done" item whose gap is
    # still there is flagged.
    previous[0]["status"] = "done"
    worse, _ = plan_for({**ANSWERS, "mini.ops.live": "proactive", "mini.policy.exists": "yes"})
    result = carry_forward(previous[:1], worse)
    assert result.open[0].reopened
    assert set(result.new) == {"mini.ops.payments", "policy"}
    assert json.loads(json.dumps(result.to_dict()))["new"] == list(result.new)


def test_carry_forward_follows_gaps_that_moved_to_another_item():
    after, _ = plan_for()
    previous = [
        {"id": "old_group", "title": "Old", "status": "todo", "question_ids": ["mini.policy.exists", "mini.ops.live"]}
    ]
    (closed,) = carry_forward(previous, after).closed
    assert closed.closed_question_ids == ()
    assert closed.still_open_question_ids == ("mini.policy.exists", "mini.ops.live")
    assert closed.moved_to == ("policy", "mini.ops.live")


def test_carry_forward_rejects_an_unknown_status():
    after, _ = plan_for()
    with pytest.raises(ValueError, match="unknown status"):
        carry_forward([{"id": "policy", "status": "maybe", "question_ids": []}], after)


# -- the document and the CSV -------------------------------------------------------------------


def test_action_plan_markdown():
    plan, _ = plan_for()
    tracking = {
        "policy": {"owner": "Ana Reyes", "due": "2026-03-01", "status": "in_progress", "notes": "Draft with legal"}
    }
    text = render_action_plan_markdown(
        report_environment(FIXTURE_CONTENT), plan, organisation_name="Acme", cycle=2026, tracking=tracking
    )
    assert text.startswith("# Child-safety action plan: Acme")
    assert "- **P2 – Next quarter** (within 90 days): 3 actions" in text
    assert "- **P3 – Within six months** (within 180 days): 1 action" in text
    assert "## P1" not in text  # no empty priority sections
    p2, p3 = text.split("## P2 – Next quarter")[1].split("## P3 – Within six months")
    assert p2.index("### Write down the owner's remit.") < p2.index("### Add live-stream detection.")
    policy = p3.split("### Adopt a safeguarding policy that covers online protection")[1]
    assert "**Priority:** P3 (Within six months), within 180 days" in policy
    assert "**Owner:** Ana Reyes · **Due:** 1 March 2026 · **Status:** In progress" in policy
    assert "**Notes:** Draft with legal" in policy
    assert "`mini.policy.exists`" in policy and "`mini.policy.scope`" in policy
    assert "Now: Partly (50 points, moderate gap)" in policy
    assert "Target: 100 points: Yes" in policy
    assert "RPA:7.4.1 (RPA Indicator 7.4.1" in policy
    assert "    - [ ] Complete the policy." in policy and "    - [ ] Extend the policy to staff conduct." in policy
    # Items without tracking show no status line and no placeholders.
    assert "**Owner:**" not in p2 and "**Status:**" not in p2
    html = markdown_html(text)
    assert "<h3>Adopt a safeguarding policy that covers online protection</h3>" in html
    assert html.count("<h3>") == 4


def test_user_text_in_the_action_plan_stays_text():
    plan, _ = plan_for()
    script = "<script>alert(1)</script>"
    tracking = {"policy": {"owner": script, "due": script, "status": script, "notes": script}}
    text = render_action_plan_markdown(
        report_environment(FIXTURE_CONTENT), plan, organisation_name=script, cycle=script, tracking=tracking
    )
    html = markdown_html(text)
    assert "<script" not in html.lower()
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 6


def test_action_plan_csv():
    plan, _ = plan_for()
    tracking = {"policy": {"owner": "Ana", "due": "2026-03-01", "status": "todo", "notes": '=HYPERLINK("http://x")'}}
    rows = list(csv.DictReader(io.StringIO(action_plan_csv(plan, tracking))))
    assert (
        tuple(rows[0])
        == CSV_COLUMNS
        == (
            "id",
            "priority",
            "horizon_days",
            "title",
            "function",
            "question_ids",
            "refs",
            "owner",
            "due",
            "status",
            "notes",
        )
    )
    assert [r["id"] for r in rows] == [i.id for i in plan.items]
    policy = rows[-1]
    assert policy["priority"] == "P3" and policy["horizon_days"] == "180"
    assert policy["question_ids"] == "mini.policy.exists;mini.policy.scope"
    assert policy["refs"] == "RPA:7.4.1"
    assert (policy["owner"], policy["due"], policy["status"]) == ("Ana", "2026-03-01", "todo")
    assert policy["notes"].startswith("'=")  # a spreadsheet must not run it as a formula
    assert rows[0]["owner"] == "" and rows[0]["status"] == ""
    assert Counter(r["priority"] for r in rows) == {"P2": 3, "P3": 1}

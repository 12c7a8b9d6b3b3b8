"""The scoring engine against scores computed by hand from tests/fixtures/content/scoring/mini.yaml.

Fixture questions that are scored: owner (maturity, weight 2, critical), exists (yes/partial/no),
scope (multi: online 50 + staff 50) in section Policy (weight 1); live (single: none 0,
reactive 40, proactive 100) and payments (yes/partial/no) in section Operations (weight 2).
"""

import pytest

from dd_toolkit.engine.content import AnswerData, Profile, load_bank
from dd_toolkit.engine.scoring import load_methodologies, score
from dd_toolkit.engine.scoring.methodology import latest

from .conftest import FIXTURE_CONTENT

BANK = load_bank(FIXTURE_CONTENT)
METHODS = load_methodologies(FIXTURE_CONTENT, BANK)
METHOD = METHODS["standard@test.1"]
PROFILE = Profile(service_types=("social_network", "payments"), features=("live_streaming",), under18_users="yes")
COMPLETE = {
    "mini.policy.owner": 3,
    "mini.policy.exists": "yes",
    "mini.policy.scope": ["online", "staff"],
    "mini.ops.live": "reactive",
    "mini.ops.payments": "partial",
    "mini.ops.reports": 120,
}


def card_for(values: dict, profile: Profile = PROFILE, method=METHOD):
    answers = {qid: v if isinstance(v, AnswerData) else AnswerData(value=v) for qid, v in values.items()}
    return score(BANK, method, profile, answers)


def points(card, qid):
    return card.question(qid).points


@pytest.mark.parametrize(
    ("qid", "value", "expected"),
    [
        ("mini.policy.owner", 0, 0),
        ("mini.policy.owner", 1, 25),
        ("mini.policy.owner", 2, 50),
        ("mini.policy.owner", 3, 75),
        ("mini.policy.owner", 4, 100),
        ("mini.policy.exists", "yes", 100),
        ("mini.policy.exists", "partial", 50),
        ("mini.policy.exists", "no", 0),
        ("mini.ops.live", "none", 0),
        ("mini.ops.live", "reactive", 40),
        ("mini.ops.live", "proactive", 100),
        ("mini.policy.scope", ["online"], 50),
        ("mini.policy.scope", ["online", "staff"], 100),
    ],
)
def test_each_answer_type_normalises(qid, value, expected):
    answers = {"mini.policy.exists": "yes", qid: value}
    assert points(card_for(answers), qid) == expected


def test_unscored_types_carry_no_points():
    card = card_for(COMPLETE)
    assert card.question("mini.ops.reports") is None  # numbers, text and dates are not scored


def test_roll_up_by_hand():
    card = card_for(COMPLETE)
    policy = card.section("mini.policy")
    ops = card.section("mini.ops")
    # Policy: (75 x 2 + 100 x 1 + 100 x 1) / 4 = 87.5; Operations: (40 + 50) / 2 = 45.
    assert policy.score == pytest.approx(87.5)
    assert ops.score == pytest.approx(45.0)
    # Module: Policy weight 1, Operations weight 2 -> (87.5 + 2 x 45) / 3 = 59.1667.
    assert card.modules[0].score == pytest.approx(177.5 / 3)
    assert card.overall == pytest.approx(177.5 / 3)
    assert card.band == "developing"  # 59.17 is below the 60 of "established"
    assert policy.band == "leading" and ops.band == "developing"


def test_contributions_add_up_and_gains_rank():
    card = card_for(COMPLETE)
    assert sum(q.contribution for q in card.questions) == pytest.approx(card.overall)
    owner = card.question("mini.policy.owner")
    # Owner: weight 2 of 4 in Policy, Policy 1 of 3 in the module -> 1/6 of the overall score.
    assert owner.effective_weight == pytest.approx(1 / 6)
    assert owner.contribution == pytest.approx(75 / 6)
    assert owner.possible_gain == pytest.approx(25 / 6)
    # Live: weight 1 of 2 in Operations, Operations 2 of 3 -> 1/3; gain (100 - 40) / 3 = 20.
    assert [q.question_id for q in card.top_gains(2)] == ["mini.ops.live", "mini.ops.payments"]
    assert card.top_gains(1)[0].possible_gain == pytest.approx(20.0)


def test_not_applicable_is_left_out_not_zero():
    na = AnswerData(not_applicable=True, justification="We do not offer payments.")
    card = card_for({**COMPLETE, "mini.ops.payments": na})
    assert card.question("mini.ops.payments").status == "not_applicable"
    assert card.section("mini.ops").score == pytest.approx(40.0)
    assert card.section("mini.ops").excluded == 1


def test_questions_not_asked_are_left_out():
    gaming = Profile(service_types=("gaming",), under18_users="yes")
    card = card_for(COMPLETE, profile=gaming)
    assert card.question("mini.ops.payments").status == "not_asked"
    assert card.question("mini.ops.live").status == "not_asked"
    assert card.section("mini.ops").score is None
    # With Operations empty the module is Policy alone.
    assert card.overall == pytest.approx(87.5)


def test_unanswered_questions_are_listed_not_scored():
    card = card_for({"mini.policy.owner": 4})
    assert card.unanswered_questions == 3  # exists, live, payments (scope is not asked yet)
    assert card.overall == pytest.approx(100.0)
    assert card.question("mini.ops.live").status == "unanswered"


def test_weights_from_the_methodology_change_the_result():
    card = card_for(COMPLETE, method=METHODS["standard@test.2"])
    # test.2: partly = 40 and equal section weights -> Operations (40 + 40) / 2 = 40;
    # overall (87.5 + 40) / 2 = 63.75.
    assert card.section("mini.ops").score == pytest.approx(40.0)
    assert card.overall == pytest.approx(63.75)
    assert card.methodology == {"id": "standard", "version": "test.2"}


def test_critical_question_caps_its_section_band():
    card = card_for({**COMPLETE, "mini.policy.owner": 1})
    policy = card.section("mini.policy")
    # (25 x 2 + 100 + 100) / 4 = 62.5 would be "established", but the critical owner question
    # scores 25 (< 50), so the band is capped at "developing".
    assert policy.score == pytest.approx(62.5)
    assert policy.band_before_cap == "established"
    assert policy.band == "developing"
    assert policy.capped_by == ("mini.policy.owner",)
    assert card.question("mini.policy.owner").caps_section


def test_critical_question_at_threshold_does_not_cap():
    card = card_for({**COMPLETE, "mini.policy.owner": 2})
    policy = card.section("mini.policy")
    assert policy.score == pytest.approx(75.0)
    assert policy.band == "established" and policy.capped_by == ()


def test_lens_scores():
    card = card_for(COMPLETE)
    items = {item.ref: item for item in card.lenses[0].items}
    # RPA:7.4.1 is carried by exists (100) and scope (100); SbD:1 by live (40); HRDD:1 by owner (75).
    assert items["RPA:7.4.1"].score == pytest.approx(100.0) and items["RPA:7.4.1"].questions == 2
    assert items["SbD:1"].score == pytest.approx(40.0)
    assert items["HRDD:1"].score == pytest.approx(75.0)


@pytest.mark.parametrize(
    ("answers", "met"),
    [
        ({"mini.policy.exists": "yes", "mini.policy.scope": ["online"]}, True),
        ({"mini.policy.exists": "yes", "mini.policy.scope": ["staff"]}, False),
        ({"mini.policy.exists": "partial", "mini.policy.scope": ["online"]}, False),
        ({"mini.policy.exists": "no"}, False),
        ({}, False),
    ],
)
def test_indicator_7_4_1(answers, met):
    result = next(i for i in card_for(answers).indicators if i.id == "RPA:7.4.1")
    assert result.applies and result.met is met
    if not met:
        assert result.reason.startswith("Not met: ")


def test_indicator_reasons_name_the_answer():
    result = next(i for i in card_for(COMPLETE).indicators if i.id == "RPA:7.4.1")
    policy = result.components[0]
    assert policy.met
    assert policy.reason == 'Met: The answer to "Is there a child safeguarding policy?" is Yes (answered Yes)'
    missing = next(i for i in card_for({}).indicators if i.id == "RPA:7.4.1").components[0]
    assert missing.reason.endswith("(no answer)")


@pytest.mark.parametrize(
    ("profile", "answer", "applies", "met"),
    [
        (PROFILE, "yes", True, True),
        (PROFILE, "partial", True, False),
        (Profile(service_types=("gaming",), under18_users="yes"), "yes", False, None),
    ],
)
def test_indicator_7_3_1_applies_to_payment_services_only(profile, answer, applies, met):
    result = next(i for i in card_for({"mini.ops.payments": answer}, profile=profile).indicators if i.id == "RPA:7.3.1")
    assert (result.applies, result.met) == (applies, met)
    if not applies:
        assert result.reason.startswith("Does not apply to this organisation.")


def test_practices():
    assert card_for({"mini.ops.live": "proactive"}).practices == {"proactive_live": True}
    assert card_for({"mini.ops.live": "reactive"}).practices == {"proactive_live": False}


def test_latest_methodology_and_json_form():
    assert latest(METHODS).version == "test.2"
    data = card_for(COMPLETE).to_dict()
    assert data["overall"] == round(177.5 / 3, 4)
    assert data["methodology"] == {"id": "standard", "version": "test.1"}
    assert {q["question_id"] for q in data["questions"]} == {
        "mini.policy.owner",
        "mini.policy.exists",
        "mini.policy.scope",
        "mini.ops.live",
        "mini.ops.payments",
    }


def test_methodology_validation_names_problems(tmp_path):
    import shutil

    from dd_toolkit.engine.content import ContentError

    root = tmp_path / "content"
    shutil.copytree(FIXTURE_CONTENT, root)
    path = root / "scoring" / "mini.yaml"
    text = path.read_text()
    text = text.replace("sections: {mini.ops: 2}", "sections: {mini.nowhere: 2}")
    text = text.replace(
        "when: {answer: mini.ops.live, equals: proactive}", "when: {answer: mini.ops.live, equals: sometimes}"
    )
    text = text.replace('refs: ["RPA:7.4.1", "SbD:1", "HRDD:1"]', 'refs: ["RPA:9.9.9"]')
    path.write_text(text)
    with pytest.raises(ContentError) as info:
        load_methodologies(root, BANK)
    messages = [str(p) for p in info.value.problems]
    assert "scoring/mini.yaml: weights.sections: unknown section 'mini.nowhere'" in messages
    assert "scoring/mini.yaml: lens frameworks: unknown framework reference 'RPA:9.9.9'" in messages
    assert any("practice proactive_live: condition on 'mini.ops.live' uses value(s) sometimes" in m for m in messages)


def test_card_survives_json_round_trip():
    import json

    from dd_toolkit.engine.scoring import ScoreCard

    card = card_for({**COMPLETE, "mini.policy.owner": 1})
    again = ScoreCard.from_dict(json.loads(json.dumps(card.to_dict())))
    assert again.to_dict() == card.to_dict()
    assert again.section("mini.policy").capped_by == ("mini.policy.owner",)


@pytest.mark.parametrize(
    ("qid", "value"),
    [("mini.policy.owner", v) for v in range(5)]
    + [("mini.policy.exists", v) for v in ("yes", "partial", "no")]
    + [("mini.ops.live", v) for v in ("none", "reactive", "proactive")]
    + [("mini.policy.scope", v) for v in (["online"], ["staff"], ["online", "staff"])],
)
def test_planned_points_equal_answer_points(qid, value):
    from dd_toolkit.engine.scoring import answer_points
    from dd_toolkit.engine.scoring.engine import _points_function

    question = BANK.questions[qid]
    assert _points_function(question, METHOD)(value) == answer_points(question, value, METHOD)

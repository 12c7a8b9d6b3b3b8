"""Actions from the actual answer (issue 11, point 8) on the real bank and methodology 2027.1.

Each test here fails if its rule broke: steps chosen by the answer, targets per size band,
priorities by severity and residual gap, and overrides declared in the methodology.
"""

import shutil

import pytest
from pydantic import ValidationError

from dd_toolkit.engine.actions import ActionPlan, answer_steps, build_action_plan
from dd_toolkit.engine.content import AnswerData, AnswerType, ContentError, Profile, Question, load_bank
from dd_toolkit.engine.scoring import load_methodologies, score

from .conftest import FIXTURE_CONTENT, REPO_ROOT

BANK = load_bank(REPO_ROOT)
METHODS = load_methodologies(REPO_ROOT, BANK)
METHOD = METHODS["standard@2027.1"]
METHOD_2026 = METHODS["standard@2026.1"]


def profile(size_band: str = "large", **changes) -> Profile:
    fields = {
        "service_types": ("social_network",),
        "features": ("user_uploads", "direct_messaging", "live_streaming"),
        "countries": ("ID", "MY"),
        "size_band": size_band,
        "under18_users": "yes",
        "hq_country": "SG",
    }
    return Profile(**{**fields, **changes})


def plan_for(values: dict, who: Profile | None = None, method=METHOD) -> ActionPlan:
    who = who or profile()
    answers = {q: AnswerData(value=v) for q, v in values.items()}
    card = score(BANK, method, who, answers)
    return build_action_plan(BANK, method, who, answers, card)


def steps_of(plan: ActionPlan, question_id: str) -> tuple[str, ...]:
    for item in plan.items:
        for group in item.steps:
            if group.question_id == question_id:
                return group.steps
    return ()


def gap_of(plan: ActionPlan, question_id: str):
    return next(g for item in plan.items for g in item.gaps if g.question_id == question_id)


def item_of(plan: ActionPlan, question_id: str):
    return next(item for item in plan.items if question_id in item.question_ids)


# -- steps chosen by the answer -----------------------------------------------------------------


def test_two_companies_with_different_answers_to_the_same_gap_get_different_steps():
    none = steps_of(plan_for({"sbd.p2.age_assurance": "none"}), "sbd.p2.age_assurance")
    stated = steps_of(plan_for({"sbd.p2.age_assurance": "self_declared"}), "sbd.p2.age_assurance")
    assert none and stated and none != stated
    level1 = steps_of(plan_for({"hrdd.act.csam_reporting": 1}), "hrdd.act.csam_reporting")
    level2 = steps_of(plan_for({"hrdd.act.csam_reporting": 2}), "hrdd.act.csam_reporting")
    assert level1 != level2 and set(level2) < set(level1)  # level 1 has one more level to climb


def test_users_who_state_their_age_are_not_told_to_ask_for_date_of_birth():
    none = steps_of(plan_for({"sbd.p2.age_assurance": "none"}), "sbd.p2.age_assurance")
    assert any("date of birth" in step for step in none)
    for answer in ("self_declared", "declared_plus_signals"):
        steps = steps_of(plan_for({"sbd.p2.age_assurance": answer}), "sbd.p2.age_assurance")
        assert steps, answer
        assert not any("date of birth" in step.lower() for step in steps), answer


def test_a_policy_that_already_includes_partners_is_not_told_to_add_partners():
    scope = "hrdd.policy.policy_scope"
    answers = {"hrdd.policy.safeguarding_policy": "yes", scope: ["online_harms", "partners"]}
    steps = steps_of(plan_for(answers), scope)
    assert steps
    assert not any("partner" in step.lower() for step in steps)
    assert not any("risks children meet on and through your own products" in step for step in steps)
    without = steps_of(plan_for({**answers, scope: ["online_harms"]}), scope)
    assert any("partners and vendors" in step for step in without)


def test_no_step_repeats_a_lower_level_or_a_ticked_option():
    """Across the bank: a maturity answer gets no step written for a level below it, and a
    multiple-choice answer no step written for an option it ticked."""
    for question in BANK.questions.values():
        if not question.is_scored:
            continue
        if question.type is AnswerType.MATURITY:
            for level in range(5):
                steps = answer_steps(question, level)
                done = {s for lower in range(level) for s in question.actions.steps_for(str(lower))}
                own = {s for higher in range(level, 4) for s in question.actions.steps_for(str(higher))}
                assert not (set(steps) & (done - own)), (question.id, level)
            assert answer_steps(question, 4) == ()
        elif question.type is AnswerType.MULTI:
            for option in question.options:
                steps = answer_steps(question, [option.value])
                assert not set(question.actions.steps_if_missing(option.value)) & set(steps), question.id


def test_every_answer_short_of_the_best_has_its_own_steps():
    for question in BANK.questions.values():
        if not question.is_scored:
            continue
        if question.type is AnswerType.MATURITY:
            assert all(answer_steps(question, level, 4) for level in range(4)), question.id
        elif question.type is AnswerType.YES_PARTIAL_NO:
            assert answer_steps(question, "no") and answer_steps(question, "partial"), question.id
        elif question.type is AnswerType.SINGLE:
            best = max(o.points or 0 for o in question.options)
            for option in question.options:
                if option.points is not None and option.points < best:
                    assert answer_steps(question, option.value), (question.id, option.value)


# -- targets per size band ----------------------------------------------------------------------


def test_targets_come_from_the_methodology_per_size_band():
    assert METHOD.actions.targets == {"startup": 3, "medium": 3, "large": 4, "very_large": 4}
    answers = {"sbd.p1.escalation": 3, "sbd.p2.default_settings": 2}
    startup = plan_for(answers, profile("startup"))
    large = plan_for(answers, profile("large"))
    # Level 3 meets a start-up's target: no gap. A large company is asked for level 4.
    assert "sbd.p1.escalation" not in startup.gap_question_ids
    assert "sbd.p1.escalation" in large.gap_question_ids
    assert gap_of(large, "sbd.p1.escalation").target.startswith("100 points: Level 4:")
    # From level 2, the start-up's steps stop at level 3; the large company's go on to 4.
    question = BANK.questions["sbd.p2.default_settings"]
    small_steps = steps_of(startup, question.id)
    large_steps = steps_of(large, question.id)
    assert small_steps == question.actions.steps_for("2")
    assert large_steps == question.actions.steps_for("2") + question.actions.steps_for("3")
    assert gap_of(startup, question.id).target.startswith("75 points: Level 3:")
    assert (startup.target_level, large.target_level) == (3, 4)


def test_per_question_targets_override_the_band():
    startup = plan_for({"hrdd.engage.children": 2}, profile("startup"))
    assert "hrdd.engage.children" not in startup.gap_question_ids  # a start-up aims at level 2 here
    medium = plan_for({"hrdd.engage.children": 2}, profile("medium"))
    assert "hrdd.engage.children" in medium.gap_question_ids


def test_without_targets_every_band_aims_at_level_4_as_in_2026_1():
    assert METHOD_2026.actions.targets == {}
    startup = plan_for({"sbd.p1.escalation": 3}, profile("startup"), METHOD_2026)
    assert gap_of(startup, "sbd.p1.escalation").target.startswith("100 points: Level 4:")


# -- priorities ---------------------------------------------------------------------------------


def test_a_met_critical_question_with_a_small_gap_is_not_p1():
    plan = plan_for({"hrdd.act.csam_reporting": 3})
    gap = gap_of(plan, "hrdd.act.csam_reporting")
    assert gap.critical and gap.residual == 1
    assert all(link.met for link in gap.indicators)  # RPA 7.2.1 reporting holds at level 3
    assert item_of(plan, "hrdd.act.csam_reporting").priority not in ("P1", "P2")
    # The 2026.1 rules made the same answer "Act now": the fix is in the 2027.1 numbers.
    old = plan_for({"hrdd.act.csam_reporting": 3}, method=METHOD_2026)
    assert item_of(old, "hrdd.act.csam_reporting").priority == "P1"


def test_a_failing_critical_question_is_p1():
    for level in (0, 1, 2):
        plan = plan_for({"hrdd.act.csam_reporting": level})
        assert item_of(plan, "hrdd.act.csam_reporting").priority == "P1", level
    plan = plan_for({"hrdd.act.le_contact_point": 2})  # agencies only learn of it when they ask
    assert item_of(plan, "hrdd.act.le_contact_point").priority == "P1"


def test_no_way_to_stop_a_live_stream_is_p1():
    for level in (0, 1):
        plan = plan_for({"hrdd.act.live_stream_detection": level}, profile("startup"))
        item = item_of(plan, "hrdd.act.live_stream_detection")
        assert item.priority == "P1", level
        assert item.raised_by and "live stream" in item.raised_by[0]
    plan = plan_for({"hrdd.act.live_stream_detection": 2})  # a reviewer can end it live
    assert item_of(plan, "hrdd.act.live_stream_detection").priority != "P1"


def test_no_urgent_escalation_is_p1():
    for level in (0, 1):
        plan = plan_for({"sbd.p1.escalation": level}, profile("startup"))
        assert item_of(plan, "sbd.p1.escalation").priority == "P1", level
    plan = plan_for({"sbd.p1.escalation": 2})
    assert item_of(plan, "sbd.p1.escalation").priority != "P1"


def test_overrides_are_declared_in_the_methodology_not_in_python():
    without = METHOD.model_copy(
        update={"actions": METHOD.actions.model_copy(update={"overrides": ()}), "version": "no-overrides"}
    )
    plan = plan_for({"hrdd.act.live_stream_detection": 0}, method=without)
    item = item_of(plan, "hrdd.act.live_stream_detection")
    assert item.priority == "P2" and item.raised_by == ()  # harm 3 + four levels short 4 = 7
    questions = {o.question for o in METHOD.actions.overrides}
    assert {"hrdd.act.live_stream_detection", "sbd.p1.escalation"} <= questions


def test_child_friendly_report_feedback_is_not_p4():
    base = {"sbd.p2.in_service_reporting": 4}
    for answer in ("no", "partial"):
        plan = plan_for({**base, "sbd.p2.report_feedback": answer})
        assert item_of(plan, "sbd.p2.report_feedback").priority in ("P1", "P2", "P3"), answer
    plan = plan_for({**base, "sbd.p2.report_feedback": "no"})
    assert item_of(plan, "sbd.p2.report_feedback").priority in ("P1", "P2")


def test_priority_grows_with_the_residual_gap_and_the_harm():
    points = [
        gap_of(plan_for({"sbd.p2.default_settings": level}), "sbd.p2.default_settings").points for level in range(4)
    ]
    assert points == sorted(points, reverse=True) and points[0] > points[-1]
    # Same gap, different harm: sexual exploitation outranks a question with no harm named.
    severe = gap_of(plan_for({"hrdd.act.grooming_detection": 1}), "hrdd.act.grooming_detection")
    mild = gap_of(plan_for({"hrdd.track.kpis": 1}), "hrdd.track.kpis")
    assert severe.residual == mild.residual and severe.points > mild.points


# -- the old format ------------------------------------------------------------------------------


def test_the_loader_rejects_gap_keyed_actions():
    with pytest.raises(ValidationError, match="2026.1 format"):
        Question.model_validate(
            {
                "id": "x.old",
                "type": "maturity",
                "text": "T",
                "guidance": "G",
                "levels": ["a zero", "b one", "c two", "d three", "e four"],
                "actions": {"major": ["Do it."], "minor": ["Polish it."]},
            }
        )


def test_the_loader_names_the_question_with_old_actions(tmp_path):
    root = tmp_path / "content"
    shutil.copytree(FIXTURE_CONTENT, root)
    module = root / "questionnaires" / "mini.yaml"
    text = module.read_text(encoding="utf-8")
    new_block = '          "no": ["Adopt a policy."]\n          partial: ["Complete the policy."]\n'
    assert new_block in text
    module.write_text(text.replace(new_block, '          major: ["Adopt a policy."]\n'), encoding="utf-8")
    with pytest.raises(ContentError) as info:
        load_bank(root)
    (problem,) = [str(p) for p in info.value.problems]
    assert problem.startswith("questionnaires/mini.yaml: mini.policy.exists:") and "2026.1 format" in problem


def test_the_loader_rejects_steps_for_answers_that_do_not_exist_or_missing_steps():
    base = {"id": "x.q", "type": "yes_partial_no", "text": "T", "guidance": "G", "partial_means": "Half."}
    with pytest.raises(ValidationError, match="'yes'"):
        Question.model_validate({**base, "actions": {"no": ["A."], "partial": ["B."], "yes": ["C."]}})
    with pytest.raises(ValidationError, match="missing for the answer"):
        Question.model_validate({**base, "actions": {"no": ["A."]}})


def test_the_plan_document_says_why_a_priority_was_raised_and_what_the_target_is():
    from dd_toolkit.engine.reports import render_action_plan_markdown, report_environment

    plan = plan_for({"hrdd.act.live_stream_detection": 0, "sbd.p2.age_assurance": "self_declared"}, profile("startup"))
    text = render_action_plan_markdown(report_environment(REPO_ROOT), plan, organisation_name="X", cycle=2027)
    live = text.split("`hrdd.act.live_stream_detection`", 1)[1].split("**Steps:**", 1)[0]
    assert "    - Target: 75 points: Level 3:" in live
    assert "    - Priority raised to P1: Nobody can stop a live stream" in live
    assert "size (maturity level 3 unless a question says otherwise)" in text
    assert "date of birth" not in text

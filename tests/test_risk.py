"""The children's risk register in the engine (issue 14): the risk rule read from the
methodology, the grid pre-filled from the profile's features, the check of a filled cell, the
priority uplift of the action plan, the content checks of the new blocks, and the layering."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from dd_toolkit.cli import main as cli
from dd_toolkit.engine import risk
from dd_toolkit.engine.actions import build_action_plan
from dd_toolkit.engine.content import AnswerData, ContentError, Profile, load_bank
from dd_toolkit.engine.registry import load_content
from dd_toolkit.engine.scoring import load_methodologies, score

from .conftest import REPO_ROOT

BANK = load_bank(REPO_ROOT)
METHOD = load_methodologies(REPO_ROOT, BANK)["standard@2027.1"]
RULES = METHOD.risk
TAXONOMY = BANK.taxonomy

# The matrix of scoring/standard-2027.1.yaml, written out again: every cell is checked, so a
# change to the content's matrix has to be made here too, on purpose.
EXPECTED_MATRIX = {
    "rare": {"minor": "negligible", "moderate": "negligible", "serious": "low", "severe": "medium"},
    "unlikely": {"minor": "negligible", "moderate": "low", "serious": "medium", "severe": "high"},
    "possible": {"minor": "low", "moderate": "medium", "serious": "high", "severe": "high"},
    "likely": {"minor": "low", "moderate": "medium", "serious": "high", "severe": "high"},
}
CELLS = [(lk, im, level) for lk, row in EXPECTED_MATRIX.items() for im, level in row.items()]


# -- content -------------------------------------------------------------------------------------


def test_taxonomy_has_the_register_vocabulary():
    assert TAXONOMY.ids("age_groups") == ["age_0_5", "age_6_9", "age_10_12", "age_13_15", "age_16_17"]
    assert [(g.min_age, g.max_age) for g in TAXONOMY.age_groups] == [(0, 5), (6, 9), (10, 12), (13, 15), (16, 17)]
    harms = TAXONOMY.ids("harms")
    for harm in ("csam", "grooming", "live_streaming_abuse", "sextortion", "self_generated", "cyberbullying"):
        assert harm in harms
    for harm in ("self_harm", "eating_disorders", "pornography", "dangerous_challenges", "hate"):
        assert harm in harms
    for harm in ("persuasive_design", "loot_boxes", "data_exploitation"):
        assert harm in harms
    for entry in TAXONOMY.harms:
        assert entry.group in TAXONOMY.ids("harm_groups"), entry.id
        assert entry.description is not None and entry.description.get().endswith("."), entry.id
    factors = TAXONOMY.risk_factors
    for feature in ("live_streaming", "direct_messaging", "group_chats", "e2e_encryption", "anonymous_accounts"):
        assert factors[feature], feature
    for feature in ("recommender", "virtual_currency", "location_sharing", "ai_chatbot"):
        assert factors[feature], feature
    assert set(factors) <= set(TAXONOMY.ids("features"))


def test_every_harm_is_addressed_by_scored_questions():
    for harm in TAXONOMY.ids("harms"):
        questions = RULES.addressed_by[harm]
        assert questions and all(BANK.questions[q].is_scored for q in questions), harm


# -- the risk rule -------------------------------------------------------------------------------


def test_scales_and_levels_come_from_the_methodology():
    assert [p.id for p in RULES.levels] == ["negligible", "low", "medium", "high"]
    assert [p.id for p in RULES.likelihood] == list(EXPECTED_MATRIX)
    assert [p.id for p in RULES.impact] == list(EXPECTED_MATRIX["rare"])
    assert all(p.label and p.description for p in (*RULES.likelihood, *RULES.impact, *RULES.levels))
    assert {p.id for p in RULES.evidence_sources} == {
        "user_reports",
        "detection_data",
        "research",
        "children_consulted",
        "incidents",
    }


@pytest.mark.parametrize("likelihood,impact,level", CELLS)
def test_risk_rule_every_cell(likelihood, impact, level):
    assert risk.risk_level(RULES, likelihood, impact) == level


def test_risk_rule_edges():
    # The lowest and highest corners, and severe harm never negligible however rare.
    assert risk.risk_level(RULES, "rare", "minor") == "negligible"
    assert risk.risk_level(RULES, "likely", "severe") == "high"
    assert risk.risk_level(RULES, "rare", "severe") == "medium"
    assert {risk.risk_level(RULES, lk, im) for lk, im, _ in CELLS} == {"negligible", "low", "medium", "high"}
    with pytest.raises(KeyError):
        risk.risk_level(RULES, "certain", "minor")
    with pytest.raises(KeyError):
        risk.risk_level(RULES, "rare", "catastrophic")


# -- the pre-filled grid -------------------------------------------------------------------------


def test_live_streaming_with_gifting_gets_grooming_and_sextortion_with_reasons():
    grid = risk.prefill_register(TAXONOMY, Profile(features=("live_streaming", "virtual_currency")))
    assert {"grooming", "sextortion", "live_streaming_abuse"} <= set(grid.harms)
    assert grid.age_groups == tuple(TAXONOMY.ids("age_groups"))
    assert len(grid.cells) == len(grid.harms) * len(grid.age_groups)
    for harm in ("grooming", "sextortion"):
        cell = grid.cell(harm, "age_13_15")
        assert [f.feature for f in cell.factors] == ["live_streaming", "virtual_currency"]
        expected = {
            link.reason.get()
            for f in ("live_streaming", "virtual_currency")
            for link in TAXONOMY.risk_factors[f]
            if link.harm == harm
        }
        assert {f.reason for f in cell.factors} == expected and all(expected)
        assert cell.factors[0].feature_label == TAXONOMY.label("features", "live_streaming")
    assert "csam" in grid.not_raised and "csam" not in grid.harms


def test_service_without_those_features_gets_no_grooming_or_sextortion():
    grid = risk.prefill_register(TAXONOMY, Profile(service_types=("storage",), features=("user_uploads",)))
    assert "grooming" not in grid.harms and "sextortion" not in grid.harms
    assert "live_streaming_abuse" not in grid.harms
    assert {"grooming", "sextortion"} <= set(grid.not_raised)
    assert {"csam", "self_generated"} <= set(grid.harms)
    assert grid.cell("grooming", "age_13_15") is None
    assert [f.feature for f in grid.cell("csam", "age_6_9").factors] == ["user_uploads"]
    empty = risk.prefill_register(TAXONOMY, Profile(service_types=("payments",)))
    assert empty.harms == () and empty.cells == () and set(empty.not_raised) == set(TAXONOMY.ids("harms"))


def test_age_groups_follow_the_profile_when_it_has_them():
    assert risk.age_groups_for(TAXONOMY, {"features": [], "min_age": 13}) == ("age_13_15", "age_16_17")
    assert risk.age_groups_for(TAXONOMY, {"min_age": 8, "max_age": 12}) == ("age_6_9", "age_10_12")
    assert risk.age_groups_for(TAXONOMY, {"age_groups": ["age_16_17", "age_10_12"]}) == ("age_10_12", "age_16_17")
    grid = risk.prefill_register(TAXONOMY, {"features": ["direct_messaging"], "min_age": 13})
    assert grid.age_groups == ("age_13_15", "age_16_17")
    assert {c.age_group for c in grid.cells} == {"age_13_15", "age_16_17"}


# -- a filled cell -------------------------------------------------------------------------------


def good_cell(**changes):
    cell = {
        "harm": "grooming",
        "age_group": "age_13_15",
        "likelihood": "likely",
        "likelihood_evidence": ["user_reports", "research"],
        "impact": "severe",
        "impact_evidence": "incidents",
        "controls": ["sbd.p2.dm_safeguards", "hrdd.act.grooming_detection"],
        "residual": "medium",
        "rationale": "Strangers can message teenagers; default limits and detection cut the contact we see.",
    }
    return {**cell, **changes}


def fields_of(check):
    return {p.field for p in check.problems}


def test_a_complete_cell_is_accepted_with_its_level():
    check = risk.validate_cell(good_cell(), RULES, BANK)
    assert check.ok and check.problems == ()
    assert check.cell.level == "high" and check.cell.residual == "medium"
    assert check.cell.likelihood_evidence == ("user_reports", "research")
    assert check.cell.impact_evidence == ("incidents",)


def test_cell_problems_are_named_by_field():
    check = risk.validate_cell(
        good_cell(likelihood="", impact_evidence=[], controls=["sbd.nope"], residual="", rationale=" "), RULES, BANK
    )
    assert check.cell is None
    assert fields_of(check) == {"likelihood", "impact_evidence", "controls", "residual", "rationale"}
    assert all(p.message for p in check.problems)
    check = risk.validate_cell(
        good_cell(harm="spam", age_group="age_18_99", likelihood_evidence=["rumour"], impact="huge"), RULES, BANK
    )
    assert fields_of(check) == {"harm", "age_group", "likelihood_evidence", "impact"}


def test_residual_cannot_be_above_the_risk_before_controls():
    check = risk.validate_cell(good_cell(likelihood="rare", impact="minor", residual="low"), RULES, BANK)
    assert fields_of(check) == {"residual"}
    assert risk.validate_cell(good_cell(likelihood="rare", impact="minor", residual="negligible"), RULES, BANK).ok


def test_controls_must_be_answered_questions_when_the_answers_are_given():
    check = risk.validate_cell(good_cell(), RULES, BANK, answered={"sbd.p2.dm_safeguards"})
    assert fields_of(check) == {"controls"} and "hrdd.act.grooming_detection" in check.problems[0].message
    answered = {"sbd.p2.dm_safeguards", "hrdd.act.grooming_detection"}
    assert risk.validate_cell(good_cell(), RULES, BANK, answered=answered).ok


def test_not_relevant_needs_a_reason():
    bare = {"harm": "loot_boxes", "age_group": "age_0_5", "relevant": False}
    assert fields_of(risk.validate_cell(bare, RULES, BANK)) == {"not_relevant_reason"}
    check = risk.validate_cell({**bare, "not_relevant_reason": "The service has no paid features."}, RULES, BANK)
    assert check.ok and check.cell.relevant is False and check.cell.residual is None


def test_a_register_rates_each_harm_and_age_group_once():
    checks = risk.check_register([good_cell(), good_cell(age_group="age_16_17"), good_cell()], RULES, BANK)
    assert [c.ok for c in checks] == [True, True, False]
    assert fields_of(checks[2]) == {"age_group"}


# -- the priority uplift -------------------------------------------------------------------------

WHO = Profile(
    service_types=("gaming",),
    features=("virtual_currency", "direct_messaging", "live_streaming"),
    countries=("ID",),
    size_band="large",
    under18_users="yes",
)
ANSWERS = {
    "sbd.design.loot_boxes": AnswerData(value=3),
    "sbd.p2.dm_safeguards": AnswerData(value=1),
    "hrdd.act.csam_reporting": AnswerData(value=4),
}


def plan(register=None):
    card = score(BANK, METHOD, WHO, ANSWERS)
    return build_action_plan(BANK, METHOD, WHO, ANSWERS, card, register=register)


def item_with(the_plan, qid):
    return next(i for i in the_plan.items if qid in i.question_ids)


def test_high_residual_risk_lifts_an_addressing_action_to_p1():
    before = item_with(plan(), "sbd.design.loot_boxes")
    assert before.priority != "P1"
    register = [
        {"harm": "loot_boxes", "age_group": "age_13_15", "residual": "high"},
        {"harm": "loot_boxes", "age_group": "age_6_9", "residual": "medium"},
    ]
    after_plan = plan(register)
    after = item_with(after_plan, "sbd.design.loot_boxes")
    assert after.priority == "P1" and after.horizon_days == 30
    assert after.risk_raised_by == RULES.uplift.why and RULES.uplift.why in after.raised_by
    assert [(r.harm, r.age_group, r.residual) for r in after.reduces] == [
        ("loot_boxes", "age_13_15", "high"),
        ("loot_boxes", "age_6_9", "medium"),
    ]
    assert after.reduces[0].harm_label == "Loot boxes and gambling-like features"
    assert after_plan.counts["P1"] == plan().counts["P1"] + 1
    assert after_plan.items[0].priority == "P1"


def test_medium_residual_or_not_relevant_cell_does_not_lift():
    for register in (
        [{"harm": "loot_boxes", "age_group": "age_13_15", "residual": "medium"}],
        [{"harm": "loot_boxes", "age_group": "age_13_15", "relevant": False, "residual": "high"}],
        [{"harm": "hate", "age_group": "age_13_15", "residual": "high"}],
    ):
        item = item_with(plan(register), "sbd.design.loot_boxes")
        assert item.priority == item_with(plan(), "sbd.design.loot_boxes").priority, register
        assert not item.risk_raised_by
    listed = item_with(
        plan([{"harm": "loot_boxes", "age_group": "age_13_15", "residual": "medium"}]), "sbd.design.loot_boxes"
    )
    assert [r.residual for r in listed.reduces] == ["medium"]


def test_no_register_changes_nothing():
    without = plan()
    assert without == plan(None)
    assert risk.uplift_plan(without, None, METHOD, TAXONOMY) is without
    assert all(i.reduces == () and i.risk_raised_by == "" for i in without.items)
    for data in without.to_dict()["items"]:
        assert "reduces" not in data and "risk_raised_by" not in data
    # An empty register lists no risks and raises nothing either.
    empty = plan([])
    assert [(i.id, i.priority) for i in empty.items] == [(i.id, i.priority) for i in without.items]


def test_uplift_takes_a_checked_register():
    cell = risk.validate_cell(
        good_cell(harm="loot_boxes", likelihood="likely", impact="serious", residual="high"), RULES, BANK
    ).cell
    assert item_with(plan([cell]), "sbd.design.loot_boxes").priority == "P1"


# -- content checks ------------------------------------------------------------------------------


@pytest.fixture
def content_copy(tmp_path):
    for folder in ("questionnaires", "scoring", "reports"):
        shutil.copytree(REPO_ROOT / folder, tmp_path / folder)
    return tmp_path


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def problems_of(root: Path) -> list[str]:
    with pytest.raises(ContentError) as caught:
        load_content(root)
    return [str(p) for p in caught.value.problems]


def test_the_copied_content_loads(content_copy):
    assert load_content(content_copy).current_methodology.risk is not None


def test_validator_reports_unknown_harm_and_feature_in_risk_factors(content_copy):
    taxonomy = content_copy / "questionnaires" / "_taxonomy.yaml"
    edit(taxonomy, "  location_sharing:\n    - {harm: grooming,", "  teleport:\n    - {harm: grooming,")
    edit(taxonomy, "    - {harm: loot_boxes, reason: Virtual", "    - {harm: gambling, reason: Virtual")
    found = problems_of(content_copy)
    assert any("risk_factors teleport" in p and "unknown feature 'teleport'" in p for p in found), found
    assert any("risk_factors virtual_currency" in p and "unknown harm 'gambling'" in p for p in found), found


def test_validator_reports_an_age_group_gap_and_an_unknown_harm_group(content_copy):
    taxonomy = content_copy / "questionnaires" / "_taxonomy.yaml"
    edit(taxonomy, "min_age: 10, max_age: 12", "min_age: 11, max_age: 12")
    edit(
        taxonomy,
        "    group: consumer_design\n    description: A child pays",
        "    group: casino\n    description: A child pays",
    )
    found = problems_of(content_copy)
    assert any("age_groups age_10_12" in p for p in found), found
    assert any("harms loot_boxes" in p and "unknown harm group 'casino'" in p for p in found), found


def test_validator_reports_a_matrix_missing_a_cell(content_copy):
    method = content_copy / "scoring" / "standard-2027.1.yaml"
    edit(
        method,
        "rare: {minor: negligible, moderate: negligible, serious: low, severe: medium}",
        "rare: {minor: negligible, moderate: negligible, serious: low}",
    )
    found = problems_of(content_copy)
    assert any("standard-2027.1.yaml" in p and "no level for rare x severe" in p for p in found), found


def test_validator_reports_unknown_level_and_uplift_priority(content_copy):
    method = content_copy / "scoring" / "standard-2027.1.yaml"
    edit(
        method,
        "likely: {minor: low, moderate: medium, serious: high, severe: high}",
        "likely: {minor: low, moderate: medium, serious: high, severe: extreme}",
    )
    found = problems_of(content_copy)
    assert any("likely x severe: unknown level 'extreme'" in p for p in found), found
    edit(method, "severe: extreme}", "severe: high}")
    edit(method, "    at_least: P1\n    why: The risk register", "    at_least: P0\n    why: The risk register")
    assert any("unknown priority 'P0'" in p for p in problems_of(content_copy))


def test_validator_reports_unknown_harm_and_question_in_addressed_by(content_copy):
    method = content_copy / "scoring" / "standard-2027.1.yaml"
    edit(
        method,
        "    loot_boxes: [sbd.design.loot_boxes, sbd.p2.spending_gifting]",
        "    gambling: [sbd.design.loot_boxes, sbd.nowhere]",
    )
    found = problems_of(content_copy)
    assert any("risk.addressed_by gambling" in p and "unknown harm 'gambling'" in p for p in found), found
    assert any("unknown question 'sbd.nowhere'" in p for p in found), found
    assert any("no question addresses harm 'loot_boxes'" in p for p in found), found


def test_validate_content_command_names_an_unknown_harm_in_risk_factors(content_copy):
    runner = CliRunner()
    ok = runner.invoke(cli, ["--content", str(content_copy), "validate-content"])
    assert ok.exit_code == 0, ok.output
    edit(
        content_copy / "questionnaires" / "_taxonomy.yaml",
        "  ai_chatbot:\n    - {harm: self_harm,",
        "  ai_chatbot:\n    - {harm: despair,",
    )
    bad = runner.invoke(cli, ["--content", str(content_copy), "validate-content"])
    assert bad.exit_code == 1
    assert "risk_factors ai_chatbot: unknown harm 'despair'" in bad.output


def test_validate_content_command_names_a_missing_matrix_cell(content_copy):
    edit(content_copy / "scoring" / "standard-2027.1.yaml", "serious: medium, severe: high}", "serious: medium}")
    bad = CliRunner().invoke(cli, ["--content", str(content_copy), "validate-content"])
    assert bad.exit_code == 1
    assert "error: scoring/standard-2027.1.yaml: risk: matrix: no level for unlikely x severe" in bad.output


# -- layering ------------------------------------------------------------------------------------


def test_importing_the_risk_engine_loads_neither_flask_nor_sqlalchemy():
    code = (
        "import sys\n"
        "import dd_toolkit.engine.risk\n"
        "web = ('flask', 'sqlalchemy', 'sqlmodel', 'werkzeug')\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in web)))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO_ROOT)
    assert result.stdout.strip() == ""

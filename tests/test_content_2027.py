"""Question bank 2027.1: named conditions, the new model checks, corrected references, the
RPA-faithful questions, coverage of new references, and 2026.1 files still importing."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from dd_toolkit.engine.content import AnswerType, ContentError, Profile, load_bank
from dd_toolkit.engine.content.conditions import (
    All,
    Any_,
    ConditionError,
    Leaf,
    leaves,
    named_conditions,
    parse_condition,
    parse_named_conditions,
)
from dd_toolkit.engine.content.coverage import coverage, question_bank_markdown
from dd_toolkit.engine.portable import parse_document
from dd_toolkit.engine.scoring import load_methodologies

from .conftest import FIXTURE_CONTENT

REPO_ROOT = Path(__file__).parents[1]
EXPORTS = Path(__file__).parent / "fixtures" / "exports"

# The framework references of the 2026.1 taxonomy: any other one is new in 2027.1 or later.
REFS_2026_1 = frozenset(
    ["RPA:1.2.4", "RPA:7.1.1", "RPA:7.2.1", "RPA:7.3.1", "RPA:7.4.1", "RPA:7.5.1"]
    + ["RPA:Annex3.iii", "RPA:Annex3.v", "RPA:Annex3.vi", "RPA:Annex3.viii", "RPA:Annex3.ix"]
    + ["SbD:1", "SbD:2", "SbD:3", "HRDD:1", "HRDD:2", "HRDD:3", "HRDD:4", "HRDD:5", "HRDD:6", "HRDD:remedy"]
    + ["TRUST:policies", "TRUST:processes", "TRUST:outcomes"]
    + [f"CRBP:{n}" for n in range(1, 11)]
)
CSAM_QUESTIONS = ("hrdd.act.csam_identification", "hrdd.act.csam_removal", "hrdd.act.csam_reporting")
PAYMENTS_SECTION = "hrdd.act_payments"


@pytest.fixture(scope="module")
def bank():
    return load_bank(REPO_ROOT)


@pytest.fixture
def content_copy(tmp_path):
    target = tmp_path / "content"
    shutil.copytree(FIXTURE_CONTENT, target)
    return target


def applicable(bank, profile, answers=None) -> set[str]:
    return {qid for qid, ok in bank.applicability(profile, answers or {}).items() if ok}


def section_questions(bank, section_id: str) -> set[str]:
    return {qid for qid, section in bank.section_of.items() if section.id == section_id}


def problems_of(root: Path) -> list[str]:
    with pytest.raises(ContentError) as info:
        load_bank(root)
    return [str(p) for p in info.value.problems]


def add_to_taxonomy(root: Path, text: str) -> None:
    path = root / "questionnaires" / "_taxonomy.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "\n" + textwrap.dedent(text), encoding="utf-8")


def replace_in(root: Path, rel: str, old: str, new: str) -> None:
    path = root / rel
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new), encoding="utf-8")


# -- named conditions: the language ---------------------------------------------------------
def test_named_condition_expands_to_its_definition():
    definitions = {"pays": {"profile": "features", "includes": "payments"}}
    with named_conditions(definitions):
        parsed = parse_condition({"all": [{"condition": "pays"}, {"profile": "size_band", "equals": "startup"}]})
    assert isinstance(parsed, All)
    assert parsed.items[0] == Leaf("profile", "features", "includes", "payments")


def test_named_conditions_may_use_each_other_but_not_in_a_cycle():
    parsed = parse_named_conditions(
        {
            "a": {"any": [{"condition": "b"}, {"profile": "features", "includes": "payments"}]},
            "b": {"profile": "service_types", "includes": "payments"},
        }
    )
    assert isinstance(parsed["a"], Any_) and parsed["a"].items[0] == parsed["b"]
    with pytest.raises(ConditionError, match="cycle: a -> b -> a"):
        parse_named_conditions({"a": {"condition": "b"}, "b": {"not": {"condition": "a"}}})


def test_unknown_named_condition_is_an_error():
    with pytest.raises(ConditionError, match="unknown named condition 'nope'"):
        parse_condition({"condition": "nope"})
    with named_conditions({"pays": {"profile": "features", "includes": "payments"}}):
        with pytest.raises(ConditionError, match=r"unknown named condition 'nope' \(known: pays\)"):
            parse_condition({"not": {"condition": "nope"}})


def test_loader_reports_unknown_names_cycles_and_bad_vocabulary(content_copy):
    replace_in(
        content_copy,
        "questionnaires/mini.yaml",
        "guidance: RPA 7.4.1 counts standalone policies.\n",
        "guidance: RPA 7.4.1 counts standalone policies.\n        applies_when: {condition: nowhere}\n",
    )
    problems = problems_of(content_copy)
    assert any(
        p.startswith("questionnaires/mini.yaml: mini.policy.exists: ") and "unknown named condition 'nowhere'" in p
        for p in problems
    ), problems

    fresh = content_copy.parent / "cycle"
    shutil.copytree(FIXTURE_CONTENT, fresh)
    add_to_taxonomy(fresh, "conditions:\n  a: {condition: b}\n  b: {condition: a}\n")
    assert any("named conditions form a cycle" in p for p in problems_of(fresh))

    vocabulary = content_copy.parent / "vocabulary"
    shutil.copytree(FIXTURE_CONTENT, vocabulary)
    add_to_taxonomy(vocabulary, "conditions:\n  odd: {profile: features, includes: teleportation}\n")
    assert any(
        p.startswith("questionnaires/_taxonomy.yaml: odd:") and "teleportation" in p for p in problems_of(vocabulary)
    )


def test_methodology_resolves_named_conditions(content_copy):
    add_to_taxonomy(content_copy, "conditions:\n  pays: {profile: service_types, includes: payments}\n")
    replace_in(
        content_copy,
        "scoring/mini.yaml",
        "    applies_when: {profile: service_types, includes: payments}\n",
        "    applies_when: {condition: pays}\n",
    )
    bank = load_bank(content_copy)
    methods = load_methodologies(content_copy, bank)
    indicator = next(i for m in methods.values() for i in m.indicators if i.id == "RPA:7.3.1")
    assert indicator.applies_when == Leaf("profile", "service_types", "includes", "payments")


def test_methodology_with_an_unknown_named_condition_does_not_load(content_copy):
    replace_in(
        content_copy,
        "scoring/mini.yaml",
        "    applies_when: {profile: service_types, includes: payments}\n",
        "    applies_when: {condition: pays}\n",
    )
    bank = load_bank(content_copy)
    with pytest.raises(ContentError, match="unknown named condition 'pays'"):
        load_methodologies(content_copy, bank)


# -- named conditions: the real taxonomy ----------------------------------------------------
def test_taxonomy_defines_the_shared_names(bank):
    assert {"hosts_user_content", "handles_value_transfer", "network_provider", "device_maker", "ai_service"} <= set(
        bank.taxonomy.conditions
    )
    # Every leaf of a named condition is about the profile and uses known values.
    for condition in bank.taxonomy.conditions.values():
        assert all(leaf.subject == "profile" for leaf in leaves(condition))


def test_payments_only_profile_gets_no_csam_questions_but_the_payments_section(bank):
    payments = Profile(service_types=("payments",), features=("payments",), size_band="large", under18_users="unknown")
    shown = applicable(bank, payments)
    assert not set(CSAM_QUESTIONS) & shown
    assert {"hrdd.act.suspicious_transactions_mechanism", "hrdd.act.suspicious_activity_reporting"} <= shown
    assert "hrdd.act.le_contact_point" in shown and "hrdd.policy.safeguarding_policy" in shown


def test_device_maker_without_content_features_gets_no_csam_questions(bank):
    device = Profile(service_types=("hardware_software",), features=("location_sharing",), size_band="large")
    assert not set(CSAM_QUESTIONS) & applicable(bank, device)
    with_uploads = Profile(service_types=("hardware_software",), features=("user_uploads",), size_band="large")
    assert set(CSAM_QUESTIONS) <= applicable(bank, with_uploads)


@pytest.mark.parametrize(
    "profile",
    [
        Profile(service_types=("streaming",), features=("live_streaming", "virtual_currency"), size_band="medium"),
        Profile(service_types=("gaming",), features=("virtual_currency",), size_band="startup"),
    ],
    ids=["teen-live-streaming-with-gifts", "gaming-with-virtual-currency"],
)
def test_gifting_only_profile_falls_under_the_payments_section(bank, profile):
    assert "payments" not in profile.service_types and "payments" not in profile.features
    shown = applicable(bank, profile)
    assert section_questions(bank, PAYMENTS_SECTION) <= shown
    assert set(CSAM_QUESTIONS) <= shown


@pytest.mark.parametrize("service", ["marketplace", "education", "generative_ai", "social_network", "isp"])
def test_every_service_that_hosts_user_content_gets_the_csam_questions(bank, service):
    profile = Profile(service_types=(service,), size_band="startup", under18_users="unknown")
    assert set(CSAM_QUESTIONS) <= applicable(bank, profile)
    assert not section_questions(bank, PAYMENTS_SECTION) & applicable(bank, profile)


# -- model checks ----------------------------------------------------------------------------
def test_yes_partial_no_needs_partial_means(content_copy):
    replace_in(
        content_copy,
        "questionnaires/mini.yaml",
        "        partial_means: Child protection sits inside a broader policy.\n",
        "",
    )
    problems = problems_of(content_copy)
    assert any(
        p.startswith("questionnaires/mini.yaml: mini.policy.exists: ") and "partial_means" in p for p in problems
    )


def test_partial_means_belongs_only_to_yes_partial_no(content_copy):
    replace_in(
        content_copy,
        "questionnaires/mini.yaml",
        "        guidance: Accountability needs a named owner.\n",
        "        guidance: Accountability needs a named owner.\n        partial_means: Half an owner.\n",
    )
    assert any("mini.policy.owner" in p and "only belongs to yes_partial_no" in p for p in problems_of(content_copy))


def test_critical_question_that_allows_not_applicable_is_rejected(content_copy):
    replace_in(
        content_copy,
        "questionnaires/mini.yaml",
        "        allow_not_applicable: false\n        weight: 2\n",
        "        weight: 2\n",
    )
    problems = problems_of(content_copy)
    assert any(
        p.startswith("questionnaires/mini.yaml: mini.policy.owner: ") and "not applicable" in p for p in problems
    )


def test_every_real_yes_partial_no_question_says_what_partly_means(bank):
    for q in bank.questions.values():
        if q.type is AnswerType.YES_PARTIAL_NO:
            assert q.partial_means is not None and len(q.partial_means.get().split()) >= 8, q.id


def test_every_real_critical_question_refuses_not_applicable(bank):
    critical = [q for q in bank.questions.values() if q.critical]
    assert critical
    assert all(not q.allow_not_applicable for q in critical)
    for qid in (*CSAM_QUESTIONS, "hrdd.act.le_contact_point", "hrdd.policy.safeguarding_policy"):
        assert not bank.questions[qid].allow_not_applicable, qid


def test_partial_means_is_in_the_exported_bank(bank):
    doc = question_bank_markdown(bank)
    text = bank.questions["hrdd.policy.safeguarding_policy"].partial_means.get()
    assert f'**"Partly" means:** {text}' in doc


def test_partial_means_is_shown_with_the_question_on_the_form(client, make, auth):
    org = make.organisation()
    admin = make.user(org)
    auth.login(admin.email)
    assessment = make.assessment(org, admin)
    page = client.get(f"/assessments/{assessment.id}/sections/mini.policy").get_data(as_text=True)
    assert "&#34;Partly&#34; means:" in page or '"Partly" means:' in page
    assert "Child protection sits inside a broader policy." in page


# -- references ------------------------------------------------------------------------------
def test_crbp_labels_follow_the_source(bank):
    label = {ref: bank.taxonomy.label("frameworks", ref) for ref in bank.taxonomy.ids("frameworks")}
    assert "child labour" in label["CRBP:2"]
    assert "decent work" in label["CRBP:3"]
    assert "all business activities" in label["CRBP:4"]
    assert "safe products and services" in label["CRBP:5"]
    assert "marketing and advertising" in label["CRBP:6"]
    assert "environment" in label["CRBP:7"]
    assert "security" in label["CRBP:8"]
    assert "emergencies" in label["CRBP:9"]
    assert "community and government" in label["CRBP:10"]


def test_safe_product_questions_reference_principle_5(bank):
    for qid in ("sbd.p2.default_settings", "sbd.p2.privacy_by_default", "sbd.p2.child_centred_features"):
        refs = bank.questions[qid].refs
        assert "CRBP:5" in refs and "CRBP:4" not in refs, (qid, refs)
    assert "CRBP:6" in bank.questions["sbd.p2.advertising"].refs
    # Principle 9 is children affected by emergencies: engagement with experts is Principle 10.
    assert not {"CRBP:9"} & set(bank.questions["hrdd.engage.experts"].refs)


def test_every_new_reference_carries_at_least_two_questions(bank):
    new = [ref for ref in bank.taxonomy.ids("frameworks") if ref not in REFS_2026_1]
    assert "RPA:1.2.2" in new
    result = coverage(bank)
    thin = {ref: result[ref] for ref in new if len(result[ref]) < 2}
    assert not thin, thin


def test_coverage_command_shows_every_new_reference_with_two_questions(bank):
    import re

    from click.testing import CliRunner

    from dd_toolkit.cli import main as cli

    output = CliRunner().invoke(cli, ["--content", str(REPO_ROOT), "coverage"]).output
    counts = {m[1]: int(m[2]) for m in re.finditer(r"^(\S+)\s+\((\d+)\)", output, re.MULTILINE)}
    new = [ref for ref in bank.taxonomy.ids("frameworks") if ref not in REFS_2026_1]
    assert new and all(counts[ref] >= 2 for ref in new), {ref: counts.get(ref) for ref in new}


# -- the questions the RPA indicators rest on ------------------------------------------------
def test_level_3_descriptors_say_what_the_rpa_requires(bank):
    def level(qid: str, n: int) -> str:
        return bank.questions[qid].levels[n].get().lower()

    for qid in CSAM_QUESTIONS:
        assert "established" in level(qid, 3) and "every" in level(qid, 3), qid
    assert "not every confirmed case" in level("hrdd.act.csam_reporting", 2)
    assert "before they need it" in level("hrdd.act.le_contact_point", 3)
    assert "only learn of it when they ask" in level("hrdd.act.le_contact_point", 2)
    assert "dated actions" in level("hrdd.policy.safeguarding_plan", 3)
    assert "no deadlines" in level("hrdd.policy.safeguarding_plan", 2)


def test_safeguarding_policy_asks_only_about_a_standalone_policy(bank):
    policy = bank.questions["hrdd.policy.safeguarding_policy"]
    assert policy.type is AnswerType.YES_PARTIAL_NO and "online" not in policy.text.get().lower()
    assert "broader policy" in policy.partial_means.get()
    scope = bank.questions["hrdd.policy.policy_scope"]
    assert "online_harms" in {o.value for o in scope.options}
    # Asked whenever a policy exists, standalone or inside a broader one.
    profile = Profile(service_types=("social_network",), size_band="startup")
    for value, asked in (("yes", True), ("partial", True), ("no", False)):
        from dd_toolkit.engine.content import AnswerData

        shown = applicable(bank, profile, {"hrdd.policy.safeguarding_policy": AnswerData(value)})
        assert ("hrdd.policy.policy_scope" in shown) is asked, value


def test_suspicious_transactions_use_knows_no_qualifying_alert(bank):
    use = bank.questions["hrdd.act.suspicious_transactions_use"]
    assert use.type is AnswerType.SINGLE
    points = {o.value: o.points for o in use.options}
    # The 2026.1 values keep their 2026.1 points; "no qualifying alert" is not a failure.
    assert points == {"yes": 100, "no_alerts": 100, "partial": 50, "no": 0}
    new = bank.questions["hrdd.act.suspicious_activity_reporting"]
    assert new.type is AnswerType.MATURITY and "RPA:7.3.1" in new.refs


def test_new_due_diligence_questions_exist_with_answer_keyed_steps(bank):
    for qid in (
        "hrdd.act.survivor_centred_removal",
        "hrdd.act.deterrence_messaging",
        "hrdd.assess.proportionality",
        "hrdd.act.child_creators",
        "hrdd.act.suspicious_activity_reporting",
    ):
        q = bank.questions[qid]
        assert q.type is AnswerType.MATURITY and q.is_scored, qid
        assert set(q.actions.by_answer) == {"0", "1", "2", "3"}, qid


def test_startup_path_keeps_the_basics(bank):
    startup = Profile(
        service_types=("social_network",),
        features=("user_uploads", "direct_messaging"),
        size_band="startup",
        under18_users="yes",
    )
    shown = applicable(bank, startup)
    assert {
        "hrdd.assess.feature_risks",
        "hrdd.remedy.grievance_channel",
        "hrdd.assess.proportionality",
        "hrdd.act.survivor_centred_removal",
    } <= shown


# -- versions --------------------------------------------------------------------------------
def test_hrdd_is_2027_1_and_the_2026_1_methodology_still_loads(bank):
    assert bank.versions()["hrdd"] == "2027.1"
    methods = load_methodologies(REPO_ROOT, bank)
    assert "standard@2026.1" in methods


@pytest.mark.parametrize("path", sorted(EXPORTS.glob("2026.1-*.json")), ids=lambda p: p.stem)
def test_2026_1_exports_still_parse_against_the_new_bank(bank, path):
    parsed = parse_document(path.read_bytes(), bank)
    assert parsed.answers
    assert set(parsed.answers) <= set(bank.questions)


def _draft_with_not_applicable(questionnaire_version: str) -> str:
    import json

    data = json.loads((EXPORTS / "2026.1-kitechat-draft-2026.json").read_text(encoding="utf-8"))
    assert "submission" not in data
    data["assessment"]["questionnaires"]["hrdd"] = questionnaire_version
    data["answers"]["hrdd.act.csam_identification"].update(
        value=None, not_applicable=True, justification="We thought it did not apply."
    )
    return json.dumps(data)


def test_not_applicable_given_under_2026_1_on_a_now_core_question_still_imports(bank):
    parsed = parse_document(_draft_with_not_applicable("2026.1"), bank)
    answer = parsed.answers["hrdd.act.csam_identification"]
    assert answer.not_applicable and answer.justification == "We thought it did not apply."


def test_not_applicable_on_a_core_question_is_refused_under_the_current_version(bank):
    from dd_toolkit.engine.portable import ImportError_

    with pytest.raises(ImportError_, match="cannot be marked not applicable"):
        parse_document(_draft_with_not_applicable(bank.versions()["hrdd"]), bank)

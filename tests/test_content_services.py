"""Content 2027.1: the service-type module, features that change the questions asked,
"Partly" defined on every yes/partly/no question, and the start-up basics.

Each expectation is written out here by hand rather than read back from the YAML, so a
changed condition in the content makes a test fail.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from dd_toolkit.engine.content import AnswerData, AnswerType, Profile, load_bank
from dd_toolkit.engine.content.values import build_answer

REPO_ROOT = Path(__file__).parents[1]
MODULES = ("sbd", "trust", "services")

# The condition each service section must follow, spelled out independently of the YAML.
SECTION_RULES = {
    "services.network": lambda types, features: bool({"isp", "mobile_operator"} & types),
    "services.device": lambda types, features: "hardware_software" in types,
    "services.value": lambda types, features: "payments" in types or bool({"payments", "virtual_currency"} & features),
    "services.ai": lambda types, features: "generative_ai" in types or bool({"generative_ai", "ai_chatbot"} & features),
    "services.marketplace": lambda types, features: "marketplace" in types,
    "services.education": lambda types, features: "education" in types,
}

# A large social network used by children, with uploads and direct messages: the profile
# each feature is added to or taken away from.
SOCIAL = Profile(
    service_types=("social_network",),
    features=("user_uploads", "direct_messaging"),
    size_band="large",
    under18_users="yes",
    countries=("ID", "TH"),
)
STARTUP = dataclasses.replace(SOCIAL, size_band="startup")

# The design question each feature must open on that profile.
FEATURE_QUESTIONS = {
    "group_chats": "sbd.p2.group_chat_safeguards",
    "voice_chat": "sbd.p2.voice_chat_safeguards",
    "comments": "sbd.p2.comment_safeguards",
    "disappearing_messages": "sbd.p2.disappearing_messages",
    "ai_chatbot": "services.ai.chatbot_design",
    "virtual_currency": "services.value.gift_cashout",
    "recommender": "sbd.p2.recommender_testing",
    "e2e_encryption": "sbd.p1.encryption_safeguards",
    "anonymous_accounts": "sbd.p1.anonymous_accounts",
    "location_sharing": "sbd.p2.location_safeguards",
    "public_profiles": "sbd.p2.public_profile_exposure",
    "live_streaming": "sbd.p2.live_stream_safeguards",
    "generative_ai": "services.ai.training_data",
    "payments": "services.value.ocsea_typologies",
}

# Every service type, written out so that a type dropped from the taxonomy fails here.
SERVICE_TYPES = (
    *("isp", "mobile_operator", "social_network", "messaging", "gaming", "hardware_software"),
    *("streaming", "storage", "payments", "marketplace", "education", "generative_ai"),
)

STARTUP_BASICS = (
    "sbd.p2.user_controls",
    "hrdd.assess.feature_risks",
    "hrdd.remedy.grievance_channel",
    "sbd.p1.language_coverage",
    "sbd.p1.moderator_wellbeing",
)

# Questions about content hosted on a service, which a payments-only institution never sees.
HOSTING_QUESTIONS = (
    "hrdd.act.csam_identification",
    "hrdd.act.csam_removal",
    "hrdd.act.hash_matching",
    "trust.outcomes.reports_ncmec",
    "trust.outcomes.content_actioned",
    "trust.processes.reporting_flow",
)


@pytest.fixture(scope="module")
def bank():
    return load_bank(REPO_ROOT)


def shown(bank, profile, answers=None):
    return {qid for qid, ok in bank.applicability(profile, answers or {}).items() if ok}


def section_ids(bank, section_id):
    _, section = bank.section(section_id)
    return {q.id for q in section.questions}


def sections_shown(bank, profile):
    visible = shown(bank, profile)
    return {sid for sid in SECTION_RULES if section_ids(bank, sid) & visible}


# -- the module ------------------------------------------------------------------------------
def test_modules_are_2027_1_and_services_sits_before_transparency(bank):
    for module_id in MODULES:
        assert bank.module(module_id).version == "2027.1", module_id
    orders = {m.id: m.order for m in bank.questionnaires}
    assert orders["sbd"] < orders["services"] < orders["trust"]


def test_every_service_section_has_a_condition_and_a_route_to_an_rpa_indicator(bank):
    module = bank.module("services")
    assert {s.id for s in module.sections} == set(SECTION_RULES)
    for section in module.sections:
        assert section.applies_when is not None, section.id
        refs = {ref for q in section.questions for ref in q.refs}
        assert refs & {"RPA:7.2.1", "RPA:7.3.1", "RPA:7.4.1"}, section.id
        assert len(section.questions) >= 3, section.id


# -- each section applies to exactly the profiles its condition names -------------------------
@pytest.mark.parametrize("service", SERVICE_TYPES)
def test_sections_follow_the_service_type(bank, service):
    assert service in bank.taxonomy.ids("service_types")
    profile = Profile(service_types=(service,), size_band="large", under18_users="unknown")
    expected = {sid for sid, rule in SECTION_RULES.items() if rule({service}, set())}
    assert sections_shown(bank, profile) == expected


def test_sections_follow_the_features(bank):
    for feature in bank.taxonomy.ids("features"):
        profile = Profile(service_types=("streaming",), features=(feature,), size_band="large", under18_users="yes")
        expected = {sid for sid, rule in SECTION_RULES.items() if rule({"streaming"}, {feature})}
        assert sections_shown(bank, profile) == expected, feature


def test_internet_provider_sees_blocklist_and_takedown(bank):
    isp = Profile(service_types=("isp",), size_band="very_large", under18_users="yes")
    visible = shown(bank, isp)
    assert {"services.network.url_blocklist", "services.network.notice_takedown"} <= visible
    assert not visible & section_ids(bank, "services.value")
    # Blocking is no reason to ask a pure network about a social feed.
    assert "sbd.p2.user_controls" not in visible


def test_payments_only_sees_transaction_monitoring_not_hosting_questions(bank):
    payments = Profile(service_types=("payments",), features=("payments",), size_band="large", under18_users="unknown")
    visible = shown(bank, payments)
    assert not visible & set(HOSTING_QUESTIONS)
    assert not visible & section_ids(bank, "services.network")
    assert {
        "services.value.ocsea_typologies",
        "services.value.payee_due_diligence",
        "hrdd.act.suspicious_transactions_mechanism",
        "trust.outcomes.suspicious_transaction_reports",
    } <= visible
    # No gifting, so nothing about cashing out gifts.
    assert "services.value.gift_cashout" not in visible


def test_gifting_only_game_falls_under_value_transfer(bank):
    game = Profile(service_types=("gaming",), features=("virtual_currency",), size_band="medium", under18_users="yes")
    visible = shown(bank, game)
    assert section_ids(bank, "services.value") <= visible
    assert "hrdd.act.suspicious_transactions_mechanism" in visible
    assert "trust.outcomes.suspicious_transaction_reports" in visible
    assert "sbd.design.loot_boxes" in visible
    without_gifts = dataclasses.replace(game, features=())
    assert not shown(bank, without_gifts) & section_ids(bank, "services.value")


def test_device_maker_sees_device_questions_and_privacy_follow_up(bank):
    maker = Profile(service_types=("hardware_software",), size_band="large", under18_users="yes")
    visible = shown(bank, maker)
    assert {"services.device.child_setup", "services.device.parental_controls"} <= visible
    assert "services.device.connected_services" in visible
    assert not visible & {"hrdd.act.csam_identification", "trust.outcomes.reports_ncmec"}
    # The privacy safeguards of on-device detection are asked once detection exists.
    assert "services.device.detection_privacy" not in visible
    assert "services.device.detection_privacy" not in shown(
        bank, maker, {"services.device.nudity_protection": AnswerData(0)}
    )
    assert "services.device.detection_privacy" in shown(
        bank, maker, {"services.device.nudity_protection": AnswerData(2)}
    )


# -- every feature changes which questions apply ---------------------------------------------
@pytest.mark.parametrize("feature", sorted(FEATURE_QUESTIONS))
def test_feature_opens_its_design_question(bank, feature):
    base = dataclasses.replace(SOCIAL, features=tuple(f for f in SOCIAL.features if f != feature))
    with_feature = dataclasses.replace(base, features=(*base.features, feature))
    qid = FEATURE_QUESTIONS[feature]
    assert qid in bank.questions
    assert qid not in shown(bank, base)
    assert qid in shown(bank, with_feature)


def test_every_feature_changes_the_questions_asked(bank):
    for feature in bank.taxonomy.ids("features"):
        base = dataclasses.replace(SOCIAL, features=tuple(f for f in SOCIAL.features if f != feature))
        with_feature = dataclasses.replace(base, features=(*base.features, feature))
        assert shown(bank, base) != shown(bank, with_feature), feature
        bare = Profile(size_band="large", under18_users="yes")
        assert shown(bank, bare) != shown(bank, dataclasses.replace(bare, features=(feature,))), feature


def test_child_only_feature_questions_need_children(bank):
    adults = dataclasses.replace(
        SOCIAL, under18_users="no", features=(*SOCIAL.features, "group_chats", "voice_chat", "comments")
    )
    visible = shown(bank, adults)
    for qid in ("sbd.p2.group_chat_safeguards", "sbd.p2.voice_chat_safeguards", "sbd.p2.comment_safeguards"):
        assert qid not in visible, qid
    assert not visible & section_ids(bank, "sbd.harms")


# -- "Partly" is defined, and critical questions are answered ----------------------------------
def test_every_yes_partial_no_question_says_what_partly_means(bank):
    for module_id in MODULES:
        for q in bank.module(module_id).questions():
            if q.type is AnswerType.YES_PARTIAL_NO:
                assert q.partial_means is not None, q.id
                assert len(q.partial_means.get().split()) >= 15, q.id


def test_critical_questions_refuse_not_applicable(bank):
    for module_id in MODULES:
        for q in bank.module(module_id).questions():
            if q.critical:
                assert q.allow_not_applicable is False, q.id
    assert bank.questions["services.ai.training_data"].critical
    # The core question of each kind of service cannot be waved away as not applicable.
    for qid in (
        "services.network.url_blocklist",
        "services.value.ocsea_typologies",
        "services.ai.misuse_reporting",
        "services.ai.chatbot_design",
        "services.marketplace.prohibited_listings",
        "services.education.school_safeguarding",
        "sbd.p2.sextortion_prevention",
        "sbd.harms.self_harm",
    ):
        assert bank.questions[qid].allow_not_applicable is False, qid


def test_new_questions_have_steps_for_each_answer_short_of_the_best(bank):
    new = [*bank.module("services").questions()]
    for section_id in ("sbd.harms", "sbd.design"):
        new += bank.section(section_id)[1].questions
    new += [bank.questions[qid] for qid in FEATURE_QUESTIONS.values() if qid.startswith("sbd.")]
    for q in new:
        assert q.actions.problems(q) == [], (q.id, q.actions.problems(q))
        keys = {"0", "1", "2", "3"} if q.type is AnswerType.MATURITY else {"no", "partial"}
        if q.type is AnswerType.MULTI:
            steps = [q.actions.steps_if_missing(o.value) for o in q.options if o.points]
        else:
            steps = [q.actions.steps_for(k) for k in sorted(keys)]
        assert all(steps), q.id
        # A different answer gets a different step, and each step is something to start on.
        assert len({s for s in steps}) == len(steps), q.id
        assert all(len(step.split()) >= 8 for group in steps for step in group), q.id


def test_crbp_references_follow_the_principles(bank):
    # Principle 5 is safe products and services, 6 marketing and advertising.
    assert "CRBP:5" in bank.questions["sbd.p2.default_settings"].refs
    assert "CRBP:4" not in bank.questions["sbd.p2.default_settings"].refs
    assert "CRBP:6" in bank.questions["sbd.p2.advertising"].refs
    assert "CRBP:6" in bank.questions["sbd.design.loot_boxes"].refs


# -- the start-up path keeps the basics ------------------------------------------------------
def test_startups_see_the_basics(bank):
    visible = shown(bank, STARTUP)
    missing = set(STARTUP_BASICS) - visible
    assert not missing, missing
    # Enterprise depth stays enterprise depth.
    assert "sbd.p2.recommender_testing" not in shown(
        bank, dataclasses.replace(STARTUP, features=(*STARTUP.features, "recommender"))
    )
    assert "sbd.harms.self_harm" in visible


# -- demo answers work for every question type used ------------------------------------------
def test_demo_answers_validate_for_every_new_question(bank):
    from dd_toolkit.records.demo import COMPANIES, demo_answer

    types_used = {q.type for m in MODULES for q in bank.module(m).questions()}
    assert types_used <= set(AnswerType)
    for company in COMPANIES:
        for module_id in ("services", "sbd"):
            for q in bank.module(module_id).questions():
                answer = demo_answer(company, q, 2026)
                build_answer(q, value=answer.value, evidence=list(answer.evidence), meta=answer.meta)


def test_every_service_type_is_covered_by_these_tests(bank):
    assert set(SERVICE_TYPES) == set(bank.taxonomy.ids("service_types"))
    assert set(FEATURE_QUESTIONS) | {"user_uploads", "direct_messaging"} == set(bank.taxonomy.ids("features"))

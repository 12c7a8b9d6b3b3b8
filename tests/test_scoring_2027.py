"""Methodology 2027.1: severity-true weights, caps of module and overall bands, honest "not
applicable", coverage and confidence beside every score, and frozen 2026.1 cards kept.

Hand-computed numbers use the fixture bank (tests/fixtures/content) with the 2027.1 rules
written out below; rules about the real bank use the repository's content."""

import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dd_toolkit.cli import main as cli
from dd_toolkit.engine import portable
from dd_toolkit.engine.content import AnswerData, AnswerType, Profile, load_bank
from dd_toolkit.engine.registry import load_content
from dd_toolkit.engine.scoring import ScoreCard, score
from dd_toolkit.engine.scoring.engine import best_answers, question_shares
from dd_toolkit.engine.scoring.methodology import Methodology
from dd_toolkit.records.assessments import rescore_submission

from .conftest import FIXTURE_CONTENT, REPO_ROOT

# -- hand-computed rules on the fixture bank ------------------------------------------------

MINI = load_bank(FIXTURE_CONTENT)
_BASE = yaml.safe_load((FIXTURE_CONTENT / "scoring" / "mini.yaml").read_text())
# Severity points: owner 2 x (1 + critical 3) = 8; exists and scope 1 x (1 + indicator 2 + RPA 1)
# = 4 each; live 1 x (1 + live-streaming abuse 4) = 5; payments 1 x (1 + 2 + 1) = 4. Total 25.
SEVERE = Methodology.model_validate(
    {
        **_BASE,
        "version": "test.2027",
        "not_applicable": "zero",
        "weights": {
            "rule": "severity",
            "modules": {"mini": 1},
            "severity": {
                "base": 1,
                "harms": {"live_streaming_abuse": 4},
                "indicator": 2,
                "rpa_reference": 1,
                "critical": 3,
            },
        },
        "critical": {
            "below": 50,
            "caps_section_at": "developing",
            "caps_module_at": "developing",
            "caps_overall_at": "developing",
        },
        "caps": [
            {
                "id": "no_live_moderation",
                "label": "Live streams are not moderated",
                "when": {
                    "all": [
                        {"profile": "features", "includes": "live_streaming"},
                        {"not": {"answer": "mini.ops.live", "in": ["reactive", "proactive"]}},
                    ]
                },
                "band": "initial",
                "modules": ["mini"],
            }
        ],
        "confidence": {
            "default": "stated",
            "points": {"stated": 0, "documented": 1, "tested": 2, "audited": 3},
            "levels": [
                {"id": "low", "label": "Low", "from": 0},
                {"id": "medium", "label": "Medium", "from": 1},
                {"id": "high", "label": "High", "from": 2},
            ],
        },
    }
)
OLD = load_content(FIXTURE_CONTENT).methodology("standard@test.1")
PROFILE = Profile(service_types=("social_network", "payments"), features=("live_streaming",), under18_users="yes")
COMPLETE = {
    "mini.policy.owner": 3,
    "mini.policy.exists": "yes",
    "mini.policy.scope": ["online", "staff"],
    "mini.ops.live": "reactive",
    "mini.ops.payments": "partial",
}
NA = AnswerData(not_applicable=True, justification="We do not do this.")


def mini_card(values: dict, method=SEVERE, profile=PROFILE):
    answers = {qid: v if isinstance(v, AnswerData) else AnswerData(value=v) for qid, v in values.items()}
    return score(MINI, method, profile, answers)


def test_severity_weights_by_hand():
    card = mini_card(COMPLETE)
    weights = {q.question_id: q.weight for q in card.questions}
    assert weights == {
        "mini.policy.owner": 8,
        "mini.policy.exists": 4,
        "mini.policy.scope": 4,
        "mini.ops.live": 5,
        "mini.ops.payments": 4,
    }
    # One weighted mean: (8 x 75 + 4 x 100 + 4 x 100 + 5 x 40 + 4 x 50) / 25 = 72.
    assert card.overall == pytest.approx(72.0)
    assert card.question("mini.policy.owner").effective_weight == pytest.approx(8 / 25)
    assert card.question("mini.ops.live").effective_weight == pytest.approx(5 / 25)
    assert sum(q.contribution for q in card.questions) == pytest.approx(card.overall)
    # Sections and the module stay weighted means of their own questions.
    assert card.section("mini.policy").score == pytest.approx(1400 / 16)
    assert card.section("mini.ops").score == pytest.approx(400 / 9)
    assert card.modules[0].score == pytest.approx(72.0)
    assert card.band == "established" and card.capped_by == () and card.caps == ()


def test_critical_failure_caps_module_and_overall():
    card = mini_card({**COMPLETE, "mini.policy.owner": 1, "mini.ops.live": "proactive"})
    # (8 x 25 + 400 + 400 + 500 + 200) / 25 = 68: "established" by the average alone.
    assert card.overall == pytest.approx(68.0)
    assert card.band_before_cap == "established"
    assert card.band == "developing" and card.capped_by == ("critical",)
    module = card.modules[0]
    assert module.band_before_cap == "established" and module.band == "developing"
    assert module.capped_by == ("critical",)
    (cap,) = card.caps
    assert cap.id == "critical" and cap.question_ids == ("mini.policy.owner",) and cap.modules == ("mini",)
    # 2026.1 rules (test.1): the same answers cap only the section.
    old = mini_card({**COMPLETE, "mini.policy.owner": 1, "mini.ops.live": "proactive"}, method=OLD)
    assert old.section("mini.policy").band == "developing"
    assert old.caps == () and old.capped_by == () and old.modules[0].capped_by == ()


def test_named_cap_lowers_overall_and_module_and_says_why():
    card = mini_card({**COMPLETE, "mini.ops.live": "none"})
    # (600 + 400 + 400 + 0 + 200) / 25 = 64, capped at "initial".
    assert card.overall == pytest.approx(64.0)
    assert (card.band_before_cap, card.band, card.capped_by) == ("established", "initial", ("no_live_moderation",))
    assert card.modules[0].band == "initial" and card.modules[0].capped_by == ("no_live_moderation",)
    (cap,) = card.caps
    assert cap.label == "Live streams are not moderated" and cap.question_ids == ("mini.ops.live",)
    assert "answered Not moderated" in cap.reason
    # Not a live-streaming service: the cap does not hold.
    quiet = mini_card(COMPLETE, profile=Profile(service_types=("social_network", "payments"), under18_users="yes"))
    assert quiet.caps == () and quiet.band == quiet.band_before_cap


def test_not_applicable_counts_as_not_in_place_and_lowers_coverage():
    card = mini_card({**COMPLETE, "mini.ops.payments": NA})
    assert card.question("mini.ops.payments").status == "not_applicable"
    # (600 + 400 + 400 + 200 + 0) / 25 = 64; coverage 21 of 25.
    assert card.overall == pytest.approx(64.0)
    assert card.coverage == pytest.approx(21 / 25)
    assert card.section("mini.ops").coverage == pytest.approx(5 / 9)
    assert card.section("mini.policy").coverage == pytest.approx(1.0)
    assert card.modules[0].coverage == pytest.approx(21 / 25)
    assert [(i.question_id, i.justification, i.follows_from) for i in card.not_applicable] == [
        ("mini.ops.payments", "We do not do this.", None)
    ]
    # 2026.1 left such an answer out of every mean: marking the weakest answer (live, 40)
    # not applicable raised the score; under 2027.1 it lowers it.
    assert mini_card({**COMPLETE, "mini.ops.live": NA}, method=OLD).overall > mini_card(COMPLETE, method=OLD).overall
    assert mini_card({**COMPLETE, "mini.ops.live": NA}).overall < mini_card(COMPLETE).overall


def test_follow_up_of_a_not_applicable_answer_counts_too():
    card = mini_card({**COMPLETE, "mini.policy.exists": NA})
    # Scope applies only after an answer on the policy; marked N/A, both count as not in place:
    # (600 + 0 + 0 + 200 + 200) / 25 = 40; coverage (8 + 5 + 4) / 25.
    assert card.question("mini.policy.scope").status == "not_applicable"
    assert card.overall == pytest.approx(40.0)
    assert card.coverage == pytest.approx(17 / 25)
    assert [(i.question_id, i.follows_from) for i in card.not_applicable] == [
        ("mini.policy.exists", None),
        ("mini.policy.scope", "mini.policy.exists"),
    ]


def test_unanswered_questions_lower_coverage_not_the_score():
    card = mini_card({k: v for k, v in COMPLETE.items() if k != "mini.ops.live"})
    # Left out of the mean in a draft: (600 + 400 + 400 + 200) / 20 = 80; coverage 20 of 25.
    assert card.overall == pytest.approx(80.0)
    assert card.coverage == pytest.approx(20 / 25)
    assert card.section("mini.ops").coverage == pytest.approx(4 / 9)


def test_coverage_under_2026_rules_uses_the_structure_weights():
    card = mini_card({**COMPLETE, "mini.ops.payments": NA}, method=OLD)
    # test.1: Policy weight 1, Operations 2; within Operations live and payments weigh 1 each.
    assert card.section("mini.ops").coverage == pytest.approx(0.5)
    assert card.coverage == pytest.approx(1 / 3 * 1 + 2 / 3 * 0.5)
    assert card.confidence is None  # test.1 has no confidence rules


def with_strengths(values: dict, strengths: dict) -> dict:
    return {
        qid: AnswerData(value=v, meta={"evidence_strength": strengths[qid]} if qid in strengths else {})
        for qid, v in values.items()
    }


@pytest.mark.parametrize(
    ("strengths", "overall", "policy"),
    [
        ({}, "low", "low"),  # nothing recorded: stated
        # owner audited: 3 x 8 / 25 = 0.96 overall (low); policy 24 / 16 = 1.5 (medium).
        ({"mini.policy.owner": "audited"}, "low", "medium"),
        # owner and exists audited: (24 + 12) / 25 = 1.44 (medium); policy 36 / 16 = 2.25 (high).
        ({"mini.policy.owner": "audited", "mini.policy.exists": "audited"}, "medium", "high"),
        ({qid: "tested" for qid in COMPLETE}, "high", "high"),
        ({qid: "documented" for qid in COMPLETE}, "medium", "medium"),
    ],
)
def test_confidence_from_evidence_strengths(strengths, overall, policy):
    card = mini_card(with_strengths(COMPLETE, strengths))
    assert card.confidence == overall
    assert card.section("mini.policy").confidence == policy
    assert card.question("mini.policy.owner").evidence_strength == strengths.get("mini.policy.owner", "stated")


def test_confidence_ignores_unknown_strengths_and_unanswered_questions():
    card = mini_card(with_strengths({"mini.policy.owner": 4}, {"mini.policy.owner": "notarised"}))
    assert card.question("mini.policy.owner").evidence_strength == "stated"
    assert card.confidence == "low"
    assert card.section("mini.ops").confidence is None  # nothing answered there


def test_new_card_round_trips_and_old_cards_read_back():
    card = mini_card({**with_strengths(COMPLETE, {"mini.policy.owner": "tested"}), "mini.policy.exists": NA})
    again = ScoreCard.from_dict(json.loads(json.dumps(card.to_dict())))
    assert again.to_dict() == card.to_dict()
    assert again.not_applicable[1].follows_from == "mini.policy.exists"
    # A card frozen before 2027.1 has none of the new fields.
    old = strip_2027_fields(mini_card({**COMPLETE, "mini.policy.owner": 1}, method=OLD).to_dict())
    assert "coverage" not in old and "coverage" not in old["modules"][0]
    read = ScoreCard.from_dict(old)
    assert read.coverage is None and read.caps == () and read.modules[0].capped_by == ()
    assert read.section("mini.policy").capped_by == ("mini.policy.owner",)


def test_methodology_validation_of_the_new_keys():
    with pytest.raises(ValueError, match="unknown band 'platinum'"):
        Methodology.model_validate({**_BASE, "critical": {**_BASE["critical"], "caps_overall_at": "platinum"}})
    with pytest.raises(ValueError, match="needs a 'severity' block"):
        Methodology.model_validate({**_BASE, "weights": {"rule": "severity"}})
    cap = {"id": "x", "label": "X", "when": {"answer": "mini.ops.live", "equals": "none"}, "band": "gold"}
    with pytest.raises(ValueError, match="cap x names unknown band 'gold'"):
        Methodology.model_validate({**_BASE, "caps": [cap]})


# -- the real bank under 2026.1 and 2027.1 --------------------------------------------------

CONTENT = load_content(REPO_ROOT)
BANK = CONTENT.bank
NEW = CONTENT.methodology("standard@2027.1")
V2026 = CONTENT.methodology("standard@2026.1")
SOCIAL = Profile(
    service_types=("social_network",),
    features=("user_uploads", "live_streaming", "direct_messaging"),
    countries=("SG",),
    size_band="large",
    under18_users="yes",
    hq_country="SG",
)


def real_card(method, profile=SOCIAL, **changes):
    answers = {**best_answers(BANK), **{qid: AnswerData(value=v) for qid, v in changes.items()}}
    return score(BANK, method, profile, answers)


def test_the_app_scores_new_drafts_under_2027_1():
    assert CONTENT.current_methodology.key == "standard@2027.1"
    assert V2026 is not None  # and 2026.1 stays installed for frozen submissions


@pytest.mark.parametrize(
    "changes",
    [
        {"hrdd.act.csam_reporting": 0, "hrdd.act.le_contact_point": 0},
        {"hrdd.act.csam_reporting": 0},
        {"hrdd.act.le_contact_point": 0},
        # Level 2: "not every confirmed case is reported", "agencies learn of it when they ask".
        {"hrdd.act.csam_reporting": 2, "hrdd.act.le_contact_point": 2},
    ],
)
def test_no_csam_reporting_or_no_law_enforcement_contact_is_at_most_developing(changes):
    card = real_card(NEW, **changes)
    assert card.overall > 60  # the average alone would say more
    assert NEW.band_index(card.band) <= NEW.band_index("developing")
    expected = {"csam_not_reported"} if "hrdd.act.csam_reporting" in changes else set()
    expected |= {"no_law_enforcement_contact"} if "hrdd.act.le_contact_point" in changes else set()
    assert expected <= set(card.capped_by)
    assert NEW.band_index(card.module("hrdd").band) <= NEW.band_index("developing")


def test_the_same_company_was_established_or_better_under_2026_1():
    card = real_card(V2026, **{"hrdd.act.csam_reporting": 0, "hrdd.act.le_contact_point": 0})
    assert V2026.band_index(card.band) >= V2026.band_index("established")


def test_caps_hold_only_where_7_2_1_applies():
    payments = Profile(service_types=("payments",), countries=("SG",), size_band="large", under18_users="yes")
    card = real_card(NEW, profile=payments)
    assert card.question("hrdd.act.csam_reporting").status == "not_asked"
    assert not {"csam_not_reported", "no_law_enforcement_contact"} & {c.id for c in card.caps}
    assert card.band == card.band_before_cap


def test_a_real_critical_failure_caps_module_and_overall():
    card = real_card(NEW, **{"sbd.p2.in_service_reporting": 1})
    assert card.band == "developing" and "critical" in card.capped_by
    assert card.module("sbd").band == "developing" and card.module("sbd").capped_by == ("critical",)
    assert card.module("hrdd").capped_by == ()
    old = real_card(V2026, **{"sbd.p2.in_service_reporting": 1})
    assert old.band == "leading" and old.section("sbd.p2").band == "developing"


def test_glossary_weighs_less_than_reporting_csam():
    shares = {q.question_id: share for q, share in question_shares(BANK, NEW)}
    assert shares["trust.policies.csea_definitions"] < shares["hrdd.act.csam_reporting"]
    assert shares["trust.policies.csea_definitions"] < shares["hrdd.act.le_contact_point"]
    assert sum(shares.values()) == pytest.approx(1.0)
    top = [qid for qid, _ in sorted(shares.items(), key=lambda item: -item[1])[:10]]
    assert {"hrdd.act.csam_identification", "hrdd.act.csam_removal", "hrdd.act.csam_reporting"} <= set(top)
    # 2026.1 weighed by the number of questions in a section: the glossary came first.
    before = question_shares(BANK, V2026)
    assert before[0][0].question_id == "trust.policies.csea_definitions"


def test_weights_command_for_both_versions():
    runner = CliRunner()
    for key in ("standard@2026.1", "standard@2027.1"):
        result = runner.invoke(cli, ["--content", str(REPO_ROOT), "weights", "--methodology", key, "--top", "10"])
        assert result.exit_code == 0, result.output
        lines = result.output.splitlines()
        assert key in lines[0] and len(lines) == 11
    newest = runner.invoke(cli, ["--content", str(REPO_ROOT), "weights", "--top", "3"]).output
    assert "hrdd.act.csam_" in newest.splitlines()[1]
    export = REPO_ROOT / "tests" / "fixtures" / "exports" / "2026.1-champa-pay-2025.json"
    own = runner.invoke(cli, ["--content", str(REPO_ROOT), "weights", "--profile-of", str(export)])
    assert own.exit_code == 0 and "Champa Pay" in own.output and "hrdd.act.csam_reporting" not in own.output


# The property: for any profile and answers, switching any applicable non-core questions to
# "not applicable" never raises the band (nor the score, nor the coverage) under 2027.1.
SCORED = [q for q in BANK.questions.values() if q.is_scored]


def _answer_strategy(question):
    kind = question.type
    if kind is AnswerType.MATURITY:
        values = st.integers(0, len(question.levels) - 1)
    elif kind is AnswerType.YES_PARTIAL_NO:
        values = st.sampled_from(["yes", "partial", "no"])
    elif kind is AnswerType.SINGLE:
        values = st.sampled_from([o.value for o in question.options])
    else:
        values = st.lists(st.sampled_from([o.value for o in question.options]), unique=True, min_size=1)
    return st.one_of(st.none(), values)  # None: not answered yet


@st.composite
def cases(draw):
    taxonomy = BANK.taxonomy
    profile = Profile(
        service_types=tuple(draw(st.lists(st.sampled_from(taxonomy.ids("service_types")), unique=True, min_size=1))),
        features=tuple(draw(st.lists(st.sampled_from(taxonomy.ids("features")), unique=True))),
        countries=("SG",),
        size_band=draw(st.sampled_from(taxonomy.ids("size_bands"))),
        under18_users=draw(st.sampled_from(["yes", "no", "unknown"])),
        hq_country="SG",
    )
    answers = {}
    for question in SCORED:
        value = draw(_answer_strategy(question))
        if value is not None:
            answers[question.id] = AnswerData(value=value)
    applicable = BANK.applicability(profile, answers)
    candidates = [q.id for q in SCORED if applicable[q.id] and q.allow_not_applicable]
    chosen = draw(st.lists(st.sampled_from(candidates), unique=True, min_size=1)) if candidates else []
    return profile, answers, chosen


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(cases())
def test_marking_questions_not_applicable_never_raises_the_band(case):
    profile, answers, chosen = case
    before = score(BANK, NEW, profile, answers)
    marked = {**answers, **{qid: AnswerData(not_applicable=True, justification="Does not fit us.") for qid in chosen}}
    after = score(BANK, NEW, profile, marked)
    if before.band is not None and after.band is not None:
        assert NEW.band_index(after.band) <= NEW.band_index(before.band)
    if before.overall is not None and after.overall is not None:
        assert after.overall <= before.overall + 1e-9
    if before.coverage is not None and after.coverage is not None:
        assert after.coverage <= before.coverage + 1e-9
    # Each one is listed for reviewers (with what it follows from when its gate was marked too).
    listed = {i.question_id: i.follows_from for i in after.not_applicable}
    assert set(chosen) <= set(listed)
    assert all(source in chosen for source in listed.values() if source is not None)


@pytest.mark.parametrize(("size", "counted"), [("large", True), ("startup", False)])
def test_follow_ups_the_profile_rules_out_are_not_counted(size, counted):
    profile = Profile(service_types=("social_network",), countries=("SG",), size_band=size, under18_users="yes")
    answers = {
        **best_answers(BANK),
        "hrdd.policy.safeguarding_policy": AnswerData(not_applicable=True, justification="n/a"),
    }
    card = score(BANK, NEW, profile, answers)
    follows = {i.question_id: i.follows_from for i in card.not_applicable}
    assert follows["hrdd.policy.policy_scope"] == "hrdd.policy.safeguarding_policy"
    # The policy review cycle is not asked of start-ups, whatever the policy answer.
    assert ("hrdd.policy.review_frequency" in follows) is counted
    assert (card.question("hrdd.policy.review_frequency").status == "not_applicable") is counted


def test_marking_not_applicable_could_raise_the_band_under_2026_1():
    """Why the rule exists: 2026.1 left such answers out of every mean."""
    low = {qid: 0 for qid in ("sbd.p3.staff_training", "hrdd.track.kpis", "hrdd.engage.children")}
    card = real_card(V2026, **low)
    na = {qid: AnswerData(not_applicable=True, justification="n/a") for qid in low}
    answers = {**best_answers(BANK), **na}
    assert score(BANK, V2026, SOCIAL, answers).overall > card.overall
    assert score(BANK, NEW, SOCIAL, answers).overall <= real_card(NEW, **low).overall


# -- frozen 2026.1 cards and re-scoring --------------------------------------------------------

EXPORT = REPO_ROOT / "tests" / "fixtures" / "exports" / "2026.1-lumen-social-2025.json"


def test_frozen_2026_1_card_is_kept_and_can_be_rescored_under_2027_1():
    text = EXPORT.read_text()
    document = json.loads(text)
    frozen = document["score_card"]
    assert frozen["methodology"]["version"] == "2026.1" and "coverage" not in frozen
    parsed = portable.parse_document(text.encode(), BANK)
    scored = CONTENT.scored(parsed.profile, parsed.answers, frozen)
    assert scored.frozen and not scored.fallback and scored.method.key == "standard@2026.1"
    assert scored.card.overall == frozen["overall"] and scored.card.band == frozen["band"]
    assert scored.card.coverage is None and scored.card.caps == ()
    again = rescore_submission(BANK, NEW, SimpleNamespace(snapshot=text))
    assert again.methodology == {"id": "standard", "version": "2027.1"}
    assert again.coverage is not None and again.module("hrdd") is not None


def test_evidence_strength_travels_through_export_and_import():
    question = BANK.questions["hrdd.act.csam_reporting"]
    from dd_toolkit.engine.content.values import build_answer

    answer = build_answer(question, value=3, meta={"evidence_strength": "audited"})
    assert answer.meta == {"evidence_strength": "audited"}
    # Not kept without a value or when marked not applicable.
    assert build_answer(question, meta={"evidence_strength": "audited"}).meta == {}
    as_json = portable.answer_to_json(answer, None, None)
    assert as_json["meta"] == {"evidence_strength": "audited"}
    with pytest.raises(ValueError):
        build_answer(question, value=3, meta={"evidence_strength": "Very strong!"})


def test_weights_do_not_depend_on_points(tmp_path: Path):
    shares = dict((q.question_id, s) for q, s in question_shares(BANK, NEW, SOCIAL))
    card = real_card(NEW, **{"hrdd.act.csam_reporting": 1})
    assert card.question("hrdd.act.csam_reporting").effective_weight == pytest.approx(shares["hrdd.act.csam_reporting"])


# -- pages: the section form, the results page and the regulator's view -----------------------


@pytest.fixture
def real(real_app):
    """Factories, a session and a signed-out client on the app with the real content."""
    from dd_toolkit.records import database as db

    from .conftest import AuthActions
    from .factories import Factory

    with db.standalone_session(real_app.extensions["dd_engine"]) as session:
        client = real_app.test_client()
        yield SimpleNamespace(
            make=Factory(session, real_app.extensions["dd_content"]),
            session=session,
            client=client,
            auth=AuthActions(client),
        )


def complete_answers(profile: Profile, **changes) -> dict:
    """Every question that applies answered: scored ones at the top, the rest with plain values."""
    answers = {
        **best_answers(BANK),
        **{qid: v if isinstance(v, AnswerData) else AnswerData(value=v) for qid, v in changes.items()},
    }
    plain = {
        AnswerType.NUMBER: 10,
        AnswerType.TEXT: "Described in our internal procedure.",
        AnswerType.DATE: "2026-01-15",
    }
    for _ in range(3):  # follow-up questions appear once their gates are answered
        applicable = BANK.applicability(profile, answers)
        for qid, question in BANK.questions.items():
            if applicable[qid] and qid not in answers and question.type in plain:
                answers[qid] = AnswerData(value=plain[question.type])
    return answers


def profile_of_org(org) -> Profile:
    from dd_toolkit.records.assessments import profile_of

    return profile_of(org)


def test_section_page_records_evidence_strength(real):
    from dd_toolkit.records.assessments import answer_rows

    from .conftest import Forms

    org = real.make.organisation()
    admin = real.make.user(org)
    assessment = real.make.assessment(org, admin)
    real.auth.login(admin.email)
    url = f"/assessments/{assessment.id}/sections/hrdd.act"
    page = real.client.get(url).get_data(as_text=True)
    assert 'name="hrdd-act-csam_reporting-evidence_strength"' in page and ">Independently audited</option>" in page
    forms = Forms(real.client)
    fields = {"hrdd-act-csam_reporting-value": "3", "hrdd-act-csam_reporting-base_version": "0", "save": "Save"}
    forms.post(url, {**fields, "hrdd-act-csam_reporting-evidence_strength": "audited"})
    row = answer_rows(real.session, assessment.id)["hrdd.act.csam_reporting"]
    assert row.meta == {"evidence_strength": "audited"} and row.version == 1
    assert 'selected title="Someone outside' in real.client.get(url).get_data(as_text=True)
    # The same again is no change; the version counter stays.
    again = forms.post(
        url,
        {**fields, "hrdd-act-csam_reporting-base_version": "1", "hrdd-act-csam_reporting-evidence_strength": "audited"},
        follow_redirects=True,
    )
    assert "No changes to save." in again.get_data(as_text=True)
    real.session.expire_all()
    assert answer_rows(real.session, assessment.id)["hrdd.act.csam_reporting"].version == 1
    # Back to the weakest, "stated": nothing is stored, which means the same.
    forms.post(
        url,
        {**fields, "hrdd-act-csam_reporting-base_version": "1", "hrdd-act-csam_reporting-evidence_strength": "stated"},
    )
    real.session.expire_all()
    row = answer_rows(real.session, assessment.id)["hrdd.act.csam_reporting"]
    assert row.meta == {} and row.version == 2


def test_results_page_shows_caps_coverage_confidence_and_not_applicable(real):
    org = real.make.organisation()
    admin = real.make.user(org)
    na = AnswerData(not_applicable=True, justification="Our staff never meet children in person.")
    answers = complete_answers(
        profile_of_org(org),
        **{
            "hrdd.act.csam_reporting": AnswerData(value=0, meta={"evidence_strength": "audited"}),
            "hrdd.act.le_contact_point": 1,
            "sbd.p3.staff_training": na,
        },
    )
    assessment = real.make.assessment(org, admin, answers=answers)
    real.auth.login(admin.email)
    page = real.client.get(f"/assessments/{assessment.id}/results").get_data(as_text=True)
    assert "scored with the Standard child-rights due diligence scoring, version 2027.1" in page
    assert "The overall band is capped at Developing" in page
    assert "Confirmed child sexual abuse material is not reported" in page
    assert "Law enforcement has no single point of contact" in page
    assert "A critical question is below 50 points:" in page  # level 0 and 1 are below 50 points
    assert page.count('class="coverage"') >= 1 + 4 + 10  # overall, modules and sections
    assert "confidence: Low" in page
    assert "Marked not applicable" in page and "Our staff never meet children in person." in page
    assert ">Independently audited</td>" in page  # the evidence column of the breakdown


def test_frozen_2026_1_submission_compared_with_2027_1_and_shown_to_regulators(real):
    from sqlmodel import select

    from dd_toolkit.records.assessments import submit
    from dd_toolkit.records.models import PlatformRole, Recipient

    org = real.make.organisation(name="Frozen Co")
    admin = real.make.user(org)
    na = AnswerData(not_applicable=True, justification="We publish no separate glossary; see our terms.")
    changes = {"hrdd.act.csam_reporting": 0, "trust.policies.csea_definitions": na}
    answers = complete_answers(profile_of_org(org), **changes)
    assessment = real.make.assessment(org, admin, answers=answers)
    submission = submit(real.session, BANK, V2026, assessment, admin, jurisdictions=["SG"])
    frozen = json.loads(submission.snapshot)["score_card"]
    real.auth.login(admin.email)
    page = real.client.get(f"/assessments/{assessment.id}/results").get_data(as_text=True)
    assert "Frozen at submission" in page and "version 2026.1" in page and "Compare with version 2027.1" in page
    compared = real.client.get(f"/assessments/{assessment.id}/results?compare=standard@2027.1").get_data(as_text=True)
    assert "Side by side: version 2026.1 (frozen) and version 2027.1" in compared
    row = compared.split('<th scope="row">Overall</th>')[1].split("</tr>")[0]
    assert "Capped from" in row and "Developing" in row
    assert frozen["methodology"]["version"] == "2026.1"
    # The regulator sees coverage beside the scores and every "not applicable" with its reason.
    real.auth.logout()
    regulator = real.make.user(platform_role=PlatformRole.REGULATOR, jurisdictions=["SG"])
    real.auth.login(regulator.email)
    recipient = real.session.exec(select(Recipient).where(Recipient.submission_id == submission.id)).one()
    review = real.client.get(f"/review/{recipient.id}").get_data(as_text=True)
    assert "Marked not applicable (1)" in review
    assert "We publish no separate glossary; see our terms." in review
    assert 'class="coverage"' in review
    # A card frozen before 2027.1 has no coverage, caps or list: the pages still show the
    # "not applicable" answers, from the frozen answers. (Another company: frozen cards are
    # cached once read, as they never change.)
    from dd_toolkit.records.submissions import record_of

    org = real.make.organisation(name="Older Co")
    admin = real.make.user(org)
    assessment = real.make.assessment(org, admin, answers=complete_answers(profile_of_org(org), **changes))
    submission = submit(real.session, BANK, V2026, assessment, admin, jurisdictions=["SG"])
    record = record_of(real.session, submission.id)
    record.score_card = strip_2027_fields(dict(record.score_card))
    real.session.add(record)
    real.session.commit()
    recipient = real.session.exec(select(Recipient).where(Recipient.submission_id == submission.id)).one()
    review = real.client.get(f"/review/{recipient.id}").get_data(as_text=True)
    assert "Marked not applicable (1)" in review and "We publish no separate glossary" in review
    assert 'class="coverage"' not in review
    real.auth.logout()
    real.auth.login(admin.email)
    page = real.client.get(f"/assessments/{assessment.id}/results").get_data(as_text=True)
    assert "We publish no separate glossary; see our terms." in page
    assert 'class="coverage"' not in page
    compared = real.client.get(f"/assessments/{assessment.id}/results?compare=standard@2027.1").get_data(as_text=True)
    assert "Side by side: version 2026.1 (frozen) and version 2027.1" in compared
    assert 'class="coverage"' in compared  # the re-score under 2027.1 has it


def strip_2027_fields(card: dict) -> dict:
    """A card as methodology code before 2027.1 froze it."""
    for key in ("band_before_cap", "capped_by", "caps", "coverage", "confidence", "not_applicable"):
        card.pop(key, None)
    modules = []
    for module in card["modules"]:
        module = {
            k: v for k, v in module.items() if k not in ("band_before_cap", "capped_by", "coverage", "confidence")
        }
        module["sections"] = [
            {k: v for k, v in s.items() if k not in ("coverage", "confidence")} for s in module["sections"]
        ]
        modules.append(module)
    card["modules"] = modules
    card["lenses"] = [
        {**lens, "items": [{k: v for k, v in i.items() if k not in ("coverage", "confidence")} for i in lens["items"]]}
        for lens in card["lenses"]
    ]
    card["questions"] = [{k: v for k, v in q.items() if k != "evidence_strength"} for q in card["questions"]]
    return card


def test_the_sections_chart_leaves_out_sections_that_do_not_apply(real):
    """A messaging service is not asked about blocklists or payments: those sections are off the
    chart rather than shown as "not scored"."""
    org = real.make.organisation()
    admin = real.make.user(org)
    profile = profile_of_org(org)
    assessment = real.make.assessment(org, admin, answers=complete_answers(profile))
    real.auth.login(admin.email)
    svg = real.client.get(f"/assessments/{assessment.id}/charts/sections.svg").get_data(as_text=True)
    # A long title is drawn on several lines (one text element each): read them back as one.
    drawn = " ".join(" ".join(line.split()) for line in re.findall(r"<text\b[^>]*>([^<]*)</text>", svg))
    applicable = BANK.applicability(profile, {})
    for module in BANK.questionnaires:
        for section in module.sections:
            applies = any(applicable[q.id] and q.is_scored for q in section.questions)
            assert (section.title.get() in drawn) == applies, section.id
    assert "not scored" not in svg


def test_the_exported_summary_shows_coverage_and_confidence(real):
    org = real.make.organisation()
    admin = real.make.user(org)
    answers = complete_answers(
        profile_of_org(org), **{"hrdd.act.csam_reporting": AnswerData(value=4, meta={"evidence_strength": "audited"})}
    )
    assessment = real.make.assessment(org, admin, answers=answers)
    real.auth.login(admin.email)
    html = real.client.get(f"/assessments/{assessment.id}/action-plan.html").get_data(as_text=True)
    summary = html.split('<section class="summary">')[1].split("</section>")[0]
    assert "· coverage 100 %" in summary and "· confidence Low" in summary
    assert "<th>Coverage</th><th>Confidence</th>" in summary

"""RPA indicators under methodology 2027.1, faithful to the RPA text (issue 11, point 4):

- a 7.2.1 component is met only at level 3 (the process is established for every confirmed case;
  the contact point is known to law enforcement before they need it);
- 7.2.1 applies only to institutions that host, transmit or store content from users, and an
  institution it does not apply to is counted apart as "not applicable", never as "not met", on
  the regulator's page, in the CSV and in the PDF, each stating the convention;
- 7.3.1 covers suspicious activities and transactions, applies to payments, virtual currency or
  gifting, and "no qualifying alerts in the period" is not a failure;
- 7.4.1 needs a standalone policy, that covers online protection, and a plan with dated actions.

The 2026.1 methodology keeps its rules: frozen submissions keep their outcomes.
"""

from __future__ import annotations

import csv
import io

import pytest
from sqlmodel import select

from dd_toolkit.engine.content import AnswerData, Profile
from dd_toolkit.engine.indicators import (
    NOT_APPLICABLE,
    Addressed,
    Outcome,
    indicator_csv,
    indicator_reports,
    indicator_rows,
    report_notes,
)
from dd_toolkit.engine.registry import load_content
from dd_toolkit.engine.scoring import score
from dd_toolkit.records import database as db
from dd_toolkit.records.assessments import start_assessment, submit
from dd_toolkit.records.demo import DemoCompany, demo_answer, demo_answers
from dd_toolkit.records.models import IndicatorOutcomeRecord, PlatformRole, Submission

from . import factories
from .conftest import REPO_ROOT, AuthActions

CYCLE = 2026

# Profiles (the named conditions of questionnaires/_taxonomy.yaml decide what applies).
SOCIAL = Profile(
    service_types=("social_network",),
    features=("user_uploads", "direct_messaging", "live_streaming"),
    countries=("SG",),
    size_band="large",
    under18_users="yes",
    hq_country="SG",
)
PAYMENTS_ONLY = Profile(
    service_types=("payments",),
    features=("payments",),
    countries=("SG",),
    size_band="large",
    under18_users="unknown",
    hq_country="SG",
)
# A game with virtual currency or gifting and no payments feature.
GIFTING_GAME = Profile(
    service_types=("gaming",),
    features=("virtual_currency",),
    countries=("SG",),
    size_band="medium",
    under18_users="yes",
    hq_country="SG",
)
# A game with neither payments nor virtual currency.
PLAIN_GAME = Profile(
    service_types=("gaming",),
    features=("direct_messaging",),
    countries=("SG",),
    size_band="medium",
    under18_users="yes",
    hq_country="SG",
)

# Answers on which every component of every indicator is met, under both methodologies.
GOOD = {
    "hrdd.act.csam_identification": 4,
    "hrdd.act.csam_removal": 4,
    "hrdd.act.csam_reporting": 4,
    "hrdd.act.le_contact_point": 4,
    "hrdd.act.suspicious_transactions_mechanism": 4,
    "hrdd.act.suspicious_activity_reporting": 4,
    "hrdd.act.suspicious_transactions_use": "yes",
    "hrdd.policy.safeguarding_policy": "yes",
    "hrdd.policy.safeguarding_plan": 4,
}


@pytest.fixture(scope="module")
def content():
    return load_content(REPO_ROOT)


@pytest.fixture(scope="module")
def method(content):
    found = content.methodology("standard@2027.1")
    assert found is not None, "scoring/standard-2027.1.yaml must load"
    return found


def _company(profile: Profile, maturity: int = 4) -> DemoCompany:
    return DemoCompany(
        "Indicator Test Co",
        "",
        profile.hq_country,
        profile.countries,
        profile.service_types,
        profile.features,
        profile.size_band,
        profile.under18_users,
        "admin@indicators.example",
        maturity,
    )


def answers_for(bank, profile: Profile, overrides: dict | None = None) -> dict[str, AnswerData]:
    """Every applicable question answered (at a high level), the indicators' questions as in
    ``GOOD`` and then ``overrides``, following conditions until nothing new applies."""
    wanted = {**GOOD, **(overrides or {})}
    if "online_harms" in [o.value for o in bank.questions["hrdd.policy.policy_scope"].options]:
        wanted.setdefault("hrdd.policy.policy_scope", ["online_harms"])
    company = _company(profile)
    answers = dict(demo_answers(bank, profile, company, CYCLE))
    for _ in range(10):
        answers.update({qid: AnswerData(value=value) for qid, value in wanted.items() if qid in bank.questions})
        applicable = bank.applicability(profile, answers)
        answers = {qid: a for qid, a in answers.items() if applicable.get(qid)}
        new = [qid for qid, applies in applicable.items() if applies and qid not in answers]
        if not new:
            return answers
        answers.update({qid: demo_answer(company, bank.questions[qid], CYCLE) for qid in new})
    raise AssertionError("the answers do not settle")


def indicators(bank, method, profile: Profile, overrides: dict | None = None) -> dict:
    card = score(bank, method, profile, answers_for(bank, profile, overrides))
    return {i.id: i for i in card.indicators}


def components(result) -> dict[str, bool]:
    return {c.id: c.met for c in result.components}


# -- 7.2.1 ---------------------------------------------------------------------------------------


def test_all_good_answers_meet_every_indicator(content, method):
    found = indicators(content.bank, method, SOCIAL, {"hrdd.act.suspicious_transactions_use": "yes"})
    assert found["RPA:7.2.1"].met is True
    assert found["RPA:7.4.1"].met is True


@pytest.mark.parametrize(
    "question, component",
    [
        ("hrdd.act.csam_identification", "identification"),
        ("hrdd.act.csam_removal", "removal"),
        ("hrdd.act.csam_reporting", "reporting"),
        ("hrdd.act.le_contact_point", "contact_point"),
    ],
)
def test_level_2_does_not_meet_7_2_1_and_level_3_does(content, method, question, component):
    at_2 = indicators(content.bank, method, SOCIAL, {question: 2})["RPA:7.2.1"]
    assert at_2.applies is True
    assert components(at_2)[component] is False
    assert at_2.met is False
    at_3 = indicators(content.bank, method, SOCIAL, {question: 3})["RPA:7.2.1"]
    assert components(at_3)[component] is True and at_3.met is True


def test_2026_1_keeps_its_rules(content):
    """Frozen 2026.1 submissions keep their outcomes: level 2 still met 7.2.1 there, and 7.2.1
    applied to everyone."""
    old = content.methodology("standard@2026.1")
    assert old is not None
    level_2 = {q: 2 for q in list(GOOD)[:4]}
    assert indicators(content.bank, old, SOCIAL, level_2)["RPA:7.2.1"].met is True
    assert indicators(content.bank, old, PAYMENTS_ONLY)["RPA:7.2.1"].applies is True


def test_a_payment_only_institution_is_not_applicable_for_7_2_1(content, method):
    bank = content.bank
    found = indicators(bank, method, PAYMENTS_ONLY)
    assert found["RPA:7.2.1"].applies is False
    assert found["RPA:7.2.1"].met is None  # not applicable, not "not met"
    assert found["RPA:7.3.1"].applies is True
    # Nor does it answer the CSAM questions.
    applicable = bank.applicability(PAYMENTS_ONLY, answers_for(bank, PAYMENTS_ONLY))
    assert not applicable["hrdd.act.csam_reporting"]
    assert not applicable["hrdd.act.csam_identification"]


def test_a_device_maker_without_user_content_is_not_applicable_but_storage_is(content, method):
    device = Profile(service_types=("hardware_software",), features=(), countries=("SG",), size_band="large")
    assert indicators(content.bank, method, device)["RPA:7.2.1"].met is None
    storage = Profile(service_types=("storage",), features=("user_uploads",), countries=("SG",), size_band="medium")
    assert indicators(content.bank, method, storage)["RPA:7.2.1"].applies is True


# -- 7.3.1 ---------------------------------------------------------------------------------------


def test_a_gifting_only_service_falls_under_7_3_1(content, method):
    found = indicators(content.bank, method, GIFTING_GAME)["RPA:7.3.1"]
    assert found.applies is True
    assert found.met is True
    assert set(components(found)) == {"mechanism", "activity_reporting", "use"}
    assert "suspicious activities and transactions" in found.label.lower()
    # Under 2026.1 virtual currency triggered nothing.
    assert indicators(content.bank, content.methodology("standard@2026.1"), GIFTING_GAME)["RPA:7.3.1"].met is None
    # Without payments, virtual currency or gifting 7.3.1 does not apply.
    assert indicators(content.bank, method, PLAIN_GAME)["RPA:7.3.1"].met is None


@pytest.mark.parametrize("value, met", [("yes", True), ("no_alerts", True), ("partial", False), ("no", False)])
def test_no_qualifying_alerts_is_not_a_failure(content, method, value, met):
    found = indicators(content.bank, method, PAYMENTS_ONLY, {"hrdd.act.suspicious_transactions_use": value})
    assert components(found["RPA:7.3.1"])["use"] is met
    assert found["RPA:7.3.1"].met is met


@pytest.mark.parametrize(
    "question", ["hrdd.act.suspicious_transactions_mechanism", "hrdd.act.suspicious_activity_reporting"]
)
def test_7_3_1_needs_level_3_for_transactions_and_activities(content, method, question):
    assert indicators(content.bank, method, GIFTING_GAME, {question: 2})["RPA:7.3.1"].met is False
    assert indicators(content.bank, method, GIFTING_GAME, {question: 3})["RPA:7.3.1"].met is True


# -- 7.4.1 ---------------------------------------------------------------------------------------


def test_7_4_1_needs_a_standalone_policy_online_scope_and_a_dated_plan(content, method):
    bank = content.bank
    scope_options = [o.value for o in bank.questions["hrdd.policy.policy_scope"].options]
    offline = [v for v in scope_options if v != "online_harms"][:1]
    assert offline, "policy_scope must offer more than online_harms"

    def result(**overrides):
        return indicators(bank, method, SOCIAL, overrides)["RPA:7.4.1"]

    met = result()
    assert met.met is True and set(components(met)) == {"policy", "online", "plan"}
    # Child protection inside a broader policy is not a standalone policy, even online and planned.
    inside = result(**{"hrdd.policy.safeguarding_policy": "partial"})
    assert components(inside) == {"policy": False, "online": True, "plan": True}
    # A standalone policy that covers offline protection only.
    offline_only = result(**{"hrdd.policy.policy_scope": offline})
    assert components(offline_only) == {"policy": True, "online": False, "plan": True}
    # A plan without dated actions (level 2) is not enough; level 3 is.
    assert components(result(**{"hrdd.policy.safeguarding_plan": 2}))["plan"] is False
    assert result(**{"hrdd.policy.safeguarding_plan": 3}).met is True
    assert result(**{"hrdd.policy.safeguarding_policy": "no"}).met is False


# -- the report: not applicable counted apart ------------------------------------------------------


def _outcomes(indicator_id: str, met: bool | None, components_met: dict[str, bool]) -> list[Outcome]:
    applies = met is not None
    rows = [Outcome(indicator_id, "", indicator_id, met, applies)]
    if applies:
        rows += [Outcome(indicator_id, c, c, m, True) for c, m in components_met.items()]
    return rows


def test_the_report_counts_not_applicable_apart_from_not_met():
    parts = {"identification": True, "reporting": True}
    misses = {**parts, "reporting": False}
    rows = [
        Addressed("SG", 1, 1, "Meets", ("social_network",), tuple(_outcomes("RPA:7.2.1", True, parts))),
        Addressed("SG", 2, 1, "Misses", ("social_network",), tuple(_outcomes("RPA:7.2.1", False, misses))),
        # A payment-only institution: 7.2.1 does not apply (stored with no component rows).
        Addressed("SG", 3, 1, "Pay", ("payments",), tuple(_outcomes("RPA:7.2.1", None, {}))),
        # As stored from an old 2026.1 submission: 7.3.1 not applicable, applies false.
        Addressed("SG", 4, 1, "Old", ("gaming",), (Outcome("RPA:7.3.1", "", "RPA:7.3.1", None, False),)),
    ]
    report = indicator_reports(2026, rows)["SG"]
    counts = {c.key: c for c in report.by_service_type["all"]}
    whole = counts["RPA:7.2.1"]
    assert (whole.met, whole.not_met, whole.applies, whole.not_applicable) == (1, 1, 2, 1)
    assert whole.companies == ["Meets"]
    reporting = counts["RPA:7.2.1/reporting"]
    assert (reporting.met, reporting.not_met, reporting.applies, reporting.not_applicable) == (1, 1, 2, 1)
    assert (counts["RPA:7.3.1"].applies, counts["RPA:7.3.1"].not_applicable) == (0, 1)
    payments = {c.key: c for c in report.by_service_type["payments"]}
    assert (payments["RPA:7.2.1"].not_met, payments["RPA:7.2.1"].not_applicable) == (0, 1)
    # Through the stored form and back.
    again = type(report).from_dict(report.to_dict())
    assert indicator_rows(again) == indicator_rows(report)
    row = next(r for r in indicator_rows(report) if r["service_type"] == "all" and r["indicator"] == "RPA:7.2.1")
    assert (row["meeting"], row["not_met"], row["institutions"], row["not_applicable"]) == (1, 1, 2, 1)
    # The CSV ends with the convention.
    notes = report_notes(REPO_ROOT)
    table = list(csv.DictReader(io.StringIO(indicator_csv(report, notes))))
    assert table[-1]["indicator"] == "note" and table[-1]["label"] == notes["not_applicable"]


def test_an_old_stored_report_without_not_applicable_still_reads():
    stored = {
        "jurisdiction": "SG",
        "cycle": 2025,
        "institutions": 2,
        "by_service_type": {"all": [{"key": "RPA:7.3.1", "label": "x", "met": 1, "applies": 1, "companies": ["A"]}]},
    }
    from dd_toolkit.engine.indicators import IndicatorReport

    count = IndicatorReport.from_dict(stored).by_service_type["all"][0]
    assert (count.met, count.not_met, count.not_applicable) == (1, 0, 0)


def test_the_convention_is_content():
    notes = report_notes(REPO_ROOT)
    assert "not applicable" in notes["not_applicable"] and "never" in notes["not_applicable"]
    assert notes["working_group_not_applicable"]
    assert NOT_APPLICABLE == "not_applicable"


# -- stored at submission, shown to the regulator -------------------------------------------------


@pytest.fixture
def real(real_app):
    with db.standalone_session(real_app.extensions["dd_engine"]) as session:
        yield session, factories.Factory(session, real_app.extensions["dd_content"])


def _submit(session, make, name: str, profile: Profile, methodology: str, overrides: dict | None = None):
    org = make.organisation(
        name=name,
        hq_country=profile.hq_country,
        countries=list(profile.countries),
        service_types=list(profile.service_types),
        features=list(profile.features),
        size_band=profile.size_band,
        under18_users=profile.under18_users or "yes",
    )
    admin = make.user(org)
    assessment = start_assessment(session, make.bank, org, CYCLE, admin)
    make.answer(assessment, admin, answers_for(make.bank, profile, overrides))
    return submit(session, make.bank, make.content.methodology(methodology), assessment, admin, jurisdictions=["SG"])


def test_the_regulator_report_counts_a_payment_only_institution_apart(real, real_app, monkeypatch):
    session, make = real
    _submit(session, make, "Social Meets", SOCIAL, "standard@2027.1")
    _submit(session, make, "Social Level Two", SOCIAL, "standard@2027.1", {"hrdd.act.csam_reporting": 2})
    paying = _submit(session, make, "Pay Only", PAYMENTS_ONLY, "standard@2027.1")
    # An old submission frozen under 2026.1, to which 7.3.1 does not apply.
    _submit(session, make, "Old Plain Game", PLAIN_GAME, "standard@2026.1")

    stored = session.exec(select(IndicatorOutcomeRecord).where(IndicatorOutcomeRecord.submission_id == paying.id)).all()
    mine = {(o.indicator_id, o.component_id): o for o in stored}
    assert (mine[("RPA:7.2.1", "")].applies, mine[("RPA:7.2.1", "")].met) == (False, None)
    assert not any(i == "RPA:7.2.1" and c for i, c in mine)  # no component counted as failed
    assert mine[("RPA:7.3.1", "")].applies is True
    assert session.get(Submission, paying.id).methodology == "standard@2027.1"

    notes = report_notes(real_app.extensions["dd_content"].root)
    client = real_app.test_client()
    regulator = make.user(platform_role=PlatformRole.REGULATOR, jurisdictions=["SG"])
    AuthActions(client).login(regulator.email)

    page = client.get(f"/review/indicators?country=SG&cycle={CYCLE}").get_data(as_text=True)
    assert "4 submitting institutions." in page
    assert "Not applicable" in page and "Not met" in page
    assert notes["not_applicable"] in page

    text = client.get(f"/review/indicators.csv?country=SG&cycle={CYCLE}").get_data(as_text=True)
    table = list(csv.DictReader(io.StringIO(text)))
    row = {r["indicator"]: r for r in table if r["service_type"] == "all"}
    # 7.2.1: the two social networks apply (one meets, one at level 2 does not); the payment-only
    # institution is not applicable, not "not met". The 2026.1 game still applies under 2026.1.
    whole = row["RPA:7.2.1"]
    assert (whole["meeting"], whole["not_met"], whole["institutions"], whole["not_applicable"]) == ("2", "1", "3", "1")
    assert "Pay Only" not in whole["companies"] and "Social Level Two" not in whole["companies"]
    reporting = row["RPA:7.2.1/reporting"]
    assert (reporting["not_met"], reporting["not_applicable"]) == ("1", "1")
    # 7.3.1: applies to the payments institution only; the social networks and the 2026.1 game
    # (stored as not applicable) are counted apart.
    assert (row["RPA:7.3.1"]["institutions"], row["RPA:7.3.1"]["not_applicable"]) == ("1", "3")
    payments = {r["indicator"]: r for r in table if r["service_type"] == "payments"}
    assert (payments["RPA:7.2.1"]["not_met"], payments["RPA:7.2.1"]["not_applicable"]) == ("0", "1")
    assert table[-1]["indicator"] == "note" and table[-1]["label"] == notes["not_applicable"]

    monkeypatch.setattr("dd_toolkit.engine.documents.pdf_from_html", lambda html: html.encode())
    printed = client.get(f"/review/indicators.pdf?country=SG&cycle={CYCLE}").get_data(as_text=True)
    assert notes["not_applicable"] in printed
    assert "Not applicable" in printed and "Not met" in printed


def test_the_working_group_page_states_the_convention(real, real_app):
    _, make = real
    client = real_app.test_client()
    AuthActions(client).login(make.user(platform_role=PlatformRole.WORKING_GROUP).email)
    page = client.get("/benchmarks/indicators?country=SG").get_data(as_text=True)
    assert report_notes(REPO_ROOT)["working_group_not_applicable"] in page


NETWORK = Profile(
    service_types=("isp",),
    features=(),
    countries=("TH",),
    size_band="large",
    under18_users="yes",
    hq_country="TH",
)
NETWORK_ROUTE = {
    "services.network.url_blocklist": 3,
    "services.network.notice_takedown": 3,
    "services.network.reporting": "yes",
}
WEAK_GENERAL = {"hrdd.act.csam_identification": 1, "hrdd.act.csam_removal": 1, "hrdd.act.csam_reporting": 1}


def test_an_internet_provider_meets_7_2_1_through_its_own_route(content, method):
    """Blocklists, notice and takedown and reporting, at the established level, meet the 7.2.1
    components that the general questions would (issue 11, point 5)."""
    through_network = indicators(content.bank, method, NETWORK, {**WEAK_GENERAL, **NETWORK_ROUTE})["RPA:7.2.1"]
    assert through_network.applies is True and through_network.met is True
    short = {**WEAK_GENERAL, **NETWORK_ROUTE, "services.network.notice_takedown": 2}
    found = components(indicators(content.bank, method, NETWORK, short)["RPA:7.2.1"])
    assert found["removal"] is False and found["identification"] is True and found["reporting"] is True


def test_the_network_route_counts_only_for_network_providers(content, method):
    # A social network's answers to the network module (not asked of it) never meet 7.2.1.
    found = indicators(content.bank, method, SOCIAL, {**WEAK_GENERAL, **NETWORK_ROUTE})["RPA:7.2.1"]
    assert found.met is False


def test_a_generative_ai_service_reports_through_its_misuse_reporting(content, method):
    ai = Profile(
        service_types=("generative_ai",),
        features=("generative_ai",),
        countries=("SG",),
        size_band="medium",
        under18_users="yes",
        hq_country="SG",
    )
    weak = {**WEAK_GENERAL, "services.ai.misuse_reporting": 3}
    assert components(indicators(content.bank, method, ai, weak)["RPA:7.2.1"])["reporting"] is True
    weaker = {**WEAK_GENERAL, "services.ai.misuse_reporting": 2}
    assert components(indicators(content.bank, method, ai, weaker)["RPA:7.2.1"])["reporting"] is False

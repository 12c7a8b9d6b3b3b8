"""Demo data: several companies with realistic profiles, one with a submitted assessment and
one with a half-finished one, and an account for every role.

Answers are derived from each question's id and the company's maturity, so the same bank
always gives the same demo (no randomness), and any bank works.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from sqlmodel import Session, select

from dd_toolkit.engine.completion import progress
from dd_toolkit.engine.content import AnswerData, AnswerType, Evidence, Profile, Question, QuestionBank
from dd_toolkit.engine.content.conditions import RiskLevels
from dd_toolkit.engine.registry import Content
from dd_toolkit.engine.transparency import load_metric_checks
from dd_toolkit.records import accounts
from dd_toolkit.records.aggregates import refresh_all
from dd_toolkit.records.assessments import (
    answers_of,
    create_organisation,
    profile_of,
    save_answers,
    start_assessment,
    submit,
)
from dd_toolkit.records.assignments import assign_sections
from dd_toolkit.records.demo_registers import load_demo_register
from dd_toolkit.records.models import Membership, Organisation, OrgRole, PlatformRole
from dd_toolkit.records.risk import risk_levels

DEMO_PASSWORD = "demo-password-2026"
EVIDENCE_BY_LEVEL = {2: "documented", 3: "tested", 4: "audited"}
DEMO_CYCLE = dt.date.today().year


@dataclass(frozen=True)
class DemoCompany:
    name: str
    description: str
    hq_country: str
    countries: tuple[str, ...]
    service_types: tuple[str, ...]
    features: tuple[str, ...]
    size_band: str
    under18_users: str
    admin_email: str
    maturity: int  # typical maturity level 0-4 the company answers around
    assessment: str | None = None  # "submitted", "half" or None


COMPANIES = (
    DemoCompany(
        "Lumen Social",
        "A photo and short-video social network popular with teenagers.",
        "SG",
        ("SG", "MY", "ID", "PH", "TH", "VN"),
        ("social_network",),
        ("user_uploads", "live_streaming", "direct_messaging", "public_profiles", "recommender", "virtual_currency"),
        "large",
        "yes",
        "admin@lumen.example",
        3,
        "submitted",
    ),
    DemoCompany(
        "KiteChat",
        "An encrypted messaging app with group chats and voice calls.",
        "ID",
        ("ID", "MY", "PH"),
        ("messaging",),
        ("direct_messaging", "e2e_encryption", "user_uploads", "anonymous_accounts"),
        "medium",
        "yes",
        "admin@kitechat.example",
        2,
        "half",
    ),
    DemoCompany(
        "Pixel Quest Games",
        "A mobile multiplayer game with in-game chat.",
        "VN",
        ("VN", "PH", "TH"),
        ("gaming",),
        ("direct_messaging", "public_profiles", "virtual_currency"),
        "startup",
        "yes",
        "admin@pixelquest.example",
        1,
    ),
    DemoCompany(
        "Andaman Pay",
        "A mobile wallet and payment service for merchants and consumers.",
        "TH",
        ("TH", "KH", "LA", "MM"),
        ("payments",),
        ("payments",),
        "large",
        "unknown",
        "admin@andamanpay.example",
        2,
    ),
    DemoCompany(
        "Archipelago Cloud",
        "Consumer cloud storage with photo backup and sharing links.",
        "MY",
        ("MY", "BN", "SG"),
        ("storage",),
        ("user_uploads",),
        "medium",
        "yes",
        "admin@archipelago.example",
        2,
    ),
    DemoCompany(
        "Nusantara Mobile",
        "A mobile network operator and home broadband provider.",
        "ID",
        ("ID", "TL"),
        ("mobile_operator", "isp"),
        ("payments",),
        "very_large",
        "yes",
        "admin@nusantara.example",
        2,
    ),
)

# Peer companies whose submitted, consenting assessments make the demo benchmark large enough
# to show some peer groups and to suppress others. (name, service types, size, countries,
# features, maturity, cycles back that were submitted).
PEERS = (
    (
        "Merlion Video",
        ("streaming",),
        "large",
        ("SG", "MY", "ID"),
        ("user_uploads", "live_streaming", "recommender"),
        3,
        (2, 1),
    ),
    (
        "Batik Social",
        ("social_network",),
        "large",
        ("ID",),
        ("user_uploads", "direct_messaging", "public_profiles"),
        2,
        (2, 1),
    ),
    ("Saigon Play", ("gaming",), "medium", ("VN", "TH"), ("direct_messaging", "virtual_currency", "payments"), 1, (1,)),
    (
        "Kopi Chat",
        ("messaging",),
        "large",
        ("MY", "SG", "BN"),
        ("direct_messaging", "e2e_encryption", "user_uploads"),
        2,
        (2, 1),
    ),
    ("Irrawaddy Net", ("isp",), "large", ("MM",), (), 1, (1,)),
    ("Lanna Games", ("gaming",), "startup", ("TH",), ("direct_messaging", "virtual_currency"), 1, (1,)),
    ("Visayas Telecom", ("mobile_operator", "isp"), "very_large", ("PH",), ("payments",), 2, (2, 1)),
    ("Borneo Drive", ("storage",), "medium", ("MY", "BN", "ID"), ("user_uploads",), 2, (1,)),
    ("Champa Pay", ("payments",), "large", ("LA", "KH", "TH"), ("payments",), 2, (2, 1)),
    (
        "Luzon Live",
        ("streaming", "social_network"),
        "large",
        ("PH", "SG"),
        ("live_streaming", "virtual_currency", "user_uploads", "direct_messaging"),
        3,
        (2, 1),
    ),
    ("Mekong Devices", ("hardware_software",), "very_large", ("VN", "KH", "TH", "SG"), ("location_sharing",), 3, (1,)),
    (
        "Java Social",
        ("social_network", "messaging"),
        "very_large",
        ("ID", "MY", "SG", "PH"),
        ("user_uploads", "direct_messaging", "public_profiles", "recommender", "live_streaming"),
        3,
        (2, 1),
    ),
    ("Straits Wallet", ("payments",), "medium", ("SG", "MY"), ("payments",), 3, (1,)),
    ("Angkor Arcade", ("gaming",), "startup", ("KH",), ("direct_messaging", "payments"), 0, (1,)),
)

# Free-text answers of the demo companies: plausible, clearly the demo's, never real facts.
DEMO_TEXTS = {
    "hrdd.assess.top_risks": (
        "Our 2025 assessment rated contact from unknown adults through direct messages as high "
        "risk for 13-15 year olds, re-sharing of self-generated images as high, and bullying in "
        "comments as medium. Live gifting to under-18 streamers was rated medium after new limits."
    ),
    "trust.policies.approach": (
        "{name} does not tolerate child sexual exploitation and abuse on its services. We prohibit "
        "it in our terms, look for it proactively, remove it, report it to the authorities, and "
        "design features so that children are protected by default."
    ),
    "trust.policies.scope": (
        "This reporting covers the {name} app and website in every country where we operate. It "
        "does not yet cover the business messaging product launched this year."
    ),
    "trust.processes.detection_summary": (
        "Uploaded images and videos are matched against industry hash lists; classifiers flag "
        "possible new material and grooming patterns for trained reviewers; user, trusted flagger "
        "and hotline reports are reviewed by a specialist team."
    ),
}

PLATFORM_ACCOUNTS = (
    ("regulator@demo.example", "Rina Regulator", PlatformRole.REGULATOR, ["MY", "SG"]),
    ("wg@demo.example", "Wira Working-Group", PlatformRole.WORKING_GROUP, []),
    ("platform@demo.example", "Pat Platform-Admin", PlatformRole.PLATFORM_ADMIN, []),
)
CONTRIBUTOR_EMAIL = "contributor@lumen.example"
# The half-finished company shares its draft: the admin answers the first half of the sections,
# this contributor is asked to answer the rest.
DRAFT_CONTRIBUTOR_EMAIL = "contributor@kitechat.example"


def _spread(company: DemoCompany, question: Question, span: int) -> int:
    """A stable offset in [-1, 1] per company and question, for some variety."""
    digest = hashlib.sha256(f"{company.name}/{question.id}".encode()).digest()
    return digest[0] % span - span // 2


def demo_answer(company: DemoCompany, question: Question, cycle: int) -> AnswerData:
    level = max(0, min(4, company.maturity + _spread(company, question, 3)))
    kind = question.type
    if kind is AnswerType.MATURITY:
        value = level
    elif kind is AnswerType.YES_PARTIAL_NO:
        value = "yes" if level >= 3 else "partial" if level >= 1 else "no"
    elif kind is AnswerType.SINGLE:
        ranked = sorted(question.options, key=lambda o: o.points or 0)
        value = ranked[min(len(ranked) - 1, level * len(ranked) // 5)].value
    elif kind is AnswerType.MULTI:
        count = max(1, round(len(question.options) * (level + 1) / 5))
        value = [o.value for o in question.options[:count]]
    elif kind is AnswerType.NUMBER:
        seed = int(hashlib.sha256(question.id.encode()).hexdigest()[:4], 16)
        unit = question.unit.get("en").lower() if question.unit else ""
        if "%" in unit or "percent" in unit:
            value = 40 + 12 * company.maturity + seed % 10
        elif "hour" in unit:
            value = (2 + seed % 20) * (5 - company.maturity)
        else:
            value = (10 + seed % 900) * (company.maturity + 1)
        if question.maximum is not None:
            value = min(value, question.maximum)
        if question.minimum is not None:
            value = max(value, question.minimum)
        value = int(value)
    elif kind is AnswerType.TEXT:
        value = DEMO_TEXTS.get(question.id, "Answered for the demonstration.").format(name=company.name)
    else:
        value = dt.date(cycle - 1, 1 + len(question.id) % 12, 15).isoformat()
    meta = {}
    if question.metric:
        meta = {
            "period_start": f"{cycle - 1}-01-01",
            "period_end": f"{cycle - 1}-12-31",
            "methodology": "Counted once per unique item from the moderation case system (demo data).",
        }
    evidence = ()
    if kind is AnswerType.MATURITY and level >= 2:
        slug = company.name.lower().replace(" ", "")
        evidence = (Evidence(f"https://{slug}.example/policies/{question.id}", "Internal document (demo)"),)
        # Stronger practices come with stronger proof: documented, tested, then audited.
        meta["evidence_strength"] = EVIDENCE_BY_LEVEL[level]
    return AnswerData(value=value, evidence=evidence, meta=meta)


def demo_answers(
    bank: QuestionBank,
    profile: Profile,
    company: DemoCompany,
    cycle: int,
    sections=None,
    risk: RiskLevels | None = None,
    given: Mapping[str, AnswerData] | None = None,
) -> dict[str, AnswerData]:
    """The company's answer to every applicable question (optionally only in some sections),
    following conditions on earlier answers until nothing new applies; ``risk``: the levels of
    its risk register, which may bring questions in. With ``given`` (answers already saved),
    only the answers to add."""
    answers: dict[str, AnswerData] = dict(given or {})
    while True:
        applicable = bank.applicability(profile, answers, risk)
        todo = [
            bank.questions[qid]
            for qid, applies in applicable.items()
            if applies and qid not in answers and (sections is None or bank.section_of[qid].id in sections)
        ]
        if not todo:
            break
        for question in todo:
            answers[question.id] = demo_answer(company, question, cycle)
    answers = _consistent_metrics(bank, answers)
    return {qid: a for qid, a in answers.items() if qid not in (given or {})}


def _consistent_metrics(bank: QuestionBank, answers: dict[str, AnswerData]) -> dict[str, AnswerData]:
    """Demo figures that pass the content's metric checks: a figure above the sum it must stay
    within (restored after appeal within appeals received, ...) is lowered to two fifths of it."""
    for check in load_metric_checks():
        if check.kind != "at_most":
            continue
        (metric,) = check.metrics
        terms = [answers.get(qid) for qid in check.limit]
        if metric not in answers or any(t is None or not isinstance(t.value, int) for t in terms):
            continue
        limit = sum(t.value for t in terms)
        if isinstance(answers[metric].value, int) and answers[metric].value > limit:
            answers[metric] = dataclasses.replace(answers[metric], value=limit * 2 // 5)
    return answers


def _answer_all(db: Session, bank: QuestionBank, company: DemoCompany, assessment, sections=None, rules=None):
    """Answer every applicable question through save_answers (as a user would); with
    ``rules`` (the methodology's ``risk``), those its risk register brings in too."""
    org = db.get(Organisation, assessment.organisation_id)
    given = answers_of(db, assessment.id)
    risk = risk_levels(db, assessment, rules)
    answers = demo_answers(bank, profile_of(org), company, assessment.cycle, sections, risk, given)
    if answers:
        save_answers(db, assessment, None, {qid: (a, 0) for qid, a in answers.items()})


def load_demo(db: Session, content: Content) -> bool:
    """Load the demo once; returns False when it is already there."""
    bank = content.bank
    if db.exec(select(Organisation).where(Organisation.name == COMPANIES[0].name)).first():
        return False
    for company in COMPANIES:
        org, admin = accounts.register_organisation(
            db,
            organisation_name=company.name,
            name=f"{company.name} Admin",
            email=company.admin_email,
            password=DEMO_PASSWORD,
        )
        org.description = company.description
        org.hq_country = company.hq_country
        org.countries = list(company.countries)
        org.service_types = list(company.service_types)
        org.features = list(company.features)
        org.size_band = company.size_band
        org.under18_users = company.under18_users
        db.add(org)
        db.commit()
        if company.assessment == "submitted":
            contributor = accounts.create_user(
                db, email=CONTRIBUTOR_EMAIL, name="Lumen Contributor", password=DEMO_PASSWORD
            )
            db.add(Membership(user_id=contributor.id, organisation_id=org.id, role=OrgRole.CONTRIBUTOR))
            db.commit()
            assessment = start_assessment(db, bank, org, DEMO_CYCLE - 1, admin)
            _answer_all(db, bank, company, assessment)
            load_demo_register(db, content, assessment, company.name, admin)  # frozen with the submission
            db.commit()
            # The questions the register brings in (harms rated medium or high), answered too.
            _answer_all(db, bank, company, assessment, rules=content.current_methodology.risk)
            submit(
                db,
                bank,
                content.current_methodology,
                assessment,
                admin,
                benchmark_consent=True,
                jurisdictions=[c for c in company.countries if c in bank.taxonomy.asean_countries],
                refresh_aggregates=False,
            )
        elif company.assessment == "half":
            assessment = start_assessment(db, bank, org, DEMO_CYCLE, admin)
            section_ids = [s.id for m in bank.questionnaires for s in m.sections]
            _answer_all(db, bank, company, assessment, set(section_ids[: len(section_ids) // 2]))
            load_demo_register(db, content, assessment, company.name, admin)
            db.commit()
            _answer_all(db, bank, company, assessment, set(section_ids[: len(section_ids) // 2]),
                        rules=content.current_methodology.risk)  # fmt: skip
            colleague = accounts.create_user(
                db, email=DRAFT_CONTRIBUTOR_EMAIL, name=f"{company.name} Contributor", password=DEMO_PASSWORD
            )
            db.add(Membership(user_id=colleague.id, organisation_id=org.id, role=OrgRole.CONTRIBUTOR))
            db.commit()
            risk = risk_levels(db, assessment, content.current_methodology.risk)
            state = progress(bank, profile_of(org), answers_of(db, assessment.id), risk)
            first_half = set(section_ids[: len(section_ids) // 2])
            choices = {
                s.section.id: (None, admin.id if s.section.id in first_half else colleague.id)
                for s in state.sections
                if s.applicable
            }
            assign_sections(db, assessment, choices, section_ids=section_ids, by=admin)
    for name, services, size, countries, features, maturity, cycles_back in PEERS:
        company = DemoCompany(
            name,
            "A peer company in the demonstration benchmark.",
            countries[0],
            countries,
            services,
            features,
            size,
            "yes",
            f"admin@{name.lower().replace(' ', '')}.example",
            maturity,
        )
        org = _organisation(db, company)
        for back in sorted(cycles_back, reverse=True):
            # Two cycles back the company was one maturity level lower: trends show progress.
            earlier = dataclasses.replace(company, maturity=max(0, maturity - back + 1))
            assessment = start_assessment(db, bank, org, DEMO_CYCLE - back, None)
            _answer_all(db, bank, earlier, assessment)
            submit(
                db,
                bank,
                content.current_methodology,
                assessment,
                None,
                benchmark_consent=True,
                jurisdictions=[c for c in countries if c in bank.taxonomy.asean_countries],
                refresh_aggregates=False,
            )
    for email, name, role, jurisdictions in PLATFORM_ACCOUNTS:
        user = accounts.create_user(
            db, email=email, name=name, password=DEMO_PASSWORD, platform_role=role, jurisdictions=jurisdictions
        )
        db.commit()
        if role == PlatformRole.REGULATOR:
            # As the operator would with ``dd-toolkit confirm-regulator``: the first regulator of
            # a jurisdiction takes effect only when confirmed.
            accounts.confirm_by_operator(db, user)
    db.commit()
    # Reports and the working group's first release once, over the whole demo.
    refresh_all(db, bank, content.current_methodology, bulk_load=True)
    return True


def _organisation(db: Session, company: DemoCompany) -> Organisation:
    profile = Profile(
        service_types=company.service_types,
        features=company.features,
        countries=company.countries,
        size_band=company.size_band,
        under18_users=company.under18_users,
        hq_country=company.hq_country,
    )
    org = create_organisation(db, company.name, profile, None, description=company.description, source="demo")
    db.commit()
    return org


def demo_loaded(db: Session) -> bool:
    """Whether the demo accounts are there (``load-demo`` has run on this database)."""
    return accounts.find_user(db, COMPANIES[0].admin_email) is not None


def sign_in_help() -> str:
    lines = [f"Demo sign-ins (password for all: {DEMO_PASSWORD}):"]
    lines.append(f"  company admin        {COMPANIES[0].admin_email}  ({COMPANIES[0].name}, submitted assessment)")
    lines.append(f"  company contributor  {CONTRIBUTOR_EMAIL}")
    lines.append(f"  company admin        {COMPANIES[1].admin_email}  ({COMPANIES[1].name}, half-finished assessment)")
    lines.append(f"  company contributor  {DRAFT_CONTRIBUTOR_EMAIL}  (asked to answer half of its sections)")
    for email, _name, role, jurisdictions in PLATFORM_ACCOUNTS:
        label = role.value.replace("_", " ")
        extra = f"  (jurisdictions: {', '.join(jurisdictions)})" if jurisdictions else ""
        lines.append(f"  {label:<20} {email}{extra}")
    return "\n".join(lines)

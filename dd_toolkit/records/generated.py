"""Generated demo companies, for a benchmark and regulator views with realistic volume:
``dd-toolkit load-demo --companies N [--seed S]``.

Every company gets a profile drawn from the taxonomy (service types, size band, a
headquarters and the ASEAN countries it operates in, features that fit its services,
under-18 users) and two submitted assessments, one per cycle, the later one often a little
more mature. The same seed always gives the same companies (a ``random.Random(seed)``,
never the global generator), and answers come from :func:`demo.demo_answer`, so every
required question is answered.

A company's two drafts and their answers are inserted in bulk (one audit event per company
records that they were generated, instead of one per answer); each draft is then submitted
through the product's own :func:`submit`, so the frozen snapshot, its score card, the decoded
record and the regulators' recipients are exactly what a real submission stores. The stored
aggregates are refreshed once at the end, not after every submission.
"""

from __future__ import annotations

import gc
import random
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, select

from dd_toolkit.engine import portable
from dd_toolkit.engine.content import AnswerData, Profile, QuestionBank, Taxonomy
from dd_toolkit.engine.registry import Content
from dd_toolkit.records.aggregates import refresh_all
from dd_toolkit.records.assessments import create_organisation, record, submit
from dd_toolkit.records.demo import DEMO_CYCLE, DemoCompany, demo_answers
from dd_toolkit.records.models import Answer, Assessment, Organisation, utcnow

CONSENT_SHARE = 0.8  # the share of generated companies that consent to the benchmark

PREFIXES = (
    "Anggrek", "Bayu", "Bintang", "Bunga", "Cahaya", "Delima", "Garuda", "Halo", "Indah", "Jade",
    "Kapok", "Kenari", "Kopi", "Lotus", "Mango", "Mawar", "Melati", "Mutiara", "Naga", "Nipa",
    "Orchid", "Padi", "Pandan", "Pelangi", "Rambutan", "Rimba", "Sampan", "Samudra", "Selat", "Sinar",
    "Suria", "Tala", "Teak", "Tiga", "Tropica", "Ubin", "Wau", "Zen", "Coral", "Monsoon",
)  # fmt: skip
SUFFIXES = (
    "bay", "beam", "byte", "cast", "dot", "flow", "gate", "grid", "hub", "kit",
    "leaf", "link", "loop", "nest", "path", "point", "spark", "tide", "verse", "wave",
)  # fmt: skip

# What a company of each service type is called, which features it tends to have (with how
# likely), which other service type it sometimes also offers, and how likely children use it.
KINDS = {
    "isp": ("Net", "Broadband", "Fibre", "Internet"),
    "mobile_operator": ("Mobile", "Telecom", "Cellular", "Telco"),
    "social_network": ("Social", "Community", "Circle", "Connect"),
    "messaging": ("Chat", "Messenger", "Talk", "Call"),
    "gaming": ("Games", "Play", "Arcade", "Studios"),
    "hardware_software": ("Devices", "Labs", "Systems", "Technologies"),
    "streaming": ("Video", "Stream", "TV", "Music"),
    "storage": ("Cloud", "Drive", "Vault", "Share"),
    "payments": ("Pay", "Wallet", "Money", "Finance"),
}
GENERIC_KINDS = ("Digital", "Online", "Group", "Technologies")
FEATURES = {
    "isp": {"payments": 0.4, "location_sharing": 0.1},
    "mobile_operator": {"payments": 0.8, "location_sharing": 0.3, "direct_messaging": 0.3},
    "social_network": {
        "user_uploads": 0.95,
        "public_profiles": 0.9,
        "direct_messaging": 0.85,
        "recommender": 0.8,
        "live_streaming": 0.5,
        "anonymous_accounts": 0.4,
        "virtual_currency": 0.3,
        "location_sharing": 0.3,
        "generative_ai": 0.3,
    },
    "messaging": {
        "direct_messaging": 1.0,
        "user_uploads": 0.8,
        "e2e_encryption": 0.7,
        "location_sharing": 0.4,
        "anonymous_accounts": 0.3,
        "payments": 0.2,
        "generative_ai": 0.15,
    },
    "gaming": {
        "direct_messaging": 0.8,
        "virtual_currency": 0.8,
        "payments": 0.7,
        "public_profiles": 0.6,
        "anonymous_accounts": 0.5,
        "user_uploads": 0.3,
        "live_streaming": 0.2,
    },
    "hardware_software": {
        "location_sharing": 0.6,
        "generative_ai": 0.4,
        "user_uploads": 0.3,
        "payments": 0.3,
        "recommender": 0.2,
    },
    "streaming": {
        "recommender": 0.95,
        "live_streaming": 0.6,
        "user_uploads": 0.5,
        "payments": 0.5,
        "public_profiles": 0.4,
        "virtual_currency": 0.3,
        "direct_messaging": 0.2,
    },
    "storage": {"user_uploads": 1.0, "anonymous_accounts": 0.3, "payments": 0.3},
    "payments": {"payments": 1.0, "virtual_currency": 0.2, "direct_messaging": 0.1},
}
ALSO_OFFERS = {
    "isp": ("mobile_operator",),
    "mobile_operator": ("isp",),
    "social_network": ("messaging", "streaming"),
    "messaging": ("social_network", "payments"),
    "gaming": ("streaming", "social_network"),
    "hardware_software": ("storage", "gaming"),
    "streaming": ("social_network",),
    "storage": ("hardware_software",),
    "payments": ("messaging",),
}
UNDER18 = {  # weights of "yes", "unknown", "no"
    "social_network": (90, 10, 0),
    "messaging": (90, 10, 0),
    "gaming": (92, 8, 0),
    "streaming": (85, 15, 0),
    "isp": (70, 30, 0),
    "mobile_operator": (75, 25, 0),
    "hardware_software": (60, 30, 10),
    "storage": (60, 30, 10),
    "payments": (30, 40, 30),
}
# How often each service type and ASEAN headquarters turns up (one "deck" holds every one at
# least once, so a few dozen companies already cover them all).
SERVICE_WEIGHTS = {"social_network": 2, "gaming": 2, "payments": 2}
HQ_WEIGHTS = {"SG": 3, "ID": 2, "MY": 2, "VN": 2, "TH": 2, "PH": 2}
FOREIGN_HQ_SHARE = 0.12
SIZE_WEIGHTS = {"startup": 30, "medium": 30, "large": 25, "very_large": 15}
TELCO_SIZE_WEIGHTS = {"startup": 5, "medium": 25, "large": 40, "very_large": 30}
# How many other ASEAN countries a company of each size operates in (inclusive range).
REACH = {"startup": (0, 2), "medium": (0, 3), "large": (1, 6), "very_large": (3, 10)}
# Weights of maturity 0-4 in the first cycle, by size band.
MATURITY = {
    "startup": (35, 35, 20, 10, 0),
    "medium": (15, 30, 35, 15, 5),
    "large": (5, 20, 35, 30, 10),
    "very_large": (0, 10, 30, 40, 20),
}
NOUNS = {
    "isp": "internet provider",
    "mobile_operator": "mobile operator",
    "social_network": "social network",
    "messaging": "messaging app",
    "gaming": "online game publisher",
    "hardware_software": "device and software maker",
    "streaming": "streaming service",
    "storage": "cloud storage service",
    "payments": "payment service",
}
THE = ("Philippines", "Netherlands", "United", "Republic")  # country names said with "the"
SIZE_WORDS = {"startup": "start-up", "medium": "mid-sized", "large": "large", "very_large": "very large"}


@dataclass(frozen=True)
class GeneratedCompany:
    index: int
    name: str
    description: str
    profile: Profile
    maturities: tuple[int, int]  # first and second cycle
    benchmark_consent: bool


class _Deck:
    """Draws from a shuffled multiset, refilled when empty: random, but balanced."""

    def __init__(self, rng: random.Random, weights: dict[str, int]):
        self.rng, self.cards, self.items = rng, [], [k for k, n in weights.items() for _ in range(n)]

    def draw(self) -> str:
        if not self.cards:
            self.cards = list(self.items)
            self.rng.shuffle(self.cards)
        return self.cards.pop()


def _weighted(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def generate_companies(
    taxonomy: Taxonomy, count: int, seed: int = 0, taken: Sequence[str] = ()
) -> list[GeneratedCompany]:
    """``count`` company profiles for ``seed``, with names unlike any in ``taken``. Pure."""
    rng = random.Random(seed)
    service_ids = taxonomy.ids("service_types")
    sizes = taxonomy.ids("size_bands")
    under18 = taxonomy.ids("under18_users")
    features_order = taxonomy.ids("features")
    asean = taxonomy.asean_countries
    foreign = [c for c in taxonomy.ids("countries") if c not in asean and c != "OTHER"]
    services = _Deck(rng, {s: SERVICE_WEIGHTS.get(s, 1) for s in service_ids})
    hqs = _Deck(rng, {c: HQ_WEIGHTS.get(c, 1) for c in asean})
    names = {n.casefold() for n in taken}
    companies = []
    for index in range(count):
        primary = services.draw()
        service_types = [primary]
        partners = [s for s in ALSO_OFFERS.get(primary, ()) if s in service_ids]
        if partners and rng.random() < (0.4 if primary in ("isp", "mobile_operator") else 0.2):
            service_types.append(rng.choice(partners))
        telco = primary in ("isp", "mobile_operator")
        size = _weighted(rng, TELCO_SIZE_WEIGHTS if telco else SIZE_WEIGHTS)
        if size not in sizes:
            size = rng.choice(sizes)
        hq = rng.choice(foreign) if foreign and rng.random() < FOREIGN_HQ_SHARE else hqs.draw()
        low, high = REACH.get(size, (0, 3))
        # Countries of operation: the ASEAN headquarters first, then the other ASEAN Member States.
        others = [c for c in asean if c != hq]
        reach = rng.sample(others, min(len(others), rng.randint(max(low, 0 if hq in asean else 1), high)))
        countries = [*([hq] if hq in asean else []), *(c for c in asean if c in reach)]
        likely: dict[str, float] = {}
        for service in service_types:
            for feature, chance in FEATURES.get(service, {}).items():
                likely[feature] = max(chance, likely.get(feature, 0.0))
        features = [f for f in features_order if f in likely and rng.random() < likely[f]]
        yes, unknown, no = UNDER18.get(primary, (80, 20, 0))
        children = _weighted(rng, {"yes": yes, "unknown": unknown, "no": no})
        if children not in under18:
            children = under18[0]
        first = rng.choices(range(5), weights=MATURITY.get(size, (20, 20, 20, 20, 20)))[0]
        step = rng.random()
        second = min(4, first + 1) if step < 0.55 else max(0, first - 1) if step < 0.6 else first
        consent = rng.random() < CONSENT_SHARE
        kind = rng.choice(KINDS.get(primary, GENERIC_KINDS))
        name = f"{rng.choice(PREFIXES)}{rng.choice(SUFFIXES)} {kind}"
        unique, number = name, 2
        while unique.casefold() in names:
            unique, number = f"{name} {number}", number + 1
        names.add(unique.casefold())
        offer = " and ".join(NOUNS.get(s) or taxonomy.label("service_types", s).lower() for s in service_types)
        where = taxonomy.label("countries", hq)
        where = f"the {where}" if where.startswith(THE) else where
        description = (
            f"A {SIZE_WORDS.get(size, size)} {offer} headquartered in {where}, serving users in "
            f"{len(countries)} ASEAN Member State{'' if len(countries) == 1 else 's'}."
        )
        profile = Profile(
            service_types=tuple(service_types),
            features=tuple(features),
            countries=tuple(countries),
            size_band=size,
            under18_users=children,
            hq_country=hq,
        )
        companies.append(GeneratedCompany(index, unique, description, profile, (first, second), consent))
    return companies


def _answer_rows(assessment_id: int, answers: dict[str, AnswerData]) -> list[dict]:
    now = utcnow()
    return [
        {
            "assessment_id": assessment_id,
            "question_id": qid,
            "version": 1,
            "updated_by_id": None,
            "updated_at": now,
            **portable.answer_fields(answer),
        }
        for qid, answer in answers.items()
    ]


def load_generated(db: Session, content: Content, companies: int, seed: int = 0) -> int:
    """Add ``companies`` generated companies, each with two submitted assessments; returns
    how many were added. The same seed gives the same companies."""
    bank: QuestionBank = content.bank
    method = content.current_methodology
    asean = set(bank.taxonomy.asean_countries)
    taken = db.exec(select(Organisation.name)).all()
    cycles = (DEMO_CYCLE - 1, DEMO_CYCLE)
    with bulk_loading(db):
        for company in generate_companies(bank.taxonomy, companies, seed, taken):
            _load_company(db, content, company, seed, cycles, asean)
    # The stored benchmark and indicator reports are recomputed once, not after every submission.
    refresh_all(db, bank, method, bulk_load=True)
    return companies


@contextmanager
def bulk_loading(db: Session) -> Iterator[None]:
    """Settings for loading many rows at once, put back afterwards.

    On SQLite the disk is not synced at every commit (WAL mode keeps the database consistent;
    at worst a power cut loses the last commits of the load). Garbage is collected less often,
    and not among the long-lived objects (content, mappers): a load makes many short-lived ORM
    objects, and about a tenth of the time went to collecting them."""
    connection = db.connection()
    synchronous = None
    if connection.dialect.name == "sqlite":
        synchronous = int(connection.exec_driver_sql("PRAGMA synchronous").scalar())
        connection.exec_driver_sql("PRAGMA synchronous=NORMAL")
    db.commit()
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()
        if synchronous is not None:
            db.rollback()  # nothing to roll back after a complete load: everything is committed
            db.connection().exec_driver_sql(f"PRAGMA synchronous={synchronous}")
            db.commit()


def _load_company(db: Session, content: Content, company: GeneratedCompany, seed: int, cycles, asean) -> None:
    """The company, its two drafts with every answer in one insert, then each submitted."""
    bank, method = content.bank, content.current_methodology
    profile = company.profile
    answer_sets = []
    for maturity, cycle in zip(company.maturities, cycles, strict=True):
        who = DemoCompany(company.name, company.description, profile.hq_country, profile.countries,
                          profile.service_types, profile.features, profile.size_band,
                          profile.under18_users, "", maturity)  # fmt: skip
        answer_sets.append(demo_answers(bank, profile, who, cycle))
    org = create_organisation(db, company.name, profile, None, description=company.description, source="generated")
    # A new organisation's first draft of each cycle, as start_assessment would make it.
    drafts = [
        Assessment(organisation_id=org.id, cycle=cycle, version=1, questionnaire_versions=bank.versions())
        for cycle in cycles
    ]
    db.add_all(drafts)
    db.flush()
    db.execute(
        sa.insert(Answer.__table__),  # Core: one multi-row insert, no ORM bookkeeping
        [row for draft, answers in zip(drafts, answer_sets, strict=True) for row in _answer_rows(draft.id, answers)],
    )
    record(
        db,
        user=None,
        organisation_id=org.id,
        action="demo.generate",
        entity="organisation",
        entity_id=org.id,
        detail={
            "seed": seed,
            "index": company.index,
            "assessments": [draft.id for draft in drafts],
            "maturity": dict(zip(map(str, cycles), company.maturities, strict=True)),
            "answers": {str(cycle): len(answers) for cycle, answers in zip(cycles, answer_sets, strict=True)},
            "benchmark_consent": company.benchmark_consent,
        },
    )
    for draft in drafts:  # each submission commits (the first one with the company and its drafts)
        submit(
            db,
            bank,
            method,
            draft,
            None,
            benchmark_consent=company.benchmark_consent,
            jurisdictions=[c for c in profile.countries if c in asean],
            refresh_aggregates=False,
        )

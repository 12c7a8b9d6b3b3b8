"""Generated demo companies, for a benchmark and regulator views with realistic volume:
``dd-toolkit load-demo --companies N [--seed S]``.

Every company gets a profile drawn from the taxonomy (service types, size band, a
headquarters and the ASEAN countries it operates in, features that fit its services,
under-18 users) and two submitted assessments, one per cycle, the later one often a little
more mature. The same seed always gives the same companies (a ``random.Random(seed)``,
never the global generator), and answers come from :func:`demo.demo_answer`, so every
required question is answered.

Companies are stored a batch at a time, each table's rows in one multi-row insert: the
organisations, their drafts and answers (one audit event per company records that they were
generated, instead of one per answer), and each assessment submitted as :func:`submit` would
submit it: scored once, frozen into the same canonical JSON with the same hash, addressed to
the regulators, decoded into its stored record (``tests/test_generated.py`` submits the same
drafts through :func:`submit` and finds the same bytes). With many companies, forked processes
do the answering, scoring and freezing while this one stores. The stored aggregates are
refreshed once at the end, not after every submission.
"""

from __future__ import annotations

import gc
import itertools
import json
import multiprocessing
import os
import random
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, select

from dd_toolkit.engine import portable
from dd_toolkit.engine.completion import progress
from dd_toolkit.engine.content import Profile, QuestionBank, Taxonomy
from dd_toolkit.engine.registry import Content
from dd_toolkit.engine.scoring import score
from dd_toolkit.engine.snapshot import answer_from
from dd_toolkit.records import audit
from dd_toolkit.records.aggregates import refresh_all
from dd_toolkit.records.assessments import IncompleteAssessment
from dd_toolkit.records.demo import DEMO_CYCLE, DemoCompany, demo_answers
from dd_toolkit.records.models import (
    Answer,
    AnswerHistory,
    Assessment,
    AssessmentStatus,
    IndicatorOutcomeRecord,
    Organisation,
    Recipient,
    ReviewEvent,
    ReviewStatus,
    Submission,
    SubmissionRecord,
    utcnow,
)
from dd_toolkit.records.submissions import record_rows

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


# Companies stored per transaction: each batch is a handful of multi-row inserts.
BATCH = 100
# From this many companies on, other processes answer, score and freeze the assessments (pure
# work, most of the time) while this one stores them: one per core, at most WORKERS.
PARALLEL_FROM = 200
WORKERS = 2


def load_generated(
    db: Session,
    content: Content,
    companies: int,
    seed: int = 0,
    on_stored: Callable[[int, int], None] | None = None,
) -> int:
    """Add ``companies`` generated companies, each with two submitted assessments; returns
    how many were added. The same seed gives the same companies. ``on_stored(stored, total)``
    is called after each batch is stored; the stored aggregates are refreshed after the last."""
    bank: QuestionBank = content.bank
    taken = db.exec(select(Organisation.name)).all()
    cycles = (DEMO_CYCLE - 1, DEMO_CYCLE)
    generated = generate_companies(bank.taxonomy, companies, seed, taken)
    batches = [generated[start : start + BATCH] for start in range(0, len(generated), BATCH)]
    stored = 0
    with bulk_loading(db), _freezing(db, content, cycles, len(generated)) as freeze:
        for batch, frozen in zip(batches, freeze(batches), strict=True):
            _store_batch(db, content, batch, frozen, seed, cycles)
            stored += len(batch)
            if on_stored is not None:
                on_stored(stored, len(generated))
    # The stored benchmark and indicator reports are recomputed once, not after every submission.
    refresh_all(db, bank, content.current_methodology, bulk_load=True)
    return companies


# What the processes that freeze assessments work with, set before they are forked.
_FREEZING: tuple[Content, tuple[int, int]] | None = None


@contextmanager
def _freezing(db: Session, content: Content, cycles: tuple[int, int], companies: int):
    """A function giving each batch's frozen assessments (:func:`_frozen`), in order: worked out
    here, or by forked processes when there are many companies and more than one core."""
    global _FREEZING
    workers = min(WORKERS, os.cpu_count() or 1)
    if companies < PARALLEL_FROM or workers < 2 or "fork" not in multiprocessing.get_all_start_methods():
        yield lambda batches: (_frozen(content, cycles, batch) for batch in batches)
        return
    _FREEZING = (content, cycles)
    engine = db.get_bind()

    def frozen(pool, batches):
        # A few batches ahead of the one being stored, no more: the rest waits unfrozen.
        waiting, pending = iter(batches), deque()
        for batch in itertools.islice(waiting, 2 * workers):
            pending.append(pool.apply_async(_frozen_in_worker, (batch,)))
        while pending:
            done = pending.popleft().get()
            for batch in itertools.islice(waiting, 1):
                pending.append(pool.apply_async(_frozen_in_worker, (batch,)))
            yield done

    try:
        # The children inherit the database engine but never use it (SQLAlchemy's advice for fork).
        with multiprocessing.get_context("fork").Pool(workers, engine.dispose, (False,)) as pool:
            yield lambda batches: frozen(pool, batches)
    finally:
        _FREEZING = None


def _frozen_in_worker(batch: Sequence[GeneratedCompany]) -> list[_Submitted]:
    content, cycles = _FREEZING
    return _frozen(content, cycles, batch)


def _frozen(content: Content, cycles: tuple[int, int], companies: Sequence[GeneratedCompany]) -> list[_Submitted]:
    """Each company's two assessments answered, scored once and frozen as :func:`submit` freezes
    them (:func:`_freeze`), with the decoded record of each; pure, so it can run in another
    process. The ids of the rows are filled in when they are stored."""
    bank, method = content.bank, content.current_methodology
    versions = bank.versions()
    work = []
    for company in companies:
        profile = company.profile
        created_at = utcnow()
        for maturity, cycle in zip(company.maturities, cycles, strict=True):
            who = DemoCompany(company.name, company.description, profile.hq_country, profile.countries,
                              profile.service_types, profile.features, profile.size_band,
                              profile.under18_users, "", maturity)  # fmt: skip
            answers = demo_answers(bank, profile, who, cycle)
            # The answer columns as the database gives them back (JSON in, JSON out), which is
            # what submit reads and scores.
            stored = json.loads(json.dumps({qid: portable.answer_fields(a) for qid, a in answers.items()}))
            item = _Submitted(company, cycle, stored, created_at)
            _freeze(bank, method, item, versions, created_at)
            item.record, item.outcomes = record_rows(
                submission_id=0,
                organisation_id=0,
                cycle=cycle,
                version=1,
                methodology=method.key,
                benchmark_consent=company.benchmark_consent,
                submitted_at=item.submitted_at,
                snapshot=item.snapshot,
            )
            work.append(item)
    return work


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


@dataclass
class _Submitted:
    """One generated assessment on its way into the tables."""

    company: GeneratedCompany
    cycle: int
    answers: dict[str, dict]  # question id -> the answer's stored fields
    created_at: datetime
    organisation_id: int = 0
    assessment_id: int = 0
    submitted_at: datetime | None = None
    snapshot: str = ""
    sha256: str = ""
    submission_id: int = 0
    record: dict | None = None  # the decoded record's columns, and its indicator outcomes
    outcomes: list[dict] | None = None


def _insert(db: Session, table: sa.Table, rows: list[dict], returning: bool = False) -> list[int]:
    """One multi-row insert; with ``returning``, the new ids in the order of ``rows``."""
    if not rows:
        return []
    if not returning:
        db.execute(sa.insert(table), rows)
        return []
    statement = sa.insert(table).returning(table.c.id, sort_by_parameter_order=True)
    return list(db.execute(statement, rows).scalars())


def _store_batch(
    db: Session,
    content: Content,
    companies: Sequence[GeneratedCompany],
    work: list[_Submitted],
    seed: int,
    cycles,
) -> None:
    """Store a batch of companies and their frozen assessments (``work``, from :func:`_frozen`)
    as :func:`create_organisation`, ``start_assessment``, saved answers and :func:`submit` would,
    each step one multi-row insert, then commit.

    Each assessment was scored once and its snapshot built exactly as :func:`submit` builds it
    (the same document, the same canonical JSON and hash); its decoded record comes from
    :func:`record_rows`, as :func:`store_record` stores it. ``tests/test_generated.py`` submits
    the same assessments through :func:`submit` and compares every stored byte."""
    method = content.current_methodology
    asean = set(content.bank.taxonomy.asean_countries)
    versions = content.bank.versions()
    now = utcnow()

    org_ids = _insert(
        db,
        Organisation.__table__,
        [
            {
                "name": c.name,
                "description": c.description,
                "hq_country": c.profile.hq_country,
                "countries": list(c.profile.countries),
                "service_types": list(c.profile.service_types),
                "features": list(c.profile.features),
                "size_band": c.profile.size_band,
                "under18_users": c.profile.under18_users,
                "created_at": now,
                "updated_at": now,
            }
            for c in companies
        ],
        returning=True,
    )
    org_of = {c.index: org_id for c, org_id in zip(companies, org_ids, strict=True)}
    for item in work:
        item.organisation_id = org_of[item.company.index]
    # A new organisation's first draft of each cycle, as start_assessment makes it.
    assessment_ids = _insert(
        db,
        Assessment.__table__,
        [
            {
                "organisation_id": item.organisation_id,
                "cycle": item.cycle,
                "version": 1,
                "previous_id": None,
                "questionnaire_versions": versions,
                "status": AssessmentStatus.DRAFT,
                "created_by_id": None,
                "created_at": item.created_at,
                "updated_at": item.created_at,
                "submitted_at": None,
            }
            for item in work
        ],
        returning=True,
    )
    answer_rows = []
    for item, assessment_id in zip(work, assessment_ids, strict=True):
        item.assessment_id = assessment_id
        answer_rows.extend(
            {"assessment_id": assessment_id, "question_id": qid, "version": 1, "updated_by_id": None,
             "updated_at": item.created_at, **fields}
            for qid, fields in item.answers.items()
        )  # fmt: skip
    _insert(db, Answer.__table__, answer_rows)
    _insert(db, AnswerHistory.__table__, audit.history_rows(answer_rows))  # each answer's first save

    # Submitting: each was scored once, frozen and hashed by _frozen.
    db.execute(
        sa.update(Assessment.__table__)
        .where(Assessment.__table__.c.id == sa.bindparam("b_id"))
        .values(status=AssessmentStatus.SUBMITTED, submitted_at=sa.bindparam("b_submitted_at")),
        [{"b_id": item.assessment_id, "b_submitted_at": item.submitted_at} for item in work],
    )
    submission_ids = _insert(
        db,
        Submission.__table__,
        [
            {
                "assessment_id": item.assessment_id,
                "snapshot": item.snapshot,
                "sha256": item.sha256,
                "methodology": method.key,
                "benchmark_consent": item.company.benchmark_consent,
                "submitted_by_id": None,
                "submitted_at": item.submitted_at,
            }
            for item in work
        ],
        returning=True,
    )
    for item, submission_id in zip(work, submission_ids, strict=True):
        item.submission_id = submission_id

    # Addressed to the regulators (review.address), each recipient with its "submitted" event.
    addressed = [
        (item, jurisdiction)
        for item in work
        for jurisdiction in sorted({c for c in item.company.profile.countries if c in asean})
    ]
    recipient_ids = _insert(
        db,
        Recipient.__table__,
        [
            {
                "submission_id": item.submission_id,
                "jurisdiction": jurisdiction,
                "status": ReviewStatus.RECEIVED,
                "previous_id": None,
                "updated_at": item.submitted_at,
            }
            for item, jurisdiction in addressed
        ],
        returning=True,
    )
    _insert(
        db,
        ReviewEvent.__table__,
        [
            {"recipient_id": recipient_id, "at": item.submitted_at, "user_id": None, "kind": "submitted",
             "from_status": None, "to_status": ReviewStatus.RECEIVED, "question_id": None, "text": ""}
            for (item, _), recipient_id in zip(addressed, recipient_ids, strict=True)
        ],
    )  # fmt: skip

    # The decoded records (store_record) and their indicator outcomes.
    records, outcomes = [], []
    for item in work:
        records.append({**item.record, "submission_id": item.submission_id, "organisation_id": item.organisation_id})
        outcomes.extend({**outcome, "submission_id": item.submission_id} for outcome in item.outcomes)
    _insert(db, SubmissionRecord.__table__, records)
    _insert(db, IndicatorOutcomeRecord.__table__, outcomes)

    # The audit trail: the organisation created, one event recording that it was generated
    # (instead of one per answer), and each submission.
    events = []
    for company in companies:
        org_id = org_of[company.index]
        mine = [item for item in work if item.company.index == company.index]
        events.append(_event(org_id, "organisation.create", "organisation", org_id, {"source": "generated"}, now))
        detail = {
            "seed": seed,
            "index": company.index,
            "assessments": [item.assessment_id for item in mine],
            "maturity": dict(zip(map(str, cycles), company.maturities, strict=True)),
            "answers": {str(item.cycle): len(item.answers) for item in mine},
            "benchmark_consent": company.benchmark_consent,
        }
        events.append(_event(org_id, "demo.generate", "organisation", org_id, detail, now))
        for item in mine:
            detail = {
                "sha256": item.sha256,
                "methodology": method.key,
                "benchmark_consent": company.benchmark_consent,
                "jurisdictions": sorted({c for c in company.profile.countries if c in asean}),
                "transparency_sha256": None,  # no edited text at submission
            }
            events.append(_event(org_id, "assessment.submit", "assessment", item.assessment_id, detail, now))
    audit.append(db, events)  # hash-chained at commit
    db.commit()


def _event(org_id: int, action: str, entity: str, entity_id: int, detail: dict, at: datetime) -> dict:
    return {"at": at, "user_id": None, "organisation_id": org_id, "action": action, "entity": entity,
            "entity_id": str(entity_id), "detail": detail}  # fmt: skip


def _freeze(bank: QuestionBank, method, item: _Submitted, versions: dict[str, str], updated_at: datetime) -> None:
    """What :func:`submit` freezes for one assessment: the document of
    :func:`~dd_toolkit.records.assessments.build_document` with its score card, as canonical
    JSON and its hash. The assessment is scored once."""
    company, profile = item.company, item.company.profile
    answers = {qid: answer_from(fields) for qid, fields in item.answers.items()}
    state = progress(bank, profile, answers)
    if not state.ready_to_submit:  # demo_answers answers every required question
        raise IncompleteAssessment(state.missing)
    item.submitted_at = utcnow()
    updated = updated_at.isoformat()
    document = {
        "format": portable.FORMAT,
        "format_version": portable.FORMAT_VERSION,
        "organisation": portable.profile_to_json(company.name, profile, company.description),
        "assessment": {
            "cycle": item.cycle,
            "version": 1,
            "status": AssessmentStatus.SUBMITTED,
            "questionnaires": dict(versions),
            "created_at": item.created_at.isoformat(),
            "submitted_at": item.submitted_at.isoformat(),
        },
        "answers": {
            qid: {**portable.answer_fields(answers[qid]), "updated_by": None, "updated_at": updated}
            for qid in sorted(answers)
        },
        "score_card": score(bank, method, profile, answers, state.applicable).to_dict(),
    }
    item.snapshot = portable.canonical_json(portable.snapshot_of(document))
    item.sha256 = portable.sha256_of_text(item.snapshot)

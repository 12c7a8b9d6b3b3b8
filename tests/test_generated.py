"""Generated demo companies (``load-demo --companies N``): deterministic, varied, submitted."""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from dataclasses import asdict

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from click.testing import CliRunner
from sqlmodel import select

from dd_toolkit.cli import main as cli
from dd_toolkit.engine import portable
from dd_toolkit.engine.scoring import ScoreCard
from dd_toolkit.engine.scoring.engine import _rounded
from dd_toolkit.records import aggregates, generated
from dd_toolkit.records import database as dbm
from dd_toolkit.records.assessments import submit
from dd_toolkit.records.demo import COMPANIES, DEMO_CYCLE, PEERS
from dd_toolkit.records.generated import CONSENT_SHARE, generate_companies, load_generated
from dd_toolkit.records.models import (
    Answer,
    Assessment,
    AuditEvent,
    IndicatorOutcomeRecord,
    Organisation,
    Recipient,
    ReviewEvent,
    Submission,
    SubmissionRecord,
    User,
)

from .conftest import FIXTURE_CONTENT, REPO_ROOT, make_app


def _generated(db, seed: int) -> list[Organisation]:
    ids = [
        e.organisation_id
        for e in db.exec(select(AuditEvent).where(AuditEvent.action == "demo.generate"))
        if e.detail["seed"] == seed
    ]
    return list(db.exec(select(Organisation).where(Organisation.id.in_(ids)).order_by(Organisation.id)))


def _summary(db, seed: int) -> list[tuple]:
    """Names, profiles and frozen scores of the companies generated with ``seed``."""
    rows = []
    for org in _generated(db, seed):
        submissions = db.exec(
            select(Assessment.cycle, Submission.snapshot, Submission.benchmark_consent)
            .join(Submission, Submission.assessment_id == Assessment.id)
            .where(Assessment.organisation_id == org.id)
            .order_by(Assessment.cycle)
        ).all()
        cards = [(cycle, consent, json.loads(snapshot)["score_card"]) for cycle, snapshot, consent in submissions]
        profile = (org.hq_country, org.countries, org.service_types, org.features, org.size_band, org.under18_users)
        rows.append((org.name, org.description, profile, cards))
    return rows


def test_same_seed_gives_same_companies_in_two_databases(real_app, other_database_url, tmp_path, monkeypatch):
    other_app = make_app(other_database_url, tmp_path, content=REPO_ROOT)
    summaries = []
    try:
        for app, parallel_from in ((real_app, 1000), (other_app, 1)):
            # Frozen in this process, then by forked workers: the same companies either way.
            monkeypatch.setattr(generated, "PARALLEL_FROM", parallel_from)
            with dbm.standalone_session(app.extensions["dd_engine"]) as db:
                assert load_generated(db, app.extensions["dd_content"], 12, seed=3) == 12
                summaries.append(_summary(db, 3))
    finally:
        other_app.extensions["dd_engine"].dispose()
    first, second = summaries
    assert len(first) == 12
    assert first == second
    assert len({name for name, *_ in first}) == 12
    # Another seed gives other companies.
    other = generate_companies(real_app.extensions["dd_bank"].taxonomy, 12, seed=4)
    assert [c.name for c in other] != [name for name, *_ in first]


def test_profiles_cover_the_taxonomy_and_fit_the_services(real_app):
    taxonomy = real_app.extensions["dd_bank"].taxonomy
    companies = generate_companies(taxonomy, 40, seed=0)
    assert companies == generate_companies(taxonomy, 40, seed=0)
    profiles = [c.profile for c in companies]
    assert {s for p in profiles for s in p.service_types} == set(taxonomy.ids("service_types"))
    assert {p.service_types[0] for p in profiles} == set(taxonomy.ids("service_types"))
    assert {p.size_band for p in profiles} == set(taxonomy.ids("size_bands"))
    asean = set(taxonomy.asean_countries)
    assert {c for p in profiles for c in p.countries} >= asean
    assert {p.hq_country for p in profiles} & asean == asean
    assert len({c.name for c in companies}) == 40
    for company in companies:
        p = company.profile
        assert p.countries and set(p.countries) <= asean and len(set(p.countries)) == len(p.countries)
        assert p.countries[0] == p.hq_country or p.hq_country not in asean
        assert set(p.features) <= set(taxonomy.ids("features"))
        assert p.under18_users in taxonomy.ids("under18_users")
        assert all(0 <= m <= 4 for m in company.maturities)
        assert company.maturities[1] >= company.maturities[0] - 1
        services = set(p.service_types)
        if "messaging" in services:
            assert "direct_messaging" in p.features
        if services & {"storage"}:
            assert "user_uploads" in p.features
        if services & {"payments"}:
            assert "payments" in p.features
    # Bigger companies operate in more countries, and the later cycle is often more mature.
    reach = {size: [len(p.countries) for p in profiles if p.size_band == size] for size in ("startup", "very_large")}
    assert max(reach["startup"]) <= 3 <= min(reach["very_large"])
    assert any(p.hq_country not in asean for p in profiles)  # some are headquartered outside ASEAN
    assert sum(c.maturities[1] > c.maturities[0] for c in companies) >= 10


def test_about_the_expected_share_consents(real_app):
    companies = generate_companies(real_app.extensions["dd_bank"].taxonomy, 300, seed=5)
    share = sum(c.benchmark_consent for c in companies) / len(companies)
    assert CONSENT_SHARE - 0.08 <= share <= CONSENT_SHARE + 0.08
    assert len({c.name for c in companies}) == 300


def test_two_submitted_cycles_per_company_through_submit(real_app, monkeypatch):
    content = real_app.extensions["dd_content"]
    bank, method = content.bank, content.current_methodology
    asean = set(bank.taxonomy.asean_countries)
    # The stored aggregates are refreshed once at the end, not after every submission.
    refreshes = Counter()
    monkeypatch.setattr(aggregates, "refresh_after_submission", lambda *args: refreshes.update(["one"]))
    refresh_all = generated.refresh_all
    monkeypatch.setattr(
        generated, "refresh_all", lambda *args, **kw: (refreshes.update(["all"]), refresh_all(*args, **kw))
    )
    with dbm.standalone_session(real_app.extensions["dd_engine"]) as db:
        load_generated(db, content, 6, seed=1)
        assert refreshes == {"all": 1}
        orgs = _generated(db, 1)
        assert len(orgs) == 6
        assert db.exec(select(User)).all() == []  # no accounts
        consents = Counter()
        for org in orgs:
            assessments = db.exec(
                select(Assessment).where(Assessment.organisation_id == org.id).order_by(Assessment.cycle)
            ).all()
            assert [(a.cycle, a.status, a.version) for a in assessments] == [
                (DEMO_CYCLE - 1, "submitted", 1),
                (DEMO_CYCLE, "submitted", 1),
            ]
            events = db.exec(select(AuditEvent).where(AuditEvent.organisation_id == org.id)).all()
            actions = Counter(e.action for e in events)
            assert actions == {
                "organisation.create": 1,
                "demo.generate": 1,
                "assessment.submit": 2,
            }
            detail = next(e for e in events if e.action == "demo.generate").detail
            for assessment in assessments:
                submission = db.exec(select(Submission).where(Submission.assessment_id == assessment.id)).one()
                consents[submission.benchmark_consent] += 1
                assert submission.benchmark_consent == detail["benchmark_consent"]
                assert submission.methodology == method.key
                snapshot = json.loads(submission.snapshot)
                assert portable.sha256_of(snapshot) == submission.sha256
                assert snapshot["organisation"]["name"] == org.name
                answers = db.exec(select(Answer).where(Answer.assessment_id == assessment.id)).all()
                assert len(answers) == detail["answers"][str(assessment.cycle)] == len(snapshot["answers"])
                recipients = db.exec(select(Recipient.jurisdiction).where(Recipient.submission_id == submission.id))
                assert set(recipients) == set(org.countries) & asean
                # The faster ScoreCard.to_dict gives exactly what asdict + rounding gave.
                card = ScoreCard.from_dict(snapshot["score_card"])
                # A card scored without a risk register keeps the shape cards had before registers.
                expected = {k: v for k, v in _rounded(asdict(card)).items() if k != "risk_levels" or v is not None}
                assert card.to_dict() == expected == snapshot["score_card"]
        assert consents[True] >= 2


@pytest.fixture
def run(database_url, tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("DD_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setattr("dd_toolkit.web.config.Config.DATABASE_URL", database_url)
    # The demo's accounts need no strong password hashes here.
    monkeypatch.setattr(
        "dd_toolkit.records.accounts._hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    )

    def invoke(*args):
        return CliRunner().invoke(cli, ["--content", str(FIXTURE_CONTENT), *args])

    return invoke


def test_cli_load_demo_with_generated_companies(run, session):
    first = run("load-demo", "--companies", "4", "--seed", "2")
    assert first.exit_code == 0, first.output
    assert "demo data loaded" in first.output
    assert "added 4 generated companies (seed 2)" in first.output
    # Progress goes to standard error: stored, then the refresh of the stored figures.
    assert re.search(r"^stored 4 of 4 companies \(\d+ s\)$", first.stderr, re.MULTILINE), first.stderr
    assert "refreshing the stored benchmark and indicator reports" in first.stderr
    assert "stored" not in first.stdout
    orgs = session.exec(select(Organisation)).all()
    assert len(orgs) == len(COMPANIES) + len(PEERS) + 4
    # Again with the same seed: the demo is not loaded twice, the same companies are added
    # again under numbered names.
    again = run("load-demo", "--companies", "4", "--seed", "2")
    assert again.exit_code == 0, again.output
    assert "demo data already present" in again.output
    session.expire_all()
    names = [o.name for o in session.exec(select(Organisation))]
    assert len(names) == len(COMPANIES) + len(PEERS) + 8 == len(set(names))
    assert sum(name.endswith(" 2") for name in names) >= 4
    submitted = session.exec(select(Assessment).where(Assessment.status == "submitted")).all()
    assert len(submitted) == 1 + sum(len(peer[-1]) for peer in PEERS) + 16
    assert "--companies" in run("load-demo", "--help").output
    assert run("load-demo", "--companies", "-1").exit_code == 2


def _stored_submission(db, assessment: Assessment) -> dict:
    """Everything a submission of ``assessment`` stored, without row ids and the moments the
    rows were written."""
    submission = db.exec(select(Submission).where(Submission.assessment_id == assessment.id)).one()
    record = db.exec(select(SubmissionRecord).where(SubmissionRecord.submission_id == submission.id)).one()
    outcomes = db.exec(
        select(IndicatorOutcomeRecord)
        .where(IndicatorOutcomeRecord.submission_id == submission.id)
        .order_by(IndicatorOutcomeRecord.id)
    ).all()
    recipients = db.exec(
        select(Recipient).where(Recipient.submission_id == submission.id).order_by(Recipient.jurisdiction)
    ).all()
    events = db.exec(
        select(ReviewEvent).where(ReviewEvent.recipient_id.in_([r.id for r in recipients])).order_by(ReviewEvent.id)
    ).all()
    audit = db.exec(
        select(AuditEvent).where(AuditEvent.action == "assessment.submit", AuditEvent.entity_id == str(assessment.id))
    ).one()
    return {
        "assessment": (assessment.status, assessment.submitted_at, assessment.version, assessment.updated_at),
        "submission": submission.model_dump(exclude={"id"}),
        "record": record.model_dump(exclude={"id", "submission_id"}),
        "outcomes": [o.model_dump(exclude={"id", "submission_id"}) for o in outcomes],
        "recipients": [(r.jurisdiction, r.status, r.previous_id) for r in recipients],
        "review_events": [(e.kind, e.from_status, e.to_status, e.user_id, e.question_id, e.text) for e in events],
        "audit": (audit.organisation_id, audit.user_id, audit.entity, audit.detail),
    }


def test_generated_submissions_store_exactly_what_submit_stores(real_app, monkeypatch):
    """The bulk load freezes, hashes and decodes each assessment itself: submitting the same
    drafts at the same moment through :func:`submit` stores the same bytes."""
    content = real_app.extensions["dd_content"]
    bank, method = content.bank, content.current_methodology
    monkeypatch.setattr(generated, "PARALLEL_FROM", 1)  # frozen by forked workers
    with dbm.standalone_session(real_app.extensions["dd_engine"]) as db:
        load_generated(db, content, 3, seed=7)
        orgs = _generated(db, 7)
        drafts = db.exec(
            select(Assessment).where(Assessment.organisation_id.in_([o.id for o in orgs])).order_by(Assessment.id)
        ).all()
        assert len(drafts) == 6
        loaded = {a.id: _stored_submission(db, a) for a in drafts}
        for assessment in drafts:  # undo the submission, then submit the draft as a user would
            submission = db.exec(select(Submission).where(Submission.assessment_id == assessment.id)).one()
            recipients = db.exec(select(Recipient).where(Recipient.submission_id == submission.id)).all()
            jurisdictions = [r.jurisdiction for r in recipients]
            ids = [r.id for r in recipients]
            db.execute(sa.delete(ReviewEvent).where(ReviewEvent.recipient_id.in_(ids)))
            for table in (Recipient, IndicatorOutcomeRecord, SubmissionRecord):
                db.execute(sa.delete(table).where(table.submission_id == submission.id))
            db.execute(sa.delete(Submission).where(Submission.id == submission.id))
            db.execute(
                sa.delete(AuditEvent).where(
                    AuditEvent.action == "assessment.submit", AuditEvent.entity_id == str(assessment.id)
                )
            )
            submitted_at = assessment.submitted_at
            assessment.status, assessment.submitted_at = "draft", None
            db.add(assessment)
            db.commit()
            monkeypatch.setattr("dd_toolkit.records.assessments.utcnow", lambda at=submitted_at: at)
            submit(
                db,
                bank,
                method,
                assessment,
                None,
                benchmark_consent=submission.benchmark_consent,
                jurisdictions=jurisdictions,
                refresh_aggregates=False,
            )
        db.expire_all()
        again = {a.id: _stored_submission(db, a) for a in drafts}
    for assessment_id, stored in loaded.items():
        assert again[assessment_id] == stored
        assert stored["submission"]["sha256"] == portable.sha256_of_text(stored["submission"]["snapshot"])


def test_loading_many_companies_says_how_far_it_is_at_each_tenth(capsys):
    from dd_toolkit.cli import _loading_progress

    on_stored = _loading_progress(time.perf_counter())
    for stored in [*range(100, 10_000, 100), 10_000]:
        on_stored(stored, 10_000)
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(" (")[0] for line in lines] == [
        *(f"stored {n:,} of 10,000 companies" for n in range(1_000, 10_001, 1_000)),
        "refreshing the stored benchmark and indicator reports",
    ]

"""A submission decoded once, one reader, stored aggregates, and an engine that stands alone."""

from __future__ import annotations

import gc
import itertools
import json
import pkgutil
import subprocess
import sys

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import select

import dd_toolkit.engine
from dd_toolkit.engine import disclosure, portable
from dd_toolkit.records import aggregates, releases
from dd_toolkit.records.database import standalone_session, upgrade
from dd_toolkit.records.models import (
    Aggregate,
    IndicatorOutcomeRecord,
    Recipient,
    Submission,
    SubmissionRecord,
)
from dd_toolkit.records.reader import read_assessment
from dd_toolkit.records.review import inbox
from dd_toolkit.records.submissions import record_of

from .conftest import make_app, parameter_values, recorded_statements


def _submission(session, assessment) -> Submission:
    return session.exec(select(Submission).where(Submission.assessment_id == assessment.id)).one()


# -- the engine imports alone ---------------------------------------------------------------------


def test_every_engine_module_imports_without_flask_or_the_database():
    modules = [m.name for m in pkgutil.walk_packages(dd_toolkit.engine.__path__, "dd_toolkit.engine.")]
    assert "dd_toolkit.engine.scoring" in modules and "dd_toolkit.engine.benchmark" in modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "web = ('flask', 'sqlalchemy', 'sqlmodel', 'werkzeug')\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in web)))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def test_the_content_helpers_do_not_shadow_the_content_package():
    import dd_toolkit.web.context as context

    assert not hasattr(dd_toolkit, "content") or isinstance(dd_toolkit.content, type(sys))
    assert callable(context.current_content) and callable(context.current_bank)


# -- decoded at submit -----------------------------------------------------------------------------


def test_submit_stores_the_decoded_record_beside_the_unchanged_snapshot(demo):
    for submission in demo.exec(select(Submission)).all():
        snapshot = json.loads(submission.snapshot)
        # The canonical JSON and its hash are what they always were.
        assert portable.sha256_of(snapshot) == submission.sha256
        assert portable.canonical_json(snapshot) == submission.snapshot

        record = record_of(demo, submission.id)
        assert record.organisation_name == snapshot["organisation"]["name"]
        assert record.service_types == snapshot["organisation"]["service_types"]
        assert record.countries == snapshot["organisation"]["countries"]
        assert record.overall == snapshot["score_card"]["overall"]
        assert record.band == snapshot["score_card"]["band"]
        assert record.score_card == snapshot["score_card"]
        assert record.benchmark_consent is submission.benchmark_consent
        assert record.answers == {
            qid: {k: a[k] for k in ("value", "not_applicable", "justification", "comment", "evidence", "meta")}
            for qid, a in snapshot["answers"].items()
        }
        outcomes = demo.exec(
            select(IndicatorOutcomeRecord).where(IndicatorOutcomeRecord.submission_id == submission.id)
        ).all()
        expected = sum(1 + len(i["components"]) for i in snapshot["score_card"]["indicators"])
        assert len(outcomes) == expected > 0
        whole = {o.indicator_id: o.met for o in outcomes if not o.component_id}
        assert whole == {i["id"]: i["met"] for i in snapshot["score_card"]["indicators"]}


def test_a_new_version_becomes_the_latest_record(make, session):
    from dd_toolkit.records.assessments import new_version, submit

    org = make.organisation()
    first = make.submitted(org)
    second = new_version(session, make.bank, first, None)
    submit(session, make.bank, make.content.current_methodology, second, None)
    records = session.exec(select(SubmissionRecord).where(SubmissionRecord.organisation_id == org.id)).all()
    assert sorted((r.version, r.latest) for r in records) == [(1, False), (2, True)]


def test_migration_backfills_the_records_of_earlier_submissions(make, session, database_url):
    org = make.organisation("Backfilled Co")
    assessment = make.submitted(org, consent=True, methodology="standard@test.1")  # the version with indicators
    submission = _submission(session, assessment)
    before = record_of(session, submission.id).model_dump(exclude={"id"})
    session.close()
    # Back to the schema before records existed, and up again: the migration decodes it.
    upgrade(database_url, "0004")
    upgrade(database_url)
    with standalone_session(session.get_bind()) as fresh:
        after = record_of(fresh, submission.id).model_dump(exclude={"id"})
        assert after == before
        count = fresh.exec(select(sa.func.count()).select_from(IndicatorOutcomeRecord)).one()
        assert count > 0


# -- one reader ------------------------------------------------------------------------------------


def test_the_reader_gives_the_frozen_card_of_a_submission_and_a_live_one_of_a_draft(make, session):
    org = make.organisation()
    submitted = make.submitted(org)
    view = read_assessment(session, make.content, submitted)
    assert view.frozen and not view.method_fallback
    assert view.card.to_dict() == json.loads(_submission(session, submitted).snapshot)["score_card"]
    assert view.answers.keys() == make.complete_answers().keys()

    draft = make.assessment(make.organisation(), answers={"mini.policy.owner": 2})
    live = read_assessment(session, make.content, draft)
    assert not live.frozen and live.card.scored_questions == 1


def test_a_frozen_card_whose_methodology_is_not_installed_keeps_its_numbers(make, session):
    submitted = make.submitted(make.organisation())
    reader_view = read_assessment(session, make.content, submitted)
    frozen = json.loads(_submission(session, submitted).snapshot)["score_card"]
    frozen["methodology"]["version"] = "1999.1"  # not installed here
    frozen["overall"] = 12.34
    view = make.content.scored(reader_view.profile, reader_view.answers, frozen)
    assert view.frozen and view.fallback
    assert view.card.overall == 12.34  # frozen numbers never change
    assert view.method.id == frozen["methodology"]["id"]
    assert view.method.key == make.content.current_methodology.key


# -- stored aggregates -----------------------------------------------------------------------------


def test_aggregates_are_stored_in_the_database_and_every_worker_reads_the_same(make, session, database_url, tmp_path):
    method = make.content.current_methodology
    threshold = method.benchmark.disclosure_threshold
    for _ in range(threshold):
        make.submitted(make.organisation(), consent=True)
    # A second app on the same database stands for another worker (or another host).
    other = make_app(database_url, tmp_path)
    with standalone_session(other.extensions["dd_engine"]) as elsewhere:
        assert releases.published(elsewhere, method).benchmarks[2026].group("all").n == threshold
        assert aggregates.stored_indicator_report(elsewhere, "SG", 2026).cycle == 2026
    # New consenting submissions are published in the next release; every worker sees it.
    for _ in range(threshold):
        make.submitted(make.organisation(), consent=True)
    with standalone_session(other.extensions["dd_engine"]) as elsewhere:
        assert releases.published(elsewhere, method).benchmarks[2026].group("all").n == 2 * threshold
    other.extensions["dd_engine"].dispose()


def test_pages_read_stored_aggregates_and_never_rebuild_them(app, make, auth, client, monkeypatch):
    from dd_toolkit.records.models import PlatformRole

    for _ in range(6):
        make.submitted(make.organisation(), consent=True)
    org = make.organisation()
    admin = make.user(org)
    assessment = make.submitted(org, admin, consent=True)

    def refuse(*_args, **_kwargs):
        raise AssertionError("a page rebuilt an aggregate")

    monkeypatch.setattr(disclosure, "build_release", refuse)
    monkeypatch.setattr(aggregates, "indicator_reports", refuse)
    auth.login(admin.email)
    for url in (f"/assessments/{assessment.id}/peers", f"/assessments/{assessment.id}/action-plan"):
        assert client.get(url).status_code == 200, url
    auth.logout()
    wg = make.user(platform_role=PlatformRole.WORKING_GROUP)
    auth.login(wg.email)
    for url in ("/benchmarks/", "/benchmarks/2026.csv", "/benchmarks/indicators?country=SG&cycle=2026"):
        assert client.get(url).status_code == 200, url


def test_two_workers_publishing_at_once_publish_each_number_once(make, session, monkeypatch):
    """Two submissions that make a release due at the same moment: both workers decide to publish
    number n. The one that stores it second must not fail the company's submission; it decides
    again from the release just stored (found on PostgreSQL under load, as a 500 on submit)."""
    method = make.content.current_methodology
    monkeypatch.setattr(releases, "publish_if_due", lambda *args: None)  # both publish below
    for _ in range(method.benchmark.disclosure_threshold):
        make.submitted(make.organisation(), consent=True)
    build = disclosure.build_release
    interleaved = []

    def build_while_another_worker_publishes(*args, **kwargs):
        built = build(*args, **kwargs)
        if not interleaved:  # the first worker has read "no release yet" and built number 1 ...
            interleaved.append(True)
            with standalone_session(session.get_bind()) as other:  # ... when another stores it
                assert releases.publish(other, make.content.bank, method).number == 1
        return built

    monkeypatch.setattr(disclosure, "build_release", build_while_another_worker_publishes)
    again = releases.publish(session, make.content.bank, method)
    assert again is None  # number 1 shows everything there is: nothing more to publish
    numbers = session.exec(select(releases.Release.number).where(releases.Release.methodology == method.key)).all()
    assert numbers == [1]
    assert releases.published(session, method).number == 1


def test_a_database_error_in_a_request_still_gets_the_error_page(app, make, auth, client, monkeypatch):
    """A statement that fails leaves the request's transaction aborted (PostgreSQL refuses every
    later statement; SQLAlchemy wants a rollback on both). The error page itself reads the
    database (the signed-in user's unread notifications): it must start from a clean session."""
    from dd_toolkit.web import db

    app.config["PROPAGATE_EXCEPTIONS"] = False  # as under gunicorn: the handler answers
    org = make.organisation()
    admin = make.user(org)
    assessment = make.assessment(org)
    auth.login(admin.email)

    def fail_in_the_database(*_args, **_kwargs):
        session = db.session()
        session.add(releases.Release(number=1, methodology="clash@1", source_marker=0))
        session.add(releases.Release(number=1, methodology="clash@1", source_marker=0))
        session.flush()  # a unique violation, as two workers publishing at once met

    monkeypatch.setattr("dd_toolkit.web.results.routes.read_assessment", fail_in_the_database)
    response = client.get(f"/assessments/{assessment.id}/results")
    assert response.status_code == 500
    page = response.get_data(as_text=True)
    assert "<nav" in page and "Sign out" in page  # the whole layout, for the signed-in user
    assert "clash@1" not in page and "IntegrityError" not in page  # no internals


def test_each_methodology_numbers_its_releases_from_one(make, session):
    method = make.content.current_methodology
    # Release 1 of the methodology in force before this one.
    session.add(releases.Release(number=1, methodology=method.id + "@1999.1", source_marker=0))
    session.commit()
    for _ in range(method.benchmark.disclosure_threshold):
        make.submitted(make.organisation(), consent=True)  # due: published as this methodology's first
    assert releases.published(session, method).number == 1


def test_publishing_builds_the_release_once_and_gives_the_collector_back(make, session, monkeypatch):
    """Whether a release has news is decided on the release about to be published, not on a
    second one built to compare (at 10,000 companies each build takes seconds); the build runs
    with what existed before it out of the garbage collector's way, given back after."""
    method, bank = make.content.current_methodology, make.content.bank
    monkeypatch.setattr(releases, "publish_if_due", lambda *args: None)  # published below
    build, builds = disclosure.build_release, []

    def counted(*args, **kwargs):
        builds.append(gc.get_freeze_count() > 0)
        return build(*args, **kwargs)

    monkeypatch.setattr(disclosure, "build_release", counted)
    for number in (1, 2):
        for _ in range(method.benchmark.disclosure_threshold):
            make.submitted(make.organisation(), consent=True)
        builds.clear()
        assert releases.publish(session, bank, method).number == number
        assert builds == [True]
        assert gc.get_freeze_count() == 0
    builds.clear()
    assert releases.publish(session, bank, method) is None  # nothing new since number 2
    assert builds == [True]


def test_a_slower_refresh_never_overwrites_newer_figures(session):
    aggregates._replace(session, "test", "scope", {"": {"n": 2}}, marker=20)
    aggregates._replace(session, "test", "scope", {"": {"n": 1}}, marker=10)
    session.commit()
    assert aggregates._payload(session, "test", "scope") == {"n": 2}
    aggregates._replace(session, "test", "scope", {"": {"n": 3}}, marker=30)
    session.commit()
    assert aggregates._payload(session, "test", "scope") == {"n": 3}


def test_init_db_recomputes_the_stored_aggregates(make, session, database_url, monkeypatch, tmp_path):
    from click.testing import CliRunner

    from dd_toolkit.cli import main as cli

    from .conftest import FIXTURE_CONTENT

    make.submitted(make.organisation(), consent=True)
    session.execute(sa.delete(Aggregate))
    session.commit()
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("DD_INSTANCE_PATH", str(tmp_path / "i"))
    monkeypatch.setattr("dd_toolkit.web.config.Config.DATABASE_URL", database_url)
    result = CliRunner().invoke(cli, ["--content", str(FIXTURE_CONTENT), "init-db"])
    assert result.exit_code == 0, result.output
    assert aggregates.stored_indicator_report(session, "SG", 2026).institutions == 0  # not addressed to SG
    assert releases.published(session, make.content.current_methodology) is None  # one consenting: none due


# -- lists paginate --------------------------------------------------------------------------------


@pytest.mark.parametrize("per_page", [4])
def test_the_inbox_is_read_one_page_at_a_time_with_filters_in_the_database(make, session, per_page):
    from dd_toolkit.records.assessments import submit

    for i in range(6):
        org = make.organisation(service_types=["gaming"] if i % 2 else ["messaging"])
        assessment = make.assessment(org, answers=make.complete_answers())
        submit(session, make.bank, make.content.current_methodology, assessment, None, jurisdictions=["SG"])
    first = inbox(session, ["SG"], page=1, per_page=per_page)
    second = inbox(session, ["SG"], page=2, per_page=per_page)
    assert (first.total, first.pages, len(first.rows), len(second.rows)) == (6, 2, 4, 2)
    assert not {r.recipient.id for r in first.rows} & {r.recipient.id for r in second.rows}
    gaming = inbox(session, ["SG"], service_type="gaming", per_page=per_page)
    assert gaming.total == 3 and all(r.record.service_types == ["gaming"] for r in gaming.rows)
    assert inbox(session, ["MY"]).total == 0
    assert session.exec(select(sa.func.count()).select_from(Recipient)).one() == 6


# -- a report updated by one submission's delta ------------------------------------------------------

REPORT_KINDS = (aggregates.INDICATOR_NAMES, aggregates.INDICATORS, aggregates.INDICATOR_INDEX)
SERVICE_SETS = (["social_network", "payments"], ["gaming"], ["payments"], ["social_network", "gaming"])


def _stored_reports(db, cycle: int) -> dict:
    rows = db.exec(
        select(Aggregate.kind, Aggregate.part, Aggregate.payload).where(
            Aggregate.kind.in_(REPORT_KINDS), Aggregate.scope == str(cycle)
        )
    ).all()
    # The reports as JSON text: the order of groups and of names counts too.
    return {
        (kind, part): payload if kind == aggregates.INDICATOR_INDEX else json.dumps(payload)
        for kind, part, payload in rows
    }


def _recomputed_reports(db, cycle: int) -> dict:
    """The reports of ``cycle`` as a full recompute stores them (then rolled back)."""
    with db.begin_nested() as savepoint:
        aggregates.refresh_indicators(db, cycle)
        found = _stored_reports(db, cycle)
        savepoint.rollback()
    return found


def _answers(exists: str, online: bool, payments: str) -> dict:
    answers = {"mini.policy.owner": 2, "mini.policy.exists": exists, "mini.ops.payments": payments}
    answers |= {"mini.ops.live": "reactive", "mini.ops.reports": 3}
    if exists != "no":
        answers["mini.policy.scope"] = ["online", "staff"] if online else ["staff"]
    return answers


def _submit_step(make, session, cycle: int, latest: dict, step) -> None:
    """One institution submits (a new version when it already has): answers, service types,
    recipients and methodology as drawn."""
    from dd_toolkit.records.assessments import new_version, start_assessment, submit

    org, services, exists, online, payments, jurisdictions, methodology = step
    org.service_types = list(SERVICE_SETS[services])
    session.add(org)
    session.commit()
    previous = latest.get(org.id)
    if previous is None:
        assessment = start_assessment(session, make.bank, org, cycle, None)
    else:
        assessment = new_version(session, make.bank, previous, None)
    make.answer(assessment, None, _answers(exists, online, payments))
    method = make.content.methodology(methodology)
    submit(session, make.bank, method, assessment, None, jurisdictions=sorted(jurisdictions))
    latest[org.id] = assessment


_cycles = itertools.count(2030)  # a cycle of its own for each example


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.tuples(
            st.integers(0, 3),
            st.integers(0, len(SERVICE_SETS) - 1),
            st.sampled_from(["yes", "partial", "no"]),
            st.booleans(),
            st.sampled_from(["yes", "partial", "no"]),
            st.sets(st.sampled_from(["SG", "MY", "TH"]), min_size=1),
            st.sampled_from(["standard@test.1"] * 5 + ["standard@test.2"]),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_reports_updated_one_submission_at_a_time_equal_a_full_recompute(make, session, monkeypatch, steps):
    """Submissions and new versions (other answers, service types, recipients, sometimes another
    methodology) each update the stored reports by their delta; after every one the stored
    reports, the page's variant and the index are exactly what a full recompute stores."""
    monkeypatch.setattr(releases, "publish_if_due", lambda *args: None)  # the releases are not under test
    cycle = next(_cycles)
    orgs = [make.organisation(f"Institution {cycle}-{i}") for i in range(4)]
    latest: dict = {}
    for org_index, *drawn in steps:
        _submit_step(make, session, cycle, latest, (orgs[org_index], *drawn))
        stored = _stored_reports(session, cycle)
        assert stored == _recomputed_reports(session, cycle)
        assert {part for kind, part in stored} == {
            r.jurisdiction
            for r in session.exec(
                select(Recipient).join(Submission).join(SubmissionRecord).where(SubmissionRecord.cycle == cycle)
            )
        }


def test_a_new_version_updates_the_stored_report_without_recomputing_it(make, session, monkeypatch):
    monkeypatch.setattr(releases, "publish_if_due", lambda *args: None)
    recomputed = []
    recompute = aggregates._recompute

    def spy(db, cycle, jurisdictions=None):
        if jurisdictions is not None:  # a refresh after a submission (the test's own recomputes aside)
            recomputed.append(jurisdictions)
        return recompute(db, cycle, jurisdictions)

    monkeypatch.setattr(aggregates, "_recompute", spy)
    cycle, latest = 2029, {}
    orgs = [make.organisation() for _ in range(3)]
    for org in orgs:
        _submit_step(make, session, cycle, latest, (org, 0, "yes", True, "yes", {"SG"}, "standard@test.1"))
    assert recomputed == [["SG"]]  # only the first: there was no stored report yet
    _submit_step(make, session, cycle, latest, (orgs[1], 1, "no", False, "no", {"SG"}, "standard@test.1"))
    assert recomputed == [["SG"]]
    report = aggregates.stored_indicator_report(session, "SG", cycle, all_names=True)
    assert report.institutions == 3 and list(report.by_service_type) == ["all", "gaming", "payments", "social_network"]
    policy = next(c for c in report.by_service_type["all"] if c.key == "RPA:7.4.1")
    assert (policy.met, policy.applies) == (2, 3)
    assert policy.companies == [orgs[0].name, orgs[2].name]
    assert _stored_reports(session, cycle) == _recomputed_reports(session, cycle)
    # A stored index of another format version is not trusted: the report is recomputed.
    session.execute(
        sa.update(Aggregate)
        .where(Aggregate.kind == aggregates.INDICATOR_INDEX, Aggregate.part == "SG")
        .values(payload={"format": 0})
    )
    session.commit()
    _submit_step(make, session, cycle, latest, (orgs[2], 2, "partial", True, "yes", {"SG"}, "standard@test.1"))
    assert recomputed == [["SG"], ["SG"]]
    assert _stored_reports(session, cycle) == _recomputed_reports(session, cycle)


def test_two_submissions_refreshing_at_once_lose_no_update(make, session, app, monkeypatch):
    """One refresh holds the stored report while another institution submits: the second refresh
    waits for the first, then adds its own submission to what the first stored."""
    import threading

    from dd_toolkit.records.assessments import start_assessment, submit

    monkeypatch.setattr(releases, "publish_if_due", lambda *args: None)
    cycle, latest = 2028, {}
    first, second, third = (make.organisation() for _ in range(3))
    _submit_step(make, session, cycle, latest, (first, 0, "yes", True, "yes", {"SG"}, "standard@test.1"))
    assessment = make.assessment(second, cycle=cycle, answers=_answers("yes", True, "no"))
    method = make.content.methodology("standard@test.1")
    submit(session, make.bank, method, assessment, None, jurisdictions=["SG"], refresh_aggregates=False)
    # This refresh counts the second institution and keeps the report locked (not committed yet).
    aggregates.refresh_indicators(session, cycle, ["SG"])
    done = threading.Event()

    def other_worker():
        with standalone_session(app.extensions["dd_engine"]) as other:
            org = other.get(type(third), third.id)
            late = start_assessment(other, make.bank, org, cycle, None)
            make.__class__(other, make.content).answer(late, None, _answers("no", False, "yes"))
            submit(other, make.bank, method, late, None, jurisdictions=["SG"])
        done.set()

    worker = threading.Thread(target=other_worker)
    worker.start()
    assert not done.wait(0.5)  # it waits for the report
    session.commit()
    worker.join(60)
    assert done.is_set()
    session.expire_all()
    report = aggregates.stored_indicator_report(session, "SG", cycle)
    assert report.institutions == 3
    assert report.organisation_ids == {first.id, second.id, third.id}
    assert _stored_reports(session, cycle) == _recomputed_reports(session, cycle)


def test_contributions_are_read_as_the_records_hold_them(demo, real_app):
    """A release's contributions, read as text and decoded once per row, hold each latest record's
    profile, figures and risk distribution exactly as the records give them."""
    from dd_toolkit.engine.risk_record import risk_distribution_entry

    method = real_app.extensions["dd_content"].current_methodology
    found = releases.contributions(demo, method)
    records = demo.exec(
        select(SubmissionRecord)
        .where(SubmissionRecord.latest == sa.true(), SubmissionRecord.methodology == method.key)
        .order_by(SubmissionRecord.submission_id)
    ).all()
    assert [c.submission_id for c in found] == [r.submission_id for r in records]
    assert any(r.risk_register for r in records) and any(c.risks for c in found)
    for contribution, record in zip(found, records, strict=True):
        entry = releases.entry_of(record)
        assert contribution.consent == record.benchmark_consent
        assert (contribution.organisation_id, contribution.cycle) == (entry.organisation_id, entry.cycle)
        assert (contribution.service_types, contribution.size_band, contribution.countries) == (
            entry.service_types,
            entry.size_band,
            entry.countries,
        )
        assert (contribution.overall, contribution.modules, contribution.lenses) == (
            entry.overall,
            entry.modules,
            entry.lenses,
        )
        assert (contribution.indicators, contribution.practices) == (entry.indicators, entry.practices)
        assert contribution.risks == risk_distribution_entry(record.risk_register, method.risk)


def test_a_recomputed_report_takes_its_rows_in_the_order_an_update_locks_them(make, session, monkeypatch):
    """An update of a stored report locks its index row first (aggregates._update). A recompute
    of the report, after an update found the index untrustworthy, deletes the index row first
    too: a recompute that deleted the report's other rows first deadlocked on PostgreSQL with
    an update of the same report in another transaction (two submissions at once)."""
    monkeypatch.setattr(releases, "publish_if_due", lambda *args: None)
    cycle, latest = 2029, {}
    for org in [make.organisation() for _ in range(2)]:
        _submit_step(make, session, cycle, latest, (org, 0, "yes", True, "yes", {"SG"}, "standard@test.1"))
    session.execute(
        sa.update(Aggregate)
        .where(Aggregate.kind == aggregates.INDICATOR_INDEX, Aggregate.part == "SG")
        .values(payload={"format": 0})
    )
    session.commit()
    kinds = (aggregates.INDICATOR_INDEX, aggregates.INDICATOR_NAMES, aggregates.INDICATORS)
    with recorded_statements(session.get_bind()) as statements:
        aggregates.refresh_indicators(session, cycle, ["SG"])
    session.commit()
    writes = [
        (statement.split()[0], next(kind for kind in kinds if kind in parameter_values(parameters)))
        for statement, parameters in statements
        if statement.startswith(("UPDATE aggregate", "DELETE FROM aggregate"))
    ]
    index = aggregates.INDICATOR_INDEX
    assert writes[0] == ("UPDATE", index)  # the update's lock, before it found the index untrustworthy
    deletes = [kind for verb, kind in writes if verb == "DELETE"]
    assert deletes[0] == index and sorted(deletes) == sorted(kinds)
    assert _stored_reports(session, cycle) == _recomputed_reports(session, cycle)


def test_the_report_cycles_are_found_without_reading_every_record(make, session):
    """The regulator's report lists the cycles on every visit: one step down the cycle index per
    cycle, not a DISTINCT over every record (which grows with the submissions)."""
    assert aggregates.report_cycles(session) == []
    for cycle in (2024, 2026, 2026, 2025, 2024):
        org = make.organisation()
        make.submitted(org, make.user(org), cycle=cycle)
    every = session.exec(select(SubmissionRecord.cycle)).all()
    assert len(every) == 5 and aggregates.report_cycles(session) == sorted(set(every), reverse=True) == [
        2026,
        2025,
        2024,
    ]
    if session.get_bind().dialect.name == "sqlite":
        sql = str(aggregates._CYCLES.compile(dialect=session.get_bind().dialect))
        plan = " / ".join(row[-1] for row in session.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}"))
        assert "SCAN submission_record" not in plan and "SEARCH submission_record" in plan, plan

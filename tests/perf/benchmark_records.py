"""The work behind the pages, on an instance's database (``DATABASE_URL``): storing one
submission's decoded pieces, refreshing what one new submission changes (the regulators' reports,
and building the working group's next release), and the action-plan PDF.

Run by the page benchmark after each of its instances (``make bench``), or alone::

    DATABASE_URL=sqlite:///... DD_INSTANCE_PATH=... python -m tests.perf.benchmark_records

It adds one company with a submitted assessment to the database it is given.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
import time

from sqlmodel import select

from dd_toolkit.engine import disclosure
from dd_toolkit.engine.documents import action_plan_document
from dd_toolkit.engine.snapshot import decode
from dd_toolkit.records import aggregates, releases
from dd_toolkit.records.assessments import create_organisation, save_answers, start_assessment, submit
from dd_toolkit.records.database import standalone_session
from dd_toolkit.records.demo import COMPANIES, demo_answers
from dd_toolkit.records.models import Assessment, IndicatorOutcomeRecord, Organisation, SubmissionRecord
from dd_toolkit.records.plans import inputs_for
from dd_toolkit.records.submissions import store_record
from dd_toolkit.web import create_app


def timed(work, repeat: int = 5) -> float:
    """Median wall time of ``work`` in milliseconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    app = create_app()
    content = app.extensions["dd_content"]
    bank, method = content.bank, content.current_methodology
    with standalone_session(app.extensions["dd_engine"]) as db:
        companies = db.exec(select(SubmissionRecord.organisation_id).distinct()).all()
        print(f"database: {len(companies)} companies with submissions")

        # One more company, answered like the demo's first, submitted without refreshing.
        model = COMPANIES[0]
        org = create_organisation(db, "Benchmark Newcomer", _profile(model), None, source="benchmark")
        db.commit()
        assessment = start_assessment(db, bank, org, max(r for r in db.exec(select(Assessment.cycle))), None)
        answers = demo_answers(bank, _profile(model), model, assessment.cycle)
        save_answers(db, assessment, None, {qid: (a, 0) for qid, a in answers.items()})
        start = time.perf_counter()
        jurisdictions = [c for c in model.countries if c in bank.taxonomy.asean_countries]
        submission = submit(
            db,
            bank,
            method,
            assessment,
            None,
            benchmark_consent=True,
            jurisdictions=jurisdictions,
            refresh_aggregates=False,
        )
        submit_ms = (time.perf_counter() - start) * 1000

        # Storing the decoded pieces alone (decode and insert), rolled back each time.
        def store() -> None:
            with db.begin_nested():
                store_record(db, submission, assessment)
                db.flush()
                raise _Rollback

        def store_once() -> None:
            try:
                store()
            except _Rollback:
                pass

        for table in (SubmissionRecord, IndicatorOutcomeRecord):
            db.execute(table.__table__.delete().where(table.submission_id == submission.id))
        store_ms = timed(store_once)
        decode_ms = timed(lambda: decode(json.loads(submission.snapshot)))
        db.rollback()

        # What a submission refreshes: the reports of the jurisdictions it is addressed to, each
        # updated by the submission's delta. Each run is rolled back, so each does the same work;
        # then the same reports recomputed in full, for comparison.
        def rolled_back(work) -> None:
            with db.begin_nested() as savepoint:
                work()
                savepoint.rollback()

        refresh_ms = timed(
            lambda: rolled_back(lambda: aggregates.refresh_indicators(db, assessment.cycle, jurisdictions)), repeat=3
        )
        recompute = getattr(aggregates, "_recompute", None)  # absent before reports were updated by deltas
        recompute_ms = (
            timed(lambda: rolled_back(lambda: recompute(db, assessment.cycle, jurisdictions)), repeat=3)
            if recompute
            else None
        )
        aggregates.refresh_indicators(db, assessment.cycle, jurisdictions)
        db.commit()
        # Reading every contribution and building the release, as publishing does (nothing stored).
        start = time.perf_counter()
        candidate = releases.next_release(db, bank, method)
        release_ms = (time.perf_counter() - start) * 1000
        due_ms, due_news = _due_release(bank, method, candidate)

        lumen = db.exec(
            select(Assessment)
            .join(Organisation, Organisation.id == Assessment.organisation_id)
            .where(Organisation.name == COMPANIES[0].name, Assessment.status == "submitted")
        ).first()
        action_plan_document(inputs_for(db, content, lumen, with_peers=True), "pdf")  # fonts, templates
        pdf_ms = timed(lambda: action_plan_document(inputs_for(db, content, lumen, with_peers=True), "pdf"), 3)

    print(f"  submit (freeze, score, store the decoded pieces): {submit_ms:8.1f} ms")
    print(f"  store one submission's decoded pieces:             {store_ms:8.1f} ms (decode alone {decode_ms:.1f} ms)")
    print(f"  refresh the reports of its {len(jurisdictions)} jurisdictions:            {refresh_ms:8.1f} ms")
    if recompute_ms is not None:
        print(f"    (the same reports recomputed in full:            {recompute_ms:8.1f} ms)")
    print(f"  read and build the working group's next release:   {release_ms:8.1f} ms")
    print(f"  build a release that is due (threshold new companies): {due_ms:5.1f} ms ({due_news})")
    print(f"  action-plan PDF of the demo company:               {pdf_ms:8.1f} ms")


def _due_release(bank, method, candidate) -> tuple[float, str]:
    """Building the release after the one published, once as many new consenting companies as
    the threshold have submitted (copies of the latest cycle's first contributions, in memory):
    its figures change, so the disclosure rules' combination checks run in full."""
    if candidate is None or candidate.latest is None:
        return 0.0, "no release published yet"
    found = candidate.contributions
    threshold = releases.rules_of(method).threshold
    cycle = max(c.cycle for c in found)
    models = [c for c in found if c.cycle == cycle and c.consent][:threshold]
    top_submission = max(c.submission_id for c in found)
    top_organisation = max(c.organisation_id for c in found)
    newcomers = [
        dataclasses.replace(c, submission_id=top_submission + n, organisation_id=top_organisation + n)
        for n, c in enumerate(models, start=1)
    ]
    start = time.perf_counter()
    with releases.out_of_the_collectors_way():
        built = disclosure.build_release(
            [*found, *newcomers],
            previous=candidate.latest,
            rules=releases.rules_of(method),
            labels=releases.labels_of(bank),
            number=candidate.built.number,
            published_at=candidate.built.published_at,
            final=False,
        )
    elapsed = (time.perf_counter() - start) * 1000
    news = "with news" if disclosure.shows_news(built, candidate.latest) else "no news"
    return elapsed, news


class _Rollback(Exception):
    pass


def _profile(company):
    from dd_toolkit.engine.content import Profile

    return Profile(
        service_types=company.service_types,
        features=company.features,
        countries=company.countries,
        size_band=company.size_band,
        under18_users=company.under18_users,
        hq_country=company.hq_country,
    )


if __name__ == "__main__":
    main()

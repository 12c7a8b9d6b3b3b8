"""The working group's releases on the database: publishing, and reading the published figures.

The working group never sees live aggregates, only releases: stored, dated, numbered snapshots of
the anonymised benchmark (and, derived from it, the per-country RPA indicator rates). What a
release may show is decided by :mod:`dd_toolkit.engine.disclosure`; this module feeds it the
decoded submissions and stores what it decides.
"""

from __future__ import annotations

import datetime as dt
import gc
import json
from contextlib import contextmanager
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, select

from dd_toolkit.engine import disclosure
from dd_toolkit.engine.benchmark import BenchmarkEntry
from dd_toolkit.engine.content import QuestionBank
from dd_toolkit.engine.risk_record import risk_distribution_entry
from dd_toolkit.engine.scoring import Methodology
from dd_toolkit.records.audit import record
from dd_toolkit.records.models import Release, SubmissionRecord, User


def labels_of(bank: QuestionBank) -> dict[str, dict[str, str]]:
    """Names of the peer groups' service types, size bands and countries."""
    taxonomy = bank.taxonomy
    return {
        vocabulary: {entry.id: entry.label.get() for entry in getattr(taxonomy, vocabulary)}
        for vocabulary in ("service_types", "size_bands", "countries")
    }


def rules_of(method: Methodology) -> disclosure.Rules:
    """The disclosure rules a methodology sets (one place: ``benchmark:`` in its YAML)."""
    settings = method.benchmark
    return disclosure.Rules(
        threshold=settings.disclosure_threshold, score_step=settings.score_step, share_step=settings.share_step
    )


# The JSON a contribution needs of a record, read as text and decoded in one call per row: at
# 20,000 rows, decoding each column on its own was most of the reading.
_CONTRIBUTION_JSON = tuple(
    sa.cast(column, sa.Text)
    for column in (
        SubmissionRecord.service_types,
        SubmissionRecord.countries,
        SubmissionRecord.benchmark_entry,
        SubmissionRecord.risk_register,
    )
)


def contributions(db: Session, method: Methodology) -> list[disclosure.Contribution]:
    """The latest submission of every organisation and cycle scored with ``method``, with its
    consent; the disclosure module leaves out those without consent."""
    rows = db.exec(
        select(
            SubmissionRecord.submission_id,
            SubmissionRecord.organisation_id,
            SubmissionRecord.cycle,
            SubmissionRecord.benchmark_consent,
            SubmissionRecord.size_band,
            *_CONTRIBUTION_JSON,
        )
        .where(
            SubmissionRecord.latest == sa.true(),
            SubmissionRecord.methodology == method.key,
            SubmissionRecord.intact == sa.true(),  # a tampered submission never feeds a benchmark
        )
        .order_by(SubmissionRecord.submission_id)
    )
    found = []
    for sid, org_id, cycle, consent, size_band, *texts in rows:
        service_types, countries, figures, register = json.loads(f"[{','.join(t or 'null' for t in texts)}]")
        found.append(
            disclosure.Contribution(
                submission_id=sid,
                organisation_id=org_id,
                cycle=cycle,
                consent=bool(consent),
                service_types=tuple(service_types),
                size_band=size_band,
                countries=tuple(countries),
                overall=figures["overall"],
                modules=figures["modules"],
                lenses=figures["lenses"],
                indicators=figures["indicators"],
                practices=figures["practices"],
                # The distribution of residual risk levels, under the same disclosure rules.
                risks=risk_distribution_entry(register, method.risk),
            )
        )
    return found


def entry_of(record: SubmissionRecord) -> BenchmarkEntry:
    """A submission's figures as a benchmark entry, to place a company against a release."""
    figures = record.benchmark_entry
    return BenchmarkEntry(
        organisation_id=record.organisation_id,
        cycle=record.cycle,
        service_types=tuple(record.service_types),
        size_band=record.size_band,
        countries=tuple(record.countries),
        overall=figures["overall"],
        modules=figures["modules"],
        lenses=figures["lenses"],
        indicators=figures["indicators"],
        practices=figures["practices"],
    )


# -- reading -------------------------------------------------------------------------------------


def release_numbers(db: Session, method: Methodology) -> list[int]:
    """Published releases under ``method``, newest first."""
    return list(db.exec(_NUMBERS, params={"methodology": method.key}))


def release_rows(db: Session, method: Methodology) -> list[Release]:
    """Every release under ``method``, newest first, without its figures."""
    return list(
        db.exec(
            select(Release)
            .where(Release.methodology == method.key)
            .options(sa.orm.defer(Release.ledger), sa.orm.defer(Release.figures))
            .order_by(Release.number.desc())
        )
    )


# Published releases never change, so a worker keeps the few it has parsed. Which release is
# the latest is still read from the database on every request: every worker shows the same.
_PARSED: dict[tuple, disclosure.Release] = {}
_PARSED_LIMIT = 8


# Built once (the working group's pages and a company's peers page read one on every visit):
# building a statement and its cache key costs more than running it.
_LATEST = (
    select(Release.id, Release.number, Release.published_at)
    .where(Release.methodology == sa.bindparam("methodology"))
    .order_by(Release.number.desc())
    .limit(1)
)
_NUMBERED = _LATEST.where(Release.number == sa.bindparam("number"))
_NUMBERS = (
    select(Release.number).where(Release.methodology == sa.bindparam("methodology")).order_by(Release.number.desc())
)


def published(db: Session, method: Methodology, number: int | None = None) -> disclosure.Release | None:
    """A published release (the latest by default), as the working group sees it."""
    if number is None:
        found = db.exec(_LATEST, params={"methodology": method.key}).first()
    else:
        found = db.exec(_NUMBERED, params={"methodology": method.key, "number": number}).first()
    if found is None:
        return None
    key = (db.get_bind().url.render_as_string(hide_password=True), *found)
    if key not in _PARSED:
        figures = db.exec(select(Release.figures).where(Release.id == found[0])).one()
        if len(_PARSED) >= _PARSED_LIMIT:
            _PARSED.pop(next(iter(_PARSED)))
        _PARSED[key] = disclosure.Release.from_dicts(figures, None)
    return _PARSED[key]


def _latest_with_ledger(db: Session, method: Methodology) -> tuple[Release | None, disclosure.Release | None]:
    row = db.exec(select(Release).where(Release.methodology == method.key).order_by(Release.number.desc())).first()
    if row is None:
        return None, None
    return row, disclosure.Release.from_dicts(row.figures, row.ledger)


# -- publishing ----------------------------------------------------------------------------------


# Each conflict means another release was stored meanwhile; more than a few in a row is a fault.
PUBLISH_ATTEMPTS = 3


def publish(
    db: Session,
    bank: QuestionBank,
    method: Methodology,
    *,
    final: bool = False,
    user: User | None = None,
    today: dt.date | None = None,
) -> Release | None:
    """Publish the next release when it can show something the previous one did not; commits.

    Returns None, publishing nothing, when no figure could change under the rules (fewer than
    the threshold number of new consenting submissions in every group since the last release).

    Two workers can decide at the same moment to publish the same number (two submissions making
    a release due at once). The one that stores it second rolls back and decides again, from the
    release just stored, so a submission never fails for it and no number is published twice.
    """
    for _attempt in range(PUBLISH_ATTEMPTS - 1):
        try:
            return _publish_next(db, bank, method, final=final, user=user, today=today)
        except sa.exc.IntegrityError:
            db.rollback()  # only this release and its audit entry were pending
    return _publish_next(db, bank, method, final=final, user=user, today=today)


@dataclass(frozen=True)
class NextRelease:
    """The release that would be published now, after the latest one stored."""

    latest_row: Release | None
    latest: disclosure.Release | None
    contributions: list[disclosure.Contribution]
    built: disclosure.Release


@contextmanager
def out_of_the_collectors_way():
    """Building a release at 10,000 companies makes millions of short-lived objects beside the
    millions read from the database; each full garbage collection meanwhile would walk them all,
    half of the build's time. What exists before the reading is left out of collections during
    it and the build (``gc.freeze``) and given back after; what they make is collected as usual."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def next_release(
    db: Session, bank: QuestionBank, method: Methodology, *, final: bool = False, today: dt.date | None = None
) -> NextRelease | None:
    """The next release of ``method`` built from every contribution, or None when there is no
    release yet and no consenting contribution to make one from."""
    latest_row, latest = _latest_with_ledger(db, method)
    with out_of_the_collectors_way():
        found = contributions(db, method)
        if latest is None and not any(c.consent for c in found):
            return None
        built = disclosure.build_release(
            found,
            previous=latest,
            rules=rules_of(method),
            labels=labels_of(bank),
            number=(latest_row.number if latest_row else 0) + 1,
            published_at=(today or dt.date.today()).isoformat(),
            final=final,
        )
    return NextRelease(latest_row, latest, found, built)


def _publish_next(
    db: Session,
    bank: QuestionBank,
    method: Methodology,
    *,
    final: bool,
    user: User | None,
    today: dt.date | None,
) -> Release | None:
    candidate = next_release(db, bank, method, final=final, today=today)
    if candidate is None:
        return None
    if candidate.latest is not None and not final and not disclosure.shows_news(candidate.built, candidate.latest):
        return None
    built, found, rules, number = candidate.built, candidate.contributions, rules_of(method), candidate.built.number
    row = Release(
        number=number,
        methodology=method.key,
        final=final,
        cycles=list(built.cycles),
        companies=built.companies,
        rules=rules.to_dict(),
        figures=built.to_dict(),
        ledger=built.ledger_dict(),
        source_marker=max((c.submission_id for c in found), default=0),
        published_by_id=user.id if user else None,
    )
    db.add(row)
    record(
        db,
        user=user,
        organisation_id=None,
        action="release.publish",
        entity="release",
        entity_id=number,
        detail={"final": final, "cycles": list(built.cycles), "companies": built.companies},
    )
    db.commit()
    return row


def release_due(db: Session, method: Methodology) -> bool:
    """Whether at least the threshold number of consenting submissions arrived since the latest
    release: the cheap test, two small queries; building the release decides the rest."""
    marker = db.exec(select(sa.func.max(Release.source_marker)).where(Release.methodology == method.key)).one() or 0
    newer = db.exec(
        select(sa.func.count())
        .select_from(SubmissionRecord)
        .where(
            SubmissionRecord.submission_id > marker,
            SubmissionRecord.benchmark_consent == sa.true(),
            SubmissionRecord.methodology == method.key,
            SubmissionRecord.intact == sa.true(),
        )
    ).one()
    return newer >= method.benchmark.disclosure_threshold


def publish_if_due(db: Session, bank: QuestionBank, method: Methodology) -> Release | None:
    """After a submission: publish when a release is due (:func:`release_due`) and the rules
    let it show something new."""
    if not release_due(db, method):
        return None
    return publish(db, bank, method)


def peer_medians(db: Session, method: Methodology, cycle: int) -> dict[str, float]:
    """Median of all companies for each framework reference, as the latest release shows it
    (empty when it shows none)."""
    release = published(db, method)
    if release is None or cycle not in release.cycles:
        return {}
    everyone = release.benchmarks[cycle].group("all")
    if everyone is None or everyone.suppressed:
        return {}
    return {
        metric.metric.removeprefix("lens:"): metric.median
        for metric in everyone.metrics
        if metric.metric.startswith("lens:") and not metric.suppressed and metric.median is not None
    }

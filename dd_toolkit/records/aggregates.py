"""Aggregates computed once and stored: the regulators' RPA indicator report per jurisdiction
and cycle here, and the working group's releases (:mod:`dd_toolkit.records.releases`).

They are computed by the engine from the decoded submission records, kept in the database so
every worker on every host reads the same figures, and refreshed when a submission (with its
consent and its recipients, which are chosen at submission) arrives. Pages read only the rows
they need; none of them rebuilds an aggregate.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, select

from dd_toolkit.engine.content import QuestionBank
from dd_toolkit.engine.indicators import Addressed, IndicatorReport, Outcome, indicator_reports
from dd_toolkit.engine.scoring import Methodology
from dd_toolkit.records import releases
from dd_toolkit.records.models import Aggregate, IndicatorOutcomeRecord, Recipient, SubmissionRecord, utcnow

INDICATORS = "indicators"  # a regulator's report of one jurisdiction, as its page shows it
INDICATOR_NAMES = "indicator_names"  # the same with every institution's name, for the exports
# A page lists the institutions meeting an indicator up to this many; the exports list them all.
NAMES_ON_PAGE = 30


# -- storing -------------------------------------------------------------------------------------


def _replace(
    db: Session, kind: str, scope: str, parts: dict[str, object], marker: int, part: str | None = None
) -> None:
    """Replace the stored rows of one (kind, scope), or of one ``part`` of it, with ``parts``,
    unless a refresh that saw newer submissions has already stored them (two submissions
    refreshing at once)."""
    where = [Aggregate.kind == kind, Aggregate.scope == scope]
    if part is not None:
        where.append(Aggregate.part == part)
    stored = db.exec(select(sa.func.max(Aggregate.source_marker)).where(*where)).one()
    if stored is not None and stored > marker:
        return
    db.execute(sa.delete(Aggregate).where(*where))
    now = utcnow()
    db.add_all(
        Aggregate(kind=kind, scope=scope, part=part, payload=payload, source_marker=marker, computed_at=now)
        for part, payload in parts.items()
    )


def _payload(db: Session, kind: str, scope: str, part: str = ""):
    return db.exec(
        select(Aggregate.payload).where(Aggregate.kind == kind, Aggregate.scope == scope, Aggregate.part == part)
    ).first()


# -- RPA indicator reports -------------------------------------------------------------------------


def _addressed(db: Session, cycle: int, jurisdictions: list[str] | None = None) -> list[Addressed]:
    query = (
        select(
            Recipient.jurisdiction,
            SubmissionRecord.submission_id,
            SubmissionRecord.organisation_id,
            SubmissionRecord.version,
            SubmissionRecord.organisation_name,
            SubmissionRecord.service_types,
        )
        .join(SubmissionRecord, SubmissionRecord.submission_id == Recipient.submission_id)
        .where(SubmissionRecord.cycle == cycle)
    )
    if jurisdictions is not None:
        query = query.where(Recipient.jurisdiction.in_(jurisdictions))
    rows = db.connection().execute(query).all()  # plain rows: no ORM loading for thousands
    outcomes: dict[int, list[Outcome]] = {}
    submission_ids = {row[1] for row in rows}
    if submission_ids:
        query = (
            select(
                IndicatorOutcomeRecord.submission_id,
                IndicatorOutcomeRecord.indicator_id,
                IndicatorOutcomeRecord.component_id,
                IndicatorOutcomeRecord.label,
                IndicatorOutcomeRecord.met,
                IndicatorOutcomeRecord.applies,
            )
            .join(SubmissionRecord, SubmissionRecord.submission_id == IndicatorOutcomeRecord.submission_id)
            .where(SubmissionRecord.cycle == cycle)
            .order_by(IndicatorOutcomeRecord.id)
        )
        if jurisdictions is not None:
            addressed = select(Recipient.submission_id).where(Recipient.jurisdiction.in_(jurisdictions))
            query = query.where(IndicatorOutcomeRecord.submission_id.in_(addressed))
        # "Not applicable" is its own status (applies false, met empty), never "not met".
        for sid, indicator_id, component_id, label, met, applies in db.connection().execute(query):
            outcomes.setdefault(sid, []).append(Outcome(indicator_id, component_id, label, met, applies))
    frozen = {sid: tuple(found) for sid, found in outcomes.items()}  # one tuple per submission
    return [
        Addressed(jurisdiction, org_id, version, name, tuple(service_types), frozen.get(sid, ()))
        for jurisdiction, sid, org_id, version, name, service_types in rows
    ]


def _marker(db: Session) -> int:
    return db.exec(select(sa.func.max(SubmissionRecord.submission_id))).one() or 0


def refresh_indicators(db: Session, cycle: int, jurisdictions: list[str] | None = None) -> None:
    """Rebuild and store the regulators' indicator report of every jurisdiction for one cycle
    (or only of ``jurisdictions``: those a new submission is addressed to)."""
    reports = indicator_reports(cycle, _addressed(db, cycle, jurisdictions))
    marker = _marker(db)
    for kind, shape in ((INDICATOR_NAMES, IndicatorReport.to_dict), (INDICATORS, _page_dict)):
        if jurisdictions is None:
            _replace(db, kind, str(cycle), {j: shape(r) for j, r in reports.items()}, marker)
            continue
        for jurisdiction, report in reports.items():
            _replace(db, kind, str(cycle), {jurisdiction: shape(report)}, marker, part=jurisdiction)


def _page_dict(report: IndicatorReport) -> dict:
    """The report without lists of names longer than a page shows (they stay in the exports')."""
    data = report.to_dict()
    for counts in data["by_service_type"].values():
        for count in counts:
            if len(count["companies"]) > NAMES_ON_PAGE:
                count["companies"] = []
    return data


def stored_indicator_report(db: Session, jurisdiction: str, cycle: int, *, all_names: bool = False) -> IndicatorReport:
    """A regulator's report of one jurisdiction (empty when nothing is addressed to it). The page's
    version names the institutions only where they are few; ``all_names`` for the exports."""
    stored = _payload(db, INDICATOR_NAMES if all_names else INDICATORS, str(cycle), jurisdiction)
    return IndicatorReport.from_dict(stored) if stored else IndicatorReport(jurisdiction, cycle, 0, {})


def report_cycles(db: Session) -> list[int]:
    """Cycles with at least one submission, newest first."""
    return list(db.exec(select(SubmissionRecord.cycle).distinct().order_by(SubmissionRecord.cycle.desc())))


# -- refreshing ------------------------------------------------------------------------------------


def refresh_after_submission(
    db: Session, bank: QuestionBank, method: Methodology, cycle: int, jurisdictions: list[str]
) -> None:
    """Everything a new submission of ``cycle`` addressed to ``jurisdictions`` can change: those
    jurisdictions' reports, and the working group's next release when one is due; commits."""
    refresh_indicators(db, cycle, jurisdictions)
    db.commit()
    releases.publish_if_due(db, bank, method)


def refresh_all(db: Session, bank: QuestionBank, method: Methodology, *, bulk_load: bool = False) -> None:
    """Recompute the stored reports (after a migration, a bulk load or a restore); commits.

    Then a release is published when one is due, or, after a bulk load, whenever the rules
    allow one (the operator loaded the data on purpose). Published releases are never rewritten."""
    db.execute(sa.delete(Aggregate).where(Aggregate.kind.in_((INDICATORS, INDICATOR_NAMES))))
    for cycle in report_cycles(db):
        refresh_indicators(db, cycle)
    db.commit()
    if bulk_load:
        releases.publish(db, bank, method)
    else:
        releases.publish_if_due(db, bank, method)

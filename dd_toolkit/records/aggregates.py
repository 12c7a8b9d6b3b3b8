"""Aggregates computed once and stored: the regulators' RPA indicator report per jurisdiction
and cycle here, and the working group's releases (:mod:`dd_toolkit.records.releases`).

They are computed by the engine from the decoded submission records, kept in the database so
every worker on every host reads the same figures, and refreshed when a submission (with its
consent and its recipients, which are chosen at submission) arrives. Pages read only the rows
they need; none of them rebuilds an aggregate.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable

import sqlalchemy as sa
from sqlmodel import Session, select

from dd_toolkit.engine.content import QuestionBank
from dd_toolkit.engine.indicators import INDICATORS as INDICATOR_IDS
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


def _addressed(
    db: Session, cycle: int, jurisdictions: list[str] | None = None, submission_ids: Iterable[int] | None = None
) -> list[tuple[int, Addressed]]:
    """The submissions of ``cycle`` addressed to ``jurisdictions`` (all, or only those of
    ``submission_ids``), each with its submission id and decoded indicator outcomes."""
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
    if submission_ids is not None:
        query = query.where(Recipient.submission_id.in_(list(submission_ids)))
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
        if submission_ids is not None:
            query = query.where(IndicatorOutcomeRecord.submission_id.in_(list(submission_ids)))
        elif jurisdictions is not None:
            addressed = select(Recipient.submission_id).where(Recipient.jurisdiction.in_(jurisdictions))
            query = query.where(IndicatorOutcomeRecord.submission_id.in_(addressed))
        # "Not applicable" is its own status (applies false, met empty), never "not met".
        for sid, indicator_id, component_id, label, met, applies in db.connection().execute(query):
            outcomes.setdefault(sid, []).append(Outcome(indicator_id, component_id, label, met, applies))
    frozen = {sid: tuple(found) for sid, found in outcomes.items()}  # one tuple per submission
    return [
        (sid, Addressed(jurisdiction, org_id, version, name, tuple(service_types), frozen.get(sid, ())))
        for jurisdiction, sid, org_id, version, name, service_types in rows
    ]


def _marker(db: Session) -> int:
    return db.exec(select(sa.func.max(SubmissionRecord.submission_id))).one() or 0


def refresh_indicators(db: Session, cycle: int, jurisdictions: list[str] | None = None) -> None:
    """Store the regulators' indicator report of every jurisdiction for one cycle, recomputed from
    the submission records; or, for ``jurisdictions`` (those a new submission is addressed to),
    update each stored report by what changed since it was stored (:func:`_update`), recomputing
    only a report that cannot be updated that way."""
    if jurisdictions is None:
        _recompute(db, cycle)
        return
    for jurisdiction in sorted(set(jurisdictions)):  # one order for every refresh: no deadlock
        if _update(db, cycle, jurisdiction):
            continue
        try:
            with db.begin_nested():
                _recompute(db, cycle, [jurisdiction])
        except sa.exc.IntegrityError:
            # There was no stored report to lock, and another refresh stored one first: update it.
            if not _update(db, cycle, jurisdiction):
                _recompute(db, cycle, [jurisdiction])


def _recompute(db: Session, cycle: int, jurisdictions: list[str] | None = None) -> None:
    """Recompute and store the reports of ``jurisdictions`` (all when None) with their indexes."""
    rows = _addressed(db, cycle, jurisdictions)
    reports = indicator_reports(cycle, [row for _, row in rows])
    names = {j: report.to_dict() for j, report in reports.items()}
    stored = {
        INDICATOR_NAMES: names,
        INDICATORS: {j: _page_of(data) for j, data in names.items()},
        INDICATOR_INDEX: _indexes(cycle, rows, names),
    }
    marker = _marker(db)
    for kind, parts in stored.items():
        if jurisdictions is None:
            _replace(db, kind, str(cycle), parts, marker)
            continue
        for jurisdiction in jurisdictions:  # nothing addressed to it any more: no report
            found = {jurisdiction: parts[jurisdiction]} if jurisdiction in parts else {}
            _replace(db, kind, str(cycle), found, marker, part=jurisdiction)


def _page_of(data: dict) -> dict:
    """A report without lists of names longer than a page shows (they stay in the exports')."""
    return {
        **data,
        "by_service_type": {
            group: [
                {**count, "companies": []} if len(count["companies"]) > NAMES_ON_PAGE else count for count in counts
            ]
            for group, counts in data["by_service_type"].items()
        },
    }


# -- updating a stored report by one submission ------------------------------------------------------
#
# Beside each report (kinds INDICATOR_NAMES and INDICATORS) an index (kind INDICATOR_INDEX) records
# what it counts: the submission counted for each institution, how many institutions each service
# type group has, the ids of the institutions named in each list of names (in the list's order),
# and the shape every counted submission shares (its indicator and component keys and labels, in
# order). When every counted submission has that shape, a report is the sum of each institution's
# own report (counts added, names merged in institution order), so a new submission changes it by
# removing what its institution's previous submission added and adding its own. Anything else
# (another format, mixed shapes, many changes at once) is recomputed.

INDICATOR_INDEX = "indicator_index"
INDEX_FORMAT = 1
# More institutions changed than this since the report was stored: recompute it instead.
DELTA_LIMIT = 50


class _Recompute(Exception):
    """The stored report cannot be updated by a delta."""


def _signature(row: Addressed) -> tuple[tuple[str, str], ...]:
    return tuple(
        (f"{o.indicator_id}/{o.component_id}" if o.component_id else o.indicator_id, o.label)
        for o in row.outcomes
        if o.indicator_id in INDICATOR_IDS
    )


def _own_report(cycle: int, row: Addressed) -> dict:
    """What one institution's submission adds to a report: the report of it alone."""
    return next(iter(indicator_reports(cycle, [row]).values())).to_dict()


def _latest(rows: Iterable[tuple[int, Addressed]]) -> dict[str, dict[int, tuple[int, Addressed]]]:
    """The submission each report counts for each institution, as :func:`indicator_reports`
    chooses it: its latest version addressed to the jurisdiction."""
    latest: dict[str, dict[int, tuple[int, Addressed]]] = {}
    for sid, row in rows:
        mine = latest.setdefault(row.jurisdiction, {})
        if row.organisation_id not in mine or mine[row.organisation_id][1].version < row.version:
            mine[row.organisation_id] = (sid, row)
    return latest


def _indexes(cycle: int, rows: list[tuple[int, Addressed]], names: dict[str, dict]) -> dict[str, dict]:
    own: dict[int, dict] = {}  # a submission addressed to several jurisdictions is worked out once
    indexes = {}
    for jurisdiction, counted in _latest(rows).items():
        index = {
            "format": INDEX_FORMAT,
            "counted": {str(org): counted[org][0] for org in sorted(counted)},
            "groups": {},
            "ids": {},
            "shape": None,
        }
        indexes[jurisdiction] = index
        signatures = {_signature(row) for _, row in counted.values()}
        if len(signatures) != 1:
            continue  # mixed shapes: this report is always recomputed
        data = names[jurisdiction]
        groups: dict[str, int] = {}
        ids = {group: [[] for _ in counts] for group, counts in data["by_service_type"].items()}
        for org in sorted(counted):
            sid, row = counted[org]
            for group in ("all", *row.service_types):
                groups[group] = groups.get(group, 0) + 1
            if sid not in own:
                own[sid] = _own_report(cycle, row)
            for group, counts in own[sid]["by_service_type"].items():
                for met_ids, count in zip(ids[group], counts, strict=True):
                    met_ids.extend([org] * len(count["companies"]))
        aligned = all(
            [len(c["companies"]) for c in counts] == [len(met_ids) for met_ids in ids[group]]
            for group, counts in data["by_service_type"].items()
        )
        if aligned and set(groups) == set(ids):
            index.update(groups=groups, ids=ids, shape=[list(pair) for pair in signatures.pop()])
    return indexes


def _update(db: Session, cycle: int, jurisdiction: str) -> bool:
    """Update the stored report of one jurisdiction by what changed since it was stored (normally
    one institution's new submission replacing its previous one); False when it must be recomputed.

    The index row is locked first (UPDATE, then SELECT ... FOR UPDATE: a row lock on PostgreSQL,
    the database's write lock on SQLite), so two submissions refreshing at once update the report
    one after the other and neither update is lost."""
    scope = str(cycle)
    table = Aggregate.__table__
    where = (table.c.kind == INDICATOR_INDEX, table.c.scope == scope, table.c.part == jurisdiction)
    if not db.execute(sa.update(table).where(*where).values(computed_at=utcnow())).rowcount:
        return False
    index_id, index, marker = db.execute(
        sa.select(table.c.id, table.c.payload, table.c.source_marker).where(*where).with_for_update()
    ).one()
    if not isinstance(index, dict) or index.get("format") != INDEX_FORMAT or index.get("shape") is None:
        return False
    latest = db.connection().execute(
        sa.select(SubmissionRecord.organisation_id, SubmissionRecord.version, SubmissionRecord.submission_id)
        .join(Recipient, Recipient.submission_id == SubmissionRecord.submission_id)
        .where(SubmissionRecord.cycle == cycle, Recipient.jurisdiction == jurisdiction)
    )
    truth: dict[int, tuple[int, int]] = {}
    for org, version, sid in latest:
        if org not in truth or truth[org][0] < version:
            truth[org] = (version, sid)
    counted = {int(org): sid for org, sid in index["counted"].items()}
    changed = sorted(org for org in truth.keys() | counted.keys() if truth.get(org, (0, None))[1] != counted.get(org))
    if not changed:
        return True
    if len(changed) > DELTA_LIMIT or not truth:
        return False
    stored = {
        kind: db.execute(sa.select(table.c.id, table.c.payload).where(table.c.kind == kind, *where[1:])).first()
        for kind in (INDICATOR_NAMES, INDICATORS)
    }
    if any(row is None or not isinstance(row[1], dict) for row in stored.values()):
        return False
    data = stored[INDICATOR_NAMES][1]
    sids = {counted[org] for org in changed if org in counted} | {truth[org][1] for org in changed if org in truth}
    rows = dict(_addressed(db, cycle, [jurisdiction], submission_ids=sids))
    shape = tuple(tuple(pair) for pair in index["shape"])
    try:
        for org in changed:
            if org in counted:
                _apply(cycle, data, index, rows[counted[org]], shape, -1)
            if org in truth:
                _apply(cycle, data, index, rows[truth[org][1]], shape, +1)
    except (_Recompute, KeyError):
        return False
    index["counted"] = {str(org): truth[org][1] for org in sorted(truth)}
    marker = max(marker, *sids)
    now = utcnow()
    for row_id, payload in (
        (stored[INDICATOR_NAMES][0], data),
        (stored[INDICATORS][0], _page_of(data)),
        (index_id, index),
    ):
        db.execute(
            sa.update(table).where(table.c.id == row_id).values(payload=payload, source_marker=marker, computed_at=now)
        )
    return True


def _is_count(value: object) -> bool:
    return type(value) is int  # not a bool, a name or a list


def _apply(cycle: int, data: dict, index: dict, row: Addressed, shape: tuple, sign: int) -> None:
    """Add (``sign`` 1) or remove (-1) one institution's submission to or from a stored report
    and its index, in place."""
    if _signature(row) != shape:
        raise _Recompute
    org = row.organisation_id
    everyone = data["organisation_ids"]
    at = bisect.bisect_left(everyone, org)
    present = at < len(everyone) and everyone[at] == org
    if present == (sign > 0):
        raise _Recompute
    if sign > 0:
        everyone.insert(at, org)
    else:
        del everyone[at]
    data["institutions"] += sign
    groups, ids, report = index["groups"], index["ids"], data["by_service_type"]
    for group in ("all", *row.service_types):
        groups[group] = groups.get(group, 0) + sign
    for group, counts in _own_report(cycle, row)["by_service_type"].items():
        if group not in report:
            if sign < 0:
                raise _Recompute
            report[group] = [
                {k: 0 if _is_count(v) else [] if k == "companies" else v for k, v in count.items()} for count in counts
            ]
            ids[group] = [[] for _ in counts]
        if [c["key"] for c in report[group]] != [c["key"] for c in counts]:
            raise _Recompute
        for count, into, met_ids in zip(counts, report[group], ids[group], strict=True):
            for key, value in count.items():
                if _is_count(value):
                    into[key] += sign * value
            for name in count["companies"]:
                if sign > 0:
                    at = bisect.bisect_right(met_ids, org)
                    met_ids.insert(at, org)
                    into["companies"].insert(at, name)
                    continue
                at = bisect.bisect_left(met_ids, org)
                if at == len(met_ids) or met_ids[at] != org or into["companies"][at] != name:
                    raise _Recompute
                del met_ids[at], into["companies"][at]
    for group in [g for g, n in groups.items() if n <= 0]:
        del groups[group]
        report.pop(group, None)
        ids.pop(group, None)
    if set(groups) != set(report):
        raise _Recompute
    order = ["all"] + sorted(g for g in report if g != "all")
    data["by_service_type"] = {g: report[g] for g in order}
    index["groups"] = {g: groups[g] for g in order}
    index["ids"] = {g: ids[g] for g in order}


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
    db.execute(sa.delete(Aggregate).where(Aggregate.kind.in_((INDICATORS, INDICATOR_NAMES, INDICATOR_INDEX))))
    for cycle in report_cycles(db):
        refresh_indicators(db, cycle)
    db.commit()
    if bulk_load:
        releases.publish(db, bank, method)
    else:
        releases.publish_if_due(db, bank, method)

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
        .where(SubmissionRecord.cycle == cycle, SubmissionRecord.intact == sa.true())  # tampered: left out
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
    # The index first: :func:`_update` locks a report's index row before its other rows, and a
    # refresh that takes them in another order can deadlock with one that updates the report.
    stored = {
        INDICATOR_INDEX: _indexes(cycle, rows, names),
        INDICATOR_NAMES: names,
        INDICATORS: {j: _page_of(data) for j, data in names.items()},
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
# type group has and how many of them report each indicator and component, and the ids of the
# institutions named in each list of names, in the list's order. A new submission then changes a
# report by what its institution's previous submission added being taken away and its own being
# added, each worked out by the engine itself (:func:`_share`).
#
# That holds while every counted submission words an indicator or component the same way and lists
# an indicator's components all or not at all, in one order (one methodology), and while a
# submission brings no indicator or component new to a group it joins: then the keys, labels and
# order of every group stay what a recompute gives. Anything else is recomputed: another format of
# the index, a mixed cycle, many changes at once.

INDICATOR_INDEX = "indicator_index"
INDEX_FORMAT = 1
# More institutions changed than this since the report was stored: recompute it instead.
DELTA_LIMIT = 50
_PROBE = -1  # the organisation id of the stand-in institution of _share (real ids are positive)


class _Recompute(Exception):
    """The stored report cannot be updated by a delta."""


def _key(outcome: Outcome) -> str:
    return f"{outcome.indicator_id}/{outcome.component_id}" if outcome.component_id else outcome.indicator_id


def _layout(row: Addressed) -> tuple[dict[str, str], dict[str, list[str]]]:
    """The labels of a submission's indicator and component keys, and each indicator's components."""
    labels: dict[str, str] = {}
    components: dict[str, list[str]] = {}
    for outcome in row.outcomes:
        if outcome.indicator_id in INDICATOR_IDS:
            labels[_key(outcome)] = outcome.label
            if outcome.component_id:
                components.setdefault(outcome.indicator_id, []).append(_key(outcome))
    return labels, components


def _groups_of(row: Addressed) -> list[str]:
    return list(dict.fromkeys(("all", *row.service_types)))


def _own_report(cycle: int, *rows: Addressed) -> dict[str, list[dict]]:
    """The counts, by group, of the report of these submissions (of one jurisdiction) alone."""
    return next(iter(indicator_reports(cycle, rows).values())).to_dict()["by_service_type"]


def _share(cycle: int, row: Addressed, group: str, counts: list[dict]) -> dict[str, dict]:
    """What one institution's submission adds to each count of ``group`` (whose keys are those of
    ``counts``), by key: the engine's report of it beside a stand-in institution that reports every
    key of the group (and meets none), less the stand-in's own report."""
    outcomes = []
    for count in counts:
        indicator_id, _, component_id = count["key"].partition("/")
        outcomes.append(
            Outcome(indicator_id=indicator_id, component_id=component_id, label=count["label"], met=False, applies=True)
        )
    probe = Addressed(
        jurisdiction=row.jurisdiction,
        organisation_id=_PROBE,
        version=1,
        organisation_name="",
        service_types=() if group == "all" else (group,),
        outcomes=tuple(outcomes),
    )
    both = {c["key"]: c for c in _own_report(cycle, row, probe)[group]}
    alone = {c["key"]: c for c in _own_report(cycle, probe)[group]}
    return {key: {k: v - alone[key][k] if _is_count(v) else v for k, v in count.items()} for key, count in both.items()}


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
        index = {"format": INDEX_FORMAT, "counted": {str(org): counted[org][0] for org in sorted(counted)}}
        indexes[jurisdiction] = index
        labels: dict[str, set[str]] = {}
        components: dict[str, set[tuple[str, ...]]] = {}
        groups: dict[str, int] = {}
        present: dict[str, dict[str, int]] = {}
        ids: dict[str, dict[str, list[int]]] = {}
        for org in sorted(counted):
            sid, row = counted[org]
            row_labels, row_components = _layout(row)
            for key, label in row_labels.items():
                labels.setdefault(key, set()).add(label)
            for indicator_id, keys in row_components.items():
                components.setdefault(indicator_id, set()).add(tuple(keys))
            if sid not in own:
                own[sid] = _own_report(cycle, row)
            for group in _groups_of(row):
                groups[group] = groups.get(group, 0) + 1
                mine = present.setdefault(group, {})
                for key in row_labels:
                    mine[key] = mine.get(key, 0) + 1
                named = ids.setdefault(group, {})
                for count in own[sid][group]:
                    named.setdefault(count["key"], []).extend([org] * len(count["companies"]))
        report = names[jurisdiction]["by_service_type"]
        consistent = (
            all(len(found) == 1 for found in labels.values())
            and all(len(found) == 1 for found in components.values())
            and set(groups) == set(report)
            and all({c["key"] for c in report[g]} == set(present[g]) for g in groups)
            and all(len(ids[g].get(c["key"], ())) == len(c["companies"]) for g in groups for c in report[g])
        )
        if consistent:
            index.update(
                groups={g: groups[g] for g in report},
                present={g: {c["key"]: present[g][c["key"]] for c in report[g]} for g in report},
                ids={g: {c["key"]: ids[g].get(c["key"], []) for c in report[g]} for g in report},
            )
        index["consistent"] = consistent
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
    if not isinstance(index, dict) or index.get("format") != INDEX_FORMAT or not index.get("consistent"):
        return False
    latest = db.connection().execute(
        sa.select(SubmissionRecord.organisation_id, SubmissionRecord.version, SubmissionRecord.submission_id)
        .join(Recipient, Recipient.submission_id == SubmissionRecord.submission_id)
        .where(
            SubmissionRecord.cycle == cycle,
            Recipient.jurisdiction == jurisdiction,
            SubmissionRecord.intact == sa.true(),  # tampered: left out, as in _addressed
        )
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
    same = (table.c.scope == scope, table.c.part == jurisdiction)
    names = db.execute(sa.select(table.c.id, table.c.payload).where(table.c.kind == INDICATOR_NAMES, *same)).first()
    page_id = db.execute(sa.select(table.c.id).where(table.c.kind == INDICATORS, *same)).scalar()
    if names is None or page_id is None or not isinstance(names[1], dict):
        return False
    names_id, data = names
    sids = {counted[org] for org in changed if org in counted} | {truth[org][1] for org in changed if org in truth}
    rows = dict(_addressed(db, cycle, [jurisdiction], submission_ids=sids))
    try:
        for org in changed:
            if org in counted:
                _apply(cycle, data, index, rows[counted[org]], -1)
            if org in truth:
                _apply(cycle, data, index, rows[truth[org][1]], +1)
    except (_Recompute, KeyError):
        return False
    index["counted"] = {str(org): truth[org][1] for org in sorted(truth)}
    marker = max(marker, *sids)
    now = utcnow()
    for row_id, payload in ((names_id, data), (page_id, _page_of(data)), (index_id, index)):
        db.execute(
            sa.update(table).where(table.c.id == row_id).values(payload=payload, source_marker=marker, computed_at=now)
        )
    return True


def _is_count(value: object) -> bool:
    return type(value) is int  # not a bool, a name or a list


def _fits(counts: list[dict], row: Addressed) -> bool:
    """Whether a submission words its keys as the report does and lists each indicator's
    components as the report does (all of them, in its order) or not at all."""
    labels = {c["key"]: c["label"] for c in counts}
    components: dict[str, list[str]] = {}
    for count in counts:
        if "/" in count["key"]:
            components.setdefault(count["key"].split("/")[0], []).append(count["key"])
    row_labels, row_components = _layout(row)
    return all(labels.get(key) == label for key, label in row_labels.items()) and all(
        components.get(indicator_id) == keys for indicator_id, keys in row_components.items()
    )


def _apply(cycle: int, data: dict, index: dict, row: Addressed, sign: int) -> None:
    """Add (``sign`` 1) or take away (-1) one institution's submission to or from a stored report
    and its index, in place."""
    org = row.organisation_id
    everyone = data["organisation_ids"]
    at = bisect.bisect_left(everyone, org)
    if (at < len(everyone) and everyone[at] == org) == (sign > 0):
        raise _Recompute
    if sign > 0:
        everyone.insert(at, org)
    else:
        del everyone[at]
    data["institutions"] += sign
    report, groups, present, ids = data["by_service_type"], index["groups"], index["present"], index["ids"]
    if sign > 0 and "all" in report and not _fits(report["all"], row):
        raise _Recompute
    keys = list(_layout(row)[0])
    for group in _groups_of(row):
        counts = report.get(group)
        if counts is None:  # the first institution of this group: its report alone
            if sign < 0:
                raise _Recompute
            report[group] = _own_report(cycle, row)[group]
            groups[group] = 1
            present[group] = {c["key"]: 1 for c in report[group]}
            ids[group] = {c["key"]: [org] * len(c["companies"]) for c in report[group]}
            continue
        if not set(keys) <= {c["key"] for c in counts}:
            raise _Recompute  # a key new to the group: the others may count in it too
        share = _share(cycle, row, group, counts)
        for count in counts:
            part, named = share[count["key"]], ids[group][count["key"]]
            for name, value in part.items():
                if _is_count(value):
                    count[name] += sign * value
            for name in part["companies"]:
                if sign > 0:
                    at = bisect.bisect_right(named, org)
                    named.insert(at, org)
                    count["companies"].insert(at, name)
                    continue
                at = bisect.bisect_left(named, org)
                if at == len(named) or named[at] != org or count["companies"][at] != name:
                    raise _Recompute
                del named[at], count["companies"][at]
        groups[group] += sign
        for key in keys:
            present[group][key] += sign
        if groups[group] == 0:  # its last institution left
            del report[group], groups[group], present[group], ids[group]
            continue
        gone = {key for key, n in present[group].items() if n == 0}  # reported by no one any more
        if gone:
            report[group] = [c for c in counts if c["key"] not in gone]
            for key in gone:
                del present[group][key], ids[group][key]
    order = ["all"] + sorted(g for g in report if g != "all")
    data["by_service_type"] = {g: report[g] for g in order}
    index["groups"] = {g: groups[g] for g in order}
    index["present"] = {g: present[g] for g in order}
    index["ids"] = {g: ids[g] for g in order}


def stored_indicator_report(db: Session, jurisdiction: str, cycle: int, *, all_names: bool = False) -> IndicatorReport:
    """A regulator's report of one jurisdiction (empty when nothing is addressed to it). The page's
    version names the institutions only where they are few; ``all_names`` for the exports."""
    stored = _payload(db, INDICATOR_NAMES if all_names else INDICATORS, str(cycle), jurisdiction)
    return IndicatorReport.from_dict(stored) if stored else IndicatorReport(jurisdiction, cycle, 0, {})


# Built once (the regulator's indicator page reads them on every visit): building a statement and
# its cache key costs more than running it.
_STORED_VERSION = select(Aggregate.id, Aggregate.source_marker, Aggregate.computed_at).where(
    Aggregate.kind == INDICATORS, Aggregate.scope == sa.bindparam("scope"), Aggregate.part == sa.bindparam("part")
)


def _cycles_statement():
    # Each cycle found by one step down the cycle index, from the newest: a DISTINCT reads every
    # record (half a millisecond at 10,000 companies, on every visit of the report).
    found = select(sa.func.max(SubmissionRecord.cycle).label("cycle")).cte("cycles", recursive=True)
    before = select(sa.func.max(SubmissionRecord.cycle)).where(SubmissionRecord.cycle < found.c.cycle)
    found = found.union_all(select(before.scalar_subquery()).where(found.c.cycle.is_not(None)))
    return select(found.c.cycle).where(found.c.cycle.is_not(None)).order_by(found.c.cycle.desc())


_CYCLES = _cycles_statement()


def stored_indicator_version(db: Session, jurisdiction: str, cycle: int) -> tuple | None:
    """Which stored page report of one jurisdiction there is (None when nothing is addressed to
    it), without reading it: every refresh stores a new row or updates the row's time, so what a
    page kept of the report is keyed by this."""
    row = db.exec(_STORED_VERSION, params={"scope": str(cycle), "part": jurisdiction}).first()
    return tuple(row) if row is not None else None


def report_cycles(db: Session) -> list[int]:
    """Cycles with at least one submission, newest first."""
    return list(db.exec(_CYCLES))


# -- refreshing ------------------------------------------------------------------------------------


def refresh_after_submission(
    db: Session,
    bank: QuestionBank,
    method: Methodology,
    cycle: int,
    jurisdictions: list[str],
    *,
    publish: bool = True,
) -> None:
    """Everything a new submission of ``cycle`` addressed to ``jurisdictions`` can change: those
    jurisdictions' reports, and the working group's next release when one is due; commits.
    ``publish=False`` leaves the release to the caller (the web app publishes it once the
    submitter's page has gone out: at 10,000 companies building one takes seconds)."""
    refresh_indicators(db, cycle, jurisdictions)
    db.commit()
    if publish:
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

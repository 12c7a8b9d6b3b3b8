"""The audit trail: one event per change, written in the same transaction as the change.

The trail is a hash chain. Each row stores ``prev_hash``, the hash of the row before it, and
``row_hash``, the SHA-256 of its own content together with ``prev_hash``; the single row of
``audit_chain_head`` holds the number of events ever appended and the last hash. Editing a row
breaks its hash, deleting one breaks the link of the next (or, for the newest, the head), and
``dd-toolkit verify`` (:mod:`dd_toolkit.records.integrity`) recomputes all of it.

Events are queued on the session (:func:`record`, :func:`append`) and written at commit, after
everything else of the transaction: the head row is updated first, which takes the write lock
on SQLite and a row lock on PostgreSQL, so concurrent writers append one after the other and
never fork the chain. Because the head is locked last, a transaction never waits for another
row while holding it (no lock cycle with answer rows). Never insert ``AuditEvent`` rows
directly: go through this module.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session

from dd_toolkit.engine.portable import answer_fields
from dd_toolkit.engine.snapshot import answer_from
from dd_toolkit.records.models import Answer, AnswerHistory, AuditChainHead, AuditEvent, User, utcnow

GENESIS = "0" * 64  # the prev_hash of the first event
_PENDING = "dd_toolkit.audit.pending"
HEAD_ID = 1


def _at_text(at: datetime) -> str:
    if at.utcoffset() is None:  # stored without an offset: UTC
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).isoformat()


def event_hash(row: dict[str, Any] | AuditEvent, prev_hash: str) -> str:
    """The SHA-256 of one event's content and the previous event's hash (``row`` is an
    ``AuditEvent`` or a dict of its columns)."""
    get = row.get if isinstance(row, dict) else lambda name: getattr(row, name)
    body = {
        "at": _at_text(get("at")),
        "user_id": get("user_id"),
        "organisation_id": get("organisation_id"),
        "action": get("action"),
        "entity": get("entity"),
        "entity_id": get("entity_id"),
        "detail": get("detail") or {},
        "prev_hash": prev_hash,
    }
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def record(
    db: Session,
    *,
    user: User | None,
    organisation_id: int | None,
    action: str,
    entity: str,
    entity_id: Any = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Queue an audit event on the session; the caller's commit writes it with the change."""
    append(
        db,
        [
            {
                "user_id": user.id if user else None,
                "organisation_id": organisation_id,
                "action": action,
                "entity": entity,
                "entity_id": None if entity_id is None else str(entity_id),
                "detail": detail or {},
            }
        ],
    )


def append(db: Session, rows: list[dict[str, Any]]) -> None:
    """Queue events given as dicts of ``AuditEvent`` columns (a bulk load queues many at once);
    they are chained and written at commit, and dropped if the transaction rolls back."""
    pending = db.info.setdefault(_PENDING, [])
    for row in rows:
        # JSON round trip: the hash covers exactly what the database will give back.
        detail = json.loads(json.dumps(row.get("detail") or {}, default=str))
        at = row.get("at") or utcnow()
        pending.append({**row, "at": at if at.utcoffset() is not None else at.replace(tzinfo=UTC), "detail": detail})


def pending(db: Session) -> list[dict[str, Any]]:
    """The events queued on the session and not yet written."""
    return list(db.info.get(_PENDING, []))


def write_chained(connection: sa.Connection, rows: list[dict[str, Any]]) -> str:
    """Append ``rows`` to the chain on ``connection`` (inside its transaction) and return the
    new last hash. Updating the head first serialises concurrent appends."""
    head = AuditChainHead.__table__
    updated = connection.execute(
        sa.update(head).where(head.c.id == HEAD_ID).values(count=head.c.count + len(rows))
    ).rowcount
    if not updated:  # a database without its head row (made before revision 0009 stamped it)
        last = connection.execute(
            sa.select(AuditEvent.__table__.c.row_hash).order_by(AuditEvent.__table__.c.id.desc()).limit(1)
        ).scalar()
        total = connection.execute(sa.select(sa.func.count()).select_from(AuditEvent.__table__)).scalar()
        connection.execute(sa.insert(head).values(id=HEAD_ID, count=total + len(rows), last_hash=last or GENESIS))
    prev = connection.execute(sa.select(head.c.last_hash).where(head.c.id == HEAD_ID)).scalar() or GENESIS
    chained = []
    for row in rows:
        row_hash = event_hash(row, prev)
        chained.append({**row, "prev_hash": prev, "row_hash": row_hash})
        prev = row_hash
    connection.execute(sa.insert(AuditEvent.__table__), chained)
    connection.execute(sa.update(head).where(head.c.id == HEAD_ID).values(last_hash=prev))
    return prev


@event.listens_for(OrmSession, "before_commit")
def _write_pending(session: OrmSession) -> None:
    if not session.info.get(_PENDING) and not any(isinstance(obj, AuditEvent) for obj in session.new):
        return
    session.flush()  # everything else of the transaction first (and any event added directly is queued)
    rows = session.info.pop(_PENDING, None)
    if rows:
        write_chained(session.connection(), rows)


_COLUMNS = ("at", "user_id", "organisation_id", "action", "entity", "entity_id", "detail")


@event.listens_for(OrmSession, "before_flush")
def _queue_added_events(session: OrmSession, _context, _instances) -> None:
    """An ``AuditEvent`` added to the session directly is queued instead, to be chained at commit."""
    added = [obj for obj in session.new if isinstance(obj, AuditEvent) and obj.row_hash is None]
    for obj in added:
        session.expunge(obj)
    if added:
        append(session, [{name: getattr(obj, name) for name in _COLUMNS} for obj in added])


@event.listens_for(OrmSession, "after_transaction_end")
def _drop_pending(session: OrmSession, transaction) -> None:
    if transaction.parent is None and not transaction.nested:
        session.info.pop(_PENDING, None)  # rolled back: the events go with the change


# -- answer history ------------------------------------------------------------------------


def answer_state(row: Answer | dict[str, Any]) -> dict[str, Any]:
    """An answer's own fields as stored (JSON data), as the history records them."""
    return json.loads(json.dumps(answer_fields(answer_from(row)), default=str))


def history_entry(row: Answer, before: dict[str, Any] | None, user: User | None) -> AnswerHistory:
    """The history row of one save of ``row`` (flushed, so its version is the new one):
    ``before`` is the answer's fields before it (None: it is new). The caller adds it to the
    session, so it is committed with the save."""
    return AnswerHistory(
        assessment_id=row.assessment_id,
        question_id=row.question_id,
        answer_version=row.version,
        old=before,
        new=answer_state(row),
        changed_by_id=user.id if user else row.updated_by_id,
        changed_at=row.updated_at or utcnow(),
    )


def history_rows(answers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """History rows (dicts) for answers inserted in bulk as dicts of answer columns."""
    return [
        {
            "assessment_id": a["assessment_id"],
            "question_id": a["question_id"],
            "answer_version": a.get("version", 1),
            "old": None,
            "new": answer_state(a),
            "changed_by_id": a.get("updated_by_id"),
            "changed_at": a.get("updated_at") or utcnow(),
        }
        for a in answers
    ]

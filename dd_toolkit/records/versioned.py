"""Saving a row that carries a version (an answer, an action item's tracking, the transparency
text) only if nobody else saved it since the user's form was loaded.

The ``version`` column of these models is SQLAlchemy's version counter (``version_id_col``), so
every UPDATE checks the version the session loaded and bumps it. Each write runs in a savepoint
of its own: a conflict undoes that one row, never the other changes of the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session, SQLModel, select

Row = TypeVar("Row", bound=SQLModel)


class StaleVersion(Exception):
    """Someone else saved the row since the form was loaded. ``current`` is the row as it is
    now in the database, or None when there is none."""

    def __init__(self, current: Any) -> None:
        super().__init__("The row was changed since the form was loaded.")
        self.current = current


def save_versioned(
    db: Session,
    model: type[Row],
    key: Mapping[str, Any],
    row: Row | None,
    base_version: int,
    values: Mapping[str, Any],
) -> Row:
    """Write ``values`` to ``row``, the row of ``model`` identified by the unique ``key`` as
    loaded by the caller (None: there is none yet, so a new one is made from ``key``).

    ``base_version`` is the version the user's form was loaded with (0: there was no row). The
    write happens only if the row is still at that version; otherwise :class:`StaleVersion` is
    raised, with nothing of this row written. Flushes; the caller writes its audit event and
    commits.
    """
    if row is None and base_version != 0:
        raise StaleVersion(None)  # it was there when the form was loaded and has been removed since
    if row is not None and row.version != base_version:
        raise StaleVersion(row)  # saved by someone else between the form loading and this request
    creating, row_id = row is None, None if row is None else row.id
    _begin_for_savepoints(db)
    try:
        with db.begin_nested():
            if row is None:
                row = model(**key)
                db.add(row)
            for name, value in values.items():
                setattr(row, name, value)
            db.flush()
    except StaleDataError:
        # The UPDATE matched no row: someone else's save landed after this session read it.
        raise StaleVersion(db.get(model, row_id, populate_existing=True)) from None
    except sa.exc.IntegrityError:
        # Two people creating the same row: the other INSERT won. Any other integrity error
        # (no such row afterwards) is a real error.
        current = db.exec(select(model).filter_by(**key)).first() if creating else None
        if current is None:
            raise
        raise StaleVersion(current) from None
    return row


def _begin_for_savepoints(db: Session) -> None:
    """Make sure the database itself is in a transaction before the first savepoint.

    pysqlite (in its default, legacy transaction mode) sends BEGIN only before INSERT, UPDATE or
    DELETE, not before SAVEPOINT. A savepoint opened first would then be a transaction of its
    own, committed by its RELEASE instead of with the caller's commit (and its audit event).
    """
    connection = db.connection()
    if connection.dialect.name == "sqlite" and not connection.connection.dbapi_connection.in_transaction:
        connection.exec_driver_sql("BEGIN")

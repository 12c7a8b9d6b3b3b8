"""A ``limits`` storage in the toolkit's own database, so the abuse limits (Flask-Limiter) are
shared by every worker of a deployment without another service. It serves the fixed-window
strategy (the default): one row per counter, incremented with a single upsert.

Select it with the storage URI ``dd-database://`` and pass ``engine``, a callable returning the
SQLAlchemy engine, as a storage option. A deployment that has Redis can name it instead
(``RATELIMIT_STORAGE_URI=redis://...``).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

import sqlalchemy as sa
from limits.storage import Storage
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from dd_toolkit.records.models import RateLimitCounter

_table = RateLimitCounter.__table__
_MAX_KEY = _table.c.key.type.length  # 255


def stored_key(key: str) -> str:
    """The row key of a counter. A key longer than the column (a long email typed into the
    sign-in form) is kept as its start and its SHA-256, so it still has a counter of its own and
    PostgreSQL is never asked to store more than the column holds."""
    if len(key) <= _MAX_KEY:
        return key
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
    return key[: _MAX_KEY - len(digest) - 1] + "#" + digest


class DatabaseStorage(Storage):
    STORAGE_SCHEME = ["dd-database"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options):
        self._engine: Callable[[], Engine] = options.pop("engine")
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    @property
    def base_exceptions(self) -> type[Exception]:
        return sa.exc.SQLAlchemyError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """Add ``amount`` to the counter, starting a new window if the old one has ended."""
        engine = self._engine()
        key = stored_key(key)
        now = time.time()
        dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
        insert = dialect.insert(_table).values(key=key, count=amount, expires_at=now + expiry)
        ended = _table.c.expires_at <= now
        statement = insert.on_conflict_do_update(
            index_elements=[_table.c.key],
            set_={
                "count": sa.case((ended, amount), else_=_table.c.count + amount),
                "expires_at": sa.case((ended, now + expiry), else_=_table.c.expires_at),
            },
        ).returning(_table.c.count)
        with engine.begin() as connection:
            return int(connection.execute(statement).scalar_one())

    def _row(self, key: str):
        with self._engine().connect() as connection:
            return connection.execute(
                sa.select(_table.c.count, _table.c.expires_at).where(_table.c.key == stored_key(key))
            ).first()

    def get(self, key: str) -> int:
        row = self._row(key)
        return int(row.count) if row is not None and row.expires_at > time.time() else 0

    def get_expiry(self, key: str) -> float:
        row = self._row(key)
        return float(row.expires_at) if row is not None else time.time()

    def check(self) -> bool:
        try:
            with self._engine().connect() as connection:
                connection.execute(sa.select(1))
        except sa.exc.SQLAlchemyError:
            return False
        return True

    def reset(self) -> int | None:
        with self._engine().begin() as connection:
            return connection.execute(sa.delete(_table)).rowcount

    def clear(self, key: str) -> None:
        with self._engine().begin() as connection:
            connection.execute(sa.delete(_table).where(_table.c.key == stored_key(key)))

    def prune(self) -> int:
        """Drop counters whose window has ended (the CLI's housekeeping may call it)."""
        with self._engine().begin() as connection:
            return connection.execute(sa.delete(_table).where(_table.c.expires_at <= time.time())).rowcount

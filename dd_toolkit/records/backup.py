"""``dd-toolkit backup PATH`` and ``dd-toolkit restore PATH``.

A backup is a consistent copy of the running database: SQLite's online backup API (one read
transaction, so concurrent writers never tear it) or ``pg_dump`` in its custom format (one
repeatable-read snapshot). A restore goes into an empty database only, unless forced, and the
restored database is then migrated to the current schema.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from dd_toolkit.records.database import make_engine, upgrade

# Tables that a freshly migrated database already has rows in: it still counts as empty.
_BOOKKEEPING = {"alembic_version", "audit_chain_head", "aggregate", "shared_revision"}


class BackupError(Exception):
    """The backup or restore cannot be done; the message says why."""


def _kind(url: str) -> str:
    name = make_url(url).get_backend_name()
    if name not in ("sqlite", "postgresql"):
        raise BackupError(f"backups of {name} databases are not supported")
    return name


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up or restored")
    return Path(database)


def _pg_env(url: str) -> dict[str, str]:
    """libpq's environment for the database of ``url`` (the password never on a command line)."""
    parsed = make_url(url)
    env = dict(os.environ)
    for key, value in {
        "PGHOST": parsed.host,
        "PGPORT": parsed.port,
        "PGUSER": parsed.username,
        "PGPASSWORD": parsed.password,
        "PGDATABASE": parsed.database,
    }.items():
        if value is not None:
            env[key] = str(value)
    return env


def _run(command: list[str], env: dict[str, str]) -> None:
    if shutil.which(command[0]) is None:
        raise BackupError(f"{command[0]} was not found: install the PostgreSQL client tools")
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BackupError(f"{command[0]} failed: {done.stderr.strip() or done.returncode}")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def backup(url: str, path: Path) -> str:
    """Write a consistent copy of the database at ``url`` to ``path`` (written beside it and
    renamed, so a failed backup never leaves a partial file under that name); returns the
    file's SHA-256."""
    path = Path(path)
    if path.is_dir():
        raise BackupError(f"{path} is a folder: give the backup file's name")
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        if _kind(url) == "sqlite":
            source_path = _sqlite_path(url)
            if not source_path.exists():
                raise BackupError(f"there is no database at {source_path}")
            # Not mode=ro: a read-only connection cannot open a WAL database whose -shm is gone.
            source = sqlite3.connect(source_path, timeout=30)
            target = sqlite3.connect(partial)
            try:
                with target:
                    source.backup(target)  # all pages in one step: one consistent read
                target.execute("PRAGMA journal_mode=DELETE")  # a single self-contained file
                if target.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                    raise BackupError("the copy failed SQLite's integrity check")
            finally:
                target.close()
                source.close()
        else:
            _run(["pg_dump", "--format=custom", "--no-owner", "--no-privileges", f"--file={partial}"], _pg_env(url))
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    return file_sha256(path)


def is_empty(url: str) -> bool:
    """True when the database holds no records (it may have its schema and bookkeeping rows)."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            tables = sa.inspect(connection).get_table_names()
            for name in tables:
                if name in _BOOKKEEPING:
                    continue
                table = sa.table(name)
                if connection.execute(sa.select(sa.literal(1)).select_from(table).limit(1)).first() is not None:
                    return False
            return True
    finally:
        engine.dispose()


def restore(url: str, path: Path, *, force: bool = False) -> None:
    """Restore the backup at ``path`` into the database at ``url``, which must be empty unless
    ``force``; then migrate it to the current schema. Stop the app first: a restore replaces
    what every worker reads."""
    path = Path(path)
    if not path.is_file():
        raise BackupError(f"there is no backup file at {path}")
    kind = _kind(url)
    if kind == "sqlite" and _sqlite_path(url).exists() and not is_empty(url) and not force:
        raise BackupError("the database is not empty: restore into an empty one, or pass --force to replace it")
    if kind == "postgresql" and not is_empty(url) and not force:
        raise BackupError("the database is not empty: restore into an empty one, or pass --force to replace it")
    if kind == "sqlite":
        source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            try:
                if source.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                    raise BackupError(f"{path} failed SQLite's integrity check")
            except sqlite3.DatabaseError as exc:
                raise BackupError(f"{path} is not a SQLite backup ({exc})") from None
            target_path = _sqlite_path(url)
            target_path.parent.mkdir(parents=True, exist_ok=True)
            target = sqlite3.connect(target_path)
            try:
                with target:
                    source.backup(target)  # replaces every page of the target
            finally:
                target.close()
        finally:
            source.close()
    else:
        # --clean drops what the dump recreates (a forced restore over existing tables).
        _run(
            ["pg_restore", "--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction",
             f"--dbname={make_url(url).database}", str(path)],
            _pg_env(url),
        )  # fmt: skip
    upgrade(url)

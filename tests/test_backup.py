"""``dd-toolkit backup`` and ``restore``: a consistent copy of a running database, restored
only into an empty one (unless forced), which then passes ``verify``."""

import threading

import pytest
from click.testing import CliRunner
from sqlmodel import select

from dd_toolkit.cli import main as cli
from dd_toolkit.records import audit, backup, database, integrity
from dd_toolkit.records.models import AuditEvent, Organisation

from .conftest import FIXTURE_CONTENT, POSTGRES_URL


@pytest.fixture
def cli_on(tmp_path, monkeypatch):
    """Run the dd-toolkit command against the database at a given URL."""
    monkeypatch.setenv("DD_INSTANCE_PATH", str(tmp_path / "instance"))

    def invoke(url, *args):
        monkeypatch.setenv("DATABASE_URL", url)
        monkeypatch.setattr("dd_toolkit.web.config.Config.DATABASE_URL", url)
        return CliRunner().invoke(cli, ["--content", str(FIXTURE_CONTENT), *args])

    return invoke


def _some_records(make):
    org = make.organisation(name="Backed Up Co")
    user = make.user(org)
    make.submitted(org, user, cycle=2025)
    make.assessment(org, user, 2026, {"mini.ops.reports": 5})


def _organisations(url: str) -> list[str]:
    engine = database.make_engine(url)
    try:
        with database.standalone_session(engine) as db:
            return [o.name for o in db.exec(select(Organisation))]
    finally:
        engine.dispose()


def test_backup_of_a_running_database_restores_and_verifies(
    database_url, other_database_url, make, app, cli_on, tmp_path
):
    _some_records(make)
    engine = app.extensions["dd_engine"]
    stop = threading.Event()

    def keep_writing() -> None:  # the app goes on writing while the backup is taken
        while not stop.is_set():
            with database.standalone_session(engine) as db:
                audit.record(db, user=None, organisation_id=None, action="test.busy", entity="x")
                db.commit()

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        path = tmp_path / "backup.dump"
        taken = cli_on(database_url, "backup", str(path))
    finally:
        stop.set()
        writer.join()
    assert taken.exit_code == 0, taken.output
    assert f"backup written to {path} (SHA-256 {backup.file_sha256(path)})" in taken.output

    # other_database_url is an empty, migrated database.
    restored = cli_on(other_database_url, "restore", str(path))
    assert restored.exit_code == 0, restored.output
    assert "restored" in restored.output and "no problems" in restored.output
    assert _organisations(other_database_url) == ["Backed Up Co"]
    engine = database.make_engine(other_database_url)
    with database.standalone_session(engine) as db:
        assert integrity.verify(db).ok
        assert db.exec(select(AuditEvent).where(AuditEvent.action == "test.busy")).first() is not None
    engine.dispose()


def test_restore_refuses_a_database_that_is_not_empty(database_url, other_database_url, make, cli_on, tmp_path):
    _some_records(make)
    path = tmp_path / "backup.dump"
    assert cli_on(database_url, "backup", str(path)).exit_code == 0
    # Something else in the target: refused, and nothing changed.
    target = database.make_engine(other_database_url)
    with database.standalone_session(target) as db:
        db.add(Organisation(name="Already Here"))
        db.commit()
    target.dispose()
    refused = cli_on(other_database_url, "restore", str(path))
    assert refused.exit_code != 0
    assert "the database is not empty" in refused.output and "--force" in refused.output
    assert _organisations(other_database_url) == ["Already Here"]
    forced = cli_on(other_database_url, "restore", "--force", str(path))
    assert forced.exit_code == 0, forced.output
    assert _organisations(other_database_url) == ["Backed Up Co"]


@pytest.mark.skipif(bool(POSTGRES_URL), reason="the SQLite file path")
def test_restore_into_a_new_sqlite_file(database_url, make, cli_on, tmp_path):
    _some_records(make)
    path = tmp_path / "backup.sqlite"
    assert cli_on(database_url, "backup", str(path)).exit_code == 0
    fresh = f"sqlite:///{tmp_path / 'new' / 'restored.sqlite'}"
    restored = cli_on(fresh, "restore", str(path))
    assert restored.exit_code == 0, restored.output
    assert _organisations(fresh) == ["Backed Up Co"]
    # Not a backup at all: refused with a message.
    junk = tmp_path / "junk.dump"
    junk.write_text("not a database")
    other = f"sqlite:///{tmp_path / 'other.sqlite'}"
    failed = cli_on(other, "restore", str(junk))
    assert failed.exit_code != 0 and "not a SQLite backup" in failed.output


@pytest.mark.skipif(not POSTGRES_URL, reason="needs DD_TEST_POSTGRES_URL (tests/with_postgres.sh)")
def test_postgres_backup_is_a_pg_dump_archive(database_url, make, tmp_path):
    _some_records(make)
    path = tmp_path / "backup.dump"
    backup.backup(database_url, path)
    assert path.read_bytes()[:5] == b"PGDMP"  # pg_dump's custom format

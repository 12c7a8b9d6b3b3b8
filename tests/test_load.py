"""Load with nothing lost, the short version of ``make load`` (tests/perf/load.py): 20 people in
pairs save the same sections of the same assessments for 15 seconds against gunicorn with 4
workers on SQLite (on PostgreSQL under ``make test-postgres``), then submit and read the results.

Correctness is asserted whatever the machine's speed: every save a user was told succeeded is
stored as the next version (none overwritten silently), nothing else is stored, every conflict was
shown, no 5xx and no failed request. The p95 response time is checked by ``make load`` only: on a
busy test machine it would make this test flaky.
"""

from __future__ import annotations

import os
import shutil

import pytest

from tests.perf.load import BIN, run_load


def test_load_loses_nothing(tmp_path):
    if not shutil.which("gunicorn", path=str(BIN)):
        pytest.fail("gunicorn is needed: `make install` puts it in .venv")
    # On SQLite; on PostgreSQL when the suite runs against it (make test-postgres).
    database = "postgres" if os.environ.get("DD_TEST_POSTGRES_URL") else "sqlite"
    # Quicker than people (make load: 5-15 s on a section), so 15 seconds hold many saves
    # (about 150 acknowledged and as many conflicts shown).
    report = run_load(database, users=20, duration=15, think=(1.0, 4.0), log_dir=tmp_path)
    print("\n".join(report.lines()))
    assert not report.problems, "\n".join(report.lines())
    assert report.server_errors == 0 and not report.failures
    assert report.saves_acknowledged > 20  # the run did work ...
    assert report.submitted == 10 and report.results_read >= 20  # ... through to the end


def test_the_checks_catch_a_lost_or_silent_save(monkeypatch):
    """The checks themselves: a save told as done but not stored, one stored over another from the
    same version, and one stored but refused to the user, are each reported."""
    from tests.perf import load

    ledger = load.Ledger()
    key = "hrdd-policy-commitment"  # any question's form key
    monkeypatch.setattr(load, "stored_saves", lambda *_: ([(3, "load:a"), (4, "load:b"), (5, "load:c")], (5, "load:c")))
    monkeypatch.setattr(load, "question_of", lambda form_key: form_key.replace("-", "."))
    ledger.saved[(1, key)].update({"load:a": 2, "load:b": 2, "load:d": 5})
    ledger.submitted.add(1)
    report = load.Report("sqlite", 2, 1.0)
    load.check(report, "sqlite://", ledger, [load.Pair(1, 1, "s", "a@x", "b@x")])
    problems = "\n".join(report.problems)
    assert "load:b edited from version 2 stored as 4" in problems  # overwritten silently
    assert "load:d is not stored" in problems  # told saved, lost
    assert "load:c stored but the user was not told" in problems
    assert "load:a" not in problems

"""Load with nothing lost, the short version of ``make load`` (tests/perf/load.py): 20 people in
pairs save the same sections of the same assessments for 20 seconds against gunicorn with 4
workers on SQLite, then submit and read the results.

Correctness is asserted whatever the machine's speed: every save a user was told succeeded is
stored as the next version (none overwritten silently), nothing else is stored, every conflict was
shown, no 5xx and no failed request. The p95 response time is checked by ``make load`` only: on a
busy test machine it would make this test flaky.
"""

from __future__ import annotations

import shutil

import pytest

from tests.perf.load import BIN, run_load


def test_load_loses_nothing(tmp_path):
    if not shutil.which("gunicorn", path=str(BIN)):
        pytest.fail("gunicorn is needed: `make install` puts it in .venv")
    report = run_load("sqlite", users=20, duration=20, log_dir=tmp_path)
    print("\n".join(report.lines()))
    assert not report.problems, "\n".join(report.lines())
    assert report.server_errors == 0 and not report.failures
    assert report.saves_acknowledged > 20  # the run did work ...
    assert report.submitted == 10 and report.results_read >= 20  # ... through to the end

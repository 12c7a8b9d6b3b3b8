"""How much Python each page runs: the function calls one request makes, page by page, beside
the bare Flask page of the page benchmark (tests/perf/bare_app.py), all through Flask's test
client in this process. Run with ``make bench-calls``, or::

    .venv/bin/python -m tests.perf.benchmark_calls [--instance FOLDER] [--database URL]

The count is exact and the same on a busy machine, where wall-clock figures of a shared 2-core
machine vary by a third from one run to the next: it tells whether a change made a page cheaper
before ``make bench-pages`` measures it under load. The pages are those of the page benchmark,
signed in as the same demo identities; the test client's own calls are in every figure,
the bare page's included.

Without ``--instance`` a throw-away instance with the demo data is prepared first (half a minute);
with it, an instance already holding the demo data (and any generated companies) is read as it is.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import re
import tempfile
from pathlib import Path

from tests.perf.benchmark_pages import (
    COMPANY_ADMIN,
    DEMO_PASSWORD,
    REGULATOR,
    USER_AGENT,
    WORKING_GROUP,
    largest_review_section,
)
from tests.perf.benchmark_pdf import _prepare

HEADERS = {"User-Agent": USER_AGENT}
REQUESTS = 20  # per page, after one unmeasured request (templates compiled, parts kept)


def _signed_in(app, email: str):
    client = app.test_client()
    page = client.get("/auth/login", headers=HEADERS).get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    form = {"csrf_token": token, "email": email, "password": DEMO_PASSWORD}
    if client.post("/auth/login", data=form, headers=HEADERS).status_code != 302:
        raise SystemExit(f"signing in as {email} failed")
    return client


def _first(client, path: str, pattern: str) -> str:
    found = re.search(pattern, client.get(path, headers=HEADERS).get_data(as_text=True))
    if found is None:
        raise SystemExit(f"nothing matching {pattern!r} on {path}: is the demo data loaded?")
    return found.group(1)


def pages(app) -> list[tuple[str, object, str]]:
    admin, regulator, wg = (_signed_in(app, email) for email in (COMPANY_ADMIN, REGULATOR, WORKING_GROUP))
    submitted = _first(admin, "/", r'href="/assessments/(\d+)/results"')
    section = _first(admin, f"/assessments/{submitted}", rf'href="(/assessments/{submitted}/sections/[^"?#]+)"')
    recipient = _first(regulator, "/review/", r'href="/review/(\d+)"')
    return [
        ("home", admin, "/"),
        ("section", admin, section),
        ("results", admin, f"/assessments/{submitted}/results"),
        ("action plan", admin, f"/assessments/{submitted}/action-plan"),
        ("transparency draft", admin, f"/assessments/{submitted}/transparency"),
        ("peers", admin, f"/assessments/{submitted}/peers"),
        ("notifications", admin, "/notifications/"),
        ("inbox", regulator, "/review/"),
        ("submission", regulator, f"/review/{recipient}"),
        (
            "submission section",
            regulator,
            largest_review_section(regulator.get(f"/review/{recipient}", headers=HEADERS).get_data(as_text=True)),
        ),
        ("indicators", regulator, "/review/indicators"),
        ("benchmarks", wg, "/benchmarks/"),
        ("indicator rates", wg, "/benchmarks/indicators"),
    ]


def calls_per_request(request) -> int:
    request()
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(REQUESTS):
        request()
    profiler.disable()
    return pstats.Stats(profiler).total_calls // REQUESTS


def run() -> None:
    from dd_toolkit.web import create_app
    from tests.perf.bare_app import app as bare

    app = create_app()
    bare_client = bare.test_client()
    baseline = calls_per_request(lambda: bare_client.get("/"))
    print(f"{'page':<20} {'calls':>8} {'/ bare':>7}")
    print(f"{'bare Flask page':<20} {baseline:>8} {1:>7.2f}")
    for label, client, path in pages(app):
        response = client.get(path, headers=HEADERS)
        if response.status_code != 200:
            raise SystemExit(f"GET {path} gave {response.status_code}")
        calls = calls_per_request(lambda client=client, path=path: client.get(path, headers=HEADERS))
        print(f"{label:<20} {calls:>8} {calls / baseline:>7.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instance", type=Path, help="an instance folder that already holds the demo data")
    parser.add_argument("--database", help="its database URL, when not the instance's default")
    args = parser.parse_args()
    os.environ.setdefault("DD_RATELIMIT_ENABLED", "0")
    os.environ.setdefault("DD_PRERENDER_DOCUMENTS", "0")
    with tempfile.TemporaryDirectory(prefix="dd-bench-calls-") as temporary:
        if args.instance:
            os.environ["DD_INSTANCE_PATH"] = str(args.instance.resolve())
        else:
            _prepare(Path(temporary))
        if args.database:
            os.environ["DATABASE_URL"] = args.database
        run()


if __name__ == "__main__":
    main()

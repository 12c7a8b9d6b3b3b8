"""Load with nothing lost: simulated people sign in, save sections, submit and read results against
gunicorn (4 workers), then the database is checked for every answer they were told was saved.
Run with ``make load`` (SQLite, then PostgreSQL); ``tests/test_load.py`` runs a short version.

Set-up, before the clock starts: a throw-away instance (a temporary folder, and a SQLite file or a
new database on the PostgreSQL server of ``DD_TEST_POSTGRES_URL``), migrated, with one organisation
per pair of users, its profile, and a draft assessment whose every applicable question is answered
(so it can be submitted). The two users of a pair (the organisation's admin and a contributor)
always work on the same section of the same assessment and edit the same question in it, so their
saves conflict; each also edits a question of its own in that section.

Each user (one thread, urllib on 127.0.0.1 only): sign in, then until the time is up (and at most
``MAX_ITERATIONS`` times): open the section, spend 5-15 s on it (``--think``), change the
comments of its two questions to a unique text, save; every third round read the results. When
both users of a pair are done, the admin submits and both read the results. Every request has a
timeout, every loop a bound.

The server runs with the abuse limits off (``DD_RATELIMIT_ENABLED=0``): 50 people signing in from
one loopback address is what the sign-in limit exists to stop. A submission's PDFs are not
rendered after the response (``DD_PRERENDER_DOCUMENTS=0``): they would be rendered on first
download instead, outside the measured run.

Afterwards, for every edited question, from ``answer_history`` (or the audit log without it):
- every save a user was told succeeded is stored once, as the version after the one the user
  edited (so no save silently overwrote another: the loser of a race was told, never both saved);
- no save is stored that the user was not told succeeded;
- the answer as stored is the last saved one;
- every conflict response named the conflicting question in an alert;
- there were no 5xx responses and no failed requests; and (``make load`` only) p95 < 300 ms.
"""

from __future__ import annotations

import argparse
import functools
import html
import http.cookiejar
import itertools
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from tests.perf.benchmark_pages import BIN, ROOT, BenchError, first_traceback, free_port, stop, tail

HOST = "127.0.0.1"
PASSWORD = "load test passphrase, long enough 2026"
USER_AGENT = "dd-toolkit-load/1"
WORKERS = 4
MAX_ITERATIONS = 1000  # per user, whatever the duration
REQUEST_TIMEOUT = 90.0
CONFLICT_NOTICE = "changed by someone else while you worked"
WARM_UP_EMAIL = "warm-up@load.example"
THINK = (5.0, 15.0)  # seconds a person spends on a section between opening and saving it


# --- the server and the instance ----------------------------------------------------------------


@contextmanager
def gunicorn(env: dict[str, str], log: Path, workers: int = WORKERS, timeout: float = 90):
    """The app under gunicorn with ``workers`` sync workers on a free loopback port; yields its URL.
    The whole process group is stopped afterwards, also on errors."""
    port = free_port()
    command = [
        str(BIN / "gunicorn"), "-w", str(workers), "-b", f"{HOST}:{port}", "--timeout", "120",
        "--error-logfile", str(log), "--capture-output", "dd_toolkit.web:create_app()",
    ]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True
    )
    base = f"http://{HOST}:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise BenchError(f"gunicorn exited with {process.returncode}:\n{tail(log)}")
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise BenchError(f"gunicorn did not answer within {timeout:.0f} s:\n{tail(log)}")
            time.sleep(0.2)
        yield base
    finally:
        stop(process)


@dataclass
class Pair:
    organisation_id: int
    assessment_id: int
    section_id: str
    admin: str
    contributor: str
    done: threading.Event = field(default_factory=threading.Event)


def prepare(database_url: str, users: int) -> list[Pair]:
    """Migrate the database and create the organisations, users and draft assessments."""
    from dd_toolkit.engine.registry import load_content
    from dd_toolkit.paths import bundled_root
    from dd_toolkit.records import accounts
    from dd_toolkit.records.assessments import profile_of, save_answers, start_assessment
    from dd_toolkit.records.database import make_engine, standalone_session, upgrade
    from dd_toolkit.records.demo import COMPANIES, DEMO_CYCLE, demo_answers
    from dd_toolkit.records.models import Membership, OrgRole

    upgrade(database_url)
    content = load_content(bundled_root())
    bank = content.bank
    company = COMPANIES[0]
    sections = [s.id for m in bank.questionnaires for s in m.sections]
    engine = make_engine(database_url)
    pairs = []
    answers = None
    # One password hash for every account: argon2 is slow on purpose, and set-up is not measured.
    real_hash, one_hash = accounts.hash_password, accounts.hash_password(PASSWORD)
    accounts.hash_password = lambda _password: one_hash
    try:
        with standalone_session(engine) as db:
            for n in range(users // 2):
                org, admin = accounts.register_organisation(
                    db,
                    organisation_name=f"Load Company {n + 1}",
                    name=f"Load Admin {n + 1}",
                    email=f"admin{n + 1}@load.example",
                    password=PASSWORD,
                )
                org.hq_country = company.hq_country
                org.countries = list(company.countries)
                org.service_types = list(company.service_types)
                org.features = list(company.features)
                org.size_band = company.size_band
                org.under18_users = company.under18_users
                contributor = accounts.create_user(
                    db, email=f"contributor{n + 1}@load.example", name=f"Load Contributor {n + 1}", password=PASSWORD
                )
                db.add(org)
                db.add(Membership(user_id=contributor.id, organisation_id=org.id, role=OrgRole.CONTRIBUTOR))
                if n == 0:  # reads pages before the clock starts, so each worker has compiled them
                    warm = accounts.create_user(db, email=WARM_UP_EMAIL, name="Load Warm-up", password=PASSWORD)
                    db.add(Membership(user_id=warm.id, organisation_id=org.id, role=OrgRole.CONTRIBUTOR))
                db.commit()
                assessment = start_assessment(db, bank, org, DEMO_CYCLE, admin)
                if answers is None:  # every organisation has the same profile, so the same answers
                    answers = demo_answers(bank, profile_of(org), company, assessment.cycle)
                save_answers(db, assessment, None, {qid: (a, 0) for qid, a in answers.items()})
                answered = {bank.section_of[qid].id for qid in answers}
                usable = [s for s in sections if s in answered]
                pairs.append(Pair(org.id, assessment.id, usable[n % len(usable)], admin.email, contributor.email))
    finally:
        accounts.hash_password = real_hash
        engine.dispose()
    return pairs


# --- HTTP ---------------------------------------------------------------------------------------


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@dataclass
class Sample:
    kind: str
    status: int
    seconds: float
    at: float  # when it was sent (time.monotonic())


class Recorder:
    """Every request's kind, status and time, from every thread."""

    def __init__(self):
        self.lock = threading.Lock()
        self.samples: list[Sample] = []
        self.failures: list[str] = []  # transport errors and timeouts

    def add(self, sample: Sample) -> None:
        with self.lock:
            self.samples.append(sample)

    def fail(self, message: str) -> None:
        with self.lock:
            self.failures.append(message)


class Client:
    def __init__(self, base: str, recorder: Recorder):
        self.base = base
        self.recorder = recorder
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), NoRedirect
        )
        self.opener.addheaders = [("User-Agent", USER_AGENT)]

    def request(self, kind: str, path: str, form: list[tuple[str, str]] | None = None) -> tuple[int, str, str]:
        """(status, Location, body); status 0 when the request itself failed."""
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        started, sent = time.perf_counter(), time.monotonic()
        try:
            try:
                response = self.opener.open(self.base + path, data=data, timeout=REQUEST_TIMEOUT)
            except urllib.error.HTTPError as error:  # 3xx (not followed), 4xx and 5xx
                response = error
            with response:
                body = response.read().decode("utf-8", "replace")
                status, location = response.status, response.headers.get("Location", "")
        except (urllib.error.URLError, OSError) as exc:
            self.recorder.fail(f"{kind} {path}: {exc}")
            return 0, "", ""
        self.recorder.add(Sample(kind, status, time.perf_counter() - started, sent))
        return status, location, body


# --- forms, as a browser submits them ---------------------------------------------------------

ATTR_RE = re.compile(r'([a-zA-Z_:-]+)(?:="([^"]*)")?')
FIELD_RE = re.compile(
    r"<input\b([^>]*)>|<textarea\b([^>]*)>(.*?)</textarea>|<select\b([^>]*)>(.*?)</select>", re.S | re.I
)
OPTION_RE = re.compile(r"<option\b([^>]*)>", re.I)


def attributes(text: str) -> dict[str, str]:
    return {name.lower(): html.unescape(value or "") for name, value in ATTR_RE.findall(text)}


def form_fields(form_html: str, button: str | None) -> list[tuple[str, str]]:
    """The name/value pairs a browser posts for this form when ``button`` (a name) is pressed."""
    fields = []
    for match in FIELD_RE.finditer(form_html):
        if match.group(1) is not None:
            attrs = attributes(match.group(1))
            name, kind = attrs.get("name"), attrs.get("type", "text").lower()
            if not name or "disabled" in attrs:
                continue
            if kind in ("checkbox", "radio"):
                if "checked" in attrs:
                    fields.append((name, attrs.get("value", "on")))
            elif kind in ("submit", "button", "image", "reset"):
                if name == button:
                    fields.append((name, attrs.get("value", "")))
            elif kind != "file":
                fields.append((name, attrs.get("value", "")))
        elif match.group(2) is not None:
            attrs = attributes(match.group(2))
            text = html.unescape(match.group(3))
            if text.startswith("\r\n"):
                text = text[2:]
            elif text.startswith("\n"):
                text = text[1:]
            if attrs.get("name"):
                fields.append((attrs["name"], text))
        else:
            attrs = attributes(match.group(4))
            options = [attributes(o) for o in OPTION_RE.findall(match.group(5))]
            chosen = [o for o in options if "selected" in o] or options[:1]
            for option in chosen if "multiple" in attrs else chosen[:1]:
                fields.append((attrs["name"], option.get("value", "")))
    return fields


def the_form(page: str, marker: str) -> str:
    """The HTML of the first form whose opening tag contains ``marker``."""
    start = page.find(marker)
    if start < 0:
        return ""
    start = page.rfind("<form", 0, start + 1)
    end = page.find("</form>", start)
    return page[start:end] if end > 0 else ""


def replace(fields: list[tuple[str, str]], name: str, value: str) -> list[tuple[str, str]]:
    return [(n, value if n == name else v) for n, v in fields]


def value_of(fields: list[tuple[str, str]], name: str) -> str | None:
    return next((v for n, v in fields if n == name), None)


def article_of(page: str, key: str) -> str:
    start = page.find(f'id="q-{key}"')
    if start < 0:
        return ""
    end = page.find("<article", start + 1)
    return page[start : end if end > 0 else len(page)]


# --- one simulated person --------------------------------------------------------------------


@dataclass
class Ledger:
    """What the users were told, for the checks afterwards."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    saved: dict[tuple[int, str], dict[str, int]] = field(default_factory=lambda: defaultdict(dict))  # token -> base
    conflicts_shown: int = 0
    silent: list[str] = field(default_factory=list)  # a refused save with no notice
    unexpected: list[str] = field(default_factory=list)
    submitted: set[int] = field(default_factory=set)
    results_read: int = 0


class Person:
    def __init__(self, base, recorder, ledger, pair: Pair, email: str, lead: bool, deadline: float, think, seed):
        self.client = Client(base, recorder)
        self.ledger, self.pair, self.email, self.lead = ledger, pair, email, lead
        self.deadline, self.think = deadline, think
        self.random = random.Random(seed)
        self.counter = itertools.count(1)

    def note(self, message: str) -> None:
        with self.ledger.lock:
            self.ledger.unexpected.append(f"{self.email}: {message}")

    def sign_in(self) -> bool:
        status, _, page = self.client.request("sign-in page", "/auth/login")
        fields = form_fields(the_form(page, 'method="post" novalidate'), None)
        fields = replace(replace(fields, "email", self.email), "password", PASSWORD)
        status, location, _ = self.client.request("sign in", "/auth/login", fields)
        if status != 302 or "/auth/login" in location:
            self.note(f"sign-in answered {status} {location}")
            return False
        return True

    def run(self) -> None:
        try:
            if not self.sign_in():
                return
            rounds = 0
            while time.monotonic() < self.deadline and rounds < MAX_ITERATIONS:
                rounds += 1
                self.save_round()
                if rounds % 3 == 0:
                    self.read_results()
        finally:
            if not self.lead:
                self.pair.done.set()
        if self.lead:
            # Submit once the partner has stopped saving (bounded wait), then read the results.
            self.pair.done.wait(timeout=REQUEST_TIMEOUT * 2)
            self.submit()
        self.read_results()

    def save_round(self) -> None:
        pair = self.pair
        path = f"/assessments/{pair.assessment_id}/sections/{pair.section_id}"
        status, _, page = self.client.request("section", path)
        if status != 200:
            self.note(f"section page answered {status}")
            return
        form = the_form(page, 'class="section-form"')
        fields = form_fields(form, "save")
        comments = [n for n, _ in fields if n.endswith("-comment")]
        if not comments:
            self.note("the section has no editable question")
            return
        # The first question is shared by the pair; each also has one of its own, if there is one.
        keys = [comments[0]]
        if len(comments) > 2:
            keys.append(comments[1 if self.lead else 2])
        edits = {}
        for name in keys:
            key = name[: -len("-comment")]
            token = f"load:{self.email}:{next(self.counter)}:{uuid.uuid4().hex[:6]}"
            base = int(value_of(fields, f"{key}-base_version") or 0)
            fields = replace(fields, name, token)
            edits[key] = (token, base)
        time.sleep(self.random.uniform(*self.think))  # typing
        status, location, page = self.client.request("save", path, fields)
        if status == 302 and location.split("?")[0].rstrip("/").endswith(f"/sections/{pair.section_id}"):
            saved = list(edits)
        elif status == 422:
            # Each question someone else changed since the page was loaded is named in an alert,
            # the ones typed here and those merely sent back unchanged alike; the others were saved.
            shown = page.count('class="conflict"')
            with self.ledger.lock:
                self.ledger.conflicts_shown += shown
            if shown and CONFLICT_NOTICE not in page:
                self.ledger.silent.append(f"{self.email}: {shown} conflict(s) without the notice")
            if not shown:
                self.note("a 422 without a conflict")
            saved = []
            for key in edits:
                article = article_of(page, key)
                if 'class="error"' in article:
                    self.note(f"save of {key} refused as invalid")
                elif 'class="conflict"' not in article:
                    saved.append(key)
        else:
            self.note(f"save answered {status} {location}")
            return
        with self.ledger.lock:
            for key in saved:
                token, base = edits[key]
                self.ledger.saved[(pair.assessment_id, key)][token] = base

    def read_results(self) -> None:
        status, _, _ = self.client.request("results", f"/assessments/{self.pair.assessment_id}/results")
        if status != 200:
            self.note(f"results answered {status}")
        else:
            with self.ledger.lock:
                self.ledger.results_read += 1

    def submit(self) -> None:
        path = f"/assessments/{self.pair.assessment_id}/submit"
        status, _, page = self.client.request("submit page", path)
        if status != 200:
            self.note(f"submit page answered {status}")
            return
        # Two steps: the recipients and consent as preselected, then their confirmation.
        fields = form_fields(the_form(page, f'action="{path}"'), "review")
        status, _, page = self.client.request("submit confirmation", path, fields)
        if status != 200:
            self.note(f"submit confirmation answered {status}")
            return
        fields = form_fields(the_form(page, f'action="{path}"'), "confirm")
        status, location, page = self.client.request("submit", path, fields)
        if status == 302 and location.rstrip("/").endswith(f"/assessments/{self.pair.assessment_id}"):
            with self.ledger.lock:
                self.ledger.submitted.add(self.pair.assessment_id)
        else:
            self.note(f"submit answered {status} {location}")


# --- the checks afterwards ---------------------------------------------------------------------


@dataclass
class Report:
    database: str
    users: int
    duration: float
    requests: int = 0
    by_kind: dict[str, list[float]] = field(default_factory=dict)
    statuses: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    saves_acknowledged: int = 0
    conflicts_shown: int = 0
    submitted: int = 0
    results_read: int = 0
    problems: list[str] = field(default_factory=list)
    windows: list[tuple[float, int, float]] = field(default_factory=list)  # (from s, requests, p95)

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)

    def percentile(self, q: float, kind: str | None = None) -> float:
        times = sorted(t for k, ts in self.by_kind.items() if kind in (None, k) for t in ts)
        if not times:
            return 0.0
        return times[min(len(times) - 1, int(q * len(times)))]

    def lines(self) -> list[str]:
        out = [
            f"{self.database}: {self.users} users, {self.duration:.0f} s, {WORKERS} gunicorn workers: "
            f"{self.requests} requests ({self.requests / max(self.duration, 1):.1f}/s), "
            f"p50 {self.percentile(0.5) * 1000:.0f} ms, p95 {self.percentile(0.95) * 1000:.0f} ms, "
            f"p99 {self.percentile(0.99) * 1000:.0f} ms, max {self.percentile(1.0) * 1000:.0f} ms",
            f"  statuses {dict(sorted(self.statuses.items()))}, server errors {self.server_errors}, "
            f"failed requests {len(self.failures)}",
            f"  answers saved (as the users were told) {self.saves_acknowledged}, "
            f"conflicts shown {self.conflicts_shown}, "
            f"submitted {self.submitted}, results read {self.results_read}",
        ]
        for kind, times in sorted(self.by_kind.items()):
            out.append(
                f"  {kind:12} n={len(times):5}  p50 {statistics.median(times) * 1000:6.0f} ms  "
                f"p95 {self.percentile(0.95, kind) * 1000:6.0f} ms  max {max(times) * 1000:6.0f} ms"
            )
        if self.windows:
            out.append(
                "  p95 by 20 s of the run: "
                + ", ".join(f"{start:.0f}s: {p95 * 1000:.0f} ms (n={n})" for start, n, p95 in self.windows)
            )
        out += [f"  PROBLEM: {p}" for p in self.problems[:30]]
        if len(self.problems) > 30:
            out.append(f"  ... and {len(self.problems) - 30} more problems")
        return out


def stored_saves(database_url: str, assessment_id: int, question_id: str) -> tuple[list[tuple[int, str]], tuple]:
    """[(version, comment)] of the load's saves of one answer, and the answer now (version, comment)."""
    from dd_toolkit.records.database import make_engine

    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            inspector = sa.inspect(connection)
            current = connection.execute(
                sa.text("SELECT version, comment FROM answer WHERE assessment_id = :a AND question_id = :q"),
                {"a": assessment_id, "q": question_id},
            ).one()
            if inspector.has_table("answer_history"):
                rows = connection.execute(
                    sa.text(
                        "SELECT answer_version, new FROM answer_history "
                        "WHERE assessment_id = :a AND question_id = :q ORDER BY id"
                    ),
                    {"a": assessment_id, "q": question_id},
                ).all()
                saves = [(version, _json(new).get("comment") or "") for version, new in rows]
            else:  # before answer_history: the audit log holds each save's answer, not its version
                rows = connection.execute(
                    sa.text(
                        "SELECT detail FROM audit_event WHERE action = 'answer.save' AND entity_id = :e ORDER BY id"
                    ),
                    {"e": f"{assessment_id}:{question_id}"},
                ).all()
                saves = [(n + 1, (_json(d).get("after") or {}).get("comment") or "") for n, (d,) in enumerate(rows)]
    finally:
        engine.dispose()
    return [s for s in saves if s[1].startswith("load:")], tuple(current)


def _json(value):
    import json

    return json.loads(value) if isinstance(value, str) else (value or {})


@functools.cache
def question_of(form_key: str) -> str:
    """The question id behind a form key (ids hold dots, form keys dashes)."""
    from dd_toolkit.engine.registry import load_content
    from dd_toolkit.paths import bundled_root

    return load_content(bundled_root()).bank.by_form_key(form_key).id


def check(report: Report, database_url: str, ledger: Ledger, pairs: list[Pair]) -> None:
    """Every acknowledged save stored once as the next version, nothing else stored, last one kept."""
    problems = report.problems
    for (assessment_id, key), told in sorted(ledger.saved.items()):
        question_id = question_of(key)
        saves, (version, comment) = stored_saves(database_url, assessment_id, question_id)
        stored = {}
        for stored_version, token in saves:
            if token in stored:
                problems.append(f"{assessment_id}:{question_id}: {token} stored twice")
            stored[token] = stored_version
        for token, base in told.items():
            if token not in stored:
                problems.append(f"{assessment_id}:{question_id}: acknowledged save {token} is not stored")
            elif stored[token] != base + 1:
                problems.append(
                    f"{assessment_id}:{question_id}: {token} edited from version {base} stored as "
                    f"{stored[token]} (another save was overwritten silently)"
                )
        for token in set(stored) - set(told):
            problems.append(f"{assessment_id}:{question_id}: {token} stored but the user was not told it was saved")
        if saves and (comment or "") != max(saves)[1]:
            problems.append(f"{assessment_id}:{question_id}: the stored answer is not the last saved one")
        if saves and version != max(saves)[0]:
            problems.append(f"{assessment_id}:{question_id}: version {version}, history ends at {max(saves)[0]}")
    problems += ledger.silent + ledger.unexpected
    missing = {p.assessment_id for p in pairs} - ledger.submitted
    if missing:
        problems.append(f"{len(missing)} assessment(s) not submitted: {sorted(missing)[:10]}")
    if report.failures:
        problems += [f"request failed: {f}" for f in report.failures[:10]]
    if report.server_errors:
        problems.append(f"{report.server_errors} server error(s)")


# --- a run ------------------------------------------------------------------------------------


def run_load(
    database: str,
    users: int = 50,
    duration: float = 120,
    think: tuple[float, float] = THINK,
    seed: int = 12,
    log_dir: Path | None = None,
) -> Report:
    """One run against a fresh instance; ``database`` is "sqlite" or "postgres" (the server of
    ``DD_TEST_POSTGRES_URL``, see tests/with_postgres.sh)."""
    if users < 2 or users % 2:
        raise BenchError("users come in pairs: give an even number, at least 2")
    with tempfile.TemporaryDirectory(prefix="dd-load-") as folder:
        folder_path = Path(folder)
        with _database(database, folder_path) as database_url:
            started = time.perf_counter()
            pairs = prepare(database_url, users)
            print(
                f"{database}: {len(pairs)} organisations and {users} users ready "
                f"in {time.perf_counter() - started:.1f} s"
            )
            env = dict(
                os.environ,
                DD_INSTANCE_PATH=str(folder_path / "instance"),
                DATABASE_URL=database_url,
                SECRET_KEY="load-test-secret-" + uuid.uuid4().hex,
                DD_RATELIMIT_ENABLED="0",  # the abuse limits are off for this server (see above)
                DD_PRERENDER_DOCUMENTS="0",
            )
            log = (log_dir or folder_path) / f"gunicorn-{database}.log"
            with gunicorn(env, log) as base:
                report = _drive(base, database, database_url, pairs, users, duration, think, seed)
            if report.server_errors:  # the server's own account of them (its tracebacks)
                report.problems.append("the server's first error:\n" + first_traceback(log))
                report.problems.append("the server's log ends:\n" + tail(log, 30))
            return report


def warm_up(base: str, pairs: list[Pair]) -> None:
    """Before the clock: every worker answers each kind of page once (templates compiled,
    content loaded), through a reader who saves nothing. Its requests are not counted."""

    def read(n: int) -> None:
        client = Client(base, Recorder())
        status, _, page = client.request("", "/auth/login")
        fields = form_fields(the_form(page, 'method="post" novalidate'), None)
        client.request("", "/auth/login", replace(replace(fields, "email", WARM_UP_EMAIL), "password", PASSWORD))
        pair = pairs[0]
        for section in {p.section_id for p in pairs}:
            client.request("", f"/assessments/{pair.assessment_id}/sections/{section}")
        for path in ("", "/results", "/submit"):
            client.request("", f"/assessments/{pair.assessment_id}{path}")

    threads = [threading.Thread(target=read, args=(n,), daemon=True) for n in range(WORKERS * 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=REQUEST_TIMEOUT * 4)


def _drive(base, database, database_url, pairs, users, duration, think, seed) -> Report:
    warm_up(base, pairs)
    recorder, ledger = Recorder(), Ledger()
    deadline = time.monotonic() + duration
    people = []
    for n, pair in enumerate(pairs):
        people.append(Person(base, recorder, ledger, pair, pair.admin, True, deadline, think, seed * 1000 + 2 * n))
        people.append(
            Person(base, recorder, ledger, pair, pair.contributor, False, deadline, think, seed * 1000 + 2 * n + 1)
        )
    threads = [threading.Thread(target=p.run, name=p.email, daemon=True) for p in people]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
        # People arrive over the first sixth of the run (20 s of 2 minutes), not all in one second.
        time.sleep(min(0.5, duration / 6 / len(threads)))
    for thread in threads:
        thread.join(timeout=max(1.0, deadline - time.monotonic()) + REQUEST_TIMEOUT * 4)
    elapsed = time.perf_counter() - started
    report = Report(database, users, elapsed)
    stuck = [t.name for t in threads if t.is_alive()]
    if stuck:
        report.problems.append(f"{len(stuck)} user(s) still running after the time allowed: {stuck[:5]}")
    with recorder.lock:
        samples = list(recorder.samples)
        report.failures = list(recorder.failures)
    report.requests = len(samples)
    begin = min((s.at for s in samples), default=0.0)
    by_window: dict[int, list[float]] = defaultdict(list)
    for sample in samples:
        by_window[int((sample.at - begin) // 20)].append(sample.seconds)
    for window, times in sorted(by_window.items()):
        times.sort()
        report.windows.append((window * 20.0, len(times), times[min(len(times) - 1, int(0.95 * len(times)))]))
    for sample in samples:
        report.by_kind.setdefault(sample.kind, []).append(sample.seconds)
        report.statuses[sample.status] += 1
    report.saves_acknowledged = sum(len(t) for t in ledger.saved.values())
    report.conflicts_shown = ledger.conflicts_shown
    report.submitted = len(ledger.submitted)
    report.results_read = ledger.results_read
    check(report, database_url, ledger, pairs)
    return report


class _database:
    """A SQLite file in the folder, or a new database on the PostgreSQL server (dropped after)."""

    def __init__(self, kind: str, folder: Path):
        self.kind, self.folder, self.name = kind, folder, None

    def __enter__(self) -> str:
        if self.kind == "sqlite":
            return f"sqlite:///{self.folder / 'load.sqlite'}"
        server = os.environ.get("DD_TEST_POSTGRES_URL")
        if not server:
            raise BenchError("PostgreSQL: run under tests/with_postgres.sh (DD_TEST_POSTGRES_URL)")
        self.name = f"dd_load_{uuid.uuid4().hex[:8]}"
        self.admin = sa.create_engine(
            server.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
        )
        with self.admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{self.name}"'))
        return sa.engine.make_url(server).set(database=self.name).render_as_string(hide_password=False)

    def __exit__(self, *exc) -> None:
        if self.name:
            with self.admin.connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
            self.admin.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=("sqlite", "postgres"), action="append")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--duration", type=float, default=120)
    parser.add_argument("--p95-ms", type=float, default=300)
    parser.add_argument("--think", type=float, nargs=2, default=THINK, metavar=("MIN", "MAX"))
    args = parser.parse_args(argv)
    failed = False
    for database in args.database or ["sqlite"]:
        report = run_load(database, args.users, args.duration, tuple(args.think))
        print("\n".join(report.lines()))
        p95 = report.percentile(0.95) * 1000
        if p95 >= args.p95_ms:
            print(f"  PROBLEM: p95 {p95:.0f} ms is not under {args.p95_ms:.0f} ms")
            failed = True
        failed = failed or bool(report.problems)
        print(f"{database}: {'FAILED' if failed else 'nothing lost, no server error, p95 under the limit'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

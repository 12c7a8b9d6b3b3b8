"""Page speed under load: the app served by gunicorn (2 workers) measured with wrk, page by page
and role by role, against a bare Flask page (tests/perf/bare_app.py) served the same way in the
same run. Run with ``make bench-pages`` (part of ``make bench``), which installs Debian's wrk.

Each company count N gets a throw-away instance (a temporary folder and SQLite database) with the
demo data, plus N generated companies from ``dd-toolkit load-demo --companies N`` when N > 0.
Loading 10,000 companies takes several minutes: ``--instance FOLDER`` (with ``--database URL``
when the database is not the folder's ``bench.sqlite``) measures an instance prepared by an
earlier run instead, after migrating it. Its records benchmark adds one company to it.
Everything listens on 127.0.0.1 only, and the servers are stopped at the end, also on errors.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
USER_AGENT = "dd-toolkit-page-benchmark/1"
WARM_UP_SECONDS = 1
ROUNDS = 4  # bursts of each page, each followed by a burst of the bare page
DEMO_PASSWORD = "demo-password-2026"  # dd_toolkit/records/demo.py
COMPANY_ADMIN = "admin@lumen.example"  # Lumen Social, the submitted assessment
CONTRIBUTOR_EMAIL = "contributor@lumen.example"  # of Lumen Social too
REGULATOR = "regulator@demo.example"  # jurisdictions MY and SG
WORKING_GROUP = "wg@demo.example"


class BenchError(RuntimeError):
    pass


# --- servers ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


@contextmanager
def gunicorn(target: str, env: dict[str, str], log: Path, ready_path: str, timeout: float = 60):
    """Serve ``target`` with 2 workers on a free loopback port; yields (base URL, master pid)."""
    port = free_port()
    command = [str(BIN / "gunicorn"), "-w", "2", "-b", f"{HOST}:{port}", "--error-logfile", str(log), target]
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True
    )
    base = f"http://{HOST}:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise BenchError(f"gunicorn {target} exited with {process.returncode}:\n{tail(log)}")
            try:
                with urllib.request.urlopen(base + ready_path, timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise BenchError(f"gunicorn {target} did not answer within {timeout:.0f} s:\n{tail(log)}")
            time.sleep(0.2)
        yield base, process.pid
    finally:
        stop(process)


def stop(process: subprocess.Popen) -> None:
    """Stop the whole process group (gunicorn master and workers): TERM, then KILL."""
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def first_traceback(path: Path, lines: int = 60) -> str:
    """The first traceback in the log, where a cascade of errors started (the tail shows only the
    last of them), or "" when there is none."""
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    start = next((n for n, line in enumerate(text) if line.startswith("Traceback")), None)
    return "" if start is None else "\n".join(text[max(0, start - 1) : start + lines])


def _of_each_process(name: str) -> Iterator[tuple[int, str]]:
    """(pid, text of /proc/<pid>/<name>) for each process still there to be read."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                yield int(entry.name), (entry / name).read_text()
            except OSError:
                continue


def worker_cpu_seconds(master_pid: int) -> float:
    """The CPU time (user and system) the children of a gunicorn master have used so far."""
    total = 0
    for _pid, stat in _of_each_process("stat"):
        fields = stat.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
        if fields[1] == str(master_pid):  # the parent's pid; then utime and stime are the 12th and 13th
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def worker_rss(master_pid: int) -> list[tuple[int, str, list[str]]]:
    """(pid, VmRSS, the VmRSS of its children) of each child of the gunicorn master: a
    worker's child is the process that renders its PDFs."""
    rss, children = {}, {}
    for pid, status in _of_each_process("status"):
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        rss[pid] = fields.get("VmRSS", "?").strip()
        children.setdefault(int(fields.get("PPid", "0").strip() or 0), []).append(pid)
    return [
        (pid, rss[pid], [rss[child] for child in children.get(pid, [])]) for pid in sorted(children.get(master_pid, []))
    ]


# --- the instance ----------------------------------------------------------------------------


def dd_toolkit(env: dict[str, str], *args: str, timeout: float = 3600) -> str:
    result = subprocess.run(
        [str(BIN / "dd-toolkit"), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )
    if result.returncode != 0:
        raise BenchError(f"dd-toolkit {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def dd_toolkit_python(env: dict[str, str], *args: str, timeout: float = 600) -> str:
    result = subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        raise BenchError(f"python {' '.join(args)} failed:\n{result.stderr[-2000:]}")
    return result.stdout.rstrip()


def prepare_instance(folder: Path, companies: int) -> dict[str, str]:
    env = dict(os.environ, DD_INSTANCE_PATH=str(folder), DATABASE_URL=f"sqlite:///{folder / 'bench.sqlite'}")
    started = time.perf_counter()
    dd_toolkit(env, "init-db")
    dd_toolkit(env, "load-demo")
    if companies:
        dd_toolkit(env, "load-demo", "--companies", str(companies))
    print(f"instance ready in {time.perf_counter() - started:.1f} s: {folder}")
    return env


def prepared_instance(folder: Path, database: str | None) -> dict[str, str]:
    """An instance an earlier run prepared, migrated to this version."""
    url = database or f"sqlite:///{folder.resolve() / 'bench.sqlite'}"
    env = dict(os.environ, DD_INSTANCE_PATH=str(folder.resolve()), DATABASE_URL=url)
    started = time.perf_counter()
    dd_toolkit(env, "init-db", timeout=1800)
    print(f"instance migrated in {time.perf_counter() - started:.1f} s: {folder}")
    return env


def count_companies(database_url: str) -> int:
    """The generated companies of an instance (each has its generation in the audit trail)."""
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            return connection.execute(
                sa.text("SELECT count(DISTINCT organisation_id) FROM audit_event WHERE action = 'demo.generate'")
            ).scalar()
    finally:
        engine.dispose()


def supports_companies(env: dict[str, str]) -> bool:
    return "--companies" in dd_toolkit(env, "load-demo", "--help", timeout=120)


def demo_ids(database_url: str) -> dict[str, int]:
    """The company admin's submitted assessment and the regulator's copy of its submission."""
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            assessment_id = connection.execute(
                sa.text(
                    "SELECT a.id FROM assessment a JOIN organisation o ON o.id = a.organisation_id "
                    "WHERE o.name = 'Lumen Social' AND a.status = 'submitted' ORDER BY a.id DESC"
                )
            ).scalar()
            recipient_id = connection.execute(
                sa.text(
                    "SELECT r.id FROM recipient r JOIN submission s ON s.id = r.submission_id "
                    "WHERE s.assessment_id = :assessment AND r.jurisdiction IN ('SG', 'MY') ORDER BY r.id"
                ),
                {"assessment": assessment_id},
            ).scalar()
    finally:
        engine.dispose()
    if assessment_id is None or recipient_id is None:
        raise BenchError("the demo data has no submitted Lumen Social assessment sent to SG or MY")
    return {"assessment": assessment_id, "recipient": recipient_id}


# --- HTTP as a signed-in user ----------------------------------------------------------------


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Browser:
    """A cookie-keeping client that does not follow redirects and always sends USER_AGENT."""

    def __init__(self, base: str):
        self.base = base
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies), NoRedirect)
        self.opener.addheaders = [("User-Agent", USER_AGENT)]

    def request(self, path: str, form: dict[str, str] | None = None) -> tuple[int, str, str]:
        """(status, Location header, body)."""
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        try:
            with self.opener.open(self.base + path, data=data, timeout=30) as response:
                return response.status, response.headers.get("Location", ""), response.read().decode(errors="replace")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers.get("Location", ""), exc.read().decode(errors="replace")

    def csrf_token(self, path: str) -> str:
        """The CSRF token of the form on the page at ``path``."""
        status, _, page = self.request(path)
        tag = next((t for t in re.findall(r"<input[^>]*>", page) if 'name="csrf_token"' in t), "")
        token = re.search(r'value="([^"]+)"', tag)
        if status != 200 or token is None:
            raise BenchError(f"GET {path} gave {status} without a csrf_token field")
        return token.group(1)

    def sign_in(self, email: str) -> None:
        form = {"csrf_token": self.csrf_token("/auth/login"), "email": email, "password": DEMO_PASSWORD}
        status, location, _ = self.request("/auth/login", form)
        if status != 302 or "/auth/login" in location:
            raise BenchError(f"signing in as {email} failed (status {status}, location {location!r})")

    @property
    def session_cookie(self) -> str:
        for cookie in self.cookies:
            if cookie.name == "session":
                return cookie.value
        raise BenchError("no session cookie after signing in")

    def check(self, path: str) -> None:
        status, location, _ = self.request(path)
        if status != 200:
            raise BenchError(f"GET {path} gave {status} {location} (expected 200)")


def section_path(browser: Browser, assessment_id: int) -> str:
    """The first section page linked from the assessment overview."""
    status, _, page = browser.request(f"/assessments/{assessment_id}")
    found = re.search(rf'href="(/assessments/{assessment_id}/sections/[^"?#]+)"', page)
    if status != 200 or found is None:
        raise BenchError(f"no section link on /assessments/{assessment_id} (status {status})")
    return found.group(1)


_REVIEW_SECTION = re.compile(
    r'<a href="(/review/\d+/sections/[^"#]+)">[^<]*</a> <span class="hint">\([^<]*?(\d+) answers?\)'
)


def largest_review_section(review_page: str) -> str:
    """The page of the section with the most answers, of those a submission's review page lists:
    the regulator reads the answers a section at a time."""
    found = [(int(count), path) for path, count in _REVIEW_SECTION.findall(review_page)]
    if not found:
        raise BenchError("the review page lists no section of answers")
    return max(found)[1]


def pages_to_measure(base: str, ids: dict[str, int]) -> list[tuple[str, str, str, str]]:
    """(label, role, path, session cookie) for every page, each checked to answer 200."""
    assessment, recipient = ids["assessment"], ids["recipient"]
    plan = []
    for role, email in (("company admin", COMPANY_ADMIN), ("regulator", REGULATOR), ("working group", WORKING_GROUP)):
        browser = Browser(base)
        browser.sign_in(email)
        if role == "company admin":
            paths = {
                "home": "/",
                "section": section_path(browser, assessment),
                "results": f"/assessments/{assessment}/results",
                "action plan": f"/assessments/{assessment}/action-plan",
                "transparency draft": f"/assessments/{assessment}/transparency",
                "peers": f"/assessments/{assessment}/peers",
            }
        elif role == "regulator":
            review = f"/review/{recipient}"
            paths = {
                "inbox": "/review/",
                "submission": review,
                "submission section": largest_review_section(browser.request(review)[2]),
                "indicators": "/review/indicators",
            }
        else:
            paths = {"benchmarks": "/benchmarks/", "indicator rates": "/benchmarks/indicators"}
        for label, path in paths.items():
            browser.check(path)
            plan.append((label, role, path, browser.session_cookie))
    return plan


# --- wrk -------------------------------------------------------------------------------------

UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def wrk(url: str, duration: int, cookie: str | None = None, master: int | None = None) -> dict[str, float]:
    """req/s, p50 and p99 of a page under load; given the gunicorn ``master`` serving it, also the
    CPU time its workers spent per request."""
    # A 30 s timeout (wrk's default is 2 s) so slow pages are measured, not dropped as socket errors.
    command = ["wrk", "-t2", "-c8", f"-d{duration}s", "--timeout", "30s", "--latency"]
    command += ["-H", f"User-Agent: {USER_AGENT}"]
    if cookie:
        command += ["-H", f"Cookie: session={cookie}"]
    cpu_before = worker_cpu_seconds(master) if master else 0.0
    result = subprocess.run([*command, url], capture_output=True, text=True, timeout=duration + 60)
    cpu = worker_cpu_seconds(master) - cpu_before if master else None
    out = result.stdout
    if result.returncode != 0:
        raise BenchError(f"wrk failed on {url}:\n{out}{result.stderr}")
    bad = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", out)
    if bad:
        raise BenchError(f"{url}: {bad.group(1)} responses were not 2xx/3xx under load:\n{out}")

    def latency(percent: str) -> float:
        found = re.search(rf"^\s*{percent}%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M)
        if found is None:
            raise BenchError(f"no {percent}% latency in wrk output:\n{out}")
        return float(found.group(1)) * UNITS_MS[found.group(2)]

    rate = re.search(r"Requests/sec:\s*([\d.]+)", out)
    if rate is None:
        raise BenchError(f"no Requests/sec in wrk output:\n{out}")
    errors = re.search(r"Socket errors:.*", out)
    if errors:
        print(f"warning: {url}: {errors.group(0).strip()}")
    measured = {"rps": float(rate.group(1)), "p50": latency("50"), "p99": latency("99")}
    done = re.search(r"(\d+) requests in", out)
    if done:
        measured["requests"] = int(done.group(1))
    if cpu is not None and done and int(done.group(1)):
        measured["cpu_s"] = cpu
        measured["cpu_ms"] = cpu * 1000 / int(done.group(1))
    return measured


def combined(runs: list[dict[str, float]]) -> dict[str, float]:
    """One figure from bursts of equal length: req/s and CPU per request over all of them, the
    median burst's p50 and the worst burst's p99."""
    combined_run = {
        "rps": sum(run["rps"] for run in runs) / len(runs),
        "p50": sorted(run["p50"] for run in runs)[len(runs) // 2],
        "p99": max(run["p99"] for run in runs),
    }
    requests = sum(run.get("requests", 0) for run in runs)
    combined_run["requests"] = requests
    if requests and all("cpu_s" in run for run in runs):
        combined_run["cpu_s"] = sum(run["cpu_s"] for run in runs)
        combined_run["cpu_ms"] = combined_run["cpu_s"] * 1000 / requests
    return combined_run


def side_by_side(
    page: tuple[str, str | None, int], bare: tuple[str, int], duration: int, rounds: int
) -> tuple[dict[str, float], dict[str, float]]:
    """A page and the bare page measured in alternating bursts (``rounds`` of each, ``duration``
    seconds in all for each): the speed of a shared machine drifts by a third within a minute,
    and the two sides of a ratio then meet the same drift."""
    url, cookie, master = page
    bare_url, bare_master = bare
    burst = max(1, round(duration / rounds))
    page_runs, bare_runs = [], []
    for _ in range(rounds):
        page_runs.append(wrk(url, burst, cookie, master=master))
        bare_runs.append(wrk(bare_url, burst, master=bare_master))
    return combined(page_runs), combined(bare_runs)


def print_table(companies: int, rows: list[tuple[str, str, dict[str, float], dict[str, float]]]) -> None:
    """``rows``: (page, role, the page's figures, the bare page's figures from the same bursts)."""
    print(f"\nN = {companies} generated companies (plus the demo data); each page warmed up {WARM_UP_SECONDS} s first")
    header = (
        f"{'page':<20} {'role':<14} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'bare req/s':>11} {'/ bare':>7}"
        f" {'CPU ms/req':>11} {'CPU / bare':>11}"
    )
    print(header)
    print("-" * len(header))
    whole = combined([bare for _, _, _, bare in rows])  # the bare page over the whole run
    line = f"{'bare Flask page':<20} {'-':<14} {whole['rps']:>9.1f} {whole['p50']:>8.2f} {whole['p99']:>8.2f}"
    print(f"{line} {'':>11} {'':>7} {_ms(whole.get('cpu_ms')):>11}")
    for label, role, page, bare in rows:
        line = f"{label:<20} {role:<14} {page['rps']:>9.1f} {page['p50']:>8.2f} {page['p99']:>8.2f}"
        share = f"{bare['cpu_ms'] / page['cpu_ms']:.3f}" if page.get("cpu_ms") and bare.get("cpu_ms") else ""
        ratio = page["rps"] / bare["rps"]
        print(f"{line} {bare['rps']:>11.1f} {ratio:>7.3f} {_ms(page.get('cpu_ms')):>11} {share:>11}")
    rates = [bare["rps"] for _, _, _, bare in rows]
    print(f"bare page over the run: {min(rates):.0f} to {max(rates):.0f} req/s")
    print(
        "Each page and the bare page were measured in alternating bursts; / bare and CPU / bare compare "
        "a page with the bare page's bursts between its own. CPU ms/req: the CPU time the 2 workers "
        "spent per request, what a page costs the server apart from the share of the cores wrk takes"
    )


def _ms(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


DOCUMENTS = ("action-plan", "transparency", "risk-assessment")
RENDERING_SECONDS = 4  # of wrk on a page, quiet and while documents render


def documents_ready(base: str, assessment_id: int) -> None:
    """Download the demo company's documents once before the pages are measured. Reading the
    action plan or the transparency page has the worker render the assessment's PDFs in the
    background when they are not in the store yet: measured pages would otherwise share the
    worker with a rendering that happens once per change, not per request."""
    browser = Browser(base)
    browser.sign_in(COMPANY_ADMIN)
    for document in DOCUMENTS:
        status, _, body = browser.request(f"/assessments/{assessment_id}/{document}.pdf")
        if status != 200 and not (document == "risk-assessment" and status == 404):  # 404: no register
            raise BenchError(f"GET {document}.pdf gave {status}")


def print_pdf_downloads(base: str, assessment_id: int) -> None:
    """The action-plan PDF through the app: in Vietnamese, a language nobody read it in during the
    run, so rendered at the download; then served from the instance's document store, as every
    download is once the document has been rendered ahead (after a change, or when its page
    was read)."""
    browser = Browser(base)
    browser.sign_in(COMPANY_ADMIN)
    path = f"/assessments/{assessment_id}/action-plan.pdf?lang=vi"
    times = []
    for _ in range(3):
        started = time.perf_counter()
        status, _, body = browser.request(path)
        times.append((time.perf_counter() - started) * 1000)
        if status != 200 or not body.startswith("%PDF"):
            raise BenchError(f"GET {path} gave {status}")
    print(f"action-plan PDF download: {times[0]:.0f} ms rendered, then {min(times[1:]):.0f} ms from the store")


def choose_language(browser: Browser, language: str) -> None:
    """What the language switcher does: the signed-in account reads in ``language`` from now on."""
    form = {"csrf_token": browser.csrf_token("/"), "language": language, "next": "/"}
    status, _, _ = browser.request("/language", form)
    if status != 302:
        raise BenchError(f"choosing the language {language} gave {status}")


def print_page_while_documents_render(
    base: str, page: tuple[str, str, str | None], assessment_id: int, documents: Path
) -> None:
    """A page under load, quiet and then while the demo plan's documents are rendered in two
    languages nobody read them in (six renderings, five to eight seconds of one core): what a
    rendering ahead costs the pages served meanwhile. A contributor of the company switches
    language and reads the plan's page, which has its documents rendered; then how long the six
    took to reach the ``documents`` folder."""
    label, path, cookie = page
    quiet = wrk(base + path, RENDERING_SECONDS, cookie)
    before = len(list(documents.glob("*.pdf")))
    browser = Browser(base)
    browser.sign_in(CONTRIBUTOR_EMAIL)
    started = time.perf_counter()
    for language in ("th", "id"):
        choose_language(browser, language)
        browser.check(f"/assessments/{assessment_id}/action-plan")
    busy = wrk(base + path, RENDERING_SECONDS, cookie)
    while len(list(documents.glob("*.pdf"))) < before + 6 and time.perf_counter() - started < 120:
        time.sleep(0.2)
    done = time.perf_counter() - started
    choose_language(browser, "en")
    print(
        f"{label} under load: {quiet['rps']:.0f} req/s, p99 {quiet['p99']:.1f} ms quiet; {busy['rps']:.0f} req/s, "
        f"p99 {busy['p99']:.1f} ms while documents render (the 6 were ready after {done:.1f} s)"
    )


# --- the run ---------------------------------------------------------------------------------


def run_one(companies: int, duration: int, bare: tuple[str, int], workdir: Path, rounds: int = ROUNDS) -> None:
    folder = workdir / f"n{companies}"
    folder.mkdir()
    measure(prepare_instance(folder, companies), companies, duration, bare, folder, rounds)


def measure(
    env: dict[str, str],
    companies: int | None,
    duration: int,
    bare: tuple[str, int],
    folder: Path,
    rounds: int = ROUNDS,
) -> None:
    """Every page of an instance holding the demo data (and ``companies`` generated ones; None:
    as many as it holds), then the work behind them."""
    ids = demo_ids(env["DATABASE_URL"])
    if companies is None:
        companies = count_companies(env["DATABASE_URL"])
    # The PDFs an earlier run on this instance rendered are dropped: every rendering measured is fresh.
    documents = Path(env["DD_INSTANCE_PATH"]) / "document-cache"
    shutil.rmtree(documents, ignore_errors=True)
    with gunicorn("dd_toolkit.web:create_app()", env, folder / "gunicorn.log", "/healthz") as (base, master):
        plan = pages_to_measure(base, ids)
        documents_ready(base, ids["assessment"])
        # Each page, the bare one included, is first loaded for a second and not measured: a
        # worker's first requests of a page fill what it keeps (a kept fragment, the inbox's
        # grouping), which would otherwise count as the page's steady cost.
        bare_base, bare_master = bare
        wrk(bare_base + "/", WARM_UP_SECONDS)
        rows = []
        for label, role, path, cookie in plan:
            wrk(base + path, WARM_UP_SECONDS, cookie)
            served = (base + path, cookie, master)
            page, bare_page = side_by_side(served, (bare_base + "/", bare_master), duration, rounds)
            rows.append((label, role, page, bare_page))
        print_table(companies, rows)
        print_pdf_downloads(base, ids["assessment"])
        inbox = next((label, path, cookie) for label, _, path, cookie in plan if label == "inbox")
        print_page_while_documents_render(base, inbox, ids["assessment"], documents)
        print(f"app gunicorn master {master}, worker RSS after the run:")
        for pid, rss, pdf_processes in worker_rss(master):
            print(f"  worker {pid}: {rss}" + "".join(f" (its PDF process: {child})" for child in pdf_processes))
    # The work behind the pages on the same database (it adds one company, so it runs last).
    print(dd_toolkit_python(env, "-m", "tests.perf.benchmark_records"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--companies", default="0,1000,10000", help="comma-separated company counts (0 = demo only)")
    parser.add_argument("--duration", type=int, default=4, help="seconds of wrk per page, in --rounds bursts")
    parser.add_argument(
        "--rounds", type=int, default=ROUNDS, help=f"bursts of each page, alternating with the bare page's ({ROUNDS})"
    )
    parser.add_argument("--instance", type=Path, help="measure this prepared instance instead of preparing any")
    parser.add_argument("--database", help="the prepared instance's database URL, when not its bench.sqlite")
    args = parser.parse_args()
    counts = [int(n) for n in args.companies.split(",") if n.strip()]
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: run `make bench-pages` (it installs Debian's wrk)")

    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="dd-bench-pages-")))
        if any(counts) and not supports_companies(dict(os.environ, DD_INSTANCE_PATH=str(workdir))):
            print(
                "`dd-toolkit load-demo --companies N` does not exist yet: "
                f"skipping the scale runs ({', '.join(str(n) for n in counts if n)}), measuring N=0 only"
            )
            counts = [0]
        bare = stack.enter_context(gunicorn("tests.perf.bare_app:app", dict(os.environ), workdir / "bare.log", "/"))
        if args.instance:
            instance = prepared_instance(args.instance, args.database)
            measure(instance, None, args.duration, bare, args.instance, args.rounds)
            return
        for companies in counts:
            run_one(companies, args.duration, bare, workdir, args.rounds)


if __name__ == "__main__":
    try:
        main()
    except BenchError as exc:
        sys.exit(f"benchmark failed: {exc}")

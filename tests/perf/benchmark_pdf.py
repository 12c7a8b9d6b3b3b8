"""How long a fresh action-plan PDF of the demo company takes, next to its HTML. Run with
``make bench-pdf``, or::

    .venv/bin/python -m tests.perf.benchmark_pdf [--repeat 5] [--instance FOLDER] [--profile]

Without ``--instance`` a throw-away instance (temporary folder, SQLite database, the demo data)
is prepared first (half a minute to a minute); with ``--instance`` an instance already holding the
demo data is used (the measurement after a change saves the tracking of one of its actions).

Every run is fresh: the per-worker caches of derived documents (plan, Markdown, HTML) and of
charts are emptied first, the typesetter starts from nothing (it keeps no layout from the run
before) and no PDF store is used, so each run reads the assessment, builds the
HTML and has Typst typeset it, as the first download after a change does. The figures are
the median and the best of the runs, in wall-clock and CPU seconds (the CPU time of this process
is less disturbed by other work on a shared machine). ``--profile`` adds a cProfile listing of
one PDF rendering.

Then, through the app (Flask's test client, in this process), what a user meets after a change:
an action's tracking is saved, its response is closed as a server does, and the worker's
background thread has the changed documents rendered (in the PDF process, as a server does). The
download is timed twice: asked for at once (it waits for the rendering under way) and asked for
once the rendering is done (from the store). Last, the resident memory of a new PDF process that
typesets many different plans.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def _prepare(folder: Path) -> None:
    env = dict(os.environ, DD_INSTANCE_PATH=str(folder), DATABASE_URL=f"sqlite:///{folder / 'bench.sqlite'}")
    started = time.perf_counter()
    for command in (["init-db"], ["load-demo"]):
        subprocess.run([str(BIN / "dd-toolkit"), *command], env=env, check=True, capture_output=True)
    os.environ.update(DD_INSTANCE_PATH=env["DD_INSTANCE_PATH"], DATABASE_URL=env["DATABASE_URL"])
    print(f"instance with the demo data ready in {time.perf_counter() - started:.1f} s")


def _clear_caches() -> None:
    from dd_toolkit.engine import charts, documents, render

    with documents._derived_lock:
        documents._derived.clear()
    for cached in (charts._radar_svg, render._cached_user_markdown_to_html, render._cached_markdown_to_html):
        cached.cache_clear()
    render._typesetter.forget()  # nothing laid out before is reused


def _timed(work, repeat: int) -> tuple[list[float], list[float], object]:
    walls, cpus, result = [], [], None
    for _ in range(repeat):
        _clear_caches()
        wall, cpu = time.perf_counter(), time.process_time()
        result = work()
        cpus.append(time.process_time() - cpu)
        walls.append(time.perf_counter() - wall)
    return walls, cpus, result


def _line(label: str, walls: list[float], cpus: list[float], extra: str = "") -> str:
    return (
        f"  {label:<34} wall {statistics.median(walls) * 1000:7.0f} ms (best {min(walls) * 1000:6.0f})"
        f"   cpu {statistics.median(cpus) * 1000:7.0f} ms (best {min(cpus) * 1000:6.0f}){extra}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5, help="runs of each measurement (default 5)")
    parser.add_argument("--instance", type=Path, help="an instance folder that already holds the demo data")
    parser.add_argument("--profile", action="store_true", help="print a cProfile listing of one PDF rendering")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="dd-bench-pdf-") as temporary:
        if args.instance:
            os.environ["DD_INSTANCE_PATH"] = str(args.instance.resolve())
        else:
            _prepare(Path(temporary))
        run(args.repeat, args.profile)


def run(repeat: int, profile: bool) -> None:
    from sqlmodel import select

    from dd_toolkit.engine import documents
    from dd_toolkit.engine.render import pdf_from_html
    from dd_toolkit.records.database import standalone_session
    from dd_toolkit.records.demo import COMPANIES
    from dd_toolkit.records.models import Assessment, Organisation
    from dd_toolkit.records.plans import inputs_for
    from dd_toolkit.web import create_app

    app = create_app()
    content = app.extensions["dd_content"]
    with standalone_session(app.extensions["dd_engine"]) as db:
        lumen = db.exec(
            select(Assessment)
            .join(Organisation, Organisation.id == Assessment.organisation_id)
            .where(Organisation.name == COMPANIES[0].name, Assessment.status == "submitted")
        ).first()
        if lumen is None:
            raise SystemExit("no submitted assessment of the demo company: run dd-toolkit load-demo first")

        def document(kind, fmt):
            make = documents.action_plan_document if kind == "plan" else documents.transparency_document
            return make(inputs_for(db, content, lumen, with_peers=True), fmt)

        # The first rendering loads the fonts and the templates: not measured.
        document("plan", "pdf")
        html = document("plan", "html").data.decode()

        print(f"action plan of {COMPANIES[0].name} (assessment {lumen.id}), {repeat} fresh runs each:")
        walls, cpus, _ = _timed(lambda: document("plan", "html"), repeat)
        print(_line("HTML (read, plan, Markdown, HTML)", walls, cpus))
        walls, cpus, pdf = _timed(lambda: document("plan", "pdf"), repeat)
        print(_line("PDF  (the same, then Typst)", walls, cpus, f"   {_pages(pdf.data)} pages"))
        walls, cpus, _ = _timed(lambda: pdf_from_html(html), repeat)
        print(_line("  of which Typst alone", walls, cpus, f"   {len(pdf.data) // 1024} KiB"))
        walls, cpus, pdf = _timed(lambda: document("transparency", "pdf"), repeat)
        print(_line("transparency PDF, for comparison", walls, cpus, f"   {_pages(pdf.data)} pages"))

    after_a_change(app, lumen.id, repeat)
    memory_over_many(html)

    if profile:
        profiler = cProfile.Profile()
        profiler.runcall(pdf_from_html, html)
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(40)
        print(out.getvalue())


def after_a_change(app, assessment_id: int, repeat: int) -> None:
    import re

    from dd_toolkit.engine.pdf_process import pdf_process
    from dd_toolkit.web.outputs.store import documents_to_render
    from tests.perf.benchmark_calls import HEADERS, _signed_in
    from tests.perf.benchmark_pages import COMPANY_ADMIN

    app.config["PRERENDER_DOCUMENTS"] = True
    client = _signed_in(app, COMPANY_ADMIN)
    plan = f"/assessments/{assessment_id}/action-plan"

    def save(owner: str):
        page = client.get(plan, headers=HEADERS).get_data(as_text=True)
        item = re.search(r'id="item-([^"]+)-owner"', page).group(1)
        version = re.search(rf'name="item-{re.escape(item)}-base_version"[^>]*value="(\d+)"', page)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
        form = {
            "csrf_token": token,
            f"item-{item}-owner": owner,
            f"item-{item}-status": "in_progress",
            f"item-{item}-base_version": version.group(1) if version else "0",
        }
        response = client.post(f"{plan}/items/{item}", data=form, headers=HEADERS)
        if response.status_code != 302 or "changed by someone else" in client.get(plan, headers=HEADERS).text:
            raise SystemExit(f"saving the tracking of {item} failed ({response.status_code})")
        response.close()  # as the server does once the response has gone out: the rendering starts

    def download() -> float:
        started = time.perf_counter()
        response = client.get(f"{plan}.pdf", headers=HEADERS)
        if response.status_code != 200 or not response.data.startswith(b"%PDF"):
            raise SystemExit(f"downloading the plan gave {response.status_code}")
        return time.perf_counter() - started

    save(f"Owner {os.getpid()} warm-up")  # starts the PDF process and loads the fonts in it
    documents_to_render.join()
    at_once, later, ready = [], [], []
    for run in range(repeat):
        _clear_caches()
        save(f"Owner {os.getpid()}-{run}a")
        at_once.append(download())
        documents_to_render.join()
        _clear_caches()
        save(f"Owner {os.getpid()}-{run}b")
        started = time.perf_counter()
        documents_to_render.join()
        ready.append(time.perf_counter() - started)
        later.append(download())
    pdf_process.stop()
    print(f"after saving an action's tracking, through the app, rendering in the PDF process ({repeat} runs):")
    for label, walls, note in (
        ("download asked for at once", at_once, "   (waits for the rendering under way)"),
        ("rendering ahead, save to ready", ready, "   (every document the change altered)"),
        ("download once it is ready", later, "   (from the store)"),
    ):
        print(f"  {label:<34} wall {statistics.median(walls) * 1000:7.0f} ms (best {min(walls) * 1000:6.0f}){note}")


def _resident_mb(pid: int) -> float:
    with open(f"/proc/{pid}/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


# How many different plans the memory figure renders: enough for the compiler's memory to level off.
MEMORY_PLANS = 40


def memory_over_many(html: str) -> None:
    """The resident memory of a new PDF process that typesets many different plans, as it does
    over a day: Typst keeps what it laid out, and lets go of what later documents no longer use."""
    from dd_toolkit.engine.pdf_process import PdfProcess

    process = PdfProcess()
    try:
        levels = []
        for number in range(MEMORY_PLANS):
            process.render(html.replace("Lumen Social", f"Lumen Social {number}"))
            if number in (0, 9, 19, MEMORY_PLANS - 1):
                levels.append(f"{number + 1}: {_resident_mb(process.process_id()):.0f} MB")
    finally:
        process.stop()
    print(f"a new PDF process's resident memory after so many different plans: {', '.join(levels)}")


def _pages(data: bytes) -> int:
    import pypdf

    return len(pypdf.PdfReader(io.BytesIO(data)).pages)


if __name__ == "__main__":
    main()

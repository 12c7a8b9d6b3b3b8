"""The page benchmark's own measuring tools (tests/perf/benchmark_pages.py): what it reads from
/proc and from the pages it measures."""

import os
import subprocess
import sys

from tests.perf.benchmark_pages import largest_review_section, worker_cpu_seconds, worker_rss


def test_the_cpu_time_and_memory_of_a_masters_children_are_read_and_only_theirs():
    before = worker_cpu_seconds(os.getpid())
    # A child that spends 0.3 s of CPU, says so, and waits to be told to exit: alive, it is a
    # child of this process, as a worker is of its master. /proc counts CPU time in whole clock
    # ticks, rounded down, so at least 0.25 s of it is read.
    spin = (
        "import sys, time\nstart = time.process_time()\nwhile time.process_time() - start < 0.3: pass\n"
        "print('spun', flush=True)\nsys.stdin.read()"
    )
    child = subprocess.Popen([sys.executable, "-c", spin], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "spun"
        assert worker_cpu_seconds(os.getpid()) - before >= 0.25
        assert worker_cpu_seconds(child.pid) == 0  # it has no child of its own
        workers = {pid: (rss, children) for pid, rss, children in worker_rss(os.getpid())}
        assert workers[child.pid][0].endswith(" kB") and workers[child.pid][1] == []  # no PDF process
    finally:
        child.communicate("")


def test_the_review_section_measured_is_the_one_with_the_most_answers():
    page = (
        '<li><a href="/review/7/sections/a.one">One</a> <span class="hint">(A, with a comma, 3 answers)</span></li>'
        '<li><a href="/review/7/sections/a.two">Two</a> <span class="hint">(Module, 12 answers)</span></li>'
        '<li><a href="/review/7/sections/a.three">Three</a> <span class="hint">(Module, 1 answer)</span></li>'
    )
    assert largest_review_section(page) == "/review/7/sections/a.two"


def test_bursts_combine_into_one_figure_per_page():
    from tests.perf.benchmark_pages import combined

    bursts = [
        {"rps": 400.0, "p50": 10.0, "p99": 20.0, "requests": 400, "cpu_s": 1.2},
        {"rps": 600.0, "p50": 8.0, "p99": 30.0, "requests": 600, "cpu_s": 1.2},
        {"rps": 500.0, "p50": 9.0, "p99": 25.0, "requests": 500, "cpu_s": 1.1},
    ]
    figure = combined(bursts)
    assert figure["rps"] == 500.0  # bursts of equal length: the mean rate
    assert figure["p50"] == 9.0 and figure["p99"] == 30.0  # the median burst's, the worst burst's
    assert figure["cpu_ms"] == 3500 / 1500  # all the CPU time over all the requests
    # Pages' figures combine again into the bare page's over the whole run.
    assert combined([figure, figure])["cpu_ms"] == figure["cpu_ms"]
    assert "cpu_ms" not in combined([{"rps": 1.0, "p50": 1.0, "p99": 1.0, "requests": 1}])

"""Every page each role can reach, checked as a browser and a validator see it.

The page walk of tests/test_headers.py finds, for each demo identity, every HTML page reachable by
links (one URL per route). Then, in Debian's Chromium driven by Playwright (one browser for all):

- axe-core, injected into each page, finds no violation of WCAG 2.2 A and AA;
- at 390 and 360 CSS pixels wide no page scrolls sideways (a wide table scrolls in its own
  focusable container instead);
- each page's HTML, as the server sent it, is saved, and the Nu HTML checker (vnu.jar, one Java
  run over all of them) finds no error.

axe-core and vnu.jar come from the npm registry at the versions of tests/node/package-lock.json
(`make page-checks` installs them, and Debian's Java, as `make browser` installs Chromium).
"""

from __future__ import annotations

import json
import re
import subprocess
from collections import defaultdict
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask import template_rendered

from dd_toolkit.records.demo import DEMO_PASSWORD

from . import test_browser, test_headers

pytestmark = pytest.mark.browser

NODE_MODULES = Path(__file__).parent / "node" / "node_modules"
AXE = NODE_MODULES / "axe-core" / "axe.min.js"
VNU = NODE_MODULES / "vnu-jar" / "build" / "dist" / "vnu.jar"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
PHONE_WIDTHS = (390, 360)
TEMPLATES = Path(__file__).parent.parent / "dd_toolkit" / "web" / "templates"
# Page templates the GET walk cannot reach, each for a reason (their markup shares the macros and
# base of the pages that are checked).
NOT_WALKED = {
    "base.html": "the layout every page extends",
    "error.html": "an error page: no link leads to one",
    "assess/submit_confirm.html": "the confirmation step of a submission (a POST)",
    "assess/import_failed.html": "shown after a failed import (a POST)",
    "auth/invitation_issued.html": "shown after an invitation is issued (a POST)",
    "auth/accept_invite.html": "needs a live invitation link",
    "auth/reset.html": "needs a live reset link",
    "benchmarks/print.html": "printed to PDF, never served as a page",
    "regulator/indicators_print.html": "printed to PDF, never served as a page",
}


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.fail(f"{path.name} is needed for the page checks: `make page-checks` installs it")
    return path


def pages_of(app, errors: list[str]) -> dict[str, list[tuple[str, str, str]]]:
    """{identity: [(url, route, HTML)]}: the pages the walk of test_headers reaches, one URL per
    route; a server error on the way is added to ``errors`` (and the walk goes on)."""
    adapter = app.url_map.bind("localhost")
    # PDFs are no pages: listing every PDF route as done keeps the walk from rendering them.
    pdfs = {rule.endpoint for rule in app.url_map.iter_rules() if rule.rule.endswith(".pdf")}
    found = {}
    app.config["PROPAGATE_EXCEPTIONS"] = False  # a 500 is reported with the rest, not raised
    for identity, email in test_headers.IDENTITIES.items():
        client = app.test_client()
        if email:
            test_headers.sign_in(client, email)
        html: list[tuple[str, str]] = []
        _visited, problems = test_headers.walk(app, client, set(pdfs), html=html, per_endpoint=1)
        errors += [f"{identity} {problem}" for problem in problems if re.search(r": 5\d\d$", problem)]
        by_route = {}
        for url, body in html:
            route = adapter.match(urlsplit(url).path, method="GET")[0]
            by_route.setdefault(route, (url, route, body))
        found[identity] = list(by_route.values())
    return found


AXE_RUN = """async (tags) => {
  const result = await axe.run(document, {runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]});
  return result.violations.map(v => `${v.id} (${v.impact}): ${v.help}: ` +
    v.nodes.slice(0, 3).map(n => n.target.join(" ")).join(" | "));
}"""
WIDTH = "() => [document.scrollingElement.scrollWidth, window.innerWidth]"


def test_every_page_passes_axe_the_nu_checker_and_fits_a_phone(real_app, demo, real_live_server, tmp_path):
    from playwright.sync_api import sync_playwright

    axe_source, vnu = _need(AXE).read_text(encoding="utf-8"), _need(VNU)
    rendered: set[str] = set()

    def _record(sender, template, context, **extra):
        rendered.add(template.name)

    problems: dict[str, list[str]] = defaultdict(list)
    template_rendered.connect(_record, real_app)
    try:
        pages = pages_of(real_app, problems["server error"])
    finally:
        template_rendered.disconnect(_record, real_app)

    # Each page's HTML as the server sent it, for the Nu checker.
    saved: dict[str, str] = {}  # file name -> "identity url"
    for identity, found in pages.items():
        for url, _route, body in found:
            name = f"{len(saved):03d}.html"
            (tmp_path / name).write_text(body, encoding="utf-8")
            saved[name] = f"{identity} {url}"

    axe_done: set[tuple[str, str]] = set()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=test_browser.chromium_path(), args=test_browser.CHROMIUM_FLAGS
        )
        for identity, found in pages.items():
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            context.set_default_timeout(30_000)
            page = context.new_page()
            email = test_headers.IDENTITIES[identity]
            if email:
                test_browser.sign_in(page, real_live_server, email, DEMO_PASSWORD)
                page.get_by_role("button", name="Sign out").wait_for()
            for url, route, _body in found:
                where = f"{identity} {url}"
                page.set_viewport_size({"width": 1280, "height": 900})
                response = page.goto(real_live_server + url)
                assert response is not None and response.status == 200, where
                # Every page template, as each role that reaches it: a role sees its own variant.
                page.evaluate(axe_source)
                problems["axe"] += [f"{where}: {v}" for v in page.evaluate(AXE_RUN, WCAG_TAGS)]
                axe_done.add((identity, route))
                for width in PHONE_WIDTHS:
                    page.set_viewport_size({"width": width, "height": 800})
                    scroll_width, inner = page.evaluate(WIDTH)
                    if scroll_width > inner:
                        wide = page.evaluate(WIDEST, inner)
                        problems["width"].append(f"{where}: {scroll_width} px wide at {width} px ({wide})")
            context.close()
        browser.close()

    # One Java run over every saved page.
    files = sorted(saved)
    run = subprocess.run(
        ["java", "-jar", str(vnu), "--errors-only", "--format", "json", *files],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = json.loads(run.stderr or run.stdout)
    for message in report["messages"]:
        name = message.get("url", "").rsplit("/", 1)[-1]
        problems["nu"].append(
            f"{saved.get(name, name)} line {message.get('lastLine')}: {message['message']}"
            f" [{message.get('extract', '').strip()[:80]}]"
        )

    report_lines = [f"{kind}: {line}" for kind, lines in problems.items() for line in _unique(lines)]
    assert not report_lines, f"{len(report_lines)} problems:\n" + "\n".join(report_lines[:120])
    assert len(saved) > 60, pages.keys()
    assert len(axe_done) == len(saved)  # axe ran on every page of every identity
    unwalked = {
        str(path.relative_to(TEMPLATES))
        for path in TEMPLATES.rglob("*.html")
        if not path.name.startswith("_") and str(path.relative_to(TEMPLATES)) not in rendered
    }
    assert unwalked <= set(NOT_WALKED), f"page templates the walk did not render: {sorted(unwalked - set(NOT_WALKED))}"


# The elements that stick out of the viewport, to name them in a failure.
WIDEST = """(inner) => [...document.querySelectorAll("body *")]
  .filter(e => e.getBoundingClientRect().right > inner + 1 && getComputedStyle(e).position !== "fixed")
  .filter(e => !e.parentElement || e.parentElement.getBoundingClientRect().right <= inner + 1)
  .slice(0, 4)
  .map(e => e.tagName.toLowerCase() + (e.className ? "." + String(e.className).split(" ")[0] : "")
       + " " + Math.round(e.getBoundingClientRect().right) + "px")
  .join(", ")"""


def _unique(lines: list[str]) -> list[str]:
    """Drop repeats of the same message on the same route by another URL."""
    seen, kept = set(), []
    for line in lines:
        key = re.sub(r"/\d+", "/N", line)
        if key not in seen:
            seen.add(key)
            kept.append(line)
    return kept

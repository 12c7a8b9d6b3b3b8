"""The security headers (dd_toolkit/web/security.py), checked on every page each role can reach.

The walk signs in as each demo identity, starts from the home page and every GET route without
arguments, and follows every link on every HTML page (at most a few URLs per route, so it stays
bounded). Every response must carry the headers, every HTML page must be free of inline script,
inline event handlers and inline styles (the Content-Security-Policy would block them), and every
GET route of the app must have been reached by some identity, or be listed below with a reason.
"""

from __future__ import annotations

import re
from collections import Counter, deque
from urllib.parse import urljoin, urlsplit

import pytest
from werkzeug.middleware.proxy_fix import ProxyFix

from dd_toolkit.records.demo import CONTRIBUTOR_EMAIL, DEMO_PASSWORD

from . import test_browser
from .conftest import FIXTURE_CONTENT, make_app

# The browser tests' fixtures, for the browser test at the end.
page = test_browser.page

IDENTITIES = {
    "anonymous": None,
    "company admin": "admin@lumen.example",
    "contributor": CONTRIBUTOR_EMAIL,
    "other company admin": "admin@kitechat.example",
    "regulator": "regulator@demo.example",
    "working group": "wg@demo.example",
    "platform admin": "platform@demo.example",
}
PER_ENDPOINT = 2  # URLs visited per route and identity
MAX_REQUESTS = 400  # per identity
# GET routes no link leads to, each for a reason; the walk reaches all the others.
UNLINKED = {
    "api.openapi": "the API is for programs: requested directly below",
    "api.submissions": "the API: requested directly below",
    "api.submission": "the API: its tests (test_api.py) hold a token",
    "api.indicators": "the API: its tests hold a token",
    "api.benchmark": "the API: its tests hold a token",
}

LINK_RE = re.compile(r'\b(?:href|src|formaction)="([^"#]*)')  # formaction: a GET form's buttons
INLINE_SCRIPT_RE = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)
HANDLER_RE = re.compile(r"<[^>]*\son[a-z]+\s*=", re.I)
STYLE_ATTRIBUTE_RE = re.compile(r"<[^>]*\sstyle\s*=", re.I)
JAVASCRIPT_URL_RE = re.compile(r"""(?:href|src|action)\s*=\s*["']?\s*javascript:""", re.I)


def directives(policy: str) -> dict[str, list[str]]:
    parsed = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            parsed[words[0].lower()] = words[1:]
    return parsed


def check_headers(url: str, response, static: bool = False) -> list[str]:
    """What is wrong with one response's headers (and, for a page, its markup)."""
    problems = []
    headers = response.headers
    if response.status_code >= 500:
        problems.append(f"{response.status_code}")
    if headers.get("X-Content-Type-Options") != "nosniff":
        problems.append("no X-Content-Type-Options: nosniff")
    if headers.get("Referrer-Policy") not in ("same-origin", "no-referrer", "strict-origin-when-cross-origin"):
        problems.append(f"Referrer-Policy {headers.get('Referrer-Policy')!r}")
    policy = directives(headers.get("Content-Security-Policy", ""))
    if policy.get("frame-ancestors") != ["'none'"]:
        problems.append(f"frame-ancestors {policy.get('frame-ancestors')!r}")
    if not static and "no-store" not in headers.get("Cache-Control", ""):
        problems.append(f"Cache-Control {headers.get('Cache-Control')!r}")
    if response.mimetype == "text/html":
        scripts = policy.get("script-src", policy.get("default-src"))
        if scripts != ["'self'"]:
            problems.append(f"script-src {scripts!r}")
        if policy.get("style-src", policy.get("default-src")) != ["'self'"]:
            problems.append(f"style-src {policy.get('style-src')!r}")
        if policy.get("object-src") != ["'none'"] or policy.get("base-uri") != ["'none'"]:
            problems.append("object-src or base-uri not 'none'")
        body = response.get_data(as_text=True)
        for name, pattern in (
            ("inline <script>", INLINE_SCRIPT_RE),
            ("inline event handler", HANDLER_RE),
            ("inline style attribute", STYLE_ATTRIBUTE_RE),
            ("javascript: URL", JAVASCRIPT_URL_RE),
        ):
            match = pattern.search(body)
            if match:
                problems.append(f"{name}: {match.group(0)[:80]!r}")
    elif not static:
        if response.mimetype != "application/pdf" and directives(headers.get("Content-Security-Policy", "")).get(
            "default-src"
        ) != ["'none'"]:
            problems.append(f"a file's policy allows loading: {headers.get('Content-Security-Policy')!r}")
    return [f"{url}: {p}" for p in problems]


def sign_in(client, email: str) -> None:
    form = client.get("/auth/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form).group(1)
    response = client.post("/auth/login", data={"email": email, "password": DEMO_PASSWORD, "csrf_token": token})
    assert response.status_code == 302, f"{email} could not sign in"


def walk(
    app, client, pdfs_done: set[str], html: list[tuple[str, str]] | None = None, per_endpoint: int = PER_ENDPOINT
) -> tuple[dict[str, object], list[str]]:
    """Every page reachable by links from the start pages: {url: endpoint}, and the problems.
    A PDF takes seconds to render, so each PDF route is fetched once over all identities.
    Given ``html``, each page answered with HTML (200, not a download) is appended to it as
    (url, the HTML), in order."""
    adapter = app.url_map.bind("localhost")
    start = ["/"] + [
        rule.rule
        for rule in app.url_map.iter_rules()
        if "GET" in rule.methods and not rule.arguments and rule.endpoint != "static"
    ]
    queue, seen, per_route = deque(start), set(start), Counter()
    visited, problems = {}, []
    checked_static = False
    while queue and len(visited) < MAX_REQUESTS:
        url = queue.popleft()
        path = urlsplit(url).path
        try:
            endpoint, _args = adapter.match(path, method="GET")
        except Exception:  # noqa: BLE001  (a link to nowhere: the page's own problem, not ours)
            continue
        if endpoint == "static":
            if checked_static:
                continue
            checked_static = True
        per_route[endpoint] += 1
        if per_route[endpoint] > per_endpoint:
            continue
        if path.endswith(".pdf"):
            if endpoint in pdfs_done:
                continue
            pdfs_done.add(endpoint)
        response = client.get(url)
        visited[url] = endpoint
        problems += check_headers(url, response, static=endpoint == "static")
        if response.mimetype != "text/html":
            continue
        if (
            html is not None
            and response.status_code == 200
            and "attachment" not in response.headers.get("Content-Disposition", "")
        ):
            html.append((url, response.get_data(as_text=True)))
        for link in LINK_RE.findall(response.get_data(as_text=True)):
            link = link.replace("&amp;", "&")
            target = urlsplit(urljoin("http://localhost" + url, link))
            if target.netloc != "localhost" or not target.path:
                continue
            relative = target.path + (f"?{target.query}" if target.query else "")
            if relative not in seen:
                seen.add(relative)
                queue.append(relative)
    return visited, problems


@pytest.mark.walk
def test_every_page_carries_the_security_headers(real_app, demo):
    reached: dict[str, set[str]] = {}
    problems: list[str] = []
    pdfs_done: set[str] = set()
    for identity, email in IDENTITIES.items():
        client = real_app.test_client()
        if email:
            sign_in(client, email)
        visited, found = walk(real_app, client, pdfs_done)
        problems += [f"{identity}: {p}" for p in found]
        for endpoint in visited.values():
            reached.setdefault(endpoint, set()).add(identity)
    # The API, as a program reads it (its own tests hold a token; its errors get the headers too).
    client = real_app.test_client()
    for url in ("/api/v1/openapi.json", "/api/v1/submissions", "/api/v1/no-such-thing"):
        problems += [f"api: {p}" for p in check_headers(url, client.get(url))]
    for url in ("/auth/invite/not-a-real-token", "/auth/reset/not-a-real-token"):
        response = client.get(url)
        problems += check_headers(url, response)
        reached.setdefault(real_app.url_map.bind("localhost").match(url)[0], set()).add("anonymous")

    assert not problems, "\n".join(problems[:40])
    get_routes = {
        rule.endpoint for rule in real_app.url_map.iter_rules() if "GET" in rule.methods and rule.endpoint != "static"
    }
    missing = sorted(get_routes - set(reached) - set(UNLINKED))
    assert not missing, f"GET routes no identity reached (link them, or list them in UNLINKED): {missing}"
    # Each signed-in role really got past the sign-in page.
    for identity in IDENTITIES:
        if identity != "anonymous":
            assert sum(identity in who for who in reached.values()) > 3, identity


def test_the_error_pages_carry_the_headers_too(client):
    for url, status in (("/no-such-page", 404), ("/assessments/99999999", 302)):
        response = client.get(url)
        assert response.status_code == status
        assert not check_headers(url, response)
    response = client.post("/auth/login", data={"email": "x"})  # no CSRF token
    assert response.status_code == 400 and not check_headers("/auth/login", response)


def test_hsts_only_with_secure_cookies(client, database_url, tmp_path):
    assert "Strict-Transport-Security" not in client.get("/auth/login").headers
    secure = make_app(database_url, tmp_path, FIXTURE_CONTENT, SESSION_COOKIE_SECURE=True)
    try:
        response = secure.test_client().get("/auth/login", base_url="https://localhost")
        assert response.headers["Strict-Transport-Security"] == "max-age=31536000"
    finally:
        secure.extensions["dd_engine"].dispose()


@pytest.mark.parametrize("count", [0, 1])
def test_proxy_fix_is_off_unless_configured(database_url, tmp_path, count):
    app = make_app(database_url, tmp_path, FIXTURE_CONTENT, PROXY_FIX_COUNT=count)
    seen = {}

    @app.after_request
    def _record(response):
        from flask import request

        seen.update(address=request.remote_addr, scheme=request.scheme)
        return response

    try:
        assert isinstance(app.wsgi_app, ProxyFix) == bool(count)
        app.test_client().get(
            "/auth/login",
            headers={"X-Forwarded-For": "198.51.100.7", "X-Forwarded-Proto": "https"},
            environ_base={"REMOTE_ADDR": "127.0.0.1"},
        )
        if count:
            assert seen == {"address": "198.51.100.7", "scheme": "https"}
        else:  # a client cannot choose the address the abuse limits count against
            assert seen == {"address": "127.0.0.1", "scheme": "http"}
    finally:
        app.extensions["dd_engine"].dispose()


# -- in a browser: the pages still work under the policy -----------------------------------------


@pytest.mark.browser
def test_no_policy_violations_in_the_browser(live_server, page, make):
    """Section page, results, action plan and the transparency draft with its live preview, in
    Chromium under the real headers: no CSP violation is reported, and the preview script runs."""
    from playwright.sync_api import expect

    from .factories import PASSWORD

    org = make.organisation(name="Policy Streams")
    admin = make.user(org)
    assessment = make.assessment(org, admin, answers=make.complete_answers())
    violations: list[str] = []
    # CSP reports in the console (a chart's own failure is another test's business).
    page.on(
        "console",
        lambda message: "Content Security Policy" in message.text and violations.append(message.text),
    )
    page.on("pageerror", lambda error: violations.append(str(error)))
    page.add_init_script(
        "window.__csp = []; document.addEventListener('securitypolicyviolation',"
        " e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"
    )

    page.goto(f"{live_server}/auth/login")
    page.get_by_label("Email").fill(admin.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()

    base = f"{live_server}/assessments/{assessment.id}"
    for path in ("", "/sections/mini.policy", "/results", "/action-plan", "/transparency"):
        response = page.goto(base + path)
        assert response.status == 200, path
        assert "script-src 'self'" in response.headers["content-security-policy"]
        assert page.evaluate("window.__csp") == [], path

    # The section page saves through its form.
    page.goto(base + "/sections/mini.policy")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("status")).to_be_visible()

    # The live preview (static/js/preview.js) renders while typing, with no Preview press.
    page.goto(base + "/transparency")
    page.locator("form.editor-form textarea").fill("## Checked under the policy\n\nA *live* preview.")
    expect(page.locator("#preview-output")).to_contain_text("Checked under the policy")
    expect(page.locator("#preview-output h2")).to_have_text("Checked under the policy")
    expect(page.locator("#preview-output em")).to_have_text("live")
    assert page.evaluate("window.__csp") == []
    assert not violations, violations

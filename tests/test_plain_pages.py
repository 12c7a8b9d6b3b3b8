"""Pages in plain words and valid markup: labels instead of internal codes (codes stay in
tooltips and exports), one id per element, machine-readable times without microseconds,
focusable scrolling areas, and the working group's indicator report opening on a country it
may see."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter

import pytest
from sqlmodel import select

from dd_toolkit.records.assessments import submit
from dd_toolkit.records.models import PlatformRole, Recipient
from dd_toolkit.web.filters import machine_time

from .conftest import Forms
from .test_benchmark_pages import peers  # noqa: F401  (a fixture)

ID_RE = re.compile(r'\sid="([^"]+)"')
TIME_RE = re.compile(r'<time datetime="([^"]*)"')


def duplicate_ids(html: str) -> list[str]:
    return sorted(i for i, n in Counter(ID_RE.findall(html)).items() if n > 1)


@pytest.fixture
def review_page(make, session, client, auth):
    """A company's submission to Singapore, a regulator's comment on one question, and the
    regulator's page of it: (the recipient, the page's HTML, the HTML of its first section's page)."""
    org = make.organisation(name="Plain Words Co")
    admin = make.user(org)
    assessment = make.assessment(org, admin, answers=make.complete_answers())
    submission = submit(
        session, make.bank, make.content.methodology("standard@test.1"), assessment, admin, jurisdictions=["SG"]
    )
    recipient = session.exec(select(Recipient).where(Recipient.submission_id == submission.id)).one()
    auth.login(make.user(platform_role=PlatformRole.REGULATOR, jurisdictions=["SG"]).email)
    url = f"/review/{recipient.id}"
    Forms(client).post(
        f"{url}/comments", {"text": "Which policy is this?", "question_id": "mini.policy.exists"}, page=url
    )
    section = client.get(f"{url}/sections/mini.policy").get_data(as_text=True)
    return recipient, client.get(url).get_data(as_text=True), section


def test_the_regulator_sees_the_profile_in_labels(review_page):
    _, page, _section = review_page
    profile = page.split('<dl class="facts">')[1].split("</dl>")[0]
    for label in ("Social network or community platform", "Medium (50-249 staff)", "Singapore", "Malaysia"):
        assert label in profile
    for code in ("social_network", "payments", "medium", ">SG", ">yes<"):
        assert code not in profile


def test_the_timeline_names_the_question_and_the_version(review_page):
    recipient, page, section = review_page
    timeline = page.split('<ol class="timeline">')[1].split("</ol>")[0]
    assert "submitted version 1 of the assessment" in timeline
    assert "version of submission" not in timeline
    # The question's text, its id only in the tooltip.
    assert re.search(
        rf'comment\s+on <a href="/review/{recipient.id}/sections/mini.policy#q-mini-policy-exists"'
        r' title="mini.policy.exists">'
        r"Is there a child safeguarding policy\?</a>",
        timeline,
    )
    assert ">mini.policy.exists<" not in timeline
    # The section's page lists the comments on its questions, each linked to its question.
    comments = section.split('id="section-comments"', 1)[1].split("</section>", 1)[0]
    assert '<a href="#q-mini-policy-exists">Is there a child safeguarding policy?</a>' in comments
    assert "Which policy is this?" in comments and 'id="q-mini-policy-exists"' in section


def test_framework_references_show_their_names(review_page, client, make, auth):
    _, _page, answers = review_page
    assert '<span class="tag" title="HRDD:1">HRDD step 1 - policy commitment</span>' in answers
    assert ">HRDD:1<" not in answers and ">RPA:7.4.1<" not in answers

    org = make.organisation()
    admin = make.user(org)
    assessment = make.assessment(org, admin, answers=make.complete_answers())
    auth.logout()
    auth.login(admin.email)
    section = client.get(f"/assessments/{assessment.id}/sections/mini.policy").get_data(as_text=True)
    assert '<span class="tag" title="HRDD:1">HRDD step 1 - policy commitment</span>' in section
    assert ">HRDD:1<" not in section
    # Frozen under the methodology with framework lenses.
    frozen = make.submitted(org, admin, cycle=2025, methodology="standard@test.1")
    results = client.get(f"/assessments/{frozen.id}/results").get_data(as_text=True)
    assert '<th scope="row" title="SbD:1">Safety by Design principle 1 - service provider responsibility</th>' in (
        results
    )
    assert ">SbD:1<" not in results
    # A chart keeps a readable size on a phone and scrolls in a focusable, named figure.
    assert len(re.findall(r'<figure class="chart" tabindex="0" aria-label="[^"]+">', results)) == 2
    chart = client.get(f"/assessments/{frozen.id}/charts/lenses.svg").get_data(as_text=True)
    assert "Policy commitment" in chart and "HRDD:1" not in chart and "SbD:1" not in chart
    browse = client.get("/question-bank/").get_data(as_text=True)
    assert 'title="HRDD:1">HRDD step 1 - policy commitment</a>' in browse


def test_the_working_group_reads_lens_names(real_app):
    from dd_toolkit.web.benchmarks.routes import _metric_labels

    with real_app.test_request_context():
        names = _metric_labels()
    assert names["lens:SbD:1"] == "Safety by Design principle 1 - service provider responsibility"
    assert names["lens:HRDD:2"] == "HRDD step 2 - assess actual and potential impacts"


def test_no_duplicate_ids_and_no_csrf_id(review_page, client, make, auth):
    _, page, section = review_page
    questions = section.count('<article class="question"')
    # A comment form on every question, each with its token (and the header's forms with theirs).
    assert questions > 2 and section.count('name="question_id"') == questions
    assert section.count('name="csrf_token"') > questions
    for html in (page, section):
        assert 'id="csrf_token"' not in html
        assert duplicate_ids(html) == []
    org = make.organisation()
    admin = make.user(org)
    make.assessment(org, admin, answers=make.complete_answers())
    make.submitted(org, admin, cycle=2025)
    auth.logout()
    auth.login(admin.email)
    listing = client.get("/assessments/").get_data(as_text=True)
    assert duplicate_ids(listing) == []


def test_times_carry_no_microseconds(review_page):
    _, page, _section = review_page
    values = TIME_RE.findall(page)
    assert values and all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", v) for v in values), values
    moment = dt.datetime(2026, 11, 30, 16, 24, 5, 123456)
    assert machine_time(moment) == "2026-11-30T16:24:05Z"
    assert machine_time(moment.replace(tzinfo=dt.timezone(dt.timedelta(hours=8)))) == "2026-11-30T08:24:05Z"
    assert machine_time(dt.date(2026, 11, 30)) == "2026-11-30"
    assert machine_time("2026-11-30") == "2026-11-30"


def test_scrolling_previews_are_focusable_regions(review_page, client, make, auth):
    _, page, _section = review_page
    assert re.search(r'<div class="preview" tabindex="0" role="region" aria-label="[^"]+">', page)
    org = make.organisation()
    admin = make.user(org)
    assessment = make.assessment(org, admin, answers=make.complete_answers())
    auth.logout()
    auth.login(admin.email)
    draft = client.get(f"/assessments/{assessment.id}/transparency").get_data(as_text=True)
    assert re.search(r'<section class="preview"[^>]* tabindex="0"', draft)
    assert re.search(r'<section class="preview"[^>]* aria-labelledby="[^"]+"', draft)


def test_the_indicator_report_opens_on_a_country_it_shows(client, make, peers):  # noqa: F811
    from .conftest import AuthActions

    AuthActions(client).login(make.user(platform_role=PlatformRole.WORKING_GROUP).email)
    page = client.get("/benchmarks/indicators").get_data(as_text=True)
    # Brunei comes first in the list, but no peer operates there: Malaysia is the first shown.
    assert '<option value="MY" selected>' in page
    assert "Withheld for" not in page
    # Asked for by name, a withheld country is still shown as withheld.
    assert "Withheld for Brunei Darussalam" in client.get("/benchmarks/indicators?country=BN").get_data(as_text=True)


def test_the_indicator_report_explains_when_every_country_is_withheld(client, make):
    from .conftest import AuthActions

    # Five consenting companies publish a release, each in a country of its own: no country
    # group is large enough to show.
    for country in ("BN", "KH", "ID", "LA", "MY"):
        org = make.organisation(countries=[country], hq_country=country)
        make.submitted(org, make.user(org), consent=True)
    AuthActions(client).login(make.user(platform_role=PlatformRole.WORKING_GROUP).email)
    page = client.get("/benchmarks/indicators").get_data(as_text=True)
    assert "This release shows the indicator rates of no country" in page


def test_the_benchmark_tables_scroll_in_their_own_region_and_have_no_empty_column(client, make, peers):  # noqa: F811
    from .conftest import AuthActions

    AuthActions(client).login(make.user(platform_role=PlatformRole.WORKING_GROUP).email)
    page = client.get("/benchmarks/").get_data(as_text=True)
    tables = page.count("<table")
    assert tables > 2
    # Every table sits in a focusable, named scrolling region (a phone scrolls the table, not the page).
    assert len(
        re.findall(r'<div class="table-scroll" tabindex="0" role="region" aria-label="[^"]+">\s*<table', page)
    ) == (tables)
    # Change between cycles: no "Note" column when no cycle has a note; every column has a filled cell.
    trends = page.split("All companies, by cycle</caption>")[1].split("</table>")[0]
    heads = re.findall(r'<th scope="col"[^>]*>(.*?)</th>', trends)
    assert "Note" not in heads
    assert "RPA:" not in "".join(heads)
    for row in re.findall(r"<tr>(.*?)</tr>", trends.split("<tbody>")[1], re.S):
        cells = re.findall(r"<t[hd]([^>]*)>(.*?)</t[hd]>", row, re.S)
        width = sum(
            int(re.search(r'colspan="(\d+)"', attrs).group(1)) if "colspan" in attrs else 1 for attrs, _ in cells
        )
        assert width == len(heads), row
        assert all(text.strip() for _, text in cells), row

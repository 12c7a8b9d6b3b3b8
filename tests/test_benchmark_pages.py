"""The benchmark as its users meet it: the working group's dashboard and CSV, a company's own
position, and the command line; with an attacker's view of everything those show."""

import csv
import io
import itertools

import pytest
from click.testing import CliRunner
from sqlmodel import select

from dd_toolkit.cli import main as cli
from dd_toolkit.records.assessments import new_version, submit
from dd_toolkit.records.models import Assessment, Membership, OrgRole, PlatformRole, User
from dd_toolkit.web import fragments

from .conftest import FIXTURE_CONTENT, AuthActions

THRESHOLD = 5


@pytest.fixture
def peers(make):
    """Fifteen consenting companies in cycle 2026 (one of them the only start-up, so its size
    group is too small to show): a release is published after every fifth. Then two that did not
    consent, one scored with an older methodology, and a second version of one submission: too
    few changes for a new release."""
    orgs = []
    sizes = ["large"] * 7 + ["medium"] * 7 + ["startup"]
    for number, size in enumerate(sizes):
        org = make.organisation(name=f"Peer {number}", size_band=size)
        answers = {**make.complete_answers(), "mini.policy.owner": number % 5}
        make.submitted(org, make.user(org), consent=True, answers=answers)
        orgs.append(org)
    for number in range(2):
        org = make.organisation(name=f"Private {number}")
        make.submitted(org, make.user(org), consent=False)
    old = make.organisation(name="Old method")
    make.submitted(old, make.user(old), consent=True, methodology="standard@test.1")
    # A second version of Peer 0's submission replaces the first in the benchmark.
    first = make.session.exec(select(Assessment).where(Assessment.organisation_id == orgs[0].id)).one()
    second = new_version(make.session, make.bank, first, None)
    submit(make.session, make.bank, make.content.current_methodology, second, None, benchmark_consent=True)
    return orgs


@pytest.fixture
def working_group(make, client):
    user = make.user(platform_role=PlatformRole.WORKING_GROUP)
    AuthActions(client).login(user.email)
    return user


def test_only_the_working_group_sees_the_dashboard(client, make, auth):
    org = make.organisation()
    auth.login(make.user(org).email)
    assert client.get("/benchmarks/").status_code == 403
    auth.logout()
    auth.login(make.user(platform_role=PlatformRole.REGULATOR, jurisdictions=["SG"]).email)
    assert client.get("/benchmarks/").status_code == 403


def test_empty_state(client, working_group):
    page = client.get("/benchmarks/").get_data(as_text=True)
    assert "No release yet" in page


def test_dashboard_shows_the_latest_release_of_consenting_submissions(client, working_group, peers):
    page = client.get("/benchmarks/").get_data(as_text=True)
    # Release 3, published with the fifteenth consenting company. The two that did not consent,
    # the one scored with another version and Peer 0's second version came after it: four
    # submissions, fewer than the threshold, so no new release.
    assert "<dt>Release</dt><dd>3</dd>" in page
    all_row = page.split('<th scope="row">All companies</th>')[1].split("</tr>")[0]
    assert "<td>15</td>" in all_row
    for name in ("Peer 0", "Private 0", "Old method"):
        assert name not in page
    startup = page.split('<th scope="row">Start-up (1-49 staff)</th>')[1].split("</tr>")[0]
    assert "<td>withheld</td>" in startup and "Not shown: not enough companies" in startup


def test_csv_export_matches_cli_and_never_reveals_small_groups(
    client, working_group, peers, database_url, monkeypatch, tmp_path
):
    exported = client.get("/benchmarks/2026.csv")
    assert exported.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("DD_INSTANCE_PATH", str(tmp_path / "cli"))
    monkeypatch.setattr("dd_toolkit.web.config.Config.DATABASE_URL", database_url)
    printed = CliRunner().invoke(cli, ["--content", str(FIXTURE_CONTENT), "benchmark", "--csv"])
    assert printed.exit_code == 0, printed.output
    assert printed.output == exported.get_data(as_text=True)
    assert_no_disclosure(rows, group_members(peers))


def group_members(orgs) -> dict[str, set[int]]:
    """What an attacker knows: every company's profile, so every group's membership."""
    members: dict[str, set[int]] = {"all": set()}
    for org in orgs:
        keys = ["all", f"size_band:{org.size_band}"]
        keys += [f"service_type:{s}" for s in org.service_types]
        keys += [f"country:{c}" for c in org.countries]
        for key in keys:
            members.setdefault(key, set()).add(org.id)
    return members


def assert_no_disclosure(rows, members):
    shown = {}
    for row in rows:
        assert row["metric"] not in ("min", "max"), row
        if row["status"] == "shown" and row["companies"]:
            assert int(row["companies"]) >= THRESHOLD, row
            shown.setdefault(row["group_id"], int(row["companies"]))
        if row["status"] != "shown":
            assert row["p25"] == row["median"] == row["p75"] == row["share"] == "", row
    # No two shown groups differ by fewer than THRESHOLD companies (differencing).
    for a, b in itertools.combinations(shown, 2):
        for difference in (members[a] - members[b], members[b] - members[a]):
            assert len(difference) == 0 or len(difference) >= THRESHOLD, (a, b, difference)


def test_box_plot_chart(client, working_group, peers):
    chart = client.get("/benchmarks/2026/overall.svg")
    assert chart.mimetype == "image/svg+xml"
    assert client.get("/benchmarks/2026/nothing.svg").status_code == 404
    assert client.get("/benchmarks/1999/overall.svg").status_code == 404


def test_company_sees_where_it_stands(client, make, auth, peers, session):
    org = peers[1]
    admin = session.exec(
        select(User).join(Membership, Membership.user_id == User.id).where(Membership.organisation_id == org.id)
    ).first()
    assessment = session.exec(select(Assessment).where(Assessment.organisation_id == org.id)).one()
    auth.login(admin.email)
    page = client.get(f"/assessments/{assessment.id}/peers").get_data(as_text=True)
    assert "All companies" in page and "15 companies" in page
    assert "Your position" in page
    assert any(
        band in page
        for band in (
            "below the 25th percentile",
            "between the 25th percentile and the median",
            "between the median and the 75th percentile",
            "above the 75th percentile",
        )
    )
    # Other companies' names never appear.
    assert "Peer 2" not in page


def test_a_companys_place_is_kept_per_release_and_a_new_release_shows_at_once(app, client, make, auth):
    def join(number: int):
        org = make.organisation(name=f"Member {number}", size_band="large")
        admin = make.user(org)
        return make.submitted(org, admin, consent=True), admin

    assessment, admin = join(0)
    for number in range(1, THRESHOLD):  # release 1: five companies
        join(number)
    auth.login(admin.email)
    url = f"/assessments/{assessment.id}/peers"
    with app.app_context():
        kept = fragments.store()
    first = client.get(url).get_data(as_text=True)
    renders = kept.renders
    assert client.get(url).get_data(as_text=True) == first and kept.renders == renders
    assert "5 companies" in first
    for number in range(THRESHOLD, 2 * THRESHOLD):  # release 2: five more
        join(number)
    again = client.get(url).get_data(as_text=True)
    assert "10 companies" in again and "5 companies" not in again


def test_company_position_needs_a_submission(client, make, auth):
    org = make.organisation()
    admin = make.user(org, role=OrgRole.ADMIN)
    draft = make.assessment(org, admin)
    auth.login(admin.email)
    page = client.get(f"/assessments/{draft.id}/peers").get_data(as_text=True)
    assert "available once the assessment is submitted" in page


def test_every_working_group_format_withholds_exactly_the_same_figures(
    client, make, working_group, peers, session, database_url, monkeypatch, tmp_path
):
    """The page, the CSV, the PDF, the API and the command line of one release: the same figures
    shown, the same withheld, each withheld one with its reason and no number anywhere."""
    import pypdf

    from dd_toolkit.web.api.tokens import create_token

    exported = client.get("/benchmarks/2026.csv").get_data(as_text=True)
    csv_rows = list(csv.DictReader(io.StringIO(exported)))
    withheld = {(r["group_id"], r["metric"]) for r in csv_rows if r["status"] == "withheld"}
    shown = {(r["group_id"], r["metric"]) for r in csv_rows if r["status"] == "shown"}
    assert withheld and shown
    for row in csv_rows:
        if row["status"] == "withheld":
            assert row["reason"] and not any(row[k] for k in ("companies", "p25", "median", "p75", "share")), row

    # The API, with a working-group token, gives the same rows.
    _row, token = create_token(session, session.get(User, working_group.id), "dashboard")
    session.commit()
    api = client.get("/api/v1/benchmark?cycle=2026", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert [{k: ("" if v is None else str(v)) for k, v in r.items()} for r in api["rows"]] == csv_rows

    # The command line prints the very same CSV.
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("DD_INSTANCE_PATH", str(tmp_path / "cli"))
    monkeypatch.setattr("dd_toolkit.web.config.Config.DATABASE_URL", database_url)
    printed = CliRunner().invoke(cli, ["--content", str(FIXTURE_CONTENT), "benchmark", "--cycle", "2026", "--csv"])
    assert printed.exit_code == 0, printed.output
    assert printed.output == exported

    # The page and the PDF: every withheld group says so, with its reason, and shows no size.
    page = client.get("/benchmarks/?cycle=2026").get_data(as_text=True)
    pdf = client.get("/benchmarks/2026.pdf")
    assert pdf.mimetype == "application/pdf"
    text = " ".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf.data)).pages)
    text = " ".join(text.split())
    labels = {r["group_id"]: r["group_label"] for r in csv_rows}
    for group_id, metric in withheld:
        if metric != "companies":
            continue
        reason = next(r["reason"] for r in csv_rows if (r["group_id"], r["metric"]) == (group_id, metric))
        row_html = page.split(f'<th scope="row">{labels[group_id]}</th>')[1].split("</tr>")[0]
        assert f"Not shown: {reason}" in row_html and not any(ch.isdigit() for ch in row_html.split("<td")[1])
        assert f"{labels[group_id]} Companies Withheld: {reason}" in text
    for group_id, metric in shown:
        if metric == "companies":
            n = next(r["companies"] for r in csv_rows if (r["group_id"], r["metric"]) == (group_id, metric))
            assert f"{labels[group_id]} Companies {n}" in text


def _kept_until_the_first_release(client, make, app, url):
    """``url`` before any release is rendered once and then found kept; the fifth consenting
    submission publishes release 1, which the page shows at once (one more rendering). Returns
    the store, its renders before the release, and the page of release 1."""
    with app.app_context():
        store = fragments.store()
    assert "No release yet" in client.get(url).get_data(as_text=True)
    renders = store.renders
    assert "No release yet" in client.get(url).get_data(as_text=True)
    assert store.renders == renders  # the same figures, not rendered again
    for number in range(5):
        org = make.organisation(name=f"Later {number}")
        make.submitted(org, make.user(org), consent=True)
    page = client.get(url).get_data(as_text=True)
    assert "<dt>Release</dt><dd>1</dd>" in page and "No release yet" not in page
    assert store.renders == renders + 1
    return store, renders, page


def test_the_dashboard_is_rendered_once_per_release_and_a_new_release_shows_at_once(client, working_group, make, app):
    store, renders, _ = _kept_until_the_first_release(client, make, app, "/benchmarks/")
    client.set_cookie("dd_language", "th")
    thai = client.get("/benchmarks/").get_data(as_text=True)
    # The dashboard in Thai, and the site header in Thai (kept too, web/layout.py).
    assert store.renders == renders + 3 and '<html lang="th"' in thai and "No release yet" not in thai


def test_the_indicator_rates_are_rendered_once_per_release_and_country_and_a_new_release_shows_at_once(
    client, working_group, make, app
):
    store, renders, opened = _kept_until_the_first_release(client, make, app, "/benchmarks/indicators")
    # The page opens on a country whose rates are shown (the factory's companies operate in MY).
    assert '<option value="MY" selected>' in opened and "Withheld for" not in opened
    assert client.get("/benchmarks/indicators").get_data(as_text=True) == opened
    assert store.renders == renders + 1
    other = client.get("/benchmarks/indicators?country=VN").get_data(as_text=True)
    assert store.renders == renders + 2 and '<option value="VN" selected>' in other and "Withheld for" in other
    assert client.get("/benchmarks/indicators?country=MY").get_data(as_text=True) != other

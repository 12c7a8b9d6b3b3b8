"""Whole main parts of pages kept per worker (issue 9, page speed): a submitted assessment's action
plan and transparency draft, the regulator's inbox tables and indicator figures. Each is the page
rendered afresh, a change shows on the next request, and nothing kept for one organisation,
regulator, jurisdiction or locale reaches another."""

import re

import pytest
from sqlmodel import select

from dd_toolkit.records.models import PlatformRole, Submission
from dd_toolkit.web import fragments

from .conftest import CSRF_RE, parameter_values, recorded_statements
from .test_fragments import fresh, without_tokens
from .test_submit_review_13 import submitted_twice


def gapped(make):
    return {**make.complete_answers(), "mini.ops.live": "none"}


@pytest.fixture
def store(app):
    with app.app_context():
        return fragments.store()


@pytest.fixture
def company(make, auth):
    org = make.organisation(name="Kept Harbour")
    admin = make.user(org)
    auth.login(admin.email)
    return org, admin


def first_item(page: str) -> str:
    return re.search(r'id="item-([^"]+)-owner"', page).group(1)


def save_item(forms, assessment_id: int, item_id: str, version: int, **fields):
    url = f"/assessments/{assessment_id}/action-plan"
    data = {f"item-{item_id}-{name}": value for name, value in fields.items()}
    data[f"item-{item_id}-base_version"] = str(version)
    return forms.post(f"{url}/items/{item_id}", data, page=url)


# -- the action plan ---------------------------------------------------------------------------


def test_a_status_saved_through_the_form_shows_at_once_on_the_kept_plan(client, company, make, forms, store):
    org, admin = company
    assessment = make.submitted(org, admin, answers=gapped(make), methodology="standard@test.1")
    url = f"/assessments/{assessment.id}/action-plan"
    page = client.get(url).get_data(as_text=True)
    item_id = first_item(page)
    renders = store.renders
    assert without_tokens(client.get(url).get_data(as_text=True)) == without_tokens(page)
    assert store.renders == renders  # the whole plan was found: nothing rendered
    assert "0 done" in page
    saved = save_item(forms, assessment.id, item_id, 0, owner="Ana", status="done")
    assert saved.status_code == 302
    after = client.get(url).get_data(as_text=True)
    hint = after.split(f'id="item-{item_id}-title"', 1)[1].split("</p>", 1)[0]
    assert 'class="status status-done"' in hint and "1 done" in after
    assert without_tokens(client.get(url).get_data(as_text=True)) == fresh(store, client, url)


def test_the_kept_plan_carries_this_requests_token_and_its_form_is_accepted(client, company, make, store):
    org, admin = company
    assessment = make.submitted(org, admin, answers=gapped(make), methodology="standard@test.1")
    url = f"/assessments/{assessment.id}/action-plan"
    client.get(url)
    page = client.get(url).get_data(as_text=True)  # from the kept part
    assert "dd:csrf" not in page
    token = re.search(r'name="item-[^"]+-csrf_token" value="([^"]+)"', page).group(1)
    item_id = first_item(page)
    posted = client.post(
        f"{url}/items/{item_id}",
        data={
            f"item-{item_id}-csrf_token": token,
            f"item-{item_id}-owner": "Safety Lead",
            f"item-{item_id}-status": "in_progress",
            f"item-{item_id}-base_version": "0",
        },
    )
    assert posted.status_code == 302
    assert 'value="Safety Lead"' in client.get(url).get_data(as_text=True)


def test_a_previous_cycles_tracking_change_shows_at_once_on_the_kept_plan(client, company, make, forms, store):
    org, admin = company
    previous = make.submitted(org, admin, cycle=2025, answers=gapped(make), methodology="standard@test.1")
    current = make.submitted(org, admin, cycle=2026, answers=gapped(make), methodology="standard@test.1")
    url = f"/assessments/{current.id}/action-plan"
    before = client.get(url).get_data(as_text=True)
    assert "Since the 2025 assessment" in before and "marked done last cycle" not in before
    item_id = first_item(client.get(f"/assessments/{previous.id}/action-plan").get_data(as_text=True))
    assert save_item(forms, previous.id, item_id, 0, status="done").status_code == 302
    after = client.get(url).get_data(as_text=True)
    assert "marked done last cycle, but the gap is still there" in after
    assert without_tokens(client.get(url).get_data(as_text=True)) == fresh(store, client, url)


def test_two_organisations_never_get_each_others_kept_plan(client, make, auth, forms, store):
    pages = {}
    for name, owner in (("First Kept", "Owner of the first"), ("Second Kept", None)):
        org = make.organisation(name=name)
        admin = make.user(org)
        auth.login(admin.email)
        assessment = make.submitted(org, admin, answers=gapped(make), methodology="standard@test.1")
        url = f"/assessments/{assessment.id}/action-plan"
        page = client.get(url).get_data(as_text=True)
        if owner:
            assert save_item(forms, assessment.id, first_item(page), 0, owner=owner, status="todo").status_code == 302
            page = client.get(url).get_data(as_text=True)
        pages[name] = (assessment.id, page)
        auth.logout()
    (first_id, first), (second_id, second) = pages["First Kept"], pages["Second Kept"]
    assert "Owner of the first" in first and "Owner of the first" not in second
    assert f"/assessments/{first_id}/" not in second and f"/assessments/{second_id}/" not in first


def test_a_thai_reader_does_not_get_the_english_kept_parts(client, company, make, store):
    org, admin = company
    assessment = make.submitted(org, admin, answers=gapped(make), methodology="standard@test.1")
    for page in ("action-plan", "transparency"):
        url = f"/assessments/{assessment.id}/{page}"
        english = client.get(url).get_data(as_text=True)
        assert '<option value="en" lang="en" selected>' in english
        client.set_cookie("dd_language", "th")
        thai = client.get(url).get_data(as_text=True)
        assert '<option value="th" lang="th" selected>' in thai
        assert '<option value="en" lang="en" selected>' not in thai
        assert without_tokens(thai) == fresh(store, client, url)
        client.set_cookie("dd_language", "en")
        assert '<option value="en" lang="en" selected>' in client.get(url).get_data(as_text=True)


# -- the transparency draft ----------------------------------------------------------------------


def test_the_kept_transparency_page_is_the_page_rendered_afresh(client, company, make, store):
    org, admin = company
    assessment = make.submitted(org, admin, answers=gapped(make), methodology="standard@test.1")
    url = f"/assessments/{assessment.id}/transparency"
    first = fresh(store, client, url)
    renders = store.renders
    assert renders > 0
    kept = client.get(url).get_data(as_text=True)
    assert without_tokens(kept) == first and store.renders == renders
    assert "dd:csrf" not in kept
    tokens = {m.group(1) or m.group(2) for m in CSRF_RE.finditer(kept)}
    assert len(tokens) == 1  # every form of the page carries this request's token


def test_a_saved_edit_a_regeneration_and_commitments_show_at_once_on_the_kept_draft(client, company, make, store):
    org, admin = company
    assessment = make.submitted(org, admin, answers=gapped(make), methodology="standard@test.1")
    url = f"/assessments/{assessment.id}/transparency"
    client.get(url)
    page = client.get(url).get_data(as_text=True)  # kept
    token = CSRF_RE.search(page)
    token = token.group(1) or token.group(2)
    edited = "# Our report\n\nWe answer every report. <script>alert(1)</script>"
    saved = client.post(url, data={"csrf_token": token, "markdown": edited, "base_version": "0", "save": "Save"})
    assert saved.status_code == 302
    after = client.get(url).get_data(as_text=True)
    assert "We answer every report." in after and "Edited by your team" in after
    assert "<script>alert" not in after  # escaped in the editor, sanitised in the preview
    assert without_tokens(client.get(url).get_data(as_text=True)) == fresh(store, client, url)
    regenerated = client.post(f"{url}/regenerate", data={"csrf_token": token})
    assert regenerated.status_code == 302
    after = client.get(url).get_data(as_text=True)
    assert "We answer every report." not in after and "Edited by your team" not in after
    assert "## Policies and Practices" in after
    item = re.search(r'name="public" value="([^"]+)" id="public-1"', after).group(1)
    assert re.search(r'name="public" value="[^"]+" id="public-1" checked', after) is None
    marked = client.post(f"{url}/commitments", data={"csrf_token": token, "public": [item]})
    assert marked.status_code == 302
    after = client.get(url).get_data(as_text=True)
    assert re.search(r'name="public" value="[^"]+" id="public-1" checked', after)
    assert without_tokens(client.get(url).get_data(as_text=True)) == fresh(store, client, url)


def test_two_organisations_never_get_each_others_kept_transparency_draft(client, make, auth, store):
    pages = {}
    for name in ("First Draft Co", "Second Draft Co"):
        org = make.organisation(name=name)
        admin = make.user(org)
        auth.login(admin.email)
        assessment = make.submitted(org, admin, answers=gapped(make), methodology="standard@test.1")
        url = f"/assessments/{assessment.id}/transparency"
        page = client.get(url).get_data(as_text=True)
        if name.startswith("First"):
            token = CSRF_RE.search(page)
            client.post(
                url,
                data={
                    "csrf_token": token.group(1) or token.group(2),
                    "markdown": "Only the first company's words.",
                    "base_version": "0",
                    "save": "Save",
                },
            )
            page = client.get(url).get_data(as_text=True)
        pages[name] = (assessment.id, page)
        auth.logout()
    (first_id, first), (second_id, second) = pages["First Draft Co"], pages["Second Draft Co"]
    assert "Only the first company" in first and "Only the first company" not in second
    assert f"/assessments/{first_id}/" not in second and f"/assessments/{second_id}/" not in first


# -- the regulator's inbox and indicator report -------------------------------------------------


def regulator(make, *jurisdictions):
    return make.user(platform_role=PlatformRole.REGULATOR, jurisdictions=list(jurisdictions))


def test_a_status_change_and_a_new_submission_show_at_once_in_the_kept_inbox(
    client, make, auth, forms, submitted_to, store
):
    first = submitted_to("SG", name="Inbox First")[-1]
    auth.login(regulator(make, "SG").email)
    page = client.get("/review/").get_data(as_text=True)
    assert "Inbox First" in page and "review-received" in page
    renders = store.renders
    assert without_tokens(client.get("/review/").get_data(as_text=True)) == without_tokens(page)
    assert store.renders == renders
    changed = forms.post(
        f"/review/{first['SG'].id}/status", {"to_status": "in_review"}, page=f"/review/{first['SG'].id}"
    )
    assert changed.status_code == 302
    page = client.get("/review/").get_data(as_text=True)
    assert "review-in_review" in page and "review-received" not in page
    submitted_to("SG", name="Inbox Second")
    page = client.get("/review/").get_data(as_text=True)
    assert "Inbox Second" in page and "Inbox First" in page
    assert without_tokens(client.get("/review/").get_data(as_text=True)) == fresh(store, client, "/review/")


def test_two_regulators_never_get_each_others_kept_inbox(client, make, auth, submitted_to, store):
    submitted_to("SG", name="Singapore Only Co")
    submitted_to("MY", name="Malaysia Only Co")
    auth.login(regulator(make, "SG").email)
    singapore = client.get("/review/").get_data(as_text=True)
    auth.logout()
    auth.login(regulator(make, "MY").email)
    malaysia = client.get("/review/").get_data(as_text=True)
    assert "Singapore Only Co" in singapore and "Malaysia Only Co" not in singapore
    assert "Malaysia Only Co" in malaysia and "Singapore Only Co" not in malaysia


def test_an_unknown_filter_value_is_shown_escaped_and_never_kept(client, make, auth, submitted_to, store):
    submitted_to("SG", name="Filtered Co")
    auth.login(regulator(make, "SG").email)
    client.get("/review/")
    renders = store.renders
    page = client.get('/review/?status="><script>x</script>').get_data(as_text=True)
    assert "<script>x" not in page
    assert store.renders == renders + 1  # the (empty) tables are rendered and kept; the filters are not
    assert client.get('/review/?status="><script>x</script>').status_code == 200
    assert store.renders == renders + 1


def test_a_new_submission_shows_at_once_in_the_kept_indicator_report(app, client, make, auth, submitted_to, store):
    submitted_to("SG", "MY", name="Counted First")
    auth.login(regulator(make, "SG", "MY").email)
    url = "/review/indicators?country=SG&cycle=2026"
    page = client.get(url).get_data(as_text=True)
    assert "1 submitting institution." in page
    renders = store.renders
    with recorded_statements(app.extensions["dd_engine"]) as statements:
        assert without_tokens(client.get(url).get_data(as_text=True)) == without_tokens(page)
    assert store.renders == renders
    # Kept whole, the page reads nothing but the account, with the shared revision.
    assert len(statements) == 1 and "FROM user_account" in statements[0][0]
    assert "shared_revision" in statements[0][0]
    submitted_to("SG", name="Counted Second")
    page = client.get(url).get_data(as_text=True)
    assert "2 submitting institutions." in page and "Counted Second" in page
    assert without_tokens(page) == fresh(store, client, url)
    # The other jurisdiction's report is its own: the second submission was not addressed to it.
    other = client.get("/review/indicators?country=MY&cycle=2026").get_data(as_text=True)
    assert "1 submitting institution." in other and "Counted Second" not in other


def test_the_inbox_counts_its_pages_without_a_count_on_the_last_one(make, session, submitted_to):
    from dd_toolkit.records.review import inbox_groups

    for number in range(5):
        submitted_to("SG", name=f"Paged {number}")
    pages = {page: inbox_groups(session, ["SG"], page=page, per_page=2) for page in (1, 2, 3, 4)}
    assert [len(p.groups) for p in pages.values()] == [2, 2, 1, 0]
    assert {p.total for p in pages.values()} == {5} and {p.pages for p in pages.values()} == {3}
    names = [g.organisation_name for page in (1, 2, 3) for g in pages[page].groups]
    assert sorted(names) == [f"Paged {n}" for n in range(5)]
    assert inbox_groups(session, ["MY"]).total == 0
    exact = inbox_groups(session, ["SG"], per_page=5)
    assert exact.total == 5 and exact.pages == 1


def test_a_thai_regulator_does_not_get_the_english_kept_inbox_or_report(client, make, auth, submitted_to, store):
    submitted_to("SG", name="Thai Read Co")
    auth.login(regulator(make, "SG").email)
    report = "/review/indicators?country=SG&cycle=2026"
    english = client.get(report).get_data(as_text=True), client.get("/review/").get_data(as_text=True)
    assert "1 submitting institution." in english[0] and "Current submissions" in english[1]
    client.set_cookie("dd_language", "th")
    thai = client.get(report).get_data(as_text=True), client.get("/review/").get_data(as_text=True)
    assert "สถาบันที่ยื่น 1 แห่ง" in thai[0] and "1 submitting institution." not in thai[0]
    assert "การยื่นปัจจุบัน" in thai[1] and "Current submissions" not in thai[1]
    assert without_tokens(thai[1]) == fresh(store, client, "/review/")
    client.set_cookie("dd_language", "en")
    assert "1 submitting institution." in client.get(report).get_data(as_text=True)


# -- the site header -------------------------------------------------------------------------------


def header_of(page: str) -> str:
    return re.search(r'<header class="site-header">.*?</header>', page, re.S).group(0)


def test_the_kept_header_is_the_header_rendered_afresh_and_marks_the_page_it_is_on(client, company, store):
    first = fresh(store, client, "/notifications/")
    renders = store.renders
    again = without_tokens(client.get("/notifications/").get_data(as_text=True))
    assert again == first and store.renders == renders  # found, not rendered
    assert 'href="/notifications/" aria-current="page"' in header_of(first)
    profile = header_of(client.get("/organisation/profile").get_data(as_text=True))
    assert 'href="/organisation/profile" aria-current="page"' in profile
    assert 'href="/notifications/" aria-current="page"' not in profile


def test_a_new_notification_and_a_new_name_show_at_once_in_the_kept_header(client, company, make, session):
    from dd_toolkit.records import notifications

    org, admin = company
    assert 'class="count"' not in header_of(client.get("/organisation/profile").get_data(as_text=True))
    notifications.notify(session, [admin.id], notifications.Kind.ACTION_DUE, {"title": "Policy", "due": "2027-01-31"})
    session.commit()
    header = header_of(client.get("/organisation/profile").get_data(as_text=True))
    assert '<span class="count">1<span class="visually-hidden"> unread</span></span>' in header
    admin.name = "Renamed <Admin>"
    session.add(admin)
    session.commit()
    header = header_of(client.get("/organisation/profile").get_data(as_text=True))
    assert ">Renamed &lt;Admin&gt;</a>" in header  # escaped, as every name


def test_readers_with_other_links_never_get_each_others_kept_header(client, make, auth):
    company_admin = make.user(make.organisation())
    regulator = make.user(platform_role=PlatformRole.REGULATOR, jurisdictions=["SG"])
    for user in (company_admin, regulator):  # the same name, so only the links tell them apart
        user.name = "Same Name"
        make.session.add(user)
    make.session.commit()
    headers = {}
    for user in (company_admin, regulator):
        auth.login(user.email)
        headers[user.id] = header_of(client.get("/question-bank/").get_data(as_text=True))
        auth.logout()
    assert 'href="/assessments/"' in headers[company_admin.id] and 'href="/review/"' not in headers[company_admin.id]
    assert 'href="/review/"' in headers[regulator.id] and 'href="/assessments/"' not in headers[regulator.id]
    signed_out = header_of(client.get("/auth/login").get_data(as_text=True))
    assert "<nav" not in signed_out and "Same Name" not in signed_out


def test_the_kept_header_carries_this_requests_token_and_page_to_come_back_to(client, company):
    page = client.get("/question-bank/?q=policy&kind=x%22y").get_data(as_text=True)
    header = header_of(page)
    assert '<input type="hidden" name="next" value="/question-bank/?q=policy&amp;kind=x%22y">' in header
    tokens = {a or b for a, b in CSRF_RE.findall(page)}
    assert len(tokens) == 1 and {a or b for a, b in CSRF_RE.findall(header)} == tokens  # this session's
    token = tokens.pop()
    response = client.post("/language", data={"csrf_token": token, "language": "th", "next": "/question-bank/"})
    assert response.status_code == 302 and response.headers["Location"] == "/question-bank/"
    assert 'lang="th"' in client.get("/question-bank/").get_data(as_text=True)[:200]


def test_the_inbox_groups_the_reviews_once_per_state_of_them(client, make, auth, submitted_to, monkeypatch):
    """Grouping every review addressed to a regulator grows with them (half a second at 10,000
    companies): it runs again only when a review changed or arrived."""
    from dd_toolkit.records import review

    regulator = make.user(platform_role=PlatformRole.REGULATOR, jurisdictions=["SG"])
    first = submitted_to("SG")
    grouped = []
    original = review._inbox_order
    monkeypatch.setattr(review, "_inbox_order", lambda *args: grouped.append(args) or original(*args))
    auth.login(regulator.email)
    client.get("/review/")
    client.get("/review/")
    assert len(grouped) == 1
    submitted_to("SG")  # a new review
    assert client.get("/review/").get_data(as_text=True).count('href="/review/') >= 2
    assert len(grouped) == 2
    client.get("/review/?status=in_review")  # another filter: grouped for it
    assert len(grouped) == 3
    review.transition(make.session, first[3]["SG"], "in_review", regulator)  # a review changed
    filtered = client.get("/review/?status=in_review").get_data(as_text=True)
    assert len(grouped) == 4 and f'href="/review/{first[3]["SG"].id}"' in filtered


def test_the_inbox_reads_what_it_lists_from_the_records_never_the_submission_rows(
    app, client, make, auth, submitted_to
):
    """On SQLite every column of a submission row after its snapshot lies beyond a hundred
    kilobytes of text: reading the time of 50 submissions from there was most of the inbox's
    database time at 10,000 companies. The records hold the same values at the start of theirs.
    Once read, the page is kept whole: the next visit reads only the account, with the shared
    revision that every change of a review raises."""
    regulator = make.user(platform_role=PlatformRole.REGULATOR, jurisdictions=["SG"])
    org, _admin, assessment, _recipients = submitted_to("SG", "MY", name="Selat Streams")
    auth.login(regulator.email)
    visits = []
    for _ in range(2):
        with recorded_statements(app.extensions["dd_engine"]) as statements:
            page = client.get("/review/").get_data(as_text=True)
        assert "Selat Streams" in page and f"{assessment.cycle}" in page
        visits.append(statements)
    first, second = visits
    assert first and not [s for s, _ in first if re.search(r"\bsubmission\b(?!_)", s)]
    # The reviews listed are read with their records in one query, and only those of the
    # regulator's jurisdictions: the others' came back too, each with a time to parse.
    (read,) = [(s, p) for s, p in first if "submission_record.submitted_at" in s]
    values = parameter_values(read[1])
    assert "FROM recipient JOIN submission_record" in read[0] and "SG" in values and "MY" not in values
    assert len(second) == 1 and "FROM user_account" in second[0][0] and "shared_revision" in second[0][0]


def test_a_verification_run_shows_at_once_in_the_kept_inbox(client, make, auth, submitted_to, session):
    from dd_toolkit.records import integrity
    from dd_toolkit.records.models import Submission

    regulator = make.user(platform_role=PlatformRole.REGULATOR, jurisdictions=["SG"])
    _org, _admin, assessment, _recipients = submitted_to("SG", name="Selat Streams")
    auth.login(regulator.email)
    assert "failed verification" not in client.get("/review/").get_data(as_text=True)
    assert "failed verification" not in client.get("/review/").get_data(as_text=True)  # kept
    submission = session.exec(select(Submission).where(Submission.assessment_id == assessment.id)).one()
    result = integrity.Result()
    result.add("submission", submission.id, "snapshot changed", submission_id=submission.id)
    integrity.store(session, result)  # what `dd-toolkit verify` keeps of a run that found it
    assert "failed verification" in client.get("/review/").get_data(as_text=True)
    integrity.store(session, integrity.Result())  # repaired: the next run finds nothing
    assert "failed verification" not in client.get("/review/").get_data(as_text=True)


# -- the regulator's review of a new version -------------------------------------------------------


def test_what_changed_since_the_previous_version_is_kept_and_read_without_decoding_either_version(
    app, client, make, auth, session, store
):
    newer = submitted_twice(make, session, "Changed Harbour")
    auth.login(make.user(platform_role=PlatformRole.REGULATOR, jurisdictions=["SG"]).email)
    url = f"/review/{newer.id}"
    first_page = fresh(store, client, url)
    changes = first_page.split('<h2 id="changes">')[1].split("</section>")[0]
    assert "Reports sent to a hotline" in changes and "150" in changes
    renders = store.renders
    with recorded_statements(app.extensions["dd_engine"]) as recorded:
        page = client.get(url).get_data(as_text=True)
    assert without_tokens(page) == first_page and store.renders == renders
    # Neither version's answers are read: the kept table needs neither.
    assert not [s for s, _ in recorded if re.search(r"\bsubmission_record\.answers\b", s)]


def test_the_kept_review_page_shows_a_status_a_comment_a_rename_and_a_failed_check_at_once(
    app, client, make, auth, forms, session, store, submitted_to
):
    _, _, _, recipients = submitted_to("SG", name="Kept Review Co")
    reviewer = make.user(platform_role=PlatformRole.REGULATOR, jurisdictions=["SG"])
    auth.login(reviewer.email)
    url = f"/review/{recipients['SG'].id}"
    first = fresh(store, client, url)
    renders = store.renders
    with recorded_statements(app.extensions["dd_engine"]) as recorded:
        page = client.get(url).get_data(as_text=True)
    assert without_tokens(page) == first and store.renders == renders  # nothing rendered
    assert "dd:csrf" not in page and len({m.group(1) or m.group(2) for m in CSRF_RE.finditer(page)}) == 1
    # A kept visit reads the review's state only: not the versions its timeline names.
    assert not [s for s, _ in recorded if "assessment.version" in s and "FROM submission JOIN assessment" in s]

    forms.post(f"{url}/status", {"to_status": "in_review", "text": ""}, page=url)
    page = client.get(url).get_data(as_text=True)
    assert '<span class="status review-in_review">' in page

    forms.post(f"{url}/comments", {"text": "Where is the policy published?", "question_id": ""}, page=url)
    page = client.get(url).get_data(as_text=True)
    timeline = page.split('<ol class="timeline">')[1].split("</ol>")[0]
    assert "Where is the policy published?" in timeline and reviewer.name in timeline

    reviewer.name = "Renamed Reviewer"
    session.add(reviewer)
    session.commit()
    timeline = client.get(url).get_data(as_text=True).split('<ol class="timeline">')[1].split("</ol>")[0]
    assert "Renamed Reviewer" in timeline

    submission = session.get(Submission, recipients["SG"].submission_id)
    submission.snapshot = submission.snapshot.replace('"yes"', '"no"', 1)
    session.add(submission)
    session.commit()
    page = client.get(url).get_data(as_text=True)
    assert "Integrity check failed" in page and "Integrity verified" not in page

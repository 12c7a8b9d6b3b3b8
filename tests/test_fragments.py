"""The large unchangeable parts of pages, rendered once per worker (dd_toolkit/web/fragments.py):
a page served from the kept parts is the page rendered afresh, a change shows at once, and
nothing kept for one organisation, regulator copy, locale or request leaks into another."""

import re

import pytest
from markupsafe import Markup
from sqlmodel import select

from dd_toolkit.records.assessments import submit
from dd_toolkit.records.models import PlatformRole, Recipient
from dd_toolkit.web import fragments

from .conftest import CSRF_RE

TOKEN_VALUES = re.compile(
    r'(name="[^"]*csrf_token"[^>]*value=")[^"]+"|(name="[^"]*csrf_token" type="hidden" value=")[^"]+"'
)


def without_tokens(html: str) -> str:
    # Each response carries the session's CSRF token (the same within a session, signed afresh)
    # and a nonce for its inline style; neither is part of what is kept.
    html = re.sub(r'nonce="[^"]+"', "", html)
    return TOKEN_VALUES.sub(lambda m: (m.group(1) or m.group(2)) + '"', html)


def gapped(make):
    return {**make.complete_answers(), "mini.ops.live": "none"}


@pytest.fixture
def company(make, auth):
    org = make.organisation(name="Selat Streams")
    admin = make.user(org)
    auth.login(admin.email)
    return org, admin


@pytest.fixture
def store(app):
    with app.app_context():
        return fragments.store()


def fresh(store, client, url: str) -> str:
    """The page rendered with nothing kept."""
    store.clear()
    client.application.extensions["dd_pages"].clear()
    return without_tokens(client.get(url).get_data(as_text=True))


@pytest.mark.parametrize("page", ["results", "action-plan"])
def test_a_frozen_page_from_the_kept_parts_is_the_page_rendered_afresh(client, company, make, store, page):
    org, admin = company
    assessment = make.submitted(org, admin, answers=gapped(make), methodology="standard@test.1")
    url = f"/assessments/{assessment.id}/{page}"
    first = fresh(store, client, url)
    renders = store.renders
    assert renders > 0
    kept = client.get(url)
    assert kept.status_code == 200
    assert without_tokens(kept.get_data(as_text=True)) == first
    assert store.renders == renders  # the second page rendered nothing of what is kept


def test_a_draft_results_page_is_never_kept(client, company, make, store):
    org, admin = company
    draft = make.assessment(org, admin, answers=gapped(make))
    url = f"/assessments/{draft.id}/results"
    before = client.get(url).get_data(as_text=True)
    assert "Preview of a draft" in before
    make.answer(draft, admin, {"mini.ops.live": "proactive"})
    after = client.get(url).get_data(as_text=True)
    assert without_tokens(after) != without_tokens(before)
    assert without_tokens(after) == fresh(store, client, url)


def test_a_tracking_save_shows_at_once_on_the_kept_plan(client, company, make, forms, store):
    org, admin = company
    assessment = make.submitted(org, admin, answers=gapped(make), methodology="standard@test.1")
    url = f"/assessments/{assessment.id}/action-plan"
    page = client.get(url).get_data(as_text=True)
    item_id = re.search(r'id="item-([^"]+)-owner"', page).group(1)
    for version, owner in enumerate(("Head of Trust and Safety", "Safety Engineering Lead")):
        saved = forms.post(
            f"/assessments/{assessment.id}/action-plan/items/{item_id}",
            {
                f"item-{item_id}-owner": owner,
                f"item-{item_id}-status": "in_progress",
                f"item-{item_id}-base_version": str(version),
            },
            page=url,
        )
        assert saved.status_code == 302
        after = client.get(url).get_data(as_text=True)  # with the "Saved" message
        assert f'value="{owner}"' in after and "changed by someone else" not in after
    assert without_tokens(client.get(url).get_data(as_text=True)) == fresh(store, client, url)


def test_a_refused_tracking_form_comes_back_as_typed_not_as_kept(client, company, make, forms, store):
    org, admin = company
    assessment = make.submitted(org, admin, answers=gapped(make), methodology="standard@test.1")
    url = f"/assessments/{assessment.id}/action-plan"
    page = client.get(url).get_data(as_text=True)
    item_id = re.search(r'id="item-([^"]+)-owner"', page).group(1)
    refused = forms.post(
        f"/assessments/{assessment.id}/action-plan/items/{item_id}",
        {
            f"item-{item_id}-owner": "Typed owner",
            f"item-{item_id}-status": "wont_do",
            f"item-{item_id}-base_version": "0",
        },
        page=url,
    )
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert 'value="Typed owner"' in html and f'id="item-{item_id}-reason-error"' in html
    again = client.get(url).get_data(as_text=True)
    assert "Typed owner" not in again and f'id="item-{item_id}-reason-error"' not in again


def test_two_companies_with_the_same_answers_never_share_a_kept_part(client, make, auth, store):
    pages = {}
    for name in ("First Harbour", "Second Harbour"):
        org = make.organisation(name=name)
        admin = make.user(org)
        auth.login(admin.email)
        assessment = make.submitted(org, admin, answers=gapped(make), methodology="standard@test.1")
        pages[name] = client.get(f"/assessments/{assessment.id}/action-plan").get_data(as_text=True)
        links = set(re.findall(r'href="/assessments/(\d+)/sections/', pages[name]))
        assert links == {str(assessment.id)}  # every link of the kept items points into its own assessment
        auth.logout()


def test_the_kept_review_page_carries_this_requests_token_and_its_comments_are_accepted(
    client, make, auth, forms, session, store
):
    org = make.organisation(name="Review Harbour")
    admin = make.user(org)
    assessment = make.assessment(org, admin, 2026, gapped(make))
    submission = submit(
        session, make.bank, make.content.methodology("standard@test.1"), assessment, admin, jurisdictions=["SG", "MY"]
    )
    copies = {
        r.jurisdiction: r for r in session.exec(select(Recipient).where(Recipient.submission_id == submission.id))
    }
    regulator = make.user(platform_role=PlatformRole.REGULATOR, jurisdictions=["SG", "MY"])
    auth.login(regulator.email)
    review = client.get(f"/review/{copies['SG'].id}").get_data(as_text=True)
    # The answers and their comment forms are on the sections' own pages.
    url = re.search(rf'href="(/review/{copies["SG"].id}/sections/[^"]+)"', review).group(1)
    first = fresh(store, client, url)
    renders = store.renders
    page = client.get(url).get_data(as_text=True)
    assert store.renders == renders and without_tokens(page) == first
    assert "dd:csrf" not in page
    tokens = {m.group(1) or m.group(2) for m in CSRF_RE.finditer(page)}
    assert len(tokens) == 1  # every comment form has the token of this request
    question_id = re.search(r'name="question_id" value="([^"]+)"', page).group(1)
    posted = client.post(
        f"/review/{copies['SG'].id}/comments",
        data={"csrf_token": tokens.pop(), "question_id": question_id, "text": "Why?"},
    )
    anchor = "q-" + question_id.replace(".", "-")
    assert posted.status_code == 302 and posted.location == f"{url}#{anchor}"
    # The comment shows on the section's page, at once, though the answers are kept.
    page = client.get(url).get_data(as_text=True)
    assert store.renders == renders
    assert "Why?" in page.split('id="section-comments"', 1)[1].split("</section>", 1)[0]
    # The other jurisdiction's copy is its own page: its forms post to its own address.
    other_review = client.get(f"/review/{copies['MY'].id}").get_data(as_text=True)
    other = client.get(re.search(r'href="(/review/\d+/sections/[^"]+)"', other_review).group(1)).get_data(as_text=True)
    assert f"/review/{copies['MY'].id}/comments" in other and f"/review/{copies['SG'].id}/comments" not in other
    assert "Why?" not in other


def test_the_store_is_bounded_in_bytes():
    store = fragments.FragmentStore(max_bytes=10)
    assert store.get_or_render("a", lambda: "12345") == "12345"
    assert store.get_or_render("b", lambda: "67890") == "67890"
    store.get_or_render("c", lambda: "abcde")  # "a" goes, least recently used
    assert store.renders == 3
    store.get_or_render("a", lambda: "12345")
    assert store.renders == 4
    store.get_or_render("big", lambda: "x" * 11)  # larger than the store: returned, not kept
    store.get_or_render("big", lambda: "x" * 11)
    assert store.renders == 6


def test_a_kept_part_counts_its_english_fallbacks_as_a_fresh_one_does(app):
    from dd_toolkit.engine.content import LocalText, content_language

    store = fragments.FragmentStore()
    untranslated = LocalText.model_validate("Name a contact point")
    with app.test_request_context(), content_language("th") as first:
        store.get_or_render("part", lambda: untranslated.get())
    with app.test_request_context(), content_language("th") as again:
        store.get_or_render("part", lambda: untranslated.get())
    assert first == again == {"Name a contact point"} and store.renders == 1


def test_a_submitted_section_is_kept_as_submitted_and_holds_no_form(client, company, make, store):
    org, admin = company
    assessment = make.submitted(org, admin, answers=gapped(make), methodology="standard@test.1")
    url = f"/assessments/{assessment.id}/sections/mini.ops"
    first = fresh(store, client, url)
    assert "How are live streams moderated?" in first and "Not moderated" in first
    assert "csrf_token" not in first.split('id="main"')[-1].split("</main>")[0]
    assert "<form" not in first.split("<h1>")[1].split("</main>")[0]
    renders = store.renders
    assert without_tokens(client.get(url).get_data(as_text=True)) == first
    assert store.renders == renders
    # The page shows the profile it was submitted with: a later profile edit (the question on
    # live streams no longer applies) changes drafts, not what was submitted.
    org = make.session.get(type(org), org.id)
    org.features = ["user_uploads"]
    make.session.add(org)
    make.session.commit()
    draft = client.get(f"/assessments/{make.assessment(org, admin).id}/sections/mini.ops").get_data(as_text=True)
    assert 'name="mini-ops-live-value"' not in draft and "Not asked of you (1)" in draft
    assert fresh(store, client, url) == first
    # Each language has its own (the page and its site header are rendered once more).
    renders = store.renders
    thai = client.get(url, headers={"Accept-Language": "th"}).get_data(as_text=True)
    assert 'lang="th"' in thai and store.renders == renders + 2


def test_a_kept_fragments_slots_get_the_requests_token_and_nothing_else_changes(app):
    from flask_wtf.csrf import generate_csrf

    kept = fragments.CSRF_SLOT.join(
        [Markup("<p>Tom &amp; Jerry &lt;3</p><form>"), Markup('</form><a href="?a=1&amp;b=2">x</a>'), Markup("")]
    )
    store = fragments.FragmentStore()
    with app.test_request_context("/"):
        token = generate_csrf()
        for _ in range(2):  # rendered, then found kept
            filled = store.get_or_render("with slots", lambda: kept, csrf=True)
            assert isinstance(filled, Markup)
            assert filled == kept.replace(fragments.CSRF_SLOT, token) and filled.count(token) == 2
            assert "dd:csrf" not in filled and re.fullmatch(r"[\w.-]+", token)
        assert store.get_or_render("with slots", lambda: "", csrf=False) == kept  # as rendered
        plain = Markup("<p>No form</p>")
        assert store.get_or_render("no slots", lambda: plain, csrf=True) == plain
        assert store.renders == 2


def test_the_kept_results_headline_shows_a_renamed_organisation_at_once(client, company, make, store, session):
    org, admin = company
    assessment = make.submitted(org, admin, answers=gapped(make), methodology="standard@test.1")
    url = f"/assessments/{assessment.id}/results"
    first = client.get(url).get_data(as_text=True)
    assert f"Results: Selat Streams, {assessment.cycle}" in first
    renders = store.renders
    assert without_tokens(client.get(url).get_data(as_text=True)) == without_tokens(first)
    assert store.renders == renders  # the headline and the detail were kept
    org.name = "Selat Media"
    session.add(org)
    session.commit()
    renamed = client.get(url).get_data(as_text=True)
    assert f"Results: Selat Media, {assessment.cycle}" in renamed and "Selat Streams" not in renamed
    assert store.renders == renders + 1  # the headline afresh; the detail does not name it

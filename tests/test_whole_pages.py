"""Company pages kept whole (issue 9, page speed): the home page and a submitted assessment's
results, action plan, transparency draft and peers are served again with the account's query
alone while the organisation's revision and the shared one are unchanged. Each is the page
rendered afresh with this request's CSRF token; any write shows at once, whoever made it and
however; nothing kept for one reader reaches another; a message is shown once."""

import pytest
import sqlalchemy as sa
from sqlmodel import select

from dd_toolkit.records.models import Membership, Organisation, OrgRole, PlatformRole, Release
from dd_toolkit.records.review import comment
from dd_toolkit.web import pages

from .conftest import CSRF_RE, recorded_statements
from .test_fragments import fresh, without_tokens

PAGES = ("", "results", "action-plan", "transparency", "peers")


@pytest.fixture
def kept(app):
    with app.app_context():
        return pages.store()


@pytest.fixture
def submitted(company, make):
    org, admin = company
    answers = {**make.complete_answers(), "mini.ops.live": "none"}
    return make.submitted(org, admin, answers=answers, methodology="standard@test.1")


def url_of(assessment, page: str) -> str:
    return f"/assessments/{assessment.id}/{page}" if page else "/"


@pytest.mark.parametrize("page", PAGES)
def test_a_kept_page_is_the_page_rendered_afresh_read_with_the_accounts_query_alone(app, client, submitted, kept, page):
    url = url_of(submitted, page)
    first = fresh(kept, client, url)
    renders = kept.renders
    with recorded_statements(app.extensions["dd_engine"]) as statements:
        again = client.get(url)
    assert again.status_code == 200
    assert without_tokens(again.get_data(as_text=True)) == first
    assert kept.renders == renders
    assert len(statements) == 1 and "FROM user_account" in statements[0][0]


def test_a_kept_page_carries_this_requests_token_and_its_form_is_accepted(client, submitted, kept):
    url = url_of(submitted, "transparency")
    client.get(url)
    page = client.get(url).get_data(as_text=True)  # from the store
    assert "ddcsrf" not in page
    tokens = {a or b for a, b in CSRF_RE.findall(page)}
    assert len(tokens) == 1
    saved = client.post(url, data={"csrf_token": tokens.pop(), "markdown": "# Kept", "base_version": "0", "save": "1"})
    assert saved.status_code == 302


def test_writes_by_anyone_in_any_way_show_at_once_on_a_kept_page(client, submitted, kept, make, session, submitted_to):
    url = url_of(submitted, "")
    client.get(url)

    # The ORM, in another session (another worker, the command line).
    organisation = session.get(Organisation, submitted.organisation_id)
    organisation.name = "Harbour Renamed"
    session.add(organisation)
    session.commit()
    assert "Harbour Renamed" in client.get(url).get_data(as_text=True)

    # A Core statement.
    session.exec(sa.update(Organisation).where(Organisation.id == organisation.id).values(name="Harbour Core"))
    session.commit()
    assert "Harbour Core" in client.get(url).get_data(as_text=True)

    # A regulator's request for clarification, on a row of another table that belongs to it.
    from dd_toolkit.records.assessments import submit
    from dd_toolkit.records.review import transition

    draft = make.assessment(organisation, None, 2027, make.complete_answers())
    submission = submit(
        session, make.bank, make.content.methodology("standard@test.1"), draft, None, jurisdictions=["SG"]
    )
    page = client.get(url).get_data(as_text=True)
    assert without_tokens(page) == fresh(kept, client, url)
    regulator = make.user(platform_role="regulator", jurisdictions=["SG"])
    from dd_toolkit.records.models import Recipient

    recipient = session.exec(select(Recipient).where(Recipient.submission_id == submission.id)).one()
    transition(session, recipient, "in_review", regulator)
    transition(session, recipient, "clarification_requested", regulator, "Which team owns the policy?")
    after = client.get(url).get_data(as_text=True)
    assert "Which team owns the policy?" in after
    assert without_tokens(after) == fresh(kept, client, url)


def test_new_shared_figures_render_the_page_again(client, submitted, kept, session):
    url = url_of(submitted, "peers")
    client.get(url)
    renders = kept.renders
    client.get(url)
    assert kept.renders == renders
    session.add(Release(number=90, methodology="standard@other.1"))
    session.commit()
    client.get(url)
    assert kept.renders == renders + 1


def test_a_reader_never_gets_a_page_kept_for_another(app, client, submitted, kept, make):
    from .conftest import AuthActions

    org = make.session.get(Organisation, submitted.organisation_id)
    readers = {}
    for name, user in (
        ("contributor", make.user(org, role=OrgRole.CONTRIBUTOR)),
        ("outsider", make.user(make.organisation(name="Elsewhere"))),
    ):
        readers[name] = app.test_client()
        AuthActions(readers[name]).login(user.email)  # signed in first: a sign-in raises the revision
    url = url_of(submitted, "action-plan")
    as_admin = client.get(url).get_data(as_text=True)
    renders = kept.renders
    assert readers["outsider"].get(url).status_code == 404
    as_contributor = readers["contributor"].get(url).get_data(as_text=True)
    assert kept.renders == renders + 1  # rendered for the contributor, not found
    assert without_tokens(as_contributor) != without_tokens(as_admin)  # the same plan, other rights
    assert without_tokens(as_contributor) == fresh(kept, readers["contributor"], url)


def test_a_member_removed_is_refused_the_page_kept_for_them(client, submitted, kept, session, company):
    _org, admin = company
    url = url_of(submitted, "results")
    assert client.get(url).status_code == 200
    assert client.get(url).status_code == 200  # from the store
    session.exec(sa.delete(Membership).where(Membership.user_id == admin.id))
    session.commit()
    assert client.get(url).status_code == 403  # no longer company staff: refused before the page


def test_a_page_showing_a_message_shows_it_once(client, submitted, forms):
    url = url_of(submitted, "transparency")
    saved = forms.post(url, {"markdown": "# Saved once", "base_version": "0", "save": "Save"})
    assert saved.status_code == 302
    assert "Draft saved." in client.get(url).get_data(as_text=True)
    again = client.get(url).get_data(as_text=True)
    assert "Draft saved." not in again and "# Saved once" in again


def test_a_page_whose_view_showed_a_message_is_not_kept(app, company, kept):
    from flask import flash, get_flashed_messages
    from flask_login import login_user
    from flask_wtf.csrf import generate_csrf, validate_csrf

    from dd_toolkit.web import authz, db

    _org, admin = company
    views = []

    def view():
        views.append(1)
        flash("Shown once.")
        return " ".join(get_flashed_messages()) + "|" + generate_csrf()

    for _ in range(2):
        with app.test_request_context("/"):
            login_user(authz.load_user(db.session(), admin.id))
            shown, token = pages.kept_page(view)().split("|")
            assert shown == "Shown once."
            validate_csrf(token)  # this request's own token, not the store's slot
    assert len(views) == 2 and kept.renders == 0


def test_a_day_later_the_page_is_rendered_again(client, submitted, kept, monkeypatch):
    import datetime as dt

    url = url_of(submitted, "")
    client.get(url)
    renders = kept.renders

    tomorrow = dt.date.fromordinal(dt.date.today().toordinal() + 1)

    class Tomorrow(dt.date):
        @classmethod
        def today(cls):
            return tomorrow

    monkeypatch.setattr(pages.dt, "date", Tomorrow)
    client.get(url)
    assert kept.renders == renders + 1


def test_nothing_is_kept_when_the_store_is_off(database_url, tmp_path, monkeypatch, make):
    from .conftest import AuthActions, make_app

    monkeypatch.setenv("DD_INSTANCE_PATH", str(tmp_path / "off"))
    app = make_app(database_url, tmp_path, PAGE_CACHE_BYTES=0)
    client = app.test_client()
    org = make.organisation()
    AuthActions(client).login(make.user(org).email)
    client.get("/")
    with recorded_statements(app.extensions["dd_engine"]) as statements:
        assert client.get("/").status_code == 200
    assert len(statements) > 1  # the page read what it shows again
    with app.app_context():
        assert not pages.store().enabled and pages.store().renders == 0
    app.extensions["dd_engine"].dispose()


# -- a regulator's review pages and indicator report ----------------------------------------------


def _regulator(make, *jurisdictions):
    return make.user(platform_role=PlatformRole.REGULATOR, jurisdictions=list(jurisdictions))


@pytest.mark.parametrize("page", ["", "/sections/mini.ops"])
def test_a_review_page_is_kept_under_the_reviewed_organisation_and_shows_every_step_at_once(
    app, client, make, auth, submitted_to, session, kept, page
):
    _org, _admin, _assessment, recipients = submitted_to("SG", name="Reviewed Harbour")
    submitted_to("SG", name="Someone Else")
    reader, colleague = _regulator(make, "SG"), _regulator(make, "SG")
    auth.login(reader.email)
    url = f"/review/{recipients['SG'].id}{page}"
    first = fresh(kept, client, url)
    renders = kept.renders
    with recorded_statements(app.extensions["dd_engine"]) as statements:
        assert without_tokens(client.get(url).get_data(as_text=True)) == first
    assert kept.renders == renders
    assert len(statements) == 2  # the account, then the revision of the organisation reviewed

    # Another company's writes leave it kept.
    other = session.exec(select(Organisation).where(Organisation.name == "Someone Else")).one()
    other.description = "Changed elsewhere."
    session.add(other)
    session.commit()
    client.get(url)
    assert kept.renders == renders

    # A colleague's step, and then the colleague's new name, show at once.
    comment(session, recipients["SG"], colleague, "Please add the hotline's name.", question_id="mini.ops.live")
    after = client.get(url).get_data(as_text=True)
    assert "Please add the hotline" in after and without_tokens(after) == fresh(kept, client, url)
    colleague.name = "Renamed Colleague"
    session.add(colleague)
    session.commit()
    assert "Renamed Colleague" in client.get(url).get_data(as_text=True)


def test_a_regulator_of_another_jurisdiction_never_gets_a_kept_review(client, make, auth, submitted_to, kept):
    _org, _admin, _assessment, recipients = submitted_to("SG")
    url = f"/review/{recipients['SG'].id}"
    auth.login(_regulator(make, "SG").email)
    assert client.get(url).status_code == 200
    auth.logout()
    auth.login(_regulator(make, "MY").email)
    assert client.get(url).status_code == 404
    assert client.get("/review/999999").status_code == 404


def test_the_kept_indicator_report_shows_a_new_cycle_at_once(client, make, auth, submitted_to, kept):
    submitted_to("SG", name="First Cycle")
    auth.login(_regulator(make, "SG").email)
    url = "/review/indicators?country=SG"
    assert '<option value="2027"' not in client.get(url).get_data(as_text=True)
    # Addressed to no regulator, it changes no stored report, but the cycle is new.
    submitted_to(name="Next Cycle", cycle=2027)
    page = client.get(url).get_data(as_text=True)
    assert '<option value="2027"' in page
    assert without_tokens(page) == fresh(kept, client, url)


# -- a section of answers, and the working group's pages -------------------------------------------


def test_an_answer_saved_in_another_session_shows_at_once_on_a_kept_section(client, company, make, session, kept):
    org, admin = company
    draft = make.assessment(org, admin, 2026, {"mini.policy.exists": "yes"})
    url = f"/assessments/{draft.id}/sections/mini.policy"
    first = fresh(kept, client, url)
    renders = kept.renders
    assert without_tokens(client.get(url).get_data(as_text=True)) == first and kept.renders == renders
    colleague = make.user(org)
    make.answer(draft, colleague, {"mini.policy.owner": 2})  # saved by a colleague, elsewhere
    page = client.get(url).get_data(as_text=True)
    assert '<input checked id="mini-policy-owner-value-2"' in page
    assert 'name="mini-policy-owner-base_version" type="hidden" value="1"' in page  # saves from the new version
    assert without_tokens(page) == fresh(kept, client, url)


@pytest.mark.parametrize("url", ["/benchmarks/", "/benchmarks/indicators"])
def test_the_working_groups_kept_pages_show_a_new_release_at_once(client, make, auth, session, kept, monkeypatch, url):
    from dd_toolkit.records import releases

    method = make.content.current_methodology
    monkeypatch.setattr(releases, "publish_if_due", lambda *args: None)  # published below, once the page is kept
    for _ in range(method.benchmark.disclosure_threshold):
        make.submitted(make.organisation(), consent=True)
    auth.login(make.user(platform_role=PlatformRole.WORKING_GROUP).email)
    first = fresh(kept, client, url)
    renders = kept.renders
    assert without_tokens(client.get(url).get_data(as_text=True)) == first and kept.renders == renders
    assert releases.publish(session, make.content.bank, method).number == 1
    page = client.get(url).get_data(as_text=True)
    assert kept.renders == renders + 1 and without_tokens(page) != first
    assert without_tokens(page) == fresh(kept, client, url)

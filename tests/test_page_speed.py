"""What keeps pages and documents fast without changing them (issue 9): a PDF rendered once
per unchanged document and at submission, a frozen submission decoded once per worker, the
signed-in user loaded with their memberships in one query, and the navigation decided once."""

import gc
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import select

from dd_toolkit.engine import documents
from dd_toolkit.records import releases
from dd_toolkit.records.generated import load_generated
from dd_toolkit.records.models import ActionTracking, Organisation, Recipient, Submission, User
from dd_toolkit.records.plans import inputs_for
from dd_toolkit.records.reader import read_assessment
from dd_toolkit.web import authz, create_app, db
from dd_toolkit.web.benchmarks.publishing import release_builds
from dd_toolkit.web.outputs.store import document_store, documents_to_render, render_documents
from tests.perf.benchmark_calls import HEADERS, pages

from .conftest import FIXTURE_CONTENT, make_app, recorded_statements

# The confirmed last step of submitting: to a regulator, with consent to the benchmark.
CONFIRMED = {"jurisdictions": ["SG"], "benchmark_consent": "y", "confirm": "Submit and freeze this version"}


@pytest.fixture
def company(make, auth):
    org = make.organisation(name="Selat Streams")
    admin = make.user(org)
    auth.login(admin.email)
    return org, admin


def gapped(make):
    return {**make.complete_answers(), "mini.ops.live": "none"}


def cache_files(app) -> list[Path]:
    return sorted((Path(app.instance_path) / "document-cache").glob("*.pdf"))


def test_an_unchanged_pdf_is_rendered_once_and_a_change_renders_it_again(app, client, company, make, session, renders):
    org, admin = company
    assessment = make.submitted(org, admin, answers=gapped(make), methodology="standard@test.1")
    url = f"/assessments/{assessment.id}/action-plan.pdf"
    first = client.get(url)
    assert first.status_code == 200 and first.data.startswith(b"%PDF") and len(renders) == 1
    again = client.get(url)
    assert again.data == first.data and len(renders) == 1  # kept, not rendered again
    assert len(cache_files(app)) == 1
    # The file's name is the SHA-256 of the HTML it was rendered from (with the renderer's version).
    assert cache_files(app)[0].stem == documents.pdf_key(renders[0])

    session.add(ActionTracking(assessment_id=assessment.id, item_id="mini.ops.live", owner="Ana", status="todo"))
    session.commit()
    changed = client.get(url)
    assert len(renders) == 2 and changed.data != first.data and "Ana" in renders[1]
    assert client.get(f"/assessments/{assessment.id}/transparency.pdf").status_code == 200
    assert len(renders) == 3 and len(cache_files(app)) == 3


def test_the_store_is_bounded_and_refuses_odd_keys(tmp_path):
    store = documents.FolderStore(tmp_path / "cache", max_bytes=25)
    keys = [documents.pdf_key(f"<p>{n}</p>") for n in range(4)]
    for n, key in enumerate(keys[:2]):
        store.put(key, f"pdf {n} ".ljust(10).encode())
        os.utime(store._path(key), (1_000_000 + n, 1_000_000 + n))  # written in this order
    assert store.get(keys[0]) == b"pdf 0".ljust(10)  # read now: the most recently used
    store.put(keys[2], b"pdf 2".ljust(10))
    # 30 bytes with the third: the one read longest ago goes, not the one written first.
    assert store.get(keys[1]) is None
    assert store.get(keys[0]) and store.get(keys[2])
    assert not list((tmp_path / "cache").glob(".*.part"))  # no temporary file left behind
    # A PDF larger than the whole store is still kept, alone.
    store.put(keys[3], b"x" * 40)
    assert store.get(keys[3]) == b"x" * 40 and sorted(tmp_path.glob("cache/*.pdf")) == [store._path(keys[3])]
    with pytest.raises(ValueError):
        store.get("../../etc/passwd")


def test_the_store_removes_what_a_stopped_writer_left_and_nothing_being_written(tmp_path):
    store = documents.FolderStore(tmp_path)
    abandoned, being_written = tmp_path / ".abc.part", tmp_path / ".def.part"
    abandoned.write_bytes(b"half a pdf")
    being_written.write_bytes(b"half a pdf")
    an_hour_ago = time.time() - store.ABANDONED_AFTER_SECONDS - 1
    os.utime(abandoned, (an_hour_ago, an_hour_ago))
    store.put(documents.pdf_key("<p>1</p>"), b"pdf")
    assert not abandoned.exists() and being_written.exists()


def test_the_store_takes_its_size_from_the_configuration(app):
    app.config["DOCUMENT_CACHE_BYTES"] = 5 * 1024 * 1024
    with app.app_context():
        assert document_store().max_bytes == 5 * 1024 * 1024
        app.config["DOCUMENT_CACHE"] = False
        assert document_store() is None


def test_submitting_renders_the_documents_once_the_response_is_sent(database_url, tmp_path, monkeypatch, make, renders):
    monkeypatch.setenv("DD_INSTANCE_PATH", str(tmp_path / "prerender"))
    app = make_app(database_url, tmp_path, PRERENDER_DOCUMENTS=True)
    try:
        client = app.test_client()
        org = make.organisation(name="Selat Streams")
        admin = make.user(org)
        from .conftest import AuthActions, Forms

        AuthActions(client).login(admin.email)
        assessment = make.assessment(org, admin, answers=gapped(make))
        response = Forms(client).post(f"/assessments/{assessment.id}/submit", CONFIRMED)
        assert response.status_code == 302 and renders == []
        response.close()  # as a WSGI server does once the response is sent
        documents_to_render.join()
        assert len(renders) == 2 and len(cache_files(app)) == 2  # action plan and transparency section
        client.get(f"/assessments/{assessment.id}/action-plan.pdf")
        client.get(f"/assessments/{assessment.id}/transparency.pdf")
        assert len(renders) == 2  # both downloads came from the store
        render_documents(app, assessment.id)
        assert len(renders) == 2
    finally:
        app.extensions["dd_engine"].dispose()


def test_a_release_a_submission_makes_due_is_published_once_its_response_is_sent(
    database_url, tmp_path, monkeypatch, make, session
):
    from sqlmodel import select as select_

    from dd_toolkit.records.models import Release

    from .conftest import AuthActions, Forms

    monkeypatch.setenv("DD_INSTANCE_PATH", str(tmp_path / "publishing"))
    app = make_app(database_url, tmp_path, PUBLISH_AFTER_RESPONSE=True)
    try:
        method = make.content.current_methodology
        for _ in range(method.benchmark.disclosure_threshold - 1):
            make.submitted(make.organisation(), consent=True)
        assert session.exec(select_(Release)).all() == []
        client = app.test_client()
        org = make.organisation(name="Selat Streams")
        admin = make.user(org)
        AuthActions(client).login(admin.email)
        assessment = make.assessment(org, admin, answers=gapped(make))
        response = Forms(client).post(f"/assessments/{assessment.id}/submit", CONFIRMED)  # with consent
        assert response.status_code == 302
        assert session.exec(select_(Release)).all() == []  # the submitter did not wait for it
        # Built by a process of its own: nothing publishes in this one.
        monkeypatch.setattr(releases, "publish", lambda *args, **kwargs: pytest.fail("published in the worker"))
        response.close()  # as a WSGI server does once the response is sent
        release_builds.join()
        assert [r.number for r in session.exec(select_(Release)).all()] == [1]
        # Asked again with no new consenting submission: nothing is due, and no process starts.
        monkeypatch.setattr(subprocess, "Popen", lambda *args, **kwargs: pytest.fail("a build was started"))
        release_builds.start_if_due(app)
    finally:
        app.extensions["dd_engine"].dispose()


def test_tests_do_not_prerender_unless_asked(app, client, company, make, forms, renders):
    org, admin = company
    assessment = make.assessment(org, admin, answers=gapped(make))
    response = forms.post(f"/assessments/{assessment.id}/submit", CONFIRMED)
    assert response.status_code == 302
    response.close()
    assert renders == [] and cache_files(app) == []


def test_a_frozen_submission_is_decoded_once_per_worker(app, make, session):
    org = make.organisation()
    admin = make.user(org)
    content = app.extensions["dd_content"]
    frozen = make.submitted(org, admin, answers=gapped(make), methodology="standard@test.1")
    draft = make.assessment(org, admin, cycle=2027, answers=gapped(make))

    first, second = read_assessment(session, content, frozen), read_assessment(session, content, frozen)
    assert first.frozen and first.card is second.card and first.answers is second.answers
    assert first.record is not None and first.submission is not None
    assert first.record.answers.keys() == first.answers.keys()  # the deferred JSON still loads on use
    live = read_assessment(session, content, draft), read_assessment(session, content, draft)
    assert not live[0].frozen and live[0].card is not live[1].card

    # The documents' derived pieces follow: the same plan, and a new draft when tracking changes.
    inputs = inputs_for(session, content, frozen)
    plan = documents.action_plan(inputs)
    assert documents.action_plan(inputs_for(session, content, frozen)) is plan
    draft_text = documents.transparency_markdown(inputs)
    assert documents.transparency_markdown(inputs_for(session, content, frozen)) is draft_text
    session.add(ActionTracking(assessment_id=frozen.id, item_id="mini.ops.live", owner="Ana", status="done"))
    session.commit()
    tracked = inputs_for(session, content, frozen)
    assert documents.transparency_draft(tracked) is not documents.transparency_draft(inputs)
    assert documents.action_plan(tracked) is plan  # the plan does not depend on tracking


def test_another_content_does_not_reuse_the_decoded_submission(app, database_url, tmp_path, make, session):
    org = make.organisation()
    admin = make.user(org)
    frozen = make.submitted(org, admin, answers=gapped(make), methodology="standard@test.1")
    view = read_assessment(session, app.extensions["dd_content"], frozen)
    # Another content folder (the same files loaded in one process are one content, and share).
    shutil.copytree(FIXTURE_CONTENT, tmp_path / "other-content")
    other_app = make_app(database_url, tmp_path, content=tmp_path / "other-content")
    assert other_app.extensions["dd_content"] is not app.extensions["dd_content"]
    try:
        other = read_assessment(session, other_app.extensions["dd_content"], frozen)
        assert other.card is not view.card and other.card.overall == view.card.overall
    finally:
        other_app.extensions["dd_engine"].dispose()


def test_the_user_memberships_and_organisations_load_in_one_query(app, make):
    org = make.organisation()
    admin = make.user(org)
    with recorded_statements(app.extensions["dd_engine"]) as recorded, app.app_context():
        user = authz.load_user(db.session(), admin.id)
        assert [m.organisation_id for m in authz.memberships(user)] == [org.id]
        assert authz.can(user, authz.Action.COMPANY)
        gc.collect()  # what only the session's (weak) identity map held is gone
        # A company page's look-up of its organisation is answered from the session.
        assert db.session().get(Organisation, org.id).name == org.name
        assert authz.load_user(db.session(), 10_000) is None
    statements = [statement for statement, _ in recorded]
    assert len([s for s in statements if "user_account" in s]) == 2 and len(statements) == 2


def test_the_navigation_is_decided_once_per_request(app, client, company, monkeypatch):
    calls = []
    real_can = authz.can
    monkeypatch.setattr(authz, "can", lambda *args, **kwargs: calls.append(args[1]) or real_can(*args, **kwargs))
    page = client.get("/").get_data(as_text=True)
    assert 'href="/assessments/"' in page and "/review/" not in page and "/benchmarks/" not in page
    asked = [action for action in calls if action in authz.NAV_ACTIONS]
    assert sorted(asked, key=str) == sorted(authz.NAV_ACTIONS, key=str)  # each once


def test_a_user_without_memberships_sees_only_their_links(app, client, make, auth, session):
    regulator = make.user(None, platform_role="regulator", jurisdictions=["SG"])
    auth.login(regulator.email)
    page = client.get("/").get_data(as_text=True)
    assert 'href="/review/"' in page and 'href="/assessments/"' not in page
    assert session.exec(select(User).where(User.id == regulator.id)).one()


def test_templates_are_compiled_once_outside_debug(tmp_path, monkeypatch, database_url):
    monkeypatch.setenv("DD_INSTANCE_PATH", str(tmp_path / "production"))
    production = create_app({"SECRET_KEY": "x", "DATABASE_URL": database_url})
    try:
        assert production.jinja_env.auto_reload is False
        assert production.jinja_env.cache is not None
    finally:
        gc.unfreeze()
        production.extensions["dd_engine"].dispose()


def test_a_served_app_moves_what_it_holds_from_its_start_out_of_full_collections(tmp_path, monkeypatch, database_url):
    monkeypatch.setenv("DD_INSTANCE_PATH", str(tmp_path / "production"))
    assert gc.get_freeze_count() == 0
    try:
        production = create_app({"SECRET_KEY": "x", "DATABASE_URL": database_url})
        production.extensions["dd_engine"].dispose()
        assert gc.get_freeze_count() > 0
        gc.unfreeze()
        # Neither a test's app nor a command's holds anything back from the collector.
        make_app(database_url, tmp_path).extensions["dd_engine"].dispose()
        command = create_app({"SECRET_KEY": "x", "DATABASE_URL": database_url, "FREEZE_STARTUP_OBJECTS": False})
        command.extensions["dd_engine"].dispose()
        assert gc.get_freeze_count() == 0
    finally:
        gc.unfreeze()


def test_a_templates_globals_are_the_environments_in_one_dict(app):
    """Copied into every rendering's context: a plain dict is copied at once, a ChainMap key by
    key (web/__init__.py, TemplateEnvironment). Every global the app sets is in it."""
    template = app.jinja_env.get_template("base.html")
    assert type(template.globals) is dict
    assert {"site_header", "_", "ngettext", "url_for", "current_language", "bank"} <= template.globals.keys()
    assert template.globals.keys() == app.jinja_env.globals.keys()
    with app.test_request_context("/"):
        assert app.jinja_env.from_string("{{ _('Skip to main content') }}").render() == "Skip to main content"


def _forget_what_workers_keep(app) -> None:
    """Empty what a worker keeps between requests (rendered pages and parts, decoded submissions,
    parsed releases, inbox pages), so that the next request does all of a page's work."""
    from dd_toolkit.records import reader, releases, review

    app.extensions["dd_pages"].clear()
    app.extensions["dd_fragments"].clear()
    review._inbox_pages.clear()
    reader._frozen.clear()
    releases._PARSED.clear()


def test_no_pages_queries_grow_with_the_number_of_companies(real_app, demo):
    """Every page of the page benchmark makes as many queries with 30 more companies (60 more
    submissions, addressed to the regulators and in the benchmark) as with the demo alone: on a
    worker's first visit, which renders what it keeps, and on the next, which reads it."""
    engine = real_app.extensions["dd_engine"]
    measured = pages(real_app)

    def statements() -> dict[tuple[str, str], int]:
        counts = {}
        for label, client, path in measured:
            for visit in ("first", "next"):
                if visit == "first":
                    _forget_what_workers_keep(real_app)
                with recorded_statements(engine) as recorded:
                    assert client.get(path, headers=HEADERS).status_code == 200, path
                counts[label, visit] = len(recorded)
        return counts

    def addressed() -> tuple[int, int]:
        """Submissions addressed to the demo regulator's jurisdictions, and those in the benchmark."""
        to_regulator = demo.exec(
            select(sa.func.count()).select_from(Recipient).where(Recipient.jurisdiction.in_(["SG", "MY"]))
        ).one()
        consenting = demo.exec(
            select(sa.func.count()).select_from(Submission).where(Submission.benchmark_consent == sa.true())
        ).one()
        return to_regulator, consenting

    before, addressed_before = statements(), addressed()
    load_generated(demo, real_app.extensions["dd_content"], 30, seed=11)
    after, addressed_after = statements(), addressed()
    assert after == before
    assert len(before) == 26 and all(count >= 1 for count in before.values())
    assert addressed_after[0] >= addressed_before[0] + 10 and addressed_after[1] >= addressed_before[1] + 30

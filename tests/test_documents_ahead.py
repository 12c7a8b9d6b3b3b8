"""A change to what an assessment's documents show has them rendered again right after its
response, in the worker's background thread, so the next download comes from the store; and a
download asked for during that rendering waits for it instead of rendering a second time."""

import io
import os
import re
import signal
import sys
import threading

import pypdf
import pytest

from dd_toolkit.engine import documents, render
from dd_toolkit.engine.pdf_process import NICENESS, PdfProcess, PdfRenderingError, pdf_process
from dd_toolkit.records.models import ActionTracking
from dd_toolkit.web.outputs.store import DocumentQueue, documents_to_render

from .conftest import AuthActions, Forms, make_app
from .test_page_speed import cache_files, gapped


@pytest.fixture
def ahead(database_url, tmp_path, monkeypatch):
    """The app with documents rendered ahead (off by default under TESTING)."""
    monkeypatch.setenv("DD_INSTANCE_PATH", str(tmp_path / "ahead"))
    application = make_app(database_url, tmp_path, PRERENDER_DOCUMENTS=True)
    yield application
    documents_to_render.join()
    application.extensions["dd_engine"].dispose()


def _signed_in(app, make, locale: str = "en"):
    client = app.test_client()
    org = make.organisation(name="Selat Streams")
    admin = make.user(org)
    admin.locale = locale
    make.session.add(admin)
    make.session.commit()
    AuthActions(client).login(admin.email)
    return client, make.submitted(org, admin, answers=gapped(make), methodology="standard@test.1")


def _sent(response):
    """What a WSGI server does once the response has gone out, then the background rendering."""
    response.close()
    documents_to_render.join()
    return response


def test_a_tracking_save_renders_the_new_plan_before_anyone_downloads_it(ahead, make, renders):
    client, assessment = _signed_in(ahead, make)
    first = client.get(f"/assessments/{assessment.id}/action-plan.pdf")
    assert first.status_code == 200 and len(renders) == 1

    page = client.get(f"/assessments/{assessment.id}/action-plan").get_data(as_text=True)
    item_id = re.search(r'id="item-([^"]+)-owner"', page).group(1)
    saved = Forms(client).post(
        f"/assessments/{assessment.id}/action-plan/items/{item_id}",
        {f"item-{item_id}-owner": "Dewi Lestari", f"item-{item_id}-status": "in_progress"},
        page=f"/assessments/{assessment.id}/action-plan",
    )
    assert saved.status_code == 302 and len(renders) == 1  # nothing rendered before the response went out
    _sent(saved)
    plans = [html for html in renders if "Dewi Lestari" in html]
    assert len(plans) == 1  # the plan with the new owner, rendered once in the background

    downloaded = client.get(f"/assessments/{assessment.id}/action-plan.pdf")
    assert downloaded.status_code == 200
    assert downloaded.data == documents.FolderStore(cache_files(ahead)[0].parent).get(documents.pdf_key(plans[0]))
    rendered = len(renders)
    client.get(f"/assessments/{assessment.id}/transparency.pdf")
    assert len(renders) == rendered  # the transparency section was rendered ahead too


def test_a_saved_transparency_text_is_rendered_before_its_download(ahead, make, renders):
    client, assessment = _signed_in(ahead, make)
    url = f"/assessments/{assessment.id}/transparency"
    saved = Forms(client).post(url, {"markdown": "## Our commitments\n\nWe publish this every year.", "save": "Save"})
    assert saved.status_code == 302
    _sent(saved)
    assert sum("We publish this every year." in html for html in renders) == 1
    rendered = len(renders)
    downloaded = client.get(f"{url}.pdf")
    assert downloaded.status_code == 200 and len(renders) == rendered


def test_a_refused_save_renders_nothing(ahead, make, renders):
    client, assessment = _signed_in(ahead, make)
    url = f"/assessments/{assessment.id}/transparency"
    refused = Forms(client).post(url, {"markdown": "x" * 30_001, "save": "Save"})
    assert refused.status_code == 422
    _sent(refused)
    assert renders == []


def test_the_reader_language_is_the_one_rendered_ahead(ahead, make, renders):
    client, assessment = _signed_in(ahead, make, locale="id")
    url = f"/assessments/{assessment.id}/transparency"
    _sent(Forms(client).post(url, {"markdown": "Komitmen kami.", "save": "Save"}))
    assert any('<html lang="id">' in html and "Komitmen kami." in html for html in renders)
    rendered = len(renders)
    assert client.get(f"{url}.pdf?lang=id").status_code == 200 and len(renders) == rendered


def test_without_rendering_ahead_the_first_download_renders(app, client, company, make, forms, renders):
    org, admin = company
    assessment = make.submitted(org, admin, answers=gapped(make), methodology="standard@test.1")
    url = f"/assessments/{assessment.id}/transparency"
    _sent(forms.post(url, {"markdown": "Not rendered ahead.", "save": "Save"}))
    assert renders == []  # TESTING leaves it off unless asked
    client.get(f"{url}.pdf")
    assert len(renders) == 1


def test_a_download_during_a_rendering_waits_for_it_and_renders_nothing(tmp_path, monkeypatch):
    store = documents.FolderStore(tmp_path / "cache")
    html = "<html lang=en><title>t</title><p>plan</p>"
    started, finish = threading.Event(), threading.Event()
    calls: list[str] = []

    def slow_pdf(html: str) -> bytes:
        calls.append(threading.current_thread().name)
        started.set()
        assert finish.wait(10)
        return b"%PDF-1.7 rendered once"

    monkeypatch.setattr(documents, "pdf_from_html", slow_pdf)
    ahead = threading.Thread(target=documents.stored_pdf, args=(html, store), name="ahead")
    ahead.start()
    assert started.wait(10)
    got: list[bytes] = []
    download = threading.Thread(target=lambda: got.append(documents.stored_pdf(html, store)), name="download")
    download.start()
    download.join(0.2)
    assert download.is_alive()  # waiting on the store's lock, not rendering
    finish.set()
    ahead.join(10)
    download.join(10)
    assert got == [b"%PDF-1.7 rendered once"] and calls == ["ahead"]


def test_the_store_lock_is_held_across_processes_while_rendering(tmp_path):
    import fcntl

    store = documents.FolderStore(tmp_path / "cache")
    key = "ab" + "0" * 62
    with store.rendering(key):
        with open(tmp_path / "cache" / ".locks" / "ab", "a") as other:  # as another worker opens it
            with pytest.raises(BlockingIOError):
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
    with open(tmp_path / "cache" / ".locks" / "ab", "a") as other:
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free again
    with pytest.raises(ValueError):
        with store.rendering("../../etc/passwd"):
            pass


def test_an_assessment_waiting_its_turn_is_queued_once():
    busy, done = threading.Event(), []

    def work(app, assessment_id, language):  # what the queue is given after the app and the id
        if assessment_id == 0:
            assert busy.wait(10)
        done.append((assessment_id, language))

    queue = DocumentQueue(work)
    app = object()
    queue.put(app, 0, "en")  # keeps the thread busy while the rest is queued
    for _ in range(3):
        queue.put(app, 7, "en")
    queue.put(app, 7, "th")
    busy.set()
    queue.join()
    assert done == [(0, "en"), (7, "en"), (7, "th")]
    queue.put(app, 7, "en")  # queued again once its rendering has started
    queue.join()
    assert done[-1] == (7, "en") and len(done) == 4


def test_reading_the_plan_gets_its_pdf_ready_after_a_change_made_elsewhere(ahead, make, renders, monkeypatch):
    queued = []
    put = documents_to_render.put
    monkeypatch.setattr(documents_to_render, "put", lambda *job: queued.append(job[1:]) or put(*job))
    client, assessment = _signed_in(ahead, make)
    plan = f"/assessments/{assessment.id}/action-plan"
    _sent(client.get(plan))
    assert queued == [(assessment.id, "en", False)] and len(renders) == 2  # the plan and the transparency section
    _sent(client.get(plan))  # served as kept: nothing changed, nothing queued
    assert len(queued) == 1 and len(renders) == 2

    # A change that no route of the documents made (here straight in the database).
    make.session.add(ActionTracking(assessment_id=assessment.id, item_id="mini.ops.live", owner="Ana Reyes"))
    make.session.commit()
    _sent(client.get(plan))
    assert any("Ana Reyes" in html for html in renders)
    rendered = len(renders)
    assert client.get(f"{plan}.pdf").status_code == 200 and len(renders) == rendered


def test_reading_a_draft_plan_renders_nothing_ahead(ahead, make, renders):
    client = ahead.test_client()
    org = make.organisation(name="Draft Harbour")
    admin = make.user(org)
    AuthActions(client).login(admin.email)
    draft = make.assessment(org, admin, answers=gapped(make))
    page = client.get(f"/assessments/{draft.id}/action-plan")
    assert page.status_code == 200
    _sent(page)
    assert renders == []


@pytest.fixture
def apart(database_url, tmp_path, monkeypatch):
    """The app rendering its PDFs in a child process, as it does outside TESTING."""
    monkeypatch.setenv("DD_INSTANCE_PATH", str(tmp_path / "apart"))
    application = make_app(database_url, tmp_path, PRERENDER_DOCUMENTS=True, PDF_PROCESS=True)
    yield application
    documents_to_render.join()
    pdf_process.stop()
    application.extensions["dd_engine"].dispose()


def test_the_pdfs_are_rendered_in_a_child_process_not_in_the_worker(apart, make, monkeypatch):
    def not_here(html):
        raise AssertionError("a PDF was rendered in the worker's own process")

    monkeypatch.setattr(documents, "pdf_from_html", not_here)
    monkeypatch.setattr(render, "pdf_from_html", not_here)
    client, assessment = _signed_in(apart, make)
    _sent(client.get(f"/assessments/{assessment.id}/action-plan"))  # renders its documents ahead
    assert len(cache_files(apart)) == 2  # action plan and transparency section
    downloaded = client.get(f"/assessments/{assessment.id}/action-plan.pdf")
    assert downloaded.status_code == 200 and downloaded.data in {path.read_bytes() for path in cache_files(apart)}
    pdf = pypdf.PdfReader(io.BytesIO(downloaded.data))
    assert "Action plan" in pdf.metadata.title and len(pdf.pages) >= 2
    # The child gives way to the requests: it runs at a lower priority than the worker.
    child = pdf_process.process_id()
    assert child != os.getpid()
    expected = min(os.getpriority(os.PRIO_PROCESS, 0) + NICENESS, 19)
    assert os.getpriority(os.PRIO_PROCESS, child) == expected


def test_a_rendering_process_that_died_is_replaced_and_its_errors_reach_the_caller():
    process = PdfProcess()
    html = '<!doctype html><html lang="en"><head><title>Kept</title></head><body><p>Still here</p></body></html>'
    try:
        first = process.process_id()
        os.kill(first, signal.SIGKILL)
        assert process.render(html).startswith(b"%PDF")  # in a new child
        second = process.process_id()
        assert second != first
        os.kill(second, signal.SIGKILL)
        os.waitpid(second, 0)  # known dead before the next rendering asks
        assert process.render(html).startswith(b"%PDF") and process.process_id() != second
        with pytest.raises(PdfRenderingError, match="needs <html lang"):
            process.render("<p>no language, no title</p>")
        assert process.render(html).startswith(b"%PDF")  # the child survives a failed rendering
    finally:
        process.stop()


def test_where_no_child_can_render_the_document_is_rendered_in_this_process(caplog):
    # A child that reads nothing and ends, sent a document larger than a pipe holds: the write
    # fails part way.
    process = PdfProcess(command=[sys.executable, "-c", "import time; time.sleep(0.2)"])
    padding = "<!-- " + "x" * 200_000 + " -->"
    html = f'<!doctype html><html lang="en"><head><title>Here</title></head><body>{padding}<p>Here</p></body></html>'
    try:
        assert process.render(html).startswith(b"%PDF")
        assert "rendering in this process instead" in caplog.text
    finally:
        process.stop()


def test_the_pdf_process_collects_garbage_between_renderings_not_during_them(monkeypatch):
    import gc

    from dd_toolkit.engine import pdf_process as module

    seen, replies = [], io.BytesIO()
    monkeypatch.setattr(
        render, "pdf_from_html", lambda html: seen.append(("render", gc.isenabled())) or b"%PDF " + html.encode()
    )
    monkeypatch.setattr(gc, "collect", lambda *args: seen.append(("collect", len(replies.getvalue()))) or 0)
    monkeypatch.setattr(gc, "freeze", lambda: seen.append(("freeze",)))
    requests = io.BytesIO(b"".join(module._LENGTH.pack(len(html)) + html for html in (b"<a>", b"<b>")))
    module.serve(requests, replies)
    # Renderings run with the collector off; each collection comes after the reply has been
    # written (the replies' bytes so far: 9 bytes of header and 8 of PDF each), so none waits for it.
    assert seen == [("render", False), ("collect", 17), ("freeze",), ("render", False), ("collect", 34)]
    assert gc.isenabled()  # as it was before
    replies.seek(0)
    assert [(replies.read(1), module._message(replies)) for _ in range(2)] == [(b"+", b"%PDF <a>"), (b"+", b"%PDF <b>")]


def test_an_idle_pdf_process_ends_and_the_next_rendering_starts_another(monkeypatch):
    """The child gives its memory back once idle: with nothing asked of it, it ends; the parent
    then starts a new child for the next document."""
    import os as os_

    from dd_toolkit.engine import pdf_process as module

    read_end, write_end = os_.pipe()
    with open(read_end, "rb") as requests, open(write_end, "wb") as _parent:
        replies = io.BytesIO()
        module.serve(requests, replies, idle_seconds=0)  # nothing asked: it returns at once
        assert replies.getvalue() == b""

    process = module.PdfProcess()
    try:
        html = '<!doctype html><html lang="en"><head><title>T</title></head><body><p>x</p></body></html>'
        assert process.render(html).startswith(b"%PDF")
        first = process.process_id()
        process._child.stdin.close()  # as the child's end at idle looks to the parent: it has gone
        process._child.wait(timeout=30)
        assert process.render(html).startswith(b"%PDF")
        assert process.process_id() != first
    finally:
        process.stop()

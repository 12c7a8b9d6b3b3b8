"""Where the web app keeps rendered PDFs, and their rendering ahead of the download.

A PDF takes a tenth of a second or more to typeset; the documents are kept under the SHA-256 of their HTML
in the instance folder (``document-cache/``), so an unchanged document is rendered once. A view
that changes what an assessment's documents show (:func:`prepares_documents`: a submission, an
action's tracking, the transparency text, the risk register), or a page of a submitted
assessment's documents, has them rendered once its response has been sent, from a background
thread of the worker, so the download is already there. A download asked for while that
rendering runs waits for it (the store's lock) rather than rendering the same document again.
The typesetting itself runs in a child process of the worker (:mod:`dd_toolkit.engine.pdf_process`),
so a rendering does not hold up the pages the worker serves meanwhile.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from functools import wraps
from pathlib import Path

from flask import Flask, after_this_request, current_app, request

from dd_toolkit.engine.content import reading_language
from dd_toolkit.engine.content.models import DEFAULT_LANGUAGE
from dd_toolkit.engine.documents import (
    FolderStore,
    Inputs,
    action_plan_document,
    risk_assessment_document,
    transparency_document,
)
from dd_toolkit.engine.pdf_process import pdf_process
from dd_toolkit.engine.risk_record import NoRegister
from dd_toolkit.web.config import on_unless_testing


def document_store(app: Flask | None = None) -> FolderStore | None:
    """The app's PDF store, or None when ``DOCUMENT_CACHE`` is off. Its PDFs are rendered in
    a child process of the worker (``PDF_PROCESS``; unset: except under ``TESTING``)."""
    app = app or current_app
    if not app.config.get("DOCUMENT_CACHE", True):
        return None
    return FolderStore(
        Path(app.instance_path) / "document-cache",
        max_bytes=app.config["DOCUMENT_CACHE_BYTES"],
        renderer=pdf_process.render if on_unless_testing(app, "PDF_PROCESS") else None,
    )


def document_inputs(assessment, language: str) -> Inputs:
    """The inputs of an assessment's downloaded documents, in ``language``: the download and the
    rendering ahead both build them here, so both make the same HTML, and so the same PDF key."""
    from dd_toolkit.records.plans import inputs_for
    from dd_toolkit.web import db
    from dd_toolkit.web.context import current_content

    inputs = inputs_for(db.session(), current_content(), assessment, with_peers=True)
    return replace(inputs, language=language)


def render_documents(app: Flask, assessment_id: int, language: str = DEFAULT_LANGUAGE, drafts_too: bool = True) -> None:
    """Render the PDFs of an assessment in ``language`` into the store (a no-op for those
    already there): the action plan, the transparency section and, when the assessment has a
    register, the record of its risk assessment. Nothing for a draft unless ``drafts_too``."""
    from dd_toolkit.records.models import Assessment
    from dd_toolkit.web import db

    store = document_store(app)
    if store is None:
        return
    with app.app_context():
        try:
            assessment = db.session().get(Assessment, assessment_id)
            if assessment is None or (assessment.is_draft and not drafts_too):
                return
            inputs = document_inputs(assessment, language)
            db.session().close()  # the inputs are plain data: no transaction open while rendering
            action_plan_document(inputs, "pdf", store)
            transparency_document(inputs, "pdf", store)
            try:
                risk_assessment_document(inputs, "pdf", store)
            except NoRegister:
                pass
        except Exception:  # a failed rendering ahead only means the first download renders
            app.logger.exception("rendering the documents of assessment %s failed", assessment_id)


class DocumentQueue:
    """One background thread per worker process that runs ``work(app, assessment_id, *how)``
    in the order asked. An assessment already waiting its turn is not queued twice: its
    rendering reads the assessment when it starts, so it covers every change made before."""

    def __init__(self, work: Callable[..., None]):
        self._work = work
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._waiting: set[tuple] = set()
        self._last: Future | None = None

    def put(self, app: Flask, assessment_id: int, *how) -> None:
        key = (id(app), assessment_id, *how)
        with self._lock:
            if self._pid != os.getpid():  # a forked worker has none of its parent's threads
                self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dd-documents")
                self._pid, self._waiting, self._last = os.getpid(), set(), None
            if key in self._waiting:
                return
            self._waiting.add(key)
            self._last = self._executor.submit(self._run, key, app, assessment_id, *how)

    def _run(self, key: tuple, app: Flask, assessment_id: int, *how) -> None:
        with self._lock:
            self._waiting.discard(key)
        self._work(app, assessment_id, *how)

    def join(self) -> None:
        """Wait until everything queued so far in this process has been rendered."""
        with self._lock:
            last = self._last if self._pid == os.getpid() else None
        if last is not None:
            last.result()


documents_to_render = DocumentQueue(render_documents)


def _prepares(app: Flask) -> bool:
    return on_unless_testing(app, "PRERENDER_DOCUMENTS") and document_store(app) is not None


def prepare_documents_after_response(assessment_id: int, *, drafts_too: bool = True) -> None:
    """Queue the rendering of the assessment's PDFs, in the reader's language, for when this
    request's response has been sent (of a draft only with ``drafts_too``). Off under
    ``TESTING`` unless ``PRERENDER_DOCUMENTS`` is set, and when ``DD_PRERENDER_DOCUMENTS=0``."""
    app = current_app._get_current_object()
    if not _prepares(app):
        return
    language = reading_language()

    @after_this_request
    def _schedule(response):
        response.call_on_close(lambda: documents_to_render.put(app, assessment_id, language, drafts_too))
        return response


def prepares_documents(view):
    """For a view with an ``assessment_id`` that changes or shows what the assessment's documents
    hold: once its response has gone out, their PDFs are rendered ahead of the download.

    - A POST answered with a redirect (a change saved) queues them.
    - A page of a submitted assessment that the view renders (put this under ``@kept_page``: a
      page served as kept changed nothing) queues them too: reading it is the sign that a
      download may follow, and it is how a change made elsewhere (a new benchmark release in
      the summary) or a reader of another language gets a PDF ready. The rendering is a no-op
      for a PDF already in the store. A draft's pages do not: its documents change with every
      answer saved."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        returned = view(*args, **kwargs)  # as it is: @kept_page keeps a page returned as text
        status = _status(returned)
        if request.method == "POST":
            if status in (302, 303):
                prepare_documents_after_response(kwargs["assessment_id"])
        elif status == 200:
            prepare_documents_after_response(kwargs["assessment_id"], drafts_too=False)
        return returned

    return wrapper


def _status(returned) -> int:
    """The status of what a view returned: a response, ``(body, status)`` or a body."""
    if isinstance(returned, tuple):
        return next((part for part in returned[1:] if isinstance(part, int)), 200)
    return getattr(returned, "status_code", 200)

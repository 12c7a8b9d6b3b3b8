"""Where the web app keeps rendered PDFs, and their rendering at submission.

A PDF takes a second or two to render; the documents are kept under the SHA-256 of their HTML
in the instance folder (``document-cache/``), so an unchanged document is rendered once. When
an assessment is submitted, its action plan and transparency section are rendered right after
the response is sent, so the first download of a frozen document is already there.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, after_this_request, current_app

from dd_toolkit.engine.documents import FolderStore


def document_store(app: Flask | None = None) -> FolderStore | None:
    """The app's PDF store, or None when ``DOCUMENT_CACHE`` is off."""
    app = app or current_app
    if not app.config.get("DOCUMENT_CACHE", True):
        return None
    return FolderStore(Path(app.instance_path) / "document-cache")


def render_documents(app: Flask, assessment_id: int) -> None:
    """Render the PDFs of an assessment into the store (a no-op for those already there)."""
    from dd_toolkit.engine.documents import action_plan_document, transparency_document
    from dd_toolkit.records.models import Assessment
    from dd_toolkit.records.plans import inputs_for
    from dd_toolkit.web import db
    from dd_toolkit.web.context import current_content

    store = document_store(app)
    if store is None:
        return
    with app.app_context():
        try:
            assessment = db.session().get(Assessment, assessment_id)
            if assessment is None:
                return
            inputs = inputs_for(db.session(), current_content(), assessment, with_peers=True)
            action_plan_document(inputs, "pdf", store)
            transparency_document(inputs, "pdf", store)
        except Exception:  # a failed pre-render only means the first download renders
            app.logger.exception("rendering the documents of assessment %s failed", assessment_id)


def render_documents_after_response(assessment_id: int) -> None:
    """Schedule :func:`render_documents` for when this request's response has been sent.
    Off under ``TESTING`` unless ``PRERENDER_DOCUMENTS`` is set."""
    app = current_app._get_current_object()
    enabled = app.config.get("PRERENDER_DOCUMENTS")
    if enabled is None:
        enabled = not app.testing
    if not enabled or document_store(app) is None:
        return

    @after_this_request
    def _schedule(response):
        response.call_on_close(lambda: render_documents(app, assessment_id))
        return response

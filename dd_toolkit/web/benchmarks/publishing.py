"""The working group's next release after a submission made in the app, published once the
submitter's page has gone out.

A release is due after every few consenting submissions; at 10,000 companies building one takes
seconds, which the person submitting should not wait for. It is built in the same worker right
after the response, from a session of its own; a failure is logged, and the next submission
(or ``dd-toolkit publish-release``) publishes what is due.
"""

from __future__ import annotations

from flask import Flask, after_this_request, current_app

from dd_toolkit.records import releases
from dd_toolkit.records.database import standalone_session


def publish_after_response() -> None:
    """Publish the next release if one is due, once this request's response has been sent (at
    once under ``TESTING`` unless ``PUBLISH_AFTER_RESPONSE`` is set)."""
    app = current_app._get_current_object()
    later = app.config.get("PUBLISH_AFTER_RESPONSE")
    if later is None:
        later = not app.testing
    if not later:
        publish_due_release(app)
        return

    @after_this_request
    def _schedule(response):
        response.call_on_close(lambda: publish_due_release(app))
        return response


def publish_due_release(app: Flask) -> None:
    content = app.extensions["dd_content"]
    try:
        with standalone_session(app.extensions["dd_engine"]) as session:
            releases.publish_if_due(session, content.bank, content.current_methodology)
    except Exception:  # the submission stands; the next one publishes what is due
        app.logger.exception("publishing the working group's next release failed")

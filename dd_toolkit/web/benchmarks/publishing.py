"""The working group's next release after a submission made in the app, published once the
submitter's page has gone out.

A release is due after every few consenting submissions (:func:`releases.release_due`, two small
queries, checked in the worker). At 10,000 companies building one takes seconds of one core.
Neither the person submitting nor the worker should wait for it: under gunicorn's sync worker, the
work a response leaves behind runs before the worker accepts its next connection, and a thread
of the worker would hold its interpreter lock while it serves pages. So a due release is built
by ``dd-toolkit publish-release --if-due`` in a process of its own, started once the response has
gone out, on the app's database and content. A failure is logged; the next submission (or the
command, run by hand) publishes what is due.
"""

from __future__ import annotations

import subprocess
import sys
import threading

from flask import Flask, after_this_request, current_app

from dd_toolkit import child_environment
from dd_toolkit.records import releases
from dd_toolkit.records.database import standalone_session
from dd_toolkit.web.config import on_unless_testing


def publish_after_response() -> None:
    """Publish the next release if one is due, once this request's response has been sent (at
    once, in this process, under ``TESTING`` unless ``PUBLISH_AFTER_RESPONSE`` is set)."""
    app = current_app._get_current_object()
    if not on_unless_testing(app, "PUBLISH_AFTER_RESPONSE"):
        publish_due_release(app)
        return

    @after_this_request
    def _schedule(response):
        response.call_on_close(lambda: release_builds.start_if_due(app))
        return response


def publish_due_release(app: Flask) -> None:
    """Publish the next release in this process, if one is due."""
    content = app.extensions["dd_content"]
    try:
        with standalone_session(app.extensions["dd_engine"]) as session:
            releases.publish_if_due(session, content.bank, content.current_methodology)
    except Exception:  # the submission stands; the next one publishes what is due
        app.logger.exception("publishing the working group's next release failed")


class ReleaseBuilds:
    """Release builds, each in a ``dd-toolkit publish-release --if-due`` process; a thread of
    the worker waits for each (blocked on the process, it holds no lock) and logs a failure."""

    def __init__(self):
        self._lock = threading.Lock()
        self._watchers: list[threading.Thread] = []

    def start_if_due(self, app: Flask) -> None:
        method = app.extensions["dd_content"].current_methodology
        try:
            with standalone_session(app.extensions["dd_engine"]) as session:
                if not releases.release_due(session, method):
                    return
            child = subprocess.Popen(
                [sys.executable, "-m", "dd_toolkit.cli", "publish-release", "--if-due"],
                env=_command_environment(app),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
        except Exception:  # the submission stands; the next one publishes what is due
            app.logger.exception("starting the build of the working group's next release failed")
            return
        watcher = threading.Thread(target=self._watch, args=(app, child), name="dd-release-build", daemon=True)
        with self._lock:
            self._watchers = [thread for thread in self._watchers if thread.is_alive()] + [watcher]
        watcher.start()

    @staticmethod
    def _watch(app: Flask, child: subprocess.Popen) -> None:
        _, errors = child.communicate()
        if child.returncode != 0:
            app.logger.error(
                "publishing the working group's next release failed (exit %s):\n%s",
                child.returncode,
                errors.decode(errors="replace")[-4000:],
            )

    def join(self) -> None:
        """Wait until every build started so far in this process has ended."""
        with self._lock:
            watchers = list(self._watchers)
        for watcher in watchers:
            watcher.join()


release_builds = ReleaseBuilds()


def _command_environment(app: Flask) -> dict[str, str]:
    """The environment of a ``dd-toolkit`` command on this app's database, instance and content."""
    return child_environment(
        DATABASE_URL=app.config["DATABASE_URL"],
        DD_INSTANCE_PATH=app.instance_path,
        DD_CONTENT_DIR=app.config["CONTENT_DIR"],
    )

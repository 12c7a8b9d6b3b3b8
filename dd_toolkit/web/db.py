"""The database as a request sees it: one engine per application, one session per request,
closed on teardown."""

from __future__ import annotations

from flask import Flask, current_app, g
from sqlalchemy.engine import Engine
from sqlmodel import Session

from dd_toolkit.records.database import make_engine


def init_app(app: Flask) -> None:
    app.extensions["dd_engine"] = make_engine(app.config["DATABASE_URL"])

    @app.teardown_appcontext
    def _close_session(_exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()


def engine() -> Engine:
    return current_app.extensions["dd_engine"]


def discard_failed_work() -> None:
    """Roll back the request's session after an error: a failed statement leaves its transaction
    aborted, and the error page itself reads the database (the layout's unread count)."""
    session = g.get("db_session")
    if session is not None:
        session.rollback()


def session() -> Session:
    """The request's session (created on first use)."""
    if "db_session" not in g:
        g.db_session = Session(engine(), expire_on_commit=False)
    return g.db_session

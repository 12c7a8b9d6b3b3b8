"""Shared fixtures, after the Flask tutorial: ``app``, ``client``, ``auth``, plus a database
prepared by the real Alembic migrations (SQLite by default; PostgreSQL when
``DD_TEST_POSTGRES_URL`` names a server)."""

from __future__ import annotations

import email
import os
import re
import shutil
import socketserver
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from werkzeug.serving import make_server

from dd_toolkit.records import accounts
from dd_toolkit.records import database as db
from dd_toolkit.records.database import upgrade
from dd_toolkit.web import create_app

from . import factories

TESTS_DIR = Path(__file__).parent
FIXTURE_CONTENT = TESTS_DIR / "fixtures" / "content"
REPO_ROOT = TESTS_DIR.parent
POSTGRES_URL = os.environ.get("DD_TEST_POSTGRES_URL")


@pytest.fixture(scope="session", autouse=True)
def quick_password_hashes():
    """Real argon2 with its cheapest parameters. The product's hasher is slow on purpose (about
    0.17 s a hash and a check), and the suite creates and signs in thousands of accounts; the
    parameters are written into each hash, so checks still verify what was stored.
    Yields the product's own hasher, whose parameters ``test_auth`` checks."""
    from argon2 import PasswordHasher

    product = accounts._hasher
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
        yield product


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory):
    """A database migrated once per test session; each test gets a fresh copy of it."""
    if POSTGRES_URL:
        name = f"dd_template_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(_pg(POSTGRES_URL), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        upgrade(_with_database(POSTGRES_URL, name))
        yield ("postgres", name)
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    else:
        path = tmp_path_factory.mktemp("template") / "template.sqlite"
        upgrade(f"sqlite:///{path}")
        yield ("sqlite", path)


def _pg(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def _with_database(url: str, name: str) -> str:
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def _fresh_database(migrated_template, tmp_path, stem: str):
    """A copy of the migrated template: a file for SQLite, a database for PostgreSQL."""
    kind, template = migrated_template
    if kind == "sqlite":
        path = tmp_path / f"{stem}.sqlite"
        shutil.copy(template, path)
        yield f"sqlite:///{path}"
        return
    name = f"dd_test_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(_pg(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    yield _with_database(POSTGRES_URL, name)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def demo_template(migrated_template, tmp_path_factory):
    """A copy of the migrated template with the demo data loaded, once per test session: a test
    that asks for ``demo`` starts from a copy of it instead of loading the demo again."""
    from dd_toolkit.records.demo import load_demo

    folder = tmp_path_factory.mktemp("demo")
    url = next(copies := _fresh_database(migrated_template, folder, "demo"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DD_INSTANCE_PATH", str(folder / "instance"))
        application = make_app(url, folder, content=REPO_ROOT)
        with db.standalone_session(application.extensions["dd_engine"]) as session:
            load_demo(session, application.extensions["dd_content"])
        application.extensions["dd_engine"].dispose()
    kind, _template = migrated_template
    yield (kind, folder / "demo.sqlite" if kind == "sqlite" else make_url(url).database)
    next(copies, None)  # drops the PostgreSQL database


@pytest.fixture
def database_url(migrated_template, tmp_path, request):
    # A test on the demo data starts from a copy of the database the demo was loaded into once.
    template = request.getfixturevalue("demo_template") if "demo" in request.fixturenames else migrated_template
    yield from _fresh_database(template, tmp_path, "test")


@pytest.fixture
def other_database_url(migrated_template, tmp_path):
    """A second fresh database, like ``database_url``."""
    yield from _fresh_database(migrated_template, tmp_path, "other")


def make_app(database_url: str, tmp_path: Path, content: Path = FIXTURE_CONTENT, **extra):
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            "DATABASE_URL": database_url,
            "CONTENT_DIR": str(content),
            **extra,
        }
    )
    return app


@pytest.fixture
def app(database_url, tmp_path, monkeypatch):
    monkeypatch.setenv("DD_INSTANCE_PATH", str(tmp_path / "instance"))
    application = make_app(database_url, tmp_path)
    yield application
    application.extensions["dd_engine"].dispose()


@pytest.fixture
def real_app(database_url, tmp_path, monkeypatch):
    """The app with the real question bank from the repository."""
    monkeypatch.setenv("DD_INSTANCE_PATH", str(tmp_path / "instance"))
    application = make_app(database_url, tmp_path, content=REPO_ROOT)
    yield application
    application.extensions["dd_engine"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def session(app):
    # No app context stays pushed here: each request must get its own, as in production.
    with db.standalone_session(app.extensions["dd_engine"]) as s:
        yield s


@pytest.fixture
def bank(app):
    return app.extensions["dd_bank"]


@pytest.fixture
def make(session, app):
    """Test-data factories bound to the test's session."""
    return factories.Factory(session, app.extensions["dd_content"])


@pytest.fixture
def renders(monkeypatch):
    """Every PDF rendering of a document, replaced by a fast stand-in that records the HTML."""
    from dd_toolkit.engine import documents

    seen: list[str] = []

    def fake_pdf(html: str) -> bytes:
        seen.append(html)
        return b"%PDF-1.7 stand-in " + str(len(seen)).encode()

    monkeypatch.setattr(documents, "pdf_from_html", fake_pdf)
    return seen


@pytest.fixture
def company(make, auth):
    """A new organisation and its admin, signed in on ``client``."""
    org = make.organisation()
    admin = make.user(org)
    auth.login(admin.email)
    return org, admin


@pytest.fixture
def submitted_to(make, session):
    """Submit a complete assessment of a new company to the given jurisdictions."""
    from sqlmodel import select

    from dd_toolkit.records.assessments import submit
    from dd_toolkit.records.models import Recipient

    def build(*jurisdictions, name=None, answers=None, cycle=2026, consent=False):
        org = make.organisation(name=name)
        admin = make.user(org)
        assessment = make.assessment(org, admin, cycle, answers or make.complete_answers())
        # test.1 is the fixture methodology with RPA indicator rules.
        submission = submit(
            session,
            make.bank,
            make.content.methodology("standard@test.1"),
            assessment,
            admin,
            benchmark_consent=consent,
            jurisdictions=list(jurisdictions),
        )
        recipients = session.exec(select(Recipient).where(Recipient.submission_id == submission.id)).all()
        return org, admin, assessment, {r.jurisdiction: r for r in recipients}

    return build


@contextmanager
def recorded_statements(engine):
    """The SQL statements run on ``engine`` inside the block, each with its parameters."""
    seen: list[tuple[str, object]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


def parameter_values(parameters) -> list:
    """A statement's parameters as a list, whatever the driver's style (SQLite's or PostgreSQL's)."""
    return list(parameters.values() if isinstance(parameters, dict) else parameters)


CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def csrf_token(client, url: str) -> str:
    page = client.get(url)
    match = CSRF_RE.search(page.get_data(as_text=True))
    assert match, f"no CSRF token on {url} (status {page.status_code})"
    return match.group(1) or match.group(2)


class Forms:
    """Posts forms the way a browser does: fetch the page, take its CSRF token, submit."""

    def __init__(self, client):
        self.client = client

    def post(self, url: str, data: dict | None = None, page: str | None = None, **kwargs):
        payload = dict(data or {})
        payload["csrf_token"] = csrf_token(self.client, page or url)
        return self.client.post(url, data=payload, **kwargs)


@pytest.fixture
def forms(client):
    return Forms(client)


class AuthActions:
    def __init__(self, client):
        self.client = client
        self.forms = Forms(client)

    def login(self, email: str, password: str = factories.PASSWORD):
        return self.forms.post("/auth/login", {"email": email, "password": password})

    def logout(self):
        return self.forms.post("/auth/logout", page="/")


@pytest.fixture
def auth(client):
    return AuthActions(client)


@pytest.fixture
def real_client(real_app):
    return real_app.test_client()


@pytest.fixture
def demo(real_app):
    """The demo data under the real question bank (its database is a copy of ``demo_template``);
    yields a session on it."""
    with db.standalone_session(real_app.extensions["dd_engine"]) as session:
        yield session


def pytest_collection_modifyitems(config, items):
    """On PostgreSQL, run the tests that touch a database: those on a migrated copy, and the
    modules that start their own server or database from ``DD_TEST_POSTGRES_URL``. The pure
    engine tests have already run on SQLite and cannot depend on the database."""
    if not POSTGRES_URL:
        return
    own_database = {"test_backup.py", "test_load.py", "test_migrations.py"}
    # Markup, wording and documents: what they read goes through records functions that the
    # other modules exercise on PostgreSQL, so these run once, on SQLite.
    presentation = {
        "test_plain_pages.py",
        "test_questionnaire_13.py",
        "test_headers.py",
        "test_pdf.py",
        "test_language.py",  # catalogues and every page in three languages
        "test_reference_cards.py",
        "test_fragments.py",
    }
    keep, skip = [], []
    for item in items:
        touches = "migrated_template" in item.fixturenames or item.path.name in own_database
        (keep if touches and item.path.name not in presentation else skip).append(item)
    if skip:
        config.hook.pytest_deselected(items=skip)
        items[:] = keep


# -- the app served on loopback, for the browser tests -----------------------------------------


@contextmanager
def serving(app) -> Iterator[str]:
    """``app`` served from a thread on a free loopback port, for a browser: its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


@pytest.fixture
def live_server(app):
    with serving(app) as url:
        yield url


@pytest.fixture
def real_live_server(real_app):
    """The app with the real question bank, served."""
    with serving(real_app) as url:
        yield url


# -- email ------------------------------------------------------------------------------------------


class _SMTPSink(socketserver.StreamRequestHandler):
    """Just enough SMTP (RFC 5321) to receive what smtplib sends."""

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self):
        self.reply("220 127.0.0.1 test sink")
        sender, recipients = None, []
        while line := self.rfile.readline():
            verb = line[:4].decode("ascii", "replace").upper()
            if verb == "EHLO":
                self.wfile.write(b"250-127.0.0.1\r\n250 8BITMIME\r\n")
            elif verb == "HELO" or verb in ("NOOP", "RSET"):
                self.reply("250 OK")
            elif verb == "MAIL":
                sender, recipients = line.decode().split(":", 1)[1].strip(), []
                self.reply("250 OK")
            elif verb == "RCPT":
                recipients.append(line.decode().split(":", 1)[1].strip().strip("<>"))
                self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                data = b""
                while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                    data += chunk[1:] if chunk.startswith(b"..") else chunk
                self.server.messages.append((sender, recipients, email.message_from_bytes(data)))
                self.reply("250 OK queued")
            elif verb == "QUIT":
                self.reply("221 Bye")
                return
            else:
                self.reply("502 Not implemented")


@pytest.fixture
def smtp_sink():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _SMTPSink)
    server.daemon_threads = True
    server.messages = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def mail_app(database_url, tmp_path, monkeypatch, **mail):
    """An app that sends notification emails with the ``mail`` settings, in an instance folder of
    its own."""
    monkeypatch.setenv("DD_INSTANCE_PATH", str(tmp_path / "mail-instance"))
    return make_app(database_url, tmp_path, **mail)

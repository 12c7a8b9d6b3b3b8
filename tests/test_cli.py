"""The dd-toolkit command against a real database."""

import json

import pytest
from click.testing import CliRunner
from sqlmodel import select

from dd_toolkit.cli import main as cli
from dd_toolkit.records.models import Assessment, Organisation

from .conftest import FIXTURE_CONTENT


@pytest.fixture
def run(database_url, tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("DD_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setattr("dd_toolkit.web.config.Config.DATABASE_URL", database_url)

    def invoke(*args, input=None):
        return CliRunner().invoke(cli, ["--content", str(FIXTURE_CONTENT), *args], input=input)

    return invoke


def test_list_export_import(run, make, session, tmp_path):
    org = make.organisation(name="Mekong Streams")
    submitted = make.submitted(org, make.user(org), cycle=2025)
    listed = run("list-assessments")
    assert listed.exit_code == 0, listed.output
    assert f"{submitted.id:>4}  Mekong Streams" in listed.output
    assert "2025        1  submitted" in listed.output

    out = tmp_path / "export.json"
    exported = run("export-assessment", str(submitted.id), "-o", str(out))
    assert exported.exit_code == 0, exported.output
    document = json.loads(out.read_text())
    assert document["format"] == "dd-toolkit/assessment"
    assert document["organisation"]["name"] == "Mekong Streams"

    imported = run("import-assessment", str(out))
    assert imported.exit_code == 0, imported.output
    assert "imported 8 answers" in imported.output
    session.expire_all()
    assert len(session.exec(select(Assessment)).all()) == 2
    # The organisation named in the file was found, not duplicated.
    assert len(session.exec(select(Organisation)).all()) == 1


def test_import_into_new_installation_creates_organisation(run, make, session, tmp_path):
    org = make.organisation(name="Source Co")
    submitted = make.submitted(org, make.user(org), cycle=2025)
    out = tmp_path / "a.json"
    run("export-assessment", str(submitted.id), "-o", str(out))
    document = json.loads(out.read_text())
    document["organisation"]["name"] = "Renamed Co"
    document.pop("submission")
    out.write_text(json.dumps(document))
    result = run("import-assessment", str(out), "--admin-email", "admin@renamed.example")
    assert result.exit_code == 0, result.output
    assert "(Renamed Co, 2025, draft)" in result.output
    assert "its first admin admin@renamed.example joins through:" in result.output


def test_import_bad_file_exits_non_zero_and_changes_nothing(run, session, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "dd-toolkit/assessment", "format_version": 1}')
    result = run("import-assessment", str(bad))
    assert result.exit_code == 1
    assert "the file was not imported" in result.output
    assert "organisation: Field required" in result.output
    assert session.exec(select(Assessment)).all() == []


def test_export_unknown_id(run):
    result = run("export-assessment", "999", "-o", "-")
    assert result.exit_code == 1
    assert "no assessment with id 999" in result.output


def test_empty_list(run):
    assert run("list-assessments").output.strip() == "no assessments"


def test_create_regulator(run, session):
    result = run(
        "create-user",
        "--email",
        "reg@example.org",
        "--name",
        "Reg",
        "--role",
        "regulator",
        "--jurisdiction",
        "MY",
        "--password",
        "a long enough password",
    )
    assert result.exit_code == 0, result.output
    refused = run(
        "create-user",
        "--email",
        "r2@example.org",
        "--name",
        "R",
        "--role",
        "regulator",
        "--jurisdiction",
        "XX",
        "--password",
        "a long enough password",
    )
    assert "unknown country code(s): XX" in refused.output


def test_demo_loads_once_and_submits(run, session):
    first = run("load-demo")
    assert first.exit_code == 0, first.output
    assert "demo data loaded" in first.output and "regulator@demo.example" in first.output
    assert "demo data already present" in run("load-demo").output
    from dd_toolkit.records.demo import COMPANIES, PEERS

    statuses = [a.status for a in session.exec(select(Assessment))]
    assert statuses.count("draft") == 1
    assert statuses.count("submitted") == 1 + sum(len(peer[-1]) for peer in PEERS)
    assert len(session.exec(select(Organisation)).all()) == len(COMPANIES) + len(PEERS)

"""Scores as the company meets them: frozen at submission, previewed for drafts, explained,
charted, re-scored only on request, and the same from the command line."""

import json
import re

from click.testing import CliRunner
from sqlmodel import select

from dd_toolkit.cli import main as cli
from dd_toolkit.records.assessments import submit
from dd_toolkit.records.models import Submission
from dd_toolkit.records.reader import assessment_with_record, read_assessment, read_with

from .conftest import FIXTURE_CONTENT, recorded_statements


def test_submission_freezes_score_card_and_consent(client, forms, company, make, session):
    org, admin = company
    assessment = make.assessment(org, admin, answers=make.complete_answers())
    forms.post(
        f"/assessments/{assessment.id}/submit", {"jurisdictions": ["SG"], "benchmark_consent": "y", "confirm": "Submit"}
    )
    submission = session.exec(select(Submission)).one()
    assert submission.benchmark_consent is True
    assert submission.methodology == "standard@test.2"  # the latest fixture version
    card = json.loads(submission.snapshot)["score_card"]
    # test.2 by hand: Policy (75x2 + 100 + 100) / 4 = 87.5; Operations (40 + 40) / 2 = 40;
    # equal section weights -> 63.75.
    assert card["overall"] == 63.75
    assert card["methodology"] == {"id": "standard", "version": "test.2"}


def test_consent_defaults_to_no(client, forms, company, make, session):
    org, admin = company
    assessment = make.assessment(org, admin, answers=make.complete_answers())
    forms.post(f"/assessments/{assessment.id}/submit", {"jurisdictions": ["SG"], "confirm": "Submit"})
    assert session.exec(select(Submission)).one().benchmark_consent is False


def test_draft_preview(client, company, make):
    org, admin = company
    assessment = make.assessment(org, admin, answers={"mini.policy.owner": 4, "mini.policy.exists": "no"})
    page = client.get(f"/assessments/{assessment.id}/results").get_data(as_text=True)
    assert "Preview of a draft" in page
    assert "2 scored questions are not answered yet and are left out." in page  # live, payments
    # Policy (100 x 2 + 0) / 3 = 66.7 is the only scored section -> overall 67, Established.
    assert '<span class="number">67</span>' in page
    assert "Established" in page
    assert "What would raise this score most" in page


def test_submitted_results_explain_every_number(client, company, make):
    org, admin = company
    answers = {**make.complete_answers(), "mini.policy.owner": 1}
    assessment = make.submitted(org, admin, answers=answers, methodology="standard@test.1")
    page = client.get(f"/assessments/{assessment.id}/results").get_data(as_text=True)
    assert "Frozen at submission" in page and "version test.1" in page
    # Critical cap is explained on the section.
    assert "Capped from Established by a critical question below 50 points." in page
    # Indicator status with the reason.
    assert "RPA:7.4.1" in page and "All components are met." in page
    assert "Does not apply" not in page.split("RPA:7.3.1")[1].split("</tr>")[0]
    # The breakdown links each question to its place in the assessment.
    assert f"/assessments/{assessment.id}/sections/mini.policy#q-mini-policy-owner" in page
    # Charts come with alt text and are served as SVG.
    assert 'alt="Bar chart of the score of each section' in page
    svg = client.get(f"/assessments/{assessment.id}/charts/sections.svg")
    assert svg.mimetype == "image/svg+xml" and b"<svg" in svg.data
    assert client.get(f"/assessments/{assessment.id}/charts/lenses.svg").status_code == 200
    assert client.get(f"/assessments/{assessment.id}/charts/other.svg").status_code == 404


def test_rescoring_is_explicit_and_side_by_side(client, company, make, session):
    org, admin = company
    assessment = make.submitted(org, admin, methodology="standard@test.1")
    page = client.get(f"/assessments/{assessment.id}/results").get_data(as_text=True)
    assert "Compare with version test.2" in page
    assert "Side by side" not in page
    compared = client.get(f"/assessments/{assessment.id}/results?compare=standard@test.2").get_data(as_text=True)
    assert "Side by side: version test.1 (frozen) and version test.2" in compared
    row = compared.split('<th scope="row">Overall</th>')[1].split("</tr>")[0]
    # test.1: 177.5 / 3 = 59.17 -> 59; test.2: 63.75 -> 64.
    assert "59" in row and "64" in row
    # Nothing about the frozen submission changed.
    submission = session.exec(select(Submission)).one()
    assert json.loads(submission.snapshot)["score_card"]["methodology"]["version"] == "test.1"
    assert client.get(f"/assessments/{assessment.id}/results?compare=standard@9").status_code == 404


def test_cli_score_matches_the_engine(app, client, company, make, tmp_path):
    org, admin = company
    assessment = make.submitted(org, admin, methodology="standard@test.1")
    exported = tmp_path / "a.json"
    exported.write_bytes(client.get(f"/assessments/{assessment.id}/export.json").data)
    runner = CliRunner()
    result = runner.invoke(
        cli, ["--content", str(FIXTURE_CONTENT), "score", str(exported), "--json", "--methodology", "standard@test.1"]
    )
    assert result.exit_code == 0, result.output
    card = json.loads(result.output)
    assert card["overall"] == round(177.5 / 3, 4)
    frozen = json.loads(exported.read_text())["score_card"]
    assert card == frozen
    text = runner.invoke(cli, ["--content", str(FIXTURE_CONTENT), "score", str(exported)])
    assert "scored with standard@test.2" in text.output  # the latest version by default
    assert "overall  63.8  Established" in text.output
    older = runner.invoke(
        cli, ["--content", str(FIXTURE_CONTENT), "score", str(exported), "--methodology", "standard@test.1"]
    )
    assert "overall  59.2  Developing" in older.output
    assert "RPA:7.4.1    met" in older.output
    assert "RPA:7.3.1    not met" in older.output  # payments answered "partial"
    bad = runner.invoke(cli, ["--content", str(FIXTURE_CONTENT), "score", str(exported), "--methodology", "x@1"])
    assert bad.exit_code == 1 and "no methodology x@1" in bad.output


def test_the_framework_chart_is_left_out_when_it_has_nothing_to_draw(client, company, make):
    """The fixture's current methodology declares no lenses: no chart, and its URL is a 404, not a 500."""
    org, admin = company
    assessment = make.assessment(org, admin, answers={})
    page = client.get(f"/assessments/{assessment.id}/results").get_data(as_text=True)
    assert "charts/lenses.svg" not in page
    assert client.get(f"/assessments/{assessment.id}/charts/lenses.svg").status_code == 404


def test_the_pages_of_a_submitted_assessment_read_it_with_its_submission_and_record_in_one_query(
    app, client, forms, company, make
):
    org, admin = company
    assessment = make.assessment(org, admin, answers=make.complete_answers())
    forms.post(f"/assessments/{assessment.id}/submit", {"jurisdictions": ["SG"], "confirm": "Submit"})
    for page in ("results", "action-plan", "transparency", "peers"):
        with recorded_statements(app.extensions["dd_engine"]) as recorded:
            response = client.get(f"/assessments/{assessment.id}/{page}")
        assert response.status_code == 200, page
        statements = [statement for statement, _ in recorded]
        reads = [s for s in statements if re.search(r"FROM assessment\b", s) and "WHERE assessment.id = " in s]
        assert len(reads) == 1, page
        assert all(f"JOIN {table} " in reads[0] for table in ("submission", "submission_record")), page
        # Neither the submission nor its record is read again.
        assert not [
            s for s in statements if re.search(r"FROM submission\b.*WHERE submission\.assessment_id = ", s, re.S)
        ]


def test_an_assessment_read_as_a_draft_is_read_frozen_once_submitted_in_the_same_session(session, company, make):
    org, admin = company
    draft = make.assessment(org, admin, answers=make.complete_answers())
    assessment = assessment_with_record(session, draft.id)
    assert read_with(assessment) == (None, None)
    assert not read_assessment(session, make.content, assessment).frozen
    submit(session, make.bank, make.content.current_methodology, assessment, admin)
    assert read_with(assessment) is None  # what was read with it no longer holds
    view = read_assessment(session, make.content, assessment)
    assert view.frozen and view.record is not None and view.submission.assessment_id == assessment.id
    assert assessment_with_record(session, 10**9) is None

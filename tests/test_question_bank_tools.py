"""The question bank as reviewers meet it: the coverage and content-doc commands, the browse
page, and the real bank driven through the app with the demo data."""

import json

from click.testing import CliRunner
from sqlmodel import select

from dd_toolkit.cli import main as cli
from dd_toolkit.engine.content import load_bank
from dd_toolkit.engine.content.coverage import coverage
from dd_toolkit.records.demo import COMPANIES, DEMO_PASSWORD
from dd_toolkit.records.models import Assessment, Submission

from .conftest import REPO_ROOT, AuthActions

BANK = load_bank(REPO_ROOT)


def test_coverage_json_equals_the_engine():
    result = CliRunner().invoke(cli, ["--content", str(REPO_ROOT), "coverage", "--json"])
    assert result.exit_code == 0
    assert json.loads(result.output) == coverage(BANK)


def test_coverage_text_lists_each_reference_and_its_questions():
    result = CliRunner().invoke(cli, ["--content", str(REPO_ROOT), "coverage"])
    assert result.exit_code == 0
    block = result.output.split("\nRPA:7.4.1", 1)[1].split("\nRPA:", 1)[0].splitlines()
    assert block[1:] == [f"    {qid}" for qid in coverage(BANK)["RPA:7.4.1"]]


def test_content_doc_writes_markdown(tmp_path):
    out = tmp_path / "bank.md"
    result = CliRunner().invoke(cli, ["--content", str(REPO_ROOT), "content-doc", "-o", str(out)])
    assert result.exit_code == 0
    text = out.read_text()
    assert text.startswith("# Question bank")
    assert all(f"`{qid}`" in text for qid in BANK.questions)


def test_browse_page_filters_by_reference_and_harm(real_client, demo):
    AuthActions(real_client).login("wg@demo.example", DEMO_PASSWORD)
    everything = real_client.get("/question-bank/").get_data(as_text=True)
    assert f"{len(BANK.questions)} questions" in everything
    by_ref = real_client.get("/question-bank/?ref=RPA:7.3.1").get_data(as_text=True)
    expected = coverage(BANK)["RPA:7.3.1"]
    assert f"{len(expected)} questions" in by_ref
    shown = {qid for qid in BANK.questions if f"<code>{qid}</code>" in by_ref}
    assert shown == set(expected)
    by_harm = real_client.get("/question-bank/?harm=sextortion&ref=RPA:Annex3.iii").get_data(as_text=True)
    both = {q.id for q in BANK.questions.values() if "sextortion" in q.harms and "RPA:Annex3.iii" in q.refs}
    assert {qid for qid in BANK.questions if f"<code>{qid}</code>" in by_harm} == both
    # An unknown filter value is ignored rather than showing an empty bank.
    assert f"{len(BANK.questions)} questions" in real_client.get("/question-bank/?ref=nope").get_data(as_text=True)


def test_browse_page_needs_sign_in(real_client):
    assert real_client.get("/question-bank/").status_code == 302


def test_demo_with_the_real_bank(real_client, demo):
    """The demo submits a complete assessment under the real bank, and every section page
    of the half-finished one renders for its company."""
    submitted = demo.exec(select(Assessment).where(Assessment.status == "submitted")).all()
    assert len(submitted) == len(demo.exec(select(Submission)).all()) > 10
    draft = demo.exec(select(Assessment).where(Assessment.status == "draft")).one()
    AuthActions(real_client).login(COMPANIES[1].admin_email, DEMO_PASSWORD)
    overview = real_client.get(f"/assessments/{draft.id}").get_data(as_text=True)
    assert "required questions still need an answer" in overview
    for module in BANK.questionnaires:
        for section in module.sections:
            response = real_client.get(f"/assessments/{draft.id}/sections/{section.id}")
            assert response.status_code == 200, section.id


def test_demo_benchmark_shows_some_groups_and_suppresses_others(real_app, demo):
    from dd_toolkit.records import releases

    method = real_app.extensions["dd_content"].current_methodology
    release = releases.published(demo, method)
    cycles = sorted(release.cycles, reverse=True)
    benchmark = release.benchmarks[cycles[0]]
    shown = [g.group_id for g in benchmark.groups if not g.suppressed]
    suppressed = [g.group_id for g in benchmark.groups if g.suppressed]
    assert "all" in shown  # fifteen companies: most peer groups could single one out
    assert len(suppressed) >= 5
    assert len(cycles) >= 2  # change between cycles has something to show


def test_demo_action_plan_pdf_carries_every_p1_gap_with_references(real_app, real_client, demo):
    """The demo company's action plan as a PDF: every P1 action, every gap behind it and its
    framework references are in the document."""
    import io

    import pypdf

    from dd_toolkit.engine.documents import action_plan
    from dd_toolkit.records.plans import inputs_for

    lumen = demo.exec(select(Assessment).where(Assessment.status == "submitted").order_by(Assessment.id)).first()
    inputs = inputs_for(demo, real_app.extensions["dd_content"], lumen, {})
    plan = action_plan(inputs)
    p1 = [item for item in plan.items if item.priority == "P1"]
    assert p1, "the demo company should have P1 actions"
    AuthActions(real_client).login(COMPANIES[0].admin_email, DEMO_PASSWORD)
    pdf = real_client.get(f"/assessments/{lumen.id}/action-plan.pdf")
    text = " ".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf.data)).pages).replace("\n", " ")
    text = " ".join(text.split())
    for item in p1:
        assert " ".join(item.title.split()) in text
        for gap in item.gaps:
            assert gap.question_id in text
            for ref in gap.refs:
                assert ref in text

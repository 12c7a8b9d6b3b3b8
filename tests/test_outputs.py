"""What the company takes away, through the pages and exports: the action plan with its
tracking, the editable transparency draft, and the Markdown, HTML, PDF and CSV files."""

import csv
import io

import pypdf
import pytest
from click.testing import CliRunner
from sqlmodel import select

from dd_toolkit.cli import main as cli
from dd_toolkit.engine.content import AnswerData
from dd_toolkit.records.models import ActionTracking, Assessment, TransparencyEdit

from .conftest import FIXTURE_CONTENT, AuthActions, Forms

SCRIPT = "<script>alert('x')</script>"


def pdf_text(data: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages)


@pytest.fixture
def company(make, auth):
    org = make.organisation(name="Selat Streams")
    admin = make.user(org)
    auth.login(admin.email)
    return org, admin


def gapped_answers(make):
    return {
        **make.complete_answers(),
        "mini.ops.live": "none",  # 0 points: a major gap on live-streamed abuse
        "mini.policy.exists": "partial",  # the policy group
        "mini.policy.scope": ["online"],
    }


def test_action_plan_lists_every_gap_with_its_references(client, company, make):
    org, admin = company
    assessment = make.submitted(org, admin, answers=gapped_answers(make), methodology="standard@test.1")
    page = client.get(f"/assessments/{assessment.id}/action-plan").get_data(as_text=True)
    # test.1 by hand: live none -> 0 points, major gap (3) + live-streaming harm (3) = 6 -> P2;
    # the policy group (exists partial: moderate 2 + RPA 7.4.1 component 2 = 4) -> P3.
    live = page.split('id="item-mini.ops.live"')[1].split("</article>")[0]
    assert '<span class="priority priority-P2">P2</span>' in live
    assert "SbD:1" in live
    policy = page.split('id="item-policy"')[1].split("</article>")[0]
    assert "Adopt a safeguarding policy that covers online protection" in policy
    assert "mini-policy-exists" in policy and "mini-policy-scope" in policy  # both gaps linked
    assert "RPA:7.4.1" in policy


def test_tracking_is_saved_and_refuses_stale_edits(client, company, make, session):
    org, admin = company
    assessment = make.submitted(org, admin, answers=gapped_answers(make), methodology="standard@test.1")
    url = f"/assessments/{assessment.id}/action-plan/items/mini.ops.live"
    page = f"/assessments/{assessment.id}/action-plan"
    forms = Forms(client)
    saved = forms.post(
        url,
        {
            "item-mini.ops.live-owner": "Head of Trust & Safety",
            "item-mini.ops.live-due_date": "2026-03-31",
            "item-mini.ops.live-status": "in_progress",
            "item-mini.ops.live-base_version": "0",
        },
        page=page,
        follow_redirects=True,
    )
    assert "Saved:" in saved.get_data(as_text=True)
    row = session.exec(select(ActionTracking)).one()
    assert (row.owner, row.status, str(row.due_date), row.version) == (
        "Head of Trust & Safety",
        "in_progress",
        "2026-03-31",
        1,
    )
    stale = forms.post(
        url,
        {
            "item-mini.ops.live-owner": "Someone else",
            "item-mini.ops.live-status": "todo",
            "item-mini.ops.live-base_version": "0",
        },
        page=page,
        follow_redirects=True,
    )
    assert "changed by someone else" in stale.get_data(as_text=True)
    session.expire_all()
    assert session.exec(select(ActionTracking)).one().owner == "Head of Trust & Safety"
    refused = forms.post(
        url,
        {"item-mini.ops.live-status": "wont_do", "item-mini.ops.live-base_version": "1"},
        page=page,
        follow_redirects=True,
    )
    assert "Say why this action will not be done." in refused.get_data(as_text=True)
    progress = client.get(page).get_data(as_text=True)
    assert "0 done, 1 in progress" in progress


def test_action_plan_exports(client, company, make, session):
    org, admin = company
    assessment = make.submitted(org, admin, answers=gapped_answers(make), methodology="standard@test.1")
    session.add(
        ActionTracking(
            assessment_id=assessment.id, item_id="mini.ops.live", owner="=cmd()", status="todo", notes=SCRIPT
        )
    )
    session.commit()
    markdown = client.get(f"/assessments/{assessment.id}/action-plan.md").get_data(as_text=True)
    assert "Adopt a safeguarding policy that covers online protection" in markdown
    rows = list(
        csv.DictReader(io.StringIO(client.get(f"/assessments/{assessment.id}/action-plan.csv").get_data(as_text=True)))
    )
    live = next(r for r in rows if r["id"] == "mini.ops.live")
    assert live["priority"] == "P2" and live["owner"] == "'=cmd()"  # no spreadsheet formula
    html = client.get(f"/assessments/{assessment.id}/action-plan.html").get_data(as_text=True)
    assert "<script" not in html
    pdf = client.get(f"/assessments/{assessment.id}/action-plan.pdf")
    assert pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    text = pdf_text(pdf.data)
    assert "Selat Streams" in text and "Adopt a safeguarding policy" in text
    assert client.get(f"/assessments/{assessment.id}/action-plan.docx").status_code == 404


def test_transparency_draft_metrics_equal_answers_and_gaps_are_marked(client, company, make):
    org, admin = company
    answers = {
        **make.complete_answers(),
        "mini.ops.reports": AnswerData(
            value=1250,
            meta={
                "period_start": "2025-01-01",
                "period_end": "2025-12-31",
                "methodology": "Unique reports to the national hotline.",
            },
        ),
    }
    assessment = make.submitted(org, admin, answers=answers)
    markdown = client.get(f"/assessments/{assessment.id}/transparency.md").get_data(as_text=True)
    row = next(line for line in markdown.splitlines() if line.startswith("|") and "Reports sent to a hotline" in line)
    assert "1,250" in row and "Unique reports to the national hotline." in row
    pdf = pdf_text(client.get(f"/assessments/{assessment.id}/transparency.pdf").data)
    assert "1,250" in pdf

    other_org = make.organisation(name="No Numbers Co")
    other_admin = make.user(other_org)
    missing = {k: v for k, v in make.complete_answers().items() if k != "mini.ops.reports"}
    draft = make.assessment(other_org, other_admin, answers=missing)
    AuthActions(client).logout()
    AuthActions(client).login(other_admin.email)
    markdown = client.get(f"/assessments/{draft.id}/transparency.md").get_data(as_text=True)
    # A missing figure is left out of the public text (no number invented) and listed for the team.
    assert "Reports sent to a hotline" not in markdown and "Gap" not in markdown
    page = client.get(f"/assessments/{draft.id}/transparency").get_data(as_text=True)
    notes = page.split('id="team-notes"', 1)[1].split("</section>", 1)[0]
    assert "Reports sent to a hotline" in notes and "#q-mini-ops-reports" in notes
    assert "For your team, not for publication" not in markdown


def test_transparency_editing_preview_conflict_and_regenerate(client, company, make, session):
    org, admin = company
    assessment = make.submitted(org, admin)
    url = f"/assessments/{assessment.id}/transparency"
    page = client.get(url).get_data(as_text=True)
    assert "## Policies and Practices" in page  # the generated draft fills the editor
    forms = Forms(client)
    edited = "# Our child-safety report\n\nWe report to the hotline. " + SCRIPT
    saved = forms.post(url, {"markdown": edited, "base_version": "0", "save": "Save"})
    assert saved.status_code == 302
    assert session.exec(select(TransparencyEdit)).one().markdown == edited
    html = client.get(f"/assessments/{assessment.id}/transparency.html").get_data(as_text=True)
    assert "We report to the hotline." in html and "<script" not in html
    preview = forms.post(f"{url}/preview", {"markdown": "**bold** " + SCRIPT}, page=url)
    assert "<strong>bold</strong>" in preview.get_data(as_text=True)
    assert "<script" not in preview.get_data(as_text=True)
    stale = forms.post(url, {"markdown": "An older edit", "base_version": "0", "save": "Save"})
    assert stale.status_code == 409
    assert "An older edit" in stale.get_data(as_text=True)  # nothing typed is lost
    session.expire_all()
    assert session.exec(select(TransparencyEdit)).one().markdown == edited
    forms.post(f"{url}/regenerate", page=url)
    session.expire_all()
    assert session.exec(select(TransparencyEdit)).all() == []
    assert "## Policies and Practices" in client.get(f"{url}.md").get_data(as_text=True)


def test_script_in_any_free_text_never_becomes_markup(client, company, make, session):
    org, admin = company
    org.name = "Selat " + SCRIPT
    session.add(org)
    session.commit()
    answers = {
        **make.complete_answers(),
        "mini.ops.notes": AnswerData(value=SCRIPT, comment=SCRIPT),
        "mini.ops.reports": AnswerData(
            value=3,
            comment=SCRIPT,
            meta={"period_start": "2025-01-01", "period_end": "2025-12-31", "methodology": SCRIPT},
        ),
        "mini.ops.live": AnswerData(value="none", comment=SCRIPT),
    }
    assessment = make.submitted(org, admin, answers=answers, methodology="standard@test.1")
    for path in ("transparency.html", "action-plan.html"):
        html = client.get(f"/assessments/{assessment.id}/{path}").get_data(as_text=True)
        assert "<script" not in html, path
    for path in ("transparency.pdf", "action-plan.pdf"):
        response = client.get(f"/assessments/{assessment.id}/{path}")
        assert response.status_code == 200 and response.data.startswith(b"%PDF")
    page = client.get(f"/assessments/{assessment.id}/transparency").get_data(as_text=True)
    assert "<script>alert" not in page


def test_open_actions_carry_forward_to_the_next_cycle(client, company, make, session):
    org, admin = company
    previous = make.submitted(org, admin, cycle=2025, answers=gapped_answers(make), methodology="standard@test.1")
    session.add(
        ActionTracking(
            assessment_id=previous.id,
            item_id="mini.ops.live",
            owner="Ana",
            status="in_progress",
            title="Live",
            question_ids=["mini.ops.live"],
        )
    )
    session.add(
        ActionTracking(
            assessment_id=previous.id,
            item_id="policy",
            owner="Ben",
            status="done",
            title="Policy",
            question_ids=["mini.policy.exists"],
        )
    )
    session.commit()
    Forms(client).post("/assessments/new", {"cycle": "2026", "prefill_from": str(previous.id)}, page="/assessments/")
    current = session.exec(select(Assessment).where(Assessment.cycle == 2026)).one()
    carried = session.exec(select(ActionTracking).where(ActionTracking.assessment_id == current.id)).all()
    assert [(r.item_id, r.owner, r.status) for r in carried] == [("mini.ops.live", "Ana", "in_progress")]
    assert carried[0].carried_from_id is not None
    # Close the policy gaps in the new cycle: the plan says which closed.
    make.answer(current, admin, {"mini.policy.exists": "yes", "mini.policy.scope": ["online", "staff"]})
    page = client.get(f"/assessments/{current.id}/action-plan").get_data(as_text=True)
    since = page.split("Since the 2025 assessment")[1].split("</section>")[0]
    closed = since.split("Closed:")[1].split("Still open:")[0]
    assert "Adopt a safeguarding policy that covers online protection" in closed
    assert "Still open:" in since


def test_cli_reports(client, company, make, tmp_path):
    org, admin = company
    assessment = make.submitted(org, admin, answers=gapped_answers(make), methodology="standard@test.1")
    exported = tmp_path / "a.json"
    exported.write_bytes(client.get(f"/assessments/{assessment.id}/export.json").data)
    runner = CliRunner()
    for kind, fmt in (
        ("action-plan", "md"),
        ("action-plan", "csv"),
        ("action-plan", "pdf"),
        ("transparency", "html"),
        ("transparency", "pdf"),
    ):
        out = tmp_path / f"{kind}.{fmt}"
        result = runner.invoke(
            cli, ["--content", str(FIXTURE_CONTENT), "report", kind, str(exported), "--format", fmt, "-o", str(out)]
        )
        assert result.exit_code == 0, result.output
        assert out.stat().st_size > 200
    assert "Adopt a safeguarding policy" in (tmp_path / "action-plan.md").read_text()
    assert pdf_text((tmp_path / "action-plan.pdf").read_bytes()).count("Selat Streams") >= 1
    # The CLI keeps the scores frozen in a submitted file.
    web = client.get(f"/assessments/{assessment.id}/action-plan.csv").get_data(as_text=True)
    assert (tmp_path / "action-plan.csv").read_text() == web
    bad = runner.invoke(
        cli,
        [
            "--content",
            str(FIXTURE_CONTENT),
            "report",
            "transparency",
            str(exported),
            "--format",
            "csv",
            "-o",
            str(tmp_path / "x"),
        ],
    )
    assert bad.exit_code == 2

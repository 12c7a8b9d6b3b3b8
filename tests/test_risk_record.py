"""The written record of the children's risk assessment (issue 14): its content from a register
as plain data, the `dd-toolkit report risk-assessment` command in md, html and pdf, and the heat
map's data."""

from __future__ import annotations

import copy
import io
import json

import pypdf
import pytest
from click.testing import CliRunner

from dd_toolkit.cli import main as cli
from dd_toolkit.engine.actions import build_action_plan
from dd_toolkit.engine.content import AnswerData, Profile
from dd_toolkit.engine.registry import load_content
from dd_toolkit.engine.risk_record import NoRegister, build_heat_map, build_risk_record
from dd_toolkit.engine.scoring import score

from .conftest import REPO_ROOT

CONTENT = load_content(REPO_ROOT, "standard")
BANK = CONTENT.bank
METHOD = next(m for m in CONTENT.methodologies.values() if m.risk is not None)
RULES = METHOD.risk
FIXTURE = REPO_ROOT / "tests" / "fixtures" / "exports" / "2026.1-kitechat-draft-2026.json"

REGISTER = {
    "assessed_by": "Child-safety working group (trust and safety, product, legal)",
    "method": "Two workshops with the product teams, then a review by the head of trust and safety.",
    "sources": ["user_reports", "research", "children_consulted"],
    "started_at": "2026-09-01T09:00:00+00:00",
    "reviewed_at": "2026-10-15T12:00:00+00:00",
    "next_review_due": "2027-10-15",
    "reason": "significant_change",
    "change_note": "Voice rooms launched for all users.",
    "previous_assessment_id": None,
    "cells": [
        {
            "harm": "grooming",
            "age_group": "age_13_15",
            "likelihood": "likely",
            "likelihood_evidence": ["user_reports", "research"],
            "impact": "severe",
            "impact_evidence": ["incidents"],
            "controls": ["sbd.p2.dm_safeguards", "hrdd.act.csam_identification"],
            "residual": "medium",
            "rationale": "Message requests from strangers are held back for teens.",
            "owner": "Head of trust and safety",
            "updated_by": "ana@example.org",
            "updated_at": "2026-10-01T10:00:00+00:00",
        },
        {
            "harm": "grooming",
            "age_group": "age_16_17",
            "likelihood": "possible",
            "likelihood_evidence": ["children_consulted"],
            "impact": "severe",
            "impact_evidence": ["research"],
            "controls": [],
            "residual": "high",
            "rationale": "Older teens keep open messaging by default.",
            "owner": "",
            "updated_by": "ben@example.org",
            "updated_at": "2026-10-02T10:00:00+00:00",
        },
        {
            "harm": "grooming",
            "age_group": "age_0_5",
            "relevant": False,
            "not_relevant_reason": "Sign-up is closed to children under 13.",
            "owner": "",
            "updated_by": "ana@example.org",
            "updated_at": "2026-10-01T10:00:00+00:00",
        },
        {
            "harm": "csam",
            "age_group": "age_13_15",
            "likelihood": "unlikely",
            "likelihood_evidence": ["detection_data"],
            "impact": "severe",
            "impact_evidence": ["research"],
            "controls": ["hrdd.act.csam_identification"],
            "residual": "low",
            "rationale": "Known material is matched when it is uploaded.",
            "owner": "Safety engineering lead",
            "updated_by": "ana@example.org",
            "updated_at": "2026-10-01T10:00:00+00:00",
        },
    ],
}


def _inputs():
    raw = json.loads(FIXTURE.read_text())
    profile = Profile(**{k: raw["organisation"][k] for k in ("service_types", "features", "size_band")})
    answers = {
        qid: AnswerData(value=a.get("value"), not_applicable=a.get("not_applicable", False))
        for qid, a in raw["answers"].items()
    }
    card = score(BANK, METHOD, profile, answers)
    plan = build_action_plan(BANK, METHOD, profile, answers, card)
    return profile, answers, plan


def _record(register=REGISTER, tracking=None):
    profile, answers, plan = _inputs()
    return build_risk_record(
        BANK,
        METHOD,
        register,
        plan=plan,
        answers=answers,
        organisation_name="KiteChat",
        cycle=2026,
        profile=profile,
        tracking=tracking,
    )


def test_record_holds_every_rated_cell_with_its_evidence_controls_and_residual():
    record = _record()
    assert [f.harm.id for f in record.findings] == ["csam", "grooming"]  # taxonomy order
    grooming = record.findings[1]
    assert [c.age_group.id for c in grooming.cells] == ["age_0_5", "age_13_15", "age_16_17"]  # youngest first
    teen = grooming.rated[0]
    assert teen.likelihood.label == "Likely" and teen.impact.label == "Severe"
    assert [s.label for s in teen.likelihood_evidence] == ["User reports", "Research"]
    assert [s.label for s in teen.impact_evidence] == ["Incidents"]
    assert teen.level.id == "high"  # likely x severe, by the matrix
    assert teen.residual.label == "Medium"
    assert [c.question_id for c in teen.controls] == ["sbd.p2.dm_safeguards", "hrdd.act.csam_identification"]
    assert teen.controls[0].label == BANK.questions["sbd.p2.dm_safeguards"].text.get()
    assert teen.controls[1].answer.startswith("Level")  # the answer given in the assessment
    assert grooming.highest_residual.id == "high"
    assert [c.not_relevant_reason for c in grooming.not_relevant] == ["Sign-up is closed to children under 13."]
    assert record.rated_cells == 3 and record.not_relevant_cells == 1
    assert [s.id for s in record.sources] == ["user_reports", "research", "children_consulted"]
    # The features of the profile that raise grooming are named, with their reasons.
    assert "direct_messaging" in [f.id for f in grooming.factors]


def test_measures_come_from_addressed_by_with_their_owners():
    profile, answers, plan = _inputs()
    csam_questions = set(RULES.addressed_by["csam"])
    item = next(i for i in plan.items if csam_questions & set(i.question_ids))
    record = _record(tracking={item.id: {"owner": "Priya Tan", "due": "2027-01-31", "status": "in_progress"}})
    measures = record.findings[0].measures
    assert item.id in [m.id for m in measures]
    mine = next(m for m in measures if m.id == item.id)
    assert (mine.owner, mine.due, mine.status) == ("Priya Tan", "2027-01-31", "in_progress")


def test_markdown_record_shows_everything_the_issue_asks_for():
    from dd_toolkit.engine.reports import report_environment
    from dd_toolkit.engine.risk_record import render_risk_assessment_markdown

    text = render_risk_assessment_markdown(report_environment(REPO_ROOT), _record())
    for expected in (
        "Child-safety working group (trust and safety, product, legal)",  # who
        "1 September 2026",  # when it started
        "15 October 2026",  # when it was reviewed
        "a significant change to the service",
        "Voice rooms launched for all users.",
        "Two workshops with the product teams",  # how
        "Consultation with children",  # a source
        "Grooming, 13-15 years",
        "Likely, on the evidence of user reports, research",
        "Severe, on the evidence of incidents",
        "Message requests from strangers are held back for teens.",
        "`sbd.p2.dm_safeguards`",
        "Head of trust and safety",  # the cell's owner
        "Sign-up is closed to children under 13.",  # the not-relevant reason
        "15 October 2027",  # the next review
        "Measures that address this harm",
    ):
        assert expected in text, expected
    # Every rated cell appears with its residual and rationale.
    for cell in REGISTER["cells"]:
        if cell.get("relevant", True):
            assert cell["rationale"] in text
    # The summary table has a row per harm and a column per age group.
    assert "| Grooming | not relevant | Medium | High |" in text


def test_user_text_is_escaped():
    register = copy.deepcopy(REGISTER)
    register["method"] = "<script>alert(1)</script> [link](javascript:x)"
    register["cells"][0]["rationale"] = "*bold* | pipe"
    from dd_toolkit.engine.reports import report_environment
    from dd_toolkit.engine.risk_record import render_risk_assessment_markdown

    text = render_risk_assessment_markdown(report_environment(REPO_ROOT), _record(register))
    assert "<script>" not in text
    assert "\\*bold\\* \\| pipe" in text


def test_no_register_is_refused():
    with pytest.raises(NoRegister):
        _record(None)


def test_heat_map_data():
    heat = build_heat_map(BANK.taxonomy, RULES, REGISTER)
    assert [g.id for g in heat.age_groups] == ["age_0_5", "age_13_15", "age_16_17"]
    assert [r.harm for r in heat.rows] == ["csam", "grooming"]
    grooming = heat.rows[1]
    assert [(c.level, c.relevant, c.rated) for c in grooming.cells] == [
        (None, False, True),
        ("medium", True, True),
        ("high", True, True),
    ]
    assert [(c.level, c.rated) for c in heat.rows[0].cells] == [(None, False), ("low", True), (None, False)]
    assert heat.counts() == {"negligible": 0, "low": 1, "medium": 1, "high": 1}
    assert build_heat_map(BANK.taxonomy, RULES, None).empty


# -- the command line ------------------------------------------------------------------------------


@pytest.fixture
def register_file(tmp_path):
    data = json.loads(FIXTURE.read_text())
    data["risk_register"] = REGISTER
    path = tmp_path / "kitechat.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_cli_writes_the_record(register_file, tmp_path, fmt):
    out = tmp_path / f"record.{fmt}"
    result = CliRunner().invoke(cli, ["report", "risk-assessment", str(register_file), "--format", fmt, "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert "Children's risk assessment" in text or "Children&#39;s risk assessment" in text
    assert "Grooming, 13-15 years" in text
    assert "Sign-up is closed to children under 13." in text
    if fmt == "html":
        assert "<table>" in text and "<h1>" in text


def test_cli_writes_the_record_as_pdf(register_file, tmp_path):
    out = tmp_path / "record.pdf"
    result = CliRunner().invoke(
        cli, ["report", "risk-assessment", str(register_file), "--format", "pdf", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    text = " ".join(" ".join(p.extract_text().split()) for p in pypdf.PdfReader(io.BytesIO(out.read_bytes())).pages)
    for expected in (
        "Grooming, 13-15 years",
        "Sign-up is closed to children under 13.",
        "15 October 2027",
        "Head of trust and safety",
        "sbd.p2.dm_safeguards",
    ):
        assert expected in text, expected


def test_cli_says_clearly_when_the_file_has_no_register(tmp_path):
    result = CliRunner().invoke(
        cli, ["report", "risk-assessment", str(FIXTURE), "--format", "md", "-o", str(tmp_path / "x.md")]
    )
    assert result.exit_code != 0
    assert "no children's risk register" in result.output
    assert not (tmp_path / "x.md").exists()


# -- the transparency paragraph ------------------------------------------------------------------

# Words that would give an offender operational detail or point to a weakness: ratings and
# residual levels, thresholds and figures, detection specifics, and gaps still open.
FORBIDDEN = (
    "residual",
    "high",
    "medium",
    "low",
    "negligible",
    "likely",
    "threshold",
    "hash",
    "classifier",
    "keyword",
    "detect",
    "scan",
    "algorithm",
    "encrypt",
    "gap",
    "weakness",
    "not yet",
    "no control",
    "evade",
    "bypass",
    "%",
)


def _draft(register):
    from dd_toolkit.engine.reports import render_transparency_markdown, report_environment
    from dd_toolkit.engine.transparency import build_transparency_draft

    profile, answers, plan = _inputs()
    card = score(BANK, METHOD, profile, answers)
    draft = build_transparency_draft(
        BANK, METHOD, "KiteChat", 2026, profile, answers, card, plan, content_root=REPO_ROOT, register=register
    )
    return draft, render_transparency_markdown(report_environment(REPO_ROOT), draft)


def test_transparency_has_key_risks_only_with_a_register():
    without, text_without = _draft(None)
    assert without.key_risks is None
    assert "Key risks to children" not in text_without
    draft, text = _draft(REGISTER)
    assert draft.key_risks is not None
    assert "## Key risks to children and how we address them" in text
    paragraph = " ".join(draft.key_risks.sentences)
    # Grooming and CSAM rate high before the controls: the harm group is named with its ages.
    assert "sexual exploitation and abuse" in paragraph
    assert "13-15 years, 16-17 years" in paragraph
    assert "0-5 years" not in paragraph  # rated not relevant
    assert "harm children's health" not in paragraph  # no harmful-content cell in this register


def test_key_risks_carry_no_operational_detail():
    register = copy.deepcopy(REGISTER)
    register["cells"] += [
        {
            "harm": h,
            "age_group": "age_10_12",
            "likelihood": "likely",
            "likelihood_evidence": ["research"],
            "impact": "severe",
            "impact_evidence": ["research"],
            "controls": [],
            "residual": "high",
            "rationale": "The classifier misses 40% of cases; hash list not yet deployed.",
        }
        for h in ("self_harm", "loot_boxes", "sextortion")
    ]
    draft, _text = _draft(register)
    paragraph = " ".join(draft.key_risks.sentences).lower()
    for word in FORBIDDEN:
        assert word not in paragraph, word
    # Nothing the team typed reaches the public text, and no figure does.
    assert "classifier" not in paragraph and not any(
        ch.isdigit() for ch in paragraph.replace("10-12", "").replace("13-15", "").replace("16-17", "")
    )


def test_key_risks_without_a_key_risk_say_so():
    register = {
        "cells": [
            {
                "harm": "hate",
                "age_group": "age_16_17",
                "likelihood": "rare",
                "likelihood_evidence": ["research"],
                "impact": "minor",
                "impact_evidence": ["research"],
                "controls": [],
                "residual": "negligible",
                "rationale": "x",
            }
        ]
    }
    draft, _text = _draft(register)
    assert len(draft.key_risks.sentences) == 2
    assert "keep it under review" in draft.key_risks.sentences[1]


# -- in the browser: the download and the heat map on the results page -------------------------------


@pytest.fixture
def web_register(real_app):
    """A draft with the demo answers of Lumen Social and a register of two rated cells and one
    not-relevant cell, saved through the records; yields (client, assessment id, other id)."""
    from dd_toolkit.records import database
    from dd_toolkit.records import risk as records_risk
    from dd_toolkit.records.assessments import answer_rows

    from .conftest import AuthActions
    from .factories import Factory
    from .test_risk_register import _answered, _org

    content = real_app.extensions["dd_content"]
    with database.standalone_session(real_app.extensions["dd_engine"]) as db:
        make = Factory(db, content)
        org = _org(make)
        user = make.user(org)
        assessment = _answered(db, content, org, user=user)
        records_risk.start_register(db, assessment, user)
        records_risk.save_register_meta(
            db,
            assessment,
            user,
            {"assessed_by": "Safety team with the DPO", "method": "Workshop and data review", "sources": ["research"]},
            1,
            content=content,
        )
        answered = set(answer_rows(db, assessment.id))
        control = next(q for q in content.current_methodology.risk.addressed_by["grooming"] if q in answered)
        rated = {
            "likelihood": "likely",
            "likelihood_evidence": ["user_reports"],
            "impact": "severe",
            "impact_evidence": ["incidents"],
            "controls": [control],
            "residual": "high",
            "rationale": "Older teens can still be messaged by adults they do not know.",
            "owner": "Head of Trust and Safety",
        }
        records_risk.save_cell(db, assessment, user, "grooming", "age_16_17", rated, 0, content=content)
        records_risk.save_cell(
            db, assessment, user, "grooming", "age_13_15", {**rated, "residual": "medium"}, 0, content=content
        )
        records_risk.save_cell(
            db,
            assessment,
            user,
            "hate",
            "age_13_15",
            {"relevant": False, "not_relevant_reason": "Public posts are not offered to this age group."},
            0,
            content=content,
        )
        other = _answered(db, content, org, cycle=2025, user=user)
        db.commit()
        ids, email = (assessment.id, other.id), user.email
    client = real_app.test_client()
    AuthActions(client).login(email)
    return client, *ids, control


def test_browser_download_of_the_record(web_register):
    client, assessment_id, other_id, control = web_register
    text = client.get(f"/assessments/{assessment_id}/risk-assessment.md").get_data(as_text=True)
    for expected in (
        "Safety team with the DPO",
        "Grooming, 16-17 years",
        "Older teens can still be messaged by adults they do not know.",
        f"`{control}`",
        "Head of Trust and Safety",
        "Public posts are not offered to this age group.",
        "The next review of this assessment is due by",
    ):
        assert expected in text, expected
    pdf = client.get(f"/assessments/{assessment_id}/risk-assessment.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    pages = " ".join(" ".join(p.extract_text().split()) for p in pypdf.PdfReader(io.BytesIO(pdf.data)).pages)
    assert "Grooming, 16-17 years" in pages
    assert client.get(f"/assessments/{assessment_id}/risk-assessment.html").status_code == 200
    assert client.get(f"/assessments/{assessment_id}/risk-assessment.csv").status_code == 404
    assert client.get(f"/assessments/{other_id}/risk-assessment.md").status_code == 404  # no register


def test_results_page_shows_the_heat_map_and_its_table(web_register):
    client, assessment_id, other_id, _control = web_register
    page = client.get(f"/assessments/{assessment_id}/results").get_data(as_text=True)
    assert 'class="risk-heat-map"' in page
    assert '<th scope="row">Grooming</th>' in page
    assert '<td class="risk-high">High</td>' in page and '<td class="risk-medium">Medium</td>' in page
    assert "not relevant" in page
    # The alt text says what the picture shows, and its counts; the table holds the same data.
    assert "Rated cells by level: High 1, Medium 1, Low 0, Negligible 0." in page
    svg = client.get(f"/assessments/{assessment_id}/charts/risks.svg")
    assert svg.status_code == 200 and b"<svg" in svg.data and b"Grooming" in svg.data
    empty = client.get(f"/assessments/{other_id}/results").get_data(as_text=True)
    assert "risk register yet" in empty
    assert 'class="risk-heat-map"' not in empty
    assert client.get(f"/assessments/{other_id}/charts/risks.svg").status_code == 404


# -- the demo companies ------------------------------------------------------------------------------


def test_demo_companies_carry_realistic_registers(demo, real_app):
    from sqlmodel import select

    from dd_toolkit.engine.documents import risk_assessment_markdown
    from dd_toolkit.records.demo_registers import CELLS
    from dd_toolkit.records.models import Assessment, Organisation
    from dd_toolkit.records.plans import inputs_for

    content = real_app.extensions["dd_content"]
    for name in ("Lumen Social", "KiteChat"):
        org = demo.exec(select(Organisation).where(Organisation.name == name)).one()
        assessment = demo.exec(select(Assessment).where(Assessment.organisation_id == org.id)).first()
        inputs = inputs_for(demo, content, assessment)
        register = inputs.risk_register
        assert register is not None, name
        assert len(register["cells"]) == len(CELLS[name])
        assert register["assessed_by"] and register["method"] and register["sources"]
        rated = [c for c in register["cells"] if c.get("relevant", True)]
        assert all(c["controls"] for c in rated), name  # each rated cell links answered questions
        text = risk_assessment_markdown(inputs)
        for cell in rated:
            assert cell["rationale"][:40] in text
    lumen = demo.exec(select(Organisation).where(Organisation.name == "Lumen Social")).one()
    submitted = demo.exec(select(Assessment).where(Assessment.organisation_id == lumen.id)).first()
    assert not submitted.is_draft  # the register is frozen with Lumen's submission
    assert inputs_for(demo, content, submitted).risk_register["reviewed_at"]


# -- the working group's distribution ---------------------------------------------------------------


def _contribution(org, register, consent=True):
    from dd_toolkit.engine.disclosure import Contribution
    from dd_toolkit.engine.risk_record import risk_distribution_entry

    return Contribution(
        submission_id=org,
        organisation_id=org,
        cycle=2026,
        consent=consent,
        service_types=("social_network",),
        size_band="large",
        countries=("SG",),
        overall=50.0 + org,
        modules={},
        lenses={},
        indicators={},
        practices={},
        risks=risk_distribution_entry(register, RULES),
    )


def _one_cell(residual, relevant=True):
    cell = {"harm": "grooming", "age_group": "age_13_15", "residual": residual}
    if not relevant:
        cell = {"harm": "grooming", "age_group": "age_13_15", "relevant": False, "not_relevant_reason": "x"}
    return {"cells": [cell]}


def test_risk_distribution_entry():
    from dd_toolkit.engine.risk_record import risk_distribution_entry

    entry = risk_distribution_entry(REGISTER, RULES)
    assert entry["grooming/age_16_17/high"] is True and entry["grooming/age_16_17/medium"] is False
    assert entry["csam/age_13_15/low"] is True
    assert not any(key.startswith("grooming/age_0_5/") for key in entry)  # not relevant: no part
    assert risk_distribution_entry(None, RULES) == {}


def test_working_group_sees_the_distribution_only_under_the_disclosure_rules():
    from dd_toolkit.engine.disclosure import Rules, build_release

    def release(contributions):
        built = build_release(contributions, previous=None, rules=Rules(threshold=5), number=1, published_at="x")
        group = next(g for g in built.benchmarks[2026].groups if g.group_id == "all")
        return {m.metric: m for m in group.metrics if m.metric.startswith("risk:")}

    # Six consenting companies rated the cell: the distribution is shown, rounded as every share.
    levels = ["high", "high", "medium", "medium", "medium", "low"]
    shown = release([_contribution(i + 1, _one_cell(level)) for i, level in enumerate(levels)])
    high = shown["risk:grooming/age_13_15/high"]
    assert not high.suppressed and high.companies == 6 and high.share == pytest.approx(0.35)  # 2/6, to 5 %
    assert shown["risk:grooming/age_13_15/medium"].share == pytest.approx(0.5)
    # Four rated it (a fifth rated it not relevant, a sixth gave no consent): too few, withheld.
    few = [_contribution(i + 1, _one_cell(level)) for i, level in enumerate(levels[:4])]
    few += [_contribution(5, _one_cell("", relevant=False)), _contribution(6, _one_cell("high"), consent=False)]
    withheld = release(few)
    assert withheld and all(m.suppressed and m.share is None for m in withheld.values())


def test_key_risks_read_well_whichever_group_comes_first():
    register = {
        "cells": [
            {
                "harm": "self_harm",
                "age_group": "age_13_15",
                "likelihood": "likely",
                "impact": "serious",
                "residual": "medium",
            }
        ]
    }
    draft, _text = _draft(register)
    assert draft.key_risks.sentences[1].startswith("The risks that call for the most care include content")


def test_the_working_group_names_a_residual_risk_share_only_when_a_page_shows_it(real_app, monkeypatch):
    """A few hundred residual-risk shares exist (harm, age group, level); their labels are made
    when a page shows one, each naming its harm, its age group and its level."""
    from dd_toolkit.web.benchmarks import routes

    made = []
    real_gettext = routes._

    def counting(message, **values):
        made.append(message)
        return real_gettext(message, **values)

    monkeypatch.setattr(routes, "_", counting)
    with real_app.test_request_context():
        names = routes._metric_labels()
        assert made == ["Overall", "Companies"]  # no residual-risk share named yet
        label = names.get("risk:grooming/age_13_15/high", "?")
        assert "Grooming" in label and "13" in label and "High" in label
        assert names.get("risk:grooming/age_13_15/nonsense", "?") == "?"
        assert names.get("risk:unknown/age_13_15/high", "?") == "?"
        assert len(made) == 3 and names.get("risk:grooming/age_13_15/high") == label  # named once

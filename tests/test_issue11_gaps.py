"""Issue 11 (question bank and methodology 2027.1): the points an audit found unproven or
unfinished, each with the test that pins it.

- Questions an RPA indicator component or a named cap reads are core: under honest "not
  applicable" (2027.1) they refuse it, and validate-content says so when one does not.
- The changelog lists the ten largest weights before (2026.1) and after (2027.1), and the
  "after" list is the one the engine computes.
- Regulators see the confidence level beside the scores of a submission.
- A file exported under 2026.1 imports as a new draft end to end, not only parses.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner
from sqlmodel import select

from dd_toolkit.cli import main as cli
from dd_toolkit.engine import portable
from dd_toolkit.engine.content import AnswerData, ContentError, load_bank
from dd_toolkit.engine.content.conditions import leaves
from dd_toolkit.engine.registry import load_content
from dd_toolkit.engine.scoring import load_methodologies
from dd_toolkit.engine.scoring.engine import question_shares

from .conftest import REPO_ROOT

CONTENT = load_content(REPO_ROOT)
BANK = CONTENT.bank
NEW = CONTENT.methodology("standard@2027.1")
EXPORTS = REPO_ROOT / "tests" / "fixtures" / "exports"
LUMEN_2026 = EXPORTS / "2026.1-lumen-social-2025.json"
CHANGELOG = REPO_ROOT / "questionnaires" / "CHANGELOG.md"


def _questions_read(method) -> set[str]:
    rules = [c.when for i in method.indicators for c in i.components] + [c.when for c in method.caps]
    return {leaf.name for rule in rules for leaf in leaves(rule) if leaf.subject == "answer"}


# -- core questions refuse "not applicable" ---------------------------------------------------


def test_every_question_an_indicator_or_a_cap_reads_refuses_not_applicable():
    read = _questions_read(NEW)
    assert {"hrdd.policy.safeguarding_plan", "hrdd.act.suspicious_transactions_use"} <= read
    allowing = sorted(qid for qid in read if BANK.questions[qid].allow_not_applicable)
    assert allowing == []
    # An answer that tries it anyway (a forged form field, an API call) is refused.
    from dd_toolkit.engine.content.values import build_answer

    for qid in sorted(read):
        with pytest.raises(ValueError):
            build_answer(BANK.questions[qid], not_applicable=True, justification="Does not fit us.")


def test_validate_content_refuses_an_indicator_question_that_allows_not_applicable(tmp_path):
    root = tmp_path / "content"
    for folder in ("questionnaires", "scoring", "reports"):
        shutil.copytree(REPO_ROOT / folder, root / folder)
    path = root / "questionnaires" / "hrdd.yaml"
    text = path.read_text(encoding="utf-8")
    anchor = "      - id: hrdd.policy.safeguarding_plan\n"
    start = text.index(anchor)
    end = text.index("      - id: ", start + len(anchor))
    block = text[start:end]
    assert block.count("        allow_not_applicable: false\n") == 1
    path.write_text(text[:start] + block.replace("        allow_not_applicable: false\n", "") + text[end:])
    bank = load_bank(root)
    with pytest.raises(ContentError) as info:
        load_methodologies(root, bank)
    messages = [str(p) for p in info.value.problems]
    assert any("hrdd.policy.safeguarding_plan" in m and "not applicable" in m for m in messages), messages
    # The 2026.1 methodology leaves such answers out of its means and does not ask it.
    assert not any("standard.yaml" in m for m in messages), messages


def test_a_2026_1_not_applicable_on_a_now_core_indicator_question_still_imports():
    data = json.loads(LUMEN_2026.read_text(encoding="utf-8"))
    data.pop("submission", None)
    data.pop("score_card", None)
    data["answers"]["hrdd.policy.safeguarding_plan"].update(
        value=None, not_applicable=True, justification="Our plan sits in the group plan."
    )
    parsed = portable.parse_document(json.dumps(data).encode(), BANK)
    assert parsed.answers["hrdd.policy.safeguarding_plan"].not_applicable
    # Under 2027.1 it counts as not in place: the 7.4.1 plan is not met.
    card = CONTENT.methodology("standard@2027.1")
    from dd_toolkit.engine.scoring import score

    scored = score(BANK, card, parsed.profile, parsed.answers)
    result = next(i for i in scored.indicators if i.id == "RPA:7.4.1")
    assert result.applies and not result.met


def test_the_form_offers_no_not_applicable_on_indicator_questions(real):
    org = real.make.organisation()
    admin = real.make.user(org)
    assessment = real.make.assessment(org, admin)
    real.auth.login(admin.email)
    page = real.client.get(f"/assessments/{assessment.id}/sections/hrdd.policy").get_data(as_text=True)
    assert 'name="hrdd-policy-safeguarding_plan-value"' in page
    assert 'name="hrdd-policy-safeguarding_plan-not_applicable"' not in page
    assert 'name="hrdd-policy-commitment-not_applicable"' in page  # a question that may still be waived


# -- the ten largest weights, before and after ------------------------------------------------


def _changelog_table(title: str) -> list[tuple[str, str]]:
    text = CHANGELOG.read_text(encoding="utf-8")
    body = text.split(title, 1)[1]
    rows = re.findall(r"^\s*\| (\d+) \| `([\w.]+)` \| ([\d.]+)% \| `([\w.]+)` \| ([\d.]+)% \|$", body, re.MULTILINE)
    return rows[:10]


def test_the_changelog_lists_the_ten_largest_weights_before_and_after():
    rows = _changelog_table("Ten largest weights")
    assert [int(r[0]) for r in rows] == list(range(1, 11))
    parsed = portable.parse_document(LUMEN_2026.read_bytes(), BANK)
    after = question_shares(BANK, NEW, parsed.profile)[:10]
    assert [(r[3], r[4]) for r in rows] == [(q.question_id, f"{share * 100:.2f}") for q, share in after]
    # Before: the 2026.1 figures the issue measured.
    before = {r[1]: r[2] for r in rows}
    assert before["trust.policies.csea_definitions"] == "6.67"
    assert "hrdd.act.csam_reporting" not in before
    text = CHANGELOG.read_text(encoding="utf-8")
    assert "1.40%" in text  # reporting CSAM under 2026.1


# -- regulators see the confidence level ------------------------------------------------------


@pytest.fixture
def real(real_app):
    """Factories, a session and a signed-out client on the app with the real content."""
    from dd_toolkit.records import database as db

    from .conftest import AuthActions
    from .factories import Factory

    with db.standalone_session(real_app.extensions["dd_engine"]) as session:
        client = real_app.test_client()
        yield SimpleNamespace(
            make=Factory(session, real_app.extensions["dd_content"]),
            session=session,
            client=client,
            auth=AuthActions(client),
        )


def test_the_regulator_sees_confidence_beside_the_scores(real):
    from dd_toolkit.records.assessments import submit
    from dd_toolkit.records.models import PlatformRole, Recipient

    from .test_scoring_2027 import complete_answers, profile_of_org

    org = real.make.organisation(name="Evidence Co")
    admin = real.make.user(org)
    audited = AnswerData(value=4, meta={"evidence_strength": "audited"})
    answers = complete_answers(profile_of_org(org), **{"hrdd.act.csam_reporting": audited})
    assessment = real.make.assessment(org, admin, answers=answers)
    submission = submit(real.session, BANK, NEW, assessment, admin, jurisdictions=["SG"])
    card = json.loads(submission.snapshot)["score_card"]
    assert card["confidence"] in {"low", "medium", "high"}
    regulator = real.make.user(platform_role=PlatformRole.REGULATOR, jurisdictions=["SG"])
    real.auth.login(regulator.email)
    recipient = real.session.exec(select(Recipient).where(Recipient.submission_id == submission.id)).one()
    review = real.client.get(f"/review/{recipient.id}").get_data(as_text=True)
    labels = {level.id: level.label for level in NEW.confidence.levels}
    assert f"confidence: {labels[card['confidence']]}" in review
    # Beside the overall score and every module score.
    assert review.count('class="confidence confidence-') >= 1 + len(card["modules"])


# -- a 2026.1 file imports end to end ----------------------------------------------------------


@pytest.fixture
def run(database_url, tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("DD_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setattr("dd_toolkit.web.config.Config.DATABASE_URL", database_url)

    def invoke(*args):
        return CliRunner().invoke(cli, ["--content", str(REPO_ROOT), *args])

    return invoke


@pytest.mark.parametrize("path", sorted(EXPORTS.glob("2026.1-*.json")), ids=lambda p: p.stem)
def test_a_2026_1_export_imports_as_a_draft(run, path: Path, tmp_path):
    document = json.loads(path.read_text(encoding="utf-8"))
    name = document["organisation"]["name"]
    result = run("import-assessment", str(path), "--admin-email", "first@imported.example")
    assert result.exit_code == 0, result.output
    answered = len(portable.parse_document(path.read_bytes(), BANK).answers)
    assert f"imported {answered} answers" in result.output
    assert f"({name}, {document['assessment']['cycle']}, draft)" in result.output
    # The draft scores under 2027.1, and exports again with the 2027.1 bank versions.
    listed = run("list-assessments").output
    assessment_id = re.search(rf"^\s*(\d+)\s+{re.escape(name)}", listed, re.MULTILINE)[1]
    out = tmp_path / "again.json"
    assert run("export-assessment", assessment_id, "-o", str(out)).exit_code == 0
    again = json.loads(out.read_text(encoding="utf-8"))
    assert again["assessment"]["questionnaires"]["hrdd"] == "2027.1"
    scored = run("score", str(out))
    assert scored.exit_code == 0 and "standard@2027.1" in scored.output, scored.output


# -- coverage and confidence beside the framework scores too ----------------------------------


def test_every_framework_score_has_its_coverage_and_confidence():
    from dd_toolkit.engine.scoring import ScoreCard, score
    from dd_toolkit.engine.scoring.engine import best_answers

    from .test_scoring_2027 import SOCIAL

    answers = dict(best_answers(BANK))
    full = score(BANK, NEW, SOCIAL, answers)
    items = {item.ref: item for lens in full.lenses for item in lens.items}
    assert items and all(i.coverage == pytest.approx(1.0) for i in items.values() if i.score is not None)
    assert {i.confidence for i in items.values() if i.score is not None} == {"low"}  # all "stated"
    # A question on TRUST policies marked not applicable lowers that reference's coverage only.
    glossary = BANK.questions["trust.policies.csea_definitions"]
    assert "TRUST:policies" in glossary.refs
    answers[glossary.id] = AnswerData(not_applicable=True, justification="We publish no glossary.")
    answers["hrdd.act.csam_reporting"] = AnswerData(value=4, meta={"evidence_strength": "audited"})
    marked = score(BANK, NEW, SOCIAL, answers)
    after = {item.ref: item for lens in marked.lenses for item in lens.items}
    assert after["TRUST:policies"].coverage < 1.0
    assert after["SbD:2"].coverage == pytest.approx(1.0)
    # The card keeps them through its stored form, and an older stored card still reads.
    again = ScoreCard.from_dict(marked.to_dict())
    assert again.lenses[0].items[0].coverage == marked.lenses[0].items[0].coverage
    stored = marked.to_dict()
    for lens in stored["lenses"]:
        for item in lens["items"]:
            item.pop("coverage")
            item.pop("confidence")
    assert ScoreCard.from_dict(stored).lenses[0].items[0].coverage is None


def test_results_page_and_printed_summary_show_coverage_beside_framework_scores(real):
    from .test_scoring_2027 import complete_answers, profile_of_org

    org = real.make.organisation()
    admin = real.make.user(org)
    na = AnswerData(not_applicable=True, justification="We publish no glossary.")
    answers = complete_answers(profile_of_org(org), **{"trust.policies.csea_definitions": na})
    assessment = real.make.assessment(org, admin, answers=answers)
    real.auth.login(admin.email)
    page = real.client.get(f"/assessments/{assessment.id}/results").get_data(as_text=True)
    frameworks = page.split('id="lenses-heading"', 1)[1].split("</section>", 1)[0]
    references = sum(len(lens.refs) for lens in NEW.lenses)
    assert frameworks.count('class="coverage"') >= references - 3  # a reference no question earns has no score
    assert "confidence: Low" in frameworks
    html = real.client.get(f"/assessments/{assessment.id}/action-plan.html").get_data(as_text=True)
    summary = html.split('<section class="summary">')[1].split("</section>")[0]
    table = summary.split("<th>Framework reference</th>", 1)[1].split("</table>", 1)[0]
    assert "<th>Coverage</th><th>Confidence</th>" in table
    assert "<td>100 %</td>" in table and "<td>Low</td>" in table


# -- the two principles 2026.1 had lost are carried by two questions each ---------------------


def test_child_labour_and_decent_work_are_each_carried_by_two_questions():
    from dd_toolkit.engine.content import Profile
    from dd_toolkit.engine.content.coverage import coverage

    result = coverage(BANK)
    # 2026.1 had no Principle 2 (child labour) and gave its id to decent work: both are new in
    # meaning, so both need the same depth as a new reference.
    for ref in ("CRBP:2", "CRBP:3"):
        assert len(result[ref]) >= 2, (ref, result[ref])
    maker = Profile(service_types=("hardware_software",), size_band="large", under18_users="yes")
    shown = {qid for qid, ok in BANK.applicability(maker, {}).items() if ok}
    assert "services.device.supply_chain_labour" in shown
    social = Profile(service_types=("social_network",), size_band="large", under18_users="yes")
    assert not BANK.applicability(social, {})["services.device.supply_chain_labour"]


# -- the start-up path keeps the basics of the new harms ----------------------------------------


def test_a_start_up_used_by_children_is_asked_about_self_harm_eating_disorders_and_pornography():
    from dd_toolkit.engine.content import Profile

    startup = Profile(
        service_types=("social_network",),
        features=("user_uploads", "recommender"),
        size_band="startup",
        under18_users="yes",
    )
    shown = {qid for qid, ok in BANK.applicability(startup, {}).items() if ok}
    assert {"sbd.harms.self_harm", "sbd.harms.eating_disorders", "sbd.harms.pornography"} <= shown
    # Enterprise depth stays enterprise depth.
    assert not {"sbd.harms.dangerous_challenges", "sbd.design.persuasive_design"} & shown


# -- every harm has severity points -----------------------------------------------------------


def test_every_harm_has_severity_points_for_weights_and_priorities():
    from dd_toolkit.engine.scoring.engine import severity_points

    harms = set(BANK.taxonomy.ids("harms"))
    assert set(NEW.weights.severity.harms) == harms
    assert set(NEW.actions.harm_severity) == harms
    # Content that can cost a child's life weighs as grooming does, not as a question naming no harm.
    eating = BANK.questions["sbd.harms.eating_disorders"]
    assert eating.harms == ("eating_disorders",) and not eating.critical
    assert severity_points(eating, NEW, set()) == NEW.weights.severity.base + NEW.weights.severity.harms["grooming"]
    for harm in ("self_harm", "eating_disorders", "dangerous_challenges"):
        assert NEW.actions.harm_severity[harm] == NEW.actions.harm_severity["grooming"], harm

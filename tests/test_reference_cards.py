"""The national reference cards (questionnaires/_reference_cards.yaml): one card per ASEAN
Member State, every filled field sourced and dated, and the cards shown beside the questions on
reporting, law enforcement and remedy, and in the action plan, for the company's countries only."""

from __future__ import annotations

import datetime as dt
import shutil

import pytest
import yaml
from click.testing import CliRunner

from dd_toolkit.cli import main as cli
from dd_toolkit.engine.content import load_bank
from dd_toolkit.engine.content.reference_cards import (
    CARDS_FILE,
    FIELDS,
    ReferenceCardsError,
    load_reference_cards,
    parse_reference_cards,
)
from dd_toolkit.records import database as db

from . import factories
from .conftest import REPO_ROOT, AuthActions

QUESTIONNAIRES = REPO_ROOT / "questionnaires"
ASEAN = ("BN", "KH", "ID", "LA", "MY", "MM", "PH", "SG", "TH", "TL", "VN")


@pytest.fixture(scope="module")
def bank():
    return load_bank(REPO_ROOT)


@pytest.fixture(scope="module")
def cards(bank):
    taxonomy = bank.taxonomy
    return load_reference_cards(QUESTIONNAIRES, taxonomy.ids("countries"), taxonomy.asean_countries, bank.questions)


def test_every_asean_member_and_timor_leste_has_a_card(bank, cards):
    assert set(bank.taxonomy.asean_countries) == set(ASEAN)
    assert set(cards.cards) == set(ASEAN)
    for card in cards.cards.values():
        assert [f.name for f in card.fields] == list(FIELDS)


def test_every_filled_field_has_a_source_and_a_check_date(cards):
    sourced = 0
    for card in cards.cards.values():
        for field in card.fields:
            if field.to_verify:
                assert not field.sources and field.checked is None, (card.country, field.name)
                continue
            sourced += 1
            assert field.sources and all(s.document for s in field.sources), (card.country, field.name)
            assert isinstance(field.checked, dt.date) and field.checked <= dt.date.today()
    # What the two ASEAN documents name is in: APLE's hotline in Cambodia, Thailand's hotline.
    assert "APLE" in cards.cards["KH"].field("reporting").value
    assert "ThaiHotline" in cards.cards["TH"].field("reporting").value
    assert sourced >= 10


def test_the_listed_questions_are_those_on_reporting_law_enforcement_and_remedy(bank, cards):
    for qid in ("hrdd.act.csam_reporting", "hrdd.act.le_contact_point", "hrdd.remedy.support_referral"):
        assert qid in cards.questions and qid in bank.questions
    assert cards.questions["hrdd.remedy.support_referral"] == ("helpline",)


def _raw():
    return yaml.safe_load((QUESTIONNAIRES / CARDS_FILE).read_text(encoding="utf-8"))


def test_the_loader_refuses_a_filled_field_without_a_source():
    data = _raw()
    del data["cards"]["KH"]["helpline"]["sources"]
    with pytest.raises(ReferenceCardsError, match="KH: helpline: a filled field needs at least one source"):
        parse_reference_cards(data, required=ASEAN)


def test_the_loader_refuses_missing_dates_values_beside_to_verify_and_missing_cards():
    data = _raw()
    del data["cards"]["TH"]["laws"]["checked"]
    data["cards"]["BN"]["helpline"] = {"to_verify": True, "value": "A guessed number"}
    del data["cards"]["TL"]
    data["cards"]["XX"] = data["cards"]["LA"]
    with pytest.raises(ReferenceCardsError) as caught:
        parse_reference_cards(data, countries=[*ASEAN, "AU"], required=ASEAN)
    problems = "\n".join(caught.value.problems)
    assert "TH: laws: a filled field needs the date it was checked" in problems
    assert "BN: helpline: a field marked to_verify holds no value" in problems
    assert "no card for TL" in problems
    assert "XX: not a country id of the taxonomy" in problems


def test_validate_content_reports_the_cards_and_fails_on_a_broken_file(tmp_path):
    result = CliRunner().invoke(cli, ["--content", str(REPO_ROOT), "validate-content"])
    assert result.exit_code == 0, result.output
    assert "reference cards: 11 countries" in result.output and "to verify" in result.output
    root = tmp_path / "content"
    for folder in ("questionnaires", "scoring", "reports"):
        shutil.copytree(REPO_ROOT / folder, root / folder)
    data = _raw()
    del data["cards"]["KH"]["reporting"]["sources"]
    (root / "questionnaires" / CARDS_FILE).write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    broken = CliRunner().invoke(cli, ["--content", str(root), "validate-content"])
    assert broken.exit_code == 1
    assert "KH: reporting: a filled field needs at least one source" in broken.output


@pytest.fixture
def company(real_app):
    """A company operating in Cambodia and Thailand, signed in, with a draft assessment."""
    with db.standalone_session(real_app.extensions["dd_engine"]) as session:
        make = factories.Factory(session, real_app.extensions["dd_content"])
        org = make.organisation(name="Mekong Play", hq_country="TH", countries=["TH", "KH"])
        admin = make.user(org)
        assessment = make.assessment(org, admin)
        ids = assessment.id, admin.email
    client = real_app.test_client()
    AuthActions(client).login(ids[1])
    return client, ids[0], ids[1]


def test_a_reporting_question_shows_the_cards_of_the_company_countries_only(company):
    client, assessment_id, _email = company
    page = client.get(f"/assessments/{assessment_id}/sections/hrdd.act").get_data(as_text=True)
    article = page.split('id="q-hrdd-act-csam_reporting"', 1)[1].split("</article>", 1)[0]
    cards = article.split('class="reference-cards"', 1)[1]
    assert "<summary>Cambodia</summary>" in cards and "<summary>Thailand</summary>" in cards
    for other in ("Singapore", "Malaysia", "Indonesia", "Viet Nam", "Philippines"):
        assert f"<summary>{other}</summary>" not in cards
    assert "Internet Hotline Cambodia" in cards and "ThaiHotline" in cards
    assert "Checked on" in cards and 'datetime="2026-11-30"' in cards
    assert "To verify" in cards  # Cambodia's laws have no checked source yet
    assert "Child helpline" not in cards  # this question needs the reporting route and the laws only
    # A question without a tag shows no card.
    identification = page.split('id="q-hrdd-act-csam_identification"', 1)[1].split("</article>", 1)[0]
    assert "reference-cards" not in identification


def test_a_remedy_question_shows_the_helplines(company):
    client, assessment_id, _email = company
    page = client.get(f"/assessments/{assessment_id}/sections/hrdd.remedy").get_data(as_text=True)
    article = page.split('id="q-hrdd-remedy-support_referral"', 1)[1].split("</article>", 1)[0]
    assert "Child Helpline Cambodia" in article and "1280" in article
    assert "Regulator or ministry" not in article


def test_the_action_plan_lists_the_cards_of_the_company_countries(company):
    client, assessment_id, _email = company
    response = client.get(f"/assessments/{assessment_id}/action-plan.md")
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    section = text.split("## National contacts and laws", 1)[1]
    assert "### Cambodia" in section and "### Thailand" in section
    assert "### Singapore" not in section
    assert "Internet Hotline Cambodia" in section and "Checked on 30 November 2026" in section
    assert "**Main laws:** to verify." in section


@pytest.mark.browser
def test_the_cards_fit_a_390_pixel_phone_and_open_from_the_keyboard(real_app, company, tmp_path):
    from playwright.sync_api import sync_playwright

    from .conftest import serving
    from .test_browser import CHROMIUM_FLAGS, chromium_path

    _client, assessment_id, email = company
    with serving(real_app) as base:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
            page = browser.new_page(viewport={"width": 390, "height": 844})
            page.goto(f"{base}/auth/login")
            page.fill("input[name=email]", email)
            page.fill("input[name=password]", factories.PASSWORD)
            page.press("input[name=password]", "Enter")
            page.wait_for_load_state()
            page.goto(f"{base}/assessments/{assessment_id}/sections/hrdd.act")
            summary = page.locator("#q-hrdd-act-csam_reporting .reference-card summary", has_text="Cambodia")
            summary.focus()
            page.keyboard.press("Enter")  # a <details> opens from the keyboard
            card = page.locator("#q-hrdd-act-csam_reporting .reference-card", has_text="Cambodia")
            assert card.get_attribute("open") is not None
            assert card.locator("dd", has_text="run by the NGO Action Pour Les Enfants").is_visible()
            box = card.bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390
            assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling
            card.screenshot(path=str(tmp_path / "reference-card-390.png"))
            # Every card open, checked by axe-core (WCAG 2.2 A and AA) where `make page-checks` installed it.
            from .test_pages_checked import AXE, AXE_RUN, WCAG_TAGS

            if AXE.exists():
                page.evaluate("document.querySelectorAll('details.reference-card').forEach(d => d.open = true)")
                page.evaluate(AXE.read_text(encoding="utf-8"))
                assert page.evaluate(AXE_RUN, WCAG_TAGS) == []
            browser.close()

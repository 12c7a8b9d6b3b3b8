"""The engine's sentences (answers, targets, conditions, the reasons of indicators and caps) are
content words: a reader sees them in their own language, and a submitted score card keeps them in
English beside the parts they are worded from, whoever submitted it."""

from __future__ import annotations

import html
import json
import re

import pytest
from sqlmodel import select

from dd_toolkit.engine.content import AnswerType, content_language
from dd_toolkit.engine.scoring.engine import reason_in
from dd_toolkit.records.assessments import submit
from dd_toolkit.records.models import PlatformRole, Recipient, Submission

from . import factories

# English words the engine used to compose in Python, which a Thai reader must not meet.
ENGLISH = ("Level 2:", "Yes", "Partly", "Not met", "All components are met", "answered", "The answer to")


def _english_found(page: str) -> list[str]:
    text = html.unescape(re.sub(r"<[^>]+>", " ", page))
    return [word for word in ENGLISH if re.search(rf"(?<![A-Za-z]){re.escape(word)}(?![A-Za-z])", text)]


def _answers(bank, profile, overrides):
    """An answer to every question that applies: maturity questions at level 3, yes/partly/no
    questions alternately "yes" and "partial", other questions with a plain valid value."""
    answers: dict = {}
    for _round in range(10):
        before = len(answers)
        applicable = bank.applicability(profile, {q: _data(v) for q, v in answers.items()})
        for number, (qid, applies) in enumerate(applicable.items()):
            if not applies or qid in answers:
                continue
            question = bank.questions[qid]
            kind = question.type
            if qid in overrides:
                value = overrides[qid]
            elif kind is AnswerType.MATURITY:
                value = 3
            elif kind is AnswerType.YES_PARTIAL_NO:
                value = "yes" if number % 2 else "partial"
            elif kind is AnswerType.SINGLE:
                value = question.options[0].value
            elif kind is AnswerType.MULTI:
                value = [question.options[0].value]
            elif kind is AnswerType.NUMBER:
                value = int(question.minimum or 0) + 1
            elif kind is AnswerType.DATE:
                value = "2026-01-15"
            else:
                value = "Written down."
            answers[qid] = value
        if len(answers) == before:
            break
    return answers


def _data(value):
    from dd_toolkit.engine.content import AnswerData

    return AnswerData(value=value)


@pytest.fixture
def submitted_in_thai(real_app, demo):
    """A company whose admin reads Thai submits: a yes/partly/no and maturity answers, an indicator
    met and one not, a cap holding. Yields (the submission's recipient id, the admin, the regulator)."""
    make = factories.Factory(demo, real_app.extensions["dd_content"])
    content = real_app.extensions["dd_content"]
    bank, method = content.bank, content.current_methodology
    org = make.organisation(name="Chao Phraya Chat")
    admin = make.user(org)
    regulator = make.user(platform_role=PlatformRole.REGULATOR, jurisdictions=["SG"])
    profile = factories.FULL_PROFILE
    from dd_toolkit.engine.content import Profile

    # The cap on CSAM reporting holds and lowers the band (every other maturity answer is at level 3);
    # the indicator on CSAM is not met (its identification at level 2, its reporting at level 1).
    overrides = {"hrdd.act.csam_reporting": 1, "hrdd.act.csam_identification": 2}
    answers = _answers(bank, Profile(**{k: tuple(v) if isinstance(v, list) else v for k, v in profile.items()}), {})
    for indicator in method.indicators:  # lift every other indicator's questions to level 3: met
        if indicator.id == "RPA:7.2.1":
            continue
        for component in indicator.components:
            from dd_toolkit.engine.content.conditions import leaves

            for leaf in leaves(component.when):
                if leaf.subject == "answer" and bank.questions[leaf.name].type is AnswerType.MATURITY:
                    answers.setdefault(leaf.name, 3)
                    answers[leaf.name] = max(answers[leaf.name], 3)
                elif leaf.subject == "answer" and leaf.operator == "equals":
                    answers[leaf.name] = leaf.operand
    answers |= overrides
    assessment = make.assessment(org, admin, answers=answers)
    with content_language("th"):  # submitted from a page in Thai
        submit(demo, bank, method, assessment, admin, jurisdictions=["SG"])
    recipient = demo.exec(select(Recipient).join(Submission).where(Submission.assessment_id == assessment.id)).one()
    card = json.loads(demo.get(Submission, recipient.submission_id).snapshot)["score_card"]
    return {
        "recipient": recipient.id,
        "assessment": assessment.id,
        "admin": admin,
        "regulator": regulator,
        "card": card,
    }


def _page(real_app, email, url, language):
    from .conftest import csrf_token

    client = real_app.test_client()
    client.set_cookie("dd_language", language)
    token = csrf_token(client, "/auth/login")
    response = client.post("/auth/login", data={"email": email, "password": factories.PASSWORD, "csrf_token": token})
    assert response.status_code == 302
    page = client.get(url)
    assert page.status_code == 200, url
    return page.get_data(as_text=True)


def test_the_frozen_card_is_english_with_the_parts_its_reasons_are_worded_from(submitted_in_thai):
    card = submitted_in_thai["card"]
    indicators = {i["id"]: i for i in card["indicators"]}
    csam = indicators["RPA:7.2.1"]
    assert csam["met"] is False and csam["reason"].startswith("Not met: ")
    reporting = next(c for c in csam["components"] if c["id"] == "reporting")
    assert reporting["reason"].startswith('Not met: At least one of the following: The answer to "')
    assert "(answered Level 1: " in reporting["reason"]
    assert reporting["trace"]["group"] == "any" and reporting["trace"]["holds"] is False
    leaf = reporting["trace"]["items"][0]
    assert leaf == {
        "subject": "answer",
        "name": "hrdd.act.csam_reporting",
        "operator": "gte",
        "operand": 3,
        "holds": False,
        "value": 1,
    }
    assert any(i["met"] for i in card["indicators"]), "no indicator is met"
    cap = next(c for c in card["caps"] if c["id"] == "csam_not_reported")
    assert "csam_not_reported" in card["capped_by"]
    assert cap["reason"].startswith('"') and ": answered Level 1: " in cap["reason"]
    assert cap["answers_read"] == [{"question": "hrdd.act.csam_reporting", "state": "answered", "value": 1}]
    # Nothing Thai in what was frozen, though the submitter read Thai.
    assert not re.search("[\u0e00-\u0e7f]", json.dumps(card, ensure_ascii=False))


def test_a_thai_reader_sees_the_results_and_the_submission_in_thai(real_app, submitted_in_thai):
    results = f"/assessments/{submitted_in_thai['assessment']}/results"
    review = f"/review/{submitted_in_thai['recipient']}"
    admin, regulator = submitted_in_thai["admin"].email, submitted_in_thai["regulator"].email
    # The regulator's view: the review page and the pages of its sections of answers.
    sections = re.findall(r'href="(/review/\d+/sections/[^"#]+)"', _page(real_app, regulator, review, "en"))
    assert len(sections) > 1
    for email, url, more in ((admin, results, []), (regulator, review, sections)):
        pages = {page: _page(real_app, email, page, "th") for page in (url, *more)}
        for page, thai in pages.items():
            assert '<html lang="th"' in thai
            assert _english_found(thai) == [], page
        thai = "\n".join(pages.values())
        assert "ระดับ 1: " in thai  # the cap's answer, worded in Thai
        english = html.unescape("\n".join(_page(real_app, email, page, "en") for page in (url, *more)))
        # Read in English, the same card (frozen by a Thai reader) shows its English reasons.
        assert "answered Level 1: " in english and "Not met" in english and "Level 2:" in english
        found = set(_english_found(english))
        # The results explain each component; the regulator's view lists every answer.
        expected = {"Not met", "answered", "All components are met", "Level 2:"}
        expected |= {"The answer to"} if url == results else {"Yes", "Partly"}
        assert found >= expected, (url, found)


def test_reasons_are_worded_for_each_reader_and_old_cards_keep_their_english(real_app, submitted_in_thai):
    from dd_toolkit.engine.scoring import ScoreCard

    bank = real_app.extensions["dd_bank"]
    card = ScoreCard.from_dict(submitted_in_thai["card"])
    csam = next(i for i in card.indicators if i.id == "RPA:7.2.1")
    cap = next(c for c in card.caps if c.id == "csam_not_reported")
    reporting = next(c for c in csam.components if c.id == "reporting")
    for result in (csam, reporting, cap):
        assert reason_in(bank, result, "en") == result.reason  # worded again, the same English
        thai = reason_in(bank, result, "th")
        assert thai != result.reason and re.search("[\u0e00-\u0e7f]", thai)
        assert _english_found(thai) == []
    with content_language("th"):
        assert reason_in(bank, cap) == reason_in(bank, cap, "th")  # the reader's language by default

    # A card frozen before the parts were kept shows its English reason, in any language.
    old = dict(submitted_in_thai["card"])
    old["caps"] = [{k: v for k, v in c.items() if k != "answers_read"} for c in old["caps"]]
    old["indicators"] = [
        {
            **{k: v for k, v in i.items() if k != "trace"},
            "components": [{k: v for k, v in c.items() if k != "trace"} for c in i["components"]],
        }
        for i in old["indicators"]
    ]
    old_card = ScoreCard.from_dict(old)
    old_cap = next(c for c in old_card.caps if c.id == "csam_not_reported")
    old_reporting = next(
        c for i in old_card.indicators for c in i.components if c.id == "reporting" and i.id == "RPA:7.2.1"
    )
    assert old_cap.answers_read is None and old_reporting.trace is None
    assert reason_in(bank, old_cap, "th") == cap.reason
    assert reason_in(bank, old_reporting, "th") == reporting.reason
    # ... and so does one that names a question no longer in the bank.
    gone = ScoreCard.from_dict(
        {
            **submitted_in_thai["card"],
            "caps": [
                {**c, "answers_read": [{"question": "gone.q", "state": "no_answer", "value": None}]}
                for c in submitted_in_thai["card"]["caps"]
            ],
        }
    )
    assert reason_in(bank, gone.caps[0], "th") == gone.caps[0].reason


# -- the engine's sentences, without a page ------------------------------------------------------


def test_targets_and_conditions_are_worded_in_the_language_asked_for():
    from dd_toolkit.engine.actions import target_for
    from dd_toolkit.engine.content import load_bank
    from dd_toolkit.engine.content.conditions import parse_condition

    from .conftest import REPO_ROOT

    bank = load_bank(REPO_ROOT)
    words = bank.taxonomy.wording
    yes_no = next(q for q in bank.questions.values() if q.type is AnswerType.YES_PARTIAL_NO and q.is_scored)
    maturity = bank.questions["hrdd.act.csam_reporting"]
    assert target_for(yes_no, words, language="en") == "100 points: Yes"
    assert target_for(maturity, words, level=3, language="en").startswith("75 points: Level 3: ")
    assert target_for(yes_no, words, language="th") == "100 คะแนน: ใช่"
    assert target_for(maturity, words, level=3, language="th").startswith("75 คะแนน: ระดับ 3: ")

    condition = parse_condition(
        {
            "any": [
                {"answer": "hrdd.act.csam_reporting", "gte": 3},
                {"not": {"profile": "service_types", "includes": "gaming"}},
            ]
        }
    )
    for language in ("en", "th", "id", "vi"):
        described = [bank.describe_leaf(leaf, language) for leaf in (condition.items[0], condition.items[1].item)]
        heading = bank.heading("any", language)
        if language == "en":
            assert described[0].startswith('The answer to "') and described[0].endswith(" is at least level 3")
            assert described[1] == "The organisation's service types include Online gaming platform"
            assert heading == "At least one of the following:"
        else:
            assert all(_english_found(text) == [] for text in (*described, heading)), language
            assert "service types" not in described[1] and "include" not in described[1]

    # The "why is this shown" note of a question follows the reader's language.
    from dd_toolkit.engine.content import Profile

    qid = next(q for q, question in bank.questions.items() if question.applies_when is not None)

    def texts(explanation):
        yield explanation.text
        for child in explanation.children:
            yield from texts(child)

    with content_language("th"):
        reasons = bank.visibility(qid, Profile(), {}).reasons
    assert reasons and all(_english_found(text) == [] for r in reasons for text in texts(r))
    assert any(re.search("[\u0e00-\u0e7f]", text) for r in reasons for text in texts(r))


def test_a_number_answer_names_its_unit_in_the_readers_language():
    from dd_toolkit.engine.content import load_bank
    from dd_toolkit.engine.content.values import display_value

    from .conftest import REPO_ROOT

    bank = load_bank(REPO_ROOT)
    words, reports = bank.taxonomy.wording, bank.questions["trust.outcomes.reports_grooming"]
    assert display_value(reports, 1250, words, "en") == "1,250 reports"
    assert display_value(reports, 1250, words, "th") == "1,250 รายงาน"
    # Grouped as each language writes numbers.
    assert display_value(reports, 1250, words, "vi") == "1.250 báo cáo"
    assert display_value(reports, 1250, words, "id") == "1.250 laporan"
    assert display_value(reports, 12.5, words, "id") == "12,5 laporan"
    assert display_value(reports, 1e30, words, "en") == "1," + ",".join(["000"] * 10) + " reports"


def test_a_condition_on_a_harms_risk_names_the_level_by_its_label_in_the_readers_language():
    from dd_toolkit.engine.content.conditions import parse_condition
    from dd_toolkit.engine.registry import load_content

    from .conftest import REPO_ROOT

    bank = load_content(REPO_ROOT).bank
    leaf = parse_condition({"risk": "grooming", "at_least": "medium"})
    english = bank.describe_leaf(leaf, "en")
    assert "Medium" in english and "medium" not in english
    thai = bank.describe_leaf(leaf, "th")
    assert _english_found(thai) == [] and "Medium" not in thai and "medium" not in thai

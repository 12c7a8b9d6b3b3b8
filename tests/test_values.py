"""Answer values are checked and normalised the same way for forms and imports."""

import pytest
import yaml

from dd_toolkit.engine.content import load_bank
from dd_toolkit.engine.content.models import WORDING_KEYS, LocalText, Taxonomy
from dd_toolkit.engine.content.values import AnswerValueError, build_answer, display_value, normalise_value

from .conftest import FIXTURE_CONTENT

BANK = load_bank(FIXTURE_CONTENT)
Q = BANK.questions
# The fixture taxonomy, without its wording.
TAXONOMY = yaml.safe_load((FIXTURE_CONTENT / "questionnaires" / "_taxonomy.yaml").read_text(encoding="utf-8"))
del TAXONOMY["wording"]


@pytest.mark.parametrize(
    ("qid", "raw", "expected"),
    [
        ("mini.policy.owner", "3", 3),
        ("mini.policy.owner", 0, 0),
        ("mini.policy.exists", "partial", "partial"),
        ("mini.ops.live", "proactive", "proactive"),
        ("mini.policy.scope", ["staff", "online"], ["online", "staff"]),
        ("mini.ops.reports", "1,250", 1250),
        ("mini.ops.reports", 7.0, 7),
        ("mini.ops.notes", "  text  ", "text"),
        ("mini.policy.reviewed", "2026-02-03", "2026-02-03"),
        ("mini.policy.owner", "", None),
        ("mini.policy.scope", [], None),
    ],
)
def test_normalise(qid, raw, expected):
    assert normalise_value(Q[qid], raw) == expected


@pytest.mark.parametrize(
    ("qid", "raw", "message"),
    [
        ("mini.policy.owner", "5", "0 to 4"),
        ("mini.policy.owner", "high", "five levels"),
        ("mini.policy.exists", "maybe", "Yes, Partly or No"),
        ("mini.ops.live", "sometimes", "listed options"),
        ("mini.policy.scope", ["online", "pets"], r"Unknown option\(s\): pets"),
        ("mini.policy.scope", "online", "one or more"),
        ("mini.ops.reports", "12.5", "whole number"),
        ("mini.ops.reports", "-3", "at least 0"),
        ("mini.ops.reports", "nan", "finite"),
        ("mini.ops.reports", True, "Enter a number"),
        ("mini.ops.notes", "x" * 501, "under 500 characters"),
        ("mini.policy.reviewed", "03/02/2026", "YYYY-MM-DD"),
    ],
)
def test_rejects(qid, raw, message):
    with pytest.raises(AnswerValueError, match=message):
        normalise_value(Q[qid], raw)


def test_build_answer_parts():
    answer = build_answer(
        Q["mini.ops.reports"],
        value="40",
        comment=" c ",
        evidence=[{"url": " https://a.example/x ", "description": "d"}, {"url": "", "description": ""}],
        meta={"period_start": "2026-01-01", "period_end": "2026-12-31", "methodology": " m "},
    )
    assert answer.value == 40 and answer.comment == "c"
    assert [(e.url, e.description) for e in answer.evidence] == [("https://a.example/x", "d")]
    assert answer.meta == {"period_start": "2026-01-01", "period_end": "2026-12-31", "methodology": "m"}
    na = build_answer(Q["mini.policy.exists"], value="yes", not_applicable=True, justification="none")
    assert na.value is None and na.is_complete
    # A critical question is core: it cannot be marked not applicable (2027.1).
    with pytest.raises(AnswerValueError, match="cannot be marked not applicable"):
        build_answer(Q["mini.policy.owner"], value="2", not_applicable=True, justification="none")


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "data:text/html,x", "ftp://x.example", "//x.example", "https://"]
)
def test_evidence_links_are_web_links(url):
    with pytest.raises(AnswerValueError, match="http"):
        build_answer(Q["mini.policy.owner"], value=1, evidence=[{"url": url}])


def test_display_value():
    words = BANK.taxonomy.wording
    assert display_value(Q["mini.policy.owner"], 2, words) == "Level 2: A named person owns it in writing."
    assert display_value(Q["mini.policy.exists"], "partial", words) == "Partly"
    assert display_value(Q["mini.policy.scope"], ["online", "staff"], words) == "Online protection; Staff conduct"
    assert display_value(Q["mini.ops.reports"], 1250, words) == "1,250 reports"
    assert display_value(Q["mini.ops.notes"], None, words) == ""


def test_display_value_words_come_from_the_content():
    """The words around an answer are the taxonomy's wording, in the language asked for."""
    words = {
        **BANK.taxonomy.wording,
        "answer_level": LocalText.model_validate(
            {"en": "Level {level}: {descriptor}", "th": "ระดับ {level}: {descriptor}"}
        ),
        "answer_partial": LocalText.model_validate({"en": "Partly", "th": "บางส่วน"}),
        "answer_number": LocalText.model_validate({"en": "{number} {unit}", "th": "{unit} {number}"}),
    }
    assert display_value(Q["mini.policy.exists"], "partial", words, "th") == "บางส่วน"
    assert display_value(Q["mini.policy.owner"], 2, words, "th").startswith("ระดับ 2: ")
    assert display_value(Q["mini.ops.reports"], 1250, words, "th") == "reports 1,250"
    assert display_value(Q["mini.policy.exists"], "partial", words, "en") == "Partly"


def test_wording_is_checked_when_content_loads():
    """Every key the engine uses must be there, with exactly its placeholders."""
    words = {key: "x " + " ".join(f"{{{p}}}" for p in params) for key, params in WORDING_KEYS.items()}
    Taxonomy.model_validate({**TAXONOMY, "wording": words})
    with pytest.raises(ValueError, match="wording is missing answer_yes"):
        Taxonomy.model_validate({**TAXONOMY, "wording": {k: v for k, v in words.items() if k != "answer_yes"}})
    with pytest.raises(ValueError, match=r"answer_level \(en\) must use \{descriptor\}, \{level\}"):
        Taxonomy.model_validate({**TAXONOMY, "wording": {**words, "answer_level": "Level {n}"}})
    with pytest.raises(ValueError, match="keys the engine does not use: answer_maybe"):
        Taxonomy.model_validate({**TAXONOMY, "wording": {**words, "answer_maybe": "Maybe"}})

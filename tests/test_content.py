"""Loading and validating questionnaire content, and the applicability rules."""

import shutil
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from dd_toolkit.cli import main as cli
from dd_toolkit.engine.content import AnswerData, ContentError, Profile, load_bank
from dd_toolkit.engine.content.conditions import ConditionError, parse_condition

from .conftest import FIXTURE_CONTENT

FULL = Profile(
    service_types=("social_network", "payments"),
    features=("live_streaming", "payments"),
    under18_users="yes",
    size_band="medium",
)


@pytest.fixture(scope="module")
def mini():
    return load_bank(FIXTURE_CONTENT)


@pytest.fixture
def content_copy(tmp_path):
    target = tmp_path / "content"
    shutil.copytree(FIXTURE_CONTENT, target)
    return target


def write_module(root: Path, body: str) -> None:
    (root / "questionnaires" / "mini.yaml").write_text(textwrap.dedent(body), encoding="utf-8")


def problems_of(root: Path) -> list[str]:
    with pytest.raises(ContentError) as info:
        load_bank(root)
    return [str(p) for p in info.value.problems]


BASE_QUESTION = """\
id: mini
version: "1"
title: T
sections:
  - id: mini.s
    title: S
    questions:
      - id: mini.s.a
        type: yes_partial_no
        text: A?
        guidance: Why.
        partial_means: Half of it.
        refs: ["HRDD:1"]
        actions: {"no": [Do it.], partial: [Finish it.]}
"""


def test_fixture_content_loads(mini):
    assert len(mini.questions) == 8
    assert mini.versions() == {"mini": "test.1"}
    assert {q.type.value for q in mini.questions.values()} == {
        "maturity",
        "yes_partial_no",
        "single",
        "multi",
        "number",
        "text",
        "date",
    }


def test_a_content_folder_is_loaded_once_until_one_of_its_files_changes(content_copy):
    from dd_toolkit.engine.registry import load_content

    first = load_content(content_copy)
    assert load_content(content_copy) is first  # the next app or command in the process shares it
    module = content_copy / "questionnaires" / "mini.yaml"
    module.write_text(module.read_text(encoding="utf-8").replace("title:", "title: Changed", 1), encoding="utf-8")
    changed = load_content(content_copy)
    assert changed is not first
    assert changed.bank.questionnaires[0].title.get().startswith("Changed")


def test_yaml_syntax_error_names_file_and_line(content_copy):
    write_module(content_copy, "id: mini\nsections: [\n")
    (problem,) = problems_of(content_copy)
    assert problem.startswith("questionnaires/mini.yaml: not valid YAML (line")


@pytest.mark.parametrize(
    ("replacement", "expected"),
    [
        ("        type: maturity\n        levels: [a, b, c, d]\n", "exactly five level descriptors"),
        ("        type: maturity\n        levels: [a, b, c, d, a]\n", "must all be different"),
        ("        type: single\n        options: [{value: x, label: X, points: 1}]\n", "at least two options"),
        ("        type: number\n", "needs a 'unit'"),
        ("        type: sliders\n", "type: Input should be"),
    ],
)
def test_question_problems_name_file_question_and_problem(content_copy, replacement, expected):
    write_module(content_copy, BASE_QUESTION.replace("        type: yes_partial_no\n", replacement))
    problems = problems_of(content_copy)
    assert any(p.startswith("questionnaires/mini.yaml: mini.s.a: ") and expected in p for p in problems), problems


def test_unknown_reference_harm_and_function(content_copy):
    body = BASE_QUESTION.replace(
        'refs: ["HRDD:1"]', 'refs: ["HRDD:9"]\n        harms: [spam]\n        function: catering'
    )
    write_module(content_copy, body)
    problems = problems_of(content_copy)
    assert "questionnaires/mini.yaml: mini.s.a: unknown ref 'HRDD:9'" in problems
    assert "questionnaires/mini.yaml: mini.s.a: unknown harm 'spam'" in problems
    assert "questionnaires/mini.yaml: mini.s.a: unknown function 'catering'" in problems


def test_scored_question_needs_actions(content_copy):
    write_module(content_copy, BASE_QUESTION.replace('        actions: {"no": [Do it.], partial: [Finish it.]}\n', ""))
    assert any("recommended actions" in p for p in problems_of(content_copy))


def test_duplicate_ids_and_wrong_prefix(content_copy):
    body = BASE_QUESTION + textwrap.indent(
        textwrap.dedent("""\
        - id: mini.s.a
          type: text
          text: Again
          guidance: G
          refs: ["HRDD:1"]
        - id: other.b
          type: text
          text: B
          guidance: G
          refs: ["HRDD:1"]
        """),
        "      ",
    )
    write_module(content_copy, body)
    problems = problems_of(content_copy)
    assert any("mini.s.a: question id already used in questionnaires/mini.yaml" in p for p in problems)
    assert any("other.b: question ids in this file must start with 'mini.'" in p for p in problems)


def test_condition_on_unknown_question_and_profile_value(content_copy):
    body = BASE_QUESTION.replace(
        "        refs:",
        "        applies_when: {all: [{answer: mini.s.nothing, equals: 'yes'}, "
        "{profile: features, includes: teleportation}]}\n        refs:",
    )
    write_module(content_copy, body)
    problems = problems_of(content_copy)
    assert any("refers to unknown question 'mini.s.nothing'" in p for p in problems)
    assert any("unknown value(s) teleportation" in p for p in problems)


def test_condition_value_must_fit_the_question(content_copy):
    body = BASE_QUESTION + textwrap.indent(
        textwrap.dedent("""\
        - id: mini.s.b
          type: text
          text: B
          guidance: G
          refs: ["HRDD:1"]
          applies_when: {answer: mini.s.a, equals: maybe}
        """),
        "      ",
    )
    write_module(content_copy, body)
    assert any("uses value(s) maybe that question cannot take" in p for p in problems_of(content_copy))


def test_cycle_in_conditions_is_an_error(content_copy):
    body = BASE_QUESTION.replace(
        "        refs:", "        applies_when: {answer: mini.s.b, answered: true}\n        refs:"
    ) + textwrap.indent(
        textwrap.dedent("""\
        - id: mini.s.b
          type: text
          text: B
          guidance: G
          refs: ["HRDD:1"]
          applies_when: {answer: mini.s.a, equals: "yes"}
        """),
        "      ",
    )
    write_module(content_copy, body)
    problems = problems_of(content_copy)
    assert any("form a cycle: mini.s.a -> mini.s.b -> mini.s.a" in p for p in problems), problems


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"profile": "features"}, "exactly one operator"),
        ({"profile": "shoe_size", "equals": 3}, "unknown profile field"),
        ({"profile": "features", "equals": "x"}, "takes includes"),
        ({"answer": "a.b", "gte": "three"}, "needs a number"),
        ({"all": []}, "non-empty list"),
        ({"answer": "a.b", "includes_any": "x"}, "non-empty list"),
        ("eval('1')", "must be a mapping"),
    ],
)
def test_malformed_conditions(raw, message):
    with pytest.raises(ConditionError, match=message):
        parse_condition(raw)


def test_profile_conditions(mini):
    applies = mini.applicability(FULL, {})
    assert applies["mini.ops.live"] and applies["mini.ops.payments"]
    no_live = mini.applicability(Profile(under18_users="yes", service_types=("gaming",)), {})
    assert not no_live["mini.ops.live"]
    assert not no_live["mini.ops.payments"]
    # Payments as a feature (in-game purchases) is enough for the suspicious-transaction question.
    game_with_payments = Profile(under18_users="yes", service_types=("gaming",), features=("payments",))
    assert mini.applicability(game_with_payments, {})["mini.ops.payments"]


def test_section_condition_hides_every_question(mini):
    adults_only = mini.applicability(Profile(under18_users="no", features=("live_streaming",)), {})
    assert not any(adults_only[q] for q in ("mini.ops.live", "mini.ops.reports", "mini.ops.notes"))


def test_conditions_on_earlier_answers_chain(mini):
    assert not mini.applicability(FULL, {})["mini.policy.scope"]
    with_policy = {"mini.policy.exists": AnswerData("partial")}
    applies = mini.applicability(FULL, with_policy)
    assert applies["mini.policy.scope"] and not applies["mini.policy.reviewed"]
    chained = {**with_policy, "mini.policy.scope": AnswerData(["online"])}
    assert mini.applicability(FULL, chained)["mini.policy.reviewed"]
    # An answer on a question that no longer applies does not count.
    withdrawn = {**chained, "mini.policy.exists": AnswerData("no")}
    assert not mini.applicability(FULL, withdrawn)["mini.policy.reviewed"]
    # Not applicable is not an answer.
    na = {"mini.policy.exists": AnswerData(not_applicable=True, justification="n/a")}
    assert not mini.applicability(FULL, na)["mini.policy.scope"]


def test_not_and_numeric_conditions(mini):
    from dd_toolkit.engine.content.conditions import evaluate

    condition = parse_condition({"not": {"answer": "mini.policy.owner", "gte": 2}})
    assert evaluate(condition, lambda leaf: 1)
    assert not evaluate(condition, lambda leaf: 3)


def test_visibility_explains_why(mini):
    shown = mini.visibility("mini.ops.live", FULL, {})
    assert shown.applies
    texts = [r.text for r in shown.reasons]
    assert any("under-18 users is one of" in t for t in texts)
    assert "The organisation's product features include Live streaming or live video" in texts
    hidden = mini.visibility("mini.ops.payments", Profile(under18_users="yes"), {})
    assert not hidden.applies
    (section_reason, question_reason) = hidden.reasons
    assert section_reason.holds and not question_reason.holds
    assert [c.holds for c in question_reason.children] == [False, False]


def test_validate_content_cli(content_copy):
    runner = CliRunner()
    ok = runner.invoke(cli, ["--content", str(content_copy), "validate-content"])
    assert ok.exit_code == 0, ok.output
    assert "ok: 8 questions (5 scored)" in ok.output
    write_module(content_copy, BASE_QUESTION.replace('["HRDD:1"]', '["NOPE:1"]'))
    bad = runner.invoke(cli, ["--content", str(content_copy), "validate-content"])
    assert bad.exit_code == 1
    assert "error: questionnaires/mini.yaml: mini.s.a: unknown ref 'NOPE:1'" in bad.output


def test_validate_content_missing_folder(tmp_path):
    result = CliRunner().invoke(cli, ["--content", str(tmp_path), "validate-content"])
    assert result.exit_code == 1
    assert "questionnaires: folder not found" in result.output


def test_translations_fall_back_to_english(content_copy):
    body = BASE_QUESTION.replace("text: A?", "text: {en: 'Is there A?', th: 'มี A หรือไม่'}")
    write_module(content_copy, body)
    question = load_bank(content_copy).questions["mini.s.a"]
    assert question.text.get("th") == "มี A หรือไม่"
    assert question.text.get("vi") == "Is there A?"


@pytest.mark.parametrize(
    "raw",
    [
        {"answer": "q", "equals": "yes"},
        {"answer": "q", "equals": 2},
        {"answer": "q", "in": ["yes", 3]},
        {"answer": "q", "not_in": ["no", 1]},
        {"answer": "q", "includes": "a"},
        {"answer": "q", "includes_any": ["a", "b"]},
        {"answer": "q", "includes_all": ["a", "b"]},
        {"answer": "q", "gte": 2},
        {"answer": "q", "lte": 2.5},
        {"answer": "q", "answered": True},
        {"answer": "q", "answered": False},
    ],
)
@pytest.mark.parametrize("value", ["yes", "no", 2, 2.0, 3, "2", ["a"], ["a", "b"], [], None, True])
def test_compiled_conditions_decide_like_the_reference(raw, value):
    from dd_toolkit.engine.content.conditions import MISSING, compile_condition, evaluate

    condition = parse_condition(raw)
    for seen in (value, MISSING):
        lookup = lambda leaf, seen=seen: seen  # noqa: E731
        assert compile_condition(condition)(lookup) == evaluate(condition, lookup), (raw, seen)

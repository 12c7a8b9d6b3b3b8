"""Property-based tests (issue 12, build item 16): whatever the input, the condition language,
answer values, the portable file and the renderers either do their job or refuse with their own
error; none crashes, stalls or lets markup through."""

from __future__ import annotations

import json
import time

import cmarkgfm
import pytest
from cmarkgfm.cmark import Options
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from dd_toolkit.engine import portable
from dd_toolkit.engine.content import AnswerData, Profile
from dd_toolkit.engine.content.conditions import (
    MISSING,
    OPERATORS,
    PROFILE_FIELDS,
    ConditionError,
    compile_condition,
    evaluate,
    explain,
    parse_condition,
)
from dd_toolkit.engine.content.values import AnswerValueError, build_answer, normalise_value
from dd_toolkit.engine.registry import load_content
from dd_toolkit.engine.render import inert_markdown, markdown_html, user_markdown_html
from dd_toolkit.engine.reports import escape_text

from .conftest import FIXTURE_CONTENT
from .factories import FULL_PROFILE
from .markup import live_markup

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
BUDGET = 0.1  # seconds of CPU for one rendering


@pytest.fixture(scope="module")
def bank():
    return load_content(FIXTURE_CONTENT).bank


# Values as JSON or a form can carry them (numbers as a JSON file may hold them: 40 digits at
# most, see portable.MAX_NUMBER_DIGITS).
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**40), 10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["yes", "partial", "no", "3", "1e30", "2026-01-15", " 4 ", "Infinity", "\x00", "\ud800"]),
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


# -- the condition language ------------------------------------------------------------------

ANSWER_IDS = ("q.one", "q.two")
leaf_names = st.one_of(st.sampled_from([*PROFILE_FIELDS, *ANSWER_IDS, ""]), scalars)
leaves = st.builds(
    lambda subject, name, operator, operand: {subject: name, operator: operand},
    st.sampled_from(["profile", "answer", "other"]),
    leaf_names,
    st.sampled_from([*OPERATORS, "bogus"]),
    st.one_of(scalars, st.lists(scalars, max_size=3)),
)
raw_conditions = st.recursive(
    st.one_of(leaves, scalars),
    lambda children: st.one_of(
        st.builds(lambda items: {"all": items}, st.lists(children, max_size=3)),
        st.builds(lambda items: {"any": items}, st.lists(children, max_size=3)),
        st.builds(lambda item: {"not": item}, children),
        st.builds(lambda name: {"condition": name}, scalars),
        st.dictionaries(st.sampled_from(["all", "any", "not", "profile", "answer", "equals", "in"]), children),
    ),
    max_leaves=15,
)
# What a lookup returns: canonical answer values and profile fields (never NaN: values.py
# refuses it), or MISSING.
lookup_values = st.one_of(
    st.just(MISSING),
    st.none(),
    st.booleans(),
    st.integers(-(10**15), 10**15),
    st.floats(allow_nan=False),
    st.text(max_size=6),
    st.lists(st.text(max_size=6), max_size=3),
)


@SETTINGS
@given(raw=raw_conditions, values=st.dictionaries(st.sampled_from([*PROFILE_FIELDS, *ANSWER_IDS]), lookup_values))
def test_conditions_parse_and_evaluate_or_raise_condition_error(raw, values):
    try:
        condition = parse_condition(raw)
    except ConditionError:
        return
    lookup = lambda leaf: values.get(leaf.name, MISSING)  # noqa: E731
    decided = evaluate(condition, lookup)
    assert isinstance(decided, bool)
    assert compile_condition(condition)(lookup) == decided
    assert explain(condition, lookup, lambda leaf: leaf.name).holds == decided


# -- answer values ---------------------------------------------------------------------------


@SETTINGS
@given(data=st.data(), value=json_values)
def test_any_value_is_canonical_or_refused(bank, data, value):
    question = bank.questions[data.draw(st.sampled_from(sorted(bank.questions)))]
    try:
        canonical = normalise_value(question, value)
    except AnswerValueError as exc:
        assert str(exc)
        return
    # The canonical value is stable, storable and means the same when read back.
    assert normalise_value(question, canonical) == canonical
    json.loads(json.dumps(canonical, allow_nan=False))
    if isinstance(canonical, str):
        canonical.encode("utf-8")
        assert "\x00" not in canonical


@SETTINGS
@given(
    data=st.data(),
    value=json_values,
    not_applicable=st.booleans(),
    texts=st.lists(st.one_of(st.text(max_size=20), st.sampled_from(["a\x00b", "\ud800", " "])), min_size=4, max_size=4),
    meta=st.dictionaries(st.sampled_from(["period_start", "period_end", "methodology", "evidence_strength"]), scalars),
)
def test_any_answer_builds_or_is_refused(bank, data, value, not_applicable, texts, meta):
    question = bank.questions[data.draw(st.sampled_from(sorted(bank.questions)))]
    justification, comment, url, description = texts
    try:
        answer = build_answer(
            question,
            value=value,
            not_applicable=not_applicable,
            justification=justification,
            comment=comment,
            evidence=[{"url": url, "description": description}],
            meta=meta,
        )
    except AnswerValueError as exc:
        assert str(exc)
        return
    assert isinstance(answer, AnswerData)
    stored = json.dumps(portable.answer_fields(answer), allow_nan=False)
    assert "\\u0000" not in stored
    stored.encode("utf-8")


# -- the portable file -----------------------------------------------------------------------

COMPLETE = {
    "mini.policy.owner": 3,
    "mini.policy.exists": "yes",
    "mini.policy.scope": ["online", "staff"],
    "mini.policy.reviewed": "2026-01-15",
    "mini.ops.live": "reactive",
    "mini.ops.reports": 120,
    "mini.ops.notes": "Escalations go to the child safety lead within one hour.",
    "mini.ops.payments": "partial",
}


def valid_document(bank) -> dict:
    profile = Profile(
        service_types=tuple(FULL_PROFILE["service_types"]),
        features=tuple(FULL_PROFILE["features"]),
        countries=tuple(FULL_PROFILE["countries"]),
        size_band=FULL_PROFILE["size_band"],
        under18_users=FULL_PROFILE["under18_users"],
        hq_country=FULL_PROFILE["hq_country"],
    )
    answers = {
        qid: portable.answer_to_json(build_answer(bank.questions[qid], value=value), None, None)
        for qid, value in COMPLETE.items()
    }
    return {
        "format": portable.FORMAT,
        "format_version": portable.FORMAT_VERSION,
        "organisation": portable.profile_to_json("Lumen Social", profile, "A social network."),
        "assessment": {"cycle": 2026, "version": 1, "status": "draft", "questionnaires": bank.versions()},
        "answers": answers,
    }


def test_the_valid_document_imports(bank):
    parsed = portable.parse_document(json.dumps(valid_document(bank)), bank)
    assert len(parsed.answers) == len(COMPLETE)


def _mutate(data: st.DataObject, node):
    """Replace, delete or add one thing somewhere in the tree (a copy)."""
    if isinstance(node, dict) and node and data.draw(st.booleans()):
        key = data.draw(st.sampled_from(sorted(node)))
        copy = dict(node)
        action = data.draw(st.sampled_from(["descend", "replace", "delete", "add"]))
        if action == "descend":
            copy[key] = _mutate(data, node[key])
        elif action == "replace":
            copy[key] = data.draw(json_values)
        elif action == "delete":
            del copy[key]
        else:
            copy[data.draw(st.text(max_size=8))] = data.draw(json_values)
        return copy
    if isinstance(node, list) and node and data.draw(st.booleans()):
        index = data.draw(st.integers(0, len(node) - 1))
        copy = list(node)
        copy[index] = _mutate(data, node[index])
        return copy
    return data.draw(json_values)


def _accepted_whole_or_refused(raw, bank, document=None):
    try:
        parsed = portable.parse_document(raw, bank)
    except portable.ImportError_ as exc:
        assert exc.problems and all(isinstance(p, str) and p for p in exc.problems)
        return
    assert isinstance(parsed, portable.ParsedDocument)
    if isinstance(document, dict) and isinstance(document.get("answers"), dict):
        assert len(parsed.answers) == len(document["answers"])  # none dropped on the way


@SETTINGS
@given(data=st.data())
def test_any_mutation_of_the_file_is_imported_whole_or_refused(bank, data):
    document = _mutate(data, valid_document(bank))
    raw = json.dumps(document, ensure_ascii=data.draw(st.booleans()))
    _accepted_whole_or_refused(raw.encode("utf-8", "surrogatepass"), bank, document)


@SETTINGS
@given(data=st.data())
def test_any_byte_edit_of_the_file_is_imported_whole_or_refused(bank, data):
    raw = bytearray(json.dumps(valid_document(bank)).encode())
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(raw) - 1))
        action = data.draw(st.sampled_from(["delete", "insert", "replace"]))
        chunk = data.draw(st.binary(min_size=1, max_size=6))
        if action == "delete":
            del raw[position : position + len(chunk)]
        elif action == "insert":
            raw[position:position] = chunk
        else:
            raw[position : position + len(chunk)] = chunk
        assume(raw)
    _accepted_whole_or_refused(bytes(raw), bank)


# -- the renderers ---------------------------------------------------------------------------

FRAGMENTS = [
    "[",
    "]",
    "(",
    ")",
    "!",
    "*",
    "_",
    "`",
    "```",
    "<",
    ">",
    "&",
    "#",
    ";",
    ":",
    "\\",
    "\n",
    "\n\n",
    "    ",
    " ",
    "|",
    "-",
    "=",
    "~",
    '"',
    "'",
    "javascript:",
    "JaVaScRiPt:",
    "java",
    "script",
    "&#58;",
    "&#x3a;",
    "&colon;",
    "&#106;",
    "data:",
    "vbscript:",
    "<script>",
    "</script>",
    "<img src=x onerror=alert(1)>",
    "<svg onload=alert(1)>",
    "<a href=",
    "onerror=",
    "http://a.example",
    "&lt;",
    "<!--",
    "-->",
    "<?",
    "<![CDATA[",
    "> ",
    "1. ",
    "- ",
    "[a]: ",
    "a",
    "b",
]
user_texts = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=3)), max_size=150).map("".join)


def _within_budget(render, text):
    start = time.process_time()
    html = str(render(text))
    assert time.process_time() - start < BUDGET
    return html


@SETTINGS
@given(text=user_texts)
def test_any_user_text_renders_within_budget_and_never_as_markup(text):
    from dd_toolkit.engine.render import _user_markdown_to_html  # uncached

    assert live_markup(_within_budget(_user_markdown_to_html, text)) == []
    assert live_markup(_within_budget(user_markdown_html, escape_text(text, multiline=True))) == []
    assert live_markup(str(markdown_html(escape_text(text)))) == []


@SETTINGS
@given(text=user_texts)
def test_the_markdown_export_is_inert_even_for_a_renderer_that_does_not_sanitise(text):
    inert = inert_markdown(text)
    unsafe = cmarkgfm.markdown_to_html_with_extensions(inert, options=Options.CMARK_OPT_UNSAFE, extensions=["table"])
    assert live_markup(unsafe) == [], inert


@SETTINGS
@given(text=user_texts)
def test_content_markdown_never_renders_as_markup(text):
    assert live_markup(str(markdown_html(text))) == []

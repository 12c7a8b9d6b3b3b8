"""Check and normalise answer values by question type.

One function serves the web form, the JSON import and the tests, so an answer means the
same thing whichever way it arrived.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlparse

from babel.numbers import format_decimal

from dd_toolkit.engine.content.answers import AnswerData, Evidence
from dd_toolkit.engine.content.models import (
    YES_PARTIAL_NO_CHOICES,
    AnswerType,
    LocalText,
    Question,
    reading_language,
    say,
)
from dd_toolkit.engine.text import N_, Message

MAX_EVIDENCE = 20
MAX_SHORT_TEXT = 5000
# A language code (ISO 639-1 or -3): the language the answer's own words were written in.
_LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}$")
# The largest number any metric takes, whatever its question's own range: far above any count
# a company reports, and small enough that sums, changes and percentages stay exact.
MAX_NUMBER = 10**15
# The longest number typed as text ("1,250,000.5" and the like).
MAX_NUMBER_TEXT = 40


class AnswerValueError(ValueError):
    """A value does not fit its question; the message is written for the person who typed it.

    Raised with a marked template and its parameters, ``AnswerValueError(N_("... %(minimum)s."),
    minimum=0)``: ``str(exc)`` is the English filled in, ``.message`` the template (the catalogue's
    msgid) and ``.params`` the parameters, and ``.text`` the :class:`Message` for the web to translate.
    """

    def __init__(self, message: str, **params: Any):
        text = Message(message, **params)
        super().__init__(text)
        self.text = text
        self.message = text.message
        self.params = text.params


def normalise_value(question: Question, value: Any) -> Any:
    """Return the canonical value, or None for "no answer"; raise AnswerValueError otherwise."""
    if value is None or value == "" or value == []:
        return None
    kind = question.type
    if kind is AnswerType.MATURITY:
        return _level(value)
    if kind is AnswerType.YES_PARTIAL_NO:
        if value not in YES_PARTIAL_NO_CHOICES:
            raise AnswerValueError(N_("Choose Yes, Partly or No."))
        return value
    if kind is AnswerType.SINGLE:
        allowed = [o.value for o in question.options]
        if value not in allowed:
            raise AnswerValueError(N_("Choose one of the listed options."))
        return value
    if kind is AnswerType.MULTI:
        if not isinstance(value, list | tuple):
            raise AnswerValueError(N_("Choose one or more of the listed options."))
        allowed = [o.value for o in question.options]
        unknown = [v for v in value if v not in allowed]
        if unknown:
            raise AnswerValueError(N_("Unknown option(s): %(options)s."), options=", ".join(map(str, unknown)))
        # Keep the questionnaire's order so equal answers compare equal.
        return [v for v in allowed if v in value]
    if kind is AnswerType.NUMBER:
        return _number(question, value)
    if kind is AnswerType.TEXT:
        if not isinstance(value, str):
            raise AnswerValueError(N_("Enter text."))
        _no_nul(value)
        text = value.strip()
        if len(text) > question.max_length:
            raise AnswerValueError(
                N_("Keep this under %(limit)s characters (now %(length)s)."),
                limit=question.max_length,
                length=len(text),
            )
        return text or None
    if kind is AnswerType.DATE:
        return _date(value)
    raise AnswerValueError(f"Unsupported answer type {kind}.")  # pragma: no cover


def _unstorable(text: str) -> bool:
    """A NUL character (which PostgreSQL cannot store) or half a UTF-16 pair (which no database
    can): never typed by a person, only by a script or a broken file."""
    if "\x00" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


# One message for each thing that may hold a NUL, so each reads whole in every language.
_NUL_IN = {
    "text": N_("Remove the NUL or invalid character from the text."),
    "link": N_("Remove the NUL or invalid character from the link."),
}


def _no_nul(text: str, what: str = "text") -> None:
    if _unstorable(text):
        raise AnswerValueError(_NUL_IN[what])


def _level(value: Any) -> int:
    """A maturity level 0-4: an int, a whole float or the digit typed; never a yes/no value."""
    if isinstance(value, bool):
        raise AnswerValueError(N_("Choose one of the five levels."))
    if isinstance(value, str):
        value = value.strip()
        if not (len(value) == 1 and value in "01234"):
            raise AnswerValueError(N_("Choose one of the five levels (0 to 4)."))
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise AnswerValueError(N_("Choose one of the five levels (0 to 4)."))
        value = int(value)
    if not isinstance(value, int):
        raise AnswerValueError(N_("Choose one of the five levels."))
    if not 0 <= value <= 4:
        raise AnswerValueError(N_("Choose one of the five levels (0 to 4)."))
    return int(value)


def _number(question: Question, value: Any) -> int | float:
    if isinstance(value, bool):
        raise AnswerValueError(N_("Enter a number."))
    if isinstance(value, str) and len(value.strip()) > MAX_NUMBER_TEXT:
        raise AnswerValueError(N_("Enter a number of at most %(limit)s characters."), limit=MAX_NUMBER_TEXT)
    if isinstance(value, int) and abs(value) > MAX_NUMBER:
        raise AnswerValueError(N_("Enter a number no larger than %(maximum)s."), maximum=MAX_NUMBER)
    if isinstance(value, str):
        number = _number_text(value)
    else:
        try:
            number = float(value)
        except (TypeError, ValueError, OverflowError):
            raise AnswerValueError(N_("Enter a number, for example 1250 or 12.5.")) from None
    if math.isnan(number) or math.isinf(number):
        raise AnswerValueError(N_("Enter a finite number."))
    if abs(number) > MAX_NUMBER:
        raise AnswerValueError(N_("Enter a number no larger than %(maximum)s."), maximum=MAX_NUMBER)
    if question.integer and not number.is_integer():
        raise AnswerValueError(N_("Enter a whole number."))
    if question.minimum is not None and number < question.minimum:
        raise AnswerValueError(N_("Enter a number of at least %(minimum)s."), minimum=_fmt(question.minimum))
    if question.maximum is not None and number > question.maximum:
        raise AnswerValueError(N_("Enter a number of at most %(maximum)s."), maximum=_fmt(question.maximum))
    return int(number) if number.is_integer() else number


# A number as a person types it: digits (ASCII only), thousands commas, a decimal point, a sign.
# Python's float() also takes "1e3", "inf", "nan", "1_000" and other scripts' digits, which a
# form must refuse rather than silently read as something else.
_NUMBER_TEXT = re.compile(r"[+-]?(?:[0-9][0-9,]*(?:\.[0-9]+)?|\.[0-9]+)")
_EXPONENT_TEXT = re.compile(r"[+-]?(?:[0-9][0-9,]*\.?[0-9]*|\.[0-9]+)[eE][+-]?[0-9]+")


def _number_text(value: str) -> float:
    text = value.strip()
    if _NUMBER_TEXT.fullmatch(text):
        return float(text.replace(",", ""))
    if _EXPONENT_TEXT.fullmatch(text):
        raise AnswerValueError(N_("Write the number out in digits, without an exponent: for example 1000, not 1e3."))
    if text.lstrip("+-").lower() in ("inf", "infinity", "nan"):
        raise AnswerValueError(N_("Enter a finite number written in digits, for example 1250 or 12.5."))
    raise AnswerValueError(N_("Enter a number, for example 1250 or 12.5."))


def _fmt(number: float) -> int | float:
    """A bound as a number to show: whole numbers without a ".0" (the web writes it in the
    reader's language)."""
    return int(number) if float(number).is_integer() else float(number)


def _date(value: Any) -> str:
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        return value.isoformat()
    if not isinstance(value, str) or len(value) > 40:
        raise AnswerValueError(N_("Enter a date as YYYY-MM-DD."))
    try:
        return dt.date.fromisoformat(value.strip()).isoformat()
    except ValueError:
        raise AnswerValueError(N_("Enter a date as YYYY-MM-DD.")) from None


def check_evidence_url(url: str) -> str:
    """Only web links: a ``javascript:`` or ``data:`` link must never become a clickable link."""
    url = url.strip()
    _no_nul(url, "link")
    if len(url) > 2000:
        raise AnswerValueError(N_("Evidence links must be under %(limit)s characters."), limit=2000)
    try:
        parsed = urlparse(url)
    except ValueError:  # a malformed address, such as an unclosed IPv6 bracket
        raise AnswerValueError(N_("Evidence links must start with http:// or https://.")) from None
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise AnswerValueError(N_("Evidence links must start with http:// or https://."))
    if len(url) > 2000:
        raise AnswerValueError(N_("Evidence links must be under %(limit)s characters."), limit=2000)
    return url


def normalise_metric_meta(meta: dict[str, Any]) -> dict[str, Any]:
    """Reporting period and methodology note of a metric answer."""
    out, problems = _metric_meta(meta)
    if problems:
        raise AnswerValueError(next(iter(problems.values())))
    return out


def _metric_meta(meta: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Message]]:
    """The clean reporting period and methodology note, and every problem by field."""
    out: dict[str, Any] = {}
    problems: dict[str, Message] = {}
    for key in ("period_start", "period_end"):
        if meta.get(key):
            try:
                out[key] = _date(meta[key])
            except AnswerValueError as exc:
                problems[key] = exc.text
    if out.get("period_start") and out.get("period_end") and out["period_end"] < out["period_start"]:
        problems["period_end"] = Message(N_("The reporting period must end after it starts."))
    note = str(meta.get("methodology") or "").strip()
    if _unstorable(note):
        problems["methodology"] = Message(N_("Remove the NUL or invalid character from the methodology note."))
    elif len(note) > MAX_SHORT_TEXT:
        problems["methodology"] = Message(
            N_("Keep the methodology note under %(limit)s characters."), limit=MAX_SHORT_TEXT
        )
    elif note:
        out["methodology"] = note
    return out, problems


def build_answer(
    question: Question,
    *,
    value: Any = None,
    not_applicable: bool = False,
    justification: str = "",
    comment: str = "",
    evidence: list[dict[str, str]] | tuple[Evidence, ...] = (),
    meta: dict[str, Any] | None = None,
) -> AnswerData:
    """Validate every part of one answer and return it in canonical form.

    Raises AnswerValueError naming the first problem; the field name is in ``.field``, and every
    problem of the answer is in ``.errors`` (field -> message, in the order of the form). The
    fields are ``value``, ``not_applicable``, ``justification``, ``comment``, ``evidence`` (the
    list as a whole), ``evidence.N`` (the N-th piece of evidence given, counting from 0) and
    ``meta.period_start``, ``meta.period_end``, ``meta.methodology`` and ``meta.evidence_strength``.
    ``meta.language`` (the language the answer's words were written in) is kept with those words.
    """
    errors: dict[str, Message] = {}  # each a str, the English filled in

    def fail(field: str, message: Message) -> None:
        errors.setdefault(field, message)

    justification = (justification or "").strip()
    comment = (comment or "").strip()
    if _unstorable(justification) or _unstorable(comment):
        fail("comment", Message(_NUL_IN["text"]))
    if not_applicable:
        if not question.allow_not_applicable:
            fail("not_applicable", Message(N_("This question cannot be marked not applicable.")))
        elif not justification:
            fail("justification", Message(N_("Say why this question does not apply to you.")))
        value = None
    try:
        value = normalise_value(question, value)
    except AnswerValueError as exc:
        fail("value", exc.text)
    if len(justification) > MAX_SHORT_TEXT or len(comment) > MAX_SHORT_TEXT:
        fail("comment", Message(N_("Keep comments under %(limit)s characters."), limit=MAX_SHORT_TEXT))
    items: list[Evidence] = []
    for index, item in enumerate(evidence):
        url, description = (
            (item.url, item.description)
            if isinstance(item, Evidence)
            else (item.get("url", ""), item.get("description", ""))
        )
        url, description = (url or "").strip(), (description or "").strip()
        if _unstorable(description):
            fail(f"evidence.{index}", Message(N_("Remove the NUL or invalid character from the description.")))
            continue
        if not url and not description:
            continue
        if not url:
            fail(f"evidence.{index}", Message(N_("Each piece of evidence needs a link.")))
            continue
        try:
            url = check_evidence_url(url)
        except AnswerValueError as exc:
            fail(f"evidence.{index}", exc.text)
            continue
        items.append(Evidence(url, description[:1000]))
    if len(items) > MAX_EVIDENCE:
        fail("evidence", Message(N_("Attach at most %(limit)s pieces of evidence to one answer."), limit=MAX_EVIDENCE))
    clean_meta: dict[str, Any] = {}
    if question.metric and meta:
        clean_meta, problems = _metric_meta(meta)
        for key, message in problems.items():
            fail(f"meta.{key}", message)
    # How strong the evidence behind a given answer is: an id of the taxonomy's
    # evidence_strengths (methodology 2027.1 turns it into a confidence level). Kept only with a
    # value; none recorded means the weakest, "stated".
    strength = (meta or {}).get("evidence_strength")
    if strength and not not_applicable and not (value is None or value == "" or value == []):
        if not isinstance(strength, str) or not strength.replace("_", "").isalpha() or not strength.islower():
            fail("meta.evidence_strength", Message(N_("Choose how strong the evidence is from the list.")))
        else:
            clean_meta["evidence_strength"] = strength
    # The language the team wrote the answer's words in (its text, comment, justification or
    # evidence descriptions), so a reader in another language sees the original with its language.
    language = (meta or {}).get("language")
    written = justification or comment or any(item.description for item in items)
    written = written or (question.type is AnswerType.TEXT and bool(value))
    if written and isinstance(language, str) and _LANGUAGE_CODE.match(language):
        clean_meta["language"] = language
    if errors:
        field, message = next(iter(errors.items()))
        error = AnswerValueError(message)
        error.field = field.split(".")[0]  # type: ignore[attr-defined]
        error.errors = errors  # type: ignore[attr-defined]
        raise error
    return AnswerData(
        value=value,
        not_applicable=not_applicable,
        justification=justification if not_applicable else "",
        comment=comment,
        evidence=tuple(items),
        meta=clean_meta,
    )


def is_empty(answer: AnswerData) -> bool:
    return not (answer.has_value or answer.not_applicable or answer.comment or answer.evidence or answer.meta)


def display_value(question: Question, value: Any, wording: Mapping[str, LocalText], language: str | None = None) -> str:
    """An answer as a person reads it ("Level 3: ...", "Partly", option labels, "1,250 reports"), in
    ``language`` (by default the reader's), worded with the content's ``wording`` (the taxonomy's)."""
    if value is None or value == "" or value == []:
        return ""
    kind = question.type
    if kind is AnswerType.MATURITY:
        return say(wording, "answer_level", language, level=value, descriptor=question.levels[int(value)].get(language))
    if kind is AnswerType.YES_PARTIAL_NO:
        return say(wording, _YES_PARTIAL_NO[value], language)
    if kind is AnswerType.SINGLE:
        return question.option_label(value, language)
    if kind is AnswerType.MULTI:
        return "; ".join(question.option_label(v, language) for v in value)
    if kind is AnswerType.NUMBER:
        # Grouped and with the decimal sign as the reader's language writes them (1,250.5; 1.250,5).
        # Precision for any float written out in full (the largest has 309 digits), as stored
        # values from before the bounds can be that large.
        with decimal.localcontext() as context:
            context.prec = 400
            number = format_decimal(value, format="#,##0.##", locale=language or reading_language())
        unit = question.unit.get(language) if question.unit else ""
        return say(wording, "answer_number", language, number=number, unit=unit)
    return str(value)


# The wording of each yes/partly/no answer.
_YES_PARTIAL_NO = {"yes": "answer_yes", "partial": "answer_partial", "no": "answer_no"}

"""Refusals from the engine and the records layers, shown in the reader's language.

Those layers write their messages in English as a :class:`dd_toolkit.engine.text.Message` (a marked
template and its parameters, ``str`` of which is the English filled in); :func:`problem_text` is
the one place the web translates one, with the numbers among its parameters written as the
reader's language writes them. Plain text (a message nobody marked) is shown as it is.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any

from flask_babel import format_decimal, gettext

from dd_toolkit.engine.text import Message, message_of


def _shown(value: Any) -> Any:
    if isinstance(value, Message):  # a marked piece of the message, such as a status's name
        return problem_text(value)
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return format_decimal(value)
    return value


def problem_text(problem: Any) -> str:
    """A refusal (an exception, a :class:`Message` or plain text) as the reader reads it."""
    text = message_of(problem)
    if text is None:
        return str(problem)
    if not text.params:
        return gettext(text.message)
    # Flask-Babel's gettext fills in the keyword arguments itself (translation % params).
    return gettext(text.message, **{name: _shown(value) for name, value in text.params.items()})


def problem_texts(problems: Mapping[str, Any]) -> dict[str, str]:
    """Every problem of a form, by field, as the reader reads them."""
    return {field: problem_text(problem) for field, problem in problems.items()}

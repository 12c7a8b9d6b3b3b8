"""Messages written for a person, kept translatable below the web layer.

The engine and the records layers refuse input with English messages; the web shows them in the
reader's language. A message is marked with :func:`N_` (for ``make i18n-extract``) and, when it has
parameters, kept as a :class:`Message`: a ``str`` that reads as the English filled in (so the CLI,
logs, the JSON API and ``str(exc)`` are unchanged) and carries its template (``.message``, the
catalogue's msgid) and its ``.params`` apart, for :func:`dd_toolkit.web.problems.problem_text` to
translate. No Flask here: the engine must not import it.
"""

from __future__ import annotations

from typing import Any


def N_(message: str) -> str:
    """Marks a message for translation; the web layer translates it when it shows it."""
    return message


class Message(str):
    """An English message, filled in, that remembers its template and parameters.

    ``Message(N_("Enter a number of at least %(minimum)s."), minimum=0)`` reads as
    "Enter a number of at least 0."; numbers are left as numbers in ``params`` so the web can
    write them as the reader's language does. Placeholders are named (``%(name)s``) only.
    """

    message: str
    params: dict[str, Any]

    def __new__(cls, message: str, **params: Any) -> Message:
        if isinstance(message, Message):
            if not params:
                return message
            message = message.message  # the template, filled in again with these parameters
        template = str.__str__(message)
        self = super().__new__(cls, template % params if params else template)
        self.message = template
        self.params = params
        return self

    def __reduce__(self):  # pickles (and copies) as a Message, not as the plain English
        return (_rebuild, (self.message, self.params))


def _rebuild(message: str, params: dict[str, Any]) -> Message:
    return Message(message, **params)


def message_of(problem: Any) -> Message | None:
    """The :class:`Message` a problem carries: the problem itself, or an exception's first argument;
    None for plain text (shown as it is)."""
    if isinstance(problem, Message):
        return problem
    if isinstance(problem, BaseException) and problem.args and isinstance(problem.args[0], Message):
        return problem.args[0]
    text = getattr(problem, "message", None)
    return text if isinstance(text, Message) else None

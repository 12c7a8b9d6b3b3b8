"""Report documents as Markdown, from templates that can be changed without touching Python.

Templates live in a content folder's ``reports/`` (``action_plan.md.j2``,
``transparency.md.j2``); a content folder without them falls back to the templates bundled
with the toolkit. The Python side prepares data (:mod:`dd_toolkit.actions`,
:mod:`dd_toolkit.transparency`); the wording is in the templates.

Templates produce Markdown, so autoescaping is off. Every piece of text a user typed must go
through the ``text`` filter (:func:`escape_text`), which makes it plain text in Markdown and in
the HTML that :func:`dd_toolkit.render.markdown_html` makes of it. No Flask, no database.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import jinja2
from babel import dates as babel_dates
from babel import numbers as babel_numbers

from dd_toolkit.engine.actions import ActionPlan
from dd_toolkit.engine.content.models import DEFAULT_LANGUAGE, content_language, reading_language
from dd_toolkit.engine.transparency import TransparencyDraft
from dd_toolkit.paths import bundled_root

__all__ = [
    "ACTION_PLAN_TEMPLATE",
    "CSV_COLUMNS",
    "TRANSPARENCY_TEMPLATE",
    "action_plan_csv",
    "escape_text",
    "format_date",
    "format_number",
    "render_action_plan_markdown",
    "render_transparency_markdown",
    "report_environment",
]

ACTION_PLAN_TEMPLATE = "action_plan.md.j2"
TRANSPARENCY_TEMPLATE = "transparency.md.j2"
TRACKING_FIELDS = ("owner", "due", "status", "notes")
CSV_COLUMNS = (
    "id",
    "priority",
    "horizon_days",
    "title",
    "function",
    "question_ids",
    "refs",
    "owner",
    "due",
    "status",
    "notes",
)

# -- filters ----------------------------------------------------------------------------------

# An HTML character reference: escaped so that "&lt;" typed by a user stays those four
# characters. A lone "&" is left alone (Markdown turns it into "&amp;" itself).
_ENTITY = re.compile(r"&(?=#?[A-Za-z0-9]+;)")
# Characters that start inline Markdown anywhere in a line (links, emphasis, code, table
# cells); a backslash makes each literal.
_INLINE = re.compile(r"([\\`*_\[\]|])")
# A numbered-list marker, which only counts at the start of a line ("#", "+" and "-" too).
_NUMBERED = re.compile(r"^(\d+)([.)])")


def escape_text(value: Any, multiline: bool = False) -> str:
    """User-typed text as plain text in Markdown (and so in the HTML made from it).

    ``<`` and ``>`` become character references, so no tag, comment or autolink can form;
    Markdown's inline characters get a backslash, so no link, image, emphasis, code span or
    table cell can form; whitespace, line breaks included, collapses to single spaces, so the
    text cannot start a heading, list, quote, code block or table row. With
    ``multiline=True`` blank lines are kept as paragraph breaks (for text placed on its own,
    not inside a table, list or quote).
    """
    if value is None:
        return ""
    text = str(value)
    paragraphs = re.split(r"\n\s*\n", text) if multiline else [text]
    out = []
    for paragraph in paragraphs:
        paragraph = " ".join(paragraph.split())
        if not paragraph:
            continue
        paragraph = _ENTITY.sub("&amp;", paragraph)
        paragraph = paragraph.replace("<", "&lt;").replace(">", "&gt;")
        paragraph = _INLINE.sub(r"\\\1", paragraph)
        if paragraph[0] in "#+-":
            paragraph = "\\" + paragraph
        paragraph = _NUMBERED.sub(r"\1\\\2", paragraph)
        out.append(paragraph)
    return "\n\n".join(out)


def format_number(value: Any, signed: bool = False) -> str:
    """A number with thousands separators and exactly the digits it was given: 1250 ->
    "1,250", 12.5 -> "12.5", 1234.125 -> "1,234.125". ``signed`` adds "+" to positive values."""
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        raise TypeError("a yes/no value is not a number")
    if isinstance(value, float) and value.is_integer():
        # 25.0 points reads "25"; a float that is not whole keeps its digits, and so does a huge
        # one (1e30 reads as 1 and 30 zeros, not the binary float's digits)
        value = int(value) if abs(value) < 2**53 else Decimal(repr(value))
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).replace(",", ""))
    except InvalidOperation:
        return escape_text(value)
    if not number.is_finite():
        return escape_text(value)
    language = reading_language()
    if language == DEFAULT_LANGUAGE:
        text = format(number, ",f")
    else:  # the document's locale, with every digit it was given
        text = babel_numbers.format_decimal(number, locale=language, decimal_quantization=False)
    return f"+{text}" if signed and number > 0 else text


_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def format_date(value: Any) -> str:
    """A date as "1 January 2025" (an ISO string, a date or a datetime); other text is escaped."""
    if value is None or value == "":
        return ""
    day = value
    if isinstance(value, str):
        try:
            day = dt.date.fromisoformat(value.strip()[:10])
        except ValueError:
            return escape_text(value)
    if isinstance(day, dt.datetime):
        day = day.date()
    if not isinstance(day, dt.date):
        return escape_text(value)
    language = reading_language()
    if language != DEFAULT_LANGUAGE:
        return babel_dates.format_date(day, format="long", locale=language)
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def _clause(value: Any) -> str:
    """A sentence as a clause inside another: first letter lowered (unless an acronym starts
    it) and the final full stop dropped."""
    text = str(value).strip().rstrip(".")
    if len(text) > 1 and text[1].isupper():
        return text
    return text[:1].lower() + text[1:]


# -- the document's language ------------------------------------------------------------------

# The content catalogues (``bank.catalogues``) the templates' own words are looked up in, set for
# the rendering of one document by :func:`document_language`.
_catalogues: ContextVar[Any] = ContextVar("dd_report_catalogues", default=None)


@contextmanager
def document_language(catalogues: Any, language: str | None) -> Iterator[set[str]]:
    """Render a document in ``language``: questions, actions, report sentences and the templates'
    own words (``{% trans %}``, ``_()``) come from the content and ``catalogues``; yields the set
    of texts that fell back to English for want of a translation."""
    token = _catalogues.set(catalogues)
    try:
        with content_language(language or DEFAULT_LANGUAGE) as fallen:
            yield fallen
    finally:
        _catalogues.reset(token)


def translate(message: str) -> str:
    """A template's English words in the document's language (the English where untranslated):
    from the content's catalogues, else from the bundled ``reports/translations/<lang>/templates.po``
    (a content folder without templates of its own renders the bundled ones)."""
    catalogues = _catalogues.get()
    language = reading_language()
    if catalogues is None or language == DEFAULT_LANGUAGE:
        return message
    found = catalogues.lookup(message, language) or _bundled_template_words(language).get(message.strip())
    if found:
        return found
    return catalogues.text(message)  # the English, noted as a fallback


@functools.lru_cache(maxsize=8)
def _bundled_template_words(language: str) -> dict[str, str]:
    from babel.messages.pofile import read_po

    path = bundled_root() / "reports" / "translations" / language / "templates.po"
    if not path.exists():
        return {}
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    return {m.id: m.string for m in catalog if isinstance(m.id, str) and m.id and m.string and not m.fuzzy}


def content_text(value: Any) -> str:
    """A content text the record holds as plain English (a risk level's, a harm's or an age
    group's label and description, from the methodology's YAML) in the document's language, where
    the content catalogues translate it; any other text (already translated, or typed) as it is."""
    text = "" if value is None else str(value)
    catalogues = _catalogues.get()
    if not text or catalogues is None or reading_language() == DEFAULT_LANGUAGE:
        return text
    return catalogues.lookup(text, reading_language()) or text


def _gettext(message: str) -> str:
    return translate(message)  # Jinja's new-style gettext fills in the %(name)s placeholders


def _ngettext(singular: str, plural: str, number: int) -> str:
    # The content catalogues hold no plural forms: the templates phrase around them; this keeps
    # English right where one is used.
    return translate(singular if number == 1 else plural)


# -- the environment --------------------------------------------------------------------------


def report_environment(root: Path) -> jinja2.Environment:
    """Templates from ``root/reports``, falling back to the bundled ``reports/``.

    One environment per content folder and set of template files there, so each template is
    compiled once per process; Jinja reloads a template whose file changed, and a template
    added to the folder is found."""
    folder = Path(root) / "reports"
    present = tuple(sorted(f.name for f in folder.iterdir())) if folder.is_dir() else ()
    return _environment(folder, present)


@functools.lru_cache(maxsize=8)
def _environment(folder: Path, _present: tuple[str, ...]) -> jinja2.Environment:
    folders = [folder]
    bundled = bundled_root() / "reports"
    if bundled.resolve() != folders[0].resolve():
        folders.append(bundled)
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader([jinja2.FileSystemLoader(str(f)) for f in folders]),
        autoescape=False,  # Markdown, not HTML: user text goes through the "text" filter
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        extensions=["jinja2.ext.do", "jinja2.ext.i18n"],
    )
    env.install_gettext_callables(_gettext, _ngettext, newstyle=True)
    env.filters["text"] = escape_text
    env.filters["number"] = format_number
    env.filters["date"] = format_date
    env.filters["clause"] = _clause
    env.filters["tr"] = content_text
    return env


def _tracking(tracking: Mapping[str, Mapping[str, Any]] | None) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for item_id, values in (tracking or {}).items():
        row = {}
        for key in TRACKING_FIELDS:
            value = values.get(key) if values else None
            value = getattr(value, "value", value)  # a status stored as an enum
            if isinstance(value, dt.date):
                value = value.isoformat()
            row[key] = "" if value is None else str(value).strip()
        out[str(item_id)] = row
    return out


def render_action_plan_markdown(
    env: jinja2.Environment,
    plan: ActionPlan,
    *,
    organisation_name: str,
    cycle: Any,
    tracking: Mapping[str, Mapping[str, Any]] | None = None,
    generated_on: dt.date | None = None,
    reference_cards: Sequence[tuple[str, Any]] = (),
) -> str:
    """The action plan as Markdown (``reports/action_plan.md.j2``).

    ``tracking`` maps item ids to ``{owner, due, status, notes}`` as a UI stores them; an item
    without tracking shows no status line. ``reference_cards`` are (country name, card) pairs
    (``content.reference_cards``) for the countries the organisation operates in.
    """
    template = env.get_template(ACTION_PLAN_TEMPLATE)
    return template.render(
        plan=plan,
        organisation_name=organisation_name or "",
        cycle="" if cycle is None else str(cycle),
        tracking=_tracking(tracking),
        generated_on=generated_on,
        reference_cards=list(reference_cards),
    )


def render_transparency_markdown(env: jinja2.Environment, draft: TransparencyDraft) -> str:
    """The transparency-report draft as Markdown (``reports/transparency.md.j2``)."""
    return env.get_template(TRANSPARENCY_TEMPLATE).render(draft=draft)


# -- CSV --------------------------------------------------------------------------------------


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    """A CSV cell: blank for None; text a spreadsheet could run as a formula (a user typing
    "=HYPERLINK(...)", "+1+cmd", "@SUM(...)", or one starting with a tab or carriage return)
    gets a leading quote. A number stays a number: -5 is no formula."""
    if value is None:
        return ""
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return str(value)
    text = str(value)
    if text.startswith(_FORMULA_STARTS):
        text = "'" + text
    # A carriage return as a line break, so the writer quotes the cell (its rows end in "\n").
    return text.replace("\r\n", "\n").replace("\r", "\n")


def csv_text(columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> str:
    """The one CSV writer of every export: a header row, then the rows, every cell neutralised."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([_cell(c) for c in columns])
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return out.getvalue()


def action_plan_csv(plan: ActionPlan, tracking: Mapping[str, Mapping[str, Any]] | None = None) -> str:
    """One row per action item, in plan order, with a header row (:data:`CSV_COLUMNS`)."""
    rows = _tracking(tracking)
    return csv_text(
        CSV_COLUMNS,
        (
            {
                "id": item.id,
                "priority": item.priority,
                "horizon_days": item.horizon_days,
                "title": item.title,
                "function": item.function_label or "",
                "question_ids": ";".join(item.question_ids),
                "refs": ";".join(item.refs),
                **{key: rows.get(item.id, {}).get(key, "") for key in TRACKING_FIELDS},
            }
            for item in plan.items
        ),
    )

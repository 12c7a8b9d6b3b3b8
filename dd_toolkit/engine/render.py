"""Markdown to safe HTML.

Two renderers, both behind the same sanitiser (:func:`sanitise_html`):

- :func:`markdown_html` for the content files (guidance, section introductions), written by the
  content team with Python-Markdown's dialect;
- :func:`user_markdown_html` for every text a user can change (the transparency draft and the
  documents built around user text): CommonMark through cmark-gfm, a C parser whose time is
  linear in the length of the text, with raw HTML shown as text (:func:`inert_markdown`), a
  cap on nesting and a length limit (:data:`MAX_USER_MARKDOWN`). No text up to that length takes
  more than about 100 ms to render, whatever it holds; a longer text (stored before the limit)
  is shown as plain text.
"""

from __future__ import annotations

import functools
import html as html_lib
import logging
import re
import threading
from pathlib import Path

import cmarkgfm
import markdown
import nh3
from cmarkgfm.cmark import Options
from markupsafe import Markup

from dd_toolkit.paths import bundled_root

LOGGER = logging.getLogger(__name__)

ALLOWED_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "code",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "li",
    "ol",
    "p",
    "pre",
    "strong",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "ul",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "abbr": {"title"}, "th": {"scope"}}


def slug(text: str, fallback: str = "organisation") -> str:
    """A file-name-safe form of a name: "Lumen Social" -> "lumen-social"."""
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-") or fallback


def sanitise_html(html: str) -> str:
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )


_parsers = threading.local()

# Texts up to this length have their HTML kept (the guidance of every question, a transparency
# draft): a page shows the same texts again and again, and Python-Markdown is slow. The cache
# holds the last 256 such texts, so a worker keeps at most a few megabytes for it.
CACHED_LENGTH = 50_000


def _markdown_to_html(text: str) -> str:
    # One parser per thread, reset before each use: building a parser costs more than most
    # conversions, and a parser must not be shared between threads.
    parser = getattr(_parsers, "markdown", None)
    if parser is None:
        parser = _parsers.markdown = markdown.Markdown(extensions=["tables", "sane_lists"], output_format="html")
    return sanitise_html(parser.reset().convert(text))


@functools.lru_cache(maxsize=256)
def _cached_markdown_to_html(text: str) -> str:
    return _markdown_to_html(text)


def markdown_html(text: str | None) -> Markup:
    if not text:
        return Markup("")
    if type(text) is str and len(text) <= CACHED_LENGTH:
        return Markup(_cached_markdown_to_html(text))
    return Markup(_markdown_to_html(text))


# -- user text ----------------------------------------------------------------------------------

# The longest user Markdown rendered as Markdown (a transparency draft runs to about 15,000
# characters); the forms refuse longer text.
MAX_USER_MARKDOWN = 30_000
# The deepest nesting of elements kept: quotes in quotes or lists in lists deeper than this are
# no document, and the sanitiser's time grows with the square of the depth.
MAX_DEPTH = 24

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_BACKTICKS = re.compile(r"`+")
# The elements cmark nests (void elements and text-level ones that cannot hold themselves
# do not add depth).
_NESTING_TAG = re.compile(r"<(/?)(?:blockquote|ul|ol|li|em|strong|a|del|table|h[1-6]|p|pre|code)[\s>]")
# A link to a script: the scheme gets a zero-width space, so no renderer takes it as one.
_SCRIPT_SCHEME = re.compile(r"(?i)\b(javascript|vbscript|livescript)(\s*)(:|&#0*58;|&#x0*3a;|&colon;|\\:)")
_OMITTED = "<!-- raw HTML omitted -->"
_ADDRESS = re.compile(r'(?:href|src)="([^"]*)"')
_SCRIPT_SCHEMES = ("javascript:", "vbscript:", "livescript:", "data:")


def clean_text(text: str) -> str:
    """Text any encoder takes: NUL and lone surrogates become U+FFFD; lines end in "\\n"."""
    text = text.replace("\x00", "\ufffd").replace("\r\n", "\n").replace("\r", "\n")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def _escape_outside_code(text: str) -> str:
    """Every "<" outside fenced code blocks and code spans as "&lt;" (linear: one pass a line)."""
    out: list[str] = []
    fence: str | None = None
    for line in text.split("\n"):
        opening = _FENCE.match(line)
        if fence is not None:
            if opening and opening.group(1)[0] == fence[0] and len(opening.group(1)) >= len(fence):
                if not line[opening.end() :].strip():
                    fence = None
            out.append(line)
            continue
        if opening and not (opening.group(1)[0] == "`" and "`" in line[opening.end() :]):
            fence = opening.group(1)
            out.append(line)
            continue
        if "<" not in line:
            out.append(line)
            continue
        # Code spans on this line: a run of backticks up to the next run of the same length
        # (found for every run in one pass from the end, so the line is read in linear time).
        pieces: list[str] = []
        position = 0
        runs = list(_BACKTICKS.finditer(line))
        next_same: list[int | None] = [None] * len(runs)
        last: dict[int, int] = {}
        for j in range(len(runs) - 1, -1, -1):
            size = runs[j].end() - runs[j].start()
            next_same[j] = last.get(size)
            last[size] = j
        index = 0
        while index < len(runs):
            run = runs[index]
            closing = next_same[index]
            if closing is None or (run.start() > 0 and line[run.start() - 1] == "\\"):
                index += 1
                continue
            pieces.append(line[position : run.start()].replace("<", "&lt;"))
            pieces.append(line[run.start() : runs[closing].end()])
            position = runs[closing].end()
            index = closing + 1
        pieces.append(line[position:].replace("<", "&lt;"))
        out.append("".join(pieces))
    return "\n".join(out)


def _cmark(text: str) -> str:
    # CMARK_OPT_DEFAULT is cmark's safe mode: raw HTML is omitted and script links lose their
    # address. GitHub's tables are the only extension, as Python-Markdown's "tables" was.
    return cmarkgfm.markdown_to_html_with_extensions(text, options=0, extensions=["table"])


def _script_links(text: str) -> bool:
    """Whether CommonMark, rendered without any safety, makes a link or image to a script."""
    html = cmarkgfm.markdown_to_html_with_extensions(text, options=Options.CMARK_OPT_UNSAFE, extensions=["table"])
    for address in _ADDRESS.findall(html):
        address = "".join(c for c in html_lib.unescape(address) if c > " ").lower()
        if address.startswith(_SCRIPT_SCHEMES):
            return True
    return False


def inert_markdown(text: str | None) -> str:
    """User Markdown that no renderer turns into markup: raw HTML is escaped (``<`` outside code
    becomes ``&lt;``, so a tag shows as the characters typed) and script links are broken.
    The Markdown exports are this text, and the HTML is made from it, so both show the same.

    Each step is checked with cmark itself; where a cheap rewrite is not enough, a stronger one
    follows (every ``<`` escaped; links taken apart; every ``[`` escaped)."""
    if not text:
        return ""
    text = _SCRIPT_SCHEME.sub("\\1\u200b\\2\\3", clean_text(str(text)))
    inert = _escape_outside_code(text)
    if "<" in inert and _OMITTED in _cmark(inert):
        # A "<" taken for code is not code to the parser: escape every one.
        inert = text.replace("<", "&lt;")
    if ":" in inert and _script_links(inert):
        inert = inert.replace("](", "]\\(").replace("]:", "]\\:")
        if _script_links(inert):
            inert = inert.replace("[", "\\[")
    return inert


def _depth(html: str) -> int:
    """How deep cmark's elements nest (its output is well formed: every tag is closed)."""
    depth = deepest = 0
    for closing in _NESTING_TAG.findall(html):
        if closing:
            depth -= 1
        else:
            depth += 1
            if depth > deepest:
                deepest = depth
    return deepest


def plain_text_html(text: str) -> str:
    """Text shown as it was typed, paragraph by paragraph, with no markup at all."""
    paragraphs = re.split(r"\n\s*\n", text)
    return "".join(
        "<p>" + html_lib.escape(p.strip()).replace("\n", "<br>\n") + "</p>\n" for p in paragraphs if p.strip()
    )


def _user_markdown_to_html(text: str, limit: int | None = MAX_USER_MARKDOWN) -> str:
    text = clean_text(text)
    if limit is not None and len(text) > limit:
        return plain_text_html(text)
    html = _cmark(inert_markdown(text))
    if _depth(html) > MAX_DEPTH:
        return plain_text_html(text)
    return sanitise_html(html)


@functools.lru_cache(maxsize=256)
def _cached_user_markdown_to_html(text: str, limit: int | None) -> str:
    return _user_markdown_to_html(text, limit)


def user_markdown_html(text: str | None, *, limit: int | None = MAX_USER_MARKDOWN) -> Markup:
    """Markdown a user wrote as safe HTML, in time linear in its length; a text longer than
    ``limit`` is shown as plain text. ``limit=None`` is for documents the toolkit generated
    around user text (every user field in them is escaped and has its own limit)."""
    if not text:
        return Markup("")
    text = str(text)
    if len(text) <= CACHED_LENGTH:
        return Markup(_cached_user_markdown_to_html(text, limit))
    return Markup(_user_markdown_to_html(text, limit))


# Every PDF is tagged for assistive technology: Typst's PDF/UA-1 export writes the structure tree
# (headings, paragraphs, lists, tables with their header cells, figures with their alternative
# text), marks the document as tagged and declares PDF/UA in its metadata, and it refuses a
# document that breaks the standard. The document's language and title come from the HTML's
# <html lang> and <title>, which every printed template must have.
PDF_STANDARD = "ua-1"

# The look of every PDF (page, fonts, sizes, colours), in Typst; see dd_toolkit/engine/typeset.py.
PRINT_STYLESHEET = bundled_root() / "reports" / "print.typ"


@functools.lru_cache(maxsize=4)
def _stylesheet(path: Path, _mtime: float) -> str:
    return path.read_text(encoding="utf-8")


def print_stylesheet() -> str:
    return _stylesheet(PRINT_STYLESHEET, PRINT_STYLESHEET.stat().st_mtime)


def pdf_options_key() -> str:
    """What, besides the HTML and the typesetter's version, decides a PDF's bytes (for cache keys)."""
    return f"{PDF_STANDARD}\n{print_stylesheet()}"


def typesetter_version() -> str:
    import typst

    return f"typst {typst.__version__}"


class _Typesetter:
    """One Typst compiler for the process, serving one document at a time: it finds the fonts
    once, and it reuses what it laid out before, so a document that changed in one place is
    typeset again in a fraction of the time. Typst itself lets go of what it kept once later
    documents no longer use it (the process's memory levels off at a few hundred MB)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._compiler = None
        self._covered: frozenset[int] | None = None

    def forget(self) -> None:
        """A new compiler for the next document: nothing laid out before is reused."""
        with self._lock:
            self._compiler = None

    def covered(self) -> frozenset[int]:
        """The code points some installed font can draw (read once, from the fonts' cmaps).
        Typst's few built-in fonts are not files and are left out: a letter only they have prints
        as the replacement character, never as an error."""
        with self._lock:
            if self._covered is None:
                self._covered = _covered_code_points()
            return self._covered

    def pdf(self, source: str) -> bytes:
        import typst

        with self._lock:
            if self._compiler is None:
                self._compiler = typst.Compiler()
            try:
                return self._compiler.compile(input=source.encode("utf-8"), pdf_standards=PDF_STANDARD or [])
            except typst.TypstError as error:
                if not PDF_STANDARD or not str(error).startswith("PDF/UA"):
                    raise
                # A document the standard refuses is still printed, tagged, without claiming it.
                LOGGER.warning("typeset without claiming %s: %s", PDF_STANDARD, error)
                return self._compiler.compile(input=source.encode("utf-8"))


def _covered_code_points() -> frozenset[int]:
    import typst
    from fontTools.ttLib import TTFont

    covered: set[int] = set()
    for path, index in {(font.path, font.index) for font in typst.Fonts().fonts() if font.path}:
        try:
            covered.update(TTFont(path, fontNumber=index, lazy=True).getBestCmap() or {})
        except Exception:  # a font file fontTools cannot read: Typst does not use it either
            LOGGER.warning("font not read: %s", path, exc_info=True)
    return frozenset(covered)


_typesetter = _Typesetter()


def pdf_from_html(html: str) -> bytes:
    """A tagged PDF (PDF/UA-1) of a self-contained printable HTML document: the print templates'
    elements and what the sanitiser lets through (see :mod:`dd_toolkit.engine.typeset`). Nothing
    is fetched: the only picture a document may hold is an SVG chart in a data: URI.

    The HTML must name its language (``<html lang>``) and have a ``<title>``: they become the
    PDF's language and the title a reader shows."""
    from dd_toolkit.engine.typeset import typst_source

    return _typesetter.pdf(typst_source(html, print_stylesheet(), _typesetter.covered()))

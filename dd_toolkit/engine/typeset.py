"""Printable HTML written out as a Typst document, for the PDFs.

Every document is HTML first (the HTML export is what the PDF is made from), and that HTML is a
small, closed set of elements: what the sanitiser lets through (:data:`render.ALLOWED_TAGS`) in
the Markdown bodies, and the few elements and classes of the print templates (the results
summary, its chart and legend, the translation note). :func:`typst_source` walks that HTML and
writes the same structure in Typst: headings, paragraphs, lists, tables with their header rows,
quotes, code, links and the chart as a figure with its alternative text. Typst then typesets it
into a tagged PDF (see :func:`dd_toolkit.engine.render.pdf_from_html`).

Every piece of text becomes a Typst string literal (``#"..."``), so no text a user typed can act
as Typst markup or code. The look (fonts, sizes, colours, the page footer) is in
``reports/print.typ``; the classes of the print templates map to its functions through
:data:`CLASS_STYLES`.

What a print template tells the PDF beyond its HTML is in ``<meta>`` elements of its head:

- ``author``: the PDF's author (the organisation whose document it is);
- ``dd-print-page``: ``landscape`` for a landscape page (A4 either way);
- ``dd-print-footer``: the footer of each page, where ``{title}``, ``{page}`` and ``{pages}``
  stand for the document's title, the page's number and the number of pages.
"""

from __future__ import annotations

import base64
import re
import unicodedata
import urllib.parse
from collections.abc import Collection
from dataclasses import dataclass, field
from html.parser import HTMLParser

# Elements with no closing tag.
_VOID = frozenset({"br", "hr", "img", "meta", "link", "col", "wbr"})
# Elements that start a block of their own; anything else is part of the running text.
_BLOCKS = frozenset(
    {
        "p",
        "ul",
        "ol",
        "li",
        "table",
        "blockquote",
        "pre",
        "hr",
        "div",
        "section",
        "main",
        "article",
        "header",
        "footer",
        "img",
        *(f"h{level}" for level in range(1, 7)),
    }
)
# Elements whose content is never printed.
_SKIPPED = frozenset({"head", "style", "script", "title", "template"})

# The classes of the print templates and the function of reports/print.typ that styles each.
# A class not listed here prints as plain text.
CLASS_STYLES = {
    "summary": "summary-page",
    "meta": "meta",
    "headline": "headline",
    "band": "band",
    "note": "note",
    "muted": "muted",
    "translation": "translation-note",
    "legend": "legend",
    "chart": "chart",
}

_COLOUR = re.compile(r"(?:border-top-color|color)\s*:\s*(#[0-9a-fA-F]{3,8})\b")
_SPACES = re.compile(r"[ \t\n\r\f]+")
# Characters a Typst string literal escapes: the quote, the backslash and the control characters.
_STRING_ESCAPES = {ord("\\"): "\\\\", ord('"'): '\\"', ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t"}
_STRING_ESCAPES.update(
    {
        code: f"\\u{{{code:x}}}"
        for code in [*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029]
        if code not in _STRING_ESCAPES
    }
)


# Control characters print nothing (tab and line breaks are white space, handled apart).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
REPLACEMENT = "\ufffd"


def printable(text: str, covered: Collection[int] | None) -> str:
    """``text`` without control characters, each letter no installed font can draw replaced by
    U+FFFD (a PDF/UA document may not show a letter as an empty box). Invisible format
    characters (zero-width space and joiner, soft hyphen) need no glyph and stay.
    ``covered`` None keeps every letter."""
    text = _CONTROL.sub("", text)
    if covered is None or text.isascii():
        return text
    return "".join(
        c if ord(c) in covered or unicodedata.category(c) == "Cf" or c in "\t\n\r" else REPLACEMENT for c in text
    )


def typst_string(text: str) -> str:
    """``text`` as a Typst string literal."""
    return '"' + text.translate(_STRING_ESCAPES) + '"'


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    children: list[Element | str] = field(default_factory=list)

    def classes(self) -> list[str]:
        return self.attrs.get("class", "").split()

    def text(self) -> str:
        return "".join(child if isinstance(child, str) else child.text() for child in self.children)

    def elements(self, *tags: str) -> list[Element]:
        return [child for child in self.children if isinstance(child, Element) and child.tag in tags]


class _TreeBuilder(HTMLParser):
    """The element tree of a document. The HTML is the toolkit's own (well formed); a stray end
    tag closes up to its element and is otherwise ignored."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {name: value or "" for name, value in attrs})
        self.stack[-1].children.append(element)
        if tag not in _VOID:
            self.stack.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(Element(tag, {name: value or "" for name, value in attrs}))

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse(html: str) -> Element:
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    return builder.root


def _find(element: Element, tag: str) -> Element | None:
    for child in element.children:
        if isinstance(child, Element):
            if child.tag == tag:
                return child
            found = _find(child, tag)
            if found is not None:
                return found
    return None


def _meta(head: Element | None) -> dict[str, str]:
    if head is None:
        return {}
    return {m.attrs.get("name", ""): m.attrs.get("content", "") for m in head.elements("meta") if m.attrs.get("name")}


@dataclass(frozen=True)
class PrintedDocument:
    """What the HTML says about the document as a whole."""

    title: str
    language: str
    landscape: bool
    footer: str | None
    author: str | None


def document_of(root: Element) -> PrintedDocument:
    html = _find(root, "html") or root
    head = _find(html, "head")
    title = _find(head or html, "title")
    meta = _meta(head)
    return PrintedDocument(
        title=_SPACES.sub(" ", title.text()).strip() if title is not None else "",
        language=html.attrs.get("lang", "").strip(),
        landscape=meta.get("dd-print-page", "").strip().lower() == "landscape",
        footer=meta.get("dd-print-footer") or None,
        author=_SPACES.sub(" ", meta.get("author", "")).strip() or None,
    )


class _Writer:
    """Writes the body's elements as Typst markup."""

    def __init__(self, covered: Collection[int] | None) -> None:
        self.covered = covered
        self.heading_level = 0  # the last heading's level: a later one goes at most one deeper

    # Running text -------------------------------------------------------------------------

    def string(self, text: str) -> str:
        return typst_string(printable(text, self.covered))

    def inline(self, nodes: list[Element | str]) -> str:
        out: list[str] = []
        for node in nodes:
            if isinstance(node, str):
                text = _SPACES.sub(" ", node)
                if out and out[-1] == "#linebreak()":  # a new line starts with no space, as in HTML
                    text = text.lstrip()
                if text:
                    out.append("#" + self.string(text))
                continue
            tag = node.tag
            if tag in _SKIPPED:
                continue
            if tag in ("strong", "b"):
                out.append(f"#strong[{self.inline(node.children)}]")
            elif tag in ("em", "i"):
                out.append(f"#emph[{self.inline(node.children)}]")
            elif tag == "code":
                out.append(f"#raw({self.string(node.text())})")
            elif tag == "a":
                href = node.attrs.get("href", "").strip()
                inner = self.inline(node.children)
                out.append(f"#link({typst_string(href)})[{inner}]" if href else inner)
            elif tag == "br":
                out.append("#linebreak()")
            elif tag == "span" and "line" in node.classes():
                out.append(self._legend_line(node))
            elif tag in _BLOCKS:
                out.append(self.blocks([node]))
            else:
                out.append(self._styled(node, self.inline(node.children)))
        return "".join(out)

    def _legend_line(self, node: Element) -> str:
        colour = _COLOUR.search(node.attrs.get("style", ""))
        dashed = "true" if "dashed" in node.classes() else "false"
        paint = f'rgb("{colour.group(1)}")' if colour else "ink"
        return f"#legend-line({paint}, dashed: {dashed})"

    @staticmethod
    def _styled(node: Element, markup: str) -> str:
        for name in node.classes():
            style = CLASS_STYLES.get(name)
            if style:
                return f"#{style}[{markup}]"
        return markup

    # Blocks -------------------------------------------------------------------------------

    def blocks(self, nodes: list[Element | str]) -> str:
        out: list[str] = []
        run: list[Element | str] = []

        def end_run() -> None:
            if run:
                text = self.inline(_trimmed(run))
                if text:
                    out.append(text)
                run.clear()

        for position, node in enumerate(nodes):
            if isinstance(node, str) or node.tag not in _BLOCKS:
                run.append(node)  # the running text (inline() leaves out what never prints)
                continue
            end_run()
            block = self.block(node)
            if block and _introduces_list(node, nodes[position + 1 :]):
                block = f"#block(sticky: true)[{block}]"  # never the last line of a page, alone
            if block:
                out.append(block)
        end_run()
        return "\n\n".join(out)

    def block(self, node: Element) -> str:
        tag = node.tag
        if tag[0] == "h" and tag[1:].isdigit():
            # A heading never skips a level (PDF/UA): an h4 under an h2 prints as a third level.
            level = min(int(tag[1]), self.heading_level + 1)
            self.heading_level = level
            return f"#heading(level: {level})[{self.inline(_trimmed(node.children))}]"
        if tag == "p":
            return self._styled(node, f"#par[{self.inline(_trimmed(node.children))}]")
        if tag in ("ul", "ol"):
            items = [f"[{self.blocks(item.children)}]" for item in node.elements("li")]
            if not items:
                return ""
            return f"#{'list' if tag == 'ul' else 'enum'}({', '.join(items)})"
        if tag == "li":  # outside a list
            return self.blocks(node.children)
        if tag == "table":
            return self.table(node)
        if tag == "blockquote":
            return f"#quote(block: true)[{self.blocks(node.children)}]"
        if tag == "pre":
            return f"#raw(block: true, {self.string(node.text().rstrip())})"
        if tag == "hr":
            return "#rule()"
        if tag == "img":
            return self.image(node)
        return self._styled(node, self.blocks(node.children))  # div, section, main and the like

    def table(self, node: Element) -> str:
        rows: list[tuple[bool, list[Element]]] = []
        for part in node.children:
            if not isinstance(part, Element):
                continue
            if part.tag == "tr":
                rows.append((False, part.elements("th", "td")))
            elif part.tag in ("thead", "tbody", "tfoot"):
                rows += [(part.tag == "thead", row.elements("th", "td")) for row in part.elements("tr")]
        rows = [(head, cells) for head, cells in rows if cells]
        if not rows:
            return ""
        # Every column as wide as its content: when the content is wider than the page, Typst
        # narrows the widest columns to a fair share each and leaves the narrow ones (scores,
        # statuses) as they are.
        columns = max(sum(_span(cell) for cell in cells) for _head, cells in rows)
        header = [self.cell(cell) for head, cells in rows if head for cell in cells]
        body = [self.cell(cell) for head, cells in rows if not head for cell in cells]
        parts = ([f"table.header({', '.join(header)})"] if header else []) + body
        return f"#table(columns: {columns}, {', '.join(parts)})"

    def cell(self, cell: Element) -> str:
        content = f"[{self._styled(cell, self.blocks(cell.children))}]"
        span = _span(cell)
        return f"table.cell(colspan: {span}){content}" if span > 1 else content

    def image(self, node: Element) -> str:
        alt = node.attrs.get("alt", "")
        svg = _data_svg(node.attrs.get("src", ""))
        if svg is None:  # only the toolkit's own charts are embedded; anything else prints its text
            return f"#par[{self.inline([alt])}]" if alt else ""
        return f"#chart-image(bytes({typst_string(svg)}), alt: {self.string(alt)})"


def _introduces_list(node: Element, following: list[Element | str]) -> bool:
    """A paragraph ending in a colon right before a list ("Steps:"): it stays with the list."""
    if node.tag != "p" or not node.text().rstrip().endswith(":"):
        return False
    for sibling in following:
        if isinstance(sibling, str):
            if sibling.strip():
                return False
            continue
        return sibling.tag in ("ul", "ol")
    return False


def _span(cell: Element) -> int:
    value = cell.attrs.get("colspan", "1")
    return max(1, min(int(value), 1000)) if value.isdigit() else 1


def _trimmed(nodes: list[Element | str]) -> list[Element | str]:
    """Running text without the white space at its two ends (HTML does not print it)."""
    nodes = list(nodes)
    if nodes and isinstance(nodes[0], str):
        nodes[0] = nodes[0].lstrip()
    if nodes and isinstance(nodes[-1], str):
        nodes[-1] = nodes[-1].rstrip()
    return [node for node in nodes if node != ""]


def _data_svg(src: str) -> str | None:
    """The SVG text of a ``data:image/svg+xml`` URI, or None for any other source."""
    header, _, data = src.partition(",")
    if not header.startswith("data:image/svg+xml"):
        return None
    if header.endswith(";base64"):
        return base64.b64decode(data).decode("utf-8")
    return urllib.parse.unquote(data)


def _footer(template: str | None, title: str, writer: _Writer) -> str:
    if not template:
        return "none"
    pieces = re.split(r"(\{page\}|\{pages\})", _SPACES.sub(" ", template).replace("{title}", title))
    markup = "".join(
        "#current" if piece == "{page}" else "#total" if piece == "{pages}" else "#" + writer.string(piece)
        for piece in pieces
        if piece
    )
    return f"(current, total) => [{markup}]"


def typst_source(html: str, stylesheet: str, covered: Collection[int] | None = None) -> str:
    """The Typst document of ``html``: ``stylesheet`` (reports/print.typ), then the body.
    ``covered``: the code points the installed fonts can draw (see :func:`printable`). The HTML
    must name its language and have a title (ValueError otherwise)."""
    root = parse(html)
    document = document_of(root)
    if not document.language[:1].isalpha() or not document.title:
        raise ValueError("a printed document needs <html lang=...> and a <title>")
    language, _, region = document.language.partition("-")
    body = _find(root, "body") or _find(root, "html") or root
    writer = _Writer(covered)
    settings = ", ".join(
        [
            f"title: {typst_string(printable(document.title, None))}",
            f"author: {typst_string(printable(document.author, None)) if document.author else '()'}",
            f"lang: {typst_string(language.lower() or 'en')}",
            f"region: {typst_string(region.upper()) if region else 'none'}",
            f"landscape: {'true' if document.landscape else 'false'}",
            f"footer: {_footer(document.footer, document.title, writer)}",
        ]
    )
    return f"{stylesheet}\n#show: printed.with({settings})\n\n{writer.blocks(body.children)}\n"

"""Markdown to safe HTML. Every piece of text that came from a user or a content file and is
shown as HTML goes through :func:`markdown_html`."""

from __future__ import annotations

import functools
import threading

import markdown
import nh3
from markupsafe import Markup

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


def pdf_from_html(html: str) -> bytes:
    """A PDF of a self-contained HTML document. Only data: URIs (the embedded charts) are
    read: nothing is fetched from the network or the file system."""
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    return HTML(string=html, url_fetcher=URLFetcher(allowed_protocols={"data"})).write_pdf()

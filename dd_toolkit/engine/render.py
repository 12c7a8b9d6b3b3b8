"""Markdown to safe HTML. Every piece of text that came from a user or a content file and is
shown as HTML goes through :func:`markdown_html`."""

from __future__ import annotations

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


def markdown_html(text: str | None) -> Markup:
    if not text:
        return Markup("")
    html = markdown.markdown(text, extensions=["tables", "sane_lists"], output_format="html")
    return Markup(sanitise_html(html))


def pdf_from_html(html: str) -> bytes:
    """A PDF of a self-contained HTML document. Only data: URIs (the embedded charts) are
    read: nothing is fetched from the network or the file system."""
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    return HTML(string=html, url_fetcher=URLFetcher(allowed_protocols={"data"})).write_pdf()

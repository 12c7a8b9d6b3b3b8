"""What in a piece of HTML could run or load something: the check the bad-input and property
tests apply to every rendering of user text."""

from __future__ import annotations

from html.parser import HTMLParser

DANGEROUS_TAGS = {
    "script",
    "style",
    "iframe",
    "frame",
    "object",
    "embed",
    "svg",
    "math",
    "img",
    "link",
    "meta",
    "base",
    "form",
    "input",
    "button",
    "textarea",
    "template",
}
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "srcset", "background", "poster"}
SCRIPT_SCHEMES = ("javascript:", "vbscript:", "data:")


class _Finder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in DANGEROUS_TAGS:
            self.found.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"{tag} {name}=")
            if name in URL_ATTRIBUTES and value:
                cleaned = "".join(c for c in value if c > " ").lower()
                if cleaned.startswith(SCRIPT_SCHEMES):
                    self.found.append(f"{tag} {name}={value[:30]}")

    handle_startendtag = handle_starttag

    def handle_comment(self, data):
        if "[if" in data.lower():  # a conditional comment
            self.found.append("<!--[if")


def live_markup(html: str) -> list[str]:
    """Every element, attribute or link in ``html`` that could run or fetch something."""
    finder = _Finder()
    finder.feed(html)
    finder.close()
    return finder.found

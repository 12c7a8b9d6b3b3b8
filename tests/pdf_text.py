"""The text a reader copies out of a PDF, as the tests read it: Poppler's ``pdftotext`` (installed
by ``make pdf-tools``), which reads the marked-content ActualText of a cluster whose glyphs do not
map one to one to its letters, as Thai's SARA AM; pypdf does not."""

import subprocess


def _pdftotext(pdf: bytes) -> str:
    result = subprocess.run(["pdftotext", "-enc", "UTF-8", "-", "-"], input=pdf, capture_output=True, check=True)
    return result.stdout.decode("utf-8")


def copied_text(pdf: bytes) -> str:
    """The whole text, its white space collapsed."""
    return " ".join(_pdftotext(pdf).split())


def copied_pages(pdf: bytes) -> list[str]:
    """The text page by page, its white space collapsed."""
    return [" ".join(page.split()) for page in _pdftotext(pdf).split("\f")]

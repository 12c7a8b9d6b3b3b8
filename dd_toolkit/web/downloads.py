"""Every file the app hands out goes through :func:`download`, so every download names its file
the same safe way, whatever language the organisation's name is in."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

from flask import Response

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def ascii_filename(filename: str) -> str:
    """A plain-ASCII stand-in for ``filename`` for clients that do not read ``filename*``:
    accents dropped ("Công ty" -> "Cong-ty"), other scripts and punctuation replaced by "-",
    the extension kept ("บริษัทไทย.pdf" -> "download.pdf")."""
    stem, dot, extension = filename.rpartition(".")
    if not dot:
        stem, extension = filename, ""
    decomposed = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode("ascii")
    stem = _UNSAFE.sub("-", decomposed)
    stem = re.sub(r"-{2,}", "-", stem).strip("-.") or "download"
    extension = _UNSAFE.sub("", extension)
    return f"{stem}.{extension}" if extension else stem


def content_disposition(filename: str, *, inline: bool = False) -> str:
    """An RFC 6266 header: an ASCII ``filename`` and the exact name as RFC 5987 ``filename*``."""
    kind = "inline" if inline else "attachment"
    filename = filename.replace("\r", " ").replace("\n", " ")
    fallback = ascii_filename(filename)
    header = f'{kind}; filename="{fallback}"'
    if fallback != filename:
        header += f"; filename*=UTF-8''{quote(filename, safe='')}"
    return header


def download(
    data: bytes | str,
    mimetype: str,
    filename: str,
    *,
    inline: bool = False,
    headers: dict[str, str] | None = None,
) -> Response:
    """A response carrying one file: ``inline`` for a PDF to open in the browser."""
    response = Response(data, mimetype=mimetype, headers=headers or {})
    response.headers["Content-Disposition"] = content_disposition(filename, inline=inline)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response

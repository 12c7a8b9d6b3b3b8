"""The large parts of pages that cannot change, rendered once per worker.

A submitted assessment is frozen: the detail of its results, its action plan's findings and the
regulator's copy of its answers depend only on the snapshot (named by its SHA-256), the
methodology it is read with, the installed content and the locale. A page renders that part once
and keeps it; every request still renders what depends on who is reading (navigation, buttons,
forms with their CSRF tokens, tracking) around it. Drafts are never kept.

A submitted assessment's whole action plan and transparency draft are kept the same way, under
their submission and everything else they show that can change (the tracking rows, the saved
edit, the previous cycle's assessment, whether the reader may edit). The regulator's inbox
tables and indicator figures are kept under every value they show (the reviews listed and their
status) or under the stored report's text.

The store belongs to the app (each app has its own content) and is bounded in bytes, least
recently used out first. Nothing in it is shared between organisations by accident: every key of
a company's part starts with the assessment's id and the submission's hash, and every key holds
the locale.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from cachetools import LRUCache
from flask import Flask, current_app
from flask_babel import get_locale
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup

from dd_toolkit.engine.content import content_language, fallbacks, reading_language

# A frozen results page's detail is about 80 KB; 32 MB keeps a few hundred per worker.
MAX_BYTES = 32 * 1024 * 1024
_EXTENSION = "dd_fragments"


# Where a kept fragment needs the request's CSRF token. User text is escaped or sanitised before
# it reaches a fragment, so this markup can only come from a template.
CSRF_SLOT = Markup("<!--dd:csrf-->")


@dataclass(frozen=True)
class Fragment:
    # The html cut at its CSRF slots (one piece when it has none): a request joins the pieces
    # with its token, a fraction of the time of replacing the slots on the 200 KB review page.
    pieces: tuple[Markup, ...]
    untranslated: frozenset[str]

    @property
    def size(self) -> int:
        return sum(len(piece) for piece in self.pieces) + sum(len(text) for text in self.untranslated)


class SizedStore:
    """Values kept under keys, bounded in total size (``size`` of each), least recently used out
    first; shared by the threads of a worker."""

    def __init__(self, max_size: int, size: Callable[[Any], int]) -> None:
        self._cache: LRUCache[Hashable, Any] = LRUCache(maxsize=max_size, getsizeof=size)
        self._size = size
        self._lock = threading.Lock()
        self.renders = 0  # how many values were rendered and put rather than found (for tests)

    @property
    def enabled(self) -> bool:
        return self._cache.maxsize > 0

    def get(self, key: Hashable) -> Any:
        with self._lock:
            return self._cache.get(key)

    def put(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self.renders += 1
            if self._size(value) <= self._cache.maxsize:
                self._cache[key] = value

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()


class FragmentStore(SizedStore):
    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        super().__init__(max_bytes, lambda fragment: fragment.size)

    def get_or_render(self, key: Hashable, render: Callable[[], str], *, csrf: bool = False) -> Markup:
        """The fragment kept under ``key``, rendered by ``render`` when there is none; ``csrf``:
        with the request's CSRF token in its slots (:data:`CSRF_SLOT`)."""
        found = self.get(key)
        if found is None:
            # The content texts it showed in English for want of a translation are kept with it,
            # so that a page served from the store counts them as one rendered afresh does.
            with content_language(reading_language()) as untranslated:
                found = Fragment(tuple(Markup(render()).split(CSRF_SLOT)), frozenset(untranslated))
            self.put(key, found)
        fallbacks().update(found.untranslated)
        if len(found.pieces) == 1:
            return found.pieces[0]
        # Flask-WTF's signed token is URL-safe base64 and dots: nothing in it to escape.
        return Markup((generate_csrf() if csrf else CSRF_SLOT).join(found.pieces))


def init_app(app: Flask) -> None:
    app.extensions[_EXTENSION] = FragmentStore(app.config.get("FRAGMENT_CACHE_BYTES", MAX_BYTES))


def store() -> FragmentStore:
    return current_app.extensions[_EXTENSION]


def frozen_fragment(
    part: Hashable, owner_id: int, sha256: str, method_key: str, render: Callable[[], str], *, csrf: bool = False
) -> Markup:
    """``part`` of a submitted assessment's page, rendered by ``render`` at most once per worker
    for its owner (the assessment, or the regulator's copy), submission, methodology and the
    request's locale."""
    return store().get_or_render((part, owner_id, sha256, method_key, str(get_locale())), render, csrf=csrf)

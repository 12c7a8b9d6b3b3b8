"""The documents a company takes away — the action plan and the draft transparency section —
in every export format, built the same way for the web pages and the command line.

Markdown comes from the templates in ``reports/``; HTML is that Markdown rendered and
sanitised, inside ``reports/document.html.j2`` with a one-page summary of the results; the PDF
is that HTML typeset by Typst (:func:`dd_toolkit.engine.render.pdf_from_html`).

A PDF still costs a tenth of a second or more, so a caller may pass a :class:`PdfStore`: the PDF of a
document is then kept under the SHA-256 of its HTML, and an unchanged document is rendered
once. The web app keeps them in the instance folder (:class:`FolderStore`) and renders the
documents of an assessment ahead of their download whenever a change alters them.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import functools
import hashlib
import json
import os
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import jinja2
from markupsafe import Markup

from dd_toolkit.engine import print_charts
from dd_toolkit.engine.actions import ActionPlan, build_action_plan
from dd_toolkit.engine.content import AnswerData, Profile, fallbacks
from dd_toolkit.engine.content.languages import load_languages
from dd_toolkit.engine.content.models import DEFAULT_LANGUAGE
from dd_toolkit.engine.content.reference_cards import ReferenceCard, ReferenceCardsError, cards_for_bank
from dd_toolkit.engine.print_charts import chart_fonts, radar_svg
from dd_toolkit.engine.registry import Content
from dd_toolkit.engine.render import (
    MAX_USER_MARKDOWN,
    inert_markdown,
    pdf_from_html,
    pdf_options_key,
    slug,
    typesetter_version,
    user_markdown_html,
)
from dd_toolkit.engine.reports import (
    _gettext,
    _ngettext,
    action_plan_csv,
    document_language,
    render_action_plan_markdown,
    render_transparency_markdown,
    report_environment,
    translate,
)
from dd_toolkit.engine.scoring import Methodology, ScoreCard
from dd_toolkit.engine.transparency import TransparencyDraft, build_transparency_draft

FORMATS = {
    "md": "text/markdown; charset=utf-8",
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
    "csv": "text/csv; charset=utf-8",
}


@dataclass(frozen=True)
class Inputs:
    """Everything a document is made from, as plain data."""

    content: Content
    method: Methodology
    organisation_name: str
    cycle: int
    profile: Profile
    answers: Mapping[str, AnswerData]
    card: ScoreCard
    frozen: bool
    previous_answers: Mapping[str, AnswerData] | None = None
    previous_cycle: int | None = None
    tracking: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # The team's edited Markdown of the transparency section, if they have edited it.
    transparency_markdown: str | None = None
    # Peer medians by framework reference, only where the disclosure rules allow: empty when
    # the benchmark discloses none, None when no benchmark was consulted (an exported file).
    peer_medians: Mapping[str, float] | None = None
    # The children's risk register (the ``risk_register`` mapping of a portable file, a frozen
    # snapshot or the reader), or None when the assessment has none.
    risk_register: Mapping[str, Any] | None = None
    # The language the document is written in ("en", "id", "th", "vi"): its questions, actions,
    # sentences and the templates' own words, its dates and numbers, its charts.
    language: str = DEFAULT_LANGUAGE


@dataclass(frozen=True)
class Document:
    data: bytes
    mimetype: str
    filename: str


# What the documents of a submitted assessment derive from it (its action plan, its transparency
# draft, their Markdown and the documents' HTML), kept per worker: the frozen inputs come from the reader's
# cache (dd_toolkit.records.reader), the same objects at every request, so an entry is reused
# only while those very objects, and equal tracking, are what it was built from (a few
# hundred kilobytes at most per assessment: the HTML of its documents included).
DERIVED_CACHE_SIZE = 128
_derived: OrderedDict[tuple, tuple[tuple, Any]] = OrderedDict()
_derived_lock = threading.Lock()


def _tracking_key(tracking: Mapping[str, Mapping[str, Any]]) -> tuple | None:
    try:
        key = tuple(sorted((item_id, tuple(sorted(row.items()))) for item_id, row in tracking.items()))
        hash(key)
    except TypeError:
        return None
    return key


def _memoised(kind: str, inputs: Inputs, objects: tuple, values: tuple | None, build: Callable[[], Any]) -> Any:
    """``build()``, or what it built before from the same ``objects`` (by identity) and equal
    ``values``; only for frozen inputs (a draft's card is new at every request)."""
    if not inputs.frozen or values is None:
        return build()
    key = (kind, inputs.language, *(id(o) for o in objects), values)
    with _derived_lock:
        entry = _derived.get(key)
        if entry is not None and all(a is b for a, b in zip(entry[0], objects, strict=True)):
            _derived.move_to_end(key)
            return entry[1]
    result = build()
    with _derived_lock:
        _derived[key] = (objects, result)  # holding the objects keeps their ids from being reused
        while len(_derived) > DERIVED_CACHE_SIZE:
            _derived.popitem(last=False)
    return result


def _frozen_objects(inputs: Inputs) -> tuple:
    return (inputs.content, inputs.method, inputs.profile, inputs.answers, inputs.card)


def action_plan(inputs: Inputs) -> ActionPlan:
    return _memoised(
        "plan",
        inputs,
        _frozen_objects(inputs),
        (),
        lambda: build_action_plan(
            inputs.content.bank, inputs.method, inputs.profile, inputs.answers, inputs.card, _register_cells(inputs)
        ),
    )


def _register_cells(inputs: Inputs) -> list[Mapping[str, Any]] | None:
    """The cells of the risk register (high residual risks raise their actions), or None."""
    return None if inputs.risk_register is None else list(inputs.risk_register.get("cells") or ())


def transparency_draft(inputs: Inputs, plan: ActionPlan | None = None) -> TransparencyDraft:
    plan = plan or action_plan(inputs)
    objects = (*_frozen_objects(inputs), plan, inputs.previous_answers)
    tracking = _tracking_key(inputs.tracking)
    # The register by value: a frozen one is read anew at each request (a small mapping).
    register = None if inputs.risk_register is None else json.dumps(inputs.risk_register, sort_keys=True, default=str)
    values = (inputs.organisation_name, inputs.cycle, inputs.previous_cycle, tracking, register)
    if tracking is None:
        values = None
    return _memoised("draft", inputs, objects, values, lambda: _build_transparency_draft(inputs, plan))


def draft_markdown(inputs: Inputs, draft: TransparencyDraft) -> str:
    """The Markdown of a generated transparency draft."""
    return _memoised(
        "draft.md",
        inputs,
        (inputs.content, draft),
        (),
        lambda: render_transparency_markdown(report_environment(inputs.content.root), draft),
    )


def _build_transparency_draft(inputs: Inputs, plan: ActionPlan) -> TransparencyDraft:
    return build_transparency_draft(
        inputs.content.bank,
        inputs.method,
        inputs.organisation_name,
        inputs.cycle,
        inputs.profile,
        inputs.answers,
        inputs.card,
        plan,
        previous_answers=inputs.previous_answers,
        previous_cycle=inputs.previous_cycle,
        tracking=inputs.tracking,
        content_root=inputs.content.root,
        register=inputs.risk_register,
    )


def action_plan_markdown(inputs: Inputs, plan: ActionPlan | None = None) -> str:
    plan = plan or action_plan(inputs)
    tracking = _tracking_key(inputs.tracking)
    return _memoised(
        "plan.md",
        inputs,
        (inputs.content, plan),
        None if tracking is None else (inputs.organisation_name, inputs.cycle, tracking, inputs.profile.countries),
        lambda: render_action_plan_markdown(
            report_environment(inputs.content.root),
            plan,
            organisation_name=inputs.organisation_name,
            cycle=inputs.cycle,
            tracking=inputs.tracking,
            reference_cards=reference_cards(inputs),
        ),
    )


def reference_cards(inputs: Inputs) -> list[tuple[str, ReferenceCard]]:
    """The national reference cards of the countries the organisation operates in, as (country
    name, card); none when the content folder has no cards file or a broken one (which
    ``dd-toolkit validate-content`` reports)."""
    bank = inputs.content.bank
    try:
        cards = cards_for_bank(inputs.content.root / "questionnaires", bank)
    except ReferenceCardsError:
        return []
    return [
        (bank.taxonomy.label("countries", card.country), card) for card in cards.for_countries(inputs.profile.countries)
    ]


def transparency_markdown(inputs: Inputs) -> str:
    """The team's edited text when there is one, else the draft generated from the answers."""
    if inputs.transparency_markdown is not None:
        return inputs.transparency_markdown
    return draft_markdown(inputs, transparency_draft(inputs))


def _summary(inputs: Inputs) -> dict[str, Any]:
    method, card = inputs.method, inputs.card
    words = _document_words(inputs.content.root)
    bands = {b.id: translate(b.label) for b in method.bands}

    confidence = {level.id: translate(level.label) for level in method.confidence.levels} if method.confidence else {}

    def number(value: float | None) -> str:
        return words("not_scored") if value is None else f"{value:.0f}"

    def share(value: float | None) -> str | None:
        # Rounded down, as on the results page: 100 % means everything that applies is answered.
        return None if value is None else f"{int(value * 100)} %"

    items = [item for lens in card.lenses for item in lens.items]
    peer = None
    if inputs.peer_medians:
        peer = [inputs.peer_medians.get(item.ref) for item in items]
        if all(v is None for v in peer):
            peer = None
    radar = None
    # A translated document names the radar's lines in HTML under it (see radar_svg).
    html_legend = inputs.language != DEFAULT_LANGUAGE
    legend = None
    if items and html_legend:
        legend = [(words("your_score"), print_charts.BRAND, False)]
        if peer is not None:
            legend.append((words("peer_median"), print_charts.PEER, True))
    if items:
        svg = radar_svg(
            [i.ref for i in items],
            [i.score for i in items],
            peer,
            legend=None if html_legend else (words("your_score"), words("peer_median")),
            fonts=chart_fonts(inputs.language),
        )
        radar = "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()
    return {
        "status": (words("status_frozen") if inputs.frozen else words("status_draft")),
        "methodology": words("methodology")
        % {"title": translate(method.title), "version": card.methodology["version"]},
        "overall": number(card.overall),
        "band": bands.get(card.band) or words("not_scored"),
        "coverage": share(card.coverage),
        "confidence": confidence.get(card.confidence or ""),
        "modules": [
            {
                "title": translate(m.title),
                "score": number(m.score),
                "band": bands.get(m.band, ""),
                "coverage": share(m.coverage),
                "confidence": confidence.get(m.confidence or ""),
            }
            for m in card.modules
        ],
        "indicators": [
            {
                "id": i.id,
                "label": translate(i.label),
                "status": (
                    words("indicator_does_not_apply")
                    if i.met is None
                    else words("indicator_met")
                    if i.met
                    else words("indicator_not_met")
                ),
            }
            for i in card.indicators
        ],
        "radar": radar,
        "legend": legend,
        # The radar's figures as a table too, each reference with its name: the picture is not
        # the only place they are, and its spokes carry only the short codes.
        "references": [
            {
                "ref": i.ref,
                "label": translate(i.label),
                "score": number(i.score),
                "band": bands.get(i.band, ""),
                "coverage": share(i.coverage),
                "confidence": confidence.get(i.confidence or ""),
            }
            for i in items
        ],
        "peer_note": (
            words("peer_note_shown")
            if peer is not None
            else words("peer_note_export")
            if inputs.peer_medians is None
            else words("peer_note_too_few")
        ),
    }


@functools.lru_cache(maxsize=8)
def _shell(loader: jinja2.BaseLoader) -> jinja2.Environment:
    # The shell is HTML, so unlike the Markdown templates it escapes every value it prints;
    # the body is already sanitised HTML. One environment per content folder: compiled once.
    env = jinja2.Environment(
        loader=loader, autoescape=True, undefined=jinja2.StrictUndefined, extensions=["jinja2.ext.i18n"]
    )
    env.install_gettext_callables(_gettext, _ngettext, newstyle=True)
    return env


def _html(inputs: Inputs, title: str, markdown_text: str, limit: int | None = None) -> str:
    peers = None if inputs.peer_medians is None else tuple(sorted(inputs.peer_medians.items()))
    return _memoised(
        "html",
        inputs,
        (inputs.content, inputs.method, inputs.card),
        (title, inputs.organisation_name, inputs.cycle, peers, markdown_text, limit),
        lambda: _build_html(inputs, title, markdown_text, limit),
    )


def _build_html(inputs: Inputs, title: str, markdown_text: str, limit: int | None) -> str:
    shell = _shell(report_environment(inputs.content.root).loader)
    return shell.get_template("document.html.j2").render(
        title=title,
        organisation_name=inputs.organisation_name,
        cycle=inputs.cycle,
        summary=_summary(inputs),
        body=Markup(user_markdown_html(markdown_text, limit=limit)),
        **_language_marks(inputs),
    )


def _language_marks(inputs: Inputs) -> dict[str, Any]:
    """The document's ``lang``, and its notes on the translation: a draft one is labelled as a
    draft, and texts shown in English for want of a translation are counted (call inside
    :func:`_in_language`, after the body is rendered)."""
    language = inputs.language or DEFAULT_LANGUAGE
    if language == DEFAULT_LANGUAGE:
        return {"lang": language, "draft_note": None, "fallback_count": 0}
    try:
        status = load_languages(inputs.content.root / "questionnaires").get(language)
    except ValueError:
        status = None
    return {"lang": language, "draft_note": status is None or status.draft, "fallback_count": len(fallbacks())}


def _in_language(inputs: Inputs):
    return document_language(inputs.content.bank.catalogues, inputs.language)


class PdfStore(Protocol):
    """Where rendered PDFs are kept, by the SHA-256 key of what they were rendered from."""

    def get(self, key: str) -> bytes | None: ...

    def put(self, key: str, data: bytes) -> None: ...

    def rendering(self, key: str) -> contextlib.AbstractContextManager[None]:
        """Held while the PDF of ``key`` is rendered: one rendering of a document at a time."""
        ...

    def render(self, html: str) -> bytes:
        """How a PDF missing from the store is rendered."""
        ...


class FolderStore:
    """PDFs kept as files in one folder, ``<key>.pdf``, written atomically, within ``max_bytes``:
    when a new PDF takes the folder past it, the PDFs read or written longest ago go first (a
    read marks its file as used). A document that changed was stored under a new key, so the
    superseded ones are the first to go.

    A document is rendered by one thread of one process at a time (:meth:`rendering`, a file
    lock): a download asked for while the same document is being rendered ahead waits for that
    rendering instead of starting a second one. A missing PDF is rendered by ``renderer``
    (:data:`dd_toolkit.engine.pdf_process.pdf_process` renders in a child process), or in this
    process."""

    # A temporary file older than this was left by a process that stopped while writing it.
    ABANDONED_AFTER_SECONDS = 3600

    def __init__(
        self, folder: Path, max_bytes: int = 1024 * 1024 * 1024, renderer: Callable[[str], bytes] | None = None
    ):
        self.folder = Path(folder)
        self.max_bytes = max_bytes
        self.renderer = renderer  # None: in this process

    def render(self, html: str) -> bytes:
        return (self.renderer or pdf_from_html)(html)

    def _path(self, key: str) -> Path:
        if len(key) != 64 or any(c not in "0123456789abcdef" for c in key):
            raise ValueError("a store key is a SHA-256 in lowercase hex")
        return self.folder / f"{key}.pdf"

    @contextlib.contextmanager
    def rendering(self, key: str):
        self._path(key)  # the key's check
        # One lock file per first two hex digits of the key: a fixed set of 256, so none is ever
        # removed while someone waits on it (two documents share a lock once in 256).
        locks = self.folder / ".locks"
        locks.mkdir(parents=True, exist_ok=True)
        with open(locks / key[:2], "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
            yield

    def get(self, key: str) -> bytes | None:
        path = self._path(key)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        with contextlib.suppress(FileNotFoundError):  # pruned by another process meanwhile
            os.utime(path)  # used now: the last to be pruned
        return data

    def put(self, key: str, data: bytes) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.folder, prefix=".", suffix=".part")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.replace(temporary, self._path(key))
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        self._prune(keep=self._path(key))

    def _prune(self, keep: Path) -> None:
        files = []
        for entry in os.scandir(self.folder):
            try:
                stat = entry.stat()
            except FileNotFoundError:  # pruned by another process meanwhile
                continue
            if entry.name.endswith(".pdf") and entry.path != str(keep):
                files.append((stat.st_mtime, stat.st_size, entry.path))
            elif entry.name.endswith(".part") and time.time() - stat.st_mtime > self.ABANDONED_AFTER_SECONDS:
                Path(entry.path).unlink(missing_ok=True)
        total = sum(size for _, size, _ in files) + keep.stat().st_size
        for _, size, path in sorted(files):
            if total <= self.max_bytes:
                break
            Path(path).unlink(missing_ok=True)
            total -= size


def pdf_key(html: str) -> str:
    """The key of the PDF of ``html``: its SHA-256, with the renderer's version and options (a
    PDF rendered before the options changed, untagged for one, is never served again)."""
    return hashlib.sha256(f"{typesetter_version()}\n{pdf_options_key()}\n{html}".encode()).hexdigest()


def stored_pdf(html: str, store: PdfStore | None) -> bytes:
    """The PDF of ``html``: from ``store`` when it was rendered before, else rendered (once, while
    others asking for it wait) and kept there."""
    if store is None:
        return pdf_from_html(html)
    key = pdf_key(html)
    data = store.get(key)
    if data is None:
        with store.rendering(key):
            data = store.get(key)  # rendered by someone else while this waited
            if data is None:
                data = store.render(html)
                store.put(key, data)
    return data


def _document(
    inputs: Inputs,
    stem: str,
    title: str,
    markdown_text: str,
    fmt: str,
    store: PdfStore | None = None,
    limit: int | None = None,
) -> Document:
    """``limit``: the length up to which a text a user wrote renders as Markdown (None for a
    document generated around escaped user text)."""
    filename = f"{stem}-{slug(inputs.organisation_name)}-{inputs.cycle}.{fmt}"
    if fmt == "md":
        # No raw HTML, even for a renderer that does not sanitise: the HTML is made from the same.
        data = inert_markdown(markdown_text).encode()
    elif fmt == "html":
        data = _html(inputs, title, markdown_text, limit).encode()
    elif fmt == "pdf":
        data = stored_pdf(_html(inputs, title, markdown_text, limit), store)
    else:
        raise ValueError(f"unknown format {fmt}")
    return Document(data, FORMATS[fmt], filename)


def action_plan_document(inputs: Inputs, fmt: str, store: PdfStore | None = None) -> Document:
    """The action plan as ``fmt``, in the inputs' language; a PDF comes from ``store`` when its
    HTML is unchanged."""
    with _in_language(inputs):
        return _action_plan_document(inputs, fmt, store)


def _action_plan_document(inputs: Inputs, fmt: str, store: PdfStore | None = None) -> Document:
    plan = action_plan(inputs)
    if fmt == "csv":
        return Document(
            action_plan_csv(plan, inputs.tracking).encode(),
            FORMATS["csv"],
            f"action-plan-{slug(inputs.organisation_name)}-{inputs.cycle}.csv",
        )
    title = _document_words(inputs.content.root)("action_plan_title")
    return _document(inputs, "action-plan", title, action_plan_markdown(inputs, plan), fmt, store)


def transparency_document(inputs: Inputs, fmt: str, store: PdfStore | None = None) -> Document:
    """The transparency section as ``fmt``, in the inputs' language; a PDF comes from ``store``
    when its HTML is unchanged."""
    if fmt == "csv":
        raise ValueError("the transparency section exports as md, html or pdf")
    with _in_language(inputs):
        return _transparency_document(inputs, fmt, store)


def _transparency_document(inputs: Inputs, fmt: str, store: PdfStore | None) -> Document:
    title = _document_words(inputs.content.root)("transparency_title")
    limit = None if inputs.transparency_markdown is None else MAX_USER_MARKDOWN
    return _document(inputs, "transparency", title, transparency_markdown(inputs), fmt, store, limit)


def _document_words(root: Path) -> Callable[[str], str]:
    """The renderer's words (``reports/document_words.yaml`` of a content folder, else the bundled
    one), each in the document's language."""
    from dd_toolkit.engine.transparency import _load

    found = _load(root, DOCUMENT_WORDS_FILE)
    return lambda key: translate(str(found[key]))


DOCUMENT_WORDS_FILE = "document_words.yaml"


def risk_record(inputs: Inputs, plan: ActionPlan | None = None):
    """The written record of the assessment's children's risk register
    (:class:`dd_toolkit.engine.risk_record.RiskRecord`); raises
    :class:`dd_toolkit.engine.risk_record.NoRegister` when it has none."""
    from dd_toolkit.engine.risk_record import build_risk_record

    return build_risk_record(
        inputs.content.bank,
        inputs.method,
        inputs.risk_register,
        plan=plan or action_plan(inputs),
        answers=inputs.answers,
        organisation_name=inputs.organisation_name,
        cycle=inputs.cycle,
        profile=inputs.profile,
        tracking=inputs.tracking,
    )


def risk_assessment_markdown(inputs: Inputs) -> str:
    from dd_toolkit.engine.risk_record import render_risk_assessment_markdown

    return render_risk_assessment_markdown(report_environment(inputs.content.root), risk_record(inputs))


def risk_assessment_document(inputs: Inputs, fmt: str, store: PdfStore | None = None) -> Document:
    """The written record of the children's risk assessment as ``fmt`` (md, html or pdf); raises
    :class:`dd_toolkit.engine.risk_record.NoRegister` when the assessment has no register."""
    if fmt not in ("md", "html", "pdf"):
        raise ValueError("the risk assessment exports as md, html or pdf")
    with _in_language(inputs):
        return _risk_assessment_document(inputs, fmt, store)


def _risk_assessment_document(inputs: Inputs, fmt: str, store: PdfStore | None) -> Document:
    markdown_text = risk_assessment_markdown(inputs)
    filename = f"risk-assessment-{slug(inputs.organisation_name)}-{inputs.cycle}.{fmt}"
    if fmt == "md":
        return Document(inert_markdown(markdown_text).encode(), FORMATS["md"], filename)
    # No results summary ahead of the record: it is a document of its own.
    shell = _shell(report_environment(inputs.content.root).loader)
    html = shell.get_template("document.html.j2").render(
        title=_document_words(inputs.content.root)("risk_assessment_title"),
        organisation_name=inputs.organisation_name,
        cycle=inputs.cycle,
        summary=None,
        body=Markup(user_markdown_html(markdown_text, limit=None)),
        **_language_marks(inputs),
    )
    if fmt == "html":
        return Document(html.encode(), FORMATS["html"], filename)
    return Document(stored_pdf(html, store), FORMATS["pdf"], filename)

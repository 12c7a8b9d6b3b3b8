"""PDFs rendered in a process of their own.

A web worker serves pages while documents are rendered ahead of their download. Rendering in
the worker itself would hold its interpreter lock while the HTML is written out as Typst and
while the compiler runs, and the pages it serves meanwhile would wait their turn. A child process
renders instead: the worker only waits on a pipe, and the operating system shares out the cores.
The child runs at a lower priority (:data:`NICENESS`), so on a busy host the pages people wait
for come first. It keeps one Typst compiler (see :mod:`dd_toolkit.engine.render`), which finds
the fonts once and reuses what it laid out before.

Each process that asks (each web worker) has one child, started at its first rendering, which
renders one document at a time. The child is a fresh interpreter (``python -m`` this module),
not a fork: a worker has threads and open connections that a fork would copy. They speak over
the child's standard input and output: a length-prefixed HTML document in, a status byte and a
length-prefixed PDF (or error message) out. The child ends when its parent closes the pipe.
"""

from __future__ import annotations

import contextlib
import gc
import io
import itertools
import logging
import os
import select
import signal
import struct
import subprocess
import sys
import threading
from typing import BinaryIO

from dd_toolkit import child_environment
from dd_toolkit.engine import render

LOGGER = logging.getLogger(__name__)

# How much lower than its parent the rendering process runs (see nice(2)): a rendering ahead of
# the download gives way to the requests being served.
NICENESS = 5

_LENGTH = struct.Struct(">Q")
_DONE, _FAILED = b"+", b"-"


class PdfRenderingError(RuntimeError):
    """The child could not render the document (the message is the child's error)."""


def _write(stream: BinaryIO, *parts: bytes) -> None:
    for part in parts:
        stream.write(part)
    stream.flush()


def _read(stream: BinaryIO, size: int) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise EOFError("the other end of the PDF process's pipe closed")
    return data


def _message(stream: BinaryIO) -> bytes:
    """A length-prefixed message."""
    (length,) = _LENGTH.unpack(_read(stream, _LENGTH.size))
    return _read(stream, length)


class PdfProcess:
    """Renders PDFs (:func:`dd_toolkit.engine.render.pdf_from_html`) in a child process, one at a
    time. A child that died (killed, out of memory) is replaced, once per rendering."""

    def __init__(self, command: list[str] | None = None):
        self._command = command or [sys.executable, "-m", __name__]
        self._lock = threading.Lock()  # one document in the pipe at a time
        self._child: subprocess.Popen | None = None
        self._owner: int | None = None

    def _started(self) -> subprocess.Popen:
        if self._child is not None and self._child.poll() is not None:  # it died since
            self._end()
        if self._child is None or self._owner != os.getpid():
            self._child = subprocess.Popen(
                self._command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=child_environment()
            )
            self._owner = os.getpid()
        return self._child

    def _exchange(self, html: bytes) -> tuple[bytes, bytes]:
        child = self._started()
        _write(child.stdin, _LENGTH.pack(len(html)), html)
        return _read(child.stdout, 1), _message(child.stdout)

    def render(self, html: str) -> bytes:
        """The PDF of ``html``, rendered in the child (started at the first call)."""
        document = html.encode()
        with self._lock:
            try:
                status, payload = self._exchange(document)
            except (BrokenPipeError, EOFError):  # the child died: once more, in a new one
                self._end()
                try:
                    status, payload = self._exchange(document)
                except (EOFError, OSError):  # a broken pipe, or no process at all
                    # No child renders here (a server whose sys.executable is not Python, say):
                    # the document is still rendered, in this process.
                    self._end()
                    LOGGER.warning("the PDF process could not render; rendering in this process instead")
                    return render.pdf_from_html(html)
        if status != _DONE:
            raise PdfRenderingError(payload.decode(errors="replace"))
        return payload

    def process_id(self) -> int:
        """The child's process id (starting it if need be)."""
        with self._lock:
            return self._started().pid

    def _end(self) -> None:
        child, self._child = self._child, None
        if child is not None and self._owner == os.getpid():
            for pipe in (child.stdin, child.stdout):  # the child ends at the end of its input
                with contextlib.suppress(OSError):  # what a dead child left unread is dropped
                    pipe.close()
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()

    def stop(self) -> None:
        """Stop the child; the next rendering starts another."""
        with self._lock:
            self._end()


pdf_process = PdfProcess()


# A child that has rendered nothing for this long ends, and gives back the memory its compiler
# kept (a few hundred MB); the next rendering starts another (see PdfProcess._started).
IDLE_SECONDS = 600


def _request_within(requests: BinaryIO, seconds: float) -> bool:
    """Whether something arrives on ``requests`` (a request, or its end) within ``seconds``.
    Parent and child take turns, so nothing is left in the stream's buffer between requests:
    waiting on its descriptor is enough. A stream with no descriptor has all it will have."""
    try:
        descriptor = requests.fileno()
    except (OSError, io.UnsupportedOperation):
        return True
    readable, _, _ = select.select([descriptor], [], [], seconds)
    return bool(readable)


def serve(requests: BinaryIO, replies: BinaryIO, idle_seconds: float = IDLE_SECONDS) -> None:
    """The child's loop: render each document read from ``requests`` until it ends, or until
    none has come for ``idle_seconds``.

    The cyclic garbage collector runs between renderings, once the reply has gone, not during
    them: a rendering makes about a million objects, and the collections they set off took an
    eighth of its time (with the demo plan, 250-350 ms of 2.3 s). The objects the first
    rendering left (modules, fonts, caches) are then frozen, so later collections skip them."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        for rendered in itertools.count(1):
            if not _request_within(requests, idle_seconds):
                return
            try:
                html = _message(requests)
            except EOFError:
                return
            try:
                status, payload = _DONE, render.pdf_from_html(html.decode())
            except Exception as error:  # reported to the parent, which raises it
                status, payload = _FAILED, f"{type(error).__name__}: {error}".encode()
            _write(replies, status, _LENGTH.pack(len(payload)), payload)
            gc.collect()
            if rendered == 1:
                gc.freeze()
    finally:
        if collecting:
            gc.enable()


if __name__ == "__main__":
    os.nice(NICENESS)
    # Ctrl-C in a terminal reaches the whole process group: the parent decides, and the child
    # ends when its parent closes the pipe.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The replies get a descriptor of their own; whatever a library prints goes to the error stream.
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    serve(sys.stdin.buffer, replies)

"""Following the relay's recordings as they are written, off its event loop.

The relay only says when a session's file opens and when it closes (`submit`, which never
blocks). One worker thread reads what each open file has grown by every `poll_s` seconds,
feeds the whole lines to the ingest normalizer (`rtlens.ingest.live`) and hands the rows
that became final to the sinks (metrics, spans): a settled turn's as soon as it settles,
the rest when the session closes. The forwarding path does no work for it at all: the
recording is the feed, so what is published is what `rtlens ingest` of that file gives.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Protocol

from rtlens.ingest.live import LiveSession
from rtlens.live.progress import Batch, Progress
from rtlens.procs import run_in_background

log = logging.getLogger(__name__)
POLL_S = 0.2  # how stale a scrape may be, at most, behind the recording
READ_BYTES = 1 << 20  # read at a time from one file, so one busy call cannot starve others
_STOP = None


class Sink(Protocol):
    def publish(self, batch: Batch) -> None: ...

    def close(self) -> None: ...


class _Followed:
    """One open recording: where reading got to, and its live normalizer."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.live = LiveSession(path)
        self.progress = Progress(self.live.source_file)
        self.fd: int | None = None
        self.partial = b""  # the start of a line not yet written whole
        self.closing = False
        self.broken = False
        # at the last look: turns settled, and (errors, rate-limit samples) seen
        self.settled_seen = -1
        self.rows_seen = (0, 0)

    def read_new(self) -> bytes:
        """Whole lines written since the last read."""
        if self.fd is None:
            try:
                self.fd = os.open(self.path, os.O_RDONLY)
            except OSError:
                return b""  # not there yet (or gone): nothing to read
        chunks = [self.partial]
        while chunk := os.read(self.fd, READ_BYTES):
            chunks.append(chunk)
            if len(chunk) < READ_BYTES:
                break
        data = b"".join(chunks)
        end = data.rfind(b"\n") + 1
        self.partial = data[end:]
        return data[:end]

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class LiveFeed:
    """The worker thread that follows every open recording for the sinks."""

    def __init__(self, sinks: Iterable[Sink], poll_s: float = POLL_S) -> None:
        self.sinks = list(sinks)
        self.poll_s = poll_s
        self.observed = 0  # sessions closed and published in full
        self.turns_published = 0  # settled turns published, over all sessions
        self.revised = 0  # rows a session's close changed after they were published
        self._open: dict[Path, _Followed] = {}
        self._changed = threading.Condition()
        self._queue: queue.SimpleQueue[tuple[Path, bool] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._work, name="rtlens-live", daemon=True)
        self._thread.start()

    def submit(self, path: Path, closed: bool) -> None:
        """The relay's word that `path` was opened (`closed` False) or closed: called from
        its event loop, never blocks."""
        self._queue.put((path, closed))

    def wait_until(self, condition: Callable[[LiveFeed], bool], timeout: float | None) -> bool:
        """Wait until `condition(self)` holds after a round of publishing (tests, shutdown)."""
        with self._changed:
            return self._changed.wait_for(lambda: condition(self), timeout)

    def wait_for(self, n: int, timeout: float | None = None) -> bool:
        """Wait until `n` sessions have closed and been published."""
        return self.wait_until(lambda feed: feed.observed >= n, timeout)

    def close(self) -> None:
        """Publish what the open files hold, as closed sessions; stop the thread and sinks."""
        self._queue.put(_STOP)
        self._thread.join()
        for sink in self.sinks:
            sink.close()

    # -- the worker thread -------------------------------------------------------------------

    def _work(self) -> None:
        run_in_background()
        stopping = False
        while not stopping:
            for message in self._messages():
                if message is None:
                    stopping = True
                    continue
                path, closed = message
                followed = self._open.get(path)
                if followed is None:
                    followed = self._open[path] = _Followed(path)
                followed.closing = followed.closing or closed
            for followed in list(self._open.values()):
                if stopping:  # the relay has stopped: what the files hold is all there is
                    followed.closing = True
                self._advance(followed)
            with self._changed:
                self._changed.notify_all()

    def _messages(self) -> list[tuple[Path, bool] | None]:
        """The relay's messages since the last round: waits `poll_s` for the first one."""
        try:
            out = [self._queue.get(timeout=self.poll_s)]
        except queue.Empty:
            return []
        while True:
            try:
                out.append(self._queue.get_nowait())
            except queue.Empty:
                return out

    def _advance(self, f: _Followed) -> None:
        try:
            if not f.broken:
                data = f.read_new()
                if f.closing:
                    data += f.partial  # a last line without its newline (a cut-off file)
                    f.live.closed = True
                f.live.feed(data)
                self._publish(f)
        except Exception:  # a bug must not stop the other sessions' metrics
            log.exception("rtlens live: could not follow %s", f.path)
            f.broken = True
        if f.closing:
            f.close()
            del self._open[f.path]
            self.revised += f.progress.revised
            self.observed += 1

    def _publish(self, f: _Followed) -> None:
        st = f.live.state
        if st is None:
            return
        settled = f.live.settled_turns()
        rows_now = (len(st.errors), len(st.rate_limits))  # published as they come
        if not f.closing and settled == f.settled_seen and rows_now == f.rows_seen:
            return  # nothing new to publish: no need to finalize
        f.settled_seen, f.rows_seen = settled, rows_now
        tables = f.live.tables()
        batch = None if tables is None else f.progress.take(tables, settled, final=f.closing)
        if batch is None or batch.empty():
            return
        self.turns_published += len(batch.new.get("turns", ()))
        for sink in self.sinks:
            try:
                sink.publish(batch)
            except Exception:
                log.exception("rtlens live: %s could not take %s", type(sink).__name__, f.path)

"""Normalizing finished recordings for the metrics, off the relay's event loop.

The relay calls `submit(path)` when a session's file is closed; a single worker thread runs
the ingest normalizer on it and updates the metrics, so forwarding never waits for it.
"""

from __future__ import annotations

import logging
import queue
import threading
from pathlib import Path

from rtlens.ingest.normalize import normalize_file
from rtlens.live.metrics import RelayMetrics

log = logging.getLogger(__name__)
_STOP = None


class MetricsFeed:
    def __init__(self, metrics: RelayMetrics) -> None:
        self.metrics = metrics
        self.observed = 0  # sessions added to the metrics so far
        self._done = threading.Condition()
        self._queue: queue.SimpleQueue[Path | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._work, name="rtlens-metrics", daemon=True)
        self._thread.start()

    def submit(self, path: Path) -> None:
        """Queue a closed recording (called from the relay's event loop: never blocks)."""
        self._queue.put(path)

    def wait_for(self, n: int, timeout: float | None = None) -> bool:
        """Wait until `n` sessions have been observed (for tests and shutdown)."""
        with self._done:
            return self._done.wait_for(lambda: self.observed >= n, timeout)

    def close(self) -> None:
        """Finish what is queued, then stop the worker."""
        self._queue.put(_STOP)
        self._thread.join()

    def _work(self) -> None:
        while (path := self._queue.get()) is not _STOP:
            try:
                self.metrics.observe(normalize_file(path))
            except Exception:  # a bug must not stop the metrics of later sessions
                log.exception("rtlens metrics: could not normalize %s", path)
            with self._done:
                self.observed += 1
                self._done.notify_all()

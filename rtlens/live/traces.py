"""`rtlens record --otlp`: the spans `rtlens export otel` would send for a session, sent
live: a settled turn's spans (the turn, its responses, tool calls and transcription) as
soon as it settles, the session's root span and the rest at its close.

The tree is built by `rtlens.export.spans.build_trace` from the rows so far, so ids,
parents, times and attributes are those of the export; only the spans not sent before go
out. Sending runs in a thread of its own, so an endpoint that does not answer delays
neither the metrics nor the relay; a failed export is reported once (naming the endpoint)
until one succeeds again, its spans are counted as lost, and relaying goes on.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from rtlens.export.otlp import (
    Protocol,
    export_spans,
    make_exporter,
    probe,
    watch_exporter_log,
    why_failed,
)
from rtlens.export.spans import SPAN_TABLES, SpanRecord, build_trace, row_span_id, session_rows
from rtlens.live.progress import Batch
from rtlens.procs import run_in_background

TIMEOUT_S = 10.0  # per export call (as `export otel`): what a dead endpoint costs the sender


@dataclass
class SpanCounts:
    sessions: int = 0  # root spans sent: sessions whose trace went out complete
    spans: int = 0
    lost: int = 0  # spans whose export failed


def batch_spans(batch: Batch) -> list[SpanRecord]:
    """The spans of `batch`'s new rows (and the root span, at the close)."""
    session = dict(batch.session, started_us=batch.session["started_ts"])
    session["ended_us"] = session["ended_ts"]
    rows = session_rows(batch.tables)
    trace = build_trace(session, rows)
    sid = session["session_id"]
    new = {table: {id(r) for r in batch.new.get(table, ())} for table in SPAN_TABLES}
    wanted = {
        row_span_id(sid, table, row, i)
        for table in SPAN_TABLES
        for i, row in enumerate(rows[table])
        if id(row) in new[table]
    }
    root, *children = trace.spans
    out = [s for s in children if s.span_id in wanted]
    return [root, *out] if batch.final else out


class SpanSender:
    """Sends each batch's spans to one OTLP endpoint, from its own thread."""

    def __init__(
        self,
        endpoint: str,
        protocol: Protocol,
        headers: Mapping[str, str],
        report: Callable[[str], None],
        timeout_s: float = TIMEOUT_S,
    ) -> None:
        self.endpoint, self.protocol = endpoint, protocol
        self.report = report
        self.timeout_s = timeout_s
        self.counts = SpanCounts()
        self._failing = False
        self._exporter = make_exporter(endpoint, protocol, headers, timeout_s)
        # (spans, how many sessions they end)
        self._queue: queue.SimpleQueue[tuple[list[SpanRecord], int] | None] = queue.SimpleQueue()
        self._idle = threading.Condition()
        self._pending = 0
        self._thread = threading.Thread(target=self._work, name="rtlens-otlp", daemon=True)
        self._thread.start()

    def publish(self, batch: Batch) -> None:
        spans = batch_spans(batch)
        if spans:
            with self._idle:
                self._pending += 1
            self._queue.put((spans, int(batch.final)))  # (sessions it ends)

    def wait_sent(self, timeout: float | None = None) -> bool:
        """Wait until every batch handed over so far has been sent or given up (tests)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        self._exporter.shutdown()

    def summary(self) -> str:
        c = self.counts
        lost = f"; {c.lost} span(s) could not be sent" if c.lost else ""
        return (
            f"otlp: {c.sessions} session(s), {c.spans} span(s) sent to {self.endpoint}"
            f" ({self.protocol}){lost}"
        )

    def _work(self) -> None:
        run_in_background()
        caught = watch_exporter_log()
        stop = False
        while not stop and (item := self._queue.get()) is not None:
            spans, final = item
            batches = 1
            # what queued up meanwhile goes in the same call: an endpoint that is down costs
            # one timeout per round, not one per batch
            while True:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                spans, final, batches = spans + more[0], final + more[1], batches + 1
            # While the endpoint is down, a connect tells so at once: the exporter would retry
            # for its whole timeout on every round (sessions would wait behind it at exit).
            down = self._failing and probe(self.endpoint, self.timeout_s) is not None
            try:
                ok = not down and export_spans(self._exporter, spans)
            except Exception as exc:  # the exporters log and return, but not for every bug
                caught.first = caught.first or str(exc)
                ok = False
            if ok:
                caught.reason()  # (a warning of a retry that then went through)
                self.counts.spans += len(spans)
                self.counts.sessions += final
                if self._failing:
                    self._failing = False
                    self.report(f"otlp: sending spans to {self.endpoint} again")
            else:
                self.counts.lost += len(spans)
                if not self._failing:
                    why = why_failed(caught, self.endpoint, self.timeout_s)
                    self._failing = True
                    self.report(
                        f"otlp: cannot send spans to {self.endpoint} ({self.protocol}){why}; "
                        "relaying goes on, spans are counted as lost until it answers"
                    )
            with self._idle:
                self._pending -= batches
                self._idle.notify_all()

"""The collector behind `POST /collect`: the browser capture's batches become one SPEC §1
file per call (`source: "browser"`).

A call's state is its file, not this process: `rtlens record --workers N` spreads the
page's POSTs over N processes (each one is a new connection), so whichever worker gets a
batch finds the call's file by its key (`<started>_<key>.jsonl`), takes an exclusive
`flock` on it, checks it has no close line yet and appends. The page sends one batch at a
time per call, so the lines stay in the order the page saw them. A call ends with the
page's close (it hung up, the channel closed, pagehide), or, when nothing came for
`idle_s`, with a close line by `relay`; every worker that wrote to a call watches for that,
and the file's mtime says when anyone last did.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from rtlens.logfile.format import SessionClock
from rtlens.logfile.redact import redact_url
from rtlens.logfile.writer import RecordingError, SessionWriter
from rtlens.recording import terminal
from rtlens.recording.batches import Batch, CallOpen, CollectError
from rtlens.recording.describe import describe_headers, safe_text, safe_url
from rtlens.recording.session import OnRecorded

IDLE_S = 60.0  # a call the page stopped reporting on (tab killed, laptop closed) ends then
MAX_BATCH_BYTES = 8 << 20  # one batch's body; the page sends far smaller ones
_TAIL = 4096  # a close line is far shorter


class PageClock(SessionClock):
    """A session clock anchored at the page's start of the call (its `started`)."""

    def __init__(self, started_us: int) -> None:
        super().__init__()
        self._anchor_wall_us = started_us
        self._anchor_mono_ns = time.perf_counter_ns() - (time.time_ns() // 1000 - started_us) * 1000


@dataclass(frozen=True)
class Collected:
    """What a batch did: the file, and the events appended from it."""

    path: Path
    events: int
    opened: bool
    closed: bool


class Collector:
    """Writes the browser capture's calls (one per page call), across processes."""

    def __init__(
        self,
        out_dir: Path,
        *,
        redact_audio: bool = False,
        shared_files: bool = False,
        report: Callable[[str], None] = print,
        idle_s: float = IDLE_S,
        listen: str | None = None,
        on_recorded: OnRecorded | None = None,
    ) -> None:
        self.out_dir = out_dir
        self.redact_audio = redact_audio
        self.shared_files = shared_files
        self.idle_s = idle_s
        self.listen = listen
        self._report = report
        self._on_recorded = on_recorded
        self._paths: dict[str, Path] = {}  # calls this process wrote to, not yet seen closed
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self.calls_started = 0

    @property
    def open_calls(self) -> int:
        return len(self._paths)

    def take(self, batch: Batch, peer: str | None) -> Collected:
        """Append `batch` to its call's file (creating it for seq 0); CollectError if the
        call is unknown, already ended or already open."""
        if batch.resent and batch.open is not None:
            known = self._paths.get(batch.call) or self._find(batch.call)
            if known is not None:
                return Collected(known, 0, False, False)  # it came the first time
        if batch.open is not None:
            path = self._create(batch.call, batch.open, peer)
            opened = True
        else:
            found = self._paths.get(batch.call) or self._find(batch.call)
            if found is None:
                raise CollectError(
                    404,
                    "unknown_call",
                    f"no call {batch.call} here: its first batch (seq 0, with open) never "
                    "came, or rtlens record was restarted",
                )
            path, opened = found, False
        with _locked(path) as lock_fd:
            if batch.resent and not opened and _written(lock_fd, batch):
                return Collected(path, 0, False, False)
            if not opened and _ends_closed(lock_fd):
                self._forget(batch.call)
                raise CollectError(
                    410, "call_ended", f"call {batch.call} has ended: {path} has its close line"
                )
            writer = SessionWriter.reopen(path, redact_audio=self.redact_audio)
            try:
                for event in batch.events:
                    if event.text is not None:
                        writer.write_text(event.direction, event.text, ts_us=event.ts_us)
                    else:
                        writer.write_binary(event.direction, event.binary or b"", event.ts_us)
                if batch.close is not None:
                    close = batch.close
                    writer.write_close(close.by, None, safe_text(close.reason), ts_us=close.ts_us)
            finally:
                writer.close()
        if batch.close is not None:
            self._ended(batch.call, path, batch.close.by, batch.close.reason)
        else:
            self._paths[batch.call] = path
            self._watch(batch.call)
        return Collected(path, len(batch.events), opened, batch.close is not None)

    def _create(self, key: str, opened: CallOpen, peer: str | None) -> Path:
        if key in self._paths or self._find(key) is not None:
            raise CollectError(409, "call_exists", f"call {key} is already open (seq 0 twice)")
        ex = opened.exchange
        extra: dict[str, Any] = {"transport": "webrtc", "collector": self.listen}
        if ex is not None:
            extra["call_id"] = ex.call_id
            extra["request"] = {
                "method": ex.method,
                "url": safe_url(ex.url),
                "headers": describe_headers(ex.headers),
            }
            if peer is not None:
                extra["request"]["client"] = peer
            extra["response"] = {
                "status": ex.status,
                "headers": describe_headers(ex.response_headers),
                **({"error": safe_text(ex.error)} if ex.error else {}),
            }
        if opened.page is not None:
            extra["page"] = safe_url(opened.page)
        if opened.user_agent is not None:
            extra["user_agent"] = safe_text(opened.user_agent)
        try:
            writer = SessionWriter(
                self.out_dir,
                source="browser",
                upstream=safe_url(redact_url(ex.url)) if ex is not None else None,
                redact_audio=self.redact_audio,
                session_id=key,
                clock=PageClock(opened.started_us),
                shared_files=self.shared_files,
                **extra,
            )
        except RecordingError as exc:
            if isinstance(exc.__cause__, FileExistsError):
                raise CollectError(409, "call_exists", f"call {key} is already open") from None
            raise
        writer.close()
        self.calls_started += 1
        self._paths[key] = writer.path
        self._report(terminal.opened(writer.path, "/collect (browser capture)", peer))
        if self._on_recorded is not None:
            self._on_recorded(writer.path, False)
        return writer.path

    def _find(self, key: str) -> Path | None:
        """Another worker may have opened it: the file name ends with the key."""
        return next(self.out_dir.glob(f"*_{key}.jsonl"), None)

    def _forget(self, key: str) -> None:
        self._paths.pop(key, None)
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()

    def _ended(self, key: str, path: Path, by: str, reason: str, code: int | None = None) -> None:
        self._forget(key)
        events, duration_s = _summary(path)
        self._report(
            terminal.closed(path, by, code, reason, duration_s, events, path.stat().st_size)
        )
        if self._on_recorded is not None:
            self._on_recorded(path, True)

    # -- calls the page stopped reporting on ----------------------------------------------

    def _watch(self, key: str, delay: float | None = None) -> None:
        with contextlib.suppress(RuntimeError):  # no loop: a synchronous caller (tests)
            loop = asyncio.get_running_loop()
            old = self._timers.pop(key, None)
            if old is not None:
                old.cancel()
            self._timers[key] = loop.call_later(
                self.idle_s if delay is None else delay, self._idle, key
            )

    def _idle(self, key: str) -> None:
        self._timers.pop(key, None)
        path = self._paths.get(key)
        if path is None:
            return
        reason = f"rtlens collector: nothing from the page for {self.idle_s:g} s"
        try:
            with _locked(path) as lock_fd:
                if _ends_closed(lock_fd):
                    self._forget(key)  # another worker took its close
                    return
                quiet = time.time() - os.fstat(lock_fd).st_mtime
                if quiet < self.idle_s:  # another worker appended meanwhile
                    self._watch(key, self.idle_s - quiet)
                    return
                writer = SessionWriter.reopen(path, redact_audio=self.redact_audio)
                writer.write_close("relay", None, reason)
        except (OSError, RecordingError) as exc:
            self._forget(key)
            self._report(terminal.problem(path, f"cannot end the idle call: {exc}"))
            return
        self._ended(key, path, "relay", reason)

    def shutdown(self, reason: str = "rtlens record: shutting down") -> None:
        """End every call this process wrote to that has no close line yet."""
        for key, path in list(self._paths.items()):
            try:
                with _locked(path) as lock_fd:
                    if _ends_closed(lock_fd):
                        self._forget(key)
                        continue
                    SessionWriter.reopen(path, redact_audio=self.redact_audio).write_close(
                        "relay", None, reason
                    )
            except (OSError, RecordingError) as exc:
                self._forget(key)
                self._report(terminal.problem(path, f"cannot end the call: {exc}"))
                continue
            self._ended(key, path, "relay", reason)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[int]:
    """An exclusive lock on the call's file, held by a read-only descriptor of it."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        raise CollectError(404, "unknown_call", f"{path} is gone") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield fd
    finally:
        os.close(fd)  # releases the lock


def _last_line(fd: int) -> Any:
    size = os.fstat(fd).st_size
    tail = os.pread(fd, _TAIL, max(0, size - _TAIL))
    try:
        return orjson.loads(tail.rstrip(b"\n").rsplit(b"\n", 1)[-1])
    except orjson.JSONDecodeError:
        return None  # (a line longer than the tail: an event, not a close line)


def _ends_closed(fd: int) -> bool:
    last = _last_line(fd)
    return isinstance(last, dict) and "close" in last and not ("event" in last or "rtlens" in last)


def _written(fd: int, batch: Batch) -> bool:
    """Whether a resent batch is in the file already: the page sends a call's batches one
    at a time, so if it is, the file ends with it (its last event or its close)."""
    if _ends_closed(fd):
        return True
    last = _last_line(fd)
    if not batch.events or not isinstance(last, dict) or not isinstance(last.get("ts"), float):
        return False
    return round(last["ts"] * 1_000_000) >= batch.events[-1].ts_us


def _summary(path: Path) -> tuple[int, float]:
    """Events and seconds of a closed call's file, for its terminal line."""
    first = last = None
    events = 0
    with path.open("rb") as f:
        next(f, None)  # the header
        for line in f:
            if line.startswith(b'{"ts":'):
                ts = line[6 : line.find(b",")]
                with contextlib.suppress(ValueError):
                    first = float(ts) if first is None else first
                    last = float(ts)
            events += 1
    duration = 0.0 if first is None or last is None else last - first
    return max(0, events - 1), duration  # less the close line

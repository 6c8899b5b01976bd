"""The lines `rtlens record` prints: one when a session opens, one when it closes.

Only formatting lives here; the relay hands each line to a `report` callable (the CLI
prints it, a library user may log it).
"""

from __future__ import annotations

import time
from pathlib import Path


def _clock() -> str:
    return time.strftime("%H:%M:%S")


def human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")


def listening(url: str, upstream: str, out_dir: Path, redact_audio: bool) -> str:
    audio = ", audio redacted" if redact_audio else ""
    return (
        f"rtlens record: relaying {url} -> {upstream}, recording to {out_dir}/{audio}"
        " (Ctrl-C to stop)"
    )


def opened(path: Path, request_path: str, client: str | None) -> str:
    return f"{_clock()} open   {path}  {request_path}  from {client or '?'}"


def closed(
    path: Path, by: str, code: int | None, reason: str, duration_s: float, events: int, size: int
) -> str:
    # (a browser call has no close code: WebRTC ends without one)
    why = " ".join(([] if code is None else [str(code)]) + ([repr(reason)] if reason else []))
    return (
        f"{_clock()} close  {path}  by {by} {why}, {duration_s:.1f} s, {events} events, "
        f"{human_bytes(size)}"
    )


def problem(path: Path | None, message: str) -> str:
    where = f"  {path}" if path is not None else ""
    return f"{_clock()} ERROR{where}  {message}"


def stopping(open_sessions: int) -> str:
    return f"rtlens record: stopping, closing {open_sessions} open session(s)"


def stopped(sessions: int, out_dir: Path) -> str:
    return f"rtlens record: stopped; {sessions} session(s) recorded in {out_dir}/"

"""The recording's lines with their audio kept (the logfile reader cuts audio out).

One line at a time, from the same inputs the reader opens (JSONL, `.gz`); the file is never
held. Lines that are not frames (the header, the close line, broken lines) are skipped here:
`rtlens ingest` is where they are reported.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from rtlens.logfile.reader import open_input

_BLOCK = 1 << 20


class Frame(NamedTuple):
    line_no: int
    ts: float | None
    direction: str
    event: dict[str, Any]
    redacted: bool  # the line carries `audio_bytes`: its audio was removed when recorded


class Header(NamedTuple):
    fields: dict[str, Any]


def read_frames(
    path: str | Path, on_progress: Callable[[int], None] | None = None
) -> Iterator[Frame | Header]:
    """Event frames (and the header, first) of a recording; `on_progress(n)` after each
    block of `n` bytes read."""
    with open_input(path) as stream:
        pending = b""
        line_no = 0
        while True:
            block = stream.read(_BLOCK)
            if on_progress is not None and block:
                on_progress(len(block))
            if not block:
                if pending.strip():
                    line_no += 1
                    frame = _frame(pending, line_no)
                    if frame is not None:
                        yield frame
                return
            lines = (pending + block).split(b"\n")
            pending = lines.pop()
            for line in lines:
                line_no += 1
                frame = _frame(line, line_no)
                if frame is not None:
                    yield frame


def _frame(line: bytes, line_no: int) -> Frame | Header | None:
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(obj, dict):
        return None
    if "rtlens" in obj and line_no == 1:
        return Header(obj)
    event = obj.get("event")
    if isinstance(event, dict) and obj.get("dir") in ("client", "server"):
        ts = obj.get("ts")
        ts = float(ts) if isinstance(ts, (int, float)) and not isinstance(ts, bool) else None
        return Frame(line_no, ts, obj["dir"], event, "audio_bytes" in obj)
    return None  # (bare event lines have no time or direction to place audio by)

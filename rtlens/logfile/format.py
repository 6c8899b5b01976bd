"""The rtlens recording format (SPEC §1): one JSONL file per session.

This module is the only contract between recording and ingesting: the recorder encodes lines
with it, the reader decodes them, and neither imports the other.

Line 1 is a header (`{"rtlens": 1, "session_id": ..., ...}`); then one line per WebSocket
frame (`{"ts", "dir", "event"|"text"|"binary", ["audio_bytes"]}`); then, when the connection
closes, `{"ts", "close": {"by", "code", "reason"}}`.
"""

from __future__ import annotations

import base64
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson

FORMAT_VERSION = 1
"""Version written in the header's `rtlens` key. Bump it, and add a converter, on any change."""

SOURCES = ("relay", "library", "browser", "sideband", "import")  # SPEC §1 and §4
CLOSE_BY = ("client", "server", "relay")


class SessionClock:
    """Timestamps for one session: wall time at the start, then a monotonic clock.

    Differences between two `now_us()` values are exact even if the wall clock jumps; the
    absolute value is anchored to the wall clock once, when the session starts.
    """

    def __init__(self) -> None:
        self._anchor_wall_us = time.time_ns() // 1000
        self._anchor_mono_ns = time.perf_counter_ns()

    @property
    def started_us(self) -> int:
        return self._anchor_wall_us

    def now_us(self) -> int:
        return self._anchor_wall_us + (time.perf_counter_ns() - self._anchor_mono_ns) // 1000


def format_ts(ts_us: int) -> bytes:
    """Epoch microseconds as `seconds.micros`, exactly (no float rounding)."""
    seconds, micros = divmod(ts_us, 1_000_000)
    return b"%d.%06d" % (seconds, micros)


def iso_utc(ts_us: int) -> str:
    return datetime.fromtimestamp(ts_us / 1e6, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_session_id() -> str:
    return uuid.uuid4().hex


def session_file_name(started_us: int, session_id: str) -> str:
    """`<started>_<session>.jsonl`, sortable by start time."""
    stamp = datetime.fromtimestamp(started_us / 1e6, tz=UTC).strftime("%Y%m%dT%H%M%S")
    return f"{stamp}Z_{session_id}.jsonl"


def make_header(
    *,
    session_id: str,
    started_us: int,
    source: str,
    upstream: str | None,
    rtlens_version: str,
    **extra: Any,
) -> dict[str, Any]:
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, not {source!r}")
    header: dict[str, Any] = {
        "rtlens": FORMAT_VERSION,
        "session_id": session_id,
        "started_at": iso_utc(started_us),
        "source": source,
        "upstream": upstream,
        "rtlens_version": rtlens_version,
    }
    header.update({k: v for k, v in extra.items() if v is not None})
    return header


def encode_header(header: dict[str, Any]) -> bytes:
    return orjson.dumps(header) + b"\n"


_DIR_EVENT = {d: b',"dir":"%s","event":' % d.encode() for d in ("client", "server")}


def encode_event(ts_us: int, direction: str, event_json: bytes, audio_bytes: int | None) -> bytes:
    """A frame line around an already-serialised JSON value (no newlines inside it).

    Built with one join: on the relay's hot path the payload (often kilobytes of base64
    audio) is copied once.
    """
    seconds, micros = divmod(ts_us, 1_000_000)
    tail = b"}\n" if audio_bytes is None else b',"audio_bytes":%d}\n' % audio_bytes
    middle = _DIR_EVENT.get(direction) or b',"dir":"%s","event":' % direction.encode()
    return b"".join((b'{"ts":%d.%06d' % (seconds, micros), middle, event_json, tail))


def encode_text(ts_us: int, direction: str, text: str) -> bytes:
    """A text frame that is not JSON."""
    return (
        b'{"ts":'
        + format_ts(ts_us)
        + b',"dir":"'
        + direction.encode()
        + b'","text":'
        + orjson.dumps(text)
        + b"}\n"
    )


def encode_binary(ts_us: int, direction: str, data: bytes) -> bytes:
    return (
        b'{"ts":'
        + format_ts(ts_us)
        + b',"dir":"'
        + direction.encode()
        + b'","binary":"'
        + base64.b64encode(data)
        + b'"}\n'
    )


def encode_close(ts_us: int, by: str, code: int | None, reason: str) -> bytes:
    if by not in CLOSE_BY:
        raise ValueError(f"close.by must be one of {CLOSE_BY}, not {by!r}")
    close = {"by": by, "code": code, "reason": reason}
    return b'{"ts":' + format_ts(ts_us) + b',"close":' + orjson.dumps(close) + b"}\n"


# ---- reading old files -----------------------------------------------------------------------
# Each converter takes a header dict and a line dict of version N and returns version N+1.
# Version 1 is the first, so the chain is empty; it is kept so the next format change has a
# place to go (see mitmproxy's io/compat.py for the pattern).
CONVERTERS: dict[int, Any] = {}


def check_version(version: object) -> int:
    """Validate a header's format version; raise ValueError with a sentence if unusable."""
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValueError(f"header has an invalid rtlens format version {version!r}")
    if version > FORMAT_VERSION:
        raise ValueError(
            f"written by a newer rtlens (format {version}; this one reads up to "
            f"{FORMAT_VERSION}): upgrade rtlens"
        )
    return version

"""The browser capture's batches (what `capture.js` POSTs to /collect), as typed records.

A batch is one JSON object:

    {"rtlens_capture": 1, "call": "<32 hex>", "seq": 0,
     "open": {"started": <epoch ms>, "page": "...", "user_agent": "...", "exchange": {...}},
     "events": [{"ts": <epoch ms>, "dir": "client"|"server", "text": "<as sent>"}, ...],
     "close": {"ts": <epoch ms>, "by": "client"|"server", "reason": "..."}}

`open` comes with `seq` 0 only, `close` with the call's last batch only; `"resent": true`
marks a batch sent again from pagehide because its first answer never came. `exchange` is the
SDP POST the page made (URL, status, headers with only allowlisted values) or null. A
binary message has `"binary": "<base64>"` instead of `text`. Times are the page's
`performance.timeOrigin + performance.now()` in ms: one monotonic clock per page.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any

import orjson

FORMAT = 1
CALL_KEY = re.compile(r"[0-9a-f]{32}")


class CollectError(Exception):
    """A request the collector will not take: the HTTP status, a code and one sentence."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True)
class CapturedEvent:
    ts_us: int
    direction: str  # client (the page sent it) or server (the page received it)
    text: str | None  # the message as it was on the channel
    binary: bytes | None = None


@dataclass(frozen=True)
class Exchange:
    """The SDP POST, as the page saw it (header values already allowlisted by the page)."""

    method: str
    url: str
    headers: list[tuple[str, str]]
    status: int | None
    response_headers: list[tuple[str, str]]
    ts_us: int | None
    error: str | None

    @property
    def call_id(self) -> str | None:
        """The call id from `Location: /v1/realtime/calls/<id>` (GA; beta has none)."""
        for name, value in self.response_headers:
            if name.lower() == "location" and "/" in value:
                return value.rstrip("/").rsplit("/", 1)[1] or None
        return None


@dataclass(frozen=True)
class CallOpen:
    started_us: int
    page: str | None
    user_agent: str | None
    exchange: Exchange | None


@dataclass(frozen=True)
class CallClose:
    ts_us: int
    by: str
    reason: str


@dataclass(frozen=True)
class Batch:
    call: str
    seq: int
    events: list[CapturedEvent]
    open: CallOpen | None
    close: CallClose | None
    # sent again by pagehide, its first answer never came: skipped if already written
    resent: bool = False


def _bad(message: str) -> CollectError:
    return CollectError(400, "invalid_batch", message)


def _ms_to_us(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise _bad(f"{where} must be a time in ms since the epoch, not {value!r}"[:200])
    return round(value * 1000)


def _str(value: Any, where: str, *, optional: bool = True) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise _bad(f"{where} must be a string")
    return value


def _pairs(value: Any, where: str) -> list[tuple[str, str]]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(
        isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p) for p in value
    ):
        raise _bad(f"{where} must be a list of [name, value] strings")
    return [(p[0], p[1]) for p in value]


def _exchange(value: Any) -> Exchange | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _bad("open.exchange must be an object or null")
    status = value.get("status")
    if status is not None and (isinstance(status, bool) or not isinstance(status, int)):
        raise _bad("open.exchange.status must be an integer")
    ts = value.get("ts")
    return Exchange(
        method=_str(value.get("method"), "open.exchange.method") or "POST",
        url=_str(value.get("url"), "open.exchange.url", optional=False) or "",
        headers=_pairs(value.get("headers"), "open.exchange.headers"),
        status=status,
        response_headers=_pairs(value.get("response_headers"), "open.exchange.response_headers"),
        ts_us=None if ts is None else _ms_to_us(ts, "open.exchange.ts"),
        error=_str(value.get("error"), "open.exchange.error"),
    )


def _event(value: Any, i: int) -> CapturedEvent:
    where = f"events[{i}]"
    if not isinstance(value, dict):
        raise _bad(f"{where} must be an object")
    direction = value.get("dir")
    if direction not in ("client", "server"):
        raise _bad(f"{where}.dir must be 'client' or 'server'")
    ts_us = _ms_to_us(value.get("ts"), f"{where}.ts")
    if "binary" in value:
        try:
            data = base64.b64decode(_str(value["binary"], f"{where}.binary") or "", validate=True)
        except binascii.Error:
            raise _bad(f"{where}.binary is not base64") from None
        return CapturedEvent(ts_us, direction, None, data)
    return CapturedEvent(ts_us, direction, _str(value.get("text"), f"{where}.text", optional=False))


def parse_batch(body: bytes) -> Batch:
    """The batch in `body`, or CollectError (400) saying what is wrong with it."""
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise CollectError(400, "invalid_json", f"the body is not JSON ({exc})") from None
    if not isinstance(obj, dict) or obj.get("rtlens_capture") != FORMAT:
        raise _bad(f'the body is not an rtlens capture batch ({{"rtlens_capture": {FORMAT}, …}})')
    call = obj.get("call")
    if not isinstance(call, str) or not CALL_KEY.fullmatch(call):
        raise _bad("call must be 32 lowercase hex characters")
    seq = obj.get("seq")
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        raise _bad("seq must be an integer >= 0")
    events = obj.get("events")
    if not isinstance(events, list):
        raise _bad("events must be a list")
    opened = obj.get("open")
    if (opened is not None) != (seq == 0):
        raise _bad("open comes with seq 0, and only then")
    call_open = None
    if opened is not None:
        if not isinstance(opened, dict):
            raise _bad("open must be an object")
        call_open = CallOpen(
            started_us=_ms_to_us(opened.get("started"), "open.started"),
            page=_str(opened.get("page"), "open.page"),
            user_agent=_str(opened.get("user_agent"), "open.user_agent"),
            exchange=_exchange(opened.get("exchange")),
        )
    closed = obj.get("close")
    call_close = None
    if closed is not None:
        if not isinstance(closed, dict) or closed.get("by") not in ("client", "server"):
            raise _bad("close must be an object with by 'client' or 'server'")
        call_close = CallClose(
            _ms_to_us(closed.get("ts"), "close.ts"),
            closed["by"],
            _str(closed.get("reason"), "close.reason") or "",
        )
    parsed = [_event(e, i) for i, e in enumerate(events)]
    return Batch(call, seq, parsed, call_open, call_close, obj.get("resent") is True)

"""Captures made by other tools, read as recordings (SPEC §1 with `source: "import"`).

Recognised by content, so `rtlens ingest` and `rtlens report` take them as they are:

- a HAR file (Chromium's and Firefox's DevTools "Save all as HAR"): the first entry with
  `_webSocketMessages` is the session; its URL becomes `upstream` (credentials removed)
  and its request headers are kept by the same allowlist as the relay's;
- a DevTools frame list (`[{"type": "send"|"receive", "time": …, "data": "…"}, …]`, as
  pasted from the Messages panel or exported by scripts);
- a mitmproxy flow dump (`mitmdump -w FILE`, tnetstring), read with mitmproxy's own
  reader (the optional extra `rtlens[mitmproxy]`): the first WebSocket flow with messages.

`send` is the app's (`client`), `receive` the server's; `time` is epoch seconds. A frame
whose data is JSON becomes an event line, any other text a text line, opcode 2 a binary
line (HAR base64). Keys are scrubbed as the relay scrubs them. A capture has no close:
the recording gets none (the report says it may be cut off).
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
from collections.abc import Iterable
from typing import Any

import orjson

from rtlens.errors import InputError
from rtlens.logfile import format as fmt
from rtlens.logfile.redact import redact_headers, redact_url, scrub_binary, scrub_event
from rtlens.version import __version__

HAR = "har"
DEVTOOLS = "devtools"
MITMPROXY = "mitmproxy"
_HAR_HEAD = re.compile(rb'^\s*\{\s*"log"\s*:')
# A tnetstring dict: its length, then its first key (`9:websocket;`, `4:type;`, …).
_MITM_HEAD = re.compile(rb"^\d{1,15}:\d{1,3}:[A-Za-z_]{1,64}[;,]")
_FRAMES_HEAD = re.compile(rb'^\s*\[\s*\{[^{}]*"type"\s*:\s*"(?:send|receive)"')
_DIRECTIONS = {"send": "client", "receive": "server"}
ACCEPTED = (
    "rtlens accepts rtlens JSONL recordings, bare event JSONL, JSON arrays of events, HAR "
    "files with WebSocket messages, DevTools frame lists and mitmproxy flow dumps"
)


def sniff(head: bytes) -> str | None:
    """`HAR`, `DEVTOOLS` or `MITMPROXY` if the file's first block looks like one, else None."""
    if _HAR_HEAD.match(head):
        return HAR
    if _FRAMES_HEAD.match(head):
        return DEVTOOLS
    if _MITM_HEAD.match(head):
        return MITMPROXY
    return None


def convert(kind: str, data: bytes, name: str) -> bytes:
    """The capture as the lines of a recording; InputError (one line) if it holds none."""
    if kind == MITMPROXY:
        return _from_mitmproxy(data, name)
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InputError(
            f"{name}: looks like a {_what(kind)} but is not valid JSON ({exc})"
        ) from None
    if kind == HAR:
        return _from_har(doc, name)
    if not isinstance(doc, list):
        raise InputError(f"{name}: not a DevTools frame list; {ACCEPTED}")
    return _lines(name, DEVTOOLS, doc, url=None, headers=[])


def not_a_recording(doc: Any, name: str) -> InputError:
    """The one-line error for a JSON document that is none of what rtlens reads."""
    if isinstance(doc, dict):
        keys = ", ".join(sorted(map(str, doc))[:6]) or "no keys"
        looks = f"a JSON object with keys {keys}"
    else:
        looks = f"a JSON {type(doc).__name__}"
    return InputError(f"{name}: {looks}, not a recording; {ACCEPTED}")


def _what(kind: str) -> str:
    return {HAR: "HAR file", MITMPROXY: "mitmproxy flow dump"}.get(kind, "DevTools frame list")


def _from_har(doc: Any, name: str) -> bytes:
    entries = doc.get("log", {}).get("entries", []) if isinstance(doc, dict) else []
    for entry in entries if isinstance(entries, list) else []:
        messages = entry.get("_webSocketMessages") if isinstance(entry, dict) else None
        if isinstance(messages, list) and messages:
            request = entry.get("request") or {}
            headers = [
                (str(h.get("name", "")), str(h.get("value", "")))
                for h in request.get("headers") or []
                if isinstance(h, dict)
            ]
            return _lines(name, HAR, messages, url=request.get("url"), headers=headers)
    raise InputError(
        f"{name}: a HAR file with no WebSocket messages (_webSocketMessages) to import; save "
        "it from the browser's Network panel while the Realtime WebSocket is listed"
    )


def _from_mitmproxy(data: bytes, name: str) -> bytes:
    try:
        from mitmproxy import http
        from mitmproxy import io as mitm_io
        from mitmproxy.exceptions import FlowReadException
    except ImportError:
        raise InputError(
            f"{name}: a mitmproxy flow dump; reading it needs mitmproxy's reader: "
            "pip install 'rtlens[mitmproxy]'"
        ) from None
    flows = mitm_io.FlowReader(io.BytesIO(data)).stream()
    try:
        for flow in flows:
            ws = flow.websocket if isinstance(flow, http.HTTPFlow) else None
            if ws is not None and ws.messages:
                # The message shape of a HAR, so one path makes the lines of both.
                messages = [
                    {
                        "type": "send" if m.from_client else "receive",
                        "time": m.timestamp,
                        "opcode": 1 if m.is_text else 2,
                        "data": m.content.decode(errors="replace")
                        if m.is_text
                        else base64.b64encode(m.content).decode(),
                    }
                    for m in ws.messages
                ]
                headers = list(flow.request.headers.items(multi=True))
                url = re.sub(r"^http", "ws", flow.request.pretty_url)
                return _lines(name, MITMPROXY, messages, url=url, headers=headers)
    except FlowReadException as exc:
        raise InputError(f"{name}: a mitmproxy flow dump that cannot be read ({exc})") from None
    raise InputError(
        f"{name}: a mitmproxy flow dump with no WebSocket messages to import; capture the "
        "Realtime connection itself (mitmdump -w FILE while the app talks)"
    )


def _lines(
    name: str, tool: str, messages: Iterable[Any], *, url: str | None, headers: list[Any]
) -> bytes:
    frames = [m for m in messages if isinstance(m, dict) and m.get("type") in _DIRECTIONS]
    if not frames:
        raise InputError(f"{name}: a {_what(tool)} with no send or receive messages")
    times = [_ts_us(m.get("time")) for m in frames]
    started = next((t for t in times if t is not None), 0)
    # Stable per capture: ingesting it again replaces its rows.
    session_id = "import-" + hashlib.sha256(orjson.dumps(frames[:50])).hexdigest()[:24]
    upstream = redact_url(url) if isinstance(url, str) else None
    request = {"path": upstream, "headers": redact_headers(headers)} if url else None
    out = [
        fmt.encode_header(
            fmt.make_header(
                session_id=session_id,
                started_us=started,
                source="import",
                upstream=upstream,
                rtlens_version=__version__,
                imported_from=tool,
                request=request,
            )
        )
    ]
    last = started
    for message, ts in zip(frames, times, strict=True):
        last = ts if ts is not None and ts >= last else last  # timestamps never go back
        out.append(_frame(message, last))
    return b"".join(out)


def _frame(message: dict[str, Any], ts_us: int) -> bytes:
    direction = _DIRECTIONS[message["type"]]
    data = message.get("data")
    if not isinstance(data, str):
        data = orjson.dumps(data).decode()
    if message.get("opcode") == 2:
        try:
            raw = base64.b64decode(data, validate=True)
        except ValueError:
            raw = data.encode()
        return fmt.encode_binary(ts_us, direction, scrub_binary(raw))
    try:
        event = orjson.loads(data)
    except orjson.JSONDecodeError:
        event = None
    if isinstance(event, dict):
        raw_event = scrub_event(orjson.dumps(event), event)
        return fmt.encode_event(ts_us, direction, raw_event, None)
    return fmt.encode_text(ts_us, direction, scrub_binary(data.encode()).decode(errors="replace"))


def _ts_us(value: Any) -> int | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return round(value * 1_000_000)
    return None

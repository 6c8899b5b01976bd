"""`POST /collect` on the relay's listen address: plain HTTP beside the WebSockets.

websockets' server parses GET requests only, so the relay's connection class looks at the
first bytes of each connection (`is_http_method`): a request with another method is read
here instead (a head of up to 16 KiB, then a body by its Content-Length, at most
`max_bytes`), answered, and closed. The browser capture posts `text/plain` (a CORS
"simple" request, so no preflight per batch); a preflight (`OPTIONS`) is answered too.

Who may post: peers on loopback only, unless `remote`; pages whose `Origin` is allowed
(by default any origin on this machine: `http(s)://localhost`, `127.x.x.x`, `[::1]`, any
port). A request without `Origin` (curl, a script) is taken: only browsers send one, and
it is them a page could misuse. Every refusal is a JSON `{"error": {code, message}}` to the
peer and one line on the terminal; nothing of a refused request is written.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from urllib.parse import urlsplit

import orjson

from rtlens.logfile.writer import RecordingError
from rtlens.recording import terminal
from rtlens.recording.batches import CollectError, parse_batch
from rtlens.recording.collector import MAX_BATCH_BYTES, Collector

MAX_HEAD_BYTES = 16 << 10
PATH = "/collect"
_METHODS = (b"POST", b"OPTIONS", b"PUT", b"DELETE", b"PATCH", b"HEAD", b"CONNECT", b"TRACE")


def is_http_method(first: bytes) -> bool | None:
    """Whether a connection's first bytes start a non-GET HTTP request (True), anything
    else (False), or cannot tell yet (None: too few bytes)."""
    head, space, _ = first.partition(b" ")
    if space:
        return head in _METHODS
    if len(first) >= 8:
        return False
    return None if any(m.startswith(first) for m in _METHODS) else False


def _loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class CollectPolicy:
    """Who may post to /collect (see the module text)."""

    origins: tuple[str, ...] = ()  # empty: this machine's origins; "*": any
    remote: bool = False
    max_bytes: int = MAX_BATCH_BYTES

    def allows_origin(self, origin: str | None) -> bool:
        if origin is None or "*" in self.origins:
            return True
        if self.origins:
            return origin.rstrip("/").lower() in {o.rstrip("/").lower() for o in self.origins}
        parts = urlsplit(origin)
        return parts.scheme in ("http", "https") and _loopback(parts.hostname or "")

    def allows_peer(self, host: str | None) -> bool:
        return self.remote or (host is not None and _loopback(host))


@dataclass
class _Request:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)


class CollectExchange:
    """One HTTP connection to the collector: read one request, answer it, close."""

    def __init__(
        self,
        transport: asyncio.Transport,
        peer: tuple[str, int] | None,
        collector: Collector,
        policy: CollectPolicy,
        report: Callable[[str], None],
    ) -> None:
        self.transport = transport
        self.peer = peer
        self.collector = collector
        self.policy = policy
        self._report = report
        self._buffer = bytearray()
        self._request: _Request | None = None
        self._length = 0
        self._discard = 0  # body bytes still to swallow after an early answer
        self.done = False

    @property
    def _peer_text(self) -> str:
        return "?" if self.peer is None else f"{self.peer[0]}:{self.peer[1]}"

    def feed(self, data: bytes) -> None:
        if self.done:
            self._swallow(len(data))
            return
        self._buffer += data
        if self._request is None:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buffer) > MAX_HEAD_BYTES:
                    self._refuse(431, "head_too_large", "the request head is over 16 KiB")
                return
            head = bytes(self._buffer[:end])
            del self._buffer[: end + 4]
            if not self._start(head):
                return
        if len(self._buffer) >= self._length:
            body = bytes(self._buffer[: self._length])
            self._buffer.clear()
            self._answer_post(body)

    def _start(self, head: bytes) -> bool:
        """Parse the head and check everything but the body; False once answered."""
        try:
            line, *lines = head.decode("latin-1").split("\r\n")
            method, target, version = line.split(" ")
            if not version.startswith("HTTP/1."):
                raise ValueError(version)
            headers = {}
            for item in lines:
                name, sep, value = item.partition(":")
                if not sep:
                    raise ValueError(item)
                headers[name.strip().lower()] = value.strip()
        except ValueError:
            self._refuse(400, "bad_request", "not an HTTP/1.1 request")
            return False
        self._request = request = _Request(method, target.split("?", 1)[0], headers)
        origin = headers.get("origin")
        if request.path != PATH:
            self._refuse(404, "not_found", f"only POST {PATH} is served here (besides WebSockets)")
        elif not self.policy.allows_peer(None if self.peer is None else self.peer[0]):
            self._refuse(
                403,
                "peer_not_allowed",
                f"{self._peer_text} is not on this machine; rtlens record --collect-remote "
                "takes batches from other machines",
            )
        elif not self.policy.allows_origin(origin):
            self._refuse(
                403,
                "origin_not_allowed",
                f"origin {origin} is not allowed; start rtlens record with "
                f"--collect-origin {origin}",
            )
        elif method == "OPTIONS":
            self._send(204, b"", preflight=True)
        elif method != "POST":
            self._refuse(405, "method_not_allowed", f"{method} {PATH}: only POST is served")
        elif (
            "chunked" in headers.get("transfer-encoding", "").lower()
            or not headers.get("content-length", "").isdigit()
        ):
            self._refuse(411, "length_required", "the body needs a Content-Length")
        else:
            self._length = int(headers["content-length"])
            if self._length <= self.policy.max_bytes:
                return True
            self._discard = max(0, self._length - len(self._buffer))
            self._buffer.clear()
            self._refuse(
                413,
                "batch_too_large",
                f"the batch is {self._length} bytes, over the collector's limit of "
                f"{self.policy.max_bytes}",
                keep_reading=self._discard > 0,
            )
        return False

    def _answer_post(self, body: bytes) -> None:
        try:
            batch = parse_batch(body)
            took = self.collector.take(batch, self._peer_text)
        except CollectError as exc:
            self._refuse(exc.status, exc.code, exc.message)
            return
        except RecordingError as exc:
            self._refuse(500, "cannot_write", str(exc))
            return
        answer = {"ok": True, "call": batch.call, "seq": batch.seq, "events": took.events}
        self._send(200, orjson.dumps(answer))

    def _refuse(self, status: int, code: str, message: str, *, keep_reading: bool = False) -> None:
        origin = self._request.headers.get("origin") if self._request else None
        where = f"from {self._peer_text}" + (f" ({origin})" if origin else "")
        self._report(terminal.problem(None, f"POST {PATH} {where}: {status} {code}: {message}"))
        body = orjson.dumps({"error": {"code": code, "message": message}})
        self._send(status, body, close=not keep_reading)

    def _send(
        self, status: int, body: bytes, *, preflight: bool = False, close: bool = True
    ) -> None:
        self.done = True
        headers = [
            f"HTTP/1.1 {status} {HTTPStatus(status).phrase}",
            "Content-Type: application/json",
            f"Content-Length: {len(body)}",
            "Cache-Control: no-store",
            "Connection: close",
        ]
        origin = self._request.headers.get("origin") if self._request else None
        if origin is not None:
            # Also on refusals: the page can read why (its console shows it); it gains
            # nothing else, since a refused request wrote nothing.
            headers += [f"Access-Control-Allow-Origin: {origin}", "Vary: Origin"]
        if preflight:
            headers += [
                "Access-Control-Allow-Methods: POST",
                "Access-Control-Allow-Headers: Content-Type",
                "Access-Control-Allow-Private-Network: true",
                "Access-Control-Max-Age: 600",
            ]
        self.transport.write("\r\n".join(headers).encode("latin-1") + b"\r\n\r\n" + body)
        if close:
            self.transport.close()

    def _swallow(self, n: int) -> None:
        """After a 413, read the rest of the body (so the peer sees the answer, not a
        reset) and then close."""
        self._discard -= n
        if self._discard <= 0 and not self.transport.is_closing():
            self.transport.close()

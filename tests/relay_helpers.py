"""Shared pieces for the recording tests: a scripted Realtime upstream, an app client that
keeps the exact bytes it sent and received, and a recording reader that checks the format.

The scripted upstream is a real websockets server on 127.0.0.1. It behaves like a small
Realtime API: `session.created` on connect, a full response (created, audio deltas,
transcript, done, rate limits) on `response.create`, `session.updated` on `session.update`,
and test commands: `test.close` (close with a code and reason), `test.close_empty` (a close
frame without a code), `test.drop` (send a few events, then drop the TCP connection),
`test.send_not_utf8` (a text frame that is not UTF-8). Non-JSON text and binary frames are
echoed. Event ids are counters, so runs are reproducible.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

FAKE_KEY = "sk-test-abcdefghijklmnopqrstuvwxyz0123456789"
FAKE_AZURE_KEY = "sk-azure-0123456789abcdefghijklmnopqrstuv"
FAKE_QUERY_KEY = "sk-query-ZYXWVUTSRQPONMLKJIHGFEDCBA98765"
FAKE_PROTOCOL_KEY = "sk-proto-1234567890abcdefghijklmnopqrst"
SECRETS = (FAKE_KEY, FAKE_AZURE_KEY, FAKE_QUERY_KEY, FAKE_PROTOCOL_KEY)

AUDIO = base64.b64encode(bytes(range(256)) * 40).decode()  # 10 KiB of "PCM"
# JSON with "café" in Latin-1: \xe9 is not valid UTF-8 on its own.
NOT_UTF8 = b'{"type":"conversation.item.create","text":"caf\xe9"}'

Frame = tuple[bool, bytes]  # (is_text, payload)


def async_test(fn: Callable[..., Awaitable[None]]) -> Callable[..., None]:
    """Run an async test function in its own event loop, with a generous overall timeout."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        async def main() -> None:
            async with asyncio.timeout(60):
                await fn(*args, **kwargs)

        asyncio.run(main())

    return wrapper


def free_port() -> int:
    """A loopback port nothing listens on now, for a server the test starts as a program."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def dumps(event: dict[str, Any]) -> bytes:
    return orjson.dumps(event)


# ---- the scripted upstream -------------------------------------------------------------------


@dataclass
class UpstreamSession:
    """What one connection to the scripted upstream saw and sent."""

    path: str
    headers: Headers
    subprotocol: str | None = None
    received: list[Frame] = field(default_factory=list)
    sent: list[Frame] = field(default_factory=list)
    closed: asyncio.Future[tuple[int | None, str | None]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    _ids: int = 0

    def next_id(self) -> str:
        self._ids += 1
        return f"event_{self._ids:04d}"


class ScriptedUpstream:
    """A Realtime-like server; `refuse` makes every handshake fail with that HTTP status,
    `gate` (an Event) holds every handshake until it is set."""

    def __init__(self, *, refuse: int | None = None, subprotocol: str = "realtime") -> None:
        self.refuse = refuse
        self.subprotocol = subprotocol
        self.sessions: list[UpstreamSession] = []
        self.requests: list[Request] = []
        self._new_session: asyncio.Queue[UpstreamSession] = asyncio.Queue()
        self._server: Server | None = None
        self.port = 0
        self.request_seen = asyncio.Event()
        self.gate: asyncio.Event | None = None  # when set, handshakes wait for it to open

    async def __aenter__(self) -> ScriptedUpstream:
        self._server = await serve(
            self._handler,
            "127.0.0.1",
            0,
            process_request=self._process_request,
            select_subprotocol=self._select_subprotocol,
            max_size=None,
        )
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def next_session(self) -> UpstreamSession:
        return await self._new_session.get()

    async def _process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        self.requests.append(request)
        self.request_seen.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.refuse is not None:
            body = orjson.dumps({"error": {"message": "Incorrect API key provided: sk-te***789"}})
            response = conn.respond(self.refuse, body.decode())
            del response.headers["Content-Type"]
            response.headers["Content-Type"] = "application/json"
            return response
        return None

    def _select_subprotocol(self, conn: ServerConnection, offered: Any) -> Any:
        return self.subprotocol if self.subprotocol in offered else None

    async def _handler(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        session = UpstreamSession(ws.request.path, ws.request.headers, ws.subprotocol)
        self.sessions.append(session)
        self._new_session.put_nowait(session)
        try:
            await self._send(ws, session, {"type": "session.created", "session": {"id": "sess_1"}})
            while True:
                message = await ws.recv()
                if isinstance(message, str):
                    session.received.append((True, message.encode()))
                    await self._on_text(ws, session, message)
                else:
                    session.received.append((False, message))
                    await self._send_raw(ws, session, (False, b"echo:" + message))
        except ConnectionClosed as exc:
            rcvd = exc.rcvd
            code, reason = (rcvd.code, rcvd.reason) if rcvd else (1006, "")
            if not session.closed.done():
                session.closed.set_result((code, reason))
        finally:
            if not session.closed.done():
                session.closed.set_result((ws.protocol.close_code, ws.protocol.close_reason))

    async def _send(self, ws: ServerConnection, session: UpstreamSession, event: dict) -> None:
        event = {"type": event["type"], "event_id": session.next_id(), **event}
        await self._send_raw(ws, session, (True, dumps(event)))

    async def _send_raw(self, ws: ServerConnection, session: UpstreamSession, frame: Frame) -> None:
        session.sent.append(frame)
        await ws.send(frame[1], text=frame[0])

    async def _on_text(self, ws: ServerConnection, session: UpstreamSession, text: str) -> None:
        try:
            event = orjson.loads(text)
        except orjson.JSONDecodeError:
            await self._send_raw(ws, session, (True, f"echo: {text}".encode()))
            return
        kind = event.get("type")
        if kind == "session.update":
            await self._send(ws, session, {"type": "session.updated", "session": event["session"]})
        elif kind == "response.create":
            for server_event in response_events():
                await self._send(ws, session, server_event)
        elif kind == "test.close":
            await ws.close(event["code"], event["reason"])
        elif kind == "test.close_empty":
            await ws.close(code=None)  # type: ignore[arg-type]
        elif kind == "test.send_not_utf8":  # a text frame whose bytes are not UTF-8
            await self._send_raw(ws, session, (True, NOT_UTF8))
        elif kind == "test.drop":
            for server_event in response_events()[:3]:
                await self._send(ws, session, server_event)
            ws.transport.abort()


def response_events() -> list[dict[str, Any]]:
    ids = {"response_id": "resp_1", "item_id": "item_1", "output_index": 0, "content_index": 0}
    return [
        {"type": "response.created", "response": {"id": "resp_1", "status": "in_progress"}},
        {"type": "response.output_audio.delta", **ids, "delta": AUDIO},
        {"type": "response.output_audio_transcript.delta", **ids, "delta": "Hello"},
        {"type": "response.output_audio.delta", **ids, "delta": AUDIO[:4096]},
        {"type": "response.output_audio.done", **ids},
        {
            "type": "response.done",
            "response": {"id": "resp_1", "status": "completed", "usage": {"total_tokens": 42}},
        },
        {
            "type": "rate_limits.updated",
            "rate_limits": [{"name": "tokens", "limit": 40000, "remaining": 39958}],
        },
    ]


# ---- the app side ----------------------------------------------------------------------------


class App:
    """A websockets client standing in for the app, keeping every frame's exact bytes."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.sent: list[Frame] = []
        self.received: list[Frame] = []

    @classmethod
    async def connect(cls, url: str, **kwargs: Any) -> App:
        kwargs.setdefault("max_size", None)
        return cls(await connect(url, **kwargs))

    async def send(self, payload: bytes | dict[str, Any], *, text: bool = True) -> None:
        data = dumps(payload) if isinstance(payload, dict) else payload
        self.sent.append((text, data))
        await self.ws.send(data, text=text)

    async def recv(self) -> Frame:
        message = await self.ws.recv()
        frame = (True, message.encode()) if isinstance(message, str) else (False, message)
        self.received.append(frame)
        return frame

    async def recv_frame(self, frame: Frame) -> None:
        """Read until this exact frame arrives."""
        while await self.recv() != frame:
            pass

    async def recv_until(self, event_type: str) -> None:
        while True:
            is_text, data = await self.recv()
            if is_text and data.startswith(b"{") and orjson.loads(data).get("type") == event_type:
                return

    async def closed(self) -> tuple[int | None, str | None]:
        """Read until the connection closes; the close code and reason the app got."""
        try:
            while True:
                await self.recv()
        except ConnectionClosed as exc:
            if exc.rcvd is None:
                return 1006, ""
            return exc.rcvd.code, exc.rcvd.reason


# ---- the recording ---------------------------------------------------------------------------


@dataclass
class Recording:
    path: Path
    raw_lines: list[bytes]
    header: dict[str, Any]
    frames: list[dict[str, Any]]  # frame lines, parsed, in file order
    raw_frames: list[bytes]
    close: dict[str, Any] | None

    def frames_from(self, direction: str) -> list[Frame]:
        """(is_text, payload bytes) per frame line of one direction, rebuilt from the file."""
        out = []
        for line, raw in zip(self.frames, self.raw_frames, strict=True):
            if line["dir"] != direction:
                continue
            if "event" in line:
                out.append((True, event_bytes(raw)))
            elif "text" in line:
                out.append((True, line["text"].encode()))
            else:
                out.append((False, base64.b64decode(line["binary"])))
        return out

    def types(self, direction: str) -> list[str]:
        return [f["event"]["type"] for f in self.frames if f["dir"] == direction and "event" in f]


def event_bytes(raw_line: bytes) -> bytes:
    """The event JSON exactly as the file holds it (the writer embeds the frame's bytes)."""
    start = raw_line.index(b',"event":') + len(b',"event":')
    assert raw_line.endswith(b"}\n") and b'"audio_bytes"' not in raw_line[-40:]
    return raw_line[start:-2]


def read_recording(path: Path, *, complete: bool = True) -> Recording:
    """Parse a recording line by line with orjson, checking the SPEC §1 shape on the way."""
    data = path.read_bytes()
    raw_lines = data.splitlines(keepends=True)
    assert raw_lines, f"{path} is empty"
    if not complete and not raw_lines[-1].endswith(b"\n"):
        raw_lines = raw_lines[:-1]  # a write failure may leave a partial last line
    lines = [orjson.loads(line) for line in raw_lines]
    header = lines[0]
    assert header["rtlens"] == 1 and header["session_id"] in path.name
    assert header["source"] in ("relay", "library")
    frames, raw_frames, close = [], [], None
    last_ts = 0.0
    for raw, line in zip(raw_lines[1:], lines[1:], strict=True):
        assert close is None, "nothing may follow the close line"
        assert line["ts"] >= last_ts, "timestamps must not decrease"
        last_ts = line["ts"]
        if "close" in line:
            close = line["close"]
            continue
        assert line["dir"] in ("client", "server")
        assert sum(key in line for key in ("event", "text", "binary")) == 1
        frames.append(line)
        raw_frames.append(raw)
    if complete:
        assert close is not None, f"{path} has no close line"
    return Recording(path, raw_lines, header, frames, raw_frames, close)


def only_recording(out_dir: Path) -> Recording:
    files = sorted(out_dir.glob("*.jsonl"))
    assert len(files) == 1, files
    return read_recording(files[0])


def assert_no_secret(path: Path) -> None:
    data = path.read_bytes()
    for secret in SECRETS:
        for fragment in (secret, secret[3:15], secret[-12:]):
            assert fragment.encode() not in data, f"{fragment!r} leaked into {path}"

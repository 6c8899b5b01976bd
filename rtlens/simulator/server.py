"""The simulator's WebSocket server: paths, auth and dialect, then one `Session` per socket.

It accepts the paths real clients use: `/v1/realtime` (OpenAI), `/openai/realtime` (Azure
preview, `?api-version=…&deployment=…`, beta protocol) and `/openai/v1/realtime` (Azure GA);
anything else is an HTTP 404. Like the real service it upgrades first and refuses afterwards:
a missing key is an `error` then close 3000; a missing or unknown model (on the OpenAI path,
any model whose name lacks "realtime"; Azure deployments may be called anything) or, in `ga`
mode, a beta request is an `error` then close 4000, the close reason being
`error.type[.code]` (capture C6).

Keys are accepted, never checked: any non-empty `Authorization: Bearer …`, `api-key` header or
`openai-insecure-api-key.<key>` subprotocol will do. The `realtime` subprotocol is selected when
offered. Pings go out every ~20 s, as the real server's do, and frames up to 32 MiB are read
(the API allows 15 MiB of audio per append, which base64 makes 20 MiB).

A simulator-only query parameter, `rtlens_scenario=NAME`, picks a scenario for one connection.

WebRTC (with the `webrtc` extra, aiortc and aiohttp): a second port answers SDP offers
(`calls.py`), each call running one `Session` over its data channel (`call.py`); a WebSocket
on `/v1/realtime?call_id=<id>` is a sideband connection to that running call: it sees the
call's server events and may send client events. An unknown `call_id` is an `error` then
close 4000 (`invalid_request_error.call_not_found`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import signal
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import orjson
from websockets.asyncio.server import Server, ServerConnection
from websockets.asyncio.server import serve as ws_serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from rtlens.catalogue import Dialect, wire_name
from rtlens.simulator import errors
from rtlens.simulator.config import SimulatorConfig
from rtlens.simulator.errors import ClientError
from rtlens.simulator.ids import Streams
from rtlens.simulator.scenarios import get_scenario
from rtlens.simulator.session import Session

if TYPE_CHECKING:
    from rtlens.simulator.call import Call
    from rtlens.simulator.calls import Answer, Offer

PATHS = {
    "/v1/realtime": "openai",
    "/openai/realtime": "azure-preview",
    "/openai/v1/realtime": "azure",
}
MAX_FRAME_BYTES = 32 * 1024 * 1024
PING_INTERVAL_S = 20.26
Log = Callable[[str], None]


class SignallingPortError(OSError):
    """The WebRTC signalling port (not the WebSocket one) could not be listened on."""


@dataclass
class Handshake:
    """What the upgrade request asked for."""

    kind: str
    query: dict[str, str]
    key: str | None
    beta_requested: bool


def _handshake(request: Request, subprotocols: list[str]) -> Handshake:
    url = urlsplit(request.path)
    query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
    headers: Headers = request.headers
    key: str | None = None
    auth = headers.get("Authorization", "")
    if auth.lower().startswith("bearer ") or auth.lower().startswith("basic "):
        key = auth.split(" ", 1)[1].strip()
    elif "api-key" in headers:
        key = headers["api-key"].strip()
    for proto in subprotocols:
        if proto.startswith("openai-insecure-api-key."):
            key = proto.split(".", 1)[1]
    beta = "realtime=v1" in headers.get("OpenAI-Beta", "").replace(" ", "")
    beta = beta or "openai-beta.realtime-v1" in subprotocols
    return Handshake(PATHS[url.path.rstrip("/") or "/"], query, key, beta)


def _offered(request: Request) -> list[str]:
    return [
        p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()
    ]


class SimulatorServer:
    """A running simulator: `port`, `url`, and how many connections it has served."""

    def __init__(self, cfg: SimulatorConfig, log: Log | None) -> None:
        self.cfg = cfg
        self.log = log
        self.connections = 0
        self._counter = itertools.count()
        self._server: Server | None = None
        self.calls: dict[str, Call] = {}
        self.webrtc_port: int | None = None

    @property
    def host(self) -> str:
        assert self._server is not None
        return str(self._server.sockets[0].getsockname()[0])

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        """Base URL for clients: append `?model=…` (the OpenAI SDK wants `…/v1`)."""
        return f"ws://{self.host}:{self.port}/v1/realtime"

    @property
    def calls_url(self) -> str:
        """Where to POST an SDP offer (GA); the beta endpoint is `…/v1/realtime?model=`."""
        if self.webrtc_port is None:
            raise RuntimeError("WebRTC is off: serve(webrtc_port=0) needs the webrtc extra")
        return f"http://{self.host}:{self.webrtc_port}/v1/realtime/calls"

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        if urlsplit(request.path).path.rstrip("/") not in PATHS:
            return connection.respond(404, "Not Found: the simulator serves /v1/realtime\n")
        return None

    @staticmethod
    def _select_subprotocol(connection: ServerConnection, offered: Any) -> Any:
        return "realtime" if "realtime" in offered else None

    def _say(self, line: str) -> None:
        if self.log is not None:
            self.log(f"[{time.strftime('%H:%M:%S')}] {line}")

    async def _refuse(
        self, ws: ServerConnection, dialect: Dialect, error: ClientError, code: int
    ) -> None:
        stream = Streams(self.cfg.seed, -1)("refusal")
        event = {
            "type": wire_name("error", dialect),
            "event_id": stream.event_id(),
            "error": error.body(None),
        }
        await ws.send(orjson.dumps(event).decode())
        reason = error.type + (f".{error.code}" if error.code else "")
        await ws.close(code, reason)

    async def open_call(self, offer: Offer) -> Answer:
        """Start a WebRTC call for an offer (ClientError or ValueError refuse it)."""
        from rtlens.simulator.call import Call
        from rtlens.simulator.calls import Answer
        from rtlens.simulator.dialect import apply_update

        mode = self.cfg.dialect
        if mode == "ga" and offer.beta:
            raise errors.beta_disabled()
        dialect: Dialect = "beta" if mode == "beta" or (mode == "auto" and offer.beta) else "ga"
        if "realtime" not in offer.model:
            raise errors.invalid_model(offer.model)
        index = next(self._counter)
        self.connections += 1
        streams = Streams(self.cfg.seed, index)
        call_id = "rtc_" + streams("call").token(24)
        scenario = get_scenario(self.cfg.scenario)

        def make_session(link: Any, player: Any) -> Session:
            session = Session(
                link,
                dialect=dialect,
                model=offer.model,
                scenario=scenario,
                streams=streams,
                pace=self.cfg.pace,
                media=player,
            )
            if offer.session is not None:  # the `session` field, applied as session.update
                fields = {k: v for k, v in offer.session.items() if k != "model"}
                session.cfg = apply_update(session.cfg, fields, dialect, has_assistant_audio=False)
                session.buffer.configure(session.cfg.input_format, session.cfg.turn_detection)
            return session

        def ended(call: Call) -> None:
            self.calls.pop(call.id, None)
            s = call.session
            self._say(
                f"#{index + 1} call ended after {time.monotonic() - call.started:.1f}s: "
                f"{s.received} client / {s.sent} server events, {s.responses} responses"
            )

        call = Call(call_id, make_session, ended)
        sdp = await call.answer(offer.sdp)
        self.calls[call_id] = call
        self._say(f"#{index + 1} call   {offer.peer} {dialect} {offer.model} {call_id}")
        return Answer(call_id, sdp)

    async def _sideband(self, ws: ServerConnection, index: int, call_id: str, peer: str) -> None:
        call = self.calls.get(call_id)
        if call is None:
            error = ClientError(
                f"No call with id '{call_id}': it has ended, or never existed.",
                "call_not_found",
                "call_id",
            )
            await self._refuse(ws, "ga", error, 4000)
            self._say(f"#{index + 1} refused {peer}: sideband for unknown call {call_id}")
            return
        self._say(f"#{index + 1} sideband {peer} -> {call_id}")
        await call.attach(ws)
        self._say(f"#{index + 1} sideband closed ({call_id})")

    async def _handle(self, ws: ServerConnection) -> None:
        index = next(self._counter)
        self.connections += 1
        assert ws.request is not None
        hs = _handshake(ws.request, _offered(ws.request))
        peer = "{}:{}".format(*ws.remote_address[:2]) if ws.remote_address else "?"
        if "call_id" in hs.query and hs.kind == "openai":
            if self.cfg.require_auth and not hs.key:
                await self._refuse(ws, "ga", errors.missing_auth(), 3000)
                return
            await self._sideband(ws, index, hs.query["call_id"], peer)
            return
        mode = self.cfg.dialect
        beta_wanted = hs.beta_requested or hs.kind == "azure-preview"
        dialect: Dialect = "beta" if mode == "beta" or (mode == "auto" and beta_wanted) else "ga"
        model = hs.query.get("model") or hs.query.get("deployment") or ""
        if self.cfg.require_auth and not hs.key:
            failure = errors.missing_auth() if hs.key is None else errors.invalid_api_key("")
            await self._refuse(ws, dialect, failure, 3000)
        elif mode == "ga" and beta_wanted:
            await self._refuse(ws, dialect, errors.beta_disabled(), 4000)
        elif not model:
            await self._refuse(ws, dialect, errors.missing_model(), 4000)
        elif hs.kind == "openai" and "realtime" not in model:
            await self._refuse(ws, dialect, errors.invalid_model(model), 4000)
        else:
            try:
                scenario = get_scenario(hs.query.get("rtlens_scenario", self.cfg.scenario))
            except ValueError as exc:
                await self._refuse(
                    ws, dialect, ClientError(str(exc), "invalid_value", "rtlens_scenario"), 4000
                )
                return
            self._say(f"#{index + 1} open   {peer} {dialect} {model} scenario {scenario.name}")
            session = Session(
                ws,
                dialect=dialect,
                model=model,
                scenario=scenario,
                streams=Streams(self.cfg.seed, index),
                pace=self.cfg.pace,
            )
            started = time.monotonic()
            await session.run()
            # `ws.protocol.close_code`: the connection's own `close_code` is 14.1+ only.
            code = ws.protocol.close_code if ws.protocol.close_code is not None else 1006
            self._say(
                f"#{index + 1} closed {code} after {time.monotonic() - started:.1f}s: "
                f"{session.received} client / {session.sent} server events, "
                f"{session.responses} responses"
            )
            return
        closed = ws.protocol
        self._say(f"#{index + 1} refused {peer}: close {closed.close_code} {closed.close_reason}")

    @contextlib.asynccontextmanager
    async def _serving(
        self, host: str, port: int, webrtc_port: int | None
    ) -> AsyncIterator[SimulatorServer]:
        async with contextlib.AsyncExitStack() as stack:
            await stack.enter_async_context(self._websocket(host, port))
            if webrtc_port is not None:
                await stack.enter_async_context(self._signalling(host, webrtc_port))
            yield self

    @contextlib.asynccontextmanager
    async def _signalling(self, host: str, port: int) -> AsyncIterator[None]:
        from aiohttp import web

        from rtlens.simulator.calls import make_app

        runner = web.AppRunner(
            make_app(self.open_call, self.cfg.require_auth, self._say), access_log=None
        )
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise SignallingPortError(exc.errno, exc.strerror or str(exc)) from exc
        self.webrtc_port = int(runner.addresses[0][1])
        try:
            yield
        finally:
            for call in list(self.calls.values()):
                await call.close()
            await runner.cleanup()

    @contextlib.asynccontextmanager
    async def _websocket(self, host: str, port: int) -> AsyncIterator[None]:
        async with ws_serve(
            self._handle,
            host,
            port,
            process_request=self._process_request,
            select_subprotocol=self._select_subprotocol,
            max_size=MAX_FRAME_BYTES,
            ping_interval=PING_INTERVAL_S,
            ping_timeout=PING_INTERVAL_S,
        ) as server:
            self._server = server
            yield


@contextlib.asynccontextmanager
async def serve(
    host: str = "127.0.0.1",
    port: int = 0,
    cfg: SimulatorConfig | None = None,
    *,
    log: Log | None = None,
    webrtc_port: int | None = None,
) -> AsyncIterator[SimulatorServer]:
    """Run a simulator on `host:port` (0 = a free port) for the duration of the block.

    `webrtc_port` (0 = a free port) also answers WebRTC offers there (the `webrtc` extra)."""
    server = SimulatorServer(cfg or SimulatorConfig(), log)
    async with server._serving(host, port, webrtc_port) as running:
        yield running


def parse_listen(listen: str) -> tuple[str, int]:
    """`host:port` (or `:port`, or `port`) -> (host, port); ValueError if malformed."""
    host, _, port = listen.rpartition(":")
    if not port.isdigit() or int(port) > 65535:
        raise ValueError(f"expected HOST:PORT, got {listen!r}")
    return (host.strip("[]") or "127.0.0.1"), int(port)


def webrtc_available() -> bool:
    """Whether the `webrtc` extra (aiortc, aiohttp) is installed."""
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in ("aiortc", "aiohttp"))


def run(
    listen: str = "127.0.0.1:8766",
    cfg: SimulatorConfig | None = None,
    *,
    log: Log | None = print,
    webrtc_port: int | None = None,
) -> None:
    """Serve until Ctrl-C or SIGTERM (blocking). Raises OSError if the address is unusable.

    `webrtc_port` (on the same host) answers WebRTC offers over HTTP (None: WebRTC off)."""
    host, port = parse_listen(listen)
    cfg = cfg or SimulatorConfig()

    async def main() -> None:
        async with serve(host, port, cfg, log=None, webrtc_port=webrtc_port) as server:
            server.log = log
            if log is not None:
                webrtc = f"WebRTC offers to {server.calls_url}; " if server.webrtc_port else ""
                log(
                    f"rtlens simulate: listening on {server.url}?model=gpt-realtime "
                    f"(dialect {cfg.dialect}, scenario {cfg.scenario}, seed {cfg.seed}, "
                    f"pace {cfg.pace:g}); {webrtc}Ctrl-C to stop"
                )
            stop = asyncio.Event()
            with contextlib.suppress(NotImplementedError, RuntimeError):
                asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
            await stop.wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())

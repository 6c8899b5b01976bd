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
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import signal
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any
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

PATHS = {
    "/v1/realtime": "openai",
    "/openai/realtime": "azure-preview",
    "/openai/v1/realtime": "azure",
}
MAX_FRAME_BYTES = 32 * 1024 * 1024
PING_INTERVAL_S = 20.26
Log = Callable[[str], None]


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

    async def _handle(self, ws: ServerConnection) -> None:
        index = next(self._counter)
        self.connections += 1
        assert ws.request is not None
        hs = _handshake(ws.request, _offered(ws.request))
        mode = self.cfg.dialect
        beta_wanted = hs.beta_requested or hs.kind == "azure-preview"
        dialect: Dialect = "beta" if mode == "beta" or (mode == "auto" and beta_wanted) else "ga"
        model = hs.query.get("model") or hs.query.get("deployment") or ""
        peer = "{}:{}".format(*ws.remote_address[:2]) if ws.remote_address else "?"
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
    async def _serving(self, host: str, port: int) -> AsyncIterator[SimulatorServer]:
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
            yield self


@contextlib.asynccontextmanager
async def serve(
    host: str = "127.0.0.1",
    port: int = 0,
    cfg: SimulatorConfig | None = None,
    *,
    log: Log | None = None,
) -> AsyncIterator[SimulatorServer]:
    """Run a simulator on `host:port` (0 = a free port) for the duration of the block."""
    server = SimulatorServer(cfg or SimulatorConfig(), log)
    async with server._serving(host, port) as running:
        yield running


def parse_listen(listen: str) -> tuple[str, int]:
    """`host:port` (or `:port`, or `port`) -> (host, port); ValueError if malformed."""
    host, _, port = listen.rpartition(":")
    if not port.isdigit() or int(port) > 65535:
        raise ValueError(f"expected HOST:PORT, got {listen!r}")
    return (host.strip("[]") or "127.0.0.1"), int(port)


def run(
    listen: str = "127.0.0.1:8766", cfg: SimulatorConfig | None = None, *, log: Log | None = print
) -> None:
    """Serve until Ctrl-C or SIGTERM (blocking). Raises OSError if the address is unusable."""
    host, port = parse_listen(listen)
    cfg = cfg or SimulatorConfig()

    async def main() -> None:
        async with serve(host, port, cfg, log=None) as server:
            server.log = log
            if log is not None:
                log(
                    f"rtlens simulate: listening on {server.url}?model=gpt-realtime "
                    f"(dialect {cfg.dialect}, scenario {cfg.scenario}, seed {cfg.seed}, "
                    f"pace {cfg.pace:g}); Ctrl-C to stop"
                )
            stop = asyncio.Event()
            with contextlib.suppress(NotImplementedError, RuntimeError):
                asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
            await stop.wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())

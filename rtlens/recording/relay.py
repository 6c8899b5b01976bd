"""The recording relay behind `rtlens record`: a WebSocket server on loopback that the app
connects to instead of the Realtime API.

For each app connection, during the app's handshake, the relay opens the upstream with the
app's path, query, headers and subprotocols; once the upstream has answered it completes
the app's handshake with the subprotocol the upstream chose. Then a `RelayedSession` copies
frames both ways and records them, one SPEC §1 file per connection.

If the upstream cannot be opened the app's handshake still completes and the app gets a
close whose reason says why (1014 for a refusal that a retry will not fix, 1011 otherwise),
so the failure shows up in the app's own error handling and in the file.

    async with serve_relay("127.0.0.1", 0, upstream="wss://api.openai.com") as relay:
        ...  # the app connects to relay.url + "/v1/realtime?model=gpt-realtime"
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import socket
import ssl
import tempfile
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response
from websockets.protocol import State
from websockets.typing import Subprotocol

from rtlens.logfile.format import SessionClock
from rtlens.logfile.writer import RecordingError, SessionWriter, make_out_dir
from rtlens.recording import terminal
from rtlens.recording.capture_script import capture_js
from rtlens.recording.closing import GOING_AWAY, INTERNAL_ERROR, fit_reason
from rtlens.recording.collect_http import CollectExchange, CollectPolicy, is_http_method
from rtlens.recording.collector import IDLE_S, Collector
from rtlens.recording.describe import describe_request, describe_response, safe_url
from rtlens.recording.session import OnRecorded, RelayedSession, Report, close_leg
from rtlens.recording.upstream import (
    DEFAULT_UPSTREAM,
    UpstreamFailure,
    describe_failure,
    headers_to_copy_back,
    normalize_upstream,
    open_upstream,
    upstream_url,
)
from rtlens.recording.wire import TappedClientConnection, TappedServerConnection

log = logging.getLogger("rtlens.recording")


class RelayStartError(Exception):
    """The relay cannot start; the message is one sentence that says what to do."""


class AppConnection(TappedServerConnection):
    """The app's connection, carrying what its handshake set up until the handler takes over."""

    relay: RelayServer
    clock: SessionClock
    upstream: TappedClientConnection | None = None
    upstream_url: str = ""
    failure: UpstreamFailure | None = None
    claimed = False
    _sniffed = b""  # the first bytes, until they tell a WebSocket from a POST /collect
    _http: CollectExchange | None = None
    _websocket = False

    def data_received(self, data: bytes) -> None:
        if self._websocket:  # every read of a WebSocket after the first
            super().data_received(data)
            return
        if self._http is not None:
            self._http.feed(data)
            return
        first = self._sniffed + data
        kind = is_http_method(first)
        if kind is None:
            self._sniffed = first
        elif kind:
            relay = self.relay
            peer = self.transport.get_extra_info("peername")
            transport = cast(asyncio.Transport, self.transport)
            self._http = CollectExchange(
                transport, peer, relay.collector, relay.collect_policy, relay.report
            )
            self._http.feed(first)
        else:
            self._websocket = True
            self._sniffed = b""
            super().data_received(first)

    def adopt(self, upstream: TappedClientConnection) -> None:
        self.upstream = upstream
        if self.state is State.CLOSED:  # the app left while the upstream was being opened
            self._release_upstream()

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if not self.claimed and self.upstream is not None:
            self._release_upstream()  # the handshake failed: no handler will ever run

    def _release_upstream(self) -> None:
        assert self.upstream is not None
        self.relay.spawn(self.upstream.close(GOING_AWAY, "rtlens relay: client left"))


class RelayServer:
    """The relay: `await start()`, then `port`/`url`; `await aclose()` to stop gracefully."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 8765,
        *,
        upstream: str = DEFAULT_UPSTREAM,
        out_dir: str | os.PathLike[str] = "recordings",
        redact_audio: bool = False,
        report: Report | None = None,
        upstream_timeout: float = 10.0,
        tls: ssl.SSLContext | None = None,
        sock: socket.socket | None = None,
        on_sessions: Callable[[int, int], None] | None = None,
        shared_files: bool = False,
        on_recorded: OnRecorded | None = None,
        collect_policy: CollectPolicy | None = None,
        collect_idle_s: float | None = None,
    ) -> None:
        """`sock`: a socket already bound to `host`:`port` to listen on (a relay worker's);
        `on_sessions(started, open)` is called whenever a session starts or ends.
        `collect_policy`: who may POST /collect (the browser capture; default loopback
        peers and origins); `collect_idle_s`: a call with no batch for that long ends."""
        self.host = host
        self._sock = sock
        self._on_sessions = on_sessions
        self.shared_files = shared_files  # 0644 files, umask folders (else 0600 / 0700)
        # called with each session's file when it is created (False) and once it is closed
        # (True): `--metrics` and `--otlp` follow the file meanwhile
        self.on_recorded = on_recorded
        self.tls = tls  # serve wss:// with this context (`--tls-cert`), else ws://
        self._port = port
        self.upstream = upstream
        self.out_dir = Path(out_dir)
        self.redact_audio = redact_audio
        self.upstream_timeout = upstream_timeout
        self.sessions_started = 0
        self._relayed = 0  # WebSocket sessions; sessions_started adds the browser calls
        self._report: Report = report or log.info
        self._server: Server | None = None
        self._sessions: set[RelayedSession] = set()
        self._background: set[asyncio.Task[Any]] = set()
        self._closing = False
        self.collect_policy = collect_policy or CollectPolicy()
        self.collector = Collector(
            self.out_dir,
            redact_audio=redact_audio,
            shared_files=shared_files,
            report=self._collected,
            on_recorded=on_recorded,
            idle_s=IDLE_S if collect_idle_s is None else collect_idle_s,
        )

    def report(self, line: str) -> None:
        self._report(line)

    def _collected(self, line: str) -> None:
        """The collector's lines; a call it opens or closes changes the session counts."""
        self._report(line)
        self.sessions_started = self._relayed + self.collector.calls_started
        self._sessions_changed()

    @property
    def port(self) -> int:
        if self._server is None:
            return self._port
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'wss' if self.tls else 'ws'}://{host}:{self.port}"

    @property
    def open_sessions(self) -> int:
        return len(self._sessions) + self.collector.open_calls

    async def start(self) -> None:
        """Check the output folder and the upstream URL, then listen; RelayStartError if not."""
        try:
            self.upstream = normalize_upstream(self.upstream)
        except ValueError as exc:
            raise RelayStartError(str(exc)) from None
        check_out_dir(self.out_dir, self.shared_files)
        connection = type("RelayAppConnection", (AppConnection,), {"relay": self})
        try:
            where: dict[str, Any] = (
                {"sock": self._sock} if self._sock else {"host": self.host, "port": self._port}
            )
            self._server = await serve(
                self._handler,
                **where,
                process_request=self._process_request,
                process_response=self._process_response,
                select_subprotocol=self._select_subprotocol,
                create_connection=connection,
                compression="deflate",  # negotiated only if the app offers it
                max_size=None,  # the API takes up to 15 MiB per event: do not cap below it
                server_header=None,  # the upstream's own headers are copied back instead
                open_timeout=self.upstream_timeout + 10,
                ssl=self.tls,
            )
        except OSError as exc:
            raise RelayStartError(listen_error(self.host, self._port, exc)) from None
        self.collector.listen = self.url.replace("ws", "http", 1) + "/collect"

    async def aclose(self, reason: str = "rtlens relay: shutting down") -> None:
        """Stop listening, close every session (1001) with a close line in its file."""
        if self._server is None or self._closing:
            return
        self._closing = True
        self._server.close(close_connections=False)
        await asyncio.gather(*(s.shutdown(GOING_AWAY, reason) for s in list(self._sessions)))
        self.collector.shutdown(reason)
        await self._server.wait_closed()
        while self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- the app's handshake ----------------------------------------------------------------

    # websockets types these callbacks with ServerConnection; ours are always AppConnection.

    async def _process_request(
        self, connection: ServerConnection, request: Request
    ) -> Response | None:
        conn = cast(AppConnection, connection)
        conn.relay = self
        if request.path.split("?", 1)[0] == "/capture.js":
            return _script_response(self.url.replace("ws", "http", 1) + "/collect")
        conn.clock = SessionClock()
        conn.upstream_url = upstream_url(self.upstream, request.path)
        try:
            upstream = await open_upstream(
                conn.upstream_url, request.headers, open_timeout=self.upstream_timeout
            )
        except Exception as exc:
            conn.failure = describe_failure(exc, conn.upstream_url, self.upstream_timeout)
        else:
            conn.adopt(upstream)
        return None  # complete the app's handshake either way; a failure is told in a close

    def _select_subprotocol(
        self, connection: ServerConnection, offered: Sequence[Subprotocol]
    ) -> Subprotocol | None:
        upstream = cast(AppConnection, connection).upstream
        return upstream.subprotocol if upstream is not None else None

    def _process_response(
        self, connection: ServerConnection, request: Request, response: Response
    ) -> Response | None:
        upstream = cast(AppConnection, connection).upstream
        if upstream is not None and upstream.response is not None and response.status_code == 101:
            for name, value in headers_to_copy_back(upstream.response.headers):
                response.headers[name] = value
        return None

    # -- sessions ---------------------------------------------------------------------------

    async def _handler(self, connection: ServerConnection) -> None:
        conn = cast(AppConnection, connection)
        conn.claimed = True
        request = conn.request
        assert request is not None
        client = _address(conn.remote_address)
        upstream = conn.upstream
        response = describe_response(upstream.response, upstream.subprotocol) if upstream else None
        described = describe_request(request.path, request.headers, client)
        try:
            writer = SessionWriter(
                self.out_dir,
                source="relay",
                upstream=safe_url(conn.upstream_url),
                redact_audio=self.redact_audio,
                shared_files=self.shared_files,
                clock=conn.clock,
                request=described,
                response=response,
                listen=self.url,
            )
        except RecordingError as exc:
            await self._refuse_unrecordable(conn, exc)
            return
        session = RelayedSession(conn, upstream, writer, self._report)
        if self.on_recorded is not None:
            self.on_recorded(writer.path, False)
        self._sessions.add(session)
        self._relayed += 1
        self.sessions_started = self._relayed + self.collector.calls_started
        self._sessions_changed()
        try:
            self._report(terminal.opened(writer.path, described["path"], client))
            if conn.failure is not None:
                await session.refuse(conn.failure)
            elif self._closing:
                await session.shutdown()
            else:
                await session.run()
        finally:
            self._sessions.discard(session)
            if self.on_recorded is not None:
                self.on_recorded(writer.path, True)
            self._sessions_changed()

    def _sessions_changed(self) -> None:
        if self._on_sessions is not None:
            self._on_sessions(self.sessions_started, len(self._sessions))

    async def _refuse_unrecordable(self, conn: AppConnection, exc: RecordingError) -> None:
        cause = getattr(exc.__cause__, "strerror", None) or str(exc)
        reason = fit_reason(f"rtlens relay: cannot write the recording ({cause})")
        self._report(terminal.problem(None, f"{exc}: refused the session (1011)"))
        legs = [close_leg(conn, INTERNAL_ERROR, reason)]
        if conn.upstream is not None:
            legs.append(close_leg(conn.upstream, INTERNAL_ERROR, reason))
        await asyncio.gather(*legs)


def _script_response(collect_url: str) -> Response:
    """GET /capture.js: the browser capture, posting to this relay's /collect."""
    body = capture_js(collect_url).encode()
    headers = Headers(
        [
            ("Content-Type", "text/javascript; charset=utf-8"),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
            # a page that is cross-origin isolated (COEP) may load it too
            ("Cross-Origin-Resource-Policy", "cross-origin"),
            ("Connection", "close"),
        ]
    )
    return Response(200, "OK", headers, body)


def check_out_dir(out_dir: Path, shared_files: bool = False) -> None:
    """Create the folder and prove a file can be written there (root ignores mode bits)."""
    try:
        make_out_dir(out_dir, shared_files=shared_files)
        with tempfile.TemporaryFile(dir=out_dir) as probe:
            probe.write(b"rtlens")
            probe.flush()
    except OSError as exc:
        raise RelayStartError(
            f"cannot write recordings to {out_dir}: {exc.strerror or exc}; "
            "choose a writable output folder"
        ) from None


def listen_error(host: str, port: int, exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return (
            f"cannot listen on {host}:{port}: the port is already in use; "
            "stop the other program or choose another port"
        )
    return f"cannot listen on {host}:{port}: {exc.strerror or exc}"


def _address(address: Any) -> str | None:
    if isinstance(address, tuple) and len(address) >= 2:
        return f"{address[0]}:{address[1]}"
    return None if address is None else str(address)


@asynccontextmanager
async def serve_relay(
    host: str = "127.0.0.1",
    port: int = 8765,
    *,
    upstream: str = DEFAULT_UPSTREAM,
    out_dir: str | os.PathLike[str] = "recordings",
    redact_audio: bool = False,
    report: Report | None = None,
    upstream_timeout: float = 10.0,
    tls: ssl.SSLContext | None = None,
    shared_files: bool = False,
    on_recorded: OnRecorded | None = None,
    collect_policy: CollectPolicy | None = None,
    collect_idle_s: float | None = None,
) -> AsyncIterator[RelayServer]:
    """Run the relay for the duration of the block (port 0 picks a free port)."""
    relay = RelayServer(
        host,
        port,
        upstream=upstream,
        out_dir=out_dir,
        redact_audio=redact_audio,
        report=report,
        upstream_timeout=upstream_timeout,
        tls=tls,
        shared_files=shared_files,
        on_recorded=on_recorded,
        collect_policy=collect_policy,
        collect_idle_s=collect_idle_s,
    )
    await relay.start()
    try:
        yield relay
    finally:
        await relay.aclose()

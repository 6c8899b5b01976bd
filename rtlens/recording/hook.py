"""Library hooks: record a WebSocket the app opened itself, in the relay's format.

`record_connection(ws)` wraps a websockets client connection (asyncio or sync) in an
object with the same `send` / `recv` / iteration / `close` surface that writes every
message the app sends and receives, and the close, to one SPEC §1 file (`source:
"library"`). Anything else is delegated to the wrapped connection.

Differences from the relay, which sees the wire: a frame is timestamped when the app sends
or receives it (not when it reaches the socket), and only messages the app actually reads
are recorded. A message that cannot be written is not sent (or not handed to the app): the
connection is closed with 1011 and `RecordingError` raised, so nothing passes unrecorded.
"""

from __future__ import annotations

import logging
import os
import ssl
import threading
from collections.abc import AsyncIterable, AsyncIterator, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

from websockets.asyncio.client import ClientConnection as AsyncClientConnection
from websockets.exceptions import ConnectionClosed, ConnectionClosedOK
from websockets.protocol import State
from websockets.sync.client import ClientConnection as SyncClientConnection
from websockets.typing import Data

from rtlens.logfile.writer import RecordingError, SessionWriter, make_out_dir
from rtlens.recording.closing import INTERNAL_ERROR, close_seen
from rtlens.recording.describe import describe_request, describe_response, safe_text, safe_url

log = logging.getLogger("rtlens.recording")

UNRECORDED_REASON = "rtlens: cannot write the recording; closed rather than continue unrecorded"
_WHOLE = (str, bytes, bytearray, memoryview)  # anything else is a sequence of fragments


class _Recorder:
    """The file of one hooked connection; thread-safe, as sync apps may send from one thread
    while another receives."""

    def __init__(
        self,
        ws: AsyncClientConnection | SyncClientConnection,
        out_dir: str | os.PathLike[str],
        upstream: str | None,
        redact_audio: bool,
        header_extra: dict[str, Any],
        source: str = "library",
        shared_files: bool = False,
    ) -> None:
        request = ws.request
        if upstream is None and request is not None:
            scheme = "wss" if _is_secure(ws) else "ws"
            upstream = f"{scheme}://{request.headers.get('Host', '')}{request.path}"
        try:
            make_out_dir(out_dir, shared_files=shared_files)
        except OSError as exc:
            raise RecordingError(f"cannot create {out_dir}: {exc.strerror or exc}") from exc
        self.writer = SessionWriter(
            out_dir,
            source=source,
            upstream=safe_url(upstream) if upstream else None,
            redact_audio=redact_audio,
            shared_files=shared_files,
            request=describe_request(request.path, request.headers) if request else None,
            response=describe_response(ws.response, ws.subprotocol),
            **header_extra,
        )
        self._lock = threading.Lock()

    def sent(self, message: Any, text: bool | None) -> None:
        if not isinstance(message, str | bytes):
            message = bytes(message)
        with self._lock:
            if isinstance(message, str) or text:
                try:
                    self.writer.write_text("client", message)
                except UnicodeDecodeError:  # bytes sent as text: kept losslessly, as the relay
                    self.writer.write_binary("client", message)  # does; the peer closes 1007
            else:
                self.writer.write_binary("client", message)

    def received(self, message: Data, decode: bool | None) -> Data:
        """Record a received message; return it as `recv(decode=...)` would have."""
        with self._lock:
            if isinstance(message, str):
                if decode is False:
                    raw = message.encode()
                    self.writer.write_text("server", raw)
                    return raw
                self.writer.write_text("server", message)
                return message
            self.writer.write_binary("server", message)
            return message.decode() if decode else message

    def closed(self, exc: ConnectionClosed) -> None:
        by, code, reason = close_seen(exc, peer="server", local="client")
        self._write_close(by, code, reason)

    def closed_by_app(
        self, ws: AsyncClientConnection | SyncClientConnection, code: int, reason: str
    ) -> None:
        if ws.protocol.state is State.CLOSED:
            self.closed(ws.protocol.close_exc)
        else:  # the closing handshake timed out
            self._write_close("client", code, reason)

    def _write_close(self, by: str, code: int, reason: str) -> None:
        with self._lock:
            if self.writer.closed:
                return
            try:
                self.writer.write_close(by, code, safe_text(reason))
            except RecordingError as exc:  # the traffic is over: nothing went out unrecorded
                log.error("rtlens: cannot write the close line of %s: %s", self.writer.path, exc)

    def abandon(self) -> None:
        with self._lock:
            self.writer.close()


def _is_secure(ws: AsyncClientConnection | SyncClientConnection) -> bool:
    if isinstance(ws, AsyncClientConnection):
        return ws.transport.get_extra_info("ssl_object") is not None
    return isinstance(ws.socket, ssl.SSLSocket)


def _join(fragments: list[Data]) -> Data:
    if fragments and isinstance(fragments[0], str):
        return "".join(fragments)  # type: ignore[arg-type]
    return b"".join(fragments)  # type: ignore[arg-type]


class _Recorded:
    def __init__(self, ws: Any, recorder: _Recorder) -> None:
        self._ws = ws
        self._rec = recorder

    @property
    def path(self) -> Path:
        """The recording's file."""
        return self._rec.writer.path

    @property
    def writer(self) -> SessionWriter:
        return self._rec.writer

    @property
    def connection(self) -> Any:
        """The wrapped websockets connection (frames sent through it are not recorded)."""
        return self._ws

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ws, name)


class RecordedConnection(_Recorded):
    """An asyncio websockets client connection whose messages are recorded."""

    _ws: AsyncClientConnection

    async def send(self, message: Any, text: bool | None = None) -> None:
        if not isinstance(message, _WHOLE):
            if isinstance(message, AsyncIterable):
                message = [fragment async for fragment in message]
            else:
                message = list(message)
            whole: Any = _join(message)
        else:
            whole = message
        try:
            self._rec.sent(whole, text)
        except RecordingError:
            await self._abandon()
            raise
        try:
            await self._ws.send(message, text=text)
        except ConnectionClosed as exc:
            self._rec.closed(exc)
            raise

    async def recv(self, decode: bool | None = None) -> Data:
        try:
            message = await self._ws.recv()
        except ConnectionClosed as exc:
            self._rec.closed(exc)
            raise
        try:
            return self._rec.received(message, decode)
        except RecordingError:
            await self._abandon()
            raise

    async def recv_streaming(self, decode: bool | None = None) -> AsyncIterator[Data]:
        """The next message, recorded whole, then yielded as a single fragment."""
        yield await self.recv(decode)

    async def __aiter__(self) -> AsyncIterator[Data]:
        while True:
            try:
                yield await self.recv()
            except ConnectionClosedOK:
                return

    async def close(self, code: int = 1000, reason: str = "") -> None:
        await self._ws.close(code, reason)
        self._rec.closed_by_app(self._ws, code, reason)

    async def __aenter__(self) -> RecordedConnection:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def _abandon(self) -> None:
        self._rec.abandon()
        await self._ws.close(INTERNAL_ERROR, UNRECORDED_REASON)


class RecordedSyncConnection(_Recorded):
    """A sync websockets client connection whose messages are recorded."""

    _ws: SyncClientConnection

    def send(self, message: Any, text: bool | None = None) -> None:
        if not isinstance(message, _WHOLE):
            message = list(message)
            whole: Any = _join(message)
        else:
            whole = message
        try:
            self._rec.sent(whole, text)
        except RecordingError:
            self._abandon()
            raise
        try:
            self._ws.send(message, text=text)
        except ConnectionClosed as exc:
            self._rec.closed(exc)
            raise

    def recv(self, timeout: float | None = None, decode: bool | None = None) -> Data:
        try:
            message = self._ws.recv(timeout)
        except ConnectionClosed as exc:
            self._rec.closed(exc)
            raise
        try:
            return self._rec.received(message, decode)
        except RecordingError:
            self._abandon()
            raise

    def recv_streaming(self, decode: bool | None = None) -> Iterator[Data]:
        """The next message, recorded whole, then yielded as a single fragment."""
        yield self.recv(None, decode)

    def __iter__(self) -> Iterator[Data]:
        while True:
            try:
                yield self.recv()
            except ConnectionClosedOK:
                return

    def close(self, code: int = 1000, reason: str = "") -> None:
        self._ws.close(code, reason)
        self._rec.closed_by_app(self._ws, code, reason)

    def __enter__(self) -> RecordedSyncConnection:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _abandon(self) -> None:
        self._rec.abandon()
        self._ws.close(INTERNAL_ERROR, UNRECORDED_REASON)


def record_connection(
    ws: AsyncClientConnection | SyncClientConnection,
    out_dir: str | os.PathLike[str] = "recordings",
    *,
    upstream: str | None = None,
    redact_audio: bool = False,
    source: str = "library",
    shared_files: bool = False,
    **header_extra: Any,
) -> RecordedConnection | RecordedSyncConnection:
    """Record an open websockets client connection; use the returned object in its place.

    `upstream` defaults to the URL the connection was opened with (credentials removed);
    `source` is the header's (SPEC §1: `library`, or `sideband` for `rtlens attach`).
    The file is 0600 in a folder created 0700; `shared_files=True` keeps 0644 (less umask).
    Extra keyword arguments become extra keys of the recording's header line.
    Raises `RecordingError` if the file cannot be created.
    """
    if isinstance(ws, _Recorded):
        raise ValueError(f"this connection is already being recorded to {ws.path}")
    if isinstance(ws, AsyncClientConnection):
        recorder = _Recorder(
            ws, out_dir, upstream, redact_audio, header_extra, source, shared_files
        )
        return RecordedConnection(ws, recorder)
    if isinstance(ws, SyncClientConnection):
        recorder = _Recorder(
            ws, out_dir, upstream, redact_audio, header_extra, source, shared_files
        )
        return RecordedSyncConnection(ws, recorder)
    raise TypeError(
        "record_connection() takes a websockets client connection (websockets.asyncio.client "
        f"or websockets.sync.client), not {type(ws).__name__}"
    )

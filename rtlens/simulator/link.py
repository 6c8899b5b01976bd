"""A WebRTC call as a session's link: the `oai-events` data channel plus sideband sockets.

A `Session` talks to one `Link` (see `session.py`). For a call, every server event goes out
on the data channel and to every sideband WebSocket attached with `?call_id=` (two
connections share one session, protocol §9c); client events from either, and the caller's
audio from the media track (as `AudioIn`), arrive in one queue, so the session handles them
in the order they came, exactly as it handles a WebSocket's frames.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from aiortc import RTCDataChannel
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

_END = object()


@dataclass(frozen=True)
class AudioIn:
    """A piece of the caller's audio from the call's track: pcm16, 24 kHz, mono."""

    pcm16: bytes


class CallLink:
    """The session side of one call: send to the channel and sidebands, read from all."""

    def __init__(self, on_close: Callable[[], None]) -> None:
        self.channel: RTCDataChannel | None = None
        self.sidebands: set[ServerConnection] = set()
        self.closed = False
        self._inbox: asyncio.Queue[Any] = asyncio.Queue()
        self._on_close = on_close

    def deliver(self, message: Any) -> None:
        """A client event (str or bytes) or an `AudioIn`, in arrival order."""
        if not self.closed:
            self._inbox.put_nowait(message)

    async def send(self, message: str) -> None:
        channel = self.channel
        if channel is not None and channel.readyState == "open":
            channel.send(message)
        for ws in list(self.sidebands):
            try:
                await ws.send(message)
            except ConnectionClosed:
                self.sidebands.discard(ws)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """End the call (session.close, expiry, or the peer hung up)."""
        if self.closed:
            return
        self.closed = True
        self._inbox.put_nowait(_END)
        for ws in list(self.sidebands):
            with contextlib.suppress(ConnectionClosed):
                await ws.close(1000, reason or "call ended")
        self._on_close()

    def abort(self) -> None:
        """Lose the call without a goodbye (scenario `drop`)."""
        self.closed = True
        self._inbox.put_nowait(_END)
        for ws in list(self.sidebands):
            if ws.transport is not None:
                ws.transport.abort()
        self._on_close()

    async def __aiter__(self) -> AsyncIterator[Any]:
        while True:
            message = await self._inbox.get()
            if message is _END:
                return
            yield message

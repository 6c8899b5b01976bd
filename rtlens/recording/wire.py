"""WebSocket connections for the relay that hand each incoming frame straight to a callback.

websockets' own path for an incoming message is: parse the frame, queue it in an
`Assembler`, wake the task awaiting `recv()`, which then awaits `send()` on the other leg.
That is two task switches and a few futures per frame, and it cost the relay more CPU per
frame than writing the recording does. These connection classes override `process_event`
(the sans-I/O protocol's output, called from `data_received`) so that data frames go to a
`frame_sink` callback instead, in the same call that parsed them. The relay's sink records
the frame and writes it to the other leg's transport before `data_received` returns.

Frames that arrive before the relay has installed its sink (the upstream's
`session.created` often comes during the app's handshake) are kept and replayed in order by
`forward_to`; past `EARLY_BYTES` of them, the socket is no longer read until then, as any
other buffer of the relay stops reading when full. A read from the socket often holds
several frames (a burst of deltas): the sink is called for each, then `after_frames` once,
so the relay can send them on in one write. Control frames (ping, pong, close) still go
through websockets, which answers pings and runs the closing handshake as usual.

This reaches into websockets' asyncio internals (`process_event`, `protocol`, `send_data`,
`paused`), which have this shape in websockets 14 to 17; the relay tests fail loudly if that
ever changes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from websockets.asyncio.client import ClientConnection
from websockets.asyncio.server import ServerConnection
from websockets.frames import DATA_OPCODES, Frame
from websockets.protocol import Event

FrameSink = Callable[[Frame], None]
# Frames kept before the relay forwards them: a session.created or two, normally.
EARLY_BYTES = 1 << 20
AfterFrames = Callable[[], None]


class _FrameTap:
    """Mixin: data frames go to `frame_sink`; `on_writable` runs when the send buffer drains,
    `on_lost` when the connection is closed (before any task sees it)."""

    frame_sink: FrameSink
    after_frames: AfterFrames | None
    on_writable: Callable[[], None] | None
    on_lost: Callable[[], None] | None
    _early_frames: list[Frame]
    _early_bytes: int
    _early_paused: bool

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        self._early_frames = []
        self._early_bytes = 0
        self._early_paused = False
        self.frame_sink = self._keep_early
        self.after_frames = None
        self.on_writable = None
        self.on_lost = None

    def process_event(self, event: Event) -> None:
        if type(event) is Frame and event.opcode in DATA_OPCODES:
            self.frame_sink(event)
        else:  # the handshake, pings, pongs and closes: websockets' own handling
            super().process_event(event)  # type: ignore[misc]

    def data_received(self, data: bytes) -> None:
        super().data_received(data)  # type: ignore[misc]
        if self.after_frames is not None:
            self.after_frames()

    def _keep_early(self, frame: Frame) -> None:
        self._early_frames.append(frame)
        self._early_bytes += len(frame.data)
        if self._early_bytes > EARLY_BYTES and not self._early_paused:
            self._early_paused = True
            self.transport.pause_reading()  # type: ignore[attr-defined]

    def forward_to(self, sink: FrameSink, after_frames: AfterFrames) -> None:
        """From now on give data frames to `sink`, starting with any that came before, and
        call `after_frames` once all the frames of a read have been given."""
        early = self._early_frames
        self._early_frames = []
        self.frame_sink = sink
        self.after_frames = after_frames
        if self._early_paused:  # before the replay, which may pause reading on its own
            self._early_paused = False
            self.transport.resume_reading()  # type: ignore[attr-defined]
        for frame in early:
            sink(frame)
        after_frames()

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)  # type: ignore[misc]
        if self.on_lost is not None:
            self.on_lost()

    def resume_writing(self) -> None:
        super().resume_writing()  # type: ignore[misc]
        if self.on_writable is not None:
            self.on_writable()


class TappedClientConnection(_FrameTap, ClientConnection):
    """The relay's connection to the upstream."""


class TappedServerConnection(_FrameTap, ServerConnection):
    """The relay's connection to the app."""


Tapped = TappedClientConnection | TappedServerConnection

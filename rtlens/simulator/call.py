"""One simulated WebRTC call: an aiortc peer connection running one `Session`.

The caller's offer is answered with one audio track (the reply track, `media.py`) and the
data channel the caller opens, `oai-events`. The session starts when that channel opens and
speaks exactly as on a WebSocket, with WebRTC's differences (`media.py`, `turns.py`); the
caller's track feeds the VAD. The call ends when the session ends, the channel closes or the
peer connection fails; sideband sockets attached to it are closed then.

No STUN or TURN server is configured: candidates are this host's own addresses, so the
simulator never sends a packet anywhere but to the caller.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

from aiortc import RTCConfiguration, RTCDataChannel, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack
from websockets.asyncio.server import ServerConnection

from rtlens.catalogue import Dialect
from rtlens.simulator.link import AudioIn, CallLink
from rtlens.simulator.media import Player, ReplyTrack, caller_audio
from rtlens.simulator.session import Session

CHANNEL = "oai-events"


class OfferError(ValueError):
    """The SDP offer cannot start a call (the message says why, for a 400)."""


def check_offer(sdp: str) -> None:
    """Refuse what is plainly not a usable offer before aiortc sees it."""
    if not sdp.strip():
        raise OfferError("the SDP offer is empty")
    if not sdp.lstrip().startswith("v=0"):
        raise OfferError("the SDP offer must start with 'v=0'")
    if "\nm=audio " not in sdp.replace("\r\n", "\n"):
        raise OfferError("the SDP offer has no audio m-line (m=audio)")


class Call:
    """A call's peer connection, link and session; `done` is set when it has ended."""

    def __init__(
        self,
        call_id: str,
        make_session: Callable[[CallLink, Player], Session],
        on_end: Callable[[Call], None],
    ) -> None:
        self.id = call_id
        self.link = CallLink(self._hang_up)
        self.player = Player(self._notify)
        self.session = make_session(self.link, self.player)  # may refuse the `session` field
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.started = time.monotonic()
        self.done = asyncio.Event()
        self._on_end = on_end
        self._tasks: set[asyncio.Task[Any]] = set()
        self.pc.on("datachannel", self._on_channel)
        self.pc.on("track", self._on_track)
        self.pc.on("connectionstatechange", self._on_state)

    @property
    def dialect(self) -> Dialect:
        return self.session.dialect

    async def answer(self, offer_sdp: str) -> str:
        """Take the caller's offer; return the SDP answer (raises OfferError if unusable)."""
        check_offer(offer_sdp)
        try:
            await self.pc.setRemoteDescription(RTCSessionDescription(offer_sdp, "offer"))
            self.pc.addTrack(ReplyTrack(self.player))
            await self.pc.setLocalDescription(await self.pc.createAnswer())
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            await self.pc.close()
            raise OfferError(f"the SDP offer cannot be used: {exc}") from None
        return self.pc.localDescription.sdp

    async def attach(self, ws: ServerConnection) -> None:
        """A sideband socket (`?call_id=`): it sees every server event and may send events."""
        self.link.sidebands.add(ws)
        try:
            async for message in ws:
                self.link.deliver(message)
        finally:
            self.link.sidebands.discard(ws)

    async def close(self) -> None:
        await self.link.close(1000, "call ended")
        await self.done.wait()

    # ---- peer connection events -----------------------------------------------------------

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _on_channel(self, channel: RTCDataChannel) -> None:
        if channel.label != CHANNEL or self.link.channel is not None:
            return
        self.link.channel = channel
        channel.on("message", self.link.deliver)
        channel.on("close", self._hang_up)
        self._spawn(self._run())

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "audio":
            self._spawn(caller_audio(track, lambda pcm: self.link.deliver(AudioIn(pcm))))

    def _on_state(self) -> None:
        if self.pc.connectionState not in ("failed", "closed"):
            return
        if self.link.channel is None:  # never got as far as a session
            self._spawn(self._end_unstarted())
        else:
            self._hang_up()

    async def _end_unstarted(self) -> None:
        if not self.done.is_set():
            self.link.closed = True
            await self.pc.close()
            self.done.set()
            self._on_end(self)

    def _notify(self, canonical: str, response_id: str) -> None:
        session = self.session
        event_id = session.events.buffer_event_id()
        session.spawn(
            session.emit(session.events, canonical, event_id=event_id, response_id=response_id)
        )

    def _hang_up(self) -> None:
        if not self.link.closed:
            self._spawn(self.link.close(1000, "call ended"))

    async def _run(self) -> None:
        try:
            await self.session.run()
        finally:
            with contextlib.suppress(Exception):
                await self.link.close(1000, "call ended")
            await self.pc.close()
            self.done.set()
            self._on_end(self)

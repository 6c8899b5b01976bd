"""One simulated Realtime session: the per-connection protocol state machine.

The session reads client frames in order and answers them (handlers in `handlers.py`, found by
a dict lookup on the catalogue's canonical name), runs the server VAD on appended audio, and
starts responses and transcriptions as tasks that stream beside the reading loop. Every event
it sends gets its wire name from `rtlens.catalogue` for the connection's dialect.

Invalid client input gives one `error` event echoing the client's `event_id`; only the
connection-level failures of `server.py` close the socket, as on the real service.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Protocol

import orjson
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from rtlens.catalogue import Dialect, wire_name
from rtlens.simulator import timing
from rtlens.simulator.conversation import Conversation, Item
from rtlens.simulator.dialect import SessionConfig, session_object
from rtlens.simulator.errors import ClientError
from rtlens.simulator.ids import Stream, Streams
from rtlens.simulator.inputbuf import InputBuffer
from rtlens.simulator.responder import Response
from rtlens.simulator.scenarios import Scenario
from rtlens.simulator.shapes import ResponseParams, item_object
from rtlens.simulator.timing import Clock
from rtlens.simulator.transcriber import transcribe
from rtlens.simulator.usage import RateLimiter, Tokens

if TYPE_CHECKING:
    from rtlens.simulator.media import Player

SESSION_MINUTES = {"beta": 30, "ga": 60}
DEFAULT_TPM = {"beta": 15_000_000, "ga": 15_000_000}
DEFAULT_RPM = 20_000
log = logging.getLogger("rtlens.simulator")


class Link(Protocol):
    """Where a session's events travel: a WebSocket, or a WebRTC call's data channel
    (`rtlens.simulator.link.CallLink`, which also yields the caller's audio as `AudioIn`)."""

    async def send(self, message: str) -> None: ...

    async def close(self, code: int = 1000, reason: str = "") -> None: ...

    def __aiter__(self) -> AsyncIterator[Any]: ...


class Session:
    def __init__(
        self,
        ws: Link,
        *,
        dialect: Dialect,
        model: str,
        scenario: Scenario,
        streams: Streams,
        pace: float,
        media: Player | None = None,
    ) -> None:
        self.ws = ws
        # WebRTC: replies go out as audio on the call's track, not as audio deltas
        self.media = media
        self.dialect: Dialect = dialect
        self.scenario = scenario
        self.streams = streams
        self.clock = Clock(pace)
        self.events = streams("session")
        minutes = SESSION_MINUTES[dialect]
        self.cfg = SessionConfig(
            id=self.events._id("sess_"),
            model=model,
            expires_at=int(time.time()) + minutes * 60,
        )
        self.conv = Conversation(self.events._id("conv_"))
        self.buffer = InputBuffer(self.cfg.input_format, self.cfg.turn_detection)
        self.rate = RateLimiter(
            scenario.tokens_per_minute or DEFAULT_TPM[dialect],
            DEFAULT_RPM,
            pace,
            audio_clock_s=lambda: self.buffer.timeline_ms / 1000,
        )
        self.active: Response | None = None
        self.responses = 0
        self.transcriptions = 0
        self.user_turns = 0
        self.last_context: Tokens | None = None
        self.sent = 0
        self.received = 0
        self._tasks: set[asyncio.Task[None]] = set()

    # ---- output ---------------------------------------------------------------------------

    async def emit(self, stream: Stream, canonical: str, **fields: Any) -> None:
        event = {
            "type": wire_name(canonical, self.dialect),
            "event_id": stream.event_id(),
            **fields,
        }
        await self.ws.send(orjson.dumps(event).decode())
        self.sent += 1

    async def fail(self, error: ClientError, client_event_id: Any) -> None:
        echo = client_event_id if isinstance(client_event_id, str) else None
        await self.clock.sleep(self.events.jitter(timing.ERROR_REPLY))
        await self.emit(self.events, "error", error=error.body(echo))

    def drop(self) -> None:
        """Lose the connection without a close frame (scenario `drop`)."""
        if isinstance(self.ws, ServerConnection):
            if self.ws.transport is not None:
                self.ws.transport.abort()
        else:
            abort = getattr(self.ws, "abort", None)
            if abort is not None:
                abort()

    def spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if task.cancelled() or task.exception() is None:
            return
        if not isinstance(task.exception(), ConnectionClosed):
            # a simulator bug: say so loudly and end the connection rather than hang the client
            log.error("simulator task failed", exc_info=task.exception())
            self.drop()

    # ---- actions shared by handlers ------------------------------------------------------

    def start_response(self, params: ResponseParams) -> Response:
        response = Response(self, self.responses, params)
        self.responses += 1
        self.active = response
        self.spawn(response.run())
        return response

    async def item_added(self, stream: Stream, item: Item, previous: str | None) -> None:
        """Announce a finished item: beta `conversation.item.created`, GA `added` + `done`."""
        body = item_object(item, self.dialect)
        await self.emit(stream, "conversation.item.added", previous_item_id=previous, item=body)
        if self.dialect == "ga":
            await self.emit(stream, "conversation.item.done", previous_item_id=previous, item=body)

    def transcribe(self, item: Item) -> None:
        if self.cfg.transcription is not None:
            self.spawn(transcribe(self, item, self.transcriptions))
            self.transcriptions += 1

    # ---- the loop ---------------------------------------------------------------------------

    async def run(self) -> None:
        from rtlens.simulator.handlers import handle_binary, handle_text
        from rtlens.simulator.link import AudioIn
        from rtlens.simulator.turns import feed_audio

        try:
            await self.clock.sleep(self.events.jitter(timing.SESSION_CREATED))
            await self.emit(
                self.events, "session.created", session=session_object(self.cfg, self.dialect)
            )
            if self.dialect == "beta":
                conversation = {"id": self.conv.id, "object": "realtime.conversation"}
                await self.emit(self.events, "conversation.created", conversation=conversation)
            if self.clock.pace > 0:
                self.spawn(self._expire())
            async for message in self.ws:
                if isinstance(message, AudioIn):  # WebRTC: the caller's track, in order
                    await feed_audio(self, message.pcm16)
                    continue
                self.received += 1
                if isinstance(message, bytes):
                    await handle_binary(self)
                else:
                    await handle_text(self, message)
        except ConnectionClosed:
            pass
        finally:
            for task in list(self._tasks):
                task.cancel()

    async def _expire(self) -> None:
        await asyncio.sleep(max(0.0, self.cfg.expires_at - time.time()) * self.clock.pace)
        minutes = SESSION_MINUTES[self.dialect]
        error = ClientError(
            f"Your session hit the maximum duration of {minutes} minutes.", "session_expired"
        )
        await self.emit(self.events, "error", error=error.body(None))
        await self.ws.close(1000, "session_expired")

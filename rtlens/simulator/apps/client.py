"""The scripted app's machinery: a websockets client with a microphone and a loudspeaker.

Time in an app is the *app clock*: milliseconds of microphone audio it has produced. At
`pace=1` the microphone streams chunks in real time (so the app clock follows the wall clock);
at `pace=0` chunks go as fast as possible and the microphone only runs when the script says
something or waits on its own clock, so the audio, and therefore every VAD position, depends
only on the script and on what the server sent, not on scheduling.

Received assistant audio goes to a simulated loudspeaker: an item starts playing when its
first delta arrives (or when the item before it finishes) and plays at one ms per app-clock ms.
When the server reports `speech_started` while something is playing, the app does what real
apps do: it stops playback and sends `conversation.item.truncate` with the ms actually played.

A `gate` replaces timing when the app must repeat a recorded session exactly (against
`rtlens replay`): frames that arrive wait in an inbox, and the gate hands them to the app
(`deliver`) at the points where it decides: `"send"` before every frame the script sends (not
the reader's reactions), `"look"` before each look at what has arrived, `"close"` before the
close; and `"react"` before a reaction (a truncate) is sent, where a gate may wait for frames
to arrive (`arrived`) without handing them over. So what the app has seen at each decision
is what the gate says, however the frames were timed. `App.slept` says whether the last
frame the script sent was a microphone chunk, after which a clocked app sleeps (the
microphone keeps its `pace` under a gate too, so a replay at speed 1 hears the app in real
time).
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from rtlens.simulator import audio
from rtlens.simulator.ids import BASE62

AUDIO_DELTAS = ("response.output_audio.delta", "response.audio.delta")


class AppClosedError(Exception):
    """The server closed (or dropped) the connection while the script was waiting."""


@dataclass
class AppResult:
    """What a scripted app saw: every frame both ways, and what it heard."""

    script: str
    dialect: str
    received: list[dict[str, Any]] = field(default_factory=list)
    received_at: list[float] = field(default_factory=list)
    """`time.monotonic()` when each received event arrived (same index as `received`)."""
    sent: list[Any] = field(default_factory=list)
    close_code: int | None = None
    close_reason: str = ""
    dropped: bool = False
    heard_ms: float = 0.0
    truncations: list[dict[str, Any]] = field(default_factory=list)

    @property
    def counts(self) -> Counter[str]:
        return Counter(e.get("type", "?") for e in self.received)

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.received if e.get("type") == kind]

    @property
    def errors(self) -> list[dict[str, Any]]:
        return [e["error"] for e in self.of("error")]


@dataclass
class _Playing:
    start_ms: float
    received_ms: float = 0.0
    stopped_ms: float | None = None

    def played(self, now: float) -> float:
        end = self.stopped_ms if self.stopped_ms is not None else now
        return max(0.0, min(self.received_ms, end - self.start_ms))


class Loudspeaker:
    def __init__(self) -> None:
        self.items: dict[str, _Playing] = {}
        self.end_ms = 0.0

    def add(self, item_id: str, ms: float, now: float) -> None:
        item = self.items.get(item_id)
        if item is None:
            item = self.items[item_id] = _Playing(max(now, self.end_ms))
        if item.stopped_ms is None:
            item.received_ms += ms
            self.end_ms = max(self.end_ms, item.start_ms + item.received_ms)

    def playing(self, now: float) -> str | None:
        for item_id, item in self.items.items():
            if item.stopped_ms is None and item.start_ms <= now < item.start_ms + item.received_ms:
                return item_id
        return None

    def stop(self, now: float) -> tuple[str, int] | None:
        item_id = self.playing(now)
        if item_id is None:
            return None
        for item in self.items.values():
            if item.stopped_ms is None and item.start_ms + item.received_ms > now:
                item.stopped_ms = now
        self.end_ms = now
        return item_id, int(self.items[item_id].played(now))

    def heard_ms(self, now: float) -> float:
        return sum(item.played(now) for item in self.items.values())


Gate = Callable[["App", str], Awaitable[None]]


class App:
    """One scripted app session over an open websocket."""

    def __init__(
        self,
        ws: ClientConnection,
        result: AppResult,
        *,
        seed: int,
        pace: float,
        gate: Gate | None = None,
    ) -> None:
        self.ws = ws
        self.gate = gate
        self.slept = False
        self.result = result
        self.dialect = result.dialect
        self.pace = pace
        self.rng = random.Random(f"rtlens-app:{seed}:{result.script}")
        self.clock_ms = 0.0
        self.audio_format = "pcm16"
        self.output_format = "pcm16"
        self.chunk_ms = 40
        self.streaming_mic = True
        self.truncate_on_speech = True
        self._inbox: collections.deque[dict[str, Any]] = collections.deque()
        self.speaker = Loudspeaker()
        self._new = asyncio.Event()
        self._closed = False

    # ---- sending ------------------------------------------------------------------------------

    def event_id(self) -> str:
        return "evt_" + "".join(self.rng.choice(BASE62) for _ in range(20))

    async def send(self, event: dict[str, Any], *, gated: bool = True) -> dict[str, Any]:
        if self.gate is not None:  # before the id is drawn: a reaction may draw one
            await self.gate(self, "send" if gated else "react")
        event = {"event_id": self.event_id(), **event}
        await self._write(orjson.dumps(event).decode(), event, gated)
        return event

    async def send_raw(self, frame: str | bytes, logged: Any = None) -> None:
        if self.gate is not None:
            await self.gate(self, "send")
        await self._write(frame, logged, True)

    async def _write(self, frame: str | bytes, logged: Any, by_script: bool) -> None:
        try:
            await self.ws.send(frame)
        except ConnectionClosed:
            raise AppClosedError from None
        self.result.sent.append(logged if logged is not None else frame)
        if by_script:
            self.slept = False

    async def _chunk(self, samples: Any) -> None:
        data = audio.encode(self.audio_format, samples)
        await self.send(
            {"type": "input_audio_buffer.append", "audio": base64.b64encode(data).decode()}
        )

    async def mic(self, ms: float, *, speech: bool) -> None:
        """Produce `ms` of microphone audio (speech or room noise), chunk by chunk."""
        rate = audio.RATES[self.audio_format]
        signal = audio.speech(ms, rate, self.rng) if speech else audio.silence(ms, rate, self.rng)
        step = rate * self.chunk_ms // 1000
        for start in range(0, len(signal), step):
            piece = signal[start : start + step]
            if speech or self.streaming_mic:
                await self._chunk(piece)
                self.slept = True
            self.clock_ms += len(piece) * 1000 / rate
            await asyncio.sleep(self.chunk_ms / 1000 * self.pace if self.pace > 0 else 0)

    async def say(self, ms: float) -> None:
        await self.mic(ms, speech=True)

    async def idle(self, ms: float) -> None:
        await self.mic(ms, speech=False)

    # ---- receiving ------------------------------------------------------------------------------

    async def reader(self) -> None:
        try:
            async for frame in self.ws:
                event = orjson.loads(frame)
                if self.gate is not None:
                    self._inbox.append(event)  # the gate hands it to the app (`deliver`)
                else:
                    await self._take(event)
                self._new.set()
        except ConnectionClosed:
            pass
        finally:
            self._closed = True
            self.result.close_code = self.ws.protocol.close_code
            self.result.close_reason = self.ws.protocol.close_reason or ""
            self.result.dropped = self.ws.protocol.close_code in (None, 1006)
            self._new.set()

    async def _take(self, event: dict[str, Any]) -> None:
        self.result.received.append(event)
        self.result.received_at.append(time.monotonic())
        await self._on_event(event)

    async def _on_event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind in AUDIO_DELTAS:
            n_bytes = len(base64.b64decode(event["delta"]))
            self.speaker.add(
                event["item_id"], audio.duration_ms(self.output_format, n_bytes), self.clock_ms
            )
        elif kind == "input_audio_buffer.speech_started" and self.truncate_on_speech:
            stopped = self.speaker.stop(self.clock_ms)
            if stopped is not None:
                item_id, played = stopped
                sent = await self.send(
                    {
                        "type": "conversation.item.truncate",
                        "item_id": item_id,
                        "content_index": 0,
                        "audio_end_ms": played,
                    },
                    gated=False,  # the reader must not wait on what only it can receive
                )
                self.result.truncations.append(sent)

    async def arrived(self, count: int, timeout_s: float = 120.0) -> None:
        """With a gate: wait until `count` frames have arrived, handed over or not."""
        await self._until(lambda: len(self.result.received) + len(self._inbox) >= count, timeout_s)

    async def _until(self, done: Callable[[], bool], timeout_s: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while not done():
            if self._closed:
                raise AppClosedError
            if loop.time() > deadline:
                raise TimeoutError(f"a gate waited {timeout_s:.0f} s for server frames")
            self._new.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new.wait(), max(0.01, deadline - loop.time()))

    async def deliver(self, count: int, timeout_s: float = 120.0) -> None:
        """With a gate: hand frames to the app, as if they arrived now, until it has `count`."""
        while len(self.result.received) < count:
            if not self._inbox:
                await self._until(lambda: bool(self._inbox), timeout_s)
            await self._take(self._inbox.popleft())

    def mark(self) -> int:
        return len(self.result.received)

    async def wait_for(
        self, match: Callable[[dict[str, Any]], bool], since: int = 0, timeout_s: float = 30.0
    ) -> dict[str, Any]:
        """The first received event at index >= `since` that matches; the mic keeps streaming
        (in real time) meanwhile if the app streams continuously."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s * max(self.pace, 0.1) + 10
        index = since
        while True:
            if self.gate is not None:  # decide on what the recording had seen by now
                await self.gate(self, "look")
            for event in self.result.received[index:]:
                if match(event):
                    return event
            index = len(self.result.received)
            if self._closed:
                raise AppClosedError
            if loop.time() > deadline:
                raise TimeoutError("the simulated server did not answer in time")
            if self.streaming_mic and self.pace > 0:
                await self.idle(self.chunk_ms)
            else:
                self._new.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._new.wait(), max(0.01, deadline - loop.time()))

    async def wait_type(self, kind: str, since: int = 0, **fields: Any) -> dict[str, Any]:
        return await self.wait_for(
            lambda e: e.get("type") == kind and all(e.get(k) == v for k, v in fields.items()), since
        )

    async def finish_playback(self) -> None:
        """Let everything received so far play out (advancing the app clock)."""
        remaining = self.speaker.end_ms - self.clock_ms
        if remaining > 0:
            await self.idle(remaining)

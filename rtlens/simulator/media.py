"""Audio on a WebRTC call's media tracks: the reply player, and the caller's track as pcm16.

On WebRTC the server sends no `response.output_audio.delta`: the reply is heard on the call's
audio track, and the server says when it is played (protocol §9b): `output_audio_buffer.started`
when a response's first audio frame goes out, `output_audio_buffer.stopped` once its last frame
has gone out (after `response.done`), `output_audio_buffer.cleared` when a barge-in cuts it.

`Player` holds the reply audio queued for the track (pcm16 at 24 kHz, one segment per
response) and counts what has gone out, which is what a barge-in truncates the item to.
`ReplyTrack` is the outgoing track: a 20 ms frame every 20 ms of wall clock, silence when
nothing is queued (a real call's media never stops); aiortc encodes it as 48 kHz Opus.
`caller_audio` turns the incoming track's frames (48 kHz stereo Opus, decoded by aiortc) into
pcm16 at 24 kHz for the simulator's VAD.
"""

from __future__ import annotations

import asyncio
import fractions
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame, AudioResampler

from rtlens.simulator import audio

RATE = 24000
FRAME_MS = 20
FRAME_SAMPLES = RATE * FRAME_MS // 1000
FRAME_BYTES = FRAME_SAMPLES * 2
BYTES_PER_MS = RATE * 2 / 1000

Notify = Callable[[str, str], None]
"""`notify(canonical_event, response_id)`: the player asks its session to send an event."""


@dataclass
class Segment:
    """One response's reply audio on its way out: `pos` bytes of `pcm` have been played."""

    response_id: str
    item_id: str
    pcm: bytearray = field(default_factory=bytearray)
    pos: int = 0
    started: bool = False
    complete: bool = False  # the response is done: no more audio will be queued


@dataclass(frozen=True)
class Cut:
    """What a barge-in stopped: the response and item being played, and how much was heard."""

    response_id: str
    item_id: str
    played_ms: float


def to_pcm16(chunk: bytes, fmt: str) -> bytes:
    """Reply audio in the session's output format -> pcm16 at 24 kHz (the track's format)."""
    if fmt == "pcm16":
        return chunk
    samples = audio.decode(fmt, chunk)
    step = RATE // audio.RATES[fmt]
    return audio.encode("pcm16", np.repeat(samples, step))


class Player:
    """The reply audio queued for the outgoing track, and the events its playback causes."""

    def __init__(self, notify: Notify) -> None:
        self._notify = notify
        self._segments: deque[Segment] = deque()
        self._cut: set[str] = set()

    def play(self, response_id: str, item_id: str, chunk: bytes, fmt: str) -> None:
        """Queue a chunk of a response's audio (dropped if that response was cut)."""
        if response_id in self._cut:
            return
        last = self._segments[-1] if self._segments else None
        if last is None or last.response_id != response_id:
            last = Segment(response_id, item_id)
            self._segments.append(last)
        last.pcm += to_pcm16(chunk, fmt)

    def generated(self, response_id: str) -> None:
        """The response is done: its segment ends when what is queued has played."""
        for segment in self._segments:
            if segment.response_id == response_id:
                segment.complete = True
        self._drop_finished()

    def playing(self) -> Segment | None:
        """The reply being played (or about to be), if any."""
        return self._segments[0] if self._segments else None

    def clear(self) -> Cut | None:
        """Stop playback: drop everything queued; say what was playing and how much was heard."""
        if not self._segments:
            return None
        head = self._segments[0]
        self._cut.update(s.response_id for s in self._segments)
        self._segments.clear()
        return Cut(head.response_id, head.item_id, head.pos / BYTES_PER_MS)

    def take(self, n_bytes: int) -> bytes:
        """The next `n_bytes` to send: reply audio, padded with silence."""
        out = bytearray()
        if self._segments:
            head = self._segments[0]
            if not head.started and head.pos < len(head.pcm):
                head.started = True
                self._notify("output_audio_buffer.started", head.response_id)
            out += head.pcm[head.pos : head.pos + n_bytes]
            head.pos += len(out)
            self._drop_finished()
        out += bytes(n_bytes - len(out))
        return bytes(out)

    def _drop_finished(self) -> None:
        while self._segments and self._segments[0].complete:
            head = self._segments[0]
            if head.pos < len(head.pcm):
                return
            self._segments.popleft()
            if head.started:
                self._notify("output_audio_buffer.stopped", head.response_id)


class ReplyTrack(MediaStreamTrack):
    """The call's outgoing audio: the player's audio in real time, silence in between."""

    kind = "audio"

    def __init__(self, player: Player) -> None:
        super().__init__()
        self.player = player
        self._start: float | None = None
        self._frames = 0

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        now = time.monotonic()
        if self._start is None:
            self._start = now
        else:  # pace on the wall clock: frame N goes out at start + N * 20 ms
            await asyncio.sleep(max(0.0, self._start + self._frames * FRAME_MS / 1000 - now))
        frame = AudioFrame(format="s16", layout="mono", samples=FRAME_SAMPLES)
        frame.planes[0].update(self.player.take(FRAME_BYTES))
        frame.pts = self._frames * FRAME_SAMPLES
        frame.sample_rate = RATE
        frame.time_base = fractions.Fraction(1, RATE)
        self._frames += 1
        return frame


async def caller_audio(track: MediaStreamTrack, sink: Callable[[bytes], None]) -> None:
    """Read the caller's track until it ends, handing `sink` pcm16 at 24 kHz mono."""
    resampler = AudioResampler(format="s16", layout="mono", rate=RATE)
    while True:
        try:
            frame = await track.recv()
        except MediaStreamError:
            return
        assert isinstance(frame, AudioFrame)
        for out in resampler.resample(frame):
            sink(out.to_ndarray().astype("<i2").tobytes())

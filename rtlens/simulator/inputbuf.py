"""The input audio buffer and the cumulative input timeline the server VAD runs on.

`timeline_ms` counts every ms of audio appended since the session started; it is never reset
(the protocol notes leave open whether `input_audio_buffer.clear` resets it; the simulator
assumes not). The buffer holds the audio not yet committed, starting at `start_ms`; a VAD
commit takes it up to the `speech_stopped` position and leaves the rest for the next turn.
"""

from __future__ import annotations

from typing import Any

from rtlens.simulator import audio
from rtlens.simulator.vad import EnergyVad, VadEvent


class InputBuffer:
    def __init__(self, fmt: str, turn_detection: dict[str, Any] | None) -> None:
        self.timeline_ms = 0.0
        self.start_ms = 0.0
        self.data = bytearray()
        self.fmt = fmt
        self.vad: EnergyVad | None = None
        self.speech_item_id: str | None = None
        self.configure(fmt, turn_detection)

    def configure(self, fmt: str, turn_detection: dict[str, Any] | None) -> None:
        """Apply the session's input format and turn detection (restarting the detector)."""
        self.fmt = fmt
        if turn_detection is None:
            self.vad = None
        else:
            self.vad = EnergyVad(
                turn_detection.get("threshold", 0.5),
                turn_detection.get("prefix_padding_ms", 300),
                turn_detection["silence_duration_ms"],
            )
        self.speech_item_id = None

    @property
    def buffered_ms(self) -> float:
        return audio.duration_ms(self.fmt, len(self.data))

    def append(self, data: bytes) -> list[VadEvent]:
        """Add audio; return the VAD events it completes, in timeline order."""
        events: list[VadEvent] = []
        if self.vad is not None and data:
            events = self.vad.feed(
                audio.decode(self.fmt, data), audio.RATES[self.fmt], self.timeline_ms
            )
        self.data += data
        self.timeline_ms += audio.duration_ms(self.fmt, len(data))
        return events

    def take(self, until_ms: float | None = None) -> tuple[bytes, float]:
        """Remove and return the buffered audio (up to `until_ms` on the timeline) and its ms."""
        if until_ms is None:
            cut = len(self.data)
        else:
            width = audio.BYTES_PER_SAMPLE[self.fmt]
            cut = int((until_ms - self.start_ms) * audio.bytes_per_ms(self.fmt)) // width * width
            cut = max(0, min(cut, len(self.data)))
        taken = bytes(self.data[:cut])
        del self.data[:cut]
        ms = audio.duration_ms(self.fmt, len(taken))
        self.start_ms += ms
        return taken, ms

    def clear(self) -> None:
        self.start_ms = self.timeline_ms
        self.data.clear()
        if self.vad is not None:
            self.vad.in_speech = False
        self.speech_item_id = None

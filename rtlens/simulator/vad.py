"""Energy voice-activity detection on the input-audio timeline (the simulator's server VAD).

The detector sees audio only as it is appended and measures time only by counting samples, so
`audio_start_ms`/`audio_end_ms` are positions on the session's cumulative input timeline and
depend on the audio content alone, never on how fast the client sends it.

Rules, in 10 ms frames:
- a frame is voiced when its RMS level (dBFS) exceeds `-60 + 50 * threshold` (threshold 0.5
  → -35 dBFS, well under speech at about -20 dBFS, well over a -66 dBFS noise floor);
- speech starts after 3 consecutive voiced frames; `audio_start_ms` = the first of them
  minus `prefix_padding_ms` (not below 0), as the API documents;
- speech stops once `silence_duration_ms` pass without a voiced frame; `audio_end_ms` = the end
  of the last voiced frame plus the silence window, so it *includes* the silence, as the API
  documents. The buffer is committed up to that position.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FRAME_MS = 10
START_FRAMES = 3


@dataclass(frozen=True)
class VadEvent:
    kind: str  # "speech_started" | "speech_stopped"
    audio_ms: int  # audio_start_ms or audio_end_ms, on the input timeline
    at_ms: float  # timeline position where the detector decided


class EnergyVad:
    """Incremental detector: feed it samples, get the events they complete."""

    def __init__(
        self, threshold: float = 0.5, prefix_padding_ms: int = 300, silence_duration_ms: int = 200
    ) -> None:
        self.threshold_db = -60.0 + 50.0 * float(threshold)
        self.prefix_padding_ms = int(prefix_padding_ms)
        self.silence_duration_ms = int(silence_duration_ms)
        self.in_speech = False
        self._carry = np.zeros(0, dtype=np.float32)
        self._carry_start_ms = 0.0
        self._run = 0
        self._run_start_ms = 0.0
        self._last_voiced_end_ms = 0.0

    def feed(self, samples: np.ndarray, rate: int, start_ms: float) -> list[VadEvent]:
        """Process `samples` that begin at `start_ms` on the timeline."""
        if self._carry.size == 0:
            self._carry_start_ms = start_ms
        data = np.concatenate([self._carry, samples]) if self._carry.size else samples
        frame = rate * FRAME_MS // 1000
        n_frames = data.size // frame
        events: list[VadEvent] = []
        if n_frames:
            frames = data[: n_frames * frame].reshape(n_frames, frame).astype(np.float64)
            rms = np.sqrt(np.mean(frames * frames, axis=1))
            voiced = 20 * np.log10(np.maximum(rms, 1e-9)) > self.threshold_db
            for i, is_voiced in enumerate(voiced):
                frame_start = self._carry_start_ms + i * FRAME_MS
                event = self._step(bool(is_voiced), frame_start)
                if event:
                    events.append(event)
        self._carry = data[n_frames * frame :].copy()
        self._carry_start_ms += n_frames * FRAME_MS
        return events

    def _step(self, voiced: bool, frame_start: float) -> VadEvent | None:
        frame_end = frame_start + FRAME_MS
        if voiced:
            if self._run == 0:
                self._run_start_ms = frame_start
            self._run += 1
            if self.in_speech:
                self._last_voiced_end_ms = frame_end
            elif self._run >= START_FRAMES:
                self.in_speech = True
                self._last_voiced_end_ms = frame_end
                start = max(0, round(self._run_start_ms) - self.prefix_padding_ms)
                return VadEvent("speech_started", start, frame_end)
            return None
        self._run = 0
        if self.in_speech and frame_end - self._last_voiced_end_ms >= self.silence_duration_ms:
            self.in_speech = False
            end = round(self._last_voiced_end_ms) + self.silence_duration_ms
            return VadEvent("speech_stopped", end, frame_end)
        return None

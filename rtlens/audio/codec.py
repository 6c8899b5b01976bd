"""Wire audio to samples: decoding the session's formats and resampling to one rate.

Formats are parsed by `rtlens.ingest.audio.parse_format` (the one definition of formats and
of audio durations); here they only gain a sample rate. Resampling is linear interpolation
(numpy), streamed chunk by chunk with the last sample of the previous chunk kept, so a
contiguous run of chunks resamples exactly as if it were one array. It is a voice check,
not a mastering tool: linear interpolation keeps timing exact and costs little; it does
not low-pass, so downsampling (24 kHz to 8 kHz) can alias above 4 kHz.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from rtlens.g711 import decode_table
from rtlens.ingest.audio import DEFAULT_FORMAT, parse_format


@dataclass(frozen=True)
class WireFormat:
    """A session audio format: its rtlens (beta) name, sample rate and bytes per ms."""

    name: str  # pcm16 | g711_ulaw | g711_alaw
    rate: int
    bytes_per_ms: float

    def duration_s(self, n_bytes: int) -> float:
        """Seconds of audio in `n_bytes` (the same arithmetic as ingest's `audio_ms`)."""
        return n_bytes / self.bytes_per_ms / 1000.0


def wire_format(value: Any) -> WireFormat | None:
    """The format a beta string or GA object names, or None if it is not one."""
    parsed = parse_format(value)
    return _from_parsed(parsed) if parsed is not None else None


def _from_parsed(parsed: tuple[str, float]) -> WireFormat:
    name, bytes_per_ms = parsed
    per_sample = 2 if name == "pcm16" else 1
    return WireFormat(name, round(bytes_per_ms * 1000 / per_sample), bytes_per_ms)


DEFAULT = _from_parsed(DEFAULT_FORMAT)


def decode(fmt: WireFormat, data: bytes) -> np.ndarray:
    """Wire bytes -> float32 samples (int16 scale) at `fmt.rate`."""
    if fmt.name == "pcm16":
        pcm = np.frombuffer(data, dtype="<i2", count=len(data) // 2)
    else:
        pcm = decode_table(fmt.name)[np.frombuffer(data, dtype=np.uint8)]
    return pcm.astype(np.float32)


class Resampler:
    """Linear-interpolation resampler for one contiguous run of chunks (`reset` between runs)."""

    def __init__(self, rate_in: int, rate_out: int) -> None:
        self.rate_in = rate_in
        self.step = rate_in / rate_out  # input samples per output sample
        self.same = rate_in == rate_out
        self.reset()

    def reset(self) -> None:
        self.pos = 0.0  # the next output sample, in input samples from the buffer's start
        self.prev: np.ndarray | None = None  # the last input sample seen (one element)

    def push(self, x: np.ndarray) -> np.ndarray:
        if self.same or len(x) == 0:
            return x
        buf = x if self.prev is None else np.concatenate((self.prev, x))
        last = len(buf) - 1
        count = 0 if self.pos > last else int((last - self.pos) / self.step) + 1
        where = self.pos + np.arange(count) * self.step
        out = np.interp(where, np.arange(len(buf)), buf).astype(np.float32)
        self.pos = self.pos + count * self.step - last
        self.prev = buf[-1:]
        return out


def to_int16(samples: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(samples), -32768, 32767).astype("<i2")

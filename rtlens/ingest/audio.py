"""Audio formats and durations, from byte counts only (audio is never decoded here).

Beta names formats `pcm16` (16-bit mono 24 kHz), `g711_ulaw`, `g711_alaw` (8 kHz, 1 byte a
sample); GA uses `{"type": "audio/pcm", "rate": 24000}`, `{"type": "audio/pcmu"}`,
`{"type": "audio/pcma"}`. rtlens reports both in the beta vocabulary.
"""

from __future__ import annotations

from typing import Any

PCM16_24K_BYTES_PER_MS = 48.0  # 24,000 samples/s x 2 bytes
G711_BYTES_PER_MS = 8.0  # 8,000 samples/s x 1 byte

_BETA = {"pcm16": "pcm16", "g711_ulaw": "g711_ulaw", "g711_alaw": "g711_alaw"}
_GA = {"audio/pcm": "pcm16", "audio/pcmu": "g711_ulaw", "audio/pcma": "g711_alaw"}


def parse_format(value: Any) -> tuple[str, float] | None:
    """(name, bytes per ms) for a beta format string or a GA format object; None if unknown."""
    if isinstance(value, str):
        name = _BETA.get(value) or _GA.get(value)
        if name is None:
            return None
        return name, PCM16_24K_BYTES_PER_MS if name == "pcm16" else G711_BYTES_PER_MS
    if isinstance(value, dict):
        name = _GA.get(value.get("type"))  # type: ignore[arg-type]
        if name is None:
            return None
        if name == "pcm16":
            rate = value.get("rate")
            if isinstance(rate, (int, float)) and not isinstance(rate, bool) and rate > 0:
                return name, rate * 2 / 1000
            return name, PCM16_24K_BYTES_PER_MS
        return name, G711_BYTES_PER_MS
    return None


DEFAULT_FORMAT = ("pcm16", PCM16_24K_BYTES_PER_MS)

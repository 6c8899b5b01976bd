"""Audio for the simulator: the three wire formats, and synthetic speech.

Formats use the beta names as neutral keys: `pcm16` (16-bit little-endian mono, 24 kHz,
48,000 bytes/s; GA `audio/pcm` rate 24000), `g711_ulaw` and `g711_alaw` (8 kHz, one byte per
sample; GA `audio/pcmu` / `audio/pcma`). G.711 comes from `rtlens.g711`
(the ITU algorithm, shared with `rtlens audio`; `audioop` left the standard library in 3.13).

Synthetic speech is a syllable-modulated harmonic tone: loud enough for the energy VAD while a
syllable sounds, with short dips between syllables that never last a silence window. The
assistant's voice is the same kind of signal at a higher pitch, as long as the reply text
takes to say at a natural speaking rate.
"""

from __future__ import annotations

import random

import numpy as np

from rtlens.g711 import (  # noqa: F401  (re-exported: the simulator's codec is this one)
    alaw_decode_sample,
    alaw_encode_sample,
    decode_table,
    encode_table,
    ulaw_decode_sample,
    ulaw_encode_sample,
)

RATES: dict[str, int] = {"pcm16": 24000, "g711_ulaw": 8000, "g711_alaw": 8000}
BYTES_PER_SAMPLE: dict[str, int] = {"pcm16": 2, "g711_ulaw": 1, "g711_alaw": 1}
SPEAKING_CHARS_PER_S = 15.0
"""About 160 words a minute: how long a reply text takes to say."""


def bytes_per_ms(fmt: str) -> float:
    return RATES[fmt] * BYTES_PER_SAMPLE[fmt] / 1000.0


def duration_ms(fmt: str, n_bytes: int) -> float:
    """Milliseconds of audio in `n_bytes` of `fmt`."""
    return n_bytes / bytes_per_ms(fmt)


# ---- bytes <-> samples ---------------------------------------------------------------------


def decode(fmt: str, data: bytes) -> np.ndarray:
    """Wire bytes of `fmt` -> float32 samples in [-1, 1] at `RATES[fmt]`."""
    if fmt == "pcm16":
        pcm = np.frombuffer(data[: len(data) - len(data) % 2], dtype="<i2")
    else:
        pcm = decode_table(fmt)[np.frombuffer(data, dtype=np.uint8)]
    return pcm.astype(np.float32) / 32768.0


def encode(fmt: str, samples: np.ndarray) -> bytes:
    """float samples in [-1, 1] at `RATES[fmt]` -> wire bytes of `fmt`."""
    pcm = np.clip(np.round(samples * 32767.0), -32768, 32767).astype(np.int16)
    if fmt == "pcm16":
        return pcm.astype("<i2").tobytes()
    return encode_table(fmt)[pcm.astype(np.int32) + 32768].tobytes()


# ---- synthesis -----------------------------------------------------------------------------


def _numpy_rng(rng: random.Random) -> np.random.Generator:
    return np.random.default_rng(rng.getrandbits(64))


def silence(ms: float, rate: int, rng: random.Random, level_db: float = -66.0) -> np.ndarray:
    """A quiet noise floor (a real microphone is never digital zero)."""
    n = round(ms * rate / 1000.0)
    noise = _numpy_rng(rng).standard_normal(n).astype(np.float32)
    return noise * np.float32(10 ** (level_db / 20.0))


def _tukey(n: int, taper: float = 0.3) -> np.ndarray:
    if n <= 2:
        return np.ones(n, dtype=np.float32)
    window = np.ones(n, dtype=np.float32)
    edge = max(1, int(taper * n / 2))
    ramp = 0.5 * (1 - np.cos(np.pi * np.arange(edge) / edge))
    window[:edge] = ramp
    window[-edge:] = ramp[::-1]
    return window


def speech(
    ms: float,
    rate: int,
    rng: random.Random,
    *,
    pitch_hz: float = 140.0,
    level_db: float = -20.0,
) -> np.ndarray:
    """`ms` of speech-like signal: syllables of a harmonic tone, 3-5 per second.

    Each syllable is 140-260 ms of a vowel (a random mix of the first six harmonics, gently
    gliding in pitch) under a flat-topped envelope, followed by a 20-70 ms dip. The signal
    starts and ends on a syllable, so an energy VAD sees speech from the first to the last ms.
    """
    n = round(ms * rate / 1000.0)
    out = np.zeros(n, dtype=np.float32)
    gain = np.float32(10 ** (level_db / 20.0))
    pos = 0
    phase = 0.0
    while pos < n:
        syllable = min(n - pos, int(rng.uniform(140, 260) * rate / 1000))
        if n - pos - syllable < int(0.12 * rate):
            syllable = n - pos  # do not leave a stub shorter than a syllable
        f0 = pitch_hz * rng.uniform(0.85, 1.2)
        glide = np.linspace(f0, f0 * rng.uniform(0.9, 1.1), syllable, dtype=np.float64)
        phases = phase + 2 * np.pi * np.cumsum(glide) / rate
        phase = float(phases[-1]) % (2 * np.pi)
        weights = [rng.uniform(0.2, 1.0) / k for k in range(1, 7)]
        norm = np.float32(np.sqrt(sum(w * w for w in weights) / 2))
        tone = sum(w * np.sin(k * phases) for k, w in enumerate(weights, start=1))
        out[pos : pos + syllable] = (tone / norm).astype(np.float32) * _tukey(syllable) * gain
        pos += syllable + int(rng.uniform(20, 70) * rate / 1000)
    return out


def utterance_ms(text: str) -> float:
    """How long `text` takes to say at a natural rate (at least 400 ms)."""
    return max(400.0, 1000.0 * len(text) / SPEAKING_CHARS_PER_S)


def assistant_voice(text: str, fmt: str, rng: random.Random) -> bytes:
    """The whole synthetic reply audio for `text`, encoded in `fmt`."""
    rate = RATES[fmt]
    samples = speech(utterance_ms(text), rate, rng, pitch_hz=200.0, level_db=-18.0)
    return encode(fmt, samples)

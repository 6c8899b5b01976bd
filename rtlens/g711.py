"""G.711 μ-law and A-law, from the ITU algorithm (Sun's reference `g711.c`).

Written here because `audioop` left the standard library in Python 3.13. The one definition
of the codec: the simulator encodes with it, `rtlens audio` decodes with it.
"""

from __future__ import annotations

from functools import cache

import numpy as np

FORMATS = ("g711_ulaw", "g711_alaw")

_ULAW_BIAS = 0x84
_ULAW_CLIP = 32635
_ALAW_SEG_END = (0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF)


def ulaw_encode_sample(pcm: int) -> int:
    sign = 0x80 if pcm < 0 else 0
    magnitude = min(-pcm if pcm < 0 else pcm, _ULAW_CLIP) + _ULAW_BIAS
    exponent = max(0, magnitude.bit_length() - 8)
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


def ulaw_decode_sample(code: int) -> int:
    code = ~code & 0xFF
    magnitude = ((((code & 0x0F) << 3) + _ULAW_BIAS) << ((code >> 4) & 0x07)) - _ULAW_BIAS
    return -magnitude if code & 0x80 else magnitude


def alaw_encode_sample(pcm: int) -> int:
    value = pcm >> 3
    if value >= 0:
        mask = 0xD5
    else:
        mask = 0x55
        value = -value - 1
    seg = next((i for i, end in enumerate(_ALAW_SEG_END) if value <= end), 8)
    if seg >= 8:
        return 0x7F ^ mask
    shift = 1 if seg < 2 else seg
    return ((seg << 4) | ((value >> shift) & 0x0F)) ^ mask


def alaw_decode_sample(code: int) -> int:
    code ^= 0x55
    value = (code & 0x0F) << 4
    seg = (code & 0x70) >> 4
    if seg == 0:
        value += 8
    else:
        value = (value + 0x108) << (seg - 1)
    return value if code & 0x80 else -value


@cache
def encode_table(fmt: str) -> np.ndarray:
    """int16 value + 32768 -> code byte, for `fmt` (`g711_ulaw` or `g711_alaw`)."""
    encode = ulaw_encode_sample if fmt == "g711_ulaw" else alaw_encode_sample
    return np.array([encode(v) for v in range(-32768, 32768)], dtype=np.uint8)


@cache
def decode_table(fmt: str) -> np.ndarray:
    """code byte -> int16 sample, for `fmt` (`g711_ulaw` or `g711_alaw`)."""
    decode = ulaw_decode_sample if fmt == "g711_ulaw" else alaw_decode_sample
    return np.array([decode(c) for c in range(256)], dtype=np.int16)

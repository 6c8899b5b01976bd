"""Token accounting and rate limits, shaped like the real `usage` and `rate_limits`.

Token rates (approximations fitted to real captures, see the protocol notes §7):
- text: one token per 4 characters; an audio reply's transcript costs ~10 tokens more
  (C1: 38 text tokens for a 102-character transcript);
- audio in or out: one token per 50 ms (C5: 147 output audio tokens for ~7 s of speech);
- input transcription audio: one token per 100 ms (C6: 16 tokens for 1.63 s).

`usage` identities hold by construction: total = input + output, input = text + audio (+ image),
output = text + audio, cached ⊆ input and cached = the sum of its details. Cached tokens are the
part of this response's context that the previous response already read, rounded down to
64-token steps (every real sample is a multiple of 64), so they grow as the conversation grows.

Rate limits are a token bucket that refills linearly over a minute, which reproduces every real
sample's `reset_seconds` exactly: reset = (limit - remaining) / limit × 60 (C5: 40000/38490 →
2.265 s). Refill time is service time (wall time / pace), and none at pace 0.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

AUDIO_MS_PER_TOKEN = 50.0
TRANSCRIPTION_MS_PER_TOKEN = 100.0
TRANSCRIPT_OVERHEAD_TOKENS = 10
CACHE_STEP = 64


def text_tokens(text: str) -> int:
    return math.ceil(len(text) / 4) if text else 0


def audio_tokens(ms: float) -> int:
    return math.ceil(ms / AUDIO_MS_PER_TOKEN) if ms > 0 else 0


@dataclass
class Tokens:
    """A text/audio token pair."""

    text: int = 0
    audio: int = 0

    @property
    def total(self) -> int:
        return self.text + self.audio

    def __add__(self, other: Tokens) -> Tokens:
        return Tokens(self.text + other.text, self.audio + other.audio)


CONTEXT_WINDOW_TOKENS = 28_672  # gpt-realtime's 32k window less room for the reply


def truncated(context: Tokens) -> Tokens:
    """The context after `truncation: auto` dropped the oldest items to fit the window
    (modelled by scaling text and audio alike)."""
    if context.total <= CONTEXT_WINDOW_TOKENS:
        return context
    text = context.text * CONTEXT_WINDOW_TOKENS // context.total
    return Tokens(text, CONTEXT_WINDOW_TOKENS - text)


def cached_split(previous: Tokens | None, current: Tokens) -> Tokens:
    """The cached part of `current`: what `previous` already read, in 64-token steps."""
    if previous is None:
        return Tokens()
    text = min(previous.text, current.text)
    audio = min(previous.audio, current.audio)
    total = (text + audio) // CACHE_STEP * CACHE_STEP
    cached_text = min(text, total)
    return Tokens(cached_text, total - cached_text)


def usage_object(
    dialect: str, input_tokens: Tokens, cached: Tokens, output: Tokens
) -> dict[str, Any]:
    """`response.usage` in the dialect's shape (GA adds `image_tokens`)."""
    ga = dialect == "ga"
    in_details: dict[str, Any] = {
        "text_tokens": input_tokens.text,
        "audio_tokens": input_tokens.audio,
    }
    cached_details: dict[str, Any] = {"text_tokens": cached.text, "audio_tokens": cached.audio}
    if ga:
        in_details["image_tokens"] = 0
        cached_details["image_tokens"] = 0
    in_details["cached_tokens"] = cached.total
    in_details["cached_tokens_details"] = cached_details
    return {
        "total_tokens": input_tokens.total + output.total,
        "input_tokens": input_tokens.total,
        "output_tokens": output.total,
        "input_token_details": in_details,
        "output_token_details": {"text_tokens": output.text, "audio_tokens": output.audio},
    }


def zero_usage(dialect: str) -> dict[str, Any]:
    return usage_object(dialect, Tokens(), Tokens(), Tokens())


def transcription_usage(audio_ms: float, transcript: str) -> dict[str, Any]:
    """GA `…input_audio_transcription.completed.usage` ({type: tokens, ...})."""
    audio = math.ceil(audio_ms / TRANSCRIPTION_MS_PER_TOKEN) if audio_ms > 0 else 0
    out = text_tokens(transcript)
    return {
        "type": "tokens",
        "total_tokens": audio + out,
        "input_tokens": audio,
        "input_token_details": {"text_tokens": 0, "audio_tokens": audio},
        "output_tokens": out,
    }


class RateLimiter:
    """Requests and tokens per minute for one connection (one organisation, really)."""

    def __init__(
        self,
        tokens_per_minute: int,
        requests_per_minute: int,
        pace: float,
        audio_clock_s: Callable[[], float] | None = None,
    ) -> None:
        self.token_limit = tokens_per_minute
        self.request_limit = requests_per_minute
        self.pace = pace
        self._tokens_used = 0.0
        self._requests_used = 0.0
        # At pace 0 no wall time passes; the session's audio clock (seconds of input audio
        # appended) stands in for it, so limits refill as the conversation goes on.
        self._clock = audio_clock_s if pace <= 0 and audio_clock_s else None
        self._last = self._now()

    def _now(self) -> float:
        return self._clock() if self._clock is not None else time.monotonic()

    def _refill(self) -> None:
        now = self._now()
        if self._clock is not None:
            elapsed_s = now - self._last
        else:
            elapsed_s = (now - self._last) / self.pace if self.pace > 0 else 0.0
        self._last = now
        self._tokens_used = max(0.0, self._tokens_used - elapsed_s * self.token_limit / 60)
        self._requests_used = max(0.0, self._requests_used - elapsed_s * self.request_limit / 60)

    def shortfall(self, requested: int) -> tuple[int, float] | None:
        """None if `requested` tokens fit; else (tokens used, seconds to wait)."""
        self._refill()
        if self._tokens_used + requested <= self.token_limit:
            return None
        wait = (self._tokens_used + requested - self.token_limit) / self.token_limit * 60
        return int(self._tokens_used), wait

    def spend(self, tokens: int, requests: int = 0) -> None:
        self._refill()
        self._tokens_used = min(float(self.token_limit), self._tokens_used + tokens)
        self._requests_used = min(float(self.request_limit), self._requests_used + requests)

    def _entry(self, name: str, limit: int, used: float) -> dict[str, Any]:
        used_whole = math.ceil(used)
        return {
            "name": name,
            "limit": limit,
            "remaining": max(0, limit - used_whole),
            "reset_seconds": round(used_whole / limit * 60, 3),
        }

    def snapshot(self, *, with_requests: bool, reserved: int = 0) -> list[dict[str, Any]]:
        """`rate_limits` entries; `reserved` tokens are counted as used (beta reserves output)."""
        self._refill()
        tokens = min(float(self.token_limit), self._tokens_used + reserved)
        entries = [self._entry("tokens", self.token_limit, tokens)]
        if with_requests:
            entries.insert(0, self._entry("requests", self.request_limit, self._requests_used))
        return entries

"""How long the simulated service takes, and the clock that scales it by `pace`.

Every delay is a (low, high) range in milliseconds of *service* time, drawn with jitter from a
seeded stream; `Clock.sleep` turns it into wall-clock time multiplied by `pace` (0 = only yield
to the event loop). The numbers come from real captures (see
`shared/protocol/realtime_protocol.md` §8): `response.created` 45–280 ms after the trigger,
`output_item.added` ~260 ms later, first audio a few hundred ms after `response.created`,
output audio generated 2–3× faster than real time in growing chunks, `rate_limits.updated`
~43 ms after a GA `response.done`, input transcription deltas ~1.2 s after the commit and
`completed` ~0.2 s later.

Nothing here reads the wall clock to make a protocol decision: VAD positions come from the
audio timeline, so a fast client gets the same events as a real-time one.
"""

from __future__ import annotations

import asyncio

Bounds = tuple[float, float]

SESSION_CREATED: Bounds = (2, 6)
SESSION_UPDATED: Bounds = (40, 180)
CLIENT_REPLY: Bounds = (15, 60)  # item.create/delete/retrieve/truncate, buffer clear, cancel
ERROR_REPLY: Bounds = (15, 60)
MANUAL_COMMIT: Bounds = (20, 70)
VAD_PROCESSING: Bounds = (5, 25)
RESPONSE_CREATED: Bounds = (50, 280)
FIRST_OUTPUT_ITEM: Bounds = (150, 300)
FIRST_DELTA: Bounds = (10, 90)
GENERATION_SPEEDUP: Bounds = (2.2, 3.2)  # audio ms generated per wall ms
TEXT_DELTA_GAP: Bounds = (3, 12)
ARGUMENT_DELTA_GAP: Bounds = (2, 8)
DONE_GAP: Bounds = (0.2, 2.0)
RATE_LIMITS_AFTER_DONE: Bounds = (35, 50)
TRANSCRIPTION_FIRST_DELTA: Bounds = (1000, 1300)
TRANSCRIPTION_DELTA_GAP: Bounds = (2, 6)
TRANSCRIPTION_COMPLETED: Bounds = (150, 250)

AUDIO_CHUNK_MS: tuple[int, ...] = (100, 100, 150, 200, 300, 400, 500)
"""Durations of successive audio deltas: small at first, then larger, like the real service."""


class Clock:
    """Scales service-time waits into wall-clock waits."""

    def __init__(self, pace: float) -> None:
        self.pace = pace

    async def sleep(self, ms: float) -> None:
        await asyncio.sleep(ms * self.pace / 1000.0 if self.pace > 0 else 0)

    async def sleep_or(self, event: asyncio.Event, ms: float) -> bool:
        """Wait `ms` of service time or until `event` is set; True if the event is set."""
        if event.is_set():
            return True
        if self.pace <= 0:
            await asyncio.sleep(0)
            return event.is_set()
        try:
            await asyncio.wait_for(event.wait(), ms * self.pace / 1000.0)
        except TimeoutError:
            return event.is_set()
        return True

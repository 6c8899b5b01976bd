"""Seeded randomness and OpenAI-style ids for one simulated connection.

Every random choice of a connection comes from a `Stream`: a `random.Random` seeded from
(server seed, connection index, stream name). Each concurrent producer (the session loop, each
response, each transcription) has its own stream, so the ids and choices it makes do not depend
on how asyncio happened to interleave it with the others: a client that behaves the same way
gets the same events.

Id shapes follow the real service: `event_` + 21 base62 characters, `resp_`/`item_`/`sess_`/
`conv_` + 21, `call_` + 16. Real ids of one session share a leading time-like stamp
(`event_BaPs…`, `resp_BaPs…`); a per-connection 4-character stamp imitates that.
"""

from __future__ import annotations

import random

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


class Stream(random.Random):
    """A named, seeded random stream that also mints ids."""

    def __init__(self, seed: int, connection: int, name: str, stamp: str) -> None:
        super().__init__(f"rtlens-sim:{seed}:{connection}:{name}")
        self.stamp = stamp

    def token(self, n: int) -> str:
        return "".join(self.choice(BASE62) for _ in range(n))

    def _id(self, prefix: str, n: int = 21) -> str:
        return prefix + self.stamp + self.token(n - len(self.stamp))

    def event_id(self) -> str:
        return self._id("event_")

    def buffer_event_id(self) -> str:
        """`output_audio_buffer.*` ids differ on WebRTC: `event_` + 16 lowercase hex (C1/C2)."""
        return f"event_{self.getrandbits(64):016x}"

    def response_id(self) -> str:
        return self._id("resp_")

    def item_id(self) -> str:
        return self._id("item_")

    def call_id(self) -> str:
        return "call_" + self.token(16)

    def obfuscation(self) -> str:
        """Padding string the GA server adds to text deltas (length varies with the delta)."""
        return self.token(self.randint(4, 15))

    def jitter(self, bounds: tuple[float, float]) -> float:
        """A delay in ms drawn uniformly between `bounds`."""
        return self.uniform(*bounds)


class Streams:
    """All the streams of one connection, created on demand by name."""

    def __init__(self, seed: int, connection: int) -> None:
        self.seed = seed
        self.connection = connection
        self.stamp = random.Random(f"rtlens-sim:{seed}:{connection}:stamp").choice("BCD")
        self.stamp += Stream(seed, connection, "stamp", "").token(3)
        self._streams: dict[str, Stream] = {}

    def __call__(self, name: str) -> Stream:
        if name not in self._streams:
            self._streams[name] = Stream(self.seed, self.connection, name, self.stamp)
        return self._streams[name]

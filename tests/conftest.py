"""Shared fixtures. `realtime`: a harness for talking raw WebSocket to a simulator on 127.0.0.1."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import random
from collections.abc import AsyncIterator, Coroutine
from typing import Any

import numpy as np
import pytest
from websockets.asyncio.client import ClientConnection, connect

from rtlens.simulator import SimulatorConfig, serve
from rtlens.simulator import audio as sim_audio
from rtlens.simulator.server import SimulatorServer


class RawClient:
    """A bare Realtime client: send events, collect every server event in order."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.events: list[dict[str, Any]] = []
        self._seen = 0

    async def send(self, event: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(event))

    async def append_audio(self, pcm: bytes, fmt: str = "pcm16", chunk_ms: int = 40) -> None:
        step = int(sim_audio.bytes_per_ms(fmt) * chunk_ms)
        for start in range(0, len(pcm), step):
            chunk = base64.b64encode(pcm[start : start + step]).decode()
            await self.send({"type": "input_audio_buffer.append", "audio": chunk})

    async def recv(self, timeout: float = 60.0) -> dict[str, Any]:
        event = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
        self.events.append(event)
        return event

    async def until(self, kind: str, timeout: float = 60.0, **fields: Any) -> dict[str, Any]:
        """Receive until an event of `kind` (with `fields`) arrives; earlier ones are kept."""
        for event in self.events[self._seen :]:
            self._seen += 1
            if event["type"] == kind and all(event.get(k) == v for k, v in fields.items()):
                return event
        while True:
            event = await self.recv(timeout)
            self._seen = len(self.events)
            if event["type"] == kind and all(event.get(k) == v for k, v in fields.items()):
                return event

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == kind]


class Harness:
    @staticmethod
    def run(coro: Coroutine[Any, Any, Any], timeout: float = 240.0) -> Any:
        # Only a safety net for a hung test (below pytest-timeout's 300 s, for a clearer
        # error): a loaded 2-core host can take minutes where an idle one takes seconds.
        return asyncio.run(asyncio.wait_for(coro, timeout))

    @staticmethod
    def server(**cfg: Any) -> contextlib.AbstractAsyncContextManager[SimulatorServer]:
        cfg.setdefault("pace", 0.0)
        return serve("127.0.0.1", 0, SimulatorConfig(**cfg))

    @staticmethod
    @contextlib.asynccontextmanager
    async def client(
        server: SimulatorServer,
        *,
        beta: bool = False,
        query: str = "model=gpt-realtime",
        headers: dict[str, str] | None = None,
        path: str = "/v1/realtime",
        **kwargs: Any,
    ) -> AsyncIterator[RawClient]:
        sent = {"Authorization": "Bearer sk-test"} if headers is None else dict(headers)
        if beta:
            sent["OpenAI-Beta"] = "realtime=v1"
        url = f"ws://127.0.0.1:{server.port}{path}?{query}"
        async with connect(url, additional_headers=sent, max_size=None, **kwargs) as ws:
            yield RawClient(ws)

    @staticmethod
    def speech_track(*segments: tuple[str, float], fmt: str = "pcm16", seed: int = 0) -> bytes:
        """Audio made of ("speech"|"silence", ms) segments, encoded as `fmt`."""
        rng = random.Random(seed)
        rate = sim_audio.RATES[fmt]
        parts = [
            sim_audio.speech(ms, rate, rng)
            if kind == "speech"
            else sim_audio.silence(ms, rate, rng)
            for kind, ms in segments
        ]
        return sim_audio.encode(fmt, np.concatenate(parts))


@pytest.fixture
def realtime() -> type[Harness]:
    return Harness


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        help="rewrite the golden files in tests/data/golden instead of comparing (review the diff)",
    )


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))

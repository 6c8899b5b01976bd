"""The project's simulator as the upstream of a relay, for driving real clients through it.

`SimulatorUpstream` tells when the simulator has seen a session close: the relay writes the
close line before it closes the upstream leg, so once the simulator has seen the close the
recording is complete (no waiting on timers)."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from rtlens import simulator
from rtlens.recording import RelayServer, serve_relay

CLOSED = re.compile(r"#(\d+) closed (\d+) ")


@dataclass
class SimulatorUpstream:
    lines: list[str] = field(default_factory=list)
    closes: asyncio.Queue[int] = field(default_factory=asyncio.Queue)

    def log(self, line: str) -> None:
        self.lines.append(line)
        found = CLOSED.search(line)
        if found:
            self.closes.put_nowait(int(found.group(2)))

    async def next_close(self) -> int:
        """The close code of the next session the simulator sees end."""
        return await self.closes.get()


@contextlib.asynccontextmanager
async def relay_to_simulator(
    out_dir: Path, **relay_kwargs: object
) -> AsyncIterator[tuple[RelayServer, SimulatorUpstream]]:
    upstream = SimulatorUpstream()
    cfg = simulator.SimulatorConfig(pace=0)
    async with (
        simulator.serve("127.0.0.1", 0, cfg, log=upstream.log) as sim,
        serve_relay(
            "127.0.0.1",
            0,
            upstream=f"ws://127.0.0.1:{sim.port}",
            out_dir=out_dir,
            **relay_kwargs,  # type: ignore[arg-type]
        ) as relay,
    ):
        yield relay, upstream

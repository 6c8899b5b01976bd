"""The replay server: one WebSocket connection at a time, fed from a `Schedule`."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson
from websockets.asyncio.server import ServerConnection, serve

from rtlens.replay.schedule import Schedule

IN_USE = (1013, "replay already in use")


@dataclass
class ReplayResult:
    divergence: str | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)


async def _release(
    ws: ServerConnection, schedule: Schedule, speed: float, arrived: list[int], wake: asyncio.Event
) -> None:
    for step in schedule.steps:
        while arrived[0] < step.after_clients:
            wake.clear()
            await wake.wait()
        if step.gap_s and speed > 0:
            await asyncio.sleep(step.gap_s / speed)
        await ws.send(step.text if step.text is not None else step.data or b"")


async def _serve_one(
    ws: ServerConnection, schedule: Schedule, speed: float, strict: bool, result: ReplayResult
) -> None:
    arrived = [0]
    wake = asyncio.Event()
    sender = asyncio.create_task(_release(ws, schedule, speed, arrived, wake))
    try:
        async for message in ws:
            k = arrived[0]
            if strict:
                got = None
                if isinstance(message, str):
                    try:
                        ev = orjson.loads(message)
                        got = ev.get("type") if isinstance(ev, dict) else None
                    except orjson.JSONDecodeError:
                        pass
                if k >= len(schedule.clients) or schedule.clients[k].type != got:
                    if k < len(schedule.clients):
                        exp = schedule.clients[k]
                        why = f"expected {exp.type} (line {exp.line_no}), got {got}"
                    else:
                        why = f"expected no more client events, got {got}"
                    result.divergence = f"client diverged at client event {k + 1}: {why}"
                    break
            arrived[0] = k + 1
            wake.set()
    finally:
        sender.cancel()
    if result.divergence:
        await ws.close(1008, result.divergence[:120])


async def replay(
    schedule: Schedule,
    host: str,
    port: int,
    *,
    speed: float = 1.0,
    strict: bool = False,
    on_listen: Callable[[str], None] | None = None,
    result: ReplayResult | None = None,
) -> ReplayResult:
    """Serve `schedule` to the first client; return when it disconnects."""
    result = result or ReplayResult()
    busy = [False]

    async def handler(ws: ServerConnection) -> None:
        if busy[0]:
            await ws.close(*IN_USE)
            return
        busy[0] = True
        try:
            await _serve_one(ws, schedule, speed, strict, result)
        finally:
            result.done.set()

    # max_queue=None: with websockets' default (16) reading pauses while the app streams
    # appends, and a --strict close handshake then stalls until close_timeout.
    async with serve(handler, host, port, max_size=None, max_queue=None) as server:
        sock = next(iter(server.sockets))
        h, p = sock.getsockname()[:2]
        if on_listen:
            on_listen(f"ws://{h}:{p}/v1/realtime")
        await result.done.wait()
    return result


def main_sync(
    schedule: Schedule, host: str, port: int, speed: float, strict: bool, log: Callable[[str], None]
) -> int:
    res = asyncio.run(replay(schedule, host, port, speed=speed, strict=strict, on_listen=log))
    if res.divergence:
        print(res.divergence, file=sys.stderr)
        return 1
    return 0

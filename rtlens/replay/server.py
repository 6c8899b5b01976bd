"""The replay server: one WebSocket connection at a time, fed from a `Schedule`."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson
from websockets.asyncio.server import ServerConnection, serve

from rtlens.replay.schedule import Schedule, client_label

IN_USE = (1013, "replay already in use")


@dataclass
class ReplayResult:
    divergence: str | None = None
    clients_seen: int = 0  # client frames that arrived
    steps_sent: int = 0  # recorded server frames sent
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def summary(self, schedule: Schedule) -> str:
        """One line for the terminal when the replay ends."""
        return (
            f"replayed {self.steps_sent} of {len(schedule.steps)} server frames; the client "
            f"sent {self.clients_seen} of the recording's {len(schedule.clients)} client frames"
        )


def divergence(schedule: Schedule, index: int, message: str | bytes) -> str | None:
    """Why the `index`-th (0-based) client frame is not the recording's, or None if it is."""
    got = client_label(message)
    if index < len(schedule.clients):
        want = schedule.clients[index]
        if want.type == got:
            return None
        expected = f"expected {want.type} (line {want.line_no})"
    elif schedule.clients:
        last = schedule.clients[-1].line_no
        expected = f"expected no more client events (the recording's last is line {last})"
    else:
        expected = "expected no client events (the recording has none)"
    event_id = _event_id(message)
    shown = f"{got} (event_id {event_id})" if event_id else got
    return f"client diverged at client event {index + 1}: {expected}, got {shown}"


def _event_id(message: str | bytes) -> str | None:
    if isinstance(message, bytes):
        return None
    try:
        event = orjson.loads(message)
    except orjson.JSONDecodeError:
        return None
    value = event.get("event_id") if isinstance(event, dict) else None
    return value if isinstance(value, str) else None


# A frame due sooner than this is sent at once: frames the API sent as one burst (recorded
# microseconds apart) stay one burst, and a timer could not keep such gaps anyway.
BURST_S = 0.001


async def _release(
    ws: ServerConnection,
    schedule: Schedule,
    speed: float,
    result: ReplayResult,
    arrivals: list[float],
    wake: asyncio.Event,
) -> None:
    """Send each step once its client event has come and its recorded time has come.

    Times follow the recorded clock from an anchor (a loop time and the recorded time it
    stands for): the first frame at the connection, then each client event at its arrival,
    so the frames after a client event keep their recorded distance from it however early
    or late the app sent it, and neither send times nor sleeps' overshoot add up over a call.
    """
    loop = asyncio.get_running_loop()
    anchor_t, anchor_ts = loop.time(), None
    waited = 0
    with schedule.frames() as frames:
        for step in schedule.steps:
            while result.clients_seen < step.after_clients:
                wake.clear()
                await wake.wait()
            if step.after_clients > waited:
                waited = step.after_clients
                client_ts = schedule.clients[waited - 1].ts
                if client_ts is not None:
                    anchor_t, anchor_ts = arrivals[waited - 1], client_ts
            if speed > 0 and step.ts is not None:  # at --speed 0 no clock: order only
                if anchor_ts is None:
                    anchor_t, anchor_ts = loop.time(), step.ts
                delay = anchor_t + (step.ts - anchor_ts) / speed - loop.time()
                if delay > BURST_S:
                    await asyncio.sleep(delay)
            await ws.send(frames.frame(step))
            result.steps_sent += 1


async def _serve_one(
    ws: ServerConnection, schedule: Schedule, speed: float, strict: bool, result: ReplayResult
) -> None:
    wake = asyncio.Event()
    arrivals: list[float] = []  # when each client frame came (loop time)
    sender = asyncio.create_task(_release(ws, schedule, speed, result, arrivals, wake))
    loop = asyncio.get_running_loop()
    try:
        async for message in ws:
            if strict:
                result.divergence = divergence(schedule, result.clients_seen, message)
                if result.divergence:
                    break
            arrivals.append(loop.time())
            result.clients_seen += 1
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
    log(res.summary(schedule))
    if res.divergence:
        print(res.divergence, file=sys.stderr)
        return 1
    return 0

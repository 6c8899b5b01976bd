"""Replay timing error at --speed 1: per server event, (received - previous frame) - recorded gap.

The client sends each recorded client event on its recorded gap too, so every gap is measured
against the frame that really preceded it. Usage:
    PYTHONPATH=$PWD python benchmarks/replay_bench.py sample_logs/ga_manual_turns.jsonl
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path

import orjson
from websockets.asyncio.client import connect

from rtlens.replay.schedule import load_schedule
from rtlens.replay.server import ReplayResult, replay


async def main(path: str) -> None:
    schedule = load_schedule(path)
    result = ReplayResult()
    url: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(
        replay(schedule, "127.0.0.1", 0, speed=1, result=result, on_listen=url.set_result)
    )
    frames = [orjson.loads(x) for x in Path(path).read_bytes().splitlines() if b'"dir"' in x]
    errors: list[float] = []
    async with connect(await url, max_size=None) as ws:
        last = time.perf_counter()
        prev_ts = None
        for f in frames:
            gap = 0.0 if prev_ts is None else max(0.0, f["ts"] - prev_ts)
            prev_ts = f["ts"]
            if f["dir"] == "client":
                await asyncio.sleep(max(0.0, last + gap - time.perf_counter()))
                await ws.send(orjson.dumps(f["event"]).decode())
                last = time.perf_counter()
            else:
                await ws.recv()
                now = time.perf_counter()
                errors.append((now - last - gap) * 1000)
                last = now
    await task
    errors.sort()
    p50 = statistics.median(errors)
    p99 = errors[min(len(errors) - 1, int(len(errors) * 0.99))]
    print(f"{path}: {len(errors)} server events, release error p50 {p50:.2f} ms, p99 {p99:.2f} ms")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))

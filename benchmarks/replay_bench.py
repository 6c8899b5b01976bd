"""Replay timing error per server event against the recording, and the replay's memory.

`rtlens replay FILE --speed X` runs as a program (as a user runs it); this client plays the
recording's client side and notes when each server event arrives. The replay releases a
server event at its recorded distance (÷ X) from the client event before it; its error here
is its arrival minus that, measured from when this client sent that event (from the first
server event for those before any client event), so it includes both loopback hops.
Positive errors are late. At --speed 0 there is no clock (no waits): only the rate.

    PYTHONPATH=$PWD python benchmarks/replay_bench.py sample_logs/ga_manual_turns.jsonl
    PYTHONPATH=$PWD python benchmarks/replay_bench.py benchmarks/long/long_call.jsonl --speed 0

The file is read line by line on both sides; peak RSS is the replay program's (ru_maxrss of
the child), printed with the recording's size.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
from websockets.asyncio.client import connect


def _frames(path: Path) -> Iterator[tuple[str, float | None, bytes | None]]:
    """(dir, ts, client frame to send) per frame line, one line in memory at a time."""
    with path.open("rb") as fh:
        for line in fh:
            if b'"dir"' not in line:
                continue
            obj = orjson.loads(line)
            direction = obj.get("dir")
            ts = obj.get("ts")
            payload = orjson.dumps(obj["event"]) if direction == "client" else None
            yield direction, ts if isinstance(ts, (int, float)) else None, payload


async def _drive(url: str, path: Path, speed: float) -> tuple[list[float], int, float]:
    """Play the client side; return per-server-event errors (ms), server events, seconds.

    The client sends each client event at its recorded distance from the frame before it
    (as an app that reacts would); a server event is due at its recorded distance from the
    client event before it (from the first server event for those before any).
    """
    errors: list[float] = []
    received = 0
    started = time.perf_counter()
    async with connect(url, max_size=None, max_queue=None) as ws:
        anchor: tuple[float, float] | None = None  # (our time, recorded ts) to measure from
        last: tuple[float, float] | None = None  # the frame before, either way
        for direction, ts, payload in _frames(path):
            if direction == "client" and payload is not None:
                if last is not None and ts is not None and speed > 0:
                    due = last[0] + (ts - last[1]) / speed
                    await asyncio.sleep(max(0.0, due - time.perf_counter()))
                await ws.send(payload.decode())
                now = time.perf_counter()
                if ts is not None:
                    anchor = last = (now, ts)
            elif direction == "server":
                await ws.recv()
                now = time.perf_counter()
                received += 1
                if ts is None:
                    continue
                if anchor is None:
                    anchor = (now, ts)  # the first server event: time zero
                elif speed > 0:
                    errors.append((now - anchor[0] - (ts - anchor[1]) / speed) * 1000)
                last = (now, ts)
    return errors, received, time.perf_counter() - started


def _pct(sorted_values: list[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * q))]


async def main(path: Path, speed: float) -> None:
    proc = await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "rtlens", "replay", str(path), "--listen", "127.0.0.1:0"],
        *["--speed", repr(speed)],
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    url = (await proc.stdout.readline()).decode().strip()
    errors, received, seconds = await _drive(url, path, speed)
    summary = (await proc.stdout.read()).decode().strip()
    await proc.wait()
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    size_mb = path.stat().st_size / 1e6
    print(f"{path}: {received} server events in {seconds:.2f} s at --speed {speed:g}")
    if errors:
        errors.sort()
        print(
            f"  release error (late +): p50 {statistics.median(errors):.2f} ms, "
            f"p99 {_pct(errors, 0.99):.2f} ms, max {errors[-1]:.2f} ms"
        )
    else:
        print(f"  no clock at --speed 0: {received / seconds:.0f} server events/s")
    print(f"  replay peak RSS {peak_mb:.1f} MB for a {size_mb:.1f} MB recording")
    print(f"  {summary}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recording", type=Path)
    parser.add_argument("--speed", type=float, default=1.0)
    args = parser.parse_args()
    if not args.speed >= 0:
        parser.error("--speed must be a number >= 0")
    asyncio.run(main(args.recording, args.speed))

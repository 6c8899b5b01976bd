"""WebRTC call setup in the simulator, as a ratio against a WebSocket session's in the same run.

Setup = from the request (POST of the SDP offer / WebSocket connect) to `session.created`
in the client's hands. Each of N rounds does one WebSocket session then one WebRTC call, so
both see the same host load. Also: CPU of this process (caller and simulator both run in it)
per second of a call streaming speech both ways.

Run it inside a loopback-only namespace, as the tests do (WebRTC gathers candidates on every
interface):

    unshare --net sh -c 'ip link set lo up && ip addr add 127.0.0.2/8 dev lo && \
        .venv/bin/python benchmarks/webrtc_calls.py --rounds 10'
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import sys
import time
from pathlib import Path

from websockets.asyncio.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from webrtc_helpers import KEY, Caller, dial, speech

from rtlens.simulator import SimulatorConfig, serve


def cpu_s() -> float:
    use = resource.getrusage(resource.RUSAGE_SELF)
    return use.ru_utime + use.ru_stime


async def main(rounds: int, call_s: float) -> dict[str, float]:
    ws_ms: list[float] = []
    rtc_ms: list[float] = []
    async with serve(cfg=SimulatorConfig(), webrtc_port=0) as srv:
        for _ in range(rounds):
            t = time.perf_counter()
            async with connect(f"{srv.url}?model=gpt-realtime", additional_headers=KEY) as ws:
                assert json.loads(await ws.recv())["type"] == "session.created"
                ws_ms.append((time.perf_counter() - t) * 1000)
            caller = Caller()
            t = time.perf_counter()
            await dial(srv, caller)
            await caller.until("session.created")
            rtc_ms.append((time.perf_counter() - t) * 1000)
            await caller.close()
        caller = Caller()
        await dial(srv, caller)
        await caller.until("session.created")
        before, t = cpu_s(), time.perf_counter()
        caller.mic.say(speech(call_s * 1000 * 0.4, seed=1))
        await caller.heard(int(call_s * 50))  # call_s seconds of the reply track
        cpu_per_s = (cpu_s() - before) / (time.perf_counter() - t)
        await caller.close()
    ws, rtc = statistics.median(ws_ms), statistics.median(rtc_ms)
    return {
        "rounds": rounds,
        "ws_setup_ms_median": round(ws, 1),
        "webrtc_setup_ms_median": round(rtc, 1),
        "webrtc_over_ws_setup": round(rtc / ws, 1),
        "cpu_s_per_call_s": round(cpu_per_s, 3),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--call-seconds", type=float, default=10.0)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.rounds, args.call_seconds)), indent=1))

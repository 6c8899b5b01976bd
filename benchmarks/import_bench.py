"""Import benchmark: one session ingested as a recording and as each capture, in the same run.

    python benchmarks/import_bench.py [--script manual] [--copies 20] [--repeats 5]

A scripted app talks through `rtlens record`, whose upstream is `mitmdump -w` in front of the
simulator (when mitmproxy is installed in this Python), so a recording and a mitmproxy dump
of the same session are captured together. Both are lengthened to `--copies` times the
session (its frames again and again, later each time) so that reading dominates start-up; a
Chromium HAR and a DevTools frame list are made from the long recording's frames. Each file
is ingested by `rtlens ingest FILE --db fresh.duckdb` in its own process, interleaved
`--repeats` times; we print the median wall time and each capture's as a multiple of the
recording's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

HERE = Path(__file__).parent
MITMDUMP = Path(sys.executable).parent / "mitmdump"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def capture(out: Path, script: str) -> tuple[Path, Path | None]:
    """The relay's recording of one run of `script`, and mitmdump's dump of it."""
    from rtlens import simulator
    from rtlens.recording import serve_relay
    from rtlens.simulator.apps import run_app

    async with simulator.serve("127.0.0.1", 0, simulator.SimulatorConfig(pace=0), log=None) as sim:
        upstream, proc, dump = f"ws://127.0.0.1:{sim.port}", None, None
        if MITMDUMP.exists():
            port, dump = _free_port(), out / "call.flows"
            mode = f"reverse:http://127.0.0.1:{sim.port}"
            listen = ["--listen-host", "127.0.0.1", "--listen-port", str(port)]
            conf = f"confdir={out / 'mitm-conf'}"
            proc = subprocess.Popen(
                [str(MITMDUMP), "--mode", mode, *listen, "-q", "-w", str(dump), "--set", conf]
            )
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.1)
            upstream = f"ws://127.0.0.1:{port}"
        try:
            async with serve_relay(
                "127.0.0.1", 0, upstream=upstream, out_dir=out / "relay", report=None
            ) as relay:
                await run_app(f"ws://127.0.0.1:{relay.port}/v1/realtime", script=script, pace=0)
        finally:
            if proc is not None:
                proc.send_signal(signal.SIGINT)
                proc.wait()
    (recording,) = (out / "relay").glob("*.jsonl")
    return recording, dump


def lengthen(
    recording: Path, dump: Path | None, copies: int, out: Path
) -> tuple[Path, Path | None]:
    """The session's frames `copies` times over, each copy after the last, in both files: a
    longer call with the same mix of events (the dump rewritten by mitmproxy's own writer)."""
    header, *frames = recording.read_bytes().splitlines(keepends=True)
    parsed = [orjson.loads(f) for f in frames if b'"close"' not in f[:40]]
    span = parsed[-1]["ts"] - parsed[0]["ts"] + 0.1
    long_recording = out / "long.jsonl"
    with long_recording.open("wb") as f:
        f.write(header)
        for i in range(copies):
            for frame in parsed:
                f.write(orjson.dumps({**frame, "ts": round(frame["ts"] + i * span, 6)}) + b"\n")
    if dump is None:
        return long_recording, None
    from mitmproxy import io as mitm_io

    with dump.open("rb") as f:
        flows = list(mitm_io.FlowReader(f).stream())
    flow = next(fl for fl in flows if getattr(fl, "websocket", None) is not None)
    first = flow.websocket.messages
    copied = []
    for i in range(copies):
        for m in first:
            m2 = m.copy()
            m2.timestamp = m.timestamp + i * span
            copied.append(m2)
    flow.websocket.messages = copied
    long_dump = out / "long.flows"
    with long_dump.open("wb") as f:
        mitm_io.FlowWriter(f).add(flow)
    return long_recording, long_dump


def devtools_messages(recording: Path) -> list[dict]:
    out = []
    for line in recording.read_bytes().splitlines()[1:]:
        frame = orjson.loads(line)
        if "event" in frame:
            data, opcode = orjson.dumps(frame["event"]).decode(), 1
        elif "binary" in frame:
            data, opcode = frame["binary"], 2
        elif "text" in frame:
            data, opcode = frame["text"], 1
        else:
            continue
        kind = "send" if frame["dir"] == "client" else "receive"
        out.append({"type": kind, "time": frame["ts"], "opcode": opcode, "data": data})
    return out


def har(messages: list[dict]) -> dict:
    entry = {
        "request": {"method": "GET", "url": "wss://api.openai.com/v1/realtime", "headers": []},
        "response": {"status": 101},
        "_resourceType": "websocket",
        "_webSocketMessages": messages,
    }
    return {"log": {"version": "1.2", "creator": {"name": "Chromium"}, "entries": [entry]}}


def wall(path: Path, db: Path) -> float:
    argv = [sys.executable, "-m", "rtlens", "ingest", str(path), "--db", str(db)]
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True)
    took = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{' '.join(argv)} exited {done.returncode}:\n{done.stderr[-2000:]}")
    db.unlink()
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--script", default="manual", help="the scripted app (pcm16 kept)")
    parser.add_argument(
        "--copies", type=int, default=20, help="the session's frames this many times over"
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "imports.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        recording, dump = lengthen(*asyncio.run(capture(tmp, args.script)), args.copies, tmp)
        messages = devtools_messages(recording)
        files = {"recording": recording}
        files["har"] = tmp / "call.har"
        files["har"].write_text(json.dumps(har(messages), indent=2))
        files["frame list"] = tmp / "frames.json"
        files["frame list"].write_text(json.dumps(messages))
        if dump is not None:
            files["mitmproxy"] = dump
        for path in files.values():  # first runs warm the page cache and bytecode
            wall(path, tmp / "warm.duckdb")
        runs: dict[str, list[float]] = {name: [] for name in files}
        for rep in range(args.repeats):
            names = list(files)
            for name in names[rep % len(names) :] + names[: rep % len(names)]:
                runs[name].append(wall(files[name], tmp / f"{rep}.duckdb"))
        sizes = {name: path.stat().st_size for name, path in files.items()}
    median = {name: statistics.median(walls) for name, walls in runs.items()}
    result = {
        "session": {"script": args.script, "copies": args.copies, "frames": len(messages)},
        "machine": {"cpus": os.cpu_count(), "loadavg_after": os.getloadavg()},
        "bytes": sizes,
        "runs_s": runs,
        "median_s": median,
        "vs_recording": {name: median[name] / median["recording"] for name in median},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"one session: {len(messages):,} frames; median of {args.repeats} ingests")
    for name in files:
        print(
            f"{name:12}{sizes[name] / 1e6:>8.1f} MB{median[name]:>8.2f} s"
            f"{result['vs_recording'][name]:>7.2f}x the recording"
        )
    if dump is None:
        print("(no mitmproxy row: install the extra, pip install 'rtlens[mitmproxy]')")


if __name__ == "__main__":
    main()

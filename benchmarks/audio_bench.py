"""Audio benchmark: `rtlens audio` on the one-hour call and on its first ten minutes.

    python benchmarks/audio_bench.py [--recording FILE] [--repeats 1] [--minutes 10]
                                     [--out benchmarks/results/audio.json]

Targets: faster than 20x real time on the hour-long call, and peak memory flat whatever the
call's length (the ten-minute cut and the hour use about the same). The hour is the report
benchmark's session (`benchmarks/long/`, made by report_bench.py on first use, ~3 min); the
short call is its first `--minutes`, cut at a line. Each run is a fresh `rtlens audio`
process: wall time, CPU time and its peak RSS (`os.wait4`'s `ru_maxrss` of that child alone).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def first_minutes(source: Path, target: Path, minutes: float) -> None:
    """The recording's lines up to `minutes` after its first timestamped line."""
    origin: float | None = None
    with source.open("rb") as src, target.open("wb") as dst:
        for line in src:
            if line.startswith(b'{"ts":'):
                ts = orjson.loads(line)["ts"]
                origin = ts if origin is None else origin
                if ts - origin > minutes * 60:
                    break
            dst.write(line)


def run_once(recording: Path, wav: Path) -> dict[str, float]:
    argv = [sys.executable, "-m", "rtlens", "audio", str(recording), "-o", str(wav), "-q"]
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"rtlens audio failed: {stderr[-500:]}")
    side = json.loads(wav.with_suffix(".json").read_text())
    return {
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_rss_mb": usage.ru_maxrss / 1024,  # kB on Linux
        "audio_s": side["duration_s"],
        "realtime_x": side["duration_s"] / wall,
        "wav_mb": wav.stat().st_size / 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recording", type=Path, help="the hour-long call (default: made)")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "audio.json")
    args = parser.parse_args()
    if args.recording is None:
        from report_bench import long_session

        args.recording = long_session(HERE / "long")
    results: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        short = Path(tmp) / "short_call.jsonl"
        first_minutes(args.recording, short, args.minutes)
        for name, recording in ((f"{args.minutes:g} min", short), ("hour", args.recording)):
            runs = [run_once(recording, Path(tmp) / "out.wav") for _ in range(args.repeats)]
            results[name] = {
                "file_mb": recording.stat().st_size / 1e6,
                "median": {k: statistics.median(r[k] for r in runs) for k in runs[0]},
                "runs": runs,
            }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    for name, result in results.items():
        m = result["median"]
        assert isinstance(m, dict)
        print(
            f"{name:>8}: {result['file_mb']:6.0f} MB in, {m['audio_s'] / 60:5.1f} min of audio, "
            f"wall {m['wall_s']:6.2f} s ({m['realtime_x']:5.0f}x real time; target > 20x), "
            f"CPU {m['cpu_s']:6.2f} s, peak RSS {m['peak_rss_mb']:5.1f} MB"
        )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

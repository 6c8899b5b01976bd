"""A generated corpus of realistic Realtime sessions, for the ingest benchmark.

Sessions are made the way the project's sample logs are: the scripted apps talk through
the recording relay to the simulator, here as fast as possible (pace 0) and many at once.
The audio, event mix and sizes are those of real-time sessions (the apps' clock is the
audio they send, so the same silences and utterances are appended); only the wall-clock
gaps are compressed, which does not change what ingest has to do.

    python benchmarks/corpus.py benchmarks/corpus --mb 320
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sys
import time
from pathlib import Path

# (script, dialect), weighted towards ordinary voice calls as in a real fleet.
MIX = [
    ("conversation", "ga"),
    ("conversation", "beta"),
    ("conversation", "ga"),
    ("barge_in", "ga"),
    ("barge_in", "beta"),
    ("function_calling", "ga"),
    ("function_calling", "beta"),
    ("twilio_ulaw", "ga"),
    ("twilio_ulaw", "beta"),
    ("manual", "ga"),
    ("manual", "beta"),
    ("text", "ga"),
]


def corpus_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.glob("*.jsonl"))


async def _generate(folder: Path, target_bytes: int, concurrency: int) -> None:
    from rtlens.recording import serve_relay
    from rtlens.simulator import SimulatorConfig, serve
    from rtlens.simulator.apps import run_app

    async with (
        serve("127.0.0.1", 0, SimulatorConfig(pace=0), log=None) as sim,
        serve_relay(
            "127.0.0.1", 0, upstream=f"ws://127.0.0.1:{sim.port}", out_dir=str(folder), report=None
        ) as relay,
    ):
        url = f"ws://127.0.0.1:{relay.port}/v1/realtime"
        seeds = itertools.count(1000 + len(list(folder.glob("*.jsonl"))))
        mix = itertools.cycle(MIX)
        while corpus_size(folder) < target_bytes:
            batch = [(next(mix), next(seeds)) for _ in range(concurrency)]
            await asyncio.gather(
                *(run_app(url, script=s, dialect=d, seed=seed, pace=0) for (s, d), seed in batch)
            )


def ensure_corpus(folder: Path, megabytes: float, concurrency: int = 8) -> Path:
    """Create or top up the corpus until it holds at least `megabytes` of recordings."""
    folder.mkdir(parents=True, exist_ok=True)
    target = int(megabytes * 1e6)
    if corpus_size(folder) < target:
        started = time.perf_counter()
        asyncio.run(_generate(folder, target, concurrency))
        took = time.perf_counter() - started
        print(f"generated corpus in {took:.0f} s", file=sys.stderr)
    return folder


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--mb", type=float, default=320)
    args = parser.parse_args()
    out = ensure_corpus(args.folder, args.mb)
    files = list(out.glob("*.jsonl"))
    print(f"{out}: {len(files)} sessions, {corpus_size(out) / 1e6:.0f} MB")

"""Incremental ingest benchmark (issue 19): a fleet folder of 1,000 recordings, ingested
once, then again unchanged, then again with 10 new recordings, against those 10 alone.

    python benchmarks/incremental_bench.py [--files 1000] [--repeats 3]

Targets: the unchanged re-ingest takes at most 5% of the first ingest's wall time; the run
with 10 new files at most 2x ingesting those 10 alone into a new database. Wall times are
of the `rtlens ingest` program (medians of `--repeats`), all measured in this one run.
The recordings are the bundled sample logs, copied with fresh session ids.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = sorted((ROOT / "sample_logs").glob("*.jsonl"))


def make_fleet(folder: Path, n: int, start: int = 0) -> list[Path]:
    """`n` recordings: the sample logs in turn, each with a session id of its own."""
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for i in range(start, start + n):
        sample = SAMPLES[i % len(SAMPLES)]
        data = sample.read_bytes()
        header, rest = data.split(b"\n", 1)
        meta = json.loads(header)
        old = meta["session_id"].encode()
        new = uuid.UUID(int=i + 1).hex.encode()
        path = folder / f"rec{i:05d}.jsonl"
        path.write_bytes(header.replace(old, new) + b"\n" + rest)
        made.append(path)
    return made


def ingest_wall(paths: list[str], db: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "rtlens", "ingest", *paths, "--db", str(db), "-q"],
        check=True,
        cwd=ROOT,
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    first, unchanged, grown, alone = [], [], [], []
    with tempfile.TemporaryDirectory(prefix="rtlens-incr-") as tmp:
        root = Path(tmp)
        for r in range(args.repeats):
            fleet, extra = root / f"fleet{r}", root / f"extra{r}"
            make_fleet(fleet, args.files)
            db = root / f"fleet{r}.duckdb"
            first.append(ingest_wall([str(fleet)], db))
            unchanged.append(ingest_wall([str(fleet)], db))
            new = make_fleet(extra, 10, start=args.files)
            for path in new:
                shutil.copy(path, fleet / path.name)
            grown.append(ingest_wall([str(fleet)], db))
            alone.append(ingest_wall([str(p) for p in new], root / f"alone{r}.duckdb"))
    size = sum(p.stat().st_size for p in SAMPLES) * args.files / len(SAMPLES)
    med = statistics.median
    print(f"{args.files} recordings, {size / 1e6:.0f} MB; medians of {args.repeats} (s)")
    print(
        f"  first ingest          {med(first):.2f}   (runs: {', '.join(f'{x:.2f}' for x in first)})"
    )
    share = med(unchanged) / med(first)
    print(f"  unchanged re-ingest   {med(unchanged):.2f}   = {share:.1%} of the first (<= 5%)")
    ratio = med(grown) / med(alone)
    print(f"  with 10 new files     {med(grown):.2f}   = {ratio:.2f}x the 10 alone (<= 2x)")
    print(f"  the 10 alone          {med(alone):.2f}")


if __name__ == "__main__":
    main()

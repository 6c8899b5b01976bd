"""Fleet-site benchmark: `rtlens report DIR --html-dir SITE` cold, and re-run with nothing
changed, against `rtlens report DIR` (text: the same in-memory ingest and summary) measured
in the same run, on sample_logs/ and on a 100-session fleet.

    python benchmarks/site_bench.py [--sessions 100] [--out benchmarks/results/site.json]

The 100-session fleet is the sample sessions repeated, each copy with its own session id
(only the header line is rewritten), so every copy is a page of its own.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "sample_logs"


def _run(*args: str) -> float:
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "rtlens", "report", *args],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=REPO,
    )
    return time.perf_counter() - t0


def make_fleet(folder: Path, n: int) -> None:
    """n recordings: the samples in turn, each with session id fleet-NNN."""
    samples = sorted(SAMPLES.glob("*.jsonl"))
    folder.mkdir(parents=True)
    for i in range(n):
        head, rest = samples[i % len(samples)].read_bytes().split(b"\n", 1)
        header = json.loads(head)
        header["session_id"] = f"fleet-{i:03d}"
        (folder / f"fleet-{i:03d}.jsonl").write_bytes(json.dumps(header).encode() + b"\n" + rest)


def measure(fleet: Path, site: Path) -> dict[str, float]:
    text = _run(str(fleet))
    cold = _run(str(fleet), "--html-dir", str(site))
    warm = _run(str(fleet), "--html-dir", str(site))
    pages = len(list(site.glob("session-*.html")))
    return {
        "sessions": pages,
        "text_report_s": round(text, 2),
        "site_cold_s": round(cold, 2),
        "site_rerun_unchanged_s": round(warm, 2),
        "cold_over_text": round(cold / text, 2),
        "rerun_over_text": round(warm / text, 2),
        "cold_per_page_s": round((cold - text) / pages, 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=100)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/site.json")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["sample_logs"] = measure(SAMPLES, Path(tmp) / "site_samples")
        fleet = Path(tmp) / "fleet"
        make_fleet(fleet, args.sessions)
        results[f"fleet_{args.sessions}"] = measure(fleet, Path(tmp) / "site_fleet")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    for name, r in results.items():
        print(f"{name:>12}: " + ", ".join(f"{k} {v}" for k, v in r.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

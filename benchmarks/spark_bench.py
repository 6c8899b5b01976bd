"""Spark benchmark: `rtlens ingest --engine spark` against the local ingest, in the same run.

    python benchmarks/spark_bench.py [--mb 320] [--repeats 1]

On the benchmark corpus (`benchmarks/corpus.py`), each a separate process writing Parquet:

- local: `rtlens ingest corpus/ --db fresh.duckdb --parquet out/` (the local workers);
- spark local[1] and local[2]: `rtlens ingest corpus/ --engine spark --master local[N]
  --parquet out/`, the same per-file normalizer in Spark tasks on 1 and 2 executor cores;
- spark on one small file (the first sample log), for Spark's fixed cost: JVM start,
  session, writing every table's layout once.

From these: Spark's fixed overhead (the small-file run), its per-MB cost (the corpus run less
the fixed overhead), its scaling from 1 to 2 cores (the ratio of those per-MB costs, and of
the per-file map alone, timed in a started session), and the per-core throughput that sizes
a cluster (see `--month-tb`).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from corpus import corpus_size, ensure_corpus

HERE = Path(__file__).parent
SMALL = HERE.parent / "sample_logs" / "ga_voice_conversation.jsonl"
# The per-file map alone (normalize every file in Spark tasks, count their events), timed
# from a started session: how it scales with executor cores, apart from start-up and writes.
MAP_ONLY = """
import sys, time
from pathlib import Path
from rtlens.ingest.onefile import normalize_one
from rtlens.spark import session
spark = session.start(sys.argv[1])
sc = spark.sparkContext
tasks = list(enumerate(sorted(str(p) for p in Path(sys.argv[2]).glob("*.jsonl"))))
sc.parallelize(range(8), 8).count()  # the Python workers are started before timing
started = time.perf_counter()
n = (
    sc.parallelize(tasks, sc.defaultParallelism * 4)
    .map(lambda t: normalize_one(t[0], t[1]).tables.n_events)
    .sum()
)
print(time.perf_counter() - started, n)
"""


def wall(argv: list[str]) -> float:
    """Wall seconds of one run; a failed run stops the benchmark with its stderr."""
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True)
    took = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{' '.join(argv)} exited {done.returncode}:\n{done.stderr[-2000:]}")
    return took


def map_seconds(cores: int, corpus: Path) -> float:
    argv = [sys.executable, "-c", MAP_ONLY, f"local[{cores}]", str(corpus)]
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"the map-only run exited {done.returncode}:\n{done.stderr[-2000:]}")
    return float(done.stdout.split()[0])


def rtlens(*args: str) -> list[str]:
    return [sys.executable, "-m", "rtlens", *args]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=HERE / "corpus")
    parser.add_argument("--mb", type=float, default=320)
    parser.add_argument("--repeats", type=int, default=1, help="runs of each (median)")
    parser.add_argument(
        "--month-tb", type=float, default=10.0, help="a month's JSONL, for the sizing line"
    )
    parser.add_argument("--out", type=Path, default=HERE / "results" / "spark.json")
    args = parser.parse_args()
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        sys.exit("no Java runtime: Spark needs one (apt-get install openjdk-17-jre-headless)")
    corpus = ensure_corpus(args.corpus, args.mb)
    mb = corpus_size(corpus) / 1e6
    files = len(list(corpus.glob("*.jsonl")))
    runs: dict[str, list[float]] = {
        "local": [],
        "spark local[1], one small file": [],
        "spark local[1]": [],
        "spark local[2], one small file": [],
        "spark local[2]": [],
        "spark local[1], map only": [],
        "spark local[2], map only": [],
    }
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "parquet"

        def fresh() -> str:
            shutil.rmtree(out, ignore_errors=True)
            return str(out)

        for rep in range(args.repeats):
            db = Path(tmp) / f"local-{rep}.duckdb"
            runs["local"].append(
                wall(rtlens("ingest", str(corpus), "--db", str(db), "--parquet", fresh()))
            )
            db.unlink()
            for cores in (1, 2):
                spark = ("--engine", "spark", "--master", f"local[{cores}]")
                runs[f"spark local[{cores}], one small file"].append(
                    wall(rtlens("ingest", str(SMALL), *spark, "--parquet", fresh()))
                )
                runs[f"spark local[{cores}]"].append(
                    wall(rtlens("ingest", str(corpus), *spark, "--parquet", fresh()))
                )
                runs[f"spark local[{cores}], map only"].append(map_seconds(cores, corpus))
    median = {name: statistics.median(walls) for name, walls in runs.items()}
    per_mb = {
        cores: (median[f"spark local[{cores}]"] - median[f"spark local[{cores}], one small file"])
        / mb
        for cores in (1, 2)
    }
    core_mb_s = 1 / per_mb[1]  # one executor core's throughput on the per-file map
    month_mb = args.month_tb * 1e6
    result = {
        "corpus": {"files": files, "mb": mb},
        "machine": {"cpus": os.cpu_count(), "loadavg_after": os.getloadavg()},
        "runs_s": runs,
        "median_s": median,
        "spark_local2_vs_local": median["spark local[2]"] / median["local"],
        "spark_fixed_overhead_s": {
            cores: median[f"spark local[{cores}], one small file"] for cores in (1, 2)
        },
        "spark_s_per_mb": per_mb,
        "scaling_1_to_2_cores": per_mb[1] / per_mb[2],
        "map_scaling_1_to_2_cores": median["spark local[1], map only"]
        / median["spark local[2], map only"],
        "one_core_mb_per_s": core_mb_s,
        "month": {
            "tb": args.month_tb,
            "core_hours": month_mb / core_mb_s / 3600,
        },
        "local_mb_per_s": mb / median["local"],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"corpus: {files} sessions, {mb:.0f} MB; median of {args.repeats}")
    for name, seconds in median.items():
        print(f"{name:34}{seconds:>8.1f} s")
    print(f"spark local[2] / local:            {result['spark_local2_vs_local']:.1f}x")
    for cores in (1, 2):
        print(
            f"spark local[{cores}]: fixed {median[f'spark local[{cores}], one small file']:.1f} s,"
            f" {per_mb[cores] * 1000:.1f} ms/MB"
        )
    print(f"whole ingest less fixed cost, 1 -> 2 cores: {result['scaling_1_to_2_cores']:.2f}x")
    print(f"per-file map alone, 1 -> 2 cores:  {result['map_scaling_1_to_2_cores']:.2f}x faster")
    hours = result["month"]["core_hours"]
    print(
        f"one core: {core_mb_s:.1f} MB/s; {args.month_tb:g} TB/month = {hours:,.0f} core-hours"
        f" ({hours / 720:.1f} cores busy all month; {hours / 24:.0f} cores for a 1-day backfill)"
    )


if __name__ == "__main__":
    main()

"""Ingest benchmark: whole-process `rtlens ingest` against two baselines, in the same run.

    python benchmarks/ingest_bench.py [--mb 320] [--repeats 3]

- (a) DuckDB's own `read_json_auto` loading the same files into a table;
- (b) a bare Python loop that only parses every line with orjson;
- rtlens: `rtlens ingest corpus/ --db fresh.duckdb`;
- rtlens_pure: the same without its C reader of appends (`RTLENS_PURE_PYTHON=1`), the
  path a machine without a C compiler at install time takes.

Each is a separate process, run in interleaved order `--repeats` times; we report the
median wall time and CPU time (the process and everything it waited for). Memory is
measured in separate runs (polling /proc takes CPU, which would slow the timed runs on a
small machine): the peak of the whole process tree's proportional set size (pages that
forked workers share are counted once), polled every 10 ms, for each command and for
rtlens on a quarter of the corpus and, with `--memory-scale N`, on N copies of it (each
copy under new session ids), to show it does not grow with the corpus. A CPU breakdown
of rtlens's stages, measured in this process, says where the time goes.
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
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from corpus import corpus_size, ensure_corpus

BARE = """
import glob, sys, orjson
loads = orjson.loads
for path in sorted(glob.glob(sys.argv[1] + "/*.jsonl")):
    with open(path, "rb") as f:
        for line in f:
            loads(line)
"""

# rtlens ingest with DuckDB's inserts replaced by no-ops: the Python side alone (start-up,
# imports, workers reading and normalizing, the schema, the commit), as a floor for rtlens.
PYTHON_SIDE = """
import sys
from rtlens.store import db
db.append_event_files = db.append_event_tuples = db.append_rows = lambda *a, **k: None
from rtlens.cli import main
sys.exit(main(["ingest", sys.argv[1], "--db", sys.argv[2], "-q"]))
"""

DUCKDB = """
import sys, duckdb
con = duckdb.connect(sys.argv[2])
con.execute("SET enable_progress_bar = false")
con.execute("CREATE TABLE t AS SELECT * FROM read_json_auto(?)", [sys.argv[1] + "/*.jsonl"])
"""


def _pss(pid: int) -> int:
    """Proportional set size: pages shared after fork are split between the sharers, so
    the sum over a process tree is the memory the tree really uses."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as fh:
            for line in fh:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _tree_memory(root: int) -> int:
    """Memory of `root` and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += _pss(pid)
        stack.extend(children.get(pid, []))
    return total


def measure(
    argv: list[str], *, memory: bool = False, env: dict[str, str] | None = None
) -> dict[str, float]:
    """Run a command; wall seconds, CPU seconds (incl. waited-for children), and with
    `memory` the peak memory of its process tree."""
    before = os.times()
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    peak = 0
    done = threading.Event()

    def poll() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_memory(proc.pid))
            time.sleep(0.01)

    poller = threading.Thread(target=poll, daemon=True)
    if memory:
        poller.start()
    _, stderr = proc.communicate()
    wall = time.perf_counter() - started
    done.set()
    if memory:
        poller.join()
    after = os.times()
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"{argv[0]} failed: {stderr.decode()[-500:]}")
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    out = {"wall_s": wall, "cpu_s": cpu}
    if memory:
        out["peak_mib"] = peak / 2**20
    return out


def scaled_corpus(corpus: Path, copies: int, into: Path) -> Path:
    """`copies` copies of the corpus, each file's session id changed, so none is skipped."""
    into.mkdir()
    for n in range(copies):
        for f in sorted(corpus.glob("*.jsonl")):
            with f.open("rb") as src, (into / f"{n}-{f.name}").open("wb") as dst:
                header = json.loads(src.readline())
                header["session_id"] = f"{header['session_id']}-copy{n}"
                dst.write(json.dumps(header).encode() + b"\n")
                shutil.copyfileobj(src, dst, 1 << 20)
    return into


def rtlens_argv(corpus: Path, db: Path) -> list[str]:
    rtlens = Path(sys.executable).with_name("rtlens")
    return [str(rtlens), "ingest", str(corpus), "--db", str(db), "-q"]


def breakdown(corpus: Path, repeats: int = 3) -> dict[str, float]:
    """CPU seconds of each stage of rtlens ingest, one process, whole corpus: the least of
    `repeats` runs (stages are found by difference, so one slow moment would skew two)."""
    runs = [_breakdown_once(corpus) for _ in range(repeats)]
    return {stage: min(run[stage] for run in runs) for stage in runs[0]}


def _breakdown_once(corpus: Path) -> dict[str, float]:
    from rtlens.ingest.messages import EventFile
    from rtlens.ingest.normalize import normalize_file
    from rtlens.ingest.workers import FLUSH_LINES, EventSpool
    from rtlens.logfile.reader import read_records
    from rtlens.store import db as store

    files = sorted(corpus.glob("*.jsonl"))
    out: dict[str, float] = {}
    blocks = "file reading (64 KiB blocks)"
    t = time.process_time()
    for f in files:
        with f.open("rb") as fh:
            while fh.read(1 << 16):
                pass
    out[blocks] = time.process_time() - t
    t = time.process_time()
    for f in files:
        for _ in read_records(f, appends=True, runs=True):  # as the normalizer reads
            pass
    out["reader (find lines, cut audio, parse)"] = time.process_time() - t - out[blocks]
    with tempfile.TemporaryDirectory() as tmp:
        messages: list[object] = []
        lines: list[bytes] = []
        t = time.process_time()
        results = [
            normalize_file(f, sink=lambda chunk, _tuples: lines.extend(chunk), file_index=i)
            for i, f in enumerate(files)
        ]
        out["normalizer (state machine, event lines)"] = (
            time.process_time() - t - out["reader (find lines, cut audio, parse)"] - out[blocks]
        )
        t = time.process_time()
        spool = EventSpool(messages.append, Path(tmp))
        for i in range(0, len(lines), FLUSH_LINES):  # files of the size workers write
            spool.add(0, lines[i : i + FLUSH_LINES], [])
        spool.flush()
        out["event lines to files (workers)"] = time.process_time() - t
        db = Path(tmp) / "x.duckdb"
        t = time.process_time()  # as the writer opens it while the workers run
        target = store.connect(db, row_group_size=store.INGEST_ROW_GROUP_SIZE, threads=1)
        target.execute("SET memory_limit = '128MB'")
        out["create database and schema"] = time.process_time() - t
        sessions = {i: r.session_id for i, r in enumerate(results)}
        files = [m.path for m in messages if isinstance(m, EventFile)]
        # DuckDB may use other threads (at the commit): count the whole process's CPU.
        before = os.times()
        target.execute("BEGIN")
        for path in files:  # one insert per file, as the writer does
            store.append_event_files(target, [path], sessions)
        after = os.times()
        out["events from event lines (writer's DuckDB)"] = (after.user - before.user) + (
            after.system - before.system
        )
        before = os.times()
        target.execute("RESET threads")  # as the writer does once the workers are done
        for name in results[0].rows:
            if name != "events":
                store.append_rows(target, name, [x for r in results for x in r.rows[name]])
        target.execute("COMMIT")
        target.close()
        after = os.times()
        out["other tables, commit, close (writer)"] = (after.user - before.user) + (
            after.system - before.system
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=HERE / "corpus")
    parser.add_argument("--mb", type=float, default=320)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--memory-scale", type=int, default=1, help="also measure memory on N copies of the corpus"
    )
    parser.add_argument("--out", type=Path, default=HERE / "results" / "ingest.json")
    args = parser.parse_args()
    corpus = ensure_corpus(args.corpus, args.mb)
    # `pip install .` compiles rtlens to bytecode; an editable install run with
    # PYTHONDONTWRITEBYTECODE=1 would compile it again at every start. Measure the former.
    import compileall

    import rtlens

    compileall.compile_dir(Path(rtlens.__file__).parent, quiet=1)
    files = sorted(corpus.glob("*.jsonl"))
    lines = sum(1 for f in files for _ in f.open("rb"))
    from rtlens.logfile.reader import C_APPENDS

    if C_APPENDS is None:
        sys.exit(
            "rtlens's C reader is not built (or RTLENS_PURE_PYTHON is set): "
            "run `pip install -e .` with a C compiler, then benchmark"
        )
    names = ["bare", "duckdb", "rtlens", "python_side", "rtlens_pure"]
    pure_env = dict(os.environ, RTLENS_PURE_PYTHON="1")
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(args.repeats):
            order = names[rep % len(names) :] + names[: rep % len(names)]
            for name in order:
                db = Path(tmp) / f"{name}-{rep}.duckdb"
                argv = {
                    "bare": [sys.executable, "-c", BARE, str(corpus)],
                    "duckdb": [sys.executable, "-c", DUCKDB, str(corpus), str(db)],
                    "rtlens": rtlens_argv(corpus, db),
                    "python_side": [sys.executable, "-c", PYTHON_SIDE, str(corpus), str(db)],
                    "rtlens_pure": rtlens_argv(corpus, db),
                }[name]
                runs[name].append(measure(argv, env=pure_env if name == "rtlens_pure" else None))
                db.unlink(missing_ok=True)
        quarter = Path(tmp) / "quarter"
        quarter.mkdir()
        for f in files[: max(1, len(files) // 4)]:
            (quarter / f.name).symlink_to(f)
        peak = {
            "bare": measure([sys.executable, "-c", BARE, str(corpus)], memory=True),
            "duckdb": measure(
                [sys.executable, "-c", DUCKDB, str(corpus), str(Path(tmp) / "m.duckdb")],
                memory=True,
            ),
            "rtlens": measure(rtlens_argv(corpus, Path(tmp) / "r.duckdb"), memory=True),
            "rtlens, a quarter of the corpus": measure(
                rtlens_argv(quarter, Path(tmp) / "q.duckdb"), memory=True
            ),
        }
        if args.memory_scale > 1:
            big = scaled_corpus(corpus, args.memory_scale, Path(tmp) / "scaled")
            peak[f"rtlens, {args.memory_scale} times the corpus"] = measure(
                rtlens_argv(big, Path(tmp) / "s.duckdb"), memory=True
            )
    median = {
        name: {key: statistics.median(r[key] for r in rs) for key in rs[0]}
        for name, rs in runs.items()
    }
    result = {
        "corpus": {"files": len(files), "lines": lines, "mb": corpus_size(corpus) / 1e6},
        "machine": {"cpus": os.cpu_count(), "loadavg_after": os.getloadavg()},
        "runs": runs,
        "median": median,
        "ratio_vs_duckdb_read_json_auto": median["rtlens"]["wall_s"] / median["duckdb"]["wall_s"],
        "ratio_vs_bare_orjson_loop": median["rtlens"]["wall_s"] / median["bare"]["wall_s"],
        "python_side_vs_bare_orjson_loop": median["python_side"]["wall_s"]
        / median["bare"]["wall_s"],
        "pure_python_vs_bare_orjson_loop": median["rtlens_pure"]["wall_s"]
        / median["bare"]["wall_s"],
        "peak_memory_mib": {name: m["peak_mib"] for name, m in peak.items()},
        "memory_runs": peak,
        "cpu_breakdown_s": breakdown(corpus),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"corpus: {len(files)} sessions, {lines:,} lines, {result['corpus']['mb']:.0f} MB")
    print(f"{'':12}{'wall s':>9}{'cpu s':>9}{'peak MiB':>10}   (median of {args.repeats})")
    for name, m in median.items():
        mib = f"{peak[name]['peak_mib']:>10.0f}" if name in peak else f"{'-':>10}"
        print(f"{name:12}{m['wall_s']:>9.2f}{m['cpu_s']:>9.2f}{mib}")
    print(
        f"rtlens / duckdb read_json_auto: {result['ratio_vs_duckdb_read_json_auto']:.2f}"
        "  (target <= 0.30)"
    )
    print(
        f"rtlens / bare orjson loop:      {result['ratio_vs_bare_orjson_loop']:.2f}"
        "  (target <= 2.0)"
    )
    print(
        f"python_side / bare orjson loop: {result['python_side_vs_bare_orjson_loop']:.2f}"
        "  (rtlens with DuckDB's inserts switched off)"
    )
    print(
        f"rtlens_pure / bare orjson loop: {result['pure_python_vs_bare_orjson_loop']:.2f}"
        "  (rtlens without its C reader: RTLENS_PURE_PYTHON=1)"
    )
    print("peak memory of the process tree (target <= 300 MiB whatever the size):")
    for name, m in peak.items():
        if name.startswith("rtlens"):
            print(f"  {name:44}{m['peak_mib']:>7.0f} MiB  ({m['wall_s']:.2f} s)")
    print("CPU by stage (one process):")
    for stage, seconds in result["cpu_breakdown_s"].items():
        print(f"  {stage:44}{seconds:>7.2f} s")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

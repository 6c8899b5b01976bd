"""How long ingest's workers outlive a writer killed with SIGKILL (the README promises a second).

Each run starts `rtlens ingest` with two workers, one of them stalled reading a named pipe
(so the run is surely half-way), SIGKILLs the writing process and waits, as the workers'
subreaper, for each worker to exit: the time printed is from the kill to the last exit.

    python benchmarks/worker_exit.py --runs 5

Linux only (named pipes, /proc, PR_SET_CHILD_SUBREAPER). Exits 1 if no worker was found.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "sample_logs" / "ga_rate_limited.jsonl"
_PR_SET_CHILD_SUBREAPER = 36


def children(pid: int) -> list[int]:
    """The child processes of `pid` (Linux's /proc/PID/task/*/children)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def one_run(folder: Path) -> tuple[float, list[str]]:
    """Seconds from SIGKILL of the writer to the exit of its last worker, and how each
    worker ended."""
    live = folder / "live.jsonl"
    os.mkfifo(live)
    argv = [sys.executable, "-m", "rtlens", "ingest", str(SAMPLE), str(live)]
    argv += ["--db", str(folder / "rt.duckdb"), "--workers", "2", "-q"]
    # (in the folder: `-m` puts the working directory first on sys.path)
    proc = subprocess.Popen(argv, stderr=subprocess.DEVNULL, cwd=folder)
    # Opening the pipe for writing blocks until a worker opens it to read: then both
    # workers exist and one of them waits for lines that never come.
    pipe = os.open(live, os.O_WRONLY)
    time.sleep(1.0)  # the workers settle (the stalled one blocked in its read)
    workers = children(proc.pid)
    if not workers:  # (the other worker may be done and reaped already)
        raise SystemExit("no worker process found")
    killed = time.perf_counter()
    proc.kill()
    proc.wait()
    ends = []
    for pid in workers:  # reparented to this process (a subreaper): it can wait on them
        _, status = os.waitpid(pid, 0)
        if os.WIFSIGNALED(status):
            ends.append(signal.Signals(os.WTERMSIG(status)).name)
        else:
            ends.append(f"exit {os.WEXITSTATUS(status)}")
    seconds = time.perf_counter() - killed
    os.close(pipe)
    return seconds, ends


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise SystemExit("cannot become a subreaper (Linux only)")
    times, ends = [], []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as folder:
            seconds, how = one_run(Path(folder))
        times.append(seconds)
        ends += how
    print("workers exited after SIGKILL of the writer, s:", " ".join(f"{t:.3f}" for t in times))
    print("how the workers ended:", ", ".join(ends))


if __name__ == "__main__":
    main()

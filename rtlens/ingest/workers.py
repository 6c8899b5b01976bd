"""Worker processes for ingest: each normalizes whole files and reports by messages.

Messages, in order per file: ("begin", index, session_id), then the file's rows ("chunk"
with rows, in-process; "chunk_file" with a Parquet path, from a worker), then ("done",
index, SessionTables) or ("failed", index, reason). A worker ends with ("exit", -1).
"""

from __future__ import annotations

import itertools
import multiprocessing as mp
import os
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rtlens.ingest.normalize import normalize_file
from rtlens.logfile.reader import InputError

FLUSH_EVENTS_ROWS = 20_000  # rows a worker gathers before handing a Parquet chunk over

Message = tuple[Any, ...]


def normalize_to(put: Callable[[Message], None], index: int, path: Path) -> None:
    """Normalize one file, reporting through `put` (same protocol in and out of process)."""
    try:
        result = normalize_file(
            path,
            sink=lambda table, rows: put(("chunk", index, table, rows)),
            on_start=lambda session_id: put(("begin", index, session_id)),
        )
    except InputError as exc:
        put(("failed", index, str(exc)))
        return
    except Exception:
        put(("failed", index, "internal error: " + traceback.format_exc(limit=3)))
        return
    put(("done", index, result))


class _ChunkWriter:
    """In a worker: gather `events` rows across files and hand them over as Parquet chunks.

    Converting rows to columns is the costly part of writing; doing it here, in parallel,
    leaves the single writer process a bulk `INSERT … FROM read_parquet`. Rows of several
    small files share a chunk (a chunk per file would cost more than the file), each tagged
    with its file's index so the writer can still leave one file out.
    """

    def __init__(self, results: Any, chunk_dir: Path) -> None:
        import duckdb

        self.con = duckdb.connect()
        self.con.execute("SET threads = 1; SET TimeZone = 'UTC'; SET memory_limit = '64MB'")
        self.results, self.chunk_dir = results, chunk_dir
        self.rows: list[tuple[Any, ...]] = []
        self.segments: list[tuple[int, int]] = []  # (file index, rows)
        self.numbers = itertools.count()

    def put(self, message: Message) -> None:
        if message[0] == "chunk":
            self.rows.extend(message[3])
            self.segments.append((message[1], len(message[3])))
            if len(self.rows) >= FLUSH_EVENTS_ROWS:
                self.flush()
        else:
            self.results.put(message)

    def flush(self) -> None:
        if not self.rows:
            return
        import numpy as np

        from rtlens.store.db import write_chunk

        path = self.chunk_dir / f"{os.getpid()}-{next(self.numbers)}.parquet"
        index = np.repeat(
            np.array([i for i, _ in self.segments], dtype=np.int32),
            [n for _, n in self.segments],
        )
        write_chunk(self.con, "events", self.rows, index, path)
        self.results.put(("chunk_file", -1, "events", path, len(self.rows)))
        self.rows, self.segments = [], []


def _worker(tasks: Any, results: Any, chunk_dir: Path) -> None:
    writer = _ChunkWriter(results, chunk_dir)
    while True:
        task = tasks.get()
        if task is None:
            writer.flush()
            results.put(("exit", -1))
            return
        index, path = task
        normalize_to(writer.put, index, path)


class Pool:
    """Worker processes normalizing files; or, for one worker, the calling process itself.

    `start` forks the workers before the caller opens DuckDB, so they start from a process
    with no database threads and work while the writer sets up. A caller that already
    holds a connection gets `forkserver` workers instead (forking a process with running
    threads is unsafe).
    """

    def __init__(self, files: list[Path], workers: int, chunk_dir: Path, *, fork: bool) -> None:
        self.files, self.workers, self.chunk_dir = files, workers, chunk_dir
        self.method = "fork" if fork and "fork" in mp.get_all_start_methods() else "spawn"
        self.procs: list[Any] = []
        self.running = 0

    def start(self) -> None:
        if self.workers <= 1:
            return
        if self.method == "fork":
            # Loaded once here, shared copy-on-write: cheaper than an import in every worker.
            import duckdb  # noqa: F401
            import numpy  # noqa: F401
        ctx: Any = mp.get_context(self.method)
        tasks = ctx.Queue()
        self.results = ctx.Queue(maxsize=4 * self.workers)
        for item in enumerate(self.files):
            tasks.put(item)
        for _ in range(self.workers):
            tasks.put(None)
        self.procs = [
            ctx.Process(target=_worker, args=(tasks, self.results, self.chunk_dir), daemon=True)
            for _ in range(self.workers)
        ]
        for proc in self.procs:
            proc.start()
        self.running = self.workers

    def run(self, handle: Callable[[Message], None]) -> None:
        """Pass every message, in arrival order, to `handle` in the calling process."""
        if self.workers <= 1:
            for index, path in enumerate(self.files):
                normalize_to(handle, index, path)
            return
        while self.running:
            message = self.results.get()
            if message[0] == "exit":
                self.running -= 1
            else:
                handle(message)

    def close(self) -> None:
        for proc in self.procs:
            if self.running:
                proc.terminate()
            proc.join()


def default_workers(files: list[Path]) -> int:
    total = sum(f.stat().st_size for f in files)
    if len(files) < 2 or total < 4 << 20:
        return 1  # starting processes costs more than it saves
    return max(1, min(len(files), os.cpu_count() or 1))


# ---- the writing part ------------------------------------------------------------------------

"""Worker processes for ingest: each normalizes whole files and reports by messages.

They report by the messages of `rtlens.ingest.messages`. Events travel in files, so every
message is small: the queue can hold many (see `QUEUE_PER_WORKER`) without holding much
memory.

Workers import neither DuckDB nor NumPy: they parse, run the state machine and write text.
"""

from __future__ import annotations

import itertools
import multiprocessing as mp
import os
import pickle
import queue
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rtlens.errors import WorkerError, WriterError
from rtlens.ingest.messages import Begin, Done, EventFile, EventTuples, Exit, Failed, Message
from rtlens.ingest.onefile import failure_reason
from rtlens.ingest.results import EventTuple
from rtlens.logfile.reader import MAX_LINE_BYTES
from rtlens.procs import parent_death_signal

FLUSH_LINES = 8_192  # event lines gathered before they are handed over as a file
FLUSH_BYTES = 4 << 20  # ... or this many bytes of them
# Messages waiting for the writer, per worker. The writer inserts an event file in tens of
# milliseconds, during which a worker may report several small recordings; with room for
# only a few messages the workers stalled and left a core idle (about 0.2 s of 1.4 s on the
# ingest benchmark's 2 cores).
QUEUE_PER_WORKER = 32
# Workers run at a lower priority than the writer: the writer is the slower side (DuckDB
# inserts on one thread), so a core must be free whenever it has work, or the workers run
# ahead and the writer's backlog becomes the run's tail. Interleaved runs on the ingest
# benchmark's 2 cores: median 0.82 s at niceness 10 against 0.90 s at 0. It also keeps a
# big ingest from slowing everything else on the machine.
WORKER_NICENESS = 10


class EventSpool:
    """Gathers event lines across files and hands them over as files the writer's DuckDB
    reads in parallel; lines of several small recordings share a file (a file per recording
    would cost more than the recording)."""

    def __init__(self, put: Callable[[Message], None], chunk_dir: Path) -> None:
        self.put, self.chunk_dir = put, chunk_dir
        self.lines: list[bytes] = []
        self.size = 0
        self.first = self.last = -1  # the file indexes the lines come from (in task order)
        self.numbers = itertools.count()

    def add(self, index: int, lines: list[bytes], tuples: list[EventTuple]) -> None:
        if tuples:
            path = self._next_path("evt")
            with path.open("wb") as out:
                pickle.dump(tuples, out, protocol=pickle.HIGHEST_PROTOCOL)
            self.put(EventTuples(index, path))
        if not lines:
            return
        if not self.lines:
            self.first = index
        self.last = index
        self.lines.extend(lines)
        self.size += sum(map(len, lines))
        if len(self.lines) >= FLUSH_LINES or self.size >= FLUSH_BYTES:
            self.flush()

    def flush(self) -> None:
        if not self.lines:
            return
        path = self._next_path("evl")
        with path.open("wb") as out:
            out.write(b"".join(self.lines))
        self.put(EventFile(path, self.first, self.last))
        self.lines, self.size = [], 0

    def _next_path(self, suffix: str) -> Path:
        return self.chunk_dir / f"{os.getpid()}-{next(self.numbers)}.{suffix}"


def normalize_to(spool: EventSpool, index: int, path: Path, max_line: int = MAX_LINE_BYTES) -> None:
    """Normalize one file, reporting through the spool's `put` (same protocol in and out of
    process); lines longer than `max_line` bytes are skipped and reported."""
    # Imported here: forked workers import the normalizer themselves, so the writer, the
    # busier process, never spends the time.
    from rtlens.ingest.normalize import normalize_file

    put = spool.put
    try:
        result = normalize_file(
            path,
            sink=lambda lines, tuples: spool.add(index, lines, tuples),
            on_start=lambda session_id: put(Begin(index, session_id)),
            file_index=index,
            max_line=max_line,
        )
    except WriterError:
        raise
    except Exception as exc:
        put(Failed(index, failure_reason(exc)))
        return
    put(Done(index, result))


def _worker(tasks: Any, results: Any, chunk_dir: Path, parent: int, max_line: int) -> None:
    if hasattr(os, "nice"):
        os.nice(WORKER_NICENESS)
    # Ctrl-C reaches the whole process group: the writer stops the workers, with SIGTERM
    # (no traceback from each of them; the writer's own SIGTERM handler is not theirs).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _exit_with(parent)
    spool = EventSpool(results.put, chunk_dir)
    while True:
        task = tasks.get()
        if task is None:
            spool.flush()
            results.put(Exit())
            return
        index, path = task
        normalize_to(spool, index, path, max_line)


PARENT_CHECK_SECONDS = 1.0  # how often a worker checks that its writer is alive
DEAD_CHECK_SECONDS = 1.0  # how long the writer waits for a message before checking workers


def _exit_with(parent: int) -> None:
    """End this worker as soon as the writer's process ends (killed, say, by the OOM
    killer): nothing would read the queue again, and the worker would wait on it forever.

    On Linux the kernel kills the worker the moment its parent dies (PR_SET_PDEATHSIG):
    polling alone took 1.9-2.7 s, as a niced worker on a busy machine waits for its turn.
    Elsewhere, and should prctl fail, a thread polls the parent's pid instead."""
    if parent_death_signal(signal.SIGKILL) and os.getppid() == parent:
        return
    if os.getppid() != parent:  # the writer died before the signal was set up
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="rtlens-parent-watch", daemon=True).start()


class Pool:
    """`processes` worker processes normalizing files; with 0, the calling process itself.

    `start` forks the workers before the caller opens DuckDB, so they start from a process
    with no database threads and work while the writer sets up. A caller that already
    holds a connection gets `spawn` workers instead (forking a process with running
    threads is unsafe).
    """

    def __init__(
        self,
        files: list[Path],
        processes: int,
        chunk_dir: Path,
        *,
        fork: bool,
        max_line: int = MAX_LINE_BYTES,
    ) -> None:
        self.files, self.processes, self.chunk_dir = files, processes, chunk_dir
        self.max_line = max_line
        self.method = "fork" if fork and "fork" in mp.get_all_start_methods() else "spawn"
        self.procs: list[Any] = []
        self.running = 0
        self.submitted: list[int] = []

    def start(self) -> None:
        if not self.processes:
            return
        ctx: Any = mp.get_context(self.method)
        # Kept on self: a spawned worker unpickles the queue after start() returns, and
        # fails if this process has already dropped (and so destroyed) it.
        self.tasks = tasks = ctx.Queue()
        self.results = ctx.Queue(maxsize=QUEUE_PER_WORKER * self.processes)
        args = (tasks, self.results, self.chunk_dir, os.getpid(), self.max_line)
        self.procs = [
            ctx.Process(target=_worker, args=args, daemon=True) for _ in range(self.processes)
        ]
        for proc in self.procs:
            proc.start()
        self.running = self.processes

    def submit(self, indexes: list[int]) -> None:
        """The files to read (indexes into `files`), once: the workers wait for them, so
        they can be started before the caller knows which files it needs."""
        self.submitted = indexes
        if not self.processes:
            return
        if not indexes:  # nothing to read: no need to wait for (niced) workers to say so
            self.close()
            self.procs, self.running = [], 0
            return
        for index in indexes:
            self.tasks.put((index, self.files[index]))
        for _ in range(self.processes):
            self.tasks.put(None)

    def run(self, handle: Callable[[Message], None]) -> None:
        """Pass every message, in arrival order, to `handle` in the calling process."""
        if not self.processes:
            spool = EventSpool(handle, self.chunk_dir)
            for index in self.submitted:
                normalize_to(spool, index, self.files[index], self.max_line)
            spool.flush()
            return
        while self.running:
            try:
                message = self.results.get(timeout=DEAD_CHECK_SECONDS)
            except queue.Empty:
                self._check_alive()
                continue
            if isinstance(message, Exit):
                self.running -= 1
            else:
                handle(message)

    def _check_alive(self) -> None:
        """A worker gone without saying so (killed, say, by the OOM killer) would leave the
        writer waiting forever. Nothing came for a while, so every message a finished worker
        sent has arrived: more workers gone than exits received means one died."""
        dead = [proc for proc in self.procs if not proc.is_alive()]
        if len(dead) > self.processes - self.running:
            codes = ", ".join(str(proc.exitcode) for proc in dead)
            raise WorkerError(f"a worker process died without finishing (exit codes: {codes})")

    def close(self) -> None:
        for proc in self.procs:
            if self.running:
                proc.terminate()
            proc.join()


SMALL_JOB = 4 << 20  # bytes of recordings below which starting a process costs more than it saves


def default_processes(files: list[Path]) -> int:
    """Worker processes for these files: none for a small job; otherwise one per core (at
    most one per file), and one for a single large recording, so that parsing it and
    writing it to DuckDB (in the calling process) run side by side."""
    if sum(f.stat().st_size for f in files) < SMALL_JOB:
        return 0
    return max(1, min(len(files), os.cpu_count() or 1))

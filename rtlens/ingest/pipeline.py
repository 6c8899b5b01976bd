"""Ingest many recordings into one database, spread over the machine's cores.

Worker processes (`workers.py`) each normalize whole files and hand their events over as
files of event lines (`rtlens.eventlines`) and their other tables as rows, through a
bounded queue; this process alone writes to DuckDB (one writer per database file), in one
transaction, so a failed run leaves the database as it was. The workers are started before
this process even imports DuckDB, and they never do. Memory stays bounded: event files are
small, the queue holds a bounded number of small messages, and DuckDB is capped.

Re-ingesting reads only what is new or changed (`incremental`: the database remembers the
files it loaded) and replaces: rows of sessions previously loaded from the same files, or
with the same session id (a moved or copied recording), are deleted first.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pickle
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rtlens.errors import FileProblem, InputError, WriterError
from rtlens.ingest import DEFAULT_MEMORY_LIMIT, max_line_bytes
from rtlens.ingest.messages import Begin, Done, EventFile, EventTuples, Failed, Message
from rtlens.ingest.results import SessionTables
from rtlens.ingest.tempdirs import run_folder
from rtlens.ingest.workers import Pool, default_processes
from rtlens.logfile.stamp import FileStamp, stamp
from rtlens.schema import TABLE_NAMES

if TYPE_CHECKING:  # imported once the workers are forked: they import no DuckDB
    from rtlens.ingest.incremental import Plan

RECORDING_SUFFIXES = (".jsonl", ".json", ".ndjson", ".jsonl.gz", ".json.gz", ".ndjson.gz")
_FLUSH_TUPLE_BYTES = 8 << 20  # JSON of events too long for a line, inserted together
# Rows of the other tables are inserted when this many are waiting, and at the end. What
# waits is inserted after the workers are done, when nothing else runs beside it, so not
# too many; but each flush costs a few ms whatever its size (one INSERT per table). With
# 2,000, the benchmark corpus's end of run (the "tail") went from 0.159 to 0.128 s
# (medians of 9, interleaved); with 20,000 all of its 2,349 rows waited for the end.
_FLUSH_SMALL_ROWS = 2_000


@dataclass
class IngestResult:
    files: int = 0  # given; of them `new` + `changed` + `unchanged`
    new: int = 0  # never loaded into this database
    changed: int = 0  # loaded before, different now: read again, their sessions replaced
    unchanged: int = 0  # as when last loaded: skipped (read all the same with `full`)
    sessions: int = 0
    events: int = 0
    ingest_errors: int = 0
    problems: list[FileProblem] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # duplicates of a session in this run
    seconds: float = 0.0


def expand_inputs(paths: Sequence[str | Path]) -> list[Path]:
    """Files, folders (searched recursively for recordings) and glob patterns → files."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(
                p for p in path.rglob("*") if p.is_file() and p.name.endswith(RECORDING_SUFFIXES)
            )
            if not found:
                raise InputError(
                    f"{path}: no recordings in this folder "
                    f"(looked for {', '.join('*' + s for s in RECORDING_SUFFIXES)})"
                )
            files.extend(found)
        elif path.exists():
            files.append(path)
        elif glob.has_magic(str(raw)):
            matches = sorted(Path(p) for p in glob.glob(str(raw), recursive=True))  # noqa: PTH207
            matches = [p for p in matches if p.is_file()]
            if not matches:
                raise InputError(f"{raw}: the pattern matches no files")
            files.extend(matches)
        else:
            raise InputError(f"{raw}: no such file or folder")
    unique: dict[str, Path] = {}
    for f, real in zip(files, real_paths(files), strict=True):
        unique.setdefault(real, f)
    return list(unique.values())


def real_paths(files: Sequence[Path]) -> list[str]:
    """`os.path.realpath` of each file, each folder resolved once: a file that is not a
    symlink itself is its folder's real path and its name (a thousand recordings in one
    folder cost one folder's resolving, not a thousand)."""
    folders: dict[str, str] = {}
    out = []
    for f in files:
        text = os.fspath(f)
        head, name = os.path.split(text)
        if name in ("", ".", "..") or os.path.islink(text):  # noqa: PTH114 (str, not Path: per file)
            out.append(os.path.realpath(text))
            continue
        if head not in folders:
            folders[head] = os.path.realpath(head or ".")
        out.append(os.path.join(folders[head], name))  # noqa: PTH118
    return out


def ingest(
    paths: Sequence[str | Path],
    db: str | Path | None = None,
    *,
    con: Any = None,
    parquet_dir: str | Path | None = None,
    workers: int | None = None,
    on_file_done: Callable[[Path], None] | None = None,
    memory_limit: str = DEFAULT_MEMORY_LIMIT,
    full: bool = False,
) -> IngestResult:
    """Load recordings into a DuckDB database: a path, or the caller's connection `con`.

    `con` may also be a function that opens it: it is called once the worker processes are
    forked (a process holding a DuckDB connection has threads and cannot fork safely, and
    spawned workers start slower). `workers` is the number of worker processes (0: all in
    this process; default: see `default_processes`). `memory_limit` caps DuckDB in a
    database this opens (not in a given `con`). Files unchanged since this database last
    loaded them are skipped, unless `full`."""
    started = time.perf_counter()
    files = expand_inputs(paths)
    if parquet_dir is not None:
        _check_parquet_dir(Path(parquet_dir))  # before the database changes, not after
    processes = default_processes(files) if workers is None else max(0, workers)
    # Taken before any file is read: a file that grows meanwhile is read again next time.
    resolved = real_paths(files)  # what Path.resolve gives, faster
    stamps = [stamp(f, r) for f, r in zip(files, resolved, strict=True)]
    with (
        run_folder() as chunk_dir,
        _sigterm_as_interrupt(),
    ):
        fork = con is None or callable(con)
        max_line = max_line_bytes(memory_limit)
        pool = Pool(files, processes, Path(chunk_dir), fork=fork, max_line=max_line)
        pool.start()
        own = con is None
        path = Path(db if db is not None else "rtlens.duckdb")
        if own and str(path) != ":memory:":
            path = path.resolve()  # the file itself, whatever links or cwd do later
        # A new database knows no file: the workers may start while it is made.
        fresh = own and (str(path) == ":memory:" or not path.exists())
        if fresh:
            pool.submit(list(range(len(files))))
        try:
            from rtlens.ingest import incremental
            from rtlens.store import db as store
            from rtlens.store import files as file_stamps

            made: Path | None = None  # a database file this run creates
            if callable(con):  # opened now that the workers are forked
                con = con()
            if own:
                con, made = _open(store, path, pool, memory_limit)
            if fresh:
                known: dict[str, FileStamp] = {}
            else:
                file_stamps.ensure(con)
                known = file_stamps.stamps_of(con, resolved)
            plan = incremental.plan(stamps, known, full=full)
            if not fresh:
                pool.submit(plan.read)
            writer = _Writer(
                con, store, files, on_file_done, memory_limit if own else None, plan, resolved
            )
            with _removed_on_failure(made, con):
                con.execute("BEGIN TRANSACTION")
                try:
                    writer.start()
                    pool.run(writer.handle)
                    if own and pool.processes:
                        con.execute("RESET threads")
                    writer.finish()
                    with writer.database_errors():
                        con.execute("COMMIT")
                except BaseException:
                    with contextlib.suppress(store.duckdb.Error):  # e.g. out of memory again
                        con.execute("ROLLBACK")
                    raise
        finally:
            pool.close()
    if parquet_dir is not None:
        try:
            # a new database, or --full: the folder is written whole
            store.export_parquet(con, parquet_dir, None if fresh or full else writer.touched)
        except (OSError, store.duckdb.Error) as exc:
            raise WriterError(
                f"{parquet_dir}: writing Parquet failed ({store.error_line(exc)}); the database "
                "has the new rows: run again with --parquet to retry"
            ) from exc
    if own:
        con.close()
    writer.result.seconds = time.perf_counter() - started
    return writer.result


def _open(store: Any, path: Path, pool: Pool, memory_limit: str) -> tuple[Any, Path | None]:
    """The database to write, and its file if this run made it (to remove again if the run
    fails), or one clear error naming it.

    The file is this run's only if it was absent before and has no tables when this run's
    connection, which holds DuckDB's lock on it, looks: not another run's. A failed connect
    removes nothing (the file may be another run's, holding the lock)."""
    existed = str(path) == ":memory:" or path.exists()
    try:
        con = store.connect(
            path,
            row_group_size=store.INGEST_ROW_GROUP_SIZE,
            # the workers have the cores; DuckDB's threads would wait
            threads=1 if pool.processes else None,
            schema=False,
        )
        made = None if existed or store.table_names(con) else path
        with _removed_on_failure(made, con):
            store.ensure_schema(con)
            con.execute("SET memory_limit = ?", [memory_limit])
    except (store.duckdb.Error, RuntimeError) as exc:
        if _interrupted(exc, store.duckdb):
            raise KeyboardInterrupt from exc
        if isinstance(exc, store.duckdb.Error):
            hint = _memory_hint(exc, store.duckdb, memory_limit)
            message = f"{path}: cannot open the database: {store.error_line(exc)}{hint}"
            raise WriterError(message) from exc
        raise WriterError(f"{path}: {exc}") from exc  # not rtlens's, or of another version
    return con, made


@contextlib.contextmanager
def _removed_on_failure(made: Path | None, con: Any) -> Iterator[None]:
    """A database file this run created is removed again if the run fails: a failed ingest
    leaves no trace (an existing database is only rolled back)."""
    try:
        yield
    except BaseException:
        if made is not None:
            # Closing checkpoints and then deletes the WAL *by name*: by then another run
            # may have made a new file (and WAL) at this path. Nothing to keep here.
            with contextlib.suppress(Exception):
                con.execute("PRAGMA disable_checkpoint_on_shutdown")
            # Unlinked while this connection still holds the lock, then closed: no other
            # run can have opened the file in between.
            for leftover in (made, made.with_name(made.name + ".wal")):
                leftover.unlink(missing_ok=True)
            with contextlib.suppress(Exception):
                con.close()
        raise


def _memory_hint(exc: BaseException, duckdb: Any, memory_limit: str | None) -> str:
    if memory_limit and isinstance(exc, duckdb.OutOfMemoryException):
        return f" (DuckDB may use {memory_limit} here: raise it with --memory-limit)"
    return ""


def _interrupted(exc: BaseException, duckdb: Any) -> bool:
    """DuckDB's report that Ctrl-C (or SIGTERM, see below) stopped a query."""
    if isinstance(exc, duckdb.InterruptException):
        return True
    return type(exc) is RuntimeError and str(exc) == "Query interrupted"


def _check_parquet_dir(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{path}: cannot write Parquet there ({exc.strerror})") from exc


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """While ingesting, SIGTERM unwinds like Ctrl-C: the transaction is rolled back, the
    workers are stopped and the temporary folder removed (the default action would leave
    the workers waiting forever on a queue nobody reads)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt  # what DuckDB also understands: it stops a running query

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class _Writer:
    """Applies worker messages to the database, in arrival order."""

    def __init__(
        self,
        con: Any,
        store: Any,
        files: list[Path],
        on_file_done: Callable[[Path], None] | None,
        memory_limit: str | None,  # the cap this run set on DuckDB, for the error message
        plan: Plan | None = None,  # which files this run reads (default: all, as new)
        resolved: list[str] | None = None,  # the files' resolved paths, if known
    ) -> None:
        self.con, self.store, self.files, self.on_file_done = con, store, files, on_file_done
        if plan is None:
            from rtlens.ingest.incremental import Plan

            plan = Plan([None] * len(files), read=list(range(len(files))), new=len(files))
        self.plan = plan
        self.memory_limit = memory_limit
        self.resolved = resolved or [str(f.resolve()) for f in files]
        self.result = IngestResult(
            files=len(files), new=plan.new, changed=plan.changed, unchanged=plan.unchanged
        )
        # what this run replaced, deleted or loaded (as `store.parquet.row_key`s): what an
        # incremental Parquet export rewrites
        self.touched: set[str] = set()
        self.owner: dict[str, int] = {}  # session id -> index of the file providing it
        self.session_of: dict[int, str] = {}  # file index -> its session, if its rows land
        self.existing: set[str] = set()
        self.counted: dict[int, tuple[int, int, int]] = {}  # file index -> what its rows added
        self.event_tuples: list[tuple[Any, ...]] = []
        self.tuple_bytes = 0
        self.small: dict[str, list[tuple[Any, ...]]] = {n: [] for n in TABLE_NAMES if n != "events"}
        self.small_rows = 0

    def start(self) -> None:
        """Forget what the files to read loaded before (re-ingesting replaces, never
        duplicates); the skipped ones are done already."""
        store, con = self.store, self.con
        from rtlens.store.parquet import file_key

        reading = [self.resolved[i] for i in self.plan.read]
        with self.database_errors():
            replaced = store.sessions_of_files(con, reading)
            self.touched.update(replaced)
            self.touched.update(map(file_key, reading))  # rows of their own errors
            store.delete_sessions(con, replaced)
            store.delete_file_errors(con, reading)
            self.existing = store.known_session_ids(con)
        if self.on_file_done is not None and len(reading) < len(self.files):
            skipped = set(range(len(self.files))) - set(self.plan.read)
            for index in sorted(skipped):
                self._file_done(index)

    def handle(self, message: Message) -> None:
        with self.database_errors():
            self._handle(message)

    @contextlib.contextmanager
    def database_errors(self) -> Iterator[None]:
        """DuckDB's errors as one clear sentence (the whole run stops: not a file's fault)."""
        try:
            yield
        except (self.store.duckdb.Error, RuntimeError) as exc:
            if _interrupted(exc, self.store.duckdb):
                raise KeyboardInterrupt from exc
            if not isinstance(exc, self.store.duckdb.Error):
                raise
            hint = _memory_hint(exc, self.store.duckdb, self.memory_limit)
            line = self.store.error_line(exc)
            raise WriterError(f"the database could not take the rows: {line}{hint}") from exc

    def _handle(self, message: Message) -> None:
        if isinstance(message, Begin):
            self._begin(message.index, message.session_id)
        elif isinstance(message, EventFile):  # inserted at once: only the last one waits
            sessions = self._sessions(message.first, message.last)
            self.store.append_event_files(self.con, [message.path], sessions)
            message.path.unlink()
        elif isinstance(message, EventTuples):
            with message.path.open("rb") as spooled:
                tuples = pickle.load(spooled)
            message.path.unlink()
            size = sum(len(t[-1]) for t in tuples)
            if self.tuple_bytes + size > _FLUSH_TUPLE_BYTES:
                self._flush_event_tuples()  # first: one insert never holds two long batches
            self.event_tuples.extend(tuples)
            self.tuple_bytes += size
            if self.tuple_bytes >= _FLUSH_TUPLE_BYTES:
                self._flush_event_tuples()
        elif isinstance(message, Done):
            if message.index in self.session_of:
                self._done(message.index, message.tables)
            self._file_done(message.index)
        elif isinstance(message, Failed):
            index = message.index
            session_id = self.session_of.pop(index, None)
            if session_id is not None:
                self._flush_event_tuples()
                self.store.delete_sessions(self.con, [session_id])
            row = (session_id, self.resolved[index], None, message.reason, None)
            self.small["ingest_errors"].append(row)
            note_problems(self.result, self.resolved[index], [row])
            self._file_done(index)

    def _begin(self, index: int, session_id: str) -> None:
        """The first of the run's files (in input order) with a session id loads it; the
        others are skipped, whichever order the workers report them in."""
        owner = self.owner.get(session_id)
        if owner is not None:
            first, later = min(owner, index), max(owner, index)
            self.result.skipped.append(
                f"{self.files[later]}: same session id as {self.files[first]}; skipped"
            )
            if owner < index:  # its rows are left out: it is not in session_of
                return
            self._unload(owner, session_id)
        self.owner[session_id] = index
        self.session_of[index] = session_id
        self.touched.add(session_id)
        if session_id in self.existing:
            self.store.delete_sessions(self.con, [session_id])  # same session, another path

    def _unload(self, index: int, session_id: str) -> None:
        """Take out what a file already loaded (a file earlier in the input order turned
        out to have the same session id)."""
        if self.session_of.pop(index, None) is None:
            return  # it failed: its rows are already out (its failure stays reported)
        # (its events still on the way are left out: it is no longer in session_of)
        self._flush_small()
        self.store.delete_sessions(self.con, [session_id])
        counted = self.counted.pop(index, None)
        if counted is not None:
            self.result.sessions -= counted[0]
            self.result.events -= counted[1]
            self.result.ingest_errors -= counted[2]
            source = self.resolved[index]
            self.result.problems = [p for p in self.result.problems if p.source_file != source]

    def _done(self, index: int, tables: SessionTables) -> None:
        for name, rows in tables.rows.items():
            if name != "events":
                self.small[name].extend(rows)
                self.small_rows += len(rows)
        n_sessions, n_errors = len(tables.rows["sessions"]), len(tables.rows["ingest_errors"])
        self.counted[index] = (n_sessions, tables.n_events, n_errors)
        self.result.sessions += n_sessions
        self.result.events += tables.n_events
        note_problems(self.result, tables.source_file, tables.rows["ingest_errors"])
        if self.small_rows >= _FLUSH_SMALL_ROWS:
            self._flush_small()

    def _file_done(self, index: int) -> None:
        if self.on_file_done is not None:
            self.on_file_done(self.files[index])

    def _sessions(self, first: int, last: int) -> dict[int, str]:
        """The sessions of files `first` to `last` whose rows land (skipped or failed files
        are not in `session_of`): only these go to DuckDB with an insert, so its cost does
        not grow with the number of files in the run."""
        session_of = self.session_of
        return {i: session_of[i] for i in range(first, last + 1) if i in session_of}

    def _flush_event_tuples(self) -> None:
        if self.event_tuples:
            indexes = [t[0] for t in self.event_tuples]
            sessions = self._sessions(min(indexes), max(indexes))
            self.store.append_event_tuples(self.con, self.event_tuples, sessions)
        self.event_tuples, self.tuple_bytes = [], 0

    def _flush_small(self) -> None:
        for name, rows in self.small.items():
            self.store.append_rows(self.con, name, rows)
            rows.clear()
        self.small_rows = 0

    def finish(self) -> None:
        with self.database_errors():
            self._flush_event_tuples()
            self._flush_small()
            from rtlens.store import files as file_stamps

            stamps = self.plan.stamps
            loaded = [
                file_stamps.Loaded(stamp, session_id)
                for index, session_id in sorted(self.session_of.items())
                if (stamp := stamps[index]) is not None
            ]
            file_stamps.remember(self.con, loaded)


def note_problems(result: IngestResult, source_file: str, rows: list[tuple[Any, ...]]) -> None:
    """Count a file's ingest_errors rows and note the first (the line the CLI prints)."""
    if not rows:
        return
    result.ingest_errors += len(rows)
    line_no, error = rows[0][2], rows[0][3]
    where = f"line {line_no}: " if line_no is not None else ""
    result.problems.append(FileProblem(source_file, len(rows), where + str(error)))

"""Ingest many recordings into one database, spread over the machine's cores.

Worker processes (`workers.py`) each normalize whole files and hand their `events` rows
over as typed Parquet chunks through a bounded queue; this process alone writes to DuckDB
(one writer per database file), in one transaction, so a failed run leaves the database
as it was. Memory stays bounded: chunks are small, the queue holds a few, and DuckDB is
capped in every process.

Re-ingesting replaces: rows of sessions previously loaded from the same files, or with the
same session id (a moved or copied recording), are deleted first.
"""

from __future__ import annotations

import glob
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rtlens.ingest.normalize import SessionTables
from rtlens.ingest.workers import FLUSH_EVENTS_ROWS, Message, Pool, default_workers
from rtlens.logfile.reader import InputError
from rtlens.schema import TABLE_NAMES

RECORDING_SUFFIXES = (".jsonl", ".json", ".ndjson", ".jsonl.gz", ".json.gz", ".ndjson.gz")
WRITER_MEMORY = "64MB"  # DuckDB's cap in the writer; it spills beyond, keeping RSS flat
_FLUSH_CHUNK_ROWS = 40_000  # rows of Parquet chunks read back in one parallel INSERT
_FLUSH_SMALL_FILES = 64


@dataclass
class FileProblem:
    source_file: str
    count: int
    first: str  # "line N: what"


@dataclass
class IngestResult:
    files: int = 0
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
    for f in files:
        unique.setdefault(str(f.resolve()), f)
    return list(unique.values())


def ingest(
    paths: Sequence[str | Path],
    db: str | Path | None = None,
    *,
    con: Any = None,
    parquet_dir: str | Path | None = None,
    workers: int | None = None,
    on_file_done: Callable[[Path], None] | None = None,
) -> IngestResult:
    """Load recordings into a DuckDB database (a path, or an open connection `con`)."""
    started = time.perf_counter()
    files = expand_inputs(paths)
    n_workers = default_workers(files) if workers is None else max(1, workers)
    with tempfile.TemporaryDirectory(prefix="rtlens-ingest-") as chunk_dir:
        pool = Pool(files, n_workers, Path(chunk_dir), fork=con is None)
        pool.start()
        try:
            from rtlens.store import db as store

            own = con is None
            if own:
                con = store.connect(db if db is not None else store.DEFAULT_DB)
                con.execute(f"SET memory_limit = '{WRITER_MEMORY}'")
            writer = _Writer(con, store, files, on_file_done)
            con.execute("BEGIN TRANSACTION")
            try:
                writer.start()
                pool.run(writer.handle)
                writer.finish()
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        finally:
            pool.close()
    if parquet_dir is not None:
        store.export_parquet(con, parquet_dir)
    if own:
        con.close()
    writer.result.seconds = time.perf_counter() - started
    return writer.result


class _Writer:
    """Applies worker messages to the database, in arrival order."""

    def __init__(
        self, con: Any, store: Any, files: list[Path], on_file_done: Callable[[Path], None] | None
    ) -> None:
        self.con, self.store, self.files, self.on_file_done = con, store, files, on_file_done
        self.resolved = [str(f.resolve()) for f in files]
        self.result = IngestResult(files=len(files))
        self.owner: dict[str, int] = {}  # session id -> index of the file providing it
        self.session_of: dict[int, str] = {}
        self.skip: set[int] = set()
        self.failed: set[int] = set()  # files whose rows must not land (see "failed")
        self.existing: set[str] = set()
        self.events: list[tuple[Any, ...]] = []
        self.chunk_files: list[Path] = []
        self.chunk_rows = 0
        self.small: dict[str, list[tuple[Any, ...]]] = {n: [] for n in TABLE_NAMES if n != "events"}
        self.small_files = 0

    def start(self) -> None:
        """Forget what these files loaded before (re-ingesting replaces, never duplicates)."""
        store, con = self.store, self.con
        store.delete_sessions(con, store.sessions_of_files(con, self.resolved))
        store.delete_file_errors(con, self.resolved)
        self.existing = store.known_session_ids(con)

    def handle(self, message: Message) -> None:
        kind, index = message[0], message[1]
        if kind == "begin":
            self._begin(index, message[2])
        elif kind == "chunk":
            if index in self.skip:
                return
            rows = message[3]
            self.events.extend(rows)
            self.result.events += len(rows)
            if len(self.events) >= FLUSH_EVENTS_ROWS:
                self.store.append_rows(self.con, "events", self.events)
                self.events = []
        elif kind == "chunk_file":
            self.chunk_files.append(message[3])
            self.chunk_rows += message[4]
            self.result.events += message[4]
            if self.chunk_rows >= _FLUSH_CHUNK_ROWS:
                self._flush_chunk_files()
        elif kind == "done":
            if index not in self.skip:
                self._done(message[2])
            self._file_done(index)
        elif kind == "failed":
            self.failed.add(index)
            session_id = self.session_of.get(index)
            if session_id is not None and index not in self.skip:
                self._flush_events()
                self.store.delete_sessions(self.con, [session_id])
            row = (session_id, self.resolved[index], None, message[2], None)
            self.small["ingest_errors"].append(row)
            _note_problems(self.result, self.resolved[index], [row])
            self._file_done(index)

    def _begin(self, index: int, session_id: str) -> None:
        if session_id in self.owner:
            self.skip.add(index)
            first = self.files[self.owner[session_id]]
            self.result.skipped.append(f"{self.files[index]}: same session id as {first}; skipped")
            return
        self.owner[session_id] = index
        self.session_of[index] = session_id
        if session_id in self.existing:
            self.store.delete_sessions(self.con, [session_id])  # same session, another path

    def _done(self, tables: SessionTables) -> None:
        for name, rows in tables.rows.items():
            if name == "events":
                self.events.extend(rows)
                self.result.events += len(rows)
            else:
                self.small[name].extend(rows)
        self.result.sessions += len(tables.rows["sessions"])
        _note_problems(self.result, tables.source_file, tables.rows["ingest_errors"])
        self.small_files += 1
        if self.small_files >= _FLUSH_SMALL_FILES:
            self._flush_small()

    def _file_done(self, index: int) -> None:
        if self.on_file_done is not None:
            self.on_file_done(self.files[index])

    def _flush_events(self) -> None:
        self.store.append_rows(self.con, "events", self.events)
        self.events = []
        self._flush_chunk_files()

    def _flush_chunk_files(self) -> None:
        self.store.append_chunks(self.con, "events", self.chunk_files, self.skip | self.failed)
        for path in self.chunk_files:
            path.unlink()
        self.chunk_files, self.chunk_rows = [], 0

    def _flush_small(self) -> None:
        for name, rows in self.small.items():
            self.store.append_rows(self.con, name, rows)
            rows.clear()
        self.small_files = 0

    def finish(self) -> None:
        self._flush_events()
        self._flush_small()


def _note_problems(result: IngestResult, source_file: str, rows: list[tuple[Any, ...]]) -> None:
    if not rows:
        return
    result.ingest_errors += len(rows)
    line_no, error = rows[0][2], rows[0][3]
    where = f"line {line_no}: " if line_no is not None else ""
    result.problems.append(FileProblem(source_file, len(rows), where + str(error)))

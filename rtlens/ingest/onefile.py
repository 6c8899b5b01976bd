"""One recording in, its tables out: the per-file work every engine runs.

The local pipeline's workers stream a file's events to the writer as event lines (see
`workers.normalize_to`); an engine that wants rows in Python (Spark's executors) calls
`normalize_one`, which derives the `events` rows too. Both call the same normalizer and
report a file that cannot be read in the same words (`failure_reason`).
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from pathlib import Path

from rtlens.errors import InputError, WriterError
from rtlens.ingest.results import SessionTables
from rtlens.logfile.reader import MAX_LINE_BYTES


@dataclass(frozen=True)
class FileOutcome:
    """What one file gave: its tables, or why it gave none (`failure`, one line)."""

    index: int  # the file's place in the run's input order
    source_file: str  # resolved path, as in the tables
    session_id: str | None  # None only when the file failed before its first line
    tables: SessionTables | None
    failure: str | None = None


def failure_reason(exc: Exception) -> str:
    """The `ingest_errors.error` of a file that could not be read at all."""
    if isinstance(exc, InputError):
        return str(exc)
    return "internal error: " + traceback.format_exc(limit=3)


def normalize_one(index: int, path: str | Path, max_line: int = MAX_LINE_BYTES) -> FileOutcome:
    """Normalize one file into rows of every table, `events` included (needs DuckDB)."""
    from rtlens.ingest.normalize import normalize_file

    source_file = str(Path(path).resolve())
    started: list[str] = []
    try:
        tables = normalize_file(path, on_start=started.append, file_index=index, max_line=max_line)
    except WriterError:
        raise
    except Exception as exc:  # a bad file costs its own rows only, as in the local pipeline
        return FileOutcome(
            index, source_file, started[0] if started else None, None, failure_reason(exc)
        )
    return FileOutcome(index, source_file, tables.session_id, tables)


def failure_row(outcome: FileOutcome) -> tuple[str | None, str, None, str, None]:
    """The `ingest_errors` row of a failed file (the same as the local pipeline writes)."""
    assert outcome.failure is not None
    return (outcome.session_id, outcome.source_file, None, outcome.failure, None)

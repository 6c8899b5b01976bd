"""What a database remembers of the recordings it loaded, so a re-ingest reads only new or
changed files (`rtlens.ingest.incremental` decides; this module keeps the table).

One row per file whose session landed: its resolved path, size, mtime, a fingerprint of
its head and tail, the rtlens version that read it and the session it gave. Rows go with
their session: replacing or deleting a session (`store.db.delete_sessions`) forgets its
file, so that file is read again next time.
"""

from __future__ import annotations

from dataclasses import dataclass

from rtlens.logfile.stamp import FileStamp
from rtlens.store.engine import duckdb

TABLE = "rtlens_files"
CREATE_SQL = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} (source_file VARCHAR, size BIGINT, mtime_ns BIGINT, "
    "fingerprint VARCHAR, rtlens_version VARCHAR, session_id VARCHAR, ingested_at TIMESTAMPTZ)"
)


@dataclass(frozen=True)
class Loaded:
    """A file this run loaded, with the session its rows belong to."""

    stamp: FileStamp
    session_id: str


def ensure(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(CREATE_SQL)


def stamps_of(con: duckdb.DuckDBPyConnection, files: list[str]) -> dict[str, FileStamp]:
    """The remembered stamp of each of `files` that has one."""
    if not files:
        return {}
    rows = con.execute(
        f"SELECT source_file, size, mtime_ns, fingerprint, rtlens_version FROM {TABLE} "
        "WHERE source_file IN (SELECT unnest(?))",
        [files],
    ).fetchall()
    return {row[0]: FileStamp(*row) for row in rows}


def remember(con: duckdb.DuckDBPyConnection, loaded: list[Loaded]) -> None:
    """Record these files as loaded (replacing what was remembered of them)."""
    if not loaded:
        return
    paths = [item.stamp.source_file for item in loaded]
    con.execute(f"DELETE FROM {TABLE} WHERE source_file IN (SELECT unnest(?))", [paths])
    stamps = [item.stamp for item in loaded]
    columns = [
        paths,
        [s.size for s in stamps],
        [s.mtime_ns for s in stamps],
        [s.fingerprint for s in stamps],
        [s.rtlens_version for s in stamps],
        [item.session_id for item in loaded],
    ]
    # One statement for the lot: a row per statement would cost a fleet's nightly run more
    # than its new files do.
    con.execute(
        f"INSERT INTO {TABLE} SELECT unnest(?), unnest(?), unnest(?), unnest(?), unnest(?), "
        "unnest(?), current_timestamp",
        columns,
    )


def forget_sessions(con: duckdb.DuckDBPyConnection, session_ids: list[str]) -> None:
    if session_ids:
        con.execute(f"DELETE FROM {TABLE} WHERE session_id IN (SELECT unnest(?))", [session_ids])

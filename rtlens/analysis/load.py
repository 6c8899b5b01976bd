"""Open the data a report or query runs on: an existing database, or recordings ingested
into memory on the fly."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rtlens.errors import InputError
from rtlens.ingest.pipeline import IngestResult, expand_inputs, ingest
from rtlens.schema import SCHEMA_VERSION
from rtlens.store import db as store
from rtlens.store.engine import duckdb
from rtlens.store.views import create_views


def open_database(path: str | Path) -> duckdb.DuckDBPyConnection:
    """Open an rtlens database read-only (shared views as temporary views)."""
    if not Path(path).is_file():
        raise InputError(f"{path}: no such database (create it with `rtlens ingest`)")
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        first = store.error_line(exc)
        if "lock" in first.lower():
            raise InputError(
                f"{path}: the database is in use by another process ({first})"
            ) from exc
        raise InputError(f"{path}: not a DuckDB database ({first})") from exc
    tables = store.table_names(con)
    if "sessions" not in tables or "rtlens_meta" not in tables:
        raise InputError(f"{path}: not an rtlens database (no sessions or rtlens_meta table)")
    version = con.execute("SELECT max(schema_version) FROM rtlens_meta").fetchone()
    if version is None or version[0] != SCHEMA_VERSION:
        found = version[0] if version else None
        raise InputError(f"{path}: {store.schema_version_error(found)}")
    con.execute("SET TimeZone = 'UTC'")
    create_views(con, temporary=True)
    return con


def ingest_in_memory(
    paths: list[str | Path],
    *,
    after_fork: Callable[[], object] | None = None,
) -> tuple[duckdb.DuckDBPyConnection, IngestResult]:
    """Ingest recordings into an in-memory database (for `rtlens report FILE…`).

    `after_fork` is called once ingest has forked its worker processes, the first moment
    at which this process may start threads of its own."""
    opened: list[duckdb.DuckDBPyConnection] = []

    def open_memory() -> duckdb.DuckDBPyConnection:  # after ingest has forked its workers
        if after_fork is not None:
            after_fork()
        opened.append(store.connect(None))
        return opened[0]

    result = ingest(paths, con=open_memory)
    return opened[0], result


def sessions_for_files(con: duckdb.DuckDBPyConnection, paths: list[str | Path]) -> list[str]:
    """Session ids in a database that were loaded from these files or folders."""
    files = [str(f.resolve()) for f in expand_inputs(paths)]
    rows = con.execute(
        "SELECT session_id FROM sessions WHERE source_file IN (SELECT unnest(?))", [files]
    ).fetchall()
    if not rows:
        raise InputError(
            "none of these recordings are in the database: run `rtlens ingest` on them first"
        )
    return [r[0] for r in rows]

"""The DuckDB store: tables created from the schema, rows appended in bulk, sessions replaced.

Rows arrive as tuples in schema column order and are appended through NumPy object arrays
(DuckDB scans them without any per-row Python work). Timestamps travel as epoch µs and are
converted in SQL, exactly. A run happens in one transaction: if it fails, the database is
as it was.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from rtlens.schema import SCHEMA_VERSION, TABLE_NAMES, TABLES, create_table_sql, quote

DEFAULT_DB = "rtlens.duckdb"


def connect(path: str | Path | None, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open (or create) an rtlens database; `None` or ":memory:" gives an in-memory one."""
    target = ":memory:" if path is None else str(path)
    con = duckdb.connect(target, read_only=read_only)
    con.execute("SET TimeZone = 'UTC'")
    if not read_only:
        ensure_schema(con)
    return con


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    existing = {row[0] for row in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    if "rtlens_meta" in existing:
        version = con.execute("SELECT schema_version FROM rtlens_meta").fetchone()
        if version is not None and version[0] != SCHEMA_VERSION:
            raise RuntimeError(
                f"database schema version {version[0]} differs from this rtlens's "
                f"{SCHEMA_VERSION}: re-ingest into a new database file"
            )
        from rtlens.store.views import create_views

        create_views(con)  # views may have improved since the file was made
        return
    statements = [
        "CREATE TABLE rtlens_meta (schema_version INTEGER)",
        f"INSERT INTO rtlens_meta VALUES ({SCHEMA_VERSION})",
    ]
    for name in TABLE_NAMES:
        if name not in existing:
            statements.extend(create_table_sql(TABLES[name]))
    from rtlens.store.views import VIEWS

    statements.extend(f"CREATE OR REPLACE VIEW {v.name} AS {v.sql}" for v in VIEWS)
    # One transaction and one round trip: a few hundred catalog changes, one commit.
    con.execute("BEGIN; " + ";\n".join(statements) + "; COMMIT")


def _select_list(table: str) -> str:
    parts = []
    for col in TABLES[table].columns:
        q = quote(col.name)
        if col.type == "TIMESTAMPTZ":
            parts.append(f"make_timestamp(CAST({q} AS BIGINT)) AT TIME ZONE 'UTC'")
        else:
            parts.append(f"CAST({q} AS {col.type})")
    return ", ".join(parts)


_SELECT = {name: _select_list(name) for name in TABLE_NAMES}


def _frame(table: str, rows: list[tuple[Any, ...]]) -> dict[str, np.ndarray]:
    """Rows as NumPy object columns, which DuckDB scans without per-row Python work."""
    frame = {}
    for name, values in zip(TABLES[table].column_names, zip(*rows, strict=True), strict=True):
        arr = np.empty(len(values), dtype=object)
        arr[:] = values
        frame[name] = arr
    return frame


def append_rows(con: duckdb.DuckDBPyConnection, table: str, rows: list[tuple[Any, ...]]) -> None:
    """Append rows (tuples in schema column order) to a table."""
    if not rows:
        return
    con.register("_rtlens_rows", _frame(table, rows))
    try:
        con.execute(f"INSERT INTO {table} SELECT {_SELECT[table]} FROM _rtlens_rows")
    finally:
        con.unregister("_rtlens_rows")


def write_chunk(
    con: duckdb.DuckDBPyConnection,
    table: str,
    rows: list[tuple[Any, ...]],
    file_index: np.ndarray,
    path: Path,
) -> None:
    """Write rows to a Parquet file typed like `table`, each tagged with the index of the
    input file it came from (a worker's hand-off to the writer)."""
    frame = _frame(table, rows)
    frame["_file_index"] = file_index
    con.register("_rtlens_rows", frame)
    try:
        target = str(path).replace("'", "''")
        con.execute(
            f"COPY (SELECT {_SELECT[table]}, _file_index FROM _rtlens_rows) TO '{target}' "
            "(FORMAT parquet, COMPRESSION uncompressed)"
        )
    finally:
        con.unregister("_rtlens_rows")


def append_chunks(
    con: duckdb.DuckDBPyConnection, table: str, paths: list[Path], skip_files: set[int]
) -> None:
    """Append Parquet chunks written by `write_chunk`, leaving out rows of `skip_files`."""
    if paths:
        con.execute(
            f"INSERT INTO {table} SELECT * EXCLUDE (_file_index) FROM read_parquet(?) "
            "WHERE _file_index NOT IN (SELECT unnest(?::INTEGER[]))",
            [[str(p) for p in paths], sorted(skip_files)],
        )


def delete_sessions(con: duckdb.DuckDBPyConnection, session_ids: Iterable[str]) -> None:
    """Remove every row of these sessions from every table."""
    ids = sorted(set(session_ids))
    if not ids:
        return
    for name in TABLE_NAMES:
        con.execute(f"DELETE FROM {name} WHERE session_id IN (SELECT unnest(?))", [ids])


def sessions_of_files(con: duckdb.DuckDBPyConnection, files: list[str]) -> list[str]:
    if not files:
        return []
    rows = con.execute(
        "SELECT session_id FROM sessions WHERE source_file IN (SELECT unnest(?))", [files]
    ).fetchall()
    return [r[0] for r in rows]


def known_session_ids(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in con.execute("SELECT session_id FROM sessions").fetchall()}


def delete_file_errors(con: duckdb.DuckDBPyConnection, files: list[str]) -> None:
    if files:
        con.execute("DELETE FROM ingest_errors WHERE source_file IN (SELECT unnest(?))", [files])


def export_parquet(con: duckdb.DuckDBPyConnection, out_dir: str | Path) -> None:
    """Write every table as Parquet under `out_dir/<table>/`, partitioned by session date.

    The extra `date` column (UTC date the session started, or `unknown`) is the hive
    partition key, so `read_parquet('dir/turns/**/*.parquet', hive_partitioning = true)`
    gives the table back with it.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name in TABLE_NAMES:
        cols = ", ".join(f"t.{quote(c)}" for c in TABLES[name].column_names)
        target = str(out / name).replace("'", "''")
        con.execute(
            f"""COPY (
                SELECT {cols},
                       coalesce(strftime(s.started_ts, '%Y-%m-%d'), 'unknown') AS date
                FROM {name} t LEFT JOIN sessions s ON s.session_id = t.session_id
            ) TO '{target}' (FORMAT parquet, PARTITION_BY (date), OVERWRITE true)"""
        )

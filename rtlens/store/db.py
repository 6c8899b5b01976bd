"""The DuckDB store: tables created from the schema, rows appended in bulk, sessions replaced.

Rows arrive as tuples in schema column order and are appended as one JSON array per column
(`append_rows`); `events` rows are derived in SQL from the normalizer's event lines (see
`rtlens.eventlines`). Timestamps travel as epoch µs and are converted in SQL, exactly. A
run happens in one transaction: if it fails, the database is as it was.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from rtlens import eventlines
from rtlens.schema import SCHEMA_VERSION, TABLE_NAMES, TABLES, create_table_sql, sql_string
from rtlens.store import files, parquet
from rtlens.store.engine import duckdb

DEFAULT_DB = "rtlens.duckdb"
_dumps = orjson.dumps


# Rows per row group when ingest writes. DuckDB compresses full row groups a few at a time,
# whenever its write buffer (a share of the memory cap) is full, and the rest at the commit;
# with its default (122,880 rows) a run of a few hundred thousand events compressed nearly
# all of them at the very end, on one core, after the workers were done. Smaller groups
# are compressed while the workers still run.
INGEST_ROW_GROUP_SIZE = 32_768


def connect(
    path: str | Path | None,
    *,
    read_only: bool = False,
    row_group_size: int | None = None,
    threads: int | None = None,
    schema: bool = True,
) -> duckdb.DuckDBPyConnection:
    """Open (or create) an rtlens database; `None` or ":memory:" gives an in-memory one.

    `row_group_size` applies to what this connection writes (DuckDB takes it when a file is
    attached, not as a setting). `threads` caps DuckDB's threads from the start: creating
    the schema runs some two hundred statements, and each costs DuckDB about 0.3 ms with
    its thread pool but 0.17 ms without (0.056 s -> 0.032 s for the lot). `schema=False`
    leaves `ensure_schema` to the caller."""
    config: dict[str, Any] = {} if threads is None else {"threads": threads}
    if path is None or str(path) == ":memory:":
        con = duckdb.connect(":memory:", config=config)
    elif row_group_size is not None and not read_only:
        con = duckdb.connect(":memory:", config=config)
        con.execute(
            f"ATTACH {sql_string(str(path))} AS rtlens (ROW_GROUP_SIZE {int(row_group_size)})"
        )
        con.execute("USE rtlens")
    else:
        con = duckdb.connect(str(path), read_only=read_only, config=config)
    con.execute("SET TimeZone = 'UTC'")
    if schema and not read_only:
        ensure_schema(con)
    return con


def error_line(exc: BaseException) -> str:
    """The first line of an error's message (DuckDB's run over several), for one-line
    errors."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def schema_version_error(found: object) -> str:
    return (
        f"database schema version {found} differs from this rtlens's {SCHEMA_VERSION}: "
        "re-ingest into a new database file"
    )


def table_names(con: duckdb.DuckDBPyConnection) -> set[str]:
    """The tables of the connection's current database."""
    return {
        row[0]
        for row in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()"
        ).fetchall()
    }


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the tables and views if missing (refusing someone else's database, or
    another schema version)."""
    existing = table_names(con)
    if "rtlens_meta" in existing:
        version = con.execute("SELECT schema_version FROM rtlens_meta").fetchone()
        if version is not None and version[0] != SCHEMA_VERSION:
            raise RuntimeError(schema_version_error(version[0]))
        from rtlens.store.views import create_views

        create_views(con)  # views may have improved since the file was made
        files.ensure(con)  # a database made before ingest remembered its files
        con.execute(parquet.CREATE_SQL)
        return
    clashes = sorted(existing & set(TABLE_NAMES))
    if clashes:  # someone else's tables: adding ours beside them would mix the two
        raise RuntimeError(
            f"not an rtlens database: it has tables named {', '.join(clashes)} but no "
            "rtlens_meta; ingest into a new database file"
        )
    statements = [
        "CREATE TABLE rtlens_meta (schema_version INTEGER)",
        f"INSERT INTO rtlens_meta VALUES ({SCHEMA_VERSION})",
    ]
    for name in TABLE_NAMES:
        if name not in existing:
            statements.extend(create_table_sql(TABLES[name]))
    from rtlens.store.views import view_statements

    statements.extend(view_statements())
    statements.extend([files.CREATE_SQL, parquet.CREATE_SQL])
    # One transaction and one round trip: a few hundred catalog changes, one commit.
    con.execute("BEGIN; " + ";\n".join(statements) + "; COMMIT")


def _column_sql(kind: str, source: str) -> str:
    """A typed column from `source`, an SQL list of this column's values."""
    if kind == "TIMESTAMPTZ":  # epoch µs, converted exactly
        return f"make_timestamptz(unnest({source}))"
    if kind == "JSON":
        return f"CAST(unnest({source}) AS JSON)"
    return f"unnest({source})"


def _value_type(kind: str) -> str:
    return {"TIMESTAMPTZ": "BIGINT", "JSON": "VARCHAR"}.get(kind, kind)


# Per column type: the SQL taking its values as one JSON array, or as a list parameter.
_FROM_JSON = {
    kind: _column_sql(kind, f"from_json_strict(?, '[\"{_value_type(kind)}\"]')")
    for kind in {col.type for table in TABLES.values() for col in table.columns}
}
_FROM_LIST = {kind: _column_sql(kind, f"?::{_value_type(kind)}[]") for kind in _FROM_JSON}


def append_rows(con: duckdb.DuckDBPyConnection, table: str, rows: list[tuple[Any, ...]]) -> None:
    """Append rows (tuples in schema column order) to a table.

    Each column goes in as one JSON array that DuckDB parses in C++, in well under the time
    DuckDB takes to convert a Python list parameter (about 1 µs a value): median 0.065 s ->
    0.040 s for the ingest benchmark's 2,300 rows of eight tables. A column whose JSON would
    not say the same goes in as a list parameter instead (see `_json_array`).
    """
    if not rows:
        return
    select: list[str] = []
    params: list[Any] = []
    for column, values in zip(TABLES[table].columns, zip(*rows, strict=True), strict=True):
        text = _json_array(values, column.type)
        if text is None:
            select.append(_FROM_LIST[column.type])
            params.append(list(values))
        else:
            select.append(_FROM_JSON[column.type])
            params.append(text)
    con.execute(f"INSERT INTO {table} SELECT {', '.join(select)}", params)


def _json_array(values: tuple[Any, ...], kind: str) -> str | None:
    """The values as a JSON array, or None if JSON cannot carry them: orjson refuses text
    that is not valid Unicode and writes NaN and infinities as null."""
    try:
        text = _dumps(values)
    except TypeError:  # orjson.JSONEncodeError
        return None
    if kind == "DOUBLE" and text.count(b"null") != values.count(None):
        return None
    return text.decode()


def _columns(rows: list[tuple[Any, ...]]) -> list[list[Any]]:
    """Rows as one list per column: the list parameters the INSERTs unnest."""
    return [list(column) for column in zip(*rows, strict=True)]


def append_event_files(
    con: duckdb.DuckDBPyConnection, paths: list[Path], sessions: dict[int, str]
) -> None:
    """Append the `events` rows of event-line files (see `rtlens.eventlines`); lines of
    files not in `sessions` (file index -> session id) are left out. `sessions` need hold
    only the files these lines come from (its span is passed to DuckDB as a list)."""
    if paths:
        _append_events(con, eventlines.read_files_sql(paths), [], sessions)


def append_event_tuples(
    con: duckdb.DuckDBPyConnection, tuples: list[tuple[Any, ...]], sessions: dict[int, str]
) -> None:
    """Append the `events` rows of event lines given as tuples."""
    if tuples:
        _append_events(con, eventlines.rows_relation(), _columns(tuples), sessions)


def _append_events(
    con: duckdb.DuckDBPyConnection, source: str, params: list[Any], sessions: dict[int, str]
) -> None:
    if not sessions:
        return  # every line belongs to a file whose rows are left out
    first, last = min(sessions), max(sessions)
    session_ids = [sessions.get(index) for index in range(first, last + 1)]
    select = eventlines.select_events(source, first)
    # Parameters in the order they appear in the SQL: the SELECT list's, then the source's.
    con.execute(
        f"INSERT INTO events {select}", [session_ids, *eventlines.catalogue_params(), *params]
    )


def derive_events(
    lines: list[bytes], tuples: list[tuple[Any, ...]], sessions: dict[int, str]
) -> list[tuple[Any, ...]]:
    """The `events` rows of event lines, in `seq` order, through the same SQL as the store
    (for callers that want rows in Python rather than a database)."""
    import tempfile

    con = connect(None)
    try:
        with tempfile.TemporaryDirectory(prefix="rtlens-events-") as tmp:
            path = Path(tmp) / "events.evl"
            path.write_bytes(b"".join(lines))
            append_event_files(con, [path], sessions)
        append_event_tuples(con, tuples, sessions)
        return con.execute("SELECT * FROM events ORDER BY session_id, seq").fetchall()
    finally:
        con.close()


def delete_sessions(con: duckdb.DuckDBPyConnection, session_ids: Iterable[str]) -> None:
    """Remove every row of these sessions from every table."""
    ids = sorted(set(session_ids))
    if not ids:
        return
    for name in TABLE_NAMES:
        con.execute(f"DELETE FROM {name} WHERE session_id IN (SELECT unnest(?))", [ids])
    files.forget_sessions(con, ids)  # their files are read again next time


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


def export_parquet(
    con: duckdb.DuckDBPyConnection, out_dir: str | Path, touched: Iterable[str] | None = None
) -> None:
    """Write every table as Parquet under `out_dir/<table>/`, partitioned by session date;
    with `touched` (the sessions a run replaced or loaded), only what changed (see
    `rtlens.store.parquet`)."""
    parquet.export(con, out_dir, touched)

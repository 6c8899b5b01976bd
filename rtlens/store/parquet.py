"""Every table as Parquet under `DIR/<table>/date=<YYYY-MM-DD|unknown>/`, kept up to date
run by run: a run writes new files for the sessions it loaded and removes (or rewrites
without them) only the files holding sessions it replaced, so the cost of a nightly run
grows with its new recordings, not with the folder's history.

Each run's rows of a table and date go to one file, `run-<run id>-<n>.parquet`. The
database remembers which sessions each file holds (table `rtlens_parquet`, per output
folder); a folder it does not know, or whose files are not all there, is written whole.
The `date` column (the UTC date the session started, or `unknown`) is the Hive partition
key: `read_parquet('DIR/turns/**/*.parquet', hive_partitioning = true)` gives the table
back with it. A table with no rows is one empty file under `date=unknown/`, so every table
reads back with its columns.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterable
from pathlib import Path

from rtlens.schema import TABLE_NAMES, TABLES, quote, sql_string
from rtlens.store.engine import duckdb

MANIFEST = "rtlens_parquet"
CREATE_SQL = (
    f"CREATE TABLE IF NOT EXISTS {MANIFEST} (out_dir VARCHAR, table_name VARCHAR, "
    "path VARCHAR, key VARCHAR)"
)
EMPTY_FILE = "date=unknown/empty.parquet"
# DuckDB holds a row group in memory per file it writes (default 122,880 rows: for events,
# with their JSON, a large share of ingest's 128 MB cap).
ROW_GROUP_ROWS = 16_384
WRITE_OPTIONS = f"FORMAT parquet, ROW_GROUP_SIZE {ROW_GROUP_ROWS}"


def row_key(table: str) -> str:
    """What a row belongs to: its session, or for a file's own error (no session id) the
    file, as a run that reads the file again replaces it."""
    if table == "ingest_errors":
        return "coalesce(t.session_id, 'file:' || t.source_file)"
    return "t.session_id"


def file_key(source_file: str) -> str:
    return "file:" + source_file


def export(
    con: duckdb.DuckDBPyConnection, out_dir: str | Path, touched: Iterable[str] | None = None
) -> None:
    """Bring `out_dir` up to date with the database: `touched` are the keys (see `row_key`)
    this run replaced, deleted or loaded; None writes the folder whole."""
    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    con.execute(CREATE_SQL)
    where = str(out)
    if touched is None or not _known(con, where, out):
        _clear(con, where, out)
        keys = None
    else:
        keys = sorted(set(touched))
        _take_out(con, where, out, keys)
    run = uuid.uuid4().hex[:12]
    try:
        # A partitioned write buffers this many rows per partition before it flushes; at
        # the default (524,288) the events of a thousand recordings outgrew ingest's
        # 128 MB cap (and so did the whole-table export before this one).
        con.execute(f"SET partitioned_write_flush_threshold = {ROW_GROUP_ROWS}")
        for name in TABLE_NAMES:
            _write(con, where, out, name, keys, run)
        con.execute("RESET partitioned_write_flush_threshold")
    except BaseException:
        # the folder may now hold files the manifest does not: the next run writes it whole
        con.execute(f"DELETE FROM {MANIFEST} WHERE out_dir = ?", [where])
        raise


def _known(con: duckdb.DuckDBPyConnection, where: str, out: Path) -> bool:
    """The database knows this folder and every file it remembers is there."""
    paths = con.execute(
        f"SELECT DISTINCT path FROM {MANIFEST} WHERE out_dir = ?", [where]
    ).fetchall()
    if not paths:
        return False
    return all((out / p).is_file() for (p,) in paths) and all(
        (out / name).is_dir() for name in TABLE_NAMES
    )


def _clear(con: duckdb.DuckDBPyConnection, where: str, out: Path) -> None:
    for name in TABLE_NAMES:
        shutil.rmtree(out / name, ignore_errors=True)
    con.execute(f"DELETE FROM {MANIFEST} WHERE out_dir = ?", [where])


def _take_out(con: duckdb.DuckDBPyConnection, where: str, out: Path, keys: list[str]) -> None:
    """Remove the touched keys' rows from the files holding them: a file holding nothing
    else is deleted, any other rewritten without them."""
    rows = con.execute(
        f"""SELECT table_name, path, bool_and(key IN (SELECT unnest($keys))) AS only_touched
            FROM {MANIFEST}
            WHERE out_dir = $where AND path IN (
                SELECT path FROM {MANIFEST}
                WHERE out_dir = $where AND key IN (SELECT unnest($keys)))
            GROUP BY ALL""",
        {"keys": keys, "where": where},
    ).fetchall()
    for table, path, only_touched in rows:
        target = out / path
        if only_touched:
            target.unlink(missing_ok=True)
            continue
        cols = ", ".join(f"t.{quote(c)}" for c in TABLES[table].column_names)
        partial = target.with_name(target.name + ".partial")
        con.execute(
            f"""COPY (SELECT {cols} FROM read_parquet({sql_string(str(target))}) t
                      WHERE {row_key(table)} NOT IN (SELECT unnest(?)))
                TO {sql_string(str(partial))} ({WRITE_OPTIONS})""",
            [keys],
        )
        partial.replace(target)
    con.execute(
        f"DELETE FROM {MANIFEST} WHERE out_dir = ? AND key IN (SELECT unnest(?))", [where, keys]
    )


def _write(
    con: duckdb.DuckDBPyConnection,
    where: str,
    out: Path,
    name: str,
    keys: list[str] | None,
    run: str,
) -> None:
    """This run's rows of one table (those of `keys`, or all), a file per date."""
    folder = out / name
    cols = ", ".join(f"t.{quote(c)}" for c in TABLES[name].column_names)
    chosen = "" if keys is None else f"WHERE {row_key(name)} IN (SELECT unnest($keys))"
    params = {} if keys is None else {"keys": keys}
    select = f"""SELECT {cols}, {row_key(name)} AS _key,
                        coalesce(strftime(s.started_ts, '%Y-%m-%d'), 'unknown') AS date
                 FROM {name} t LEFT JOIN sessions s ON s.session_id = t.session_id {chosen}"""
    dates = con.execute(
        f"SELECT date, list(DISTINCT _key) FROM ({select}) GROUP BY date ORDER BY date", params
    ).fetchall()
    if not dates:
        if not any(folder.rglob("*.parquet")):
            _write_empty(con, name, folder)
        return
    staging = out / f".rtlens-{run}-{name}"
    try:
        con.execute(
            f"""COPY (SELECT * EXCLUDE (_key) FROM ({select}))
                TO {sql_string(str(staging))} ({WRITE_OPTIONS}, PARTITION_BY (date))""",
            params,
        )
        remembered: list[tuple[str, str, str, str]] = []
        for date, date_keys in dates:
            written = sorted((staging / f"date={date}").glob("*.parquet"))
            (folder / f"date={date}").mkdir(parents=True, exist_ok=True)
            for n, path in enumerate(written):
                relative = f"{name}/date={date}/run-{run}-{n}.parquet"
                path.replace(out / relative)
                remembered.extend((where, name, relative, key) for key in date_keys)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if not remembered:
        return
    con.execute(
        f"INSERT INTO {MANIFEST} SELECT unnest(?), unnest(?), unnest(?), unnest(?)",
        [list(column) for column in zip(*remembered, strict=True)],
    )


def _write_empty(con: duckdb.DuckDBPyConnection, name: str, folder: Path) -> None:
    """An empty table as one empty file: partitioned COPY writes no file for no rows, and a
    reader would find no table (nor its columns)."""
    target = folder / EMPTY_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    cols = ", ".join(quote(c) for c in TABLES[name].column_names)
    con.execute(
        f"COPY (SELECT {cols} FROM {name} LIMIT 0) TO {sql_string(str(target))} (FORMAT parquet)"
    )

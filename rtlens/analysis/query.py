"""Run SQL over an rtlens database and format the result (table, CSV or JSON)."""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from rtlens.store.engine import duckdb

FORMATS = ("table", "csv", "json")
MAX_CELL = 60


# `SHOW TABLES` on a database opened by `open_database` would list each view twice: the
# file's own and the session's temporary one (current definitions) that shadows it.
_SHOW_TABLES = re.compile(r"\s*show\s+(all\s+)?tables\s*;?\s*", re.IGNORECASE)


@dataclass
class Result:
    """One statement's result: no columns for a statement that returns no rows (SET...)."""

    columns: list[str]
    rows: list[tuple[Any, ...]]


def relation_names(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every table and view a query can name, each once, sorted."""
    rows = con.execute(
        """SELECT table_name FROM duckdb_tables()
           UNION SELECT view_name FROM duckdb_views() WHERE NOT internal
           ORDER BY 1"""
    ).fetchall()
    return [r[0] for r in rows]


def statements(con: duckdb.DuckDBPyConnection, sql: str) -> list[Any]:
    """The statements in `sql`, in order (DuckDB's parser splits them)."""
    return list(con.extract_statements(sql))


def run_one(con: duckdb.DuckDBPyConnection, statement: Any) -> Result:
    """Run one statement (from `statements`, or SQL text)."""
    text = statement if isinstance(statement, str) else statement.query
    if _SHOW_TABLES.fullmatch(text):
        return Result(["name"], [(n,) for n in relation_names(con)])
    cur = con.execute(statement)
    if cur.description is None:
        return Result([], [])
    return Result([d[0] for d in cur.description], cur.fetchall())


def run(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run SQL holding one statement (or the last result of several)."""
    result = Result([], [])
    for statement in statements(con, sql):
        result = run_one(con, statement)
    return result.columns, result.rows


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.hex()
    return value


def as_json(columns: list[str], rows: list[tuple[Any, ...]]) -> str:
    records = [{c: _plain(v) for c, v in zip(columns, row, strict=True)} for row in rows]
    return json.dumps(records, indent=2, default=str) + "\n"


def as_csv(columns: list[str], rows: list[tuple[Any, ...]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([["" if v is None else _plain(v) for v in row] for row in rows])
    return buf.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, float):
        return f"{value:.6g}" if abs(value) < 1e15 else str(value)
    text = str(_plain(value)).replace("\n", " ")
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def as_table(columns: list[str], rows: list[tuple[Any, ...]]) -> str:
    if not columns:
        return "(no result)\n"
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    numeric = [
        all(isinstance(row[i], int | float) or row[i] is None for row in rows) and rows != []
        for i in range(len(columns))
    ]

    def line(values: list[str]) -> str:
        return "  ".join(
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        ).rstrip()

    out = [line(columns), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in cells]
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(out) + "\n"


def render(columns: list[str], rows: list[tuple[Any, ...]], fmt: str) -> str:
    return {"table": as_table, "csv": as_csv, "json": as_json}[fmt](columns, rows)

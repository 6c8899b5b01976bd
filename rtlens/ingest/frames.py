"""Normalized rows as typed polars DataFrames (for analysis in Python without a database).

Types come from the schema, so a session with no turns still yields a `turns` frame with
the right columns and dtypes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rtlens.ingest.normalize import normalize_file
from rtlens.ingest.results import SessionTables
from rtlens.schema import TABLES, polars_schema

if TYPE_CHECKING:
    import polars as pl


def to_polars(tables: SessionTables) -> dict[str, pl.DataFrame]:
    import polars as pl

    frames = {}
    for name, table in TABLES.items():
        rows = tables.rows.get(name, [])
        schema = polars_schema(name)
        ts_cols = [i for i, c in enumerate(table.columns) if c.type == "TIMESTAMPTZ"]
        if ts_cols:
            rows = [_with_datetimes(r, ts_cols) for r in rows]
        frames[name] = pl.DataFrame(rows, schema=schema, orient="row")  # type: ignore[arg-type]
    return frames


def _with_datetimes(row: tuple[Any, ...], cols: list[int]) -> tuple[Any, ...]:
    values = list(row)
    for i in cols:
        if isinstance(values[i], int):  # epoch µs (events rows come from DuckDB as datetimes)
            values[i] = datetime.fromtimestamp(values[i] / 1e6, tz=UTC)
    return tuple(values)


def load_session(path: str | Path) -> dict[str, pl.DataFrame]:
    """Normalize one recording into typed polars frames, table by table."""
    return to_polars(normalize_file(path))

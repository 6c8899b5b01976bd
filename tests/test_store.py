"""Rows go into the tables exactly as the normalizer made them (`append_rows`)."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from rtlens.schema import TABLES
from rtlens.store.db import append_rows, connect

_INT = {
    "BIGINT": st.integers(-(2**63), 2**63 - 1),
    "INTEGER": st.integers(-(2**31), 2**31 - 1),
    "TIMESTAMPTZ": st.integers(-(10**17), 10**17),  # epoch µs
}
# Every value a column may hold: text with escapes, quotes and any Unicode, extreme floats
# (including NaN and infinities, which JSON cannot write), the integer bounds, NULL.
_VALUES = {
    "VARCHAR": st.text(),
    "DOUBLE": st.floats(),
    "BOOLEAN": st.booleans(),
    **_INT,
}


def _rows(table: str) -> st.SearchStrategy[list[tuple[Any, ...]]]:
    row = st.tuples(*(st.none() | _VALUES[c.type] for c in TABLES[table].columns))
    return st.lists(row, min_size=1, max_size=20)


def _read(con: Any, table: str) -> list[tuple[Any, ...]]:
    columns = ", ".join(
        f"epoch_us({c.name})" if c.type == "TIMESTAMPTZ" else c.name for c in TABLES[table].columns
    )
    return con.execute(f"SELECT {columns} FROM {table} ORDER BY rowid").fetchall()


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or (
            a == b and math.copysign(1, a) == math.copysign(1, b)
        )
    return a == b and type(a) is type(b)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_rows_come_back_exactly_as_appended(data):
    con = connect(None)
    for table in ("sessions", "responses"):  # between them, every column type
        rows = data.draw(_rows(table), label=table)
        append_rows(con, table, rows)
        back = _read(con, table)
        assert len(back) == len(rows)
        for sent, got in zip(rows, back, strict=True):
            assert all(_same(a, b) for a, b in zip(sent, got, strict=True)), (sent, got)

"""rtlens's table schema (`rtlens.schema`) as Spark types, and rows made to fit them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from pyspark.sql import types as sql_types

from rtlens.schema import TABLES

PARTITION = "date"  # the Hive partition column of the Parquet layout (docs/schema.md)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

SPARK_TYPES: dict[str, sql_types.DataType] = {
    "VARCHAR": sql_types.StringType(),
    "JSON": sql_types.StringType(),
    "BIGINT": sql_types.LongType(),
    "INTEGER": sql_types.IntegerType(),
    "DOUBLE": sql_types.DoubleType(),
    "BOOLEAN": sql_types.BooleanType(),
    "TIMESTAMPTZ": sql_types.TimestampType(),
}


def struct(table: str, *, partition: bool = False) -> sql_types.StructType:
    fields = [
        sql_types.StructField(c.name, SPARK_TYPES[c.type], True) for c in TABLES[table].columns
    ]
    if partition:
        fields.append(sql_types.StructField(PARTITION, sql_types.StringType(), False))
    return sql_types.StructType(fields)


def from_epoch_us(value: int) -> dt.datetime:
    """A UTC instant from epoch µs, exactly (no float on the way)."""
    return _EPOCH + dt.timedelta(microseconds=value)


def _timestamp(value: Any) -> Any:
    # The normalizer gives epoch µs (ints) where DuckDB converts them in SQL; `events`
    # rows come out of DuckDB as datetimes already.
    return from_epoch_us(value) if isinstance(value, int) else value


def _double(value: Any) -> Any:
    return float(value) if isinstance(value, int) and not isinstance(value, bool) else value


_CONVERT: dict[str, Callable[[Any], Any]] = {"TIMESTAMPTZ": _timestamp, "DOUBLE": _double}


def converter(table: str) -> Callable[[tuple[Any, ...]], tuple[Any, ...]]:
    """A function making one of the normalizer's rows of `table` fit its Spark types."""
    plan = [
        (i, _CONVERT[c.type]) for i, c in enumerate(TABLES[table].columns) if c.type in _CONVERT
    ]

    def convert(row: tuple[Any, ...]) -> tuple[Any, ...]:
        values = list(row)
        for i, fn in plan:
            if values[i] is not None:
                values[i] = fn(values[i])
        return tuple(values)

    return convert

"""`rtlens query --engine spark`: SQL over a Parquet folder in Spark SQL, with the tables
and the shared views of `rtlens.store.views` (the same definitions DuckDB runs)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from rtlens.errors import InputError
from rtlens.schema import TABLE_NAMES
from rtlens.spark import locations
from rtlens.spark.types import PARTITION, struct
from rtlens.store.views import VIEWS


def check_folder(parquet_dir: str | Path) -> None:
    """InputError unless `parquet_dir` holds a folder per rtlens table (checked before
    Spark starts, which takes seconds)."""
    if locations.is_url(parquet_dir):
        return  # an object store: Spark says what is missing when it reads
    root = Path(parquet_dir)
    missing = [t for t in TABLE_NAMES if not (root / t).is_dir()]
    if missing:
        raise InputError(
            f"{parquet_dir}: not an rtlens Parquet folder (no {', '.join(missing)}); "
            "write one with rtlens ingest --parquet DIR"
        )


def register(spark: Any, parquet_dir: str | Path) -> None:
    """Every table of `parquet_dir` as a temporary view named after it (without the `date`
    partition column, so the tables and views have the columns they have in DuckDB), then
    the shared views over them."""
    check_folder(parquet_dir)
    root = locations.resolve(parquet_dir)
    for table in TABLE_NAMES:
        folder = locations.join(root, table)
        frame = (
            spark.read.schema(struct(table, partition=True))
            .option("basePath", folder)
            .parquet(locations.join(folder, f"{PARTITION}=*"))
            .drop(PARTITION)
        )
        frame.createOrReplaceTempView(table)
    for view in VIEWS:
        spark.sql(f"CREATE OR REPLACE TEMP VIEW {view.name} AS {view.sql_for('spark')}")


def run(spark: Any, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """One statement's columns and rows; timestamps as UTC instants, as DuckDB gives them
    (Spark hands back naive times in the session's time zone, which rtlens sets to UTC)."""
    frame = spark.sql(sql)
    return list(frame.columns), [tuple(_utc(v) for v in row) for row in frame.collect()]


def _utc(value: Any) -> Any:
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value

"""`rtlens ingest --engine spark`: the per-file normalizer mapped over Spark executors.

Each task normalizes one recording with `rtlens.ingest.onefile.normalize_one` (the function
the local pipeline's workers run) into rows of every table. The driver sees only a small
summary per file (session id, start, counts, failure) and decides, as the local pipeline
does, which file loads a session id that several files share (the first in input order).
Each table is then written from the executors' rows as Parquet in the layout of
docs/schema.md (`DIR/<table>/date=<YYYY-MM-DD|unknown>/part-….parquet`), replacing what the
folder held: the Spark engine writes the folder whole, it keeps no database to remember
earlier runs by.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rtlens.errors import InputError
from rtlens.ingest.onefile import FileOutcome, failure_row, normalize_one
from rtlens.ingest.pipeline import IngestResult, expand_inputs, note_problems
from rtlens.schema import TABLE_NAMES, TABLES
from rtlens.spark import locations
from rtlens.spark import session as spark_session
from rtlens.spark.types import PARTITION, converter, from_epoch_us, struct

UNKNOWN_DATE = "unknown"


@dataclass(frozen=True)
class FileSummary:
    """What the driver needs of one file to decide what loads (the rows stay out there)."""

    index: int
    source_file: str
    session_id: str | None
    date: str  # UTC date the session started, or 'unknown'
    n_sessions: int
    n_events: int
    errors: tuple[tuple[Any, ...], ...]  # its ingest_errors rows (few; they are reported)
    tables_with_rows: frozenset[str]  # so no Spark job is run to learn a table is empty


def _date(started_us: int | None) -> str:
    if started_us is None:
        return UNKNOWN_DATE
    return from_epoch_us(started_us).strftime("%Y-%m-%d")


def _rows(outcome: FileOutcome, table: str) -> list[tuple[Any, ...]]:
    if outcome.tables is None:
        return [failure_row(outcome)] if table == "ingest_errors" else []
    return outcome.tables.rows.get(table, [])


def summarize(outcome: FileOutcome) -> FileSummary:
    sessions = _rows(outcome, "sessions")
    started = sessions[0][TABLES["sessions"].column_names.index("started_ts")] if sessions else None
    return FileSummary(
        outcome.index,
        outcome.source_file,
        outcome.session_id,
        _date(started),
        len(sessions),
        outcome.tables.n_events if outcome.tables is not None else 0,
        tuple(_rows(outcome, "ingest_errors")),
        frozenset(t for t in TABLE_NAMES if _rows(outcome, t)),
    )


def winners(
    summaries: Sequence[FileSummary], given: Sequence[str | Path]
) -> tuple[set[int], list[str]]:
    """The files whose rows load, and a line for each file skipped because an earlier file
    (in input order) has its session id: the local pipeline's rule, and its words (files
    named as `given`)."""
    owner: dict[str, FileSummary] = {}
    loaded: set[int] = set()
    skipped: list[str] = []
    for s in sorted(summaries, key=lambda s: s.index):
        if s.session_id is not None and s.session_id in owner:
            first = owner[s.session_id]
            skipped.append(f"{given[s.index]}: same session id as {given[first.index]}; skipped")
            continue
        if s.session_id is not None:
            owner[s.session_id] = s
        loaded.add(s.index)
    return loaded, skipped


def ingest(
    paths: Sequence[str | Path],
    parquet_dir: str | Path,
    *,
    master: str = spark_session.DEFAULT_MASTER,
) -> IngestResult:
    """Normalize `paths` on Spark and write every table as Parquet under `parquet_dir`."""
    from pyspark import StorageLevel

    started = time.perf_counter()
    files = expand_inputs(paths)
    out = locations.resolve(parquet_dir)
    if not locations.is_url(out) and Path(out).exists() and not Path(out).is_dir():
        raise InputError(f"{parquet_dir}: not a folder (--parquet names the folder to write)")
    spark = spark_session.start(master)
    sc = spark.sparkContext
    tasks = list(enumerate(str(f) for f in files))
    slices = max(1, min(len(tasks), sc.defaultParallelism * 4))
    outcomes = sc.parallelize(tasks, slices).map(lambda t: normalize_one(t[0], t[1]))
    outcomes = outcomes.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        summaries = outcomes.map(summarize).collect()
        loaded, skipped = winners(summaries, files)
        dates = {s.index: s.date for s in summaries}
        keep = sc.broadcast((loaded, dates))
        filled = set().union(*(s.tables_with_rows for s in summaries if s.index in loaded))
        for table in TABLE_NAMES:
            folder = locations.join(out, table)
            if table in filled:
                _write_table(spark, outcomes, table, keep, folder)
            else:
                _write_empty(spark, table, folder)
    except Exception as exc:
        if type(exc).__module__.startswith(("py4j", "pyspark")):
            raise RuntimeError(f"Spark job failed: {spark_session.error_line(exc)}") from exc
        raise
    finally:
        outcomes.unpersist()
    result = IngestResult(files=len(files), new=len(files), skipped=skipped)
    for s in sorted(summaries, key=lambda s: s.index):
        if s.index not in loaded:
            continue
        result.sessions += s.n_sessions
        result.events += s.n_events
        note_problems(result, s.source_file, list(s.errors))
    result.seconds = time.perf_counter() - started
    return result


def _write_table(spark: Any, outcomes: Any, table: str, keep: Any, folder: str) -> None:
    convert = converter(table)

    def rows(outcome: FileOutcome) -> Iterator[tuple[Any, ...]]:
        loaded, dates = keep.value
        if outcome.index in loaded:
            date = dates[outcome.index]
            for row in _rows(outcome, table):
                yield (*convert(row), date)

    frame = spark.createDataFrame(outcomes.flatMap(rows), struct(table, partition=True))
    frame.repartition(PARTITION).write.mode("overwrite").partitionBy(PARTITION).parquet(folder)


def _write_empty(spark: Any, table: str, folder: str) -> None:
    """Every table reads back with its columns: one empty file, as the local writer does."""
    locations.remove(spark, folder)
    empty = spark.createDataFrame([], struct(table))
    empty.coalesce(1).write.mode("overwrite").parquet(
        locations.join(folder, f"{PARTITION}={UNKNOWN_DATE}")
    )

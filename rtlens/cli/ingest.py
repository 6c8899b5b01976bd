"""`rtlens ingest`: load recordings into DuckDB (and Parquet)."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from rtlens.cli.options import check_memory_size, db_option, engine_options, paths_argument
from rtlens.ingest import DEFAULT_MEMORY_LIMIT

if TYPE_CHECKING:
    from rtlens.ingest.pipeline import IngestResult


@click.command(short_help="Load recordings into DuckDB tables (and Parquet).")
@paths_argument()
@db_option(default="rtlens.duckdb", help_text="DuckDB file to create or update.")
@click.option(
    "--parquet",
    "parquet_dir",
    type=click.Path(file_okay=False),
    help="Also write every table as Parquet under DIR/<table>/ (partitioned by date).",
)
@click.option(
    "--workers",
    type=click.IntRange(min=0),
    help="Worker processes that read and normalize (0: all in this process; default: one per "
    "core, one for a single large recording, none for a few MB).",
)
@click.option(
    "--memory-limit",
    default=DEFAULT_MEMORY_LIMIT,
    callback=check_memory_size,
    show_default=True,
    help="Most memory DuckDB may use while writing (it spills to disk beyond). Raise it for "
    "events with very long JSON, such as images.",
)
@click.option(
    "--full",
    is_flag=True,
    help="Read every file again, even those unchanged since this database last loaded them.",
)
@engine_options(
    "Where to normalize: duckdb (this machine, into --db) or spark (executors, "
    "into --parquet DIR only)"
)
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but problems.")
def ingest(
    paths: tuple[str, ...],
    db: str,
    parquet_dir: str | None,
    workers: int | None,
    memory_limit: str,
    full: bool,
    engine: str,
    master: str | None,
    quiet: bool,
) -> None:
    """Load recordings (files, folders, globs) into DuckDB tables.

    Accepts rtlens JSONL, bare event JSONL, JSON arrays of events, and .gz versions.
    The database remembers the files it loaded: running again reads only new files and
    files changed since (a recording still being written, say), replacing their rows;
    --full reads them all. Lines that cannot be used land in the ingest_errors table and
    are reported below (exit code 1).

    \b
    Example:
      rtlens ingest recordings/ --db rt.duckdb --parquet rt_parquet/
      rtlens ingest recordings/ --db rt.duckdb     # nightly: only what is new
      rtlens ingest recordings/ --engine spark --master local[2] --parquet rt_parquet/
    """
    from rtlens.errors import InputError
    from rtlens.ingest.pipeline import expand_inputs
    from rtlens.ingest.pipeline import ingest as run_ingest

    try:
        files = expand_inputs(list(paths))
    except InputError as exc:
        raise click.UsageError(str(exc)) from exc
    if engine == "spark":
        _ingest_spark(files, parquet_dir, master, quiet)
        return
    if master is not None:
        raise click.UsageError("--master is for --engine spark")
    show_bar = not quiet and len(files) > 1 and sys.stderr.isatty()
    bar = click.progressbar(length=len(files), label="Ingesting", file=sys.stderr, show_pos=True)
    with bar if show_bar else contextlib.nullcontext(bar):
        try:
            result = run_ingest(
                files,
                db,
                parquet_dir=parquet_dir,
                workers=workers,
                on_file_done=(lambda _path: bar.update(1)) if show_bar else None,
                memory_limit=memory_limit,
                full=full,
            )
        except (InputError, RuntimeError) as exc:
            raise click.ClickException(str(exc)) from exc
    _report_problems(result)
    if not quiet:
        target = f"{db}" + (f" and {parquet_dir}/" if parquet_dir else "")
        skipped = "read again (--full)" if full else "skipped"
        click.echo(
            f"Ingested {result.files} file(s): {result.sessions} session(s), "
            f"{result.events:,} events into {target} in {result.seconds:.1f} s "
            f"({result.new} new, {result.changed} changed, {result.unchanged} unchanged: "
            f"{skipped})"
        )
    if result.problems or result.skipped:
        sys.exit(1)


def _ingest_spark(
    files: list[Path], parquet_dir: str | None, master: str | None, quiet: bool
) -> None:
    from rtlens.errors import InputError
    from rtlens.spark import session
    from rtlens.spark.ingest import ingest as spark_ingest

    if parquet_dir is None:
        raise click.UsageError("--engine spark writes Parquet only: give --parquet DIR")
    try:
        result = spark_ingest(files, parquet_dir, master=master or session.DEFAULT_MASTER)
    except (InputError, RuntimeError) as exc:
        raise click.ClickException(str(exc)) from exc
    _report_problems(result)
    if not quiet:
        click.echo(
            f"Ingested {result.files} file(s) on Spark: {result.sessions} session(s), "
            f"{result.events:,} events into {parquet_dir}/ in {result.seconds:.1f} s "
            "(the folder written whole)"
        )
    if result.problems or result.skipped:
        sys.exit(1)


def _report_problems(result: IngestResult) -> None:
    for problem in result.problems:
        click.echo(
            f"{problem.source_file}: {problem.count} line(s) in ingest_errors ({problem.first})",
            err=True,
        )
    for skipped in result.skipped:
        click.echo(skipped, err=True)

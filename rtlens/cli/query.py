"""`rtlens query`: SQL over the tables and views."""

from __future__ import annotations

import sys

import click

from rtlens.cli.options import db_option, engine_options


class SQLError(click.ClickException):
    """The query itself is wrong: exit 2 like a usage error, without the usage lines."""

    exit_code = 2


@click.command(short_help="Run SQL over the tables and views (table, CSV or JSON).")
@click.argument("sql")
@db_option(default="rtlens.duckdb", help_text="The database to query (opened read-only).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
    help="Output format.",
)
@click.option(
    "--parquet",
    "parquet_dir",
    type=click.Path(file_okay=False),
    help="With --engine spark: the Parquet folder to query (written by rtlens ingest --parquet).",
)
@engine_options("What runs the SQL: duckdb over --db, or Spark SQL over --parquet DIR")
def query(
    sql: str, db: str, fmt: str, parquet_dir: str | None, engine: str, master: str | None
) -> None:
    """Run SQL over the rtlens tables and views; SQL may be '-' to read it from stdin.

    Several statements separated by ';' run in order and each result is printed (table
    format only). Tables: sessions, events, responses, turns, rate_limits, interruptions, errors,
    function_calls, transcriptions, ingest_errors. Views: turn_latency, response_costs,
    rate_limit_headroom, session_overview (see docs/schema.md).

    \b
    Examples:
      rtlens query "select category, median(v2v_ms) from turn_latency group by 1"
      rtlens query - --format csv < my_query.sql > out.csv
      rtlens query --engine spark --parquet rt_parquet/ "select count(*) from turn_latency"
    """
    from rtlens.analysis.load import open_database
    from rtlens.analysis.query import relation_names, render, run_one, statements
    from rtlens.errors import InputError
    from rtlens.store.db import error_line
    from rtlens.store.engine import duckdb

    if sql == "-":
        sql = sys.stdin.read()
    if not sql.strip():
        raise click.UsageError("the SQL is empty")
    if engine == "spark":
        _query_spark(sql, parquet_dir, master, fmt)
        return
    if master is not None or parquet_dir is not None:
        raise click.UsageError("--master and --parquet are for --engine spark")
    try:
        con = open_database(db)
    except InputError as exc:  # a missing or unusable database is a usage error: exit 2
        raise SQLError(str(exc)) from exc
    try:
        parts = statements(con, sql)
        if len(parts) > 1 and fmt != "table":
            raise SQLError(
                f"{len(parts)} statements given; --format {fmt} prints one result, so give "
                "one statement (the table format prints each result in turn)"
            )
        results = [run_one(con, part) for part in parts]
    except duckdb.CatalogException as exc:
        message = f"SQL error: {error_line(exc)}"
        if "does not exist" in message:
            message += f" Tables and views: {', '.join(relation_names(con))}"
        raise SQLError(message) from exc
    except duckdb.Error as exc:
        raise SQLError(f"SQL error: {error_line(exc)}") from exc
    click.echo("\n".join(render(r.columns, r.rows, fmt) for r in results), nl=False)


def _query_spark(sql: str, parquet_dir: str | None, master: str | None, fmt: str) -> None:
    """One statement in Spark SQL over the Parquet tables and the shared views."""
    from rtlens.analysis.query import render
    from rtlens.errors import InputError
    from rtlens.spark import query as spark_query
    from rtlens.spark import session

    if parquet_dir is None:
        raise click.UsageError("--engine spark queries Parquet: give --parquet DIR")
    try:
        spark_query.check_folder(parquet_dir)
        spark = session.start(master or session.DEFAULT_MASTER)
        spark_query.register(spark, parquet_dir)
    except InputError as exc:
        raise SQLError(str(exc)) from exc
    try:
        columns, rows = spark_query.run(spark, sql.strip().rstrip(";"))
    except Exception as exc:  # Spark's analysis and parse errors
        raise SQLError(f"SQL error: {session.error_line(exc)}") from exc
    click.echo(render(columns, rows, fmt), nl=False)

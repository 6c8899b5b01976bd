"""The same recordings through DuckDB and through Apache Spark (`local[2]`, the real
PySpark and JVM) give identical rows in every table, and the shared views give the same
answers in DuckDB and in Spark SQL (issue 19 item 4).

The inputs cover what the engines must agree on beyond clean recordings: bare event logs
without a header or timestamps (date `unknown`), a file with unusable lines (ingest_errors),
an empty file, and a copy of a recording (same session id: the first file in input order
loads it, the copy is reported and skipped).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from builders import CORPUS, REPO

from rtlens.analysis.query import as_json
from rtlens.analysis.query import run as run_duckdb
from rtlens.schema import TABLE_NAMES

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("java") is None,
        reason="Spark needs Java 17+: no java on PATH (.ci/run installs a JDK when missing)",
    ),
]
SAMPLES = REPO / "sample_logs"
RTLENS = [sys.executable, "-m", "rtlens"]
ON_SPARK = ("--engine", "spark", "--master", "local[2]")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*RTLENS, *args], capture_output=True, text=True, timeout=600)


def problem_lines(stderr: str) -> set[str]:
    """rtlens's own lines about files (Spark's JVM writes its start-up notes too)."""
    return {line for line in stderr.splitlines() if "ingest_errors" in line or "skipped" in line}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    tmp = tmp_path_factory.mktemp("inputs")
    bad = tmp / "bad.jsonl"
    good = (SAMPLES / "ga_function_calling.jsonl").read_text().splitlines()
    header = json.loads(good[0])
    good[0] = json.dumps({**header, "session_id": "bad-copy-of-function-calling"})
    # a header line, two unusable lines among good ones: 2 rows in ingest_errors
    bad.write_text("\n".join([good[0], "{not json", *good[1:6], '["an", "array"]', *good[6:]]))
    (tmp / "empty.jsonl").write_text("")
    copy = tmp / "copy_of_barge_in.jsonl"
    shutil.copy(SAMPLES / "beta_barge_in.jsonl", copy)
    corpus = sorted(str(p) for p in CORPUS.rglob("*.jsonl")) if CORPUS.is_dir() else []
    samples = sorted(str(p) for p in SAMPLES.glob("*.jsonl"))
    return [*samples, *corpus, str(bad), str(tmp / "empty.jsonl"), str(copy)]


@pytest.fixture(scope="module")
def both(inputs: list[str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    tmp = tmp_path_factory.mktemp("engines")
    local = run(
        "ingest", *inputs, "--db", str(tmp / "local.duckdb"), "--parquet", str(tmp / "local")
    )
    spark = run("ingest", *inputs, *ON_SPARK, "--parquet", str(tmp / "spark"))
    return {"tmp": tmp, "local": local, "spark": spark}


def parquet_rows(con: duckdb.DuckDBPyConnection, folder: Path, table: str) -> list[tuple]:
    return con.execute(
        f"SELECT * FROM read_parquet('{folder}/{table}/**/*.parquet', hive_partitioning = true) "
        "ORDER BY ALL"
    ).fetchall()


def test_both_engines_report_the_same_problems(both, inputs):
    local, spark = both["local"], both["spark"]
    assert local.returncode == spark.returncode == 1, (local.stderr, spark.stderr)
    expected = problem_lines(local.stderr)
    # by hand: bad.jsonl (2 lines), empty.jsonl (no events), the copy (skipped)
    assert any(line.startswith(inputs[-3]) and "2 line(s)" in line for line in expected)
    assert any(line.startswith(inputs[-2]) for line in expected)
    assert any(line.startswith(inputs[-1]) and "skipped" in line for line in expected)
    assert problem_lines(spark.stderr) == expected
    n_sessions = len(inputs) - 2  # every file but the empty one and the skipped copy
    assert f"{n_sessions} session(s)" in local.stdout
    assert f"{n_sessions} session(s)" in spark.stdout


@pytest.mark.parametrize("table", TABLE_NAMES)
def test_every_table_has_the_same_rows(both, table):
    tmp = both["tmp"]
    con = duckdb.connect(str(tmp / "local.duckdb"), read_only=True)
    from_spark = parquet_rows(con, tmp / "spark", table)
    assert from_spark == parquet_rows(con, tmp / "local", table)  # `date` included
    columns = ", ".join(f'"{c}"' for c in duckdb_columns(con, table))
    without_date = con.execute(
        f"SELECT {columns} FROM read_parquet('{tmp}/spark/{table}/**/*.parquet', "
        "hive_partitioning = true) ORDER BY ALL"
    ).fetchall()
    assert without_date == con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()
    if table in {"sessions", "events", "responses"}:
        assert from_spark  # the comparison is over real rows


def duckdb_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    return [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()]


def test_dates_partition_the_folder_and_bare_logs_are_unknown(both):
    spark_dir = both["tmp"] / "spark"
    dates = {p.name for p in (spark_dir / "sessions").iterdir() if p.is_dir()}
    # the sample logs were recorded on 2026-11-25; the bare corpus logs have no times
    assert "date=2026-11-25" in dates
    if CORPUS.is_dir():
        assert "date=unknown" in dates
    assert not list(spark_dir.rglob("_SUCCESS"))


VIEW_QUERIES = [
    "SELECT * FROM turn_latency ORDER BY session_id, turn",
    "SELECT * FROM response_costs ORDER BY session_id, response_id",
    "SELECT * FROM rate_limit_headroom ORDER BY session_id, seq, name",
    "SELECT * FROM session_overview ORDER BY session_id",
]


def test_the_shared_views_give_the_same_answers(both):
    """One view through the real program on each side; all of them in one Spark session
    (each run of the program starts a JVM, ~15 s on a loaded host)."""
    tmp = both["tmp"]
    sql = VIEW_QUERIES[-1]
    local = run("query", "--db", str(tmp / "local.duckdb"), "--format", "json", sql)
    spark = run("query", *ON_SPARK, "--parquet", str(tmp / "spark"), "--format", "json", sql)
    assert local.returncode == spark.returncode == 0, (local.stderr, spark.stderr)
    expected, got = json.loads(local.stdout), json.loads(spark.stdout)
    assert expected and list(got[0]) == list(expected[0])  # the same columns, in order
    assert got == [approx_row(row) for row in expected]

    # The rest in one Spark session, in a process of its own: py4j leaves its sockets to
    # the garbage collector, which would warn in whichever later test it ran in.
    script = (
        "import json, sys\n"
        "from rtlens.analysis.query import as_json\n"
        "from rtlens.spark import query, session\n"
        "spark = session.start('local[2]')\n"
        "query.register(spark, sys.argv[1])\n"
        "print(json.dumps([json.loads(as_json(*query.run(spark, q))) for q in sys.argv[2:]]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(tmp / "spark"), *VIEW_QUERIES],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    con = duckdb.connect(str(tmp / "local.duckdb"), read_only=True)
    for sql, got in zip(VIEW_QUERIES, json.loads(out.stdout), strict=True):
        expected = json.loads(as_json(*run_duckdb(con, sql)))
        assert expected, sql
        assert got == [approx_row(row) for row in expected], sql


def approx_row(row: dict) -> dict:
    """Floats to within rounding (the engines may add in another order)."""
    return {k: pytest.approx(v) if isinstance(v, float) else v for k, v in row.items()}


def test_spark_needs_a_parquet_folder(tmp_path):
    result = run("ingest", str(SAMPLES), "--engine", "spark")
    assert result.returncode == 2
    assert "--engine spark writes Parquet only: give --parquet DIR" in result.stderr
    result = run("query", "--engine", "spark", "--parquet", str(tmp_path), "SELECT 1")
    assert result.returncode == 2
    assert f"{tmp_path}: not an rtlens Parquet folder" in result.stderr


def test_object_store_urls_are_kept_as_given():
    """Not reachable here (no object store): what rtlens hands Spark for one."""
    from rtlens.spark import locations

    assert locations.is_url("s3a://bucket/rt/") and not locations.is_url("rt_parquet")
    assert not locations.is_url("file:///tmp/rt")  # a local path in URL form
    assert locations.resolve("s3a://bucket/rt/") == "s3a://bucket/rt"
    assert locations.join("s3a://bucket/rt", "turns", "date=*") == "s3a://bucket/rt/turns/date=*"
    assert locations.resolve("rt_parquet") == str(Path("rt_parquet").resolve())

"""Small CLI truths (issue 13 item 8): `rtlens query` with several statements, SHOW TABLES,
a missing database, an unknown table; `rtlens report --html` into a missing folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from builders import Session, ga_session
from click.testing import CliRunner

from rtlens.cli import main
from rtlens.schema import TABLES
from rtlens.store.views import VIEWS


def run(*args: str):
    return CliRunner().invoke(main, list(args))


@pytest.fixture(scope="module")
def two(tmp_path_factory) -> Path:
    """Two one-line sessions, so counts are known by hand: 2 sessions, 2 events."""
    folder = tmp_path_factory.mktemp("two")
    for sid in ("s1", "s2"):
        s = Session(sid).server(0, "session.created", session=ga_session())
        s.close(500).write(folder / f"{sid}.jsonl")
    return folder


@pytest.fixture(scope="module")
def db(two, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("db") / "rt.duckdb"
    assert run("ingest", str(two), "--db", str(path), "-q").exit_code == 0
    return path


def test_several_statements_each_print_their_result(db):
    result = run("query", "select count(*) as n from sessions; select 7 as seven", "--db", str(db))
    assert result.exit_code == 0, result.output
    # 2 sessions; then the constant 7: both results, in order, not just the last
    assert result.stdout == "n\n-\n2\n(1 row)\n\nseven\n-----\n    7\n(1 row)\n"


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_several_statements_refused_for_csv_and_json(db, fmt):
    result = run("query", "select 1; select 2", "--db", str(db), "--format", fmt)
    assert result.exit_code == 2
    assert f"2 statements given; --format {fmt} prints one result" in result.stderr
    assert result.stdout == ""


def test_one_statement_with_a_trailing_semicolon_is_one(db):
    result = run("query", "select 1 as a;", "--db", str(db), "--format", "csv")
    assert result.exit_code == 0 and result.stdout == "a\n1\n"


def test_show_tables_lists_each_view_once(db):
    result = run("query", "show tables", "--db", str(db), "--format", "csv")
    assert result.exit_code == 0, result.output
    names = result.stdout.splitlines()[1:]
    assert len(names) == len(set(names))
    # every table of the schema, every shared view, rtlens_meta, rtlens_files and rtlens_parquet
    internal = {"rtlens_meta", "rtlens_files", "rtlens_parquet"}
    assert set(names) == set(TABLES) | {v.name for v in VIEWS} | internal
    lower = run("query", "SHOW  TABLES ;", "--db", str(db), "--format", "csv")
    assert lower.stdout == result.stdout


def test_missing_database_is_a_usage_error(tmp_path):
    result = run("query", "select 1", "--db", str(tmp_path / "none.duckdb"))
    assert result.exit_code == 2  # README: 2 for usage errors such as a missing file
    assert "none.duckdb: no such database" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_unknown_table_lists_the_tables(db):
    result = run("query", "select * from sesions", "--db", str(db))
    assert result.exit_code == 2
    line = result.stderr.strip()
    assert len(line.splitlines()) == 1
    assert "sesions does not exist" in line
    assert "Tables and views: errors, events," in line and "sessions" in line
    assert "turn_latency" in line


def test_html_into_a_missing_folder_is_refused_before_the_report(two, tmp_path):
    target = tmp_path / "not" / "there.html"
    result = run("report", str(two), "--html", str(target))
    assert result.exit_code == 2
    assert "does not exist" in result.stderr and "Traceback" not in result.output
    assert result.stdout == ""  # no report printed first
    assert not target.parent.exists()

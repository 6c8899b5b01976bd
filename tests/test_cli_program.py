"""The `rtlens` program as a shell runs it (`python -m rtlens`): it exits at once after a
command (see `rtlens.cli.run`), so its status and output must be exactly the command's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from builders import REPO


def rtlens(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rtlens", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_command_that_works_exits_0_with_all_its_output(tmp_path: Path) -> None:
    db = tmp_path / "rt.duckdb"
    ingested = rtlens("ingest", str(REPO / "sample_logs"), "--db", str(db))
    assert ingested.returncode == 0, ingested.stderr
    assert "9 session(s)" in ingested.stdout + ingested.stderr
    many = rtlens(
        "query",
        "SELECT seq FROM events ORDER BY session_id, seq",
        "--db",
        str(db),
        "--format",
        "csv",
    )
    assert many.returncode == 0
    lines = many.stdout.splitlines()
    count = rtlens("query", "SELECT count(*) AS n FROM events", "--db", str(db), "--format", "csv")
    assert count.stdout.split() == ["n", str(len(lines) - 1)]  # nothing lost at exit
    assert lines[0] == "seq" and len(lines) > 8_000


def test_errors_keep_their_exit_status_and_message(tmp_path: Path) -> None:
    missing = rtlens("ingest", str(tmp_path / "nope.jsonl"), "--db", str(tmp_path / "x.duckdb"))
    assert missing.returncode == 2
    assert "no such file" in missing.stderr
    db = tmp_path / "rt.duckdb"
    assert rtlens("ingest", str(REPO / "sample_logs"), "--db", str(db), "-q").returncode == 0
    bad_sql = rtlens("query", "-", "--db", str(db), stdin="SELEC 1")
    assert bad_sql.returncode == 2
    assert 'syntax error at or near "SELEC"' in bad_sql.stderr


def test_output_into_a_closed_pipe_is_not_an_error(tmp_path: Path) -> None:
    db = tmp_path / "rt.duckdb"
    assert rtlens("ingest", str(REPO / "sample_logs"), "--db", str(db), "-q").returncode == 0
    command = (
        f"{sys.executable} -m rtlens query 'SELECT * FROM events' --db {db} --format csv | head -1"
    )
    shell = subprocess.run(
        ["bash", "-o", "pipefail", "-c", command],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert shell.stdout.startswith("session_id,")
    assert "Traceback" not in shell.stderr

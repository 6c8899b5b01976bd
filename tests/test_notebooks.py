"""The analysis notebooks: committed without outputs, and they run top to bottom on
sample_logs/ and print what the tables hold.

Each notebook ends with an "In short" cell; its lines are compared with the same numbers
computed here straight from the tables (not the views the notebooks use), so a notebook
that runs but reads the wrong column or view fails.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import duckdb
import nbformat
import pytest
from nbclient import NotebookClient

import rtlens
from rtlens.ingest.pipeline import ingest
from rtlens.store.db import connect

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
SAMPLE_LOGS = ROOT / "sample_logs"
NOTEBOOKS = ("01_latency", "02_tokens_and_cost", "03_interruptions_and_rate_limits")


@dataclass
class Executed:
    stdout: str
    stderr: str
    images: int


@cache
def execute(name: str) -> Executed:
    """Run a notebook as nbclient does in CI: kernel python3, cwd notebooks/, Agg backend."""
    nb = nbformat.read(NOTEBOOK_DIR / f"{name}.ipynb", as_version=4)
    client = NotebookClient(
        nb,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
    )
    client.execute(env={**os.environ, "MPLBACKEND": "Agg"})
    stdout, stderr, images = [], [], 0
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.output_type == "stream":
                (stdout if output.name == "stdout" else stderr).append(output.text)
            elif "image/png" in output.get("data", {}):
                images += 1
    return Executed("".join(stdout), "".join(stderr), images)


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    con = connect(None)
    ingest([SAMPLE_LOGS], con=con)
    yield con
    con.close()


def one(con: duckdb.DuckDBPyConnection, sql: str, *params: object) -> tuple:
    row = con.execute(sql, list(params)).fetchone()
    assert row is not None
    return row


def recording(con: duckdb.DuckDBPyConnection, session_id: str) -> str:
    (source_file,) = one(con, "SELECT source_file FROM sessions WHERE session_id = ?", session_id)
    return Path(source_file).name.removesuffix(".jsonl")


def ran_cleanly(run: Executed, images: int) -> None:
    assert run.stderr == "", run.stderr
    assert run.images == images
    n_files = len(list(SAMPLE_LOGS.glob("*.jsonl")))
    assert f"{n_files} files → {n_files} sessions, " in run.stdout
    assert ", 0 ingest errors" in run.stdout


def test_the_three_notebooks_are_there() -> None:
    assert sorted(p.stem for p in NOTEBOOK_DIR.glob("*.ipynb")) == list(NOTEBOOKS)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_committed_without_outputs(name: str) -> None:
    nb = nbformat.read(NOTEBOOK_DIR / f"{name}.ipynb", as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert code
    for cell in code:
        assert cell.outputs == [], f"{name}: a cell was saved with its outputs"
        assert cell.execution_count is None, f"{name}: a cell was saved with an execution count"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebooks_use_only_the_public_api(name: str) -> None:
    """docs/api.md: `import rtlens` and its top-level names; any rtlens.<module> is internal."""
    nb = nbformat.read(NOTEBOOK_DIR / f"{name}.ipynb", as_version=4)
    internal = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for node in ast.walk(ast.parse(cell.source)):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("rtlens"):
                internal.append(f"from {node.module} import …")
            elif isinstance(node, ast.Import):
                internal += [a.name for a in node.names if a.name.startswith("rtlens.")]
            elif (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "rtlens"
                and node.attr not in rtlens.__all__
            ):
                internal.append(f"rtlens.{node.attr}")
    assert internal == []


def test_latency_notebook(con: duckdb.DuckDBPyConnection) -> None:
    run = execute("01_latency")
    ran_cleanly(run, images=2)
    (n_turns,) = one(con, "SELECT count(*) FROM turns")
    assert f" sessions, {n_turns} turns, " in run.stdout
    categories = con.execute("""
        SELECT CASE WHEN has_tool_call THEN 'tool'
                    WHEN interrupted OR reply_interrupted THEN 'interrupted'
                    ELSE 'clean' END AS category,
               count(v2v_ms), quantile_cont(v2v_ms, 0.5), quantile_cont(v2v_ms, 0.95)
        FROM turns WHERE v2v_ms IS NOT NULL
        GROUP BY category ORDER BY category
    """).fetchall()
    assert [c[0] for c in categories] == ["clean", "interrupted", "tool"]
    for category, n, p50, p95 in categories:
        line = f"{category} turns: v2v p50 {p50:.0f} ms, p95 {p95:.0f} ms ({n} turns with audio)"
        assert line in run.stdout
    # The tool turns wait for the app's tool and a second response: they are the slowest.
    session_id, turn, v2v = one(
        con, "SELECT session_id, turn, v2v_ms FROM turns ORDER BY v2v_ms DESC NULLS LAST LIMIT 1"
    )
    slowest = f"slowest turn: {recording(con, session_id)} turn {turn} (tool), v2v {v2v:.0f} ms"
    assert slowest in run.stdout


def test_tokens_and_cost_notebook(con: duckdb.DuckDBPyConnection) -> None:
    run = execute("02_tokens_and_cost")
    ran_cleanly(run, images=2)
    input_tokens, cached_tokens, n_responses = one(
        con, "SELECT sum(input_tokens), sum(cached_tokens), count(*) FROM responses"
    )
    assert 0 < cached_tokens < input_tokens
    assert (
        f"cache hit rate: {100 * cached_tokens / input_tokens:.1f}% "
        f"({cached_tokens} of {input_tokens} input tokens came from the cache)"
    ) in run.stdout
    # The subset check: every response passes each of the four checks.
    lines = run.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("responses  cached_within"))
    assert lines[header + 2].split() == [str(n_responses)] * 5
    session_id, usd = one(
        con,
        "SELECT session_id, sum(cost_usd) FROM responses GROUP BY session_id "
        "ORDER BY 2 DESC NULLS LAST LIMIT 1",
    )
    assert (
        f"most expensive session (responses): {recording(con, session_id)}, ${usd:.4f}"
        in run.stdout
    )
    usd, unpriced, n = one(
        con,
        "SELECT sum(cost_usd), count(*) FILTER (WHERE cost_usd IS NULL), count(*) "
        "FROM transcriptions",
    )
    assert unpriced > 0  # whisper-1 on the beta sessions reports no usage
    assert (
        f"transcription: ${usd:.4f} for {n - unpriced} priced transcriptions, "
        f"{unpriced} without a price"
    ) in run.stdout


def test_interruptions_and_rate_limits_notebook(con: duckdb.DuckDBPyConnection) -> None:
    run = execute("03_interruptions_and_rate_limits")
    ran_cleanly(run, images=2)
    n, generated, heard, unheard = one(
        con,
        "SELECT count(*), sum(audio_generated_ms), sum(audio_played_ms), sum(audio_unheard_ms) "
        "FROM interruptions",
    )
    assert n == 3  # sample_logs/README.md: two in beta_barge_in, one in ga_twilio_g711
    assert (
        f"interruptions: {n}; audio generated {generated / 1000:.1f} s, "
        f"heard {heard / 1000:.1f} s, never heard {unheard / 1000:.1f} s"
    ) in run.stdout
    session_id, name, pct, turn = one(
        con,
        "SELECT session_id, name, remaining_pct, turn FROM rate_limits "
        "ORDER BY remaining_pct, t_ms LIMIT 1",
    )
    assert recording(con, session_id) == "ga_rate_limited"
    assert (
        f"lowest rate-limit headroom: ga_rate_limited {name} at {pct:.1f}% (turn {turn})"
        in run.stdout
    )
    assert "failed responses: 1 (rate_limit_exceeded)" in run.stdout
    n_errors, n_events = one(
        con, "SELECT count(*), count(*) FILTER (WHERE source = 'error_event') FROM errors"
    )
    assert f"errors: {n_errors}, of which {n_events} error events sent by the server" in run.stdout
    # Every error event's client event is shown: as sent, or named by its frame type.
    assert run.stdout.count("    sent: ") == n_events
    assert "    sent: (not in the recording)" not in run.stdout

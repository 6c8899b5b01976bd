"""The report: JSON equals SQL over the tables, text fits 100 columns, HTML is self-contained,
figures carry the right data, and the CLI's exit codes and messages are right."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from builders import REPO
from click.testing import CliRunner
from test_normalize_handchecked import write_ga_voice

from rtlens.analysis import detail
from rtlens.cli import main
from rtlens.report import figures
from rtlens.report.build import build

SAMPLES = REPO / "sample_logs"
SPEC_KEYS = {
    "sessions",
    "turns",
    "responses",
    "latency",
    "tokens",
    "rate_limits",
    "interruptions",
    "errors",
}


def run(*args: str):
    return CliRunner().invoke(main, list(args))


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("db") / "samples.duckdb"
    assert run("ingest", str(SAMPLES), "--db", str(db), "-q").exit_code == 0
    return db


def report_json(*args: str) -> dict:
    result = run("report", *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_json_has_the_spec_keys_and_equals_sql_over_the_tables(sample_db):
    path = SAMPLES / "beta_barge_in.jsonl"
    got = report_json(str(path))
    assert set(got) >= SPEC_KEYS
    assert set(got["latency"]["v2v_ms"]) >= {"p50", "p90", "p95", "max"}
    assert set(got["tokens"]) >= {
        "input",
        "output",
        "total",
        "cached",
        "input_audio",
        "input_text",
        "output_audio",
        "output_text",
        "cost_usd",
    }
    con = duckdb.connect(str(sample_db), read_only=True)
    sid = con.execute(
        "SELECT session_id FROM sessions WHERE source_file = ?", [str(path.resolve())]
    ).fetchone()[0]
    q = con.execute(
        "SELECT quantile_cont(v2v_ms, 0.5), quantile_cont(v2v_ms, 0.9), "
        "quantile_cont(v2v_ms, 0.95), max(v2v_ms) FROM turns WHERE session_id = ?",
        [sid],
    ).fetchone()
    v2v = got["latency"]["v2v_ms"]
    assert (v2v["p50"], v2v["p90"], v2v["p95"], v2v["max"]) == q
    tokens = con.execute(
        "SELECT sum(input_tokens), sum(output_tokens), sum(cached_tokens), "
        "sum(output_audio_tokens) FROM responses WHERE session_id = ?",
        [sid],
    ).fetchone()
    t = got["tokens"]
    assert (t["input"], t["output"], t["cached"], t["output_audio"]) == tokens
    cut = con.execute(
        "SELECT count(*), sum(audio_unheard_ms) FROM interruptions WHERE session_id = ?", [sid]
    ).fetchone()
    assert (got["interruptions"]["count"], got["interruptions"]["audio_unheard_ms"]) == cut
    assert got["interruptions"]["count"] == 2
    (n_turns,) = con.execute("SELECT count(*) FROM turns WHERE session_id = ?", [sid]).fetchone()
    assert got["turns"] == n_turns and got["sessions"] == 1


def test_rate_limit_and_error_keys_equal_sql(sample_db):
    path = SAMPLES / "ga_rate_limited.jsonl"
    got = report_json(str(path))
    con = duckdb.connect(str(sample_db), read_only=True)
    sid = con.execute(
        "SELECT session_id FROM sessions WHERE source_file = ?", [str(path.resolve())]
    ).fetchone()[0]
    row = con.execute(
        'SELECT last("limit" ORDER BY seq), min(remaining), last(remaining ORDER BY seq) '
        "FROM rate_limits WHERE session_id = ? AND name = 'tokens'",
        [sid],
    ).fetchone()
    tokens = got["rate_limits"]["tokens"]
    assert (tokens["limit"], tokens["min_remaining"], tokens["last_remaining"]) == row
    codes = dict(
        con.execute(
            "SELECT code, count(*) FROM errors WHERE session_id = ? GROUP BY 1", [sid]
        ).fetchall()
    )
    assert got["errors"]["by_code"] == codes == {"rate_limit_exceeded": 1}
    assert any("1 response(s) failed" in w for w in got["warnings"])


def test_db_report_equals_the_in_memory_report(sample_db):
    path = SAMPLES / "ga_function_calling.jsonl"
    from_file = report_json(str(path))
    from_db = report_json("--db", str(sample_db), str(path))
    assert from_db == from_file


def test_text_report_reads_in_100_columns():
    result = run("report", str(SAMPLES / "beta_barge_in.jsonl"))
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 100
    text = result.stdout
    for heading in (
        "Latency (ms)",
        "Turns (ms)",
        "Tokens and cost",
        "Rate limits",
        "Barge-ins",
        "Errors",
    ):
        assert heading in lines
    assert "voice-to-voice, barge-in turns" in text
    assert "2 barge-in(s)" in text
    assert "Model gpt-4o-realtime-preview-2024-12-17 · beta over WebSocket" in text


def test_hand_checked_session_in_the_text_report(tmp_path):
    text = run("report", str(write_ga_voice(tmp_path / "s.jsonl"))).stdout
    assert "voice-to-voice, clean turns            1     600     600     600     600" in text
    assert "1 call(s) · tool time p50 600 ms" in text
    assert "audio generated 2.0 s, heard 0.5 s, never heard 1.5 s" in text
    assert "response_cancel_not_active" in text and "after response.cancel" in text
    assert "input tokens per turn: 150 → 280 → 470" in text
    assert "43% of generated audio was never heard" in text


def test_fleet_report_over_the_sample_folder():
    got = report_json(str(SAMPLES))
    assert got["sessions"] == len(list(SAMPLES.glob("*.jsonl")))
    fleet = got["fleet"]
    assert {g["dialect"] for g in fleet["by_dialect"]} == {"beta", "ga"}
    assert sum(g["sessions"] for g in fleet["by_model"]) == got["sessions"]
    assert fleet["worst_sessions"]["errors"][0]["source_file"].endswith(
        "beta_errors_transcription_failed.jsonl"
    )
    text = run("report", str(SAMPLES)).stdout
    assert "Across sessions" in text and max(len(x) for x in text.splitlines()) <= 100
    # Every figure of a row comes from the one session where headroom ran lowest.
    rates = text.split("Rate limits (each session's lowest headroom)\n")[1].split("\n\n")[0]
    tokens = next(line for line in rates.splitlines() if line.split()[0] == "tokens")
    low = got["rate_limits"]["tokens"]
    assert f"{low['min_remaining']:,} of {low['limit']:,} in ga_rate_limited.jsonl" in tokens


def test_html_is_one_self_contained_file(tmp_path):
    out = tmp_path / "r.html"
    result = run("report", str(SAMPLES / "ga_function_calling.jsonl"), "--html", str(out))
    assert result.exit_code == 0
    html = out.read_text()
    assert html.startswith("<!doctype html>")
    assert html.count('src="data:image/png;base64,') == 4
    assert "http://" not in html and "https://" not in html  # opens offline
    assert "get_weather" in html or "lookup_order" in html or "Function calls" in html
    assert len(html.encode()) < 2_000_000


def test_figures_carry_the_turn_data(tmp_path):
    report = build([write_ga_voice(tmp_path / "s.jsonl")])
    turns = detail.turn_rows(report.con)
    fig = figures.latency(turns)
    bars, _dist = fig.axes
    assert bars.get_title(loc="left") == "Voice-to-voice latency per turn"
    assert [p.get_height() for p in bars.patches] == [600, 500, 1600]
    assert [p.get_facecolor()[:3] for p in bars.patches][2] == pytest.approx(
        (0xE0 / 255, 0x8A / 255, 0x1E / 255)
    )  # the tool turn is orange
    responses = detail.response_rows(report.con)
    tokens_fig = figures.tokens(responses)
    ax = tokens_fig.axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "input text",
        "input audio",
        "cached input",
        "output text",
        "output audio",
        "cumulative cost",
    ]
    cost_line = tokens_fig.axes[1].get_lines()[0]
    assert cost_line.get_ydata()[-1] == pytest.approx(
        sum(r["cost_usd"] for r in responses if r["cost_usd"] is not None)
    )
    timeline = figures.timeline(
        turns,
        responses,
        detail.interruption_rows(report.con),
        detail.function_call_rows(report.con),
    )
    tl = timeline.axes[0]
    assert [t.get_text() for t in tl.get_yticklabels()] == list(figures.LANES)
    speech = next(c for c in tl.collections if c.get_label() == "user speech")
    assert len(speech.get_paths()) == 3  # three user utterances
    commits = next(c for c in tl.collections if c.get_label() == "turn commits")
    assert len(commits.get_segments()) == sum(t["committed_ms"] is not None for t in turns)
    rates = figures.rate_limits(detail.rate_limit_rows(report.con))
    lines = {ln.get_label(): list(ln.get_ydata()) for ln in rates.axes[0].get_lines()}
    assert lines["tokens"] == [97.5, 95.0] and lines["requests"] == [99.0]


def test_cli_exit_codes_and_messages(tmp_path):
    missing = run("report", str(tmp_path / "nope.jsonl"))
    assert missing.exit_code == 2 and "nope.jsonl: no such file or folder" in missing.stderr
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    result = run("report", str(empty))
    assert result.exit_code == 1
    assert "no sessions to report (empty.jsonl: empty file: no events)" in result.stderr
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "notes.txt").write_text("hello")
    result = run("report", str(folder))
    assert result.exit_code == 2 and "no recordings in this folder" in result.stderr
    assert run("report").exit_code == 2
    broken = tmp_path / "broken.jsonl"
    broken.write_bytes((SAMPLES / "ga_voice_conversation.jsonl").read_bytes() + b"{cut")
    result = run("report", str(broken))
    assert result.exit_code == 1 and "1 line(s) could not be read" in result.stderr
    assert "Latency (ms)" in result.stdout
    result = run("report", "--db", str(tmp_path / "none.duckdb"))
    assert result.exit_code == 2 and "no such database" in result.stderr


def test_query_formats(sample_db):
    sql = "select turn, category from turn_latency order by session_id, turn limit 2"
    table = run("query", sql, "--db", str(sample_db))
    assert table.exit_code == 0 and table.stdout.splitlines()[0].split() == ["turn", "category"]
    csv = run("query", sql, "--db", str(sample_db), "--format", "csv")
    assert csv.stdout.splitlines()[0] == "turn,category" and len(csv.stdout.splitlines()) == 3
    as_json = json.loads(run("query", sql, "--db", str(sample_db), "--format", "json").stdout)
    assert [set(r) for r in as_json] == [{"turn", "category"}] * 2
    piped = CliRunner().invoke(
        main, ["query", "-", "--db", str(sample_db)], input="select count(*) as n from sessions"
    )
    assert piped.exit_code == 0 and "(1 row)" in piped.stdout
    bad = run("query", "selec 1", "--db", str(sample_db))
    assert bad.exit_code == 2 and "SQL error" in bad.stderr


def test_a_close_without_a_code_says_who_closed_it(tmp_path):
    """A browser capture's close line carries `code: null` (no WebSocket closed)."""
    sample = REPO / "sample_logs" / "ga_voice_conversation.jsonl"
    *lines, close = sample.read_text().splitlines()
    ended = json.loads(close)
    ended["close"]["code"] = None
    path = tmp_path / "call.jsonl"
    path.write_text("\n".join([*lines, json.dumps(ended)]) + "\n")
    result = CliRunner().invoke(main, ["report", str(path)])
    assert result.exit_code == 0, result.output
    [started] = [ln for ln in result.output.splitlines() if ln.startswith("Started ")]
    assert started.endswith(" · closed by client")

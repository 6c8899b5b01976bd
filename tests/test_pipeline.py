"""Ingest into a real DuckDB file: inputs, replacement on re-ingest, cores, Parquet, CLI."""

from __future__ import annotations

import gzip
import shutil
import subprocess
import sys
import zlib
from pathlib import Path

import duckdb
import orjson
import pytest
from builders import Session, b64, ga_session, usage
from click.testing import CliRunner

from rtlens.cli import main
from rtlens.ingest import max_line_bytes
from rtlens.ingest.pipeline import expand_inputs, ingest
from rtlens.logfile.reader import InputError
from rtlens.schema import TABLE_NAMES

SAMPLE = str(Path(__file__).resolve().parent.parent / "sample_logs" / "ga_rate_limited.jsonl")


def make_session(path: Path, session_id: str, turns: int) -> Path:
    s = Session(session_id)
    s.server(0, "session.created", session=ga_session())
    t = 100
    for n in range(turns):
        s.client(t, "input_audio_buffer.append", audio=b64(9600))
        s.server(t + 100, "input_audio_buffer.speech_started", audio_start_ms=0, item_id=f"u{n}")
        s.server(t + 900, "input_audio_buffer.speech_stopped", audio_end_ms=800, item_id=f"u{n}")
        s.server(t + 950, "input_audio_buffer.committed", item_id=f"u{n}")
        s.server(t + 1000, "response.created", response={"id": f"{session_id}-r{n}"})
        s.server(
            t + 1300,
            "response.output_audio.delta",
            response_id=f"{session_id}-r{n}",
            delta=b64(4800),
        )
        s.server(
            t + 1400,
            "response.done",
            response={
                "id": f"{session_id}-r{n}",
                "status": "completed",
                "usage": usage(10, 10, 5, 5),
            },
        )
        t += 2000
    return s.write(path)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "recs"
    (root / "sub").mkdir(parents=True)
    for i in range(6):
        make_session(root / ("sub" if i % 2 else ".") / f"s{i}.jsonl", f"sess-{i}", turns=i + 1)
    (root / "notes.txt").write_text("not a recording")
    return root


def dump(db: Path) -> dict[str, list[tuple]]:
    con = duckdb.connect(str(db), read_only=True)
    out = {}
    for name in TABLE_NAMES:
        rows = con.execute(f"SELECT * EXCLUDE (session_id) FROM {name}").fetchall()
        out[name] = sorted(rows, key=repr)
    con.close()
    return out


def test_folder_ingest_counts(folder, tmp_path):
    result = ingest([folder], tmp_path / "a.duckdb")
    assert (result.files, result.sessions, result.ingest_errors) == (6, 6, 0)
    con = duckdb.connect(str(tmp_path / "a.duckdb"))
    assert con.execute("SELECT count(*) FROM turns").fetchone() == (21,)  # 1+2+...+6
    assert con.execute("SELECT count(*) FROM events").fetchone()[0] == result.events
    assert con.execute("SELECT min(v2v_ms), max(v2v_ms) FROM turns").fetchone() == (400, 400)


def test_parallel_and_serial_ingest_give_identical_tables(folder, tmp_path):
    ingest([folder], tmp_path / "serial.duckdb", workers=0)
    ingest([folder], tmp_path / "parallel.duckdb", workers=3)
    ingest([folder], tmp_path / "one.duckdb", workers=1)
    serial = dump(tmp_path / "serial.duckdb")
    assert serial == dump(tmp_path / "parallel.duckdb")
    assert serial == dump(tmp_path / "one.duckdb")


def test_rows_inserted_in_many_small_batches_land_the_same(folder, tmp_path, monkeypatch):
    from rtlens.ingest import pipeline, workers

    ingest([folder], tmp_path / "usual.duckdb", workers=0)
    monkeypatch.setattr(pipeline, "_FLUSH_SMALL_ROWS", 1)  # other tables: after every file
    monkeypatch.setattr(workers, "FLUSH_LINES", 3)  # events: a file of 3 lines at a time
    ingest([folder], tmp_path / "batched.duckdb", workers=0)
    assert dump(tmp_path / "batched.duckdb") == dump(tmp_path / "usual.duckdb")


def test_reingesting_replaces_never_duplicates(folder, tmp_path):
    db = tmp_path / "r.duckdb"
    ingest([folder], db)
    before = dump(db)
    ingest([folder / "s0.jsonl"], db)
    ingest([folder], db)
    assert dump(db) == before
    make_session(folder / "s0.jsonl", "sess-0", turns=3)  # the recording changed
    ingest([folder / "s0.jsonl"], db)
    con = duckdb.connect(str(db))
    assert con.execute("SELECT n_turns FROM sessions WHERE session_id = 'sess-0'").fetchone() == (
        3,
    )
    assert con.execute("SELECT count(*) FROM turns WHERE session_id = 'sess-0'").fetchone() == (3,)


def test_a_moved_recording_replaces_its_session(folder, tmp_path):
    db = tmp_path / "m.duckdb"
    ingest([folder], db)
    moved = tmp_path / "moved.jsonl"
    shutil.move(folder / "s2.jsonl", moved)
    ingest([moved], db)
    con = duckdb.connect(str(db))
    assert con.execute("SELECT count(*) FROM sessions").fetchone() == (6,)
    assert con.execute(
        "SELECT source_file FROM sessions WHERE session_id = 'sess-2'"
    ).fetchone() == (str(moved),)


def test_the_same_session_twice_in_one_run_is_skipped_and_reported(folder, tmp_path):
    copy = tmp_path / "copy.jsonl"
    shutil.copy(folder / "sub" / "s1.jsonl", copy)
    result = ingest([folder, copy], tmp_path / "d.duckdb")
    assert result.sessions == 6 and len(result.skipped) == 1
    assert "same session id" in result.skipped[0]


def test_globs_gzip_and_missing_inputs(folder, tmp_path):
    gz = tmp_path / "z.jsonl.gz"
    gz.write_bytes(
        gzip.compress((folder / "sub" / "s3.jsonl").read_bytes().replace(b"sess-3", b"zz"))
    )
    files = expand_inputs([str(folder / "**" / "s[12].jsonl"), gz])
    assert sorted(f.name for f in files) == ["s1.jsonl", "s2.jsonl", "z.jsonl.gz"]
    result = ingest(files, tmp_path / "g.duckdb")
    assert result.sessions == 3
    with pytest.raises(InputError, match="no such file"):
        expand_inputs([tmp_path / "nope.jsonl"])
    empty = tmp_path / "empty_dir"
    empty.mkdir()
    with pytest.raises(InputError, match="no recordings in this folder"):
        expand_inputs([empty])


def test_parquet_has_the_same_tables(folder, tmp_path):
    db, pq = tmp_path / "p.duckdb", tmp_path / "pq"
    ingest([folder], db, parquet_dir=pq)
    con = duckdb.connect(str(db))
    for name in TABLE_NAMES:
        expected = con.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
        if expected == 0:
            continue
        got = con.execute(
            f"SELECT count(*) FROM read_parquet('{pq}/{name}/**/*.parquet', hive_partitioning=true)"
        ).fetchone()[0]
        assert got == expected, name
    dates = con.execute(
        f"SELECT DISTINCT date FROM read_parquet('{pq}/turns/**/*.parquet', hive_partitioning=true)"
    ).fetchall()
    assert [str(d[0]) for d in dates] == ["2025-11-25"]


def test_cli_ingest_reports_problems_per_file_and_exits_1(folder, tmp_path):
    bad = folder / "bad.jsonl"
    bad.write_text('{"type": "session.created", "session": {}}\n{oops\n')
    runner = CliRunner()
    result = runner.invoke(main, ["ingest", str(folder), "--db", str(tmp_path / "c.duckdb")])
    assert result.exit_code == 1
    assert f"{bad}: 1 line(s) in ingest_errors (line 2: invalid JSON" in result.stderr
    assert "Ingested 7 file(s): 7 session(s)" in result.stdout
    con = duckdb.connect(str(tmp_path / "c.duckdb"))
    assert con.execute("SELECT line_no, raw FROM ingest_errors").fetchall() == [(2, "{oops")]


def test_cli_ingest_usage_errors_exit_2(tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["ingest", str(tmp_path / "missing.jsonl")])
    assert result.exit_code == 2
    assert "missing.jsonl: no such file or folder" in result.stderr
    result = runner.invoke(main, ["ingest"])
    assert result.exit_code == 2


def test_an_empty_file_is_an_error_not_a_session(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    result = ingest([empty], tmp_path / "e.duckdb")
    assert result.sessions == 0 and result.ingest_errors == 1
    assert result.problems[0].first == "empty file: no events"


def test_the_writer_process_never_imports_the_normalizer_or_its_workers_duckdb(folder, tmp_path):
    """The writer is the busier process: the workers import (and run) the normalizer, and
    are forked before the writer imports DuckDB, and the writer imports DuckDB's engine
    alone, not the package's slow-to-import Python layer (see `rtlens.store.engine`)."""
    import importlib.util
    import subprocess
    import sys

    code = (
        "import os, sys\n"
        "from rtlens.ingest.pipeline import ingest\n"
        "import rtlens.ingest.workers as w\n"
        "_worker = w._worker\n"
        "def spy(*args):\n"
        "    seen = '_duckdb' in sys.modules or 'duckdb' in sys.modules\n"
        "    line = f'worker saw duckdb: {seen}\\n'\n"
        "    os.write(1, line.encode())  # one write: the two workers' lines stay whole\n"
        "    _worker(*args)\n"
        "w._worker = spy\n"
        f"ingest([{str(folder)!r}], {str(tmp_path / 'w.duckdb')!r}, workers=2)\n"
        "print('writer has normalizer:', 'rtlens.ingest.normalize' in sys.modules)\n"
        "print('writer has the engine:', '_duckdb' in sys.modules)\n"
        "print('writer has the package:', 'duckdb' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert "writer has normalizer: False" in done.stdout
    assert done.stdout.count("worker saw duckdb: False") == 2
    if importlib.util.find_spec("_duckdb") is not None:  # DuckDB 1.4 and later
        assert "writer has the engine: True" in done.stdout
        assert "writer has the package: False" in done.stdout


def test_the_engine_rtlens_imports_is_the_one_callers_import():
    """A caller's `import duckdb` and rtlens's engine make the same objects."""
    import duckdb

    from rtlens.store.engine import duckdb as engine

    assert engine.connect is duckdb.connect
    assert engine.DuckDBPyConnection is duckdb.DuckDBPyConnection
    assert isinstance(engine.connect(":memory:"), duckdb.DuckDBPyConnection)


def test_an_absurd_time_on_an_audio_line_costs_that_line_not_the_run(tmp_path):
    """Audio lines take the reader's own path (the audio is cut out before parsing); it once
    let a ts of 1e300 through that the ordinary path refuses, and the run stopped."""
    path = tmp_path / "absurd-audio.jsonl"
    audio = b64(4800)
    lines = [
        {"rtlens": 1, "session_id": "s-absurd-audio", "started_at": "2026-01-01T00:00:00Z"},
        {"ts": 1.0, "dir": "server", "event": {"type": "response.created", "response": {}}},
        {
            "ts": 1e300,
            "dir": "server",
            "event": {"type": "response.output_audio.delta", "response_id": "r", "delta": audio},
        },
        {
            "ts": 1.2,
            "dir": "client",
            "event": {"type": "input_audio_buffer.append", "audio": audio},
        },
        {
            "ts": -1e300,
            "dir": "client",
            "event": {"type": "input_audio_buffer.append", "audio": audio},
        },
    ]
    path.write_bytes(b"\n".join(orjson.dumps(line) for line in lines) + b"\n")
    result = ingest([path], tmp_path / "a.duckdb", workers=0)
    con = duckdb.connect(str(tmp_path / "a.duckdb"), read_only=True)
    errors = con.execute("SELECT line_no, error FROM ingest_errors ORDER BY ALL").fetchall()
    assert [line_no for line_no, _ in errors] == [3, 5]
    assert all("'ts' must be a number of seconds" in error for _, error in errors)
    assert result.events == 2
    kept = con.execute("SELECT line_no, audio_bytes FROM events ORDER BY line_no").fetchall()
    assert kept == [(2, None), (4, 4800)]


def test_numbers_too_large_for_the_tables_cost_their_line_or_field_not_the_run(tmp_path):
    """Valid JSON numbers no recorder writes (a ts of 1e300, 2**64 - 1 tokens, a close code
    of 2**64 - 1) once stopped the whole run with a DuckDB conversion error."""
    path = tmp_path / "absurd.jsonl"
    lines = [
        {"rtlens": 1, "session_id": "s-absurd", "started_at": "2026-01-01T00:00:00Z"},
        {"ts": 1e300, "dir": "server", "event": {"type": "session.created", "session": {}}},
        {
            "ts": 1.5,
            "dir": "server",
            "event": {"type": "response.created", "response": {"id": "r"}},
        },
        {"ts": 1.6, "dir": "server", "audio_bytes": 2**64 - 1, "event": {"type": "error"}},
        {
            "ts": 2.0,
            "dir": "server",
            "event": {
                "type": "response.done",
                "response": {
                    "id": "r",
                    "status": "completed",
                    "usage": {"total_tokens": 1e300, "input_tokens": 2**64 - 1, "output_tokens": 5},
                },
            },
        },
        {"ts": 2.5, "close": {"by": "server", "code": 2**64 - 1}},
    ]
    path.write_bytes(b"\n".join(orjson.dumps(line) for line in lines) + b"\n")
    result = ingest([path], tmp_path / "a.duckdb", workers=0)
    con = duckdb.connect(str(tmp_path / "a.duckdb"), read_only=True)
    errors = con.execute("SELECT line_no, error FROM ingest_errors ORDER BY ALL").fetchall()
    assert [line_no for line_no, _ in errors] == [2, 4, 5, 5]
    assert "'ts' must be a number of seconds" in errors[0][1]
    assert "'audio_bytes' must be a byte count" in errors[1][1]
    assert all("less than 2**53" in error for _, error in errors[2:])
    assert result.events == 2  # response.created and response.done are kept
    row = con.execute(
        "SELECT output_tokens, input_tokens, total_tokens FROM responses WHERE response_id = 'r'"
    ).fetchone()
    assert row == (5, None, None)
    assert con.execute("SELECT close_by, close_code FROM sessions").fetchone() == ("server", None)


def test_each_insert_passes_only_the_sessions_of_its_own_files(tmp_path, monkeypatch):
    """An event file's INSERT gets the session ids of the files its lines come from, not of
    every file so far: with thousands of files, the latter grew the cost of every insert."""
    import rtlens.ingest.workers as workers
    from rtlens.store import db as store

    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(30):
        make_session(folder / f"s{i:02}.jsonl", f"sess-{i}", turns=3)  # 22 lines each
    ingest([folder], tmp_path / "whole.duckdb", workers=0)
    passed: list[dict[int, str]] = []
    append = store.append_event_files

    def spy(con, paths, sessions):
        passed.append(dict(sessions))
        append(con, paths, sessions)

    monkeypatch.setattr(store, "append_event_files", spy)
    monkeypatch.setattr(workers, "FLUSH_LINES", 30)  # an event file per file or two
    ingest([folder], tmp_path / "split.duckdb", workers=0)
    assert len(passed) >= 15
    assert max(len(sessions) for sessions in passed) <= 2
    assert sorted(i for sessions in passed for i in sessions) == list(range(30))
    assert dump(tmp_path / "split.duckdb") == dump(tmp_path / "whole.duckdb")


def test_odd_lines_that_once_stopped_or_emptied_a_file_cost_their_line_at_most(tmp_path):
    """Through the CLI: audio of a lone "=" and a `dir` that is a list once stopped the whole
    file (IndexError, TypeError); a `close` key next to an event once dropped the event."""
    path = tmp_path / "odd.jsonl"
    lines = [
        b'{"rtlens":1,"session_id":"s-odd","started_at":"2026-01-01T00:00:00Z"}',
        b'{"ts":1.0,"dir":"server","event":{"type":"session.created","session":{}}}',
        b'{"ts":1.100000,"dir":"client","event":{"type":"input_audio_buffer.append","audio":"="}}',
        b'{"ts":1.2,"dir":"client","event":{"type":"input_audio_buffer.append","audio":"\\u003d"}}',
        b'{"ts":1.3,"dir":["client"],"event":{"type":"error"}}',
        b'{"ts":1.4,"dir":"client","event":{"type":"response.create"},"close":{"by":"client"}}',
        b'{"ts":1.5,"dir":"server","event":{"type":"response.created","response":{"id":"r"}}}',
        b'{"ts":2.0,"close":{"by":"client","code":1000,"reason":""}}',
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    db = tmp_path / "odd.duckdb"
    result = CliRunner().invoke(main, ["ingest", str(path), "--db", str(db)])
    assert result.exit_code == 1
    assert f"{path}: 1 line(s) in ingest_errors (line 5: 'dir' must be" in result.stderr
    con = duckdb.connect(str(db), read_only=True)
    events = con.execute("SELECT line_no, type, audio_bytes FROM events ORDER BY line_no")
    assert events.fetchall() == [
        (2, "session.created", None),
        (3, "input_audio_buffer.append", 0),
        (4, "input_audio_buffer.append", 0),
        (6, "response.create", None),
        (7, "response.created", None),
    ]
    errors = con.execute("SELECT line_no, error FROM ingest_errors").fetchall()
    assert errors == [(5, "'dir' must be 'client' or 'server'")]
    assert con.execute("SELECT close_by FROM sessions").fetchall() == [("client",)]


def test_a_truncated_gzip_loads_up_to_its_last_whole_line(tmp_path):
    s = Session("s-cut")
    s.server(0, "session.created", session=ga_session())
    for n in range(3000):
        s.client(n, "input_audio_buffer.append", audio=b64(97 + n % 50), event_id=f"e{n}")
    packed = gzip.compress(s.text())
    cut = packed[: len(packed) // 2]
    whole = zlib.decompressobj(31).decompress(cut).count(b"\n")
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(cut)
    db = tmp_path / "cut.duckdb"
    result = CliRunner().invoke(main, ["ingest", str(path), "--db", str(db)])
    assert result.exit_code == 1
    con = duckdb.connect(str(db), read_only=True)
    lines = con.execute("SELECT line_no FROM events ORDER BY line_no").fetchall()
    assert [n for (n,) in lines] == list(range(2, whole + 1))
    [(line_no, error)] = con.execute("SELECT line_no, error FROM ingest_errors").fetchall()
    assert line_no == whole + 1  # the first line not loaded
    assert error.startswith("unreadable from here on: Compressed file ended")


# The event's depth: orjson writes 254 levels; it reads 1,024 (the line: one more).
@pytest.mark.parametrize("depth", [255, 1023])
def test_an_event_nested_too_deep_to_store_costs_its_line_only(tmp_path, depth):
    """orjson reads what it cannot write back: such a line once lost its whole file behind a
    `Recursion limit reached` traceback."""
    path = tmp_path / "deep.jsonl"
    item = b"[" * (depth - 1) + b"]" * (depth - 1)  # inside the event's object
    lines = [
        b'{"rtlens":1,"session_id":"s-deep","started_at":"2026-01-01T00:00:00Z"}',
        b'{"ts":1.0,"dir":"server","event":{"type":"session.created","session":{}}}',
        b'{"ts":1.1,"dir":"client","event":{"type":"conversation.item.create","item":%b}}' % item,
        b'{"ts":1.5,"dir":"server","event":{"type":"response.created","response":{"id":"r"}}}',
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    assert lines[2].count(b"[") == depth - 1  # the event object + depth - 1 arrays
    db = tmp_path / "deep.duckdb"
    result = CliRunner().invoke(main, ["ingest", str(path), SAMPLE, "--db", str(db)])
    assert result.exit_code == 1
    line = f"{path}: 1 line(s) in ingest_errors (line 3: event nested more than 254 levels deep"
    assert line in result.stderr
    con = duckdb.connect(str(db), read_only=True)
    events = con.execute("SELECT line_no FROM events WHERE session_id = 's-deep' ORDER BY 1")
    assert events.fetchall() == [(2,), (4,)]  # lines 2 and 4: all but the deep one
    errors = con.execute("SELECT line_no, error FROM ingest_errors").fetchall()
    assert errors == [(3, "event nested more than 254 levels deep: cannot be stored")]
    assert con.execute("SELECT count(*) FROM sessions").fetchone() == (2,)  # and the sample


def test_the_longest_line_read_is_an_eighth_of_duckdbs_cap():
    assert max_line_bytes("128MB") == 16_000_000  # 128 * 10**6 / 8
    assert max_line_bytes("1 GiB") == 134_217_728  # 2**30 / 8
    assert max_line_bytes("512kb") == 64_000


@pytest.mark.parametrize("workers", [0, 2])
def test_a_line_too_long_for_the_memory_cap_costs_that_line_and_the_fleet_loads(
    folder, tmp_path, workers
):
    """A 100 MB line once stopped the whole run (DuckDB out of memory), with nothing loaded
    and 630-890 MB held; here the cap is 16MB, so lines over 2,000,000 bytes are skipped."""
    big = folder / "big.jsonl"
    s = Session("s-big")
    s.server(0, "session.created", session=ga_session())
    s.client(10, "session.update", session={"instructions": "x" * 5_000_000})
    s.server(20, "session.updated", session=ga_session())
    s.write(big)
    size = len(big.read_bytes().splitlines()[2])  # line 3: header, session.created, it
    assert size > 5_000_000
    db = tmp_path / "big.duckdb"
    argv = ["ingest", str(folder), "--db", str(db), "--memory-limit", "16MB"]
    # In a process of its own, as the CLI runs: workers forked from this one, where DuckDB's
    # threads ran in earlier tests, may crash on their first large allocation.
    result = subprocess.run(
        [sys.executable, "-m", "rtlens", *argv, "--workers", str(workers)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    message = (
        f"line of {size:,} bytes is longer than the 2,000,000 ingest reads "
        "(raise --memory-limit to read it): skipped"
    )
    assert f"{big}: 1 line(s) in ingest_errors (line 3: {message})" in result.stderr
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(*) FROM sessions").fetchone() == (7,)  # the 6 and big
    events = con.execute("SELECT line_no FROM events WHERE session_id = 's-big' ORDER BY 1")
    assert events.fetchall() == [(2,), (4,)]
    errors = con.execute("SELECT source_file, line_no, error, raw FROM ingest_errors")
    assert errors.fetchall() == [(str(big.resolve()), 3, message, None)]

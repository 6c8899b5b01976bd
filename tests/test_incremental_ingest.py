"""Incremental ingest (issue 19 item 1): the database remembers the files it loaded; a run
reads only new and changed files, replaces the sessions of changed ones, `--full` reads all.

Expected counts come from the fixture: six recordings of `sess-0` .. `sess-5`, with 1 .. 6
turns each (so 21 turns in all)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner
from test_pipeline import dump, make_session

from rtlens.cli import main
from rtlens.ingest.pipeline import ingest
from rtlens.logfile.stamp import FINGERPRINT_BYTES


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "recs"
    root.mkdir()
    for i in range(6):
        make_session(root / f"s{i}.jsonl", f"sess-{i}", turns=i + 1)
    return root


def counts(result) -> tuple[int, int, int, int, int]:
    return result.new, result.changed, result.unchanged, result.sessions, result.events


def scalar(db: Path, sql: str):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchone()[0]
    finally:
        con.close()


def test_an_unchanged_folder_is_skipped_and_its_tables_kept(folder, tmp_path):
    db = tmp_path / "i.duckdb"
    first = ingest([folder], db)
    assert (first.new, first.changed, first.unchanged, first.sessions) == (6, 0, 0, 6)
    before = dump(db)
    again = ingest([folder], db)
    assert counts(again) == (0, 0, 6, 0, 0)  # nothing read: no session, no event loaded
    assert dump(db) == before
    assert scalar(db, "SELECT count(*) FROM rtlens_files") == 6


def test_new_files_are_read_and_old_ones_skipped(folder, tmp_path):
    db = tmp_path / "n.duckdb"
    ingest([folder], db)
    make_session(folder / "s6.jsonl", "sess-6", turns=2)
    result = ingest([folder], db)
    assert counts(result)[:4] == (1, 0, 6, 1)
    assert scalar(db, "SELECT count(*) FROM turns") == 21 + 2


def test_a_growing_recording_is_read_again_and_replaced(folder, tmp_path):
    """A recording still being written: first half, then the whole. The rows after the
    second run equal those of the whole file ingested once."""
    whole = make_session(tmp_path / "whole.jsonl", "sess-grow", turns=4)
    lines = whole.read_bytes().splitlines(keepends=True)
    growing = folder / "growing.jsonl"
    growing.write_bytes(b"".join(lines[: len(lines) // 2]))
    db = tmp_path / "g.duckdb"
    ingest([folder], db)
    turns_half = scalar(db, "SELECT count(*) FROM turns WHERE session_id = 'sess-grow'")
    assert turns_half < 4
    with growing.open("ab") as f:
        f.write(b"".join(lines[len(lines) // 2 :]))
    result = ingest([folder], db)
    assert counts(result)[:4] == (0, 1, 6, 1)
    assert scalar(db, "SELECT count(*) FROM turns WHERE session_id = 'sess-grow'") == 4
    assert scalar(db, "SELECT count(*) FROM sessions WHERE session_id = 'sess-grow'") == 1

    # the same rows as the whole recording ingested alone into a fresh database
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(whole, alone / "growing.jsonl")
    fresh = tmp_path / "fresh.duckdb"
    ingest([folder / f"s{i}.jsonl" for i in range(6)] + [alone / "growing.jsonl"], fresh)
    mine, theirs = dump(db), dump(fresh)
    for table in mine:  # every row but the file's own path
        strip = [tuple(v for v in row if v != str(growing.resolve())) for row in mine[table]]
        strip2 = [
            tuple(v for v in row if v != str((alone / "growing.jsonl").resolve()))
            for row in theirs[table]
        ]
        assert sorted(strip, key=repr) == sorted(strip2, key=repr), table


def test_a_rewrite_with_the_same_size_and_mtime_is_seen(folder, tmp_path):
    """Only the fingerprint tells: the last turn's response id changes (its lines are the
    file's last, within the fingerprinted tail), the file keeps its size and mtime."""
    db = tmp_path / "f.duckdb"
    ingest([folder], db)
    path = folder / "s2.jsonl"
    info = path.stat()
    data = path.read_bytes()
    assert data.rfind(b"sess-2-r2") > len(data) - FINGERPRINT_BYTES
    path.write_bytes(data.replace(b"sess-2-r2", b"sess-2-rX"))
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
    assert path.stat().st_size == info.st_size and path.stat().st_mtime_ns == info.st_mtime_ns
    result = ingest([folder], db)
    assert counts(result)[:4] == (0, 1, 5, 1)
    ids = scalar(
        db,
        "SELECT string_agg(response_id, ',' ORDER BY response_id) FROM responses "
        "WHERE session_id = 'sess-2'",
    )
    assert ids == "sess-2-r0,sess-2-r1,sess-2-rX"


def test_another_rtlens_version_reads_again(folder, tmp_path):
    db = tmp_path / "v.duckdb"
    ingest([folder], db)
    con = duckdb.connect(str(db))
    con.execute("UPDATE rtlens_files SET rtlens_version = '0.0.1' WHERE source_file LIKE '%s4%'")
    con.close()
    assert counts(ingest([folder], db))[:4] == (0, 1, 5, 1)


def test_full_reads_everything_and_changes_nothing(folder, tmp_path):
    db = tmp_path / "full.duckdb"
    ingest([folder], db)
    before = dump(db)
    result = ingest([folder], db, full=True)
    assert counts(result)[:4] == (0, 0, 6, 6)
    assert dump(db) == before


def test_a_session_taken_over_by_another_file_forgets_the_first(folder, tmp_path):
    """A copy of s3 elsewhere replaces sess-3's rows: s3 is no longer what provides them, so
    the next run of the folder reads s3 again (and takes the session back)."""
    db = tmp_path / "t.duckdb"
    ingest([folder], db)
    copy = tmp_path / "copy.jsonl"
    shutil.copy(folder / "s3.jsonl", copy)
    ingest([copy], db)
    known = scalar(
        db, f"SELECT count(*) FROM rtlens_files WHERE source_file = '{(folder / 's3.jsonl')}'"
    )
    assert known == 0
    result = ingest([folder], db)
    assert counts(result)[:4] == (1, 0, 5, 1)
    source = scalar(db, "SELECT source_file FROM sessions WHERE session_id = 'sess-3'")
    assert source == str((folder / "s3.jsonl").resolve())


def test_an_empty_recording_that_fills_up_is_read_again(folder, tmp_path):
    """A recording just started (empty: one error row, "empty file") and the same file
    later: it is changed, its session loads and its old error row goes."""
    db = tmp_path / "x.duckdb"
    (folder / "s1.jsonl").write_bytes(b"")
    first = ingest([folder], db)
    assert (first.new, first.sessions, first.ingest_errors) == (6, 5, 1)
    assert counts(ingest([folder], db))[:4] == (0, 0, 6, 0)
    assert scalar(db, "SELECT count(*) FROM ingest_errors") == 1  # kept while skipped
    make_session(folder / "s1.jsonl", "sess-1", turns=2)
    result = ingest([folder], db)
    assert counts(result)[:4] == (0, 1, 5, 1)
    assert scalar(db, "SELECT count(*) FROM ingest_errors") == 0
    assert scalar(db, "SELECT count(*) FROM turns WHERE session_id = 'sess-1'") == 2


def test_the_cli_says_what_was_new_changed_and_skipped(folder, tmp_path):
    db = str(tmp_path / "c.duckdb")
    runner = CliRunner()
    first = runner.invoke(main, ["ingest", str(folder), "--db", db])
    assert first.exit_code == 0, first.output
    assert "6 new, 0 changed, 0 unchanged" in first.stdout
    make_session(folder / "s0.jsonl", "sess-0", turns=3)  # changed: 3 turns instead of 1
    second = runner.invoke(main, ["ingest", str(folder), "--db", db])
    assert second.exit_code == 0, second.output
    assert "0 new, 1 changed, 5 unchanged: skipped" in second.stdout
    assert "1 session(s)" in second.stdout
    full = runner.invoke(main, ["ingest", str(folder), "--db", db, "--full"])
    assert "0 new, 0 changed, 6 unchanged: read again (--full)" in full.stdout
    assert "6 session(s)" in full.stdout


def test_real_paths_resolve_as_realpath_does(tmp_path):
    """Each folder is resolved once; symlinked files and folders and `..` still resolve."""
    from rtlens.ingest.pipeline import real_paths

    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.jsonl").write_text("")
    (tmp_path / "link").symlink_to(tmp_path / "a")
    (tmp_path / "y.jsonl").symlink_to(tmp_path / "a" / "x.jsonl")
    files = [
        tmp_path / "link" / "x.jsonl",
        tmp_path / "y.jsonl",
        tmp_path / "a" / ".." / "a" / "x.jsonl",
        tmp_path / "a" / "x.jsonl",
        Path("x.jsonl"),
    ]
    real = str((tmp_path / "a" / "x.jsonl").resolve())
    assert real_paths(files)[:4] == [real] * 4
    assert real_paths(files) == [os.path.realpath(f) for f in files]

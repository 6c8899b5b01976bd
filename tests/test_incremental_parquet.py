"""Incremental Parquet (issue 19 item 2): `--parquet DIR` writes a run's sessions into new
files and removes or rewrites only the files of sessions it replaced; DuckDB and polars
read the same rows back as the database holds, after every run.

The fixture's recordings: `sess-0` .. `sess-5` with 1 .. 6 turns (21 turns)."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest
from test_pipeline import make_session

from rtlens.ingest.pipeline import ingest
from rtlens.schema import TABLE_NAMES, TABLES


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "recs"
    root.mkdir()
    for i in range(6):
        make_session(root / f"s{i}.jsonl", f"sess-{i}", turns=i + 1)
    return root


def files_state(pq: Path) -> dict[str, int]:
    """Every Parquet file with its mtime: a file rewritten or replaced shows."""
    return {str(p.relative_to(pq)): p.stat().st_mtime_ns for p in pq.rglob("*.parquet")}


def same_as_database(db: Path, pq: Path) -> None:
    con = duckdb.connect(str(db), read_only=True)
    try:
        for name in TABLE_NAMES:
            cols = ", ".join(f'"{c}"' for c in TABLES[name].column_names)
            theirs = con.execute(f"SELECT {cols} FROM {name}").fetchall()
            glob = f"{pq}/{name}/**/*.parquet"
            mine = con.execute(
                f"SELECT {cols} FROM read_parquet('{glob}', hive_partitioning = true)"
            ).fetchall()
            assert sorted(mine, key=repr) == sorted(theirs, key=repr), name
            frame = pl.read_parquet(glob, hive_partitioning=True)
            assert frame.height == len(theirs), name
    finally:
        con.close()


def turns_per_session(pq: Path) -> dict[str, int]:
    rows = duckdb.sql(
        f"SELECT session_id, count(*) FROM read_parquet('{pq}/turns/**/*.parquet') GROUP BY 1"
    ).fetchall()
    return dict(rows)


def test_each_run_writes_only_what_changed(folder, tmp_path):
    db, pq = tmp_path / "p.duckdb", tmp_path / "pq"
    ingest([folder], db, parquet_dir=pq)
    same_as_database(db, pq)
    assert turns_per_session(pq) == {f"sess-{i}": i + 1 for i in range(6)}
    first = files_state(pq)

    ingest([folder], db, parquet_dir=pq)  # nothing changed: no file touched
    assert files_state(pq) == first

    make_session(folder / "s6.jsonl", "sess-6", turns=2)  # a new recording: new files only
    ingest([folder], db, parquet_dir=pq)
    second = files_state(pq)
    assert {k: v for k, v in second.items() if k in first} == first
    added = set(second) - set(first)
    assert added and all(Path(p).name.startswith("run-") for p in added)
    same_as_database(db, pq)
    assert turns_per_session(pq)["sess-6"] == 2

    make_session(folder / "s6.jsonl", "sess-6", turns=3)  # it grew: its run's files go
    ingest([folder], db, parquet_dir=pq)
    third = files_state(pq)
    assert {k: v for k, v in third.items() if k in first} == first  # the first run's kept
    assert not (added & set(third))  # the files that held only sess-6 are gone
    same_as_database(db, pq)
    assert turns_per_session(pq)["sess-6"] == 3

    make_session(folder / "s0.jsonl", "sess-0", turns=4)  # one of the first run's sessions
    ingest([folder], db, parquet_dir=pq)
    same_as_database(db, pq)
    assert turns_per_session(pq) == {
        "sess-0": 4,
        **{f"sess-{i}": i + 1 for i in range(1, 6)},
        "sess-6": 3,
    }


def test_a_folder_with_files_missing_is_written_whole(folder, tmp_path):
    db, pq = tmp_path / "m.duckdb", tmp_path / "pq"
    ingest([folder], db, parquet_dir=pq)
    shutil.rmtree(pq / "turns")
    make_session(folder / "s6.jsonl", "sess-6", turns=2)
    ingest([folder], db, parquet_dir=pq)
    same_as_database(db, pq)
    assert sum(turns_per_session(pq).values()) == 21 + 2


def test_a_new_folder_gets_every_table(folder, tmp_path):
    """The same database exported to a second folder: that folder is new to it."""
    db = tmp_path / "n.duckdb"
    ingest([folder], db, parquet_dir=tmp_path / "one")
    ingest([folder], db, parquet_dir=tmp_path / "two")  # every file unchanged
    same_as_database(db, tmp_path / "two")


def test_file_errors_are_replaced_when_their_file_is_read_again(folder, tmp_path):
    """A file that fails whole has an error row of its own; read again, the row is replaced,
    never duplicated, in the Parquet as in the database."""
    db, pq = tmp_path / "e.duckdb", tmp_path / "pq"
    (folder / "bad.jsonl.gz").write_bytes(b"not gzip at all")
    ingest([folder], db, parquet_dir=pq)
    ingest([folder], db, parquet_dir=pq)
    same_as_database(db, pq)
    errors = duckdb.sql(
        f"SELECT count(*) FROM read_parquet('{pq}/ingest_errors/**/*.parquet') "
        "WHERE source_file LIKE '%bad.jsonl.gz'"
    ).fetchall()
    assert errors == [(1,)]

"""The incremental normalizer (`rtlens.ingest.live`): a recording fed a few lines at a time
gives exactly the rows `normalize_file` gives for the whole file, at every cut."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from rtlens.ingest.live import LiveSession
from rtlens.ingest.normalize import normalize_file

SAMPLES = sorted((Path(__file__).parent.parent / "sample_logs").glob("*.jsonl"))


def feed_in_batches(path: Path, seed: int) -> LiveSession:
    lines = path.read_bytes().splitlines(keepends=True)
    live = LiveSession(path)
    rng = random.Random(seed)
    at = 0
    while at < len(lines):
        n = rng.choice((1, 1, 2, 3, 7, 40))
        live.feed(b"".join(lines[at : at + n]))
        at += n
    return live


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_batches_give_the_whole_file_rows(path: Path) -> None:
    whole = normalize_file(path, sink=lambda lines, tuples: None)
    for seed in (1, 2):
        live = feed_in_batches(path, seed)
        tables = live.tables()
        assert tables is not None
        assert tables.session_id == whole.session_id
        assert tables.n_events == whole.n_events
        for name, rows in whole.rows.items():
            assert tables.rows[name] == rows, name


def test_settled_turns_never_change(tmp_path: Path) -> None:
    """Each turn's row, once settled by the rule, equals its row in the finished file."""
    checked = 0
    for path in SAMPLES:
        final = normalize_file(path, sink=lambda lines, tuples: None).rows["turns"]
        lines = path.read_bytes().splitlines(keepends=True)
        live = LiveSession(path)
        for line in lines:
            live.feed(line)
            n = live.settled_turns()
            if n:
                tables = live.tables()
                assert tables is not None
                assert tables.rows["turns"][:n] == final[:n], path.name
                checked += n
        live.closed = True
        assert live.settled_turns() == len(final)
    assert checked > 100  # the rule settled turns before the end, in most files


@pytest.mark.parametrize("batch", [1, 7])
def test_rows_published_by_the_rule_are_final(batch: int) -> None:
    """Every row `Progress` hands out before the close (a settled turn's, its responses,
    barge-ins, tool calls, transcription; errors, rate limits) equals its row in the finished
    file, for every table: none is revised at the close, and each is handed out once."""
    from rtlens.live.progress import KEYS, Progress

    early = 0
    for path in SAMPLES:
        whole = normalize_file(path, sink=lambda lines, tuples: None).rows
        lines = path.read_bytes().splitlines(keepends=True)
        live, progress = LiveSession(path), Progress(str(path))
        seen: dict[str, int] = dict.fromkeys(KEYS, 0)
        for at in range(0, len(lines), batch):
            live.feed(b"".join(lines[at : at + batch]))
            tables = live.tables()
            handed = progress.take(tables, live.settled_turns(), final=False) if tables else None
            if handed is not None:
                early += len(handed.new["turns"])
                for name, rows in handed.new.items():
                    seen[name] += len(rows)
        live.closed = True
        tables = live.tables()
        assert tables is not None
        last = progress.take(tables, live.settled_turns(), final=True)
        assert last is not None
        for name, rows in last.new.items():
            seen[name] += len(rows)
        assert progress.revised == 0, path.name
        assert seen == {name: len(whole[name]) for name in KEYS}, path.name
    assert early > 0  # the rule settles turns before the close (not all at the end)

"""The events table as DuckDB derives it from the normalizer's event lines: values that
could break a delimited line, JSON too long for a line, ids that are not strings."""

from __future__ import annotations

from pathlib import Path

import duckdb
import orjson
import pytest
from builders import Session, b64, ga_session
from click.testing import CliRunner

from rtlens.cli import main
from rtlens.eventlines import MAX_LINE_RAW
from rtlens.ingest import normalize
from rtlens.ingest.pipeline import ingest


def events(db: Path) -> list[dict]:
    con = duckdb.connect(str(db), read_only=True)
    cur = con.execute("SELECT * FROM events ORDER BY seq")
    cols = [d[0] for d in cur.description]
    rows = [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
    con.close()
    return rows


def test_awkward_text_survives_the_trip_through_duckdb(tmp_path):
    # Control characters (0x1F is the field separator), newlines, quotes, backslashes, the
    # literal word None (the NULL marker) and non-ASCII text, in values and in ids.
    awkward = 'a\x1fb\nc"d\\e None é 🎙'
    s = Session("awkward")
    s.server(0, "session.created", session=ga_session())
    s.client(10, "conversation.item.create", event_id=awkward, item={"id": "None", "type": "x"})
    s.server(20, "error", error={"type": "invalid_request_error", "message": awkward})
    s.raw(b'{"ts":1764067052.03,"dir":"client","text":"not json \\u001f None"}')
    db = tmp_path / "rt.duckdb"
    ingest([s.write(tmp_path / "a.jsonl")], db)
    rows = events(db)
    assert [r["type"] for r in rows] == [
        "session.created",
        "conversation.item.create",
        "error",
        None,
    ]
    assert rows[1]["event_id"] == awkward
    assert rows[1]["item_id"] == "None"  # a string, not NULL
    assert orjson.loads(rows[2]["raw"])["error"]["message"] == awkward
    assert orjson.loads(rows[3]["raw"]) == {"text": "not json \x1f None"}
    assert [r["known"] for r in rows] == [True, True, True, False]


@pytest.mark.parametrize("chunk_bytes", [1, 4 << 20], ids=["chunk-per-event", "one-chunk"])
def test_events_too_long_for_a_line_land_the_same_way(tmp_path, monkeypatch, chunk_bytes):
    monkeypatch.setattr(normalize, "LONG_CHUNK_BYTES", chunk_bytes)
    long_text = "x" * (MAX_LINE_RAW + 10)
    s = Session("long")
    s.server(0, "session.created", session=ga_session())
    for n in range(3):
        s.client(10 + n, "input_audio_buffer.append", audio=b64(4800))
        s.client(
            20 + n,
            "conversation.item.create",
            event_id=f"e{n}",
            item={"id": f"i{n}", "type": "message", "content": [{"text": long_text}]},
        )
    db = tmp_path / "rt.duckdb"
    ingest([s.write(tmp_path / "long.jsonl")], db)
    rows = events(db)
    assert [r["seq"] for r in rows] == list(range(7))
    creates = [r for r in rows if r["type"] == "conversation.item.create"]
    assert [(r["event_id"], r["item_id"], r["known"]) for r in creates] == [
        ("e0", "i0", True),
        ("e1", "i1", True),
        ("e2", "i2", True),
    ]
    assert all(len(r["raw"]) > MAX_LINE_RAW for r in creates)
    assert orjson.loads(creates[0]["raw"])["item"]["content"][0]["text"] == long_text
    assert [r["audio_bytes"] for r in rows if r["type"] == "input_audio_buffer.append"] == [
        4800
    ] * 3
    assert rows[-1]["t_ms"] == pytest.approx(22.0)


def test_ids_that_are_not_strings_are_kept_as_json_text(tmp_path):
    s = Session("odd")
    s.server(0, "response.created", response={"id": 7}, event_id=["a", 1])
    s.server(1, "response.output_item.added", response_id=None, response={"id": "r1"})
    s.server(2, "mystery.event", item={"id": {"deep": True}})
    db = tmp_path / "rt.duckdb"
    ingest([s.write(tmp_path / "odd.jsonl")], db)
    rows = events(db)
    assert [(r["event_id"], r["response_id"], r["item_id"]) for r in rows] == [
        ('["a",1]', "7", None),
        (None, "r1", None),
        (None, None, '{"deep":true}'),
    ]
    assert [(r["type"], r["known"]) for r in rows][2] == ("mystery.event", False)


def test_memory_limit_option_is_checked(tmp_path):
    path = (
        Session("m").server(0, "session.created", session=ga_session()).write(tmp_path / "m.jsonl")
    )
    runner = CliRunner()
    bad = runner.invoke(
        main, ["ingest", str(path), "--db", str(tmp_path / "x.duckdb"), "--memory-limit", "lots"]
    )
    assert bad.exit_code == 2
    assert "not a size" in bad.output
    good = runner.invoke(
        main, ["ingest", str(path), "--db", str(tmp_path / "x.duckdb"), "--memory-limit", "1GB"]
    )
    assert good.exit_code == 0, good.output


def test_the_append_shortcut_does_all_that_the_catalogue_route_would():
    """normalize handles APPEND records inline instead of through ROUTES: that is right only
    while appends prove no dialect and their handler does nothing but count audio."""
    from rtlens.ingest.handlers import turns
    from rtlens.ingest.state import SessionState

    _route, vote, handler = normalize.ROUTES[normalize._APPEND_KEY]
    assert vote is None
    assert handler is turns.append
    import copy

    st = SessionState("s", "f")
    before = copy.deepcopy(vars(st))
    handler(st, 1.0, {"type": "input_audio_buffer.append", "audio": ""}, 960)
    changed = {k for k, v in vars(st).items() if before.get(k) != v}
    assert changed == {"input_audio_bytes"} and st.input_audio_bytes == 960


def test_events_reach_the_sink_in_bounded_chunks_whatever_their_kind(tmp_path):
    """Appends, other events and non-JSON frames all count towards a chunk, so a recording
    of nothing but text frames is streamed too, not held until its end."""
    s = Session("chunks")
    s.server(0, "session.created", session=ga_session())
    for n in range(5):
        s.client(10 + n, "input_audio_buffer.append", audio=b64(960), event_id=f"a{n}")
    for n in range(7):
        s.raw(b'{"ts":1764067052.1,"dir":"client","text":"not json %d"}' % n)
    sizes: list[int] = []
    result = normalize.normalize_file(
        s.write(tmp_path / "c.jsonl"), sink=lambda lines, _t: sizes.append(len(lines)), chunk_rows=3
    )
    assert sum(sizes) == result.n_events == 13
    assert max(sizes) <= 3

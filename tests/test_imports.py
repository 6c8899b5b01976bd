"""Captures from other tools (issue 17 item 1): a HAR's `_webSocketMessages` and a DevTools
frame list ingest, by content, into the same rows as the relay's recording of the same
session; anything else that is JSON but not a recording is one clear line, exit 1.

The captures are built here from a real relay recording (the `ga_manual_turns` sample, its
audio kept), each frame becoming the message DevTools shows: `send` for the app's, `receive`
for the server's, `time` in epoch seconds, `data` the frame's text."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import orjson
import pytest
from click.testing import CliRunner

from rtlens.cli import main

SAMPLE = Path(__file__).resolve().parent.parent / "sample_logs" / "ga_manual_turns.jsonl"
KEY = "sk-proj-importtestabcdefghijklmnop0123"
COMPARED = ("turns", "responses", "transcriptions", "rate_limits", "function_calls", "errors")


def messages() -> list[dict]:
    out = []
    for line in SAMPLE.read_bytes().splitlines()[1:]:
        frame = orjson.loads(line)
        if "event" not in frame:
            continue
        out.append(
            {
                "type": "send" if frame["dir"] == "client" else "receive",
                "time": float(frame["ts"]),
                "opcode": 1,
                "data": orjson.dumps(frame["event"]).decode(),
            }
        )
    return out


def har(browser: str, msgs: list[dict]) -> dict:
    return {
        "log": {
            "version": "1.2",
            "creator": {"name": browser, "version": "1"},
            "entries": [
                {"request": {"method": "GET", "url": "https://example.com/", "headers": []}},
                {
                    "request": {
                        "method": "GET",
                        "url": "wss://api.openai.com/v1/realtime?model=gpt-realtime",
                        "headers": [
                            {"name": "Authorization", "value": f"Bearer {KEY}"},
                            {"name": "User-Agent", "value": browser},
                        ],
                    },
                    "response": {"status": 101},
                    "_resourceType": "websocket",
                    "_webSocketMessages": msgs,
                },
            ],
        }
    }


def ingest(path: Path, db: Path) -> object:
    return CliRunner().invoke(main, ["ingest", str(path), "--db", str(db), "--workers", "0"])


def rows(db: Path, table: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        cols = [
            c
            for (c,) in con.execute(
                "SELECT column_name FROM duckdb_columns() WHERE table_name = ?", [table]
            ).fetchall()
            if c not in ("session_id", "source_file")
        ]
        select = ", ".join(f'"{c}"' for c in cols)
        return sorted(con.execute(f"SELECT {select} FROM {table}").fetchall(), key=repr)


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("orig") / "orig.duckdb"
    assert ingest(SAMPLE, db).exit_code == 0
    return db


@pytest.mark.parametrize("shape", ["Chromium HAR", "Firefox HAR", "DevTools frame list"])
def test_a_capture_gives_the_rows_of_the_recording(shape, original, tmp_path):
    msgs = messages()
    path = tmp_path / ("frames.json" if "list" in shape else "call.har")
    doc = msgs if "list" in shape else har(shape.split()[0], msgs)
    path.write_text(json.dumps(doc, indent=2))  # as browsers save them: pretty-printed
    db = tmp_path / "imp.duckdb"
    result = ingest(path, db)
    assert result.exit_code == 0, result.output
    for table in COMPARED:
        assert rows(db, table) == rows(original, table), table
    with duckdb.connect(str(db), read_only=True) as con:
        n_events = con.execute("SELECT count(*) FROM events").fetchone()[0]
        source = con.execute("SELECT source FROM sessions").fetchone()[0]
    assert n_events == len(msgs)
    assert source == "import"
    assert KEY.encode() not in db.read_bytes()


def test_the_header_names_the_tool_and_keeps_headers_by_the_allowlist(tmp_path):
    from rtlens.logfile import imports

    data = json.dumps(har("Chromium", messages()[:3])).encode()
    header = orjson.loads(imports.convert(imports.HAR, data, "x.har").splitlines()[0])
    assert (header["source"], header["imported_from"]) == ("import", "har")
    assert header["upstream"] == "wss://api.openai.com/v1/realtime?model=gpt-realtime"
    assert dict(map(tuple, header["request"]["headers"])) == {
        "Authorization": "<redacted>",
        "User-Agent": "Chromium",
    }


def test_a_frame_that_is_not_json_is_kept_as_text(tmp_path):
    msgs = [*messages()[:4], {"type": "receive", "time": 1764071196.0, "data": "ping?"}]
    path = tmp_path / "frames.json"
    path.write_text(json.dumps(msgs))
    db = tmp_path / "t.duckdb"
    result = ingest(path, db)
    assert result.exit_code == 0, result.output
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM events").fetchone()[0] == 5


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        (
            "nows.har",
            {"log": {"version": "1.2", "entries": [{"request": {"url": "https://x"}}]}},
            "a HAR file with no WebSocket messages",
        ),
        (
            "config.json",
            {"model": "gpt-realtime", "voice": "alloy"},
            "a JSON object with keys model, voice, not a recording",
        ),
    ],
)
def test_other_json_is_one_clear_line_and_exit_1(name, content, says, tmp_path):
    path = tmp_path / name
    path.write_text(json.dumps(content, indent=2))
    result = ingest(path, tmp_path / "x.duckdb")
    assert result.exit_code == 1
    [line] = [x for x in result.stderr.splitlines() if str(path) in x]
    assert says in line


def test_a_mitmproxy_dump_without_the_extra_names_the_extra(tmp_path):
    try:
        import mitmproxy  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("mitmproxy is installed: tests/test_imports_mitmproxy.py reads real dumps")
    path = tmp_path / "call.flows"
    payload = b"4:type;4:http;"  # a tnetstring dict, as `mitmdump -w` writes each flow
    path.write_bytes(b"%d:%s}" % (len(payload), payload))
    result = ingest(path, tmp_path / "x.duckdb")
    assert result.exit_code == 1
    [line] = [x for x in result.stderr.splitlines() if str(path) in x]
    assert "a mitmproxy flow dump" in line and "pip install 'rtlens[mitmproxy]'" in line

"""Secrets in every place a client can put them never reach a recording, a DuckDB file or a
Parquet export: through the real relay on loopback and through the library hook, then
`rtlens ingest`. Each secret is grepped in the bytes, in every escaped spelling, and in the
decoded content (JSON strings unescaped, binary frames base64-decoded, DuckDB rows read).

The keys are built at run time (no key-shaped literal in the repo) and unique per placement,
so a failure names the placement that leaked.
"""

from __future__ import annotations

import base64
import contextlib
import secrets
from pathlib import Path
from typing import Any

import duckdb
import orjson
from click.testing import CliRunner
from relay_helpers import App, ScriptedUpstream, async_test, read_recording
from websockets.asyncio.client import connect

from rtlens.cli import main
from rtlens.logfile.writer import SessionWriter
from rtlens.recording import record_connection, serve_relay

REALTIME = "/v1/realtime?model=gpt-realtime"


def _sk(tag: str) -> str:
    return "sk-" + tag + "-" + secrets.token_hex(16)


# One secret per placement (values are random; names say where each one goes).
S = {
    "authorization": _sk("auth"),
    "api_key_header": secrets.token_hex(16),  # an Azure key: 32 hex characters
    "custom_header": "tok_" + secrets.token_hex(12),  # not key-shaped: only the allowlist helps
    "query_key": _sk("query"),
    "query_token": "tok" + secrets.token_hex(10),
    "subprotocol_sk": _sk("proto"),
    "subprotocol_azure": secrets.token_hex(16),
    "frame_plain": _sk("plain"),
    "frame_u002d": _sk("uesc"),
    "frame_all_escaped": _sk("allesc"),
    "frame_in_name": _sk("name"),
    "frame_embedded": _sk("emb"),
    "binary_raw": _sk("braw"),
    "binary_b64": _sk("bb64"),
    "text_not_json": _sk("txt"),
}


def escaped_spellings(secret: str) -> list[bytes]:
    """The secret as bytes, plus the JSON spellings a file could hold it in."""
    plain = secret.encode()
    out = [plain, plain.replace(b"-", b"\\u002d"), plain.replace(b"-", b"\\u002D")]
    out.append("".join(f"\\u{ord(c):04x}" for c in secret).encode())
    return out


def fragments(secret: str) -> list[bytes]:
    """Pieces that must not survive either (a partial redaction still leaks the key)."""
    body = secret.split("-")[-1] if "-" in secret else secret
    return [*escaped_spellings(secret), body[:20].encode()]


def decoded_view(path: Path) -> bytes:
    """A recording's content with JSON unescaped and binary frames decoded."""
    out = []
    for raw in path.read_bytes().splitlines():
        line = orjson.loads(raw)
        out.append(orjson.dumps(line))
        if "binary" in line:
            data = base64.b64decode(line["binary"])
            out.append(data)
            with contextlib.suppress(ValueError):  # a frame of base64 text, decoded once more
                out.append(base64.b64decode(data, validate=True))
        out.extend(value.encode("utf-8", "surrogatepass") for value in _strings(line))
    return b"\n".join(out)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def assert_nothing_leaked(where: str, data: bytes) -> None:
    leaks = [
        f"{name} ({piece!r})"
        for name, secret in S.items()
        for piece in fragments(secret)
        if piece in data
    ]
    assert not leaks, f"leaked into {where}: {', '.join(leaks)}"


def escaped_frames() -> list[tuple[bytes, bool]]:
    """Every frame placement the app sends: (payload, is_text)."""
    all_escaped = "".join(f"\\u{ord(c):04x}" for c in S["frame_all_escaped"])
    return [
        (
            orjson.dumps({"type": "session.update", "session": {"instructions": S["frame_plain"]}}),
            True,
        ),
        (
            b'{"type":"conversation.item.create","note":"'
            + S["frame_u002d"].replace("-", "\\u002d").encode()
            + b'","url":"https:\\/\\/example.com\\/x"}',
            True,
        ),
        (b'{"type":"test.note","note":"' + all_escaped.encode() + b'"}', True),
        (
            b'{"type":"test.note","'
            + S["frame_in_name"].replace("-", "\\u002d").encode()
            + b'":1}',
            True,
        ),
        (orjson.dumps({"type": "test.note", "note": "X_" + S["frame_embedded"]}), True),
        (b"\x00\x01key=" + S["binary_raw"].encode() + b"\xff", False),
        (base64.b64encode(b"key=" + S["binary_b64"].encode()), False),
        (("my key is " + S["text_not_json"] + " ok").encode(), True),
    ]


HEADERS = {
    "Authorization": "Bearer " + S["authorization"],
    "api-key": S["api_key_header"],
    "X-Custom-Token": S["custom_header"],
    "OpenAI-Beta": "realtime=v1",
}
QUERY = f"{REALTIME}&api-key={S['query_key']}&token={S['query_token']}"
SUBPROTOCOLS = [
    "realtime",
    "openai-insecure-api-key." + S["subprotocol_sk"],
    "openai-insecure-api-key." + S["subprotocol_azure"],
]


async def drive(app: App) -> None:
    """Send every placement; wait for the upstream's echoes of the non-JSON ones."""
    await app.recv_until("session.created")
    for payload, is_text in escaped_frames():
        await app.send(payload, text=is_text)
        if not is_text:
            await app.recv_frame((False, b"echo:" + payload))
        elif not payload.startswith(b"{"):
            await app.recv_frame((True, b"echo: " + payload))
    await app.send({"type": "response.create"})
    await app.recv_until("rate_limits.updated")
    await app.ws.close(1000, "done " + S["frame_plain"])


def ingest_and_grep(out_dir: Path, tmp_path: Path) -> None:
    db = tmp_path / "rt.duckdb"
    parquet = tmp_path / "parquet"
    result = CliRunner().invoke(
        main, ["ingest", str(out_dir), "--db", str(db), "--parquet", str(parquet), "--workers", "0"]
    )
    assert result.exit_code == 0, result.output
    assert_nothing_leaked(str(db), db.read_bytes())
    with duckdb.connect(str(db), read_only=True) as con:
        tables = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
        assert "events" in tables
        rows = []
        for table in tables:
            rows.extend(repr(r) for r in con.execute(f'SELECT * FROM "{table}"').fetchall())
        n_events = con.execute("SELECT count(*) FROM events").fetchone()
    assert n_events is not None and n_events[0] > len(escaped_frames())
    assert_nothing_leaked(f"{db} rows", "\n".join(rows).encode())
    files = list(parquet.rglob("*.parquet"))
    assert files
    for file in files:
        assert_nothing_leaked(str(file), file.read_bytes())
    with duckdb.connect() as con:
        text = repr(
            con.execute(f"SELECT * FROM read_parquet('{parquet}/events/**/*.parquet')").fetchall()
        )
    assert_nothing_leaked("parquet events rows", text.encode())


def check_recording(path: Path) -> None:
    assert_nothing_leaked(str(path), path.read_bytes())
    assert_nothing_leaked(f"{path} (decoded)", decoded_view(path))
    rec = read_recording(path)
    headers = {name.lower(): value for name, value in rec.header["request"]["headers"]}
    # Allowlisted headers kept as sent, every other value replaced.
    assert headers["openai-beta"] == "realtime=v1"
    assert headers["authorization"] == "<redacted>"
    assert headers["api-key"] == "<redacted>"
    assert headers["x-custom-token"] == "<redacted>"
    assert headers["sec-websocket-protocol"] == (
        "realtime, openai-insecure-api-key.<redacted>, openai-insecure-api-key.<redacted>"
    )
    # Every frame is recorded (redacted, not dropped): 8 placements sent by the app.
    client = [f for f in rec.frames if f["dir"] == "client"]
    assert len(client) == len(escaped_frames()) + 1  # + response.create
    embedded = client[4]["event"]["note"]
    assert embedded == "X_<redacted>"


@async_test
async def test_relay_keeps_every_secret_out_of_file_db_and_parquet(tmp_path: Path) -> None:
    out = tmp_path / "rec"
    async with (
        ScriptedUpstream() as upstream,
        serve_relay("127.0.0.1", 0, upstream=upstream.url, out_dir=out) as relay,
    ):
        app = await App.connect(
            relay.url + QUERY, additional_headers=HEADERS, subprotocols=SUBPROTOCOLS
        )
        await drive(app)
        session = upstream.sessions[0]
        await session.closed
    # The relay forwards secrets untouched (the API needs them): only the file is redacted.
    assert session.headers["X-Custom-Token"] == S["custom_header"]
    assert [f[1] for f in session.received[: len(escaped_frames())]] == [
        p for p, _ in escaped_frames()
    ]
    (path,) = out.glob("*.jsonl")
    check_recording(path)
    ingest_and_grep(out, tmp_path)


@async_test
async def test_hook_keeps_every_secret_out_of_file_db_and_parquet(tmp_path: Path) -> None:
    out = tmp_path / "rec"
    async with ScriptedUpstream() as upstream:
        ws = await connect(
            upstream.url + QUERY,
            additional_headers=HEADERS,
            subprotocols=SUBPROTOCOLS,  # type: ignore[arg-type]
            max_size=None,
        )
        recorded = record_connection(ws, out)
        app = App(recorded)  # type: ignore[arg-type]
        await drive(app)
        await upstream.sessions[0].closed
    (path,) = out.glob("*.jsonl")
    check_recording(path)
    ingest_and_grep(out, tmp_path)


def test_ingest_never_unescapes_a_key_into_events_raw(tmp_path: Path) -> None:
    """A recording from elsewhere (bare event JSONL) holding an escaped key: ingest decodes
    the JSON and re-encodes it for `events.raw`, where the key must not appear in plain."""
    key = S["frame_u002d"]
    src = tmp_path / "foreign.jsonl"
    src.write_bytes(
        b'{"type":"conversation.item.create","note":"'
        + key.replace("-", "\\u002d").encode()
        + b'"}\n'
    )
    db = tmp_path / "rt.duckdb"
    result = CliRunner().invoke(main, ["ingest", str(src), "--db", str(db), "--workers", "0"])
    assert result.exit_code == 0, result.output
    with duckdb.connect(str(db), read_only=True) as con:
        row = con.execute("SELECT raw FROM events").fetchone()
    assert row is not None
    assert orjson.loads(row[0])["note"] == "<redacted>"
    assert key.encode() not in db.read_bytes()


def test_a_frame_too_deep_to_re_encode_loses_its_escaped_key(tmp_path: Path) -> None:
    """orjson writes 254 levels at most: a deeper frame is recorded from its bytes, where the
    key's escapes are spelled out before the scan. A literal `\\u002d` (escaped backslash)
    is text, not an escape, and stays as sent."""
    key = _sk("deep")
    escaped = key.replace("-", "\\u002d").encode()
    frame = b'{"type":"test.deep","k":"' + escaped + b'","lit":"a\\\\u002db","n":'
    frame += b"[" * 300 + b"]" * 300 + b"}"
    writer = SessionWriter(tmp_path, source="library", upstream=None)
    writer.write_text("client", frame)
    writer.write_close("client", 1000, "")
    (path,) = tmp_path.glob("*.jsonl")
    data = path.read_bytes()
    assert key.encode() not in data and escaped not in data
    line = orjson.loads(data.splitlines()[1])
    assert line["event"]["k"] == "<redacted>"
    assert line["event"]["lit"] == "a\\u002db"  # backslash, u, 0, 0, 2, d: as sent


def test_ingest_keeps_an_escaped_key_out_of_every_table(tmp_path: Path) -> None:
    """The tables built from a parsed event (session instructions, transcripts, function
    arguments) see the event after its key is scrubbed, not the decoded key."""
    key = _sk("tables")
    escaped = key.replace("-", "\\u002d")
    lines = [
        '{"type":"session.update","session":{"instructions":"use ' + escaped + '"}}',
        '{"type":"session.updated","session":{"instructions":"use ' + escaped + '"}}',
        '{"type":"response.done","response":{"id":"r1","status":"completed","output":'
        '[{"type":"function_call","name":"f","call_id":"c1","arguments":"{\\"k\\":\\"'
        + escaped
        + '\\"}"}]}}',
    ]
    src = tmp_path / "foreign.jsonl"
    src.write_text("\n".join(lines) + "\n")
    db = tmp_path / "rt.duckdb"
    result = CliRunner().invoke(main, ["ingest", str(src), "--db", str(db), "--workers", "0"])
    assert result.exit_code == 0, result.output
    with duckdb.connect(str(db), read_only=True) as con:
        for (table,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall():
            for row in con.execute(f"SELECT * FROM {table}").fetchall():
                assert key not in repr(row), table
    assert key.encode() not in db.read_bytes()

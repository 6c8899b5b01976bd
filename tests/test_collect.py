"""POST /collect on the relay's listen address: what it takes, what it refuses, and how.

The relay runs for real on 127.0.0.1 (`serve_relay`); requests are raw HTTP/1.1 over a
socket, as a browser would send them. Every refusal must be one JSON error to the peer and
one line on the terminal, and leave nothing behind that ingest cannot read.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest

from rtlens.logfile.redact import SAFE_HEADERS
from rtlens.recording import serve_relay
from rtlens.recording.capture_script import capture_js
from rtlens.recording.collect_http import CollectPolicy

ORIGIN = "http://localhost:5173"
KEY = "0123456789abcdef0123456789abcdef"
T0 = 1_796_000_000_000.0  # ms since the epoch, as the page's clock gives them


def batch(seq: int, events: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"rtlens_capture": 1, "call": KEY, "seq": seq, "events": events}
    if seq == 0:
        body["open"] = {
            "started": T0,
            "page": f"{ORIGIN}/app?token=page-secret",
            "user_agent": "test",
            "exchange": {
                "method": "POST",
                "url": "https://api.openai.com/v1/realtime/calls",
                "headers": [["Authorization", "<redacted>"], ["Content-Type", "application/sdp"]],
                "status": 201,
                "response_headers": [["location", "/v1/realtime/calls/rtc_abc123"]],
            },
        }
    body.update(extra)
    return body


def event(ms: float, direction: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {"ts": T0 + ms, "dir": direction, "text": json.dumps(payload)}


def http(port: int, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send one request, read the answer to the end (the collector closes)."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(raw)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    return int(status_line.split(" ")[1]), headers, body


def post(port: int, body: bytes, origin: str | None = ORIGIN) -> tuple[int, dict[str, str], Any]:
    head = [
        "POST /collect HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Content-Type: text/plain;charset=UTF-8",
        f"Content-Length: {len(body)}",
    ]
    if origin is not None:
        head.append(f"Origin: {origin}")
    status, headers, answer = http(port, ("\r\n".join(head) + "\r\n\r\n").encode() + body)
    return status, headers, json.loads(answer) if answer else None


class Lines(list):
    """The relay's terminal lines; `until` waits for one (on the loop that appends them)."""

    def __init__(self) -> None:
        super().__init__()
        self.changed = asyncio.Event()

    def append(self, line: str) -> None:
        super().append(line)
        self.changed.set()

    async def until(self, text: str) -> None:
        while not any(text in line for line in self):
            self.changed.clear()
            await asyncio.wait_for(self.changed.wait(), 60)


async def with_relay(tmp_path: Path, work: Any, **options: Any) -> list[str]:
    lines = Lines()
    async with serve_relay(
        "127.0.0.1",
        0,
        upstream="ws://127.0.0.1:9",
        out_dir=tmp_path,
        report=lines.append,
        **options,
    ) as relay:
        await work(relay, lines)
    return lines


def ingest(path: Path, db: Path) -> duckdb.DuckDBPyConnection:
    done = subprocess.run(
        [sys.executable, "-m", "rtlens", "ingest", str(path), "--db", str(db)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return duckdb.connect(str(db), read_only=True)


def test_a_call_in_two_batches_is_one_file_ingest_reads_as_webrtc(tmp_path):
    created = {"type": "session.created", "event_id": "event_1", "session": {"type": "realtime"}}
    update = {"type": "session.update", "session": {"instructions": "key sk-proj-abcdefghijklmnop"}}
    answers: list[Any] = []

    async def work(relay, _lines):
        first = batch(0, [event(10, "server", created), event(12.5, "client", update)])
        answers.append(await asyncio.to_thread(post, relay.port, json.dumps(first).encode()))
        close = {"ts": T0 + 40, "by": "client", "reason": "pc.close()"}
        second = batch(1, [event(30, "server", {"type": "session.updated"})], close=close)
        answers.append(await asyncio.to_thread(post, relay.port, json.dumps(second).encode()))

    lines = asyncio.run(with_relay(tmp_path, work))
    (s0, h0, a0), (s1, _h1, a1) = answers
    assert (s0, a0) == (200, {"ok": True, "call": KEY, "seq": 0, "events": 2})
    assert (s1, a1) == (200, {"ok": True, "call": KEY, "seq": 1, "events": 1})
    assert h0["access-control-allow-origin"] == ORIGIN
    [path] = tmp_path.glob("*.jsonl")
    assert path.name.endswith(f"_{KEY}.jsonl")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert "sk-proj-abcdefghijklmnop" not in text and "page-secret" not in text
    header, *frames, close = [json.loads(line) for line in text.splitlines()]
    assert header["source"] == "browser" and header["session_id"] == KEY
    assert header["started_at"] == "2026-11-30T00:53:20.000000Z"  # T0
    assert header["call_id"] == "rtc_abc123"
    assert header["upstream"] == "https://api.openai.com/v1/realtime/calls"
    assert header["request"]["headers"][0] == ["Authorization", "<redacted>"]
    assert [(f["ts"], f["dir"]) for f in frames] == [
        (1_796_000_000.010, "server"),
        (1_796_000_000.0125, "client"),
        (1_796_000_000.030, "server"),
    ]
    assert frames[0]["event"] == created
    assert close == {
        "ts": 1_796_000_000.04,
        "close": {"by": "client", "code": None, "reason": "pc.close()"},
    }
    assert [line.split()[1] for line in lines] == ["open", "close"]
    assert "by client 'pc.close()', 0.0 s, 3 events" in lines[1]
    con = ingest(path, tmp_path / "rt.duckdb")
    row = con.execute("select source, transport, n_events, duration_ms from sessions").fetchone()
    assert row == ("browser", "webrtc", 3, 30.0)  # first event to the close line


@pytest.mark.parametrize(
    ("body", "origin", "status", "code"),
    [
        (b"not json at all", ORIGIN, 400, "invalid_json"),
        (
            b'{"rtlens_capture": 1, "call": "nothex", "seq": 0, "events": []}',
            ORIGIN,
            400,
            "invalid_batch",
        ),
        (json.dumps(batch(3, [])).encode(), ORIGIN, 404, "unknown_call"),
        (json.dumps(batch(0, [])).encode(), "https://evil.example", 403, "origin_not_allowed"),
        (json.dumps(batch(0, [])).encode(), "null", 403, "origin_not_allowed"),
        (b"x" * 5000, ORIGIN, 413, "batch_too_large"),
    ],
    ids=["not-json", "not-a-batch", "unknown-call", "other-origin", "file-origin", "too-large"],
)
def test_a_refused_post_is_one_error_and_one_line_and_writes_nothing(
    tmp_path, body, origin, status, code
):
    answers: list[Any] = []

    async def work(relay, _lines):
        answers.append(await asyncio.to_thread(post, relay.port, body, origin))

    policy = CollectPolicy(max_bytes=4096)
    lines = asyncio.run(with_relay(tmp_path, work, collect_policy=policy))
    [(got_status, _headers, answer)] = answers
    assert got_status == status
    assert answer["error"]["code"] == code and answer["error"]["message"]
    [line] = lines
    assert "ERROR  POST /collect from 127.0.0.1:" in line and f": {status} {code}: " in line
    assert list(tmp_path.iterdir()) == []


def test_origins_named_on_the_command_line_replace_the_loopback_default(tmp_path):
    answers: list[Any] = []
    app = "https://app.example.com"

    async def work(relay, _lines):
        body = json.dumps(batch(0, [])).encode()
        answers.append(await asyncio.to_thread(post, relay.port, body, ORIGIN))
        answers.append(await asyncio.to_thread(post, relay.port, body, app))

    policy = CollectPolicy(origins=(app + "/",))
    asyncio.run(with_relay(tmp_path, work, collect_policy=policy))
    assert [a[0] for a in answers] == [403, 200]
    assert CollectPolicy().allows_peer("127.0.0.1") and CollectPolicy().allows_peer("::1")
    assert not CollectPolicy().allows_peer("192.168.1.20")
    assert CollectPolicy(remote=True).allows_peer("192.168.1.20")


def test_a_preflight_is_answered_for_an_allowed_origin(tmp_path):
    answers: list[Any] = []

    async def work(relay, _lines):
        raw = (
            f"OPTIONS /collect HTTP/1.1\r\nHost: x\r\nOrigin: {ORIGIN}\r\n"
            "Access-Control-Request-Method: POST\r\n\r\n"
        ).encode()
        answers.append(await asyncio.to_thread(http, relay.port, raw))

    asyncio.run(with_relay(tmp_path, work))
    [(status, headers, body)] = answers
    assert status == 204 and body == b""
    assert headers["access-control-allow-origin"] == ORIGIN
    assert headers["access-control-allow-methods"] == "POST"


def test_a_call_the_page_stopped_reporting_on_ends_with_a_close_line_after_the_idle_time(
    tmp_path,
):
    answers: list[Any] = []

    async def work(relay, lines):
        first = batch(0, [event(5, "server", {"type": "session.created"})])
        answers.append(await asyncio.to_thread(post, relay.port, json.dumps(first).encode()))
        await lines.until(" close ")  # the idle timer's line
        late = batch(1, [event(9000, "server", {"type": "session.updated"})])
        answers.append(await asyncio.to_thread(post, relay.port, json.dumps(late).encode()))

    lines = asyncio.run(with_relay(tmp_path, work, collect_idle_s=0.2))
    assert [a[0] for a in answers] == [200, 410]
    assert answers[1][2]["error"]["code"] == "call_ended"
    [path] = tmp_path.glob("*.jsonl")
    _header, frame, close = [json.loads(line) for line in path.read_text().splitlines()]
    assert frame["event"] == {"type": "session.created"}
    assert close["close"] == {
        "by": "relay",
        "code": None,
        "reason": "rtlens collector: nothing from the page for 0.2 s",
    }
    assert "by relay 'rtlens collector: nothing from the page for 0.2 s'" in lines[1]
    assert ": 410 call_ended: " in lines[2]
    ingest(path, tmp_path / "rt.duckdb")


def test_stopping_the_relay_closes_the_open_calls(tmp_path):
    async def work(relay, _lines):
        first = batch(0, [event(5, "server", {"type": "session.created"})])
        await asyncio.to_thread(post, relay.port, json.dumps(first).encode())

    asyncio.run(with_relay(tmp_path, work))
    [path] = tmp_path.glob("*.jsonl")
    *_, close = [json.loads(line) for line in path.read_text().splitlines()]
    assert close["close"] == {"by": "relay", "code": None, "reason": "rtlens relay: shutting down"}


def test_the_script_is_printed_and_served_with_its_collector_and_the_header_allowlist(tmp_path):
    printed = subprocess.run(
        [sys.executable, "-m", "rtlens", "capture-js", "--collect-url", "http://h:1/collect"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert printed.returncode == 0
    assert 'var COLLECT = "http://h:1/collect";' in printed.stdout
    assert json.dumps(sorted(SAFE_HEADERS), separators=(",", ":")) in printed.stdout
    assert "authorization" not in json.dumps(sorted(SAFE_HEADERS))
    served: list[Any] = []

    async def work(relay, _lines):
        raw = b"GET /capture.js HTTP/1.1\r\nHost: x\r\n\r\n"
        served.append((relay.port, await asyncio.to_thread(http, relay.port, raw)))

    asyncio.run(with_relay(tmp_path, work))
    [(port, (status, headers, body))] = served
    assert status == 200 and headers["content-type"].startswith("text/javascript")
    assert body.decode() == capture_js(f"http://127.0.0.1:{port}/collect")
    bad = subprocess.run(
        [sys.executable, "-m", "rtlens", "capture-js", "--collect-url", "ftp://x"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2 and "http:// or https://" in bad.stderr


def test_a_batch_resent_from_pagehide_is_written_once(tmp_path):
    answers: list[Any] = []
    first = batch(0, [event(5, "server", {"type": "session.created"})])
    second = batch(1, [event(8, "client", {"type": "response.create"})])
    third = batch(2, [event(9, "server", {"type": "response.created"})])

    async def work(relay, _lines):
        # the last one's first try never arrived: resent, it is written
        bodies = [first, second, {**first, "resent": True}, {**second, "resent": True}]
        bodies.append({**third, "resent": True})
        for body in bodies:
            answer = await asyncio.to_thread(post, relay.port, json.dumps(body).encode())
            answers.append(answer)

    asyncio.run(with_relay(tmp_path, work))
    assert [(a[0], a[2]["events"]) for a in answers] == [
        (200, 1),
        (200, 1),
        (200, 0),
        (200, 0),
        (200, 1),
    ]
    [path] = tmp_path.glob("*.jsonl")
    _header, *frames, _close = [json.loads(line) for line in path.read_text().splitlines()]
    assert [f["event"]["type"] for f in frames] == [
        "session.created",
        "response.create",
        "response.created",
    ]


def test_rtlens_record_takes_the_origins_it_is_given(tmp_path):
    """The real program: --collect-origin reaches every worker; Ctrl-C counts the call."""
    app = "https://app.example.com"
    proc = subprocess.Popen(
        [
            *[sys.executable, "-m", "rtlens", "record", "--listen", "127.0.0.1:0"],
            *["--workers", "2", "--upstream", "ws://127.0.0.1:9", "--out", str(tmp_path)],
            *["--collect-origin", app],
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        listening = proc.stdout.readline()
        assert "rtlens record: relaying ws://127.0.0.1:" in listening, listening
        port = int(listening.split("ws://127.0.0.1:")[1].split(" ")[0])
        body = json.dumps(batch(0, [event(1, "server", {"type": "session.created"})])).encode()
        refused = post(port, body, ORIGIN)
        taken = post(port, body, app)
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=120)
    assert refused[0] == 403 and refused[2]["error"]["code"] == "origin_not_allowed"
    assert taken[0] == 200
    assert "rtlens record: stopped; 1 session(s) recorded" in out
    [path] = tmp_path.glob("*.jsonl")
    *_, close = [json.loads(line) for line in path.read_text().splitlines()]
    assert close["close"]["by"] == "relay"


def test_a_barge_in_in_a_browser_call_is_the_servers_truncation_in_the_tables(tmp_path):
    """WebRTC: the server cuts the reply itself; its audio_end_ms is what was heard."""
    reply = {"id": "item_reply", "type": "message", "role": "assistant", "content": []}
    cancelled = {"type": "cancelled", "reason": "turn_detected"}
    events = [
        (0, "server", {"type": "session.created", "session": {"type": "realtime"}}),
        (100, "server", {"type": "response.created", "response": {"id": "resp_1"}}),
        (
            120,
            "server",
            {
                "type": "response.output_item.added",
                "response_id": "resp_1",
                "output_index": 0,
                "item": reply,
            },
        ),
        (300, "server", {"type": "output_audio_buffer.started", "response_id": "resp_1"}),
        (
            1500,
            "server",
            {
                "type": "input_audio_buffer.speech_started",
                "audio_start_ms": 4000,
                "item_id": "item_user",
            },
        ),
        (1510, "server", {"type": "output_audio_buffer.cleared", "response_id": "resp_1"}),
        (
            1520,
            "server",
            {
                "type": "response.done",
                "response": {
                    "id": "resp_1",
                    "status": "cancelled",
                    "status_details": cancelled,
                    "output": [reply],
                },
            },
        ),
        (
            1530,
            "server",
            {
                "type": "conversation.item.truncated",
                "item_id": "item_reply",
                "content_index": 0,
                "audio_end_ms": 1180,
            },
        ),
    ]

    async def work(relay, _lines):
        body = batch(0, [event(ms, d, e) for ms, d, e in events])
        body["close"] = {"ts": T0 + 2000, "by": "client", "reason": "pc.close()"}
        await asyncio.to_thread(post, relay.port, json.dumps(body).encode())

    asyncio.run(with_relay(tmp_path, work))
    [path] = tmp_path.glob("*.jsonl")
    con = ingest(path, tmp_path / "rt.duckdb")
    row = con.execute(
        "select response_id, item_id, truncated_by, audio_played_ms, reason from interruptions"
    ).fetchall()
    assert row == [("resp_1", "item_reply", "server", 1180.0, "turn_detected")]
    first_audio = con.execute("select first_audio_ms from responses").fetchone()[0]
    assert first_audio == 300.0  # output_audio_buffer.started, 300 ms after the first event

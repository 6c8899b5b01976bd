"""Text frames that are not UTF-8, on the real relay and the library hook.

The decision (README, "Decisions where the contract is silent"): the relay does what the
WebSocket spec asks of an endpoint, failing the sender's connection with 1007, and does not
forward the frame (its receiver would have to fail the connection too). The frame's bytes
are recorded losslessly as a `binary` line, never as text with U+FFFD in it. The other leg
is closed too: 1001 to the upstream (the app went away), 1014 to the app (the gateway got a
bad answer from upstream).
"""

from __future__ import annotations

import base64
from pathlib import Path

from relay_helpers import NOT_UTF8, App, ScriptedUpstream, async_test, dumps, only_recording
from websockets.asyncio.client import connect

from rtlens.recording import record_connection, serve_relay

REALTIME = "/v1/realtime?model=gpt-realtime"


@async_test
async def test_app_sending_invalid_utf8_is_closed_1007_and_the_bytes_kept(tmp_path: Path) -> None:
    lines: list[str] = []
    async with (
        ScriptedUpstream() as upstream,
        serve_relay(
            "127.0.0.1", 0, upstream=upstream.url, out_dir=tmp_path, report=lines.append
        ) as relay,
    ):
        app = await App.connect(relay.url + REALTIME)
        await app.recv_until("session.created")
        await app.send({"type": "session.update", "session": {}})
        await app.recv_until("session.updated")
        await app.send(NOT_UTF8)  # as a text frame
        app_close = await app.closed()
        session = upstream.sessions[0]
        upstream_close = await session.closed

    reason = "rtlens relay: text frame from the app is not UTF-8"
    assert app_close == (1007, reason)
    assert upstream_close == (1001, reason)
    # The upstream never got the bad frame: only the session.update before it.
    assert session.received == [(True, dumps({"type": "session.update", "session": {}}))]
    recording = only_recording(tmp_path)
    last = recording.frames[-1]
    assert last["dir"] == "client" and base64.b64decode(last["binary"]) == NOT_UTF8
    assert not any("\ufffd" in line.decode() for line in recording.raw_lines)
    assert recording.close == {"by": "relay", "code": 1007, "reason": reason}
    assert any("not UTF-8" in line for line in lines)


@async_test
async def test_upstream_sending_invalid_utf8_is_closed_1007_app_gets_1014(tmp_path: Path) -> None:
    async with (
        ScriptedUpstream() as upstream,
        serve_relay("127.0.0.1", 0, upstream=upstream.url, out_dir=tmp_path) as relay,
    ):
        app = await App.connect(relay.url + REALTIME)
        await app.recv_until("session.created")
        await app.send({"type": "test.send_not_utf8"})
        app_close = await app.closed()
        upstream_close = await upstream.sessions[0].closed

    reason = "rtlens relay: text frame from the upstream is not UTF-8"
    assert upstream_close == (1007, reason)
    assert app_close == (1014, reason)
    # The app got session.created only: the bad frame was not passed on.
    assert [is_text for is_text, _ in app.received] == [True]
    recording = only_recording(tmp_path)
    server_frames = recording.frames_from("server")
    assert server_frames[-1] == (False, NOT_UTF8)  # kept byte for byte, as binary
    assert recording.close == {"by": "relay", "code": 1007, "reason": reason}


@async_test
async def test_fragmented_invalid_utf8_is_judged_on_the_whole_message(tmp_path: Path) -> None:
    # "é" in UTF-8 is C3 A9: split across two fragments each half is invalid alone, the
    # whole is valid and must pass; a lone \xe9 at the end is invalid and must not.
    whole = '{"type":"x","t":"café"}'.encode()  # ...caf\xc3\xa9"}
    async with (
        ScriptedUpstream() as upstream,
        serve_relay("127.0.0.1", 0, upstream=upstream.url, out_dir=tmp_path) as relay,
    ):
        app = await App.connect(relay.url + REALTIME)
        await app.recv_until("session.created")
        # Fragments as bytes sent as text, split inside the two-byte character.
        await app.ws.send([b'{"type":"x","t":"caf\xc3', b'\xa9"}'], text=True)
        await app.ws.send([b'{"type":"x","t":"caf', b'\xe9"}'], text=True)
        app_close = await app.closed()
        session = upstream.sessions[0]
        await session.closed

    assert session.received == [(True, whole)]
    assert app_close[0] == 1007
    recording = only_recording(tmp_path)
    assert recording.frames[-2]["event"] == {"type": "x", "t": "café"}
    assert base64.b64decode(recording.frames[-1]["binary"]) == b'{"type":"x","t":"caf\xe9"}'


@async_test
async def test_hook_records_bytes_sent_as_text_losslessly(tmp_path: Path) -> None:
    async with ScriptedUpstream() as upstream:
        ws = await connect(upstream.url + REALTIME)
        rec = record_connection(ws, tmp_path)
        await rec.recv()  # session.created
        await rec.send(NOT_UTF8, text=True)
        await upstream.sessions[0].closed
        await rec.wait_closed()
        await rec.close()

    recording = only_recording(tmp_path)
    assert recording.frames_from("client") == [(False, NOT_UTF8)]
    # websockets' own server failed the connection, as the spec says.
    assert recording.close is not None
    assert (recording.close["by"], recording.close["code"]) == ("server", 1007)

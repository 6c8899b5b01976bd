"""The library hook around websockets client connections (asyncio and sync)."""

from __future__ import annotations

import asyncio
import resource
from pathlib import Path

import pytest
from relay_helpers import (
    AUDIO,
    FAKE_KEY,
    App,
    ScriptedUpstream,
    assert_no_secret,
    async_test,
    dumps,
    only_recording,
    read_recording,
)
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedError
from websockets.sync.client import connect as sync_connect

from rtlens.recording import (
    RecordedConnection,
    RecordedSyncConnection,
    RecordingError,
    record,
    record_connection,
)

REALTIME = "/v1/realtime?model=gpt-realtime"
AUTH = {"Authorization": f"Bearer {FAKE_KEY}"}


@async_test
async def test_async_connection_records_everything_sent_and_received(tmp_path: Path) -> None:
    async with ScriptedUpstream() as upstream:
        ws = await connect(upstream.url + REALTIME, additional_headers=AUTH)
        rec = record_connection(ws, tmp_path)
        assert isinstance(rec, RecordedConnection)
        sent = [
            dumps({"type": "session.update", "session": {"instructions": "hi"}}),
            dumps({"type": "input_audio_buffer.append", "audio": AUDIO}),
            b"not json",
            dumps({"type": "response.create"}),
        ]
        await rec.send(sent[0].decode())  # str: a text frame
        await rec.send(sent[1], text=True)  # bytes sent as text
        await rec.send(sent[2].decode())
        await rec.send(sent[3], text=True)
        await rec.send(b"\x00\xff", text=False)
        await rec.send([b"frag", b"mented"])  # fragments: one binary message
        received = []
        async for message in rec:
            received.append(message)
            if isinstance(message, str) and "rate_limits.updated" in message:
                break
        assert await rec.recv() == b"echo:\x00\xff"
        assert await rec.recv(decode=True) == "echo:fragmented"
        await rec.close(1000, "bye")
        session = upstream.sessions[0]
        assert await session.closed == (1000, "bye")

    recording = only_recording(tmp_path)
    assert recording.header["source"] == "library"
    assert recording.header["upstream"] == upstream.url + REALTIME
    assert ["Authorization", "<redacted>"] in recording.header["request"]["headers"]
    assert_no_secret(recording.path)
    assert recording.frames_from("client") == session.received
    assert recording.frames_from("client")[:4] == [(True, data) for data in sent]
    assert recording.frames_from("server") == session.sent
    assert recording.close == {"by": "client", "code": 1000, "reason": "bye"}


@async_test
async def test_async_connection_records_the_server_close(tmp_path: Path) -> None:
    async with ScriptedUpstream() as upstream:
        rec = record_connection(await connect(upstream.url + REALTIME), tmp_path)
        message = await rec.recv(decode=False)
        assert isinstance(message, bytes) and b"session.created" in message
        await rec.send(dumps({"type": "test.close", "code": 4000, "reason": "bad shape"}).decode())
        with pytest.raises(ConnectionClosedError):
            await rec.recv()

    recording = only_recording(tmp_path)
    assert recording.close == {"by": "server", "code": 4000, "reason": "bad shape"}
    assert recording.types("server") == ["session.created"]


@async_test
async def test_iteration_ends_quietly_on_a_normal_server_close(tmp_path: Path) -> None:
    async with (
        ScriptedUpstream() as upstream,
        record_connection(await connect(upstream.url), tmp_path) as rec,
    ):
        await rec.send(dumps({"type": "test.close", "code": 1000, "reason": "done"}), text=True)
        messages = [message async for message in rec]
    assert len(messages) == 1
    assert only_recording(tmp_path).close == {"by": "server", "code": 1000, "reason": "done"}


def run_sync_client(url: str, out_dir: Path) -> list:
    with sync_connect(url, additional_headers=AUTH) as ws, record(ws, out_dir) as rec:
        assert isinstance(rec, RecordedSyncConnection)
        received = [rec.recv(timeout=60, decode=False)]  # session.created (60 s: a safety net)
        rec.send(dumps({"type": "session.update", "session": {"instructions": "sync"}}).decode())
        rec.send(b"\x01\x02", text=False)
        rec.send(dumps({"type": "response.create"}), text=True)
        for message in rec:
            received.append(message)
            if isinstance(message, str) and "rate_limits.updated" in message:
                break
        return received


@async_test
async def test_sync_connection_records_everything(tmp_path: Path) -> None:
    async with ScriptedUpstream() as upstream:
        received = await asyncio.to_thread(run_sync_client, upstream.url + REALTIME, tmp_path)
        session = upstream.sessions[0]
        assert await session.closed == (1000, "")

    assert isinstance(received[0], bytes) and b"session.created" in received[0]
    assert b"echo:\x01\x02" in received
    recording = only_recording(tmp_path)
    assert recording.frames_from("client") == session.received
    assert recording.frames_from("server") == session.sent
    assert recording.close == {"by": "client", "code": 1000, "reason": ""}
    assert_no_secret(recording.path)


@async_test
async def test_a_write_failure_stops_the_app_instead_of_sending_unrecorded(
    tmp_path: Path,
) -> None:
    limit = 48 * 1024
    async with ScriptedUpstream() as upstream:
        rec = record_connection(await connect(upstream.url + REALTIME), tmp_path)
        session = await upstream.next_session()
        soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))  # real EFBIG from the kernel
        try:
            with pytest.raises(RecordingError, match="File too large"):
                for _ in range(20):
                    await rec.send(
                        dumps({"type": "input_audio_buffer.append", "audio": AUDIO}), text=True
                    )
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        assert await session.closed == (
            1011,
            "rtlens: cannot write the recording; closed rather than continue unrecorded",
        )

    recording = read_recording(rec.path, complete=False)
    assert recording.frames_from("client") == session.received
    assert 0 < len(session.received) < 20


@async_test
async def test_wrapping_twice_or_wrapping_something_else_is_refused(tmp_path: Path) -> None:
    async with ScriptedUpstream() as upstream:
        app = await App.connect(upstream.url)
        rec = record_connection(app.ws, tmp_path)
        with pytest.raises(ValueError, match="already being recorded"):
            record_connection(rec, tmp_path)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="websockets client connection"):
            record_connection(object(), tmp_path)  # type: ignore[arg-type]
        await rec.close()
    assert read_recording(rec.path).close == {"by": "client", "code": 1000, "reason": ""}

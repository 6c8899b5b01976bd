"""The real `openai` SDK: recorded by the library hook, and run through the relay."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import openai
import pytest
from relay_helpers import (
    FAKE_KEY,
    ScriptedUpstream,
    assert_no_secret,
    async_test,
    dumps,
    only_recording,
    read_recording,
)

from rtlens.recording import OpenAIRecording, record_openai, serve_relay


async def talk(conn: Any) -> list[str]:
    """A short conversation through the SDK; the event types the app saw."""
    seen: list[str] = []
    await conn.session.update(session={"type": "realtime", "instructions": "Be brief."})
    await conn.response.create()
    async for event in conn:
        seen.append(event.type)
        if event.type == "rate_limits.updated":
            return seen
    raise AssertionError("the connection ended early")


@async_test
async def test_async_sdk_connection_is_recorded(tmp_path: Path) -> None:
    async with ScriptedUpstream() as upstream:
        client = openai.AsyncOpenAI(api_key=FAKE_KEY, websocket_base_url=upstream.url + "/v1")
        async with client.realtime.connect(model="gpt-realtime") as conn:
            recording = record_openai(conn, out_dir=tmp_path)
            seen = await talk(conn)
        session = upstream.sessions[0]
        assert await session.closed == (1000, "")

    assert isinstance(recording, OpenAIRecording)
    assert seen[0] == "session.created" and "response.done" in seen
    assert session.path == "/v1/realtime?model=gpt-realtime"
    assert session.headers["Authorization"] == f"Bearer {FAKE_KEY}"
    file = only_recording(tmp_path)
    assert file.path == recording.path
    assert file.header["source"] == "library" and file.header["sdk"] == "openai"
    assert file.header["upstream"] == upstream.url + "/v1/realtime?model=gpt-realtime"
    assert file.frames_from("client") == session.received
    assert file.frames_from("server") == session.sent
    assert file.types("client") == ["session.update", "response.create"]
    assert file.close == {"by": "client", "code": 1000, "reason": ""}
    assert_no_secret(file.path)


def sync_conversation(url: str, out_dir: Path) -> OpenAIRecording:
    client = openai.OpenAI(api_key=FAKE_KEY, websocket_base_url=url + "/v1")
    with client.realtime.connect(model="gpt-realtime") as conn:
        recording = record_openai(conn, out_dir=out_dir)
        conn.session.update(session={"type": "realtime", "instructions": "sync"})
        conn.response.create()
        for event in conn:
            if event.type == "rate_limits.updated":
                break
    return recording


# The SDK's sync client calls websockets' connect() without `with`, which websockets >= 17.1
# deprecates; that warning is the SDK's, not the hook's.
@pytest.mark.filterwarnings("ignore:connect\\(\\) must be used as a context manager")
@async_test
async def test_sync_sdk_connection_is_recorded(tmp_path: Path) -> None:
    async with ScriptedUpstream() as upstream:
        recording = await asyncio.to_thread(sync_conversation, upstream.url, tmp_path)
        session = upstream.sessions[0]
        await session.closed

    file = read_recording(recording.path)
    assert file.frames_from("client") == session.received
    assert file.frames_from("server") == session.sent
    assert file.close == {"by": "client", "code": 1000, "reason": ""}
    assert_no_secret(file.path)


@async_test
async def test_recording_follows_the_sdk_reconnect_into_a_new_file(tmp_path: Path) -> None:
    async with ScriptedUpstream() as upstream:
        client = openai.AsyncOpenAI(api_key=FAKE_KEY, websocket_base_url=upstream.url + "/v1")
        manager = client.realtime.connect(
            model="gpt-realtime",
            on_reconnecting=lambda event: None,
            initial_delay=0.001,
            max_delay=0.001,
        )
        async with manager as conn:
            recording = record_openai(conn, out_dir=tmp_path)
            await conn.send_raw(dumps({"type": "test.drop"}).decode())  # upstream drops
            created = 0
            async for event in conn:  # the SDK reconnects by itself
                if event.type == "session.created":
                    created += 1
                    if created == 2:
                        break
            await talk(conn)
        await upstream.sessions[1].closed

    assert len(recording.paths) == 2
    first, second = (read_recording(path) for path in recording.paths)
    assert first.close == {"by": "server", "code": 1006, "reason": ""}
    assert second.header["previous_session_id"] == first.header["session_id"]
    assert second.close == {"by": "client", "code": 1000, "reason": ""}
    for file, session in zip((first, second), upstream.sessions, strict=True):
        assert file.frames_from("client") == session.received
        assert file.frames_from("server") == session.sent


@async_test
async def test_sdk_through_the_relay_recorded_by_both(tmp_path: Path) -> None:
    relay_dir, library_dir = tmp_path / "relay", tmp_path / "library"
    async with (
        ScriptedUpstream() as upstream,
        serve_relay("127.0.0.1", 0, upstream=upstream.url, out_dir=relay_dir) as relay,
    ):
        client = openai.AsyncOpenAI(api_key=FAKE_KEY, websocket_base_url=relay.url + "/v1")
        async with client.realtime.connect(model="gpt-realtime") as conn:
            record_openai(conn, out_dir=library_dir)
            seen = await talk(conn)
        session = upstream.sessions[0]
        await session.closed

    assert "response.done" in seen
    assert session.headers["Authorization"] == f"Bearer {FAKE_KEY}"
    by_relay, by_library = only_recording(relay_dir), only_recording(library_dir)
    for file in (by_relay, by_library):
        assert file.frames_from("client") == session.received
        assert file.frames_from("server") == session.sent
        assert file.close == {"by": "client", "code": 1000, "reason": ""}
        assert_no_secret(file.path)
    assert by_relay.header["source"] == "relay" and by_library.header["source"] == "library"

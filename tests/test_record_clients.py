"""The clients teams use, each run through the relay in front of the simulator as a new user
would: one turn (text in, a spoken response out), then a normal close. The file must hold
the whole session and its close line, the upstream must see the close (no leaked socket),
and no key may reach the file.

The websockets client and the relay run on whichever websockets version is installed: CI
runs this file once on the newest and once on the lowest version pyproject allows. The
OpenAI Agents SDK pins its own websockets range and is tested in
test_record_agents_sdk.py; the Node SDK in test_record_node.py.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import openai
import pytest
from client_helpers import relay_to_simulator
from relay_helpers import FAKE_KEY, ScriptedUpstream, assert_no_secret, async_test, only_recording
from websockets.asyncio.client import connect

from rtlens.recording import serve_relay

MODEL = "gpt-realtime"
PATH = f"/v1/realtime?model={MODEL}"
USER_TEXT = {
    "type": "conversation.item.create",
    "item": {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": "Say hello."}],
    },
}
# LiveKit's OpenAI plugin (beta, over aiohttp) asks for a reply like this in production.
LIVEKIT_RESPONSE_CREATE = {
    "type": "response.create",
    "response": {
        "instructions": None,
        "modalities": ["text", "audio"],
        "metadata": {"client_event_id": "response_create_1"},
    },
}


async def websockets_client(url: str) -> None:
    async with connect(
        url + PATH, additional_headers={"Authorization": f"Bearer {FAKE_KEY}"}
    ) as ws:
        await ws.send(json.dumps(USER_TEXT))
        await ws.send(json.dumps({"type": "response.create"}))
        async for message in ws:
            if json.loads(message)["type"] == "response.done":
                break


async def browser_style_client(url: str) -> None:
    """What a browser's `new WebSocket(url, protocols)` sends: the key in a subprotocol, no
    Authorization header (the Node SDK's OpenAIRealtimeWebSocket does the same)."""
    protocols = ["realtime", f"openai-insecure-api-key.{FAKE_KEY}", "openai-beta.realtime-v1"]
    async with connect(url + PATH, subprotocols=protocols) as ws:  # type: ignore[arg-type]
        assert ws.subprotocol == "realtime"
        await ws.send(json.dumps(USER_TEXT))
        await ws.send(json.dumps({"type": "response.create"}))
        async for message in ws:
            if json.loads(message)["type"] == "response.done":
                break


async def openai_sdk_client(url: str) -> None:
    client = openai.AsyncOpenAI(api_key=FAKE_KEY, websocket_base_url=url + "/v1")
    async with client.realtime.connect(model=MODEL) as conn:
        await conn.conversation.item.create(item=USER_TEXT["item"])  # type: ignore[arg-type]
        await conn.response.create()
        async for event in conn:
            if event.type == "response.done":
                break


async def aiohttp_livekit_style_client(url: str) -> None:
    """aiohttp's ws_connect with the beta header and LiveKit's `response.create`."""
    headers = {"Authorization": f"Bearer {FAKE_KEY}", "OpenAI-Beta": "realtime=v1"}
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(url + PATH, headers=headers, max_msg_size=0) as ws,
    ):
        await ws.send_str(json.dumps(USER_TEXT))
        await ws.send_str(json.dumps(LIVEKIT_RESPONSE_CREATE))
        async for msg in ws:
            assert msg.type == aiohttp.WSMsgType.TEXT, msg
            event = json.loads(msg.data)
            assert event["type"] != "error", event
            if event["type"] == "response.done":
                break


CLIENTS: dict[str, Callable[[str], Awaitable[None]]] = {
    "websockets": websockets_client,
    "browser-style subprotocol": browser_style_client,
    "openai SDK": openai_sdk_client,
    "aiohttp (LiveKit-style)": aiohttp_livekit_style_client,
}


@pytest.mark.parametrize("name", list(CLIENTS))
@async_test
async def test_client_through_the_relay_is_recorded_to_its_close(tmp_path: Path, name: str) -> None:
    async with relay_to_simulator(tmp_path) as (relay, upstream):
        await CLIENTS[name](relay.url)
        upstream_close = await upstream.next_close()

    assert upstream_close == 1000  # the relay passed the app's close on
    recording = only_recording(tmp_path)
    assert "response.done" in recording.types("server")
    assert "error" not in recording.types("server")
    assert recording.close == {"by": "client", "code": 1000, "reason": ""}
    assert_no_secret(recording.path)


@async_test
async def test_six_sessions_leave_no_upstream_socket_open(tmp_path: Path) -> None:
    # The websockets 16 failure: every session's end raised, so the upstream leg was never
    # closed (12 sockets open after 6 sessions). Each upstream session must see its close.
    async with (
        ScriptedUpstream() as upstream,
        serve_relay("127.0.0.1", 0, upstream=upstream.url, out_dir=tmp_path) as relay,
    ):
        for i in range(6):
            async with connect(relay.url + PATH) as ws:
                await ws.recv()  # session.created
                await ws.close(1000, f"done {i}")
            assert await upstream.sessions[i].closed == (1000, f"done {i}")
        assert relay.sessions_started == 6
    files = sorted(tmp_path.glob("*.jsonl"))
    assert len(files) == 6
    closes = sorted(json.loads(f.read_text().splitlines()[-1])["close"]["reason"] for f in files)
    assert closes == [f"done {i}" for i in range(6)]

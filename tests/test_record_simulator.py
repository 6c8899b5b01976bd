"""The relay in front of the project's simulator, driven by the real openai SDK: realistic
traffic (audio deltas, usage, rate limits) recorded identically by the relay and the hook."""

from __future__ import annotations

from pathlib import Path

import pytest
from relay_helpers import FAKE_KEY, assert_no_secret, async_test, only_recording

from rtlens.recording import record_openai, serve_relay

openai = pytest.importorskip("openai")
simulator = pytest.importorskip("rtlens.simulator")


@async_test
async def test_sdk_session_against_the_simulator_through_the_relay(tmp_path: Path) -> None:
    relay_dir, library_dir = tmp_path / "relay", tmp_path / "library"
    cfg = simulator.SimulatorConfig(pace=0)
    async with (
        simulator.serve("127.0.0.1", 0, cfg) as sim,
        serve_relay(
            "127.0.0.1", 0, upstream=f"ws://127.0.0.1:{sim.port}", out_dir=relay_dir
        ) as relay,
    ):
        client = openai.AsyncOpenAI(api_key=FAKE_KEY, websocket_base_url=relay.url + "/v1")
        async with client.realtime.connect(model="gpt-realtime") as conn:
            record_openai(conn, out_dir=library_dir)
            await conn.conversation.item.create(
                item={
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "Say hello."}],
                }
            )
            await conn.response.create()
            async for event in conn:
                if event.type == "response.done":
                    break

    by_relay, by_library = only_recording(relay_dir), only_recording(library_dir)
    assert "response.done" in by_relay.types("server")
    assert by_relay.frames_from("client") == by_library.frames_from("client")
    # The hook sees only what the app read; the relay saw at least that, in the same order.
    library_server = by_library.frames_from("server")
    assert by_relay.frames_from("server")[: len(library_server)] == library_server
    assert by_relay.close == by_library.close == {"by": "client", "code": 1000, "reason": ""}
    for file in (by_relay, by_library):
        assert_no_secret(file.path)

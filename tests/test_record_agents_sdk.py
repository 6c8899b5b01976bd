"""The OpenAI Agents SDK's realtime runner through the relay, as its docs tell a user to
point it elsewhere: `RealtimeRunner.run(model_config={"url": ...})`.

openai-agents pins websockets below 17, so it is not in the `test` extra (that would hold
every test run to websockets 16): install the `agents` extra to run this file, as CI does
in its own virtualenv (.ci/run). Without it the module is skipped, saying why.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from client_helpers import relay_to_simulator
from relay_helpers import FAKE_KEY, assert_no_secret, async_test, only_recording

realtime = pytest.importorskip(
    "agents.realtime", reason="openai-agents is not installed (pip install -e '.[agents]')"
)


@async_test
async def test_agents_sdk_realtime_session_is_recorded_to_its_close(tmp_path: Path) -> None:
    async with relay_to_simulator(tmp_path) as (relay, upstream):
        agent = realtime.RealtimeAgent(name="Assistant", instructions="Be brief.")
        runner = realtime.RealtimeRunner(starting_agent=agent)
        session = await runner.run(
            model_config={"url": relay.url + "/v1/realtime?model=gpt-realtime", "api_key": FAKE_KEY}
        )
        server_events: list[str] = []
        async with session:
            await session.send_message("Say hello.")
            async for event in session:
                if event.type == "raw_model_event" and event.data.type == "raw_server_event":
                    server_events.append(event.data.data["type"])
                    if server_events[-1] in ("response.done", "error"):
                        break
        upstream_close = await upstream.next_close()

    assert server_events[-1] == "response.done"
    assert upstream_close == 1000
    recording = only_recording(tmp_path)
    client_types = recording.types("client")
    assert client_types[0] == "session.update"  # the agent's instructions, tools, voice
    assert "conversation.item.create" in client_types
    assert "error" not in recording.types("server")  # the simulator took what the SDK sent
    assert recording.close == {"by": "client", "code": 1000, "reason": ""}
    assert_no_secret(recording.path)

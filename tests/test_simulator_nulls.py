"""Null fields the real API accepts: `null` means "not given" in `response.create` and
`session.update`, except where null is a setting of its own (`turn_detection: null` turns
VAD off). LiveKit's OpenAI plugin sends `"instructions": null` in every `response.create`
it makes without instructions, and pydantic-based clients send unset optionals as null."""

from __future__ import annotations

import pytest

from rtlens.simulator.requests import _BETA_RESPONSE_KEYS, _GA_RESPONSE_KEYS

# What LiveKit's plugin (beta dialect, over aiohttp) sends for `generate_reply()`.
LIVEKIT_RESPONSE = {
    "instructions": None,
    "modalities": ["text", "audio"],
    "metadata": {"client_event_id": "response_create_1"},
}


@pytest.mark.parametrize(
    ("beta", "response"),
    [
        (True, LIVEKIT_RESPONSE),
        (True, dict.fromkeys(_BETA_RESPONSE_KEYS)),  # every field null
        (False, dict.fromkeys(_GA_RESPONSE_KEYS)),
        (False, {"instructions": None, "audio": {"output": {"voice": None, "format": None}}}),
    ],
)
def test_response_create_with_nulls_uses_the_session_settings(realtime, beta, response):
    async def go():
        async with realtime.server() as srv, realtime.client(srv, beta=beta) as c:
            created = await c.until("session.created")
            await c.send(
                {
                    "type": "conversation.item.create",
                    "item": {
                        "type": "message",
                        "role": "user",
                        "content": [{"type": "input_text", "text": "Hello"}],
                    },
                }
            )
            await c.send({"type": "response.create", "event_id": "evt_r", "response": response})
            done = await c.until("response.done")
            return created, done, c.of("error")

    created, done, errors = realtime.run(go())
    assert errors == []
    assert done["response"]["status"] == "completed"
    # The session's voice applies: null did not clear it or fail the response.
    session_voice = (
        created["session"]["voice"] if beta else created["session"]["audio"]["output"]["voice"]
    )
    voice = done["response"].get("voice") or done["response"]["audio"]["output"]["voice"]
    assert voice == session_voice


@pytest.mark.parametrize("beta", [True, False])
def test_session_update_null_leaves_settings_and_turns_vad_off(realtime, beta):
    if beta:
        update = {"instructions": None, "voice": None, "temperature": None, "turn_detection": None}
    else:
        update = {
            "type": "realtime",
            "instructions": None,
            "tools": None,
            "audio": {"input": {"format": None, "turn_detection": None}, "output": None},
        }

    async def go():
        async with realtime.server() as srv, realtime.client(srv, beta=beta) as c:
            created = await c.until("session.created")
            await c.send({"type": "session.update", "session": update})
            updated = await c.until("session.updated")
            return created["session"], updated["session"], c.of("error")

    before, after, errors = realtime.run(go())
    assert errors == []
    assert after["instructions"] == before["instructions"]  # null: unchanged
    if beta:
        assert after["voice"] == before["voice"]
        assert before["turn_detection"] is not None and after["turn_detection"] is None
    else:
        assert after["audio"]["input"]["format"] == before["audio"]["input"]["format"]
        assert after["audio"]["output"] == before["audio"]["output"]
        assert before["audio"]["input"]["turn_detection"] is not None
        assert after["audio"]["input"]["turn_detection"] is None

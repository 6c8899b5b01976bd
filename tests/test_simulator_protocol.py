"""The simulator speaks the Realtime protocol: handshake, dialects, session config, errors.

Every test drives a real `rtlens.simulator.serve` on 127.0.0.1 with a real websockets client.
"""

from __future__ import annotations

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from rtlens.catalogue import server_events


async def _refusal(realtime, cfg: dict, **client) -> tuple[dict, int | None, str | None]:
    async with realtime.server(**cfg) as srv, realtime.client(srv, **client) as c:
        event = await c.recv()
        with pytest.raises(ConnectionClosed):  # the server closes right after
            await c.recv(timeout=60)  # a safety net only: the close is what is awaited
        return event, c.ws.protocol.close_code, c.ws.protocol.close_reason


def test_unknown_path_is_http_404(realtime):
    async def go():
        async with realtime.server() as srv:
            with pytest.raises(InvalidStatus) as info:
                async with connect(f"ws://127.0.0.1:{srv.port}/v2/elsewhere?model=x"):
                    pass
            return info.value.response.status_code

    assert realtime.run(go()) == 404


def test_missing_auth_gets_error_then_close_3000(realtime):
    event, code, reason = realtime.run(_refusal(realtime, {}, headers={}))
    assert event["type"] == "error"
    assert event["error"]["message"] == "Missing bearer or basic authentication in header"
    assert (code, reason) == (3000, "invalid_request_error")


def test_missing_model_gets_missing_model_then_close_4000(realtime):
    event, code, reason = realtime.run(_refusal(realtime, {}, query="foo=1"))
    assert event["error"]["code"] == "missing_model"
    assert (code, reason) == (4000, "invalid_request_error.missing_model")


def test_unknown_model_gets_invalid_model_then_close_4000(realtime):
    event, code, reason = realtime.run(_refusal(realtime, {}, query="model=gpt-nope"))
    assert event["error"]["code"] == "invalid_model"
    assert event["error"]["message"].startswith(
        'Model "gpt-nope" is not supported in realtime mode'
    )
    assert (code, reason) == (4000, "invalid_request_error.invalid_model")


def test_ga_mode_refuses_the_beta_header_like_openai(realtime):
    event, code, reason = realtime.run(_refusal(realtime, {"dialect": "ga"}, beta=True))
    assert event["error"]["code"] == "beta_api_shape_disabled"
    assert event["error"]["message"] == (
        "The Realtime Beta API is no longer supported. Please use /v1/realtime for the GA API."
    )
    assert (code, reason) == (4000, "invalid_request_error.beta_api_shape_disabled")


def test_no_auth_mode_accepts_keyless_clients(realtime):
    async def go():
        async with (
            realtime.server(require_auth=False) as srv,
            realtime.client(srv, headers={}) as c,
        ):
            return (await c.recv())["type"]

    assert realtime.run(go()) == "session.created"


def test_subprotocol_key_is_accepted_and_realtime_is_selected(realtime):
    async def go():
        async with (
            realtime.server() as srv,
            realtime.client(
                srv, headers={}, subprotocols=["realtime", "openai-insecure-api-key.sk-x"]
            ) as c,
        ):
            return (await c.recv())["type"], c.ws.subprotocol

    assert realtime.run(go()) == ("session.created", "realtime")


@pytest.mark.parametrize(
    ("client", "dialect"),
    [
        ({}, "ga"),
        ({"beta": True}, "beta"),
        (
            {
                "path": "/openai/realtime",
                "query": "api-version=2024-10-01-preview&deployment=rt",
                "headers": {"api-key": "k"},
            },
            "beta",
        ),
        (
            {
                "path": "/openai/v1/realtime",
                "query": "model=my-deployment",
                "headers": {"api-key": "k"},
            },
            "ga",
        ),
    ],
)
def test_auto_dialect_follows_the_request(realtime, client, dialect):
    async def go():
        async with realtime.server() as srv, realtime.client(srv, **client) as c:
            return await c.recv()

    session = realtime.run(go())["session"]
    assert ("type" in session) == (dialect == "ga")
    assert ("modalities" in session) == (dialect == "beta")


def test_beta_session_created_has_the_real_beta_shape_then_conversation_created(realtime):
    async def go():
        async with realtime.server() as srv, realtime.client(srv, beta=True) as c:
            return await c.recv(), await c.recv()

    created, conversation = realtime.run(go())
    session = created["session"]
    assert list(session) == [
        "id",
        "object",
        "expires_at",
        "input_audio_noise_reduction",
        "turn_detection",
        "input_audio_format",
        "input_audio_transcription",
        "client_secret",
        "include",
        "model",
        "modalities",
        "instructions",
        "voice",
        "output_audio_format",
        "tool_choice",
        "temperature",
        "max_response_output_tokens",
        "speed",
        "tools",
    ]
    assert session["turn_detection"] == {
        "type": "server_vad",
        "threshold": 0.5,
        "prefix_padding_ms": 300,
        "silence_duration_ms": 200,
        "create_response": True,
        "interrupt_response": True,
    }
    assert session["id"].startswith("sess_") and len(session["id"]) == 26
    assert created["event_id"].startswith("event_") and len(created["event_id"]) == 27
    assert conversation["type"] == "conversation.created"
    assert conversation["conversation"]["object"] == "realtime.conversation"


def test_ga_session_created_has_the_real_ga_shape(realtime):
    async def go():
        async with realtime.server() as srv, realtime.client(srv) as c:
            await c.recv()
            await c.send({"type": "session.update", "session": {"type": "realtime"}})
            return c.events[0], await c.recv()

    created, updated = realtime.run(go())
    session = created["session"]
    assert session["type"] == "realtime" and session["object"] == "realtime.session"
    assert session["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}
    assert session["audio"]["output"] == {
        "format": {"type": "audio/pcm", "rate": 24000},
        "voice": "alloy",
        "speed": 1.0,
    }
    assert session["audio"]["input"]["turn_detection"]["idle_timeout_ms"] is None
    assert updated["type"] == "session.updated"  # no conversation.created in GA


def test_session_update_applies_nested_ga_audio_settings(realtime):
    async def go():
        async with realtime.server() as srv, realtime.client(srv) as c:
            await c.recv()
            await c.send(
                {
                    "type": "session.update",
                    "session": {
                        "type": "realtime",
                        "output_modalities": ["text"],
                        "audio": {
                            "input": {
                                "format": {"type": "audio/pcmu"},
                                "transcription": {"model": "gpt-4o-transcribe"},
                                "turn_detection": {"type": "server_vad"},
                            }
                        },
                    },
                }
            )
            return (await c.until("session.updated"))["session"]

    session = realtime.run(go())
    assert session["output_modalities"] == ["text"]
    assert session["audio"]["input"]["format"] == {"type": "audio/pcmu"}
    assert session["audio"]["input"]["transcription"] == {
        "model": "gpt-4o-transcribe",
        "language": None,
        "prompt": None,
    }
    assert session["audio"]["input"]["turn_detection"]["silence_duration_ms"] == 200


@pytest.mark.parametrize(
    ("beta", "update", "code", "param"),
    [
        (False, {"type": "realtime", "bogus_field": 1}, "unknown_parameter", "session.bogus_field"),
        (False, {"instructions": "hi"}, "missing_required_parameter", "session.type"),
        (
            False,
            {"type": "realtime", "input_audio_format": "pcm16"},
            "unknown_parameter",
            "session.input_audio_format",
        ),
        (
            False,
            {
                "type": "realtime",
                "audio": {"input": {"format": {"type": "audio/pcm", "rate": 16000}}},
            },
            "integer_below_min_value",
            "session.audio.input.format.rate",
        ),
        (True, {"type": "realtime"}, "unknown_parameter", "session.type"),
        (True, {"modalities": ["audio"]}, "invalid_value", "session.modalities"),
        (
            True,
            {"turn_detection": {"type": "server_vad", "threshold": 2}},
            "decimal_above_max_value",
            "session.turn_detection.threshold",
        ),
    ],
)
def test_bad_session_update_is_rejected_whole(realtime, beta, update, code, param):
    async def go():
        async with realtime.server() as srv, realtime.client(srv, beta=beta) as c:
            created = await c.recv()
            update_with_change = {**update, "instructions": "CHANGED"}
            await c.send(
                {"type": "session.update", "event_id": "evt_up", "session": update_with_change}
            )
            error = await c.until("error")
            ok = {"type": "realtime"} if not beta else {}
            await c.send({"type": "session.update", "session": ok})
            return created, error, await c.until("session.updated")

    created, error, after = realtime.run(go())
    assert error["error"]["code"] == code
    assert error["error"]["param"] == param
    assert error["error"]["event_id"] == "evt_up"
    assert after["session"]["instructions"] == created["session"]["instructions"]


@pytest.mark.parametrize("beta", [False, True])
def test_invalid_client_frames_get_errors_that_echo_the_event_id(realtime, beta):
    async def go():
        async with realtime.server() as srv, realtime.client(srv, beta=beta) as c:
            await c.recv()
            await c.send({"type": "nope", "event_id": "evt_a"})
            await c.ws.send("not json")
            await c.ws.send(b"\x00" * 64)
            await c.send({"event_id": "evt_b", "audio": ""})
            await c.send({"type": "response.cancel", "event_id": "evt_c"})
            await c.send({"type": "input_audio_buffer.commit", "event_id": "evt_d"})
            await c.send({"type": "conversation.item.delete", "item_id": "item_x"})
            await c.send({"type": "input_audio_buffer.clear", "bogus": 1, "event_id": "evt_e"})
            errors = [(await c.until("error"))["error"] for _ in range(8)]
            await c.send(
                {"type": "session.update", "session": {} if beta else {"type": "realtime"}}
            )
            await c.until("session.updated")  # the session survived them all
            return errors

    errors = realtime.run(go())
    assert [(e["code"], e["event_id"]) for e in errors] == [
        ("invalid_value", "evt_a"),
        ("invalid_json", None),
        ("invalid_event", None),
        ("invalid_event", "evt_b"),
        ("response_cancel_not_active", "evt_c"),
        ("input_audio_buffer_commit_empty", "evt_d"),
        ("item_delete_invalid_item_id", None),
        ("unknown_parameter", "evt_e"),
    ]
    assert errors[0]["param"] == "type" and "'response.create'" in errors[0]["message"]
    assert (
        errors[2]["message"]
        == "Expected a text WebSocket message; binary frames are not supported."
    )
    assert errors[5]["message"].startswith("Error committing input audio buffer: buffer too small.")
    assert ("'session.close'" in errors[0]["message"]) == (not beta)


def test_every_server_event_type_is_in_the_catalogue(realtime):
    async def go(beta):
        async with realtime.server() as srv, realtime.client(srv, beta=beta) as c:
            await c.recv()
            await c.send(
                {
                    "type": "conversation.item.create",
                    "item": {
                        "type": "message",
                        "role": "user",
                        "content": [{"type": "input_text", "text": "hi"}],
                    },
                }
            )
            await c.send({"type": "response.create"})
            await c.until("response.done")
            return {e["type"] for e in c.events}

    for dialect, beta in (("ga", False), ("beta", True)):
        seen = realtime.run(go(beta))
        assert seen <= set(server_events(dialect)), seen - set(server_events(dialect))


def test_rtlens_scenario_query_parameter_picks_a_scenario_per_connection(realtime):
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hi"}]}

    async def go():
        async with realtime.server() as srv:
            async with realtime.client(
                srv, query="model=gpt-realtime&rtlens_scenario=server-error"
            ) as c:
                await c.recv()
                await c.send({"type": "conversation.item.create", "item": item})
                await c.send({"type": "response.create"})
                failed = await c.until("response.done")
            async with realtime.client(srv, query="model=gpt-realtime&rtlens_scenario=nope") as c:
                refused = await c.recv()
            return failed, refused

    failed, refused = realtime.run(go())
    assert failed["response"]["status"] == "failed"
    assert refused["error"]["param"] == "rtlens_scenario"

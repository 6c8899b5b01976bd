"""The scripted apps against the simulator, and the named scenarios."""

from __future__ import annotations

import base64

import pytest

from rtlens.simulator.apps import SCRIPTS, run_app, scripts

EXPECTED_ERRORS = [
    "invalid_value",
    "invalid_json",
    "invalid_event",
    "invalid_event",
    "response_cancel_not_active",
    "unknown_parameter",
    "input_audio_buffer_commit_empty",
    "item_delete_invalid_item_id",
    "conversation_already_has_active_response",
    "invalid_value",
    "unsupported_content_type",
]


def _app(realtime, script, dialect, *, pace=0.0, seed=0, **cfg):
    async def go():
        async with realtime.server(pace=pace, **cfg) as srv:
            return await run_app(srv.url, script=script, dialect=dialect, seed=seed, pace=pace)

    return realtime.run(go())


def _audio_ms(result) -> float:
    fmt_bytes = 8.0 if result.script == "twilio_ulaw" else 48.0
    return sum(
        len(base64.b64decode(e["delta"])) / fmt_bytes
        for e in result.received
        if e["type"] in ("response.audio.delta", "response.output_audio.delta")
    )


@pytest.mark.parametrize("dialect", ["ga", "beta"])
@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_every_script_completes_in_both_dialects(realtime, script, dialect, monkeypatch):
    # The hour-long call is for benchmarks; three minutes of it run the same turns (a
    # barge-in every seventh) in a few seconds of CPU instead of a minute.
    monkeypatch.setattr(scripts, "LONG_CALL_MINUTES", 3)
    result = _app(realtime, script, dialect)
    assert result.close_code == 1000
    codes = [e["code"] for e in result.errors]
    assert codes == (EXPECTED_ERRORS if script == "errors" else [])
    dones = result.of("response.done")
    assert dones and all(d["response"]["status"] in ("completed", "cancelled") for d in dones)
    audio = "response.audio.delta" if dialect == "beta" else "response.output_audio.delta"
    other = "response.output_audio.delta" if dialect == "beta" else "response.audio.delta"
    assert not result.of(other)
    assert bool(result.of(audio)) == (script != "text")
    assert 0 <= result.heard_ms <= _audio_ms(result) + 1
    sent_types = {e["type"] for e in result.sent if isinstance(e, dict) and "type" in e}
    assert "session.update" in sent_types
    first = next(e for e in result.sent if isinstance(e, dict))
    assert first["type"] == "session.update" and first["event_id"].startswith("evt_")


@pytest.mark.parametrize("dialect", ["ga", "beta"])
def test_conversation_usage_identities_and_growth(realtime, dialect):
    result = _app(realtime, "conversation", dialect, seed=3)
    usages = [d["response"]["usage"] for d in result.of("response.done")]
    assert len(usages) == 3
    for usage in usages:
        details = usage["input_token_details"]
        assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
        assert usage["input_tokens"] == (
            details["text_tokens"] + details["audio_tokens"] + details.get("image_tokens", 0)
        )
        assert details["cached_tokens"] == sum(details["cached_tokens_details"].values())
        assert details["cached_tokens"] <= usage["input_tokens"]
    inputs = [u["input_tokens"] for u in usages]
    assert inputs[0] < inputs[1] < inputs[2]
    completed = result.of("conversation.item.input_audio_transcription.completed")
    assert len(completed) == 3
    assert all(("usage" in e) == (dialect == "ga") for e in completed)
    limits = result.of("rate_limits.updated")
    names = [entry["name"] for entry in limits[0]["rate_limits"]]
    assert names == (["tokens"] if dialect == "ga" else ["requests", "tokens"])
    remaining = [
        next(x["remaining"] for x in e["rate_limits"] if x["name"] == "tokens") for e in limits
    ]
    assert remaining == sorted(remaining, reverse=True) and remaining[0] > remaining[-1]


@pytest.mark.parametrize("dialect", ["ga", "beta"])
def test_barge_in_app_cancels_truncates_and_hears_less(realtime, dialect):
    result = _app(realtime, "barge_in", dialect, pace=0.05, seed=1)
    statuses = [d["response"]["status_details"] for d in result.of("response.done")]
    assert {"type": "cancelled", "reason": "turn_detected"} in statuses
    truncated = result.of("conversation.item.truncated")
    assert len(truncated) == len(result.truncations) == 2
    assert [t["audio_end_ms"] for t in truncated] == [t["audio_end_ms"] for t in result.truncations]
    assert not result.errors
    assert result.heard_ms < _audio_ms(result)


def test_function_calling_app_answers_every_call(realtime):
    result = _app(realtime, "function_calling", "ga", scenario="tools")
    calls = result.of("response.function_call_arguments.done")
    outputs = [
        e
        for e in result.sent
        if isinstance(e, dict) and e.get("type") == "conversation.item.create"
    ]
    assert len(calls) == 3  # one per user turn in the `tools` scenario
    assert [o["item"]["call_id"] for o in outputs] == [c["call_id"] for c in calls]
    follow_ups = [
        d["response"]
        for d in result.of("response.done")
        if all(o["type"] == "message" for o in d["response"]["output"])
    ]
    assert len(follow_ups) == 3


def test_default_scenario_calls_tools_on_odd_turns(realtime):
    result = _app(realtime, "function_calling", "beta")
    assert len(result.of("response.function_call_arguments.done")) == 2  # turns 1 and 3


def test_transcription_failure_scenario(realtime):
    result = _app(realtime, "errors", "ga", scenario="transcription-failure")
    failed = result.of("conversation.item.input_audio_transcription.failed")
    completed = result.of("conversation.item.input_audio_transcription.completed")
    assert len(failed) == 1 and len(completed) == 1
    assert failed[0]["error"]["code"] == "audio_unintelligible"
    assert failed[0]["error"]["type"] == "transcription_error"
    committed = [e["item_id"] for e in result.of("input_audio_buffer.committed")]
    assert failed[0]["item_id"] == committed[0]


@pytest.mark.parametrize("dialect", ["ga", "beta"])
def test_server_error_scenario_fails_every_other_response(realtime, dialect):
    result = _app(realtime, "text", dialect, scenario="server-error")
    statuses = [d["response"]["status"] for d in result.of("response.done")]
    assert statuses == ["failed", "completed", "failed", "completed"]
    assert [e["type"] for e in result.errors] == ["server_error", "server_error"]
    details = result.of("response.done")[0]["response"]["status_details"]
    assert details["type"] == "failed" and details["error"]["type"] == "server_error"


def test_drop_scenario_loses_the_connection_mid_response(realtime):
    result = _app(realtime, "conversation", "ga", scenario="drop")
    assert result.dropped and result.close_code == 1006
    assert result.of("response.created") and not result.of("response.done")
    assert result.of("response.output_audio.delta")


@pytest.mark.parametrize("dialect", ["ga", "beta"])
def test_rate_limit_scenario_runs_down_then_fails(realtime, dialect):
    big = {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": "lorem ipsum " * 60}],
    }

    async def go():
        async with (
            realtime.server(scenario="rate-limit") as srv,
            realtime.client(srv, beta=dialect == "beta") as c,
        ):
            await c.recv()
            statuses = []
            while "failed" not in statuses and len(statuses) < 10:
                await c.send({"type": "conversation.item.create", "item": big})
                await c.send({"type": "response.create"})
                statuses.append((await c.until("response.done"))["response"]["status"])
                if dialect == "ga":  # GA samples after response.done, beta after .created
                    await c.until("rate_limits.updated")
            return c, statuses

    c, statuses = realtime.run(go())
    assert statuses[-1] == "failed" and statuses.count("failed") == 1 and len(statuses) > 1
    failed = c.of("response.done")[-1]["response"]
    error = failed["status_details"]["error"]
    assert error["type"] == "tokens" and error["code"] == "rate_limit_exceeded"
    assert error["message"].startswith("Rate limit reached for gpt-realtime")
    assert failed["usage"]["total_tokens"] == 0
    tokens = [
        next(x for x in e["rate_limits"] if x["name"] == "tokens")
        for e in c.of("rate_limits.updated")
    ]
    assert all(t["limit"] == 700 for t in tokens)
    remaining = [t["remaining"] for t in tokens]
    assert remaining == sorted(remaining, reverse=True) and remaining[-1] < 350
    assert all(t["reset_seconds"] == round((700 - t["remaining"]) / 700 * 60, 3) for t in tokens)

"""Turns, responses and conversation items against a real simulator on 127.0.0.1."""

from __future__ import annotations

import base64

import pytest

GA_VAD = {
    "type": "realtime",
    "audio": {"input": {"turn_detection": {"type": "server_vad", "silence_duration_ms": 500}}},
}
BETA_VAD = {"turn_detection": {"type": "server_vad", "silence_duration_ms": 500}}
USER_TEXT = {
    "type": "message",
    "role": "user",
    "content": [{"type": "input_text", "text": "Hello"}],
}


async def _configured(c, beta: bool, session: dict | None = None) -> None:
    await c.until("session.created")
    await c.send({"type": "session.update", "session": session or (BETA_VAD if beta else GA_VAD)})
    await c.until("session.updated")


@pytest.mark.parametrize("fmt", ["pcm16", "g711_ulaw", "g711_alaw"])
def test_vad_positions_are_on_the_input_timeline(realtime, fmt):
    """1 s silence, 1.5 s speech, 1 s silence, 0.8 s speech, 1 s silence."""
    track = realtime.speech_track(
        ("silence", 1000),
        ("speech", 1500),
        ("silence", 1000),
        ("speech", 800),
        ("silence", 1000),
        fmt=fmt,
    )
    ga_format = {
        "pcm16": {"type": "audio/pcm", "rate": 24000},
        "g711_ulaw": {"type": "audio/pcmu"},
        "g711_alaw": {"type": "audio/pcma"},
    }[fmt]
    session = {
        "type": "realtime",
        "audio": {
            "input": {
                "format": ga_format,
                "turn_detection": {
                    "type": "server_vad",
                    "silence_duration_ms": 500,
                    "create_response": False,
                },
            }
        },
    }

    async def go():
        async with realtime.server() as srv, realtime.client(srv) as c:
            await _configured(c, False, session)
            await c.append_audio(track, fmt, chunk_ms=20 if fmt != "pcm16" else 40)
            await c.until("input_audio_buffer.committed")
            await c.until("input_audio_buffer.committed")
            return c

    c = realtime.run(go())
    starts = [e["audio_start_ms"] for e in c.of("input_audio_buffer.speech_started")]
    ends = [e["audio_end_ms"] for e in c.of("input_audio_buffer.speech_stopped")]
    # start = speech onset - 300 ms prefix padding; end = speech end + 500 ms silence window
    assert starts[0] == pytest.approx(1000 - 300, abs=30)
    assert ends[0] == pytest.approx(2500 + 500, abs=30)
    assert starts[1] == pytest.approx(3500 - 300, abs=30)
    assert ends[1] == pytest.approx(4300 + 500, abs=30)
    started = c.of("input_audio_buffer.speech_started")
    committed = c.of("input_audio_buffer.committed")
    assert [e["item_id"] for e in started] == [e["item_id"] for e in committed]
    assert committed[1]["previous_item_id"] == committed[0]["item_id"]
    assert not c.of("response.created")  # create_response false


def test_vad_result_does_not_depend_on_chunk_size(realtime):
    track = realtime.speech_track(("silence", 700), ("speech", 1300), ("silence", 900))

    async def go(chunk_ms):
        async with realtime.server() as srv, realtime.client(srv) as c:
            await _configured(c, False)
            await c.append_audio(track, chunk_ms=chunk_ms)
            stopped = await c.until("input_audio_buffer.speech_stopped")
            return c.of("input_audio_buffer.speech_started")[0]["audio_start_ms"], stopped[
                "audio_end_ms"
            ]

    assert realtime.run(go(20)) == realtime.run(go(500)) == realtime.run(go(3000))


@pytest.mark.parametrize("beta", [False, True])
def test_vad_turn_produces_item_and_a_full_audio_response(realtime, beta):
    track = realtime.speech_track(("silence", 500), ("speech", 1200), ("silence", 800))

    async def go():
        async with realtime.server() as srv, realtime.client(srv, beta=beta) as c:
            await _configured(c, beta)
            await c.append_audio(track)
            await c.until("response.done")
            start = c.events.index(c.of("session.updated")[0]) + 1
            return [e["type"] for e in c.events[start:]], c.events

    types, events = realtime.run(go())
    audio_delta = "response.audio.delta" if beta else "response.output_audio.delta"
    added = "conversation.item.created" if beta else "conversation.item.added"
    head = [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        added,
    ]
    assert types[:4] == head
    assert types[4 if beta else 5] == "response.created"
    if beta:
        assert types[5] == "rate_limits.updated"  # beta: right after response.created
        tail = [
            "response.audio.done",
            "response.audio_transcript.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.done",
        ]
    else:
        assert types[4] == "conversation.item.done"
        tail = [
            "response.output_audio.done",
            "response.output_audio_transcript.done",
            "response.content_part.done",
            "conversation.item.done",
            "response.output_item.done",
            "response.done",
        ]
    assert types[-len(tail) :] == tail
    assert types.count(audio_delta) >= 2
    done = events[-1]["response"]
    transcript = done["output"][0]["content"][0]["transcript"]
    deltas = "".join(e["delta"] for e in events if e["type"].endswith("audio_transcript.delta"))
    assert transcript == deltas and transcript
    audio_bytes = sum(len(base64.b64decode(e["delta"])) for e in events if e["type"] == audio_delta)
    usage = done["usage"]
    assert usage["output_token_details"]["audio_tokens"] == -(-audio_bytes // 2400)  # 1 per 50 ms
    assert done["output"][0]["content"][0]["type"] == ("audio" if beta else "output_audio")


def _check_usage(usage: dict, ga: bool) -> None:
    details = usage["input_token_details"]
    cached = details["cached_tokens_details"]
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    image = details.get("image_tokens", 0)
    assert ("image_tokens" in details) == ga
    assert usage["input_tokens"] == details["text_tokens"] + details["audio_tokens"] + image
    out = usage["output_token_details"]
    assert usage["output_tokens"] == out["text_tokens"] + out["audio_tokens"]
    assert details["cached_tokens"] == sum(cached.values())
    assert details["cached_tokens"] % 64 == 0
    assert cached["text_tokens"] <= details["text_tokens"]
    assert cached["audio_tokens"] <= details["audio_tokens"]


@pytest.mark.parametrize("beta", [False, True])
def test_manual_turns_grow_input_and_cached_tokens(realtime, beta):
    session = (
        {"turn_detection": None}
        if beta
        else {"type": "realtime", "audio": {"input": {"turn_detection": None}}}
    )
    track = realtime.speech_track(("speech", 1500))

    async def go():
        async with realtime.server() as srv, realtime.client(srv, beta=beta) as c:
            await _configured(c, beta, session)
            usages = []
            for _ in range(4):
                await c.append_audio(track)
                await c.send({"type": "input_audio_buffer.commit"})
                await c.until("input_audio_buffer.committed")
                await c.send({"type": "response.create"})
                usages.append((await c.until("response.done"))["response"]["usage"])
            return c, usages

    c, usages = realtime.run(go())
    assert not c.of("input_audio_buffer.speech_started")  # no VAD
    for usage in usages:
        _check_usage(usage, ga=not beta)
    inputs = [u["input_tokens"] for u in usages]
    cached = [u["input_token_details"]["cached_tokens"] for u in usages]
    assert inputs == sorted(inputs) and len(set(inputs)) == 4
    assert cached[0] == 0 and cached[-1] > cached[1] > 0
    assert all(u["input_token_details"]["audio_tokens"] > 0 for u in usages)


def test_text_modality_streams_text_deltas_and_clear_empties_the_buffer(realtime):
    async def go():
        async with realtime.server() as srv, realtime.client(srv) as c:
            await _configured(c, False, {"type": "realtime", "output_modalities": ["text"]})
            await c.append_audio(realtime.speech_track(("silence", 300)))
            await c.send({"type": "input_audio_buffer.clear"})
            await c.until("input_audio_buffer.cleared")
            await c.send({"type": "input_audio_buffer.commit", "event_id": "evt_1"})
            empty = await c.until("error")
            await c.send({"type": "conversation.item.create", "item": USER_TEXT})
            await c.send({"type": "response.create"})
            done = await c.until("response.done")
            return c, empty, done

    c, empty, done = realtime.run(go())
    assert empty["error"]["code"] == "input_audio_buffer_commit_empty"
    text = "".join(e["delta"] for e in c.of("response.output_text.delta"))
    assert text == c.of("response.output_text.done")[0]["text"]
    assert all("obfuscation" in e for e in c.of("response.output_text.delta"))
    assert not c.of("response.output_audio.delta")
    assert done["response"]["usage"]["output_token_details"]["audio_tokens"] == 0
    assert done["response"]["output"][0]["content"][0] == {"type": "output_text", "text": text}


def test_out_of_band_response_stays_out_of_the_conversation(realtime):
    async def go():
        async with realtime.server() as srv, realtime.client(srv, beta=True) as c:
            await c.until("conversation.created")
            await c.send({"type": "conversation.item.create", "item": USER_TEXT})
            await c.until("conversation.item.created")
            await c.send(
                {
                    "type": "response.create",
                    "response": {
                        "conversation": "none",
                        "modalities": ["text"],
                        "metadata": {"topic": "x"},
                    },
                }
            )
            oob = await c.until("response.done")
            await c.send({"type": "response.create"})
            normal = await c.until("response.done")
            return c, oob["response"], normal["response"]

    c, oob, normal = realtime.run(go())
    assert oob["conversation_id"] is None and oob["metadata"] == {"topic": "x"}
    assert oob["modalities"] == ["text"]
    assert normal["conversation_id"].startswith("conv_")
    created = [e["item"]["id"] for e in c.of("conversation.item.created")]
    assert oob["output"][0]["id"] not in created
    assert normal["output"][0]["id"] in created


def test_items_create_retrieve_delete(realtime):
    async def go():
        async with realtime.server() as srv, realtime.client(srv) as c:
            await c.recv()
            await c.send(
                {"type": "conversation.item.create", "item": {**USER_TEXT, "id": "item_mine"}}
            )
            added = await c.until("conversation.item.added")
            await c.until("conversation.item.done")
            await c.send(
                {
                    "type": "conversation.item.create",
                    "previous_item_id": "root",
                    "item": {**USER_TEXT, "id": "item_first"},
                }
            )
            first = await c.until("conversation.item.added")
            await c.send({"type": "conversation.item.retrieve", "item_id": "item_mine"})
            retrieved = await c.until("conversation.item.retrieved")
            await c.send({"type": "conversation.item.delete", "item_id": "item_mine"})
            deleted = await c.until("conversation.item.deleted")
            await c.send(
                {"type": "conversation.item.retrieve", "item_id": "item_mine", "event_id": "e1"}
            )
            gone = await c.until("error")
            return added, first, retrieved, deleted, gone

    added, first, retrieved, deleted, gone = realtime.run(go())
    assert added["item"]["id"] == "item_mine" and added["previous_item_id"] is None
    assert first["previous_item_id"] is None
    assert retrieved["item"]["content"] == [{"type": "input_text", "text": "Hello"}]
    assert deleted["item_id"] == "item_mine"
    assert gone["error"]["code"] == "item_retrieve_invalid_item_id"
    assert gone["error"]["event_id"] == "e1"


def test_response_create_while_active_and_client_cancel(realtime):
    async def go():
        async with realtime.server(pace=0.05) as srv, realtime.client(srv) as c:
            await c.recv()
            await c.send({"type": "conversation.item.create", "item": USER_TEXT})
            await c.send({"type": "response.create", "event_id": "evt_first"})
            await c.send({"type": "response.create", "event_id": "evt_second"})
            busy = await c.until("error")
            await c.until("response.created")
            await c.send({"type": "response.cancel", "event_id": "evt_cancel"})
            done = await c.until("response.done")
            return c, busy, done

    c, busy, done = realtime.run(go())
    assert busy["error"]["code"] == "conversation_already_has_active_response"
    assert busy["error"]["event_id"] == "evt_second"
    assert len(c.of("response.created")) == 1
    assert done["response"]["status"] == "cancelled"
    assert done["response"]["status_details"] == {"type": "cancelled", "reason": "client_cancelled"}


def test_barge_in_cancels_and_truncate_cuts_the_item(realtime):
    """Speech during a response cancels it (turn_detected); the app then truncates at what it
    played. pace=0.2 gives the server real-time-like generation, so the cut lands mid-reply."""
    first = realtime.speech_track(("silence", 300), ("speech", 1200), ("silence", 700), seed=1)
    barge = realtime.speech_track(("speech", 900), ("silence", 700), seed=2)

    async def go():
        async with realtime.server(pace=0.2) as srv, realtime.client(srv) as c:
            await _configured(c, False)
            await c.append_audio(first)
            created = await c.until("response.created")
            delta = await c.until("response.output_audio.delta")
            await c.append_audio(barge)
            await c.until("input_audio_buffer.speech_started")
            done = await c.until("response.done")
            item_id = delta["item_id"]
            await c.send(
                {
                    "type": "conversation.item.truncate",
                    "item_id": item_id,
                    "content_index": 0,
                    "audio_end_ms": 50,
                }
            )
            truncated = await c.until("conversation.item.truncated")
            await c.send(
                {
                    "type": "conversation.item.truncate",
                    "item_id": item_id,
                    "content_index": 0,
                    "audio_end_ms": 60_000,
                    "event_id": "evt_long",
                }
            )
            too_long = await c.until("error")
            await c.until("response.done")  # the barge-in turn gets its own response
            return created, done, truncated, too_long

    created, done, truncated, too_long = realtime.run(go())
    response = done["response"]
    assert response["id"] == created["response"]["id"]
    assert response["status"] == "cancelled"
    assert response["status_details"] == {"type": "cancelled", "reason": "turn_detected"}
    assert response["output"][0]["status"] == "incomplete"
    assert response["usage"]["output_token_details"]["audio_tokens"] > 0
    assert truncated["audio_end_ms"] == 50 and truncated["content_index"] == 0
    assert too_long["error"]["message"] == "Audio content of 50ms is already shorter than 60000ms"
    assert too_long["error"]["event_id"] == "evt_long"


def test_barge_in_before_any_output_reports_zero_usage(realtime):
    session = {"type": "realtime", "audio": {"input": {"turn_detection": None}}}

    async def go():
        async with realtime.server(pace=0.5) as srv, realtime.client(srv) as c:
            await _configured(c, False, session)
            await c.send({"type": "conversation.item.create", "item": USER_TEXT})
            await c.send({"type": "response.create"})
            await c.send({"type": "response.cancel"})
            return c, await c.until("response.done")

    c, done = realtime.run(go())
    assert done["response"]["output"] == []
    assert done["response"]["usage"]["total_tokens"] == 0
    assert not c.of("response.output_item.added") and not c.of("rate_limits.updated")


@pytest.mark.parametrize("beta", [False, True])
def test_function_call_round_trip(realtime, beta):
    tool = {
        "type": "function",
        "name": "get_weather",
        "description": "Weather",
        "parameters": {
            "type": "object",
            "properties": {"location": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["location", "days"],
        },
    }
    session = {"tools": [tool], "tool_choice": "auto", **({} if beta else {"type": "realtime"})}

    async def go():
        async with realtime.server(scenario="tools") as srv, realtime.client(srv, beta=beta) as c:
            await _configured(c, beta, session)
            await c.send({"type": "conversation.item.create", "item": USER_TEXT})
            await c.send({"type": "response.create"})
            first = (await c.until("response.done"))["response"]
            call = next(o for o in first["output"] if o["type"] == "function_call")
            await c.send(
                {
                    "type": "conversation.item.create",
                    "item": {
                        "type": "function_call_output",
                        "call_id": call["call_id"],
                        "output": '{"t": 21}',
                    },
                }
            )
            await c.send({"type": "response.create"})
            second = (await c.until("response.done"))["response"]
            return c, call, second

    c, call, second = realtime.run(go())
    done = c.of("response.function_call_arguments.done")[0]
    deltas = "".join(e["delta"] for e in c.of("response.function_call_arguments.delta"))
    assert deltas == done["arguments"] == call["arguments"]
    assert done["name"] == "get_weather" and done["call_id"] == call["call_id"]
    assert call["call_id"].startswith("call_") and len(call["call_id"]) == 21
    args = __import__("json").loads(call["arguments"])
    assert isinstance(args["location"], str) and isinstance(args["days"], int)
    assert [o["type"] for o in second["output"]] == ["message"]  # the follow-up speaks
    assert second["output"][0]["content"][0]["transcript"]


def test_same_seed_same_events(realtime):
    async def session(seed):
        async with realtime.server(seed=seed) as srv, realtime.client(srv) as c:
            await _configured(
                c, False, {"type": "realtime", "audio": {"input": {"turn_detection": None}}}
            )
            for _ in range(2):
                await c.send({"type": "conversation.item.create", "item": USER_TEXT})
                await c.send({"type": "response.create"})
                await c.until("rate_limits.updated")
            await c.append_audio(realtime.speech_track(("speech", 600)))
            await c.send({"type": "input_audio_buffer.commit"})
            await c.until("conversation.item.done")
            for e in c.events:
                e.get("session", {}).pop("expires_at", None)  # wall clock
            return c.events

    a, b, other = realtime.run(session(7)), realtime.run(session(7)), realtime.run(session(8))
    assert a == b
    assert a[0]["event_id"] != other[0]["event_id"]
    assert {e["event_id"] for e in a}.isdisjoint(e["event_id"] for e in other)

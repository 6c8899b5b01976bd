"""The scripts: what each simulated user does, turn by turn.

Every script starts like a real app: wait for `session.created`, send `session.update` in the
connection's dialect, wait for `session.updated`. Utterances are 1.2-2.4 s of synthetic speech
followed by silence long enough for the server VAD (silence_duration_ms 500) to end the turn.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from rtlens.simulator.apps import payloads
from rtlens.simulator.apps.client import AUDIO_DELTAS, App

INSTRUCTIONS = "You are a helpful assistant for a small online store. Keep answers short."
END_OF_TURN_MS = 800
Script = Callable[[App], Awaitable[None]]


async def _setup(app: App, **options: Any) -> None:
    await app.wait_type("session.created")
    mark = app.mark()
    session = payloads.session_update(app.dialect, instructions=INSTRUCTIONS, **options)
    await app.send({"type": "session.update", "session": session})
    await app.wait_type("session.updated", mark)


async def _utterance(app: App, low: float = 1200, high: float = 2400) -> int:
    """Say something and pause so the server VAD ends the turn; returns the mark before it."""
    mark = app.mark()
    await app.say(app.rng.uniform(low, high))
    await app.idle(END_OF_TURN_MS)
    return mark


async def _response(app: App, since: int) -> dict[str, Any]:
    """The `response` of the first response created after `since`, once it is done."""
    created = await app.wait_type("response.created", since)
    rid = created["response"]["id"]
    done = await app.wait_for(
        lambda e: e.get("type") == "response.done" and e["response"]["id"] == rid, since
    )
    return done["response"]


async def _first_audio(app: App, since: int) -> None:
    """Wait for the first audio delta of the first response created after `since`."""
    response_id = (await app.wait_type("response.created", since))["response"]["id"]
    await app.wait_for(
        lambda e: e.get("type") in AUDIO_DELTAS and e.get("response_id") == response_id, since
    )


async def _drain(app: App) -> None:
    """Wait for the transcriptions still running and the last rate-limit update."""
    commits = len(app.result.of("input_audio_buffer.committed"))
    ends = (
        "conversation.item.input_audio_transcription.completed",
        "conversation.item.input_audio_transcription.failed",
    )
    if app.result.of("session.updated")[-1]["session"].get("input_audio_transcription") or (
        app.dialect == "ga"
        and app.result.of("session.updated")[-1]["session"]["audio"]["input"]["transcription"]
    ):
        await app.wait_for(lambda e: sum(len(app.result.of(k)) for k in ends) >= commits)
    if app.dialect == "ga" and app.result.of("response.done"):
        last_done = max(
            i for i, e in enumerate(app.result.received) if e["type"] == "response.done"
        )
        if app.result.received[last_done]["response"]["output"]:
            await app.wait_type("rate_limits.updated", last_done)
    await app.idle(500)


async def conversation(app: App) -> None:
    """Three ordinary turns with server VAD and input transcription."""
    await _setup(app)
    await app.idle(600)
    for _ in range(3):
        mark = await _utterance(app)
        await _response(app, mark)
        await app.finish_playback()
        await app.idle(app.rng.uniform(400, 900))
    await _drain(app)


async def barge_in(app: App) -> None:
    """Interrupts the assistant twice: early (the response is usually still being generated,
    so the server cancels it) and late (generation finished; only the app's truncate)."""
    await _setup(app)
    await app.idle(600)
    mark = await _utterance(app, 1500, 2000)
    await _first_audio(app, mark)
    await app.idle(300)
    mark = await _utterance(app, 1000, 1400)
    await _response(app, mark)
    await app.finish_playback()
    await app.idle(700)
    mark = await _utterance(app)
    await _response(app, mark)
    await app.idle(max(200.0, 0.5 * (app.speaker.end_ms - app.clock_ms)))
    mark = await _utterance(app, 900, 1200)
    await _response(app, mark)
    await app.finish_playback()
    await _drain(app)


async def function_calling(app: App) -> None:
    """Tools configured; each call is answered after a short tool delay, then response.create."""
    await _setup(app, tools=payloads.TOOLS)
    await app.idle(600)
    for _ in range(3):
        mark = await _utterance(app)
        response = await _response(app, mark)
        while calls := [o for o in response["output"] if o["type"] == "function_call"]:
            await app.idle(app.rng.uniform(300, 900))
            for call in calls:
                result = {
                    "ok": True,
                    "tool": call["name"],
                    "arguments": json.loads(call["arguments"] or "{}"),
                }
                await app.send(
                    {
                        "type": "conversation.item.create",
                        "item": payloads.tool_output(call["call_id"], json.dumps(result)),
                    }
                )
            mark = app.mark()
            await app.send({"type": "response.create"})
            response = await _response(app, mark)
        await app.finish_playback()
        await app.idle(app.rng.uniform(400, 900))
    await _drain(app)


async def _expect_error(app: App, event: dict[str, Any] | str | bytes) -> dict[str, Any]:
    mark = app.mark()
    if isinstance(event, dict):
        event_id = (await app.send(event))["event_id"]
    else:
        await app.send_raw(event)
        event_id = None
    return await app.wait_for(
        lambda e: (
            e.get("type") == "error"
            and (event_id is None or e["error"].get("event_id") == event_id)
        ),
        mark,
    )


async def errors(app: App) -> None:
    """Sends what the server must refuse, then talks normally. Run it against the
    `transcription-failure` scenario to see failed transcriptions too."""
    await _setup(app)
    await _expect_error(app, {"type": "nope"})
    await _expect_error(app, "this is not json")
    await _expect_error(app, bytes(64))
    await _expect_error(app, {"event_id": app.event_id(), "session": {}})
    await _expect_error(app, {"type": "response.cancel"})
    bogus = {"bogus_field": 1} if app.dialect == "beta" else {"type": "realtime", "bogus_field": 1}
    await _expect_error(app, {"type": "session.update", "session": bogus})
    # The mic may be streaming (pace > 0): clear, then commit at once, so the buffer is empty.
    await app.send({"type": "input_audio_buffer.clear"})
    await _expect_error(app, {"type": "input_audio_buffer.commit"})
    await _expect_error(app, {"type": "conversation.item.delete", "item_id": "item_doesnotexist"})
    await app.idle(600)
    mark = await _utterance(app)
    await app.wait_type("response.created", mark)
    await _expect_error(app, {"type": "response.create"})
    response = await _response(app, mark)
    item = next(o for o in response["output"] if o["type"] == "message")
    user_item = app.result.of("input_audio_buffer.committed")[-1]["item_id"]
    # the classic bug: a wall-clock position past the end of the audio received (twilio#45)
    too_far = int(app.speaker.items[item["id"]].received_ms) + 1500
    await _expect_error(
        app,
        {
            "type": "conversation.item.truncate",
            "item_id": item["id"],
            "content_index": 0,
            "audio_end_ms": too_far,
        },
    )
    await _expect_error(
        app,
        {
            "type": "conversation.item.truncate",
            "item_id": user_item,
            "content_index": 0,
            "audio_end_ms": 100,
        },
    )
    await app.finish_playback()
    await app.idle(600)
    mark = await _utterance(app)
    await _response(app, mark)
    await app.finish_playback()
    await _drain(app)


async def manual(app: App) -> None:
    """Push-to-talk: no server VAD; the app commits and asks for each response itself."""
    app.streaming_mic = False
    app.truncate_on_speech = False
    await _setup(app, turn_detection=None)
    for _ in range(3):
        await app.say(app.rng.uniform(1200, 2400))
        await app.send({"type": "input_audio_buffer.commit"})
        mark = app.mark()
        await app.send({"type": "response.create"})
        await _response(app, mark)
        await app.finish_playback()
        await app.idle(app.rng.uniform(800, 1500))
    await _drain(app)


async def text(app: App) -> None:
    """A text-only chat, then one out-of-band summary (`conversation: "none"`)."""
    app.streaming_mic = False
    await _setup(app, turn_detection=None, transcribe=False, text_only=True)
    for prompt in ("Hi! Do you ship to Canada?", "How long does it take?", "Great, thanks."):
        await app.send({"type": "conversation.item.create", "item": payloads.user_text(prompt)})
        mark = app.mark()
        await app.send({"type": "response.create"})
        await _response(app, mark)
    mark = app.mark()
    await app.send(
        {
            "type": "response.create",
            "response": payloads.text_response(
                app.dialect,
                conversation="none",
                metadata={"purpose": "summary"},
                instructions="Summarise the conversation in one sentence.",
            ),
        }
    )
    await _response(app, mark)
    await _drain(app)


async def twilio_ulaw(app: App) -> None:
    """A phone call through a Twilio-style media stream: G.711 μ-law, 20 ms frames, and the
    caller talks over the second answer."""
    app.audio_format = app.output_format = "g711_ulaw"
    app.chunk_ms = 20
    await _setup(app, audio_format="g711_ulaw")
    await app.idle(400)
    for turn in range(3):
        mark = await _utterance(app)
        if turn == 1:
            await _first_audio(app, mark)
            await app.idle(600)
            mark = await _utterance(app, 900, 1300)
        await _response(app, mark)
        await app.finish_playback()
        await app.idle(app.rng.uniform(400, 900))
    await _drain(app)


async def typed_turn(app: App) -> None:
    """A voice call where the user types one message in between (a chat box beside the
    mic): spoken turn, typed turn answered in audio, spoken turn."""
    await _setup(app)
    await app.idle(600)
    mark = await _utterance(app)
    await _response(app, mark)
    await app.finish_playback()
    await app.idle(600)
    item = payloads.user_text("Actually, my order number is 4417.")
    await app.send({"type": "conversation.item.create", "item": item})
    mark = app.mark()
    await app.send({"type": "response.create"})
    await _response(app, mark)
    await app.finish_playback()
    await app.idle(600)
    mark = await _utterance(app)
    await _response(app, mark)
    await app.finish_playback()
    await _drain(app)


LONG_CALL_MINUTES = 60


async def long_call(app: App) -> None:
    """An hour-long support call (for benchmarks): ordinary turns, with a barge-in every
    seventh turn, until the caller's audio clock passes `LONG_CALL_MINUTES`."""
    await _setup(app)
    await app.idle(600)
    turn = 0
    while app.clock_ms < LONG_CALL_MINUTES * 60_000:
        turn += 1
        mark = await _utterance(app)
        if turn % 7 == 0:
            await _first_audio(app, mark)
            await app.idle(500)
            mark = await _utterance(app, 900, 1300)
        await _response(app, mark)
        await app.finish_playback()
        await app.idle(app.rng.uniform(400, 1500))
    await _drain(app)


SCRIPTS: dict[str, Script] = {
    "conversation": conversation,
    "barge_in": barge_in,
    "function_calling": function_calling,
    "errors": errors,
    "manual": manual,
    "text": text,
    "twilio_ulaw": twilio_ulaw,
    "typed_turn": typed_turn,
    "long_call": long_call,
}

"""The simulator over WebRTC: a real aiortc caller, real HTTP signalling, real Opus audio.

Each test re-runs itself in a loopback-only network namespace (`webrtc_helpers`), and checks
that it is there. Expected values are worked out beside each test from what it says into the
microphone: the VAD's `audio_start_ms` is 300 ms (prefix padding) before the first voiced
frame and `audio_end_ms` 200 ms (GA default silence) after the last, and a reply of text T
lasts `max(400, 1000 * len(T) / 15)` ms (15 characters a second, `simulator/audio.py`).
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

from openai import AsyncOpenAI
from openai.types.realtime import RealtimeServerEvent
from pydantic import TypeAdapter
from webrtc_helpers import Caller, loopback_only, rerun_in_netns

from rtlens.simulator import SimulatorConfig, serve
from rtlens.simulator import audio as sim_audio

KEY = {"Authorization": "Bearer sk-test-not-a-real-key"}
LOUD = 0.01  # frame RMS: the reply voice is ~-18 dBFS (0.12), the silence between is zero


def speech(ms: float, seed: int) -> bytes:
    """`ms` of the simulator's synthetic speech as pcm16 at 24 kHz (voiced end to end), after
    600 ms of a quiet noise floor (so the 300 ms prefix padding never reaches 0)."""
    rng = random.Random(seed)
    quiet = sim_audio.silence(600, 24000, rng)
    return sim_audio.encode(
        "pcm16", sim_audio.np.concatenate([quiet, sim_audio.speech(ms, 24000, rng)])
    )


async def dial(srv: Any, caller: Caller, **session: Any) -> str:
    """Offer through the real openai SDK (multipart sdp + session); return the call id."""
    base_url = srv.calls_url.removesuffix("/realtime/calls")
    async with AsyncOpenAI(api_key="sk-test-not-a-real-key", base_url=base_url) as client:
        raw = await client.realtime.calls.with_raw_response.create(
            sdp=await caller.offer(),
            session={"type": "realtime", "model": "gpt-realtime", **session},
        )
    assert raw.http_response.status_code == 201
    assert raw.headers["content-type"].startswith("application/sdp")
    location = raw.headers["location"]
    assert location.startswith("/v1/realtime/calls/rtc_")
    await caller.accept(raw.http_response.text)
    return location.rsplit("/", 1)[1]


def reply_ms(transcript: str) -> float:
    return max(400.0, 1000.0 * len(transcript) / 15.0)


def loud_span_frames(rms: list[float]) -> int:
    loud = [i for i, r in enumerate(rms) if r > LOUD]
    return loud[-1] - loud[0] + 1 if loud else 0


def test_a_turn_over_webrtc(request):
    if rerun_in_netns(request):
        return

    async def go():
        assert loopback_only() == ["lo"]
        async with serve(cfg=SimulatorConfig(seed=3), webrtc_port=0) as srv:
            caller = Caller()
            await dial(srv, caller, instructions="Be brief.")
            await caller.until("session.created")
            caller.mic.say(speech(1500, seed=1))
            stopped = await caller.until("output_audio_buffer.stopped")
            # the last frames are still on their way (encoder, jitter buffer): hear 0.5 s more
            await caller.heard(len(caller.heard_rms) + 25)
            heard = [r for _, r in caller.heard_rms]
            await caller.close()
            return caller.events, stopped, heard

    events, stopped, heard = asyncio.run(go())
    types = [e["type"] for e in events]
    assert events[0]["session"]["instructions"] == "Be brief."  # the `session` field applied
    started = next(e for e in events if e["type"] == "input_audio_buffer.speech_started")
    ended = next(e for e in events if e["type"] == "input_audio_buffer.speech_stopped")
    # 1500 ms voiced + 300 ms prefix + 200 ms silence; Opus smears an edge by a frame or two
    assert abs(ended["audio_end_ms"] - started["audio_start_ms"] - 2000) <= 60
    assert "response.output_audio.delta" not in types  # the audio rides the track
    created = types.index("response.created")
    first = types.index("output_audio_buffer.started")
    done = types.index("response.done")
    assert created < first < done < stopped
    response_id = events[done]["response"]["id"]
    assert events[first]["response_id"] == events[stopped]["response_id"] == response_id
    assert events[done]["response"]["status"] == "completed"
    transcript = next(e for e in events if e["type"] == "response.output_audio_transcript.done")
    # what the caller heard: the whole reply, counted in 20 ms frames (not timed); its first
    # and last syllables fade in and out (a 30% taper of up to 260 ms: under 40 ms each end
    # is below LOUD), and a frame of Opus look-ahead can add 20 ms
    span_ms = loud_span_frames(heard) * 20
    expected = reply_ms(transcript["transcript"])
    assert expected - 120 <= span_ms <= expected + 40
    adapter = TypeAdapter(RealtimeServerEvent)
    for event in events:
        adapter.validate_python(event)


def test_barge_in_clears_playback_and_the_server_truncates(request):
    if rerun_in_netns(request):
        return

    async def go():
        assert loopback_only() == ["lo"]
        async with serve(cfg=SimulatorConfig(seed=3), webrtc_port=0) as srv:
            caller = Caller()
            await dial(srv, caller)
            caller.mic.say(speech(1000, seed=1))
            first = await caller.until("output_audio_buffer.started")
            await caller.heard(20, LOUD)  # 400 ms of the reply heard
            caller.mic.say(speech(800, seed=2))
            truncated = await caller.until("conversation.item.truncated", start=first)
            await caller.until("response.created", start=truncated)  # the new turn's reply
            await caller.close()
            return caller.events, first, truncated

    events, first, truncated = asyncio.run(go())
    types = [e["type"] for e in events]
    response_id = events[first]["response_id"]
    barge = types.index("input_audio_buffer.speech_started", first)
    cleared = types.index("output_audio_buffer.cleared", first)
    assert barge < cleared < truncated
    assert events[cleared]["response_id"] == response_id
    # the server truncated by itself (this client never sent a truncate) at the ms played:
    # at least the 400 ms heard, less than the whole reply
    transcript = next(e for e in events if e["type"] == "response.output_audio_transcript.done")
    cut = events[truncated]
    assert 400 <= cut["audio_end_ms"] < reply_ms(transcript["transcript"])
    item = next(e for e in events if e["type"] == "response.output_item.added")["item"]["id"]
    assert (cut["item_id"], cut["content_index"]) == (item, 0)
    done = [e for e in events if e["type"] == "response.done"]
    if types.index("response.done") > cleared:  # still generating: cancelled by the barge-in
        assert done[0]["response"]["status_details"]["reason"] == "turn_detected"
    assert "output_audio_buffer.stopped" not in types[first:truncated]
    adapter = TypeAdapter(RealtimeServerEvent)
    for event in events:
        adapter.validate_python(event)

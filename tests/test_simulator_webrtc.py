"""The simulator over WebRTC: a real aiortc caller, real HTTP signalling, real Opus audio.

Each test re-runs itself in a loopback-only network namespace (`webrtc_helpers`), and checks
that it is there. Expected values are worked out beside each test from what it says into the
microphone: the VAD's `audio_start_ms` is 300 ms (prefix padding) before the first voiced
frame and `audio_end_ms` 200 ms (GA default silence) after the last, and a reply of text T
lasts `max(400, 1000 * len(T) / 15)` ms (15 characters a second, `simulator/audio.py`).
"""

from __future__ import annotations

import asyncio
import json
import re

import aiohttp
import pytest
from openai.types.realtime import RealtimeServerEvent
from pydantic import TypeAdapter
from webrtc_helpers import KEY, Caller, dial, loopback_only, rerun_in_netns, speech
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from rtlens.simulator import SimulatorConfig, serve

LOUD = 0.01  # frame RMS: the reply voice is ~-18 dBFS (0.12), the silence between is zero


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
    assert all(  # as in the real WebRTC captures C1/C2
        re.fullmatch(r"event_[0-9a-f]{16}", events[i]["event_id"]) for i in (first, stopped)
    )
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


def test_a_sideband_connection_sees_the_call_and_can_steer_it(request):
    if rerun_in_netns(request):
        return

    async def go():
        assert loopback_only() == ["lo"]
        async with serve(cfg=SimulatorConfig(seed=3), webrtc_port=0) as srv:
            caller = Caller()
            call_id = await dial(srv, caller)
            await caller.until("session.created")
            seen: list[dict] = []
            async with connect(f"{srv.url}?call_id={call_id}", additional_headers=KEY) as side:
                update = {"type": "realtime", "instructions": "From the sideband."}
                await side.send(json.dumps({"type": "session.update", "session": update}))
                mark = await caller.until("session.updated")
                caller.mic.say(speech(1000, seed=1))
                await caller.until("output_audio_buffer.stopped", start=mark)
                while not seen or seen[-1]["type"] != "output_audio_buffer.stopped":
                    seen.append(json.loads(await side.recv()))
            await caller.close()
            return caller.events[mark:], seen

    on_channel, on_sideband = asyncio.run(go())
    assert on_channel[0]["session"]["instructions"] == "From the sideband."
    # the same server events, in the same order, on both connections
    assert [e["event_id"] for e in on_sideband] == [e["event_id"] for e in on_channel]
    assert "output_audio_buffer.started" in [e["type"] for e in on_sideband]


def test_bad_offers_and_unknown_calls_get_clear_errors(request):
    if rerun_in_netns(request):
        return
    sdp = {"Content-Type": "application/sdp"}
    no_sdp = aiohttp.FormData()
    no_sdp.add_field("session", "{}", content_type="application/json")
    no_sdp.add_field("other", "x")  # two fields: aiohttp sends multipart/form-data
    broken = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n"

    async def go():
        assert loopback_only() == ["lo"]
        lines: list[str] = []
        async with serve(cfg=SimulatorConfig(), webrtc_port=0, log=lines.append) as srv:
            answers = []
            async with aiohttp.ClientSession() as http:
                for body, headers in [
                    ("hello", {**KEY, **sdp}),  # not SDP at all
                    (broken, {**KEY, **sdp}),  # SDP that no peer can answer
                    ("v=0\r\n", {**KEY, **sdp}),  # no audio
                    ("{}", {**KEY, "Content-Type": "application/json"}),
                    (no_sdp, KEY),  # multipart without sdp
                    (broken, sdp),  # no key
                ]:
                    async with http.post(srv.calls_url, data=body, headers=headers) as r:
                        answers.append((r.status, (await r.json())["error"]))
            url = f"{srv.url}?call_id=rtc_nosuchcall"
            async with connect(url, additional_headers=KEY) as side:
                event = json.loads(await side.recv())
                with pytest.raises(ConnectionClosed):
                    await side.recv()
                closed = (side.protocol.close_code, side.protocol.close_reason)
            calls = dict(srv.calls)
        return answers, event, closed, calls, lines

    answers, event, closed, calls, lines = asyncio.run(go())
    statuses = [status for status, _ in answers]
    assert statuses == [400, 400, 400, 400, 400, 401]
    messages = [error["message"] for _, error in answers]
    assert messages[0] == "Invalid SDP offer: the SDP offer must start with 'v=0'."
    assert messages[1].startswith("Invalid SDP offer: the SDP offer cannot be used")
    assert messages[2] == "Invalid SDP offer: the SDP offer has no audio m-line (m=audio)."
    assert answers[3][1]["code"] == "unsupported_content_type"
    assert answers[4][1]["param"] == "sdp"
    assert messages[5] == "Missing bearer or basic authentication in header"
    assert calls == {}  # nothing was started
    assert event["type"] == "error" and event["error"]["code"] == "call_not_found"
    assert "rtc_nosuchcall" in event["error"]["message"]
    assert closed == (4000, "invalid_request_error.call_not_found")
    refusals = [line for line in lines if "refused" in line]
    assert len(refusals) == 7 and "sideband for unknown call rtc_nosuchcall" in refusals[-1]


def test_the_beta_endpoint_speaks_beta_over_webrtc(request):
    if rerun_in_netns(request):
        return
    from openai.types.beta.realtime import RealtimeServerEvent as BetaServerEvent

    async def go():
        assert loopback_only() == ["lo"]
        async with serve(cfg=SimulatorConfig(seed=5), webrtc_port=0) as srv:
            caller = Caller()
            url = srv.calls_url.removesuffix("/calls") + "?model=gpt-4o-realtime-preview"
            headers = {**KEY, "Content-Type": "application/sdp"}
            async with (
                aiohttp.ClientSession() as http,
                http.post(url, data=await caller.offer(), headers=headers) as r,
            ):
                assert r.status == 201
                assert r.headers["Location"].startswith("/v1/realtime/calls/rtc_")
                await caller.accept(await r.text())
            caller.mic.say(speech(1000, seed=1))
            await caller.until("output_audio_buffer.stopped")
            await caller.close()
            return caller.events

    events = asyncio.run(go())
    types = [e["type"] for e in events]
    assert types[:2] == ["session.created", "conversation.created"]
    assert "response.audio_transcript.delta" in types  # beta names
    assert "response.audio.delta" not in types
    assert types.index("response.done") < types.index("output_audio_buffer.stopped")
    adapter = TypeAdapter(BetaServerEvent)
    for event in events:
        adapter.validate_python(event)


def test_the_ga_endpoint_also_takes_a_bare_sdp_body(request):
    if rerun_in_netns(request):
        return

    async def go():
        assert loopback_only() == ["lo"]
        async with serve(cfg=SimulatorConfig(), webrtc_port=0) as srv:
            caller = Caller()
            headers = {**KEY, "Content-Type": "application/sdp"}
            url = srv.calls_url + "?model=gpt-realtime-mini"
            async with (
                aiohttp.ClientSession() as http,
                http.post(url, data=await caller.offer(), headers=headers) as r,
            ):
                assert (r.status, r.content_type) == (201, "application/sdp")
                assert r.headers["Access-Control-Expose-Headers"] == "Location"
                await caller.accept(await r.text())
            await caller.until("session.created")
            await caller.close()
            return caller.events[0]

    created = asyncio.run(go())
    assert created["session"]["model"] == "gpt-realtime-mini"
    assert created["session"]["type"] == "realtime"  # GA shape

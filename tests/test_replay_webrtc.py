"""WebRTC recordings replayed over WebSocket (`rtlens replay` serves WebSocket only).

A WebRTC recording holds the data channel's events and none of the audio: the audio rode the
media tracks, so there are no audio deltas, and `output_audio_buffer.*` says when the server
played it. Replayed, a WebSocket app gets exactly those events; recorded again through the
relay, the tables are the same (ingest still calls the transport `webrtc`, from the events).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import orjson
import pytest
from builders import CORPUS
from replay_helpers import assert_same_call, frames, replay_to_plain_client
from webrtc_helpers import KEY, Caller, dial, loopback_only, rerun_in_netns, speech
from websockets.asyncio.client import connect

import rtlens
from rtlens.recording import serve_relay
from rtlens.simulator import SimulatorConfig, serve

LOG_1 = CORPUS / "derived" / "ctvidic__banyan-landing__docs_log_1.server_events.jsonl"


async def _record_a_webrtc_call(out_dir: Path) -> Path:
    """A real aiortc call with a barge-in, recorded by the relay from its sideband."""
    async with serve(cfg=SimulatorConfig(seed=3), webrtc_port=0) as srv:
        upstream = f"ws://127.0.0.1:{srv.port}"
        async with serve_relay("127.0.0.1", 0, upstream=upstream, out_dir=out_dir) as relay:
            caller = Caller()
            call_id = await dial(srv, caller)
            await caller.until("session.created")
            url = f"ws://127.0.0.1:{relay.port}/v1/realtime?call_id={call_id}"
            async with connect(url, additional_headers=KEY) as side:
                reading = asyncio.create_task(_drain(side))
                update = {"type": "realtime", "instructions": "Replayed over WebSocket."}
                await side.send(json.dumps({"type": "session.update", "session": update}))
                mark = await caller.until("session.updated")
                caller.mic.say(speech(1000, seed=1))
                first = await caller.until("output_audio_buffer.started", start=mark)
                await caller.heard(20, 0.01)  # 400 ms of the reply heard, then the user talks
                caller.mic.say(speech(800, seed=2))
                cut = await caller.until("conversation.item.truncated", start=first)
                await caller.until("output_audio_buffer.stopped", start=cut)
                await side.close()
                await reading
            await caller.close()
    (path,) = out_dir.glob("*.jsonl")
    return path


async def _drain(ws) -> None:
    async for _ in ws:
        pass


def test_a_webrtc_call_replays_over_websocket_as_the_same_call(request, tmp_path):
    if rerun_in_netns(request):
        return
    assert loopback_only() == ["lo"]
    recorded = asyncio.run(_record_a_webrtc_call(tmp_path / "webrtc"))
    lines = frames(recorded)
    types = [f["event"]["type"] for f in lines if "event" in f]
    # what makes it a WebRTC recording (hand-checked from its lines)
    assert "output_audio_buffer.started" in types and "output_audio_buffer.cleared" in types
    assert "conversation.item.truncated" in types
    assert not [t for t in types if t.endswith("audio.delta")]
    assert [f["event"]["type"] for f in lines if f.get("dir") == "client"] == ["session.update"]
    header = orjson.loads(recorded.read_bytes().splitlines()[0])

    again, result = asyncio.run(
        replay_to_plain_client(
            recorded, tmp_path / "again", path_and_query=header["request"]["path"]
        )
    )
    assert result.divergence is None
    assert_same_call(recorded, again)
    con = rtlens.load([again])
    assert con.execute("select transport, output_audio_ms from sessions").fetchone() == (
        "webrtc",
        0.0,
    )


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"real captures not found at {CORPUS}")
def test_a_real_webrtc_capture_is_served_over_websocket_event_for_event(tmp_path):
    """C1 (beta WebRTC, a bare event log without times): every event, in order, at once."""
    events = [orjson.loads(line) for line in LOG_1.read_bytes().splitlines() if line.strip()]
    again, result = asyncio.run(
        replay_to_plain_client(
            LOG_1, tmp_path, path_and_query="/v1/realtime?model=gpt-4o-realtime-preview-2024-12-17"
        )
    )
    assert result.divergence is None and result.steps_sent == len(events)
    assert [f.get("event") for f in frames(again) if f.get("dir") == "server"] == events
    # responses by id, created or done (the capture ends during its last one)
    done = {
        e["response"]["id"] for e in events if e["type"] in ("response.created", "response.done")
    }
    con = rtlens.load([again])
    assert con.execute("select transport from sessions").fetchone() == ("webrtc",)
    assert con.execute("select count(*) from responses").fetchone() == (len(done),)
    assert con.execute("select count(*) from events where audio_bytes > 0").fetchone() == (0,)

"""Recording WebRTC calls on the server side: `rtlens attach CALL_ID` and the relay's sideband.

A real aiortc caller dials the simulator (in a loopback-only namespace, `webrtc_helpers`);
`rtlens attach` runs as the real program, and the relay as `rtlens.recording.serve_relay`.
What each recording must hold is what the caller saw on its data channel from the moment
the sideband attached: the same server events, by `event_id`, in the same order.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
from webrtc_helpers import KEY, Caller, dial, loopback_only, rerun_in_netns, speech
from websockets.asyncio.client import connect

from rtlens.recording import serve_relay
from rtlens.simulator import SimulatorConfig, serve

SECRET = "sk-attach-secret-0123456789abcdef"


def lines_of(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_attach_records_a_call_until_it_ends(request, tmp_path):
    if rerun_in_netns(request):
        return

    async def go():
        assert loopback_only() == ["lo"]
        attached = asyncio.Event()

        def log(line: str) -> None:
            if " sideband " in line and " -> " in line:
                attached.set()

        async with serve(cfg=SimulatorConfig(seed=3), webrtc_port=0, log=log) as srv:
            caller = Caller()
            call_id = await dial(srv, caller)
            await caller.until("session.created")
            proc = await asyncio.create_subprocess_exec(
                *[sys.executable, "-m", "rtlens", "attach", call_id],
                *["--upstream", f"ws://127.0.0.1:{srv.port}", "--out", str(tmp_path)],
                env={**os.environ, "OPENAI_API_KEY": SECRET},
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            await asyncio.wait_for(attached.wait(), 120)  # a safety net: the log is awaited
            mark = len(caller.events)
            caller.mic.say(speech(1000, seed=1))
            await caller.until("output_audio_buffer.stopped", start=mark)
            caller.send({"type": "session.close"})  # the call ends: attach stops by itself
            out, err = await asyncio.wait_for(proc.communicate(), 120)
            await caller.close()
            return call_id, caller.events[mark:], proc.returncode, out.decode(), err.decode()

    call_id, seen, code, out, err = asyncio.run(go())
    assert code == 0, err
    [path] = tmp_path.glob("*.jsonl")
    assert out == f"{path}: {len(seen)} server event(s), close 1000 call ended\n"
    text = path.read_text()
    assert SECRET not in text
    header, *frames, close = lines_of(path)
    assert header["source"] == "sideband" and header["call_id"] == call_id
    assert header["upstream"].endswith(f"/v1/realtime?call_id={call_id}")
    assert [f["dir"] for f in frames] == ["server"] * len(seen)
    assert [f["event"]["event_id"] for f in frames] == [e["event_id"] for e in seen]
    assert close["close"] == {"by": "server", "code": 1000, "reason": "call ended"}

    db = tmp_path / "rt.duckdb"
    ingest = subprocess.run(
        [sys.executable, "-m", "rtlens", "ingest", str(path), "--db", str(db)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ingest.returncode == 0, ingest.stderr
    con = duckdb.connect(str(db), read_only=True)
    source, transport = con.execute("select source, transport from sessions").fetchone()
    assert (source, transport) == ("sideband", "webrtc")
    # first audio on WebRTC is output_audio_buffer.started, hand-placed from the file's lines
    t0 = frames[0]["ts"]
    started = next(f for f in frames if f["event"]["type"] == "output_audio_buffer.started")
    created = next(f for f in frames if f["event"]["type"] == "response.created")
    first_audio, ttfa = con.execute("select first_audio_ms, ttfa_ms from responses").fetchone()
    assert abs(first_audio - (started["ts"] - t0) * 1000) < 0.01
    assert abs(ttfa - (started["ts"] - created["ts"]) * 1000) < 0.01


def test_attach_to_an_unknown_call_is_one_clear_line(request, tmp_path):
    if rerun_in_netns(request):
        return

    async def go():
        async with serve(cfg=SimulatorConfig(), webrtc_port=0) as srv:
            proc = await asyncio.create_subprocess_exec(
                *[sys.executable, "-m", "rtlens", "attach", "rtc_gone"],
                *["--upstream", f"ws://127.0.0.1:{srv.port}", "--out", str(tmp_path)],
                env={**os.environ, "OPENAI_API_KEY": SECRET},
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            out, err = await asyncio.wait_for(proc.communicate(), 120)
            return proc.returncode, out.decode(), err.decode()

    code, _out, err = asyncio.run(go())
    [path] = tmp_path.glob("*.jsonl")
    assert code == 1
    assert err == (
        "Error: the API refused the sideband for rtc_gone (close 4000 "
        f"invalid_request_error.call_not_found): see the error in {path}\n"
    )
    _header, error, close = lines_of(path)  # a file ingest reads: the error and the close
    assert error["event"]["error"]["code"] == "call_not_found"
    assert close["close"]["code"] == 4000
    no_key = subprocess.run(
        [sys.executable, "-m", "rtlens", "attach", "rtc_x"],
        env={k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert no_key.returncode == 2 and "set OPENAI_API_KEY" in no_key.stderr


def test_the_relay_records_a_sideband_like_any_websocket(request, tmp_path):
    if rerun_in_netns(request):
        return

    async def go():
        assert loopback_only() == ["lo"]
        async with serve(cfg=SimulatorConfig(seed=3), webrtc_port=0) as srv:
            upstream = f"ws://127.0.0.1:{srv.port}"
            async with serve_relay("127.0.0.1", 0, upstream=upstream, out_dir=tmp_path) as relay:
                caller = Caller()
                call_id = await dial(srv, caller)
                await caller.until("session.created")
                url = f"ws://127.0.0.1:{relay.port}/v1/realtime?call_id={call_id}"
                async with connect(url, additional_headers=KEY) as side:
                    update = {"type": "realtime", "instructions": "Through the relay."}
                    await side.send(json.dumps({"type": "session.update", "session": update}))
                    mark = await caller.until("session.updated")
                    caller.mic.say(speech(1000, seed=1))
                    await caller.until("output_audio_buffer.stopped", start=mark)
                    seen = []
                    while not seen or seen[-1]["type"] != "output_audio_buffer.stopped":
                        seen.append(json.loads(await side.recv()))
                await caller.close()
        return caller.events[mark:], seen

    on_channel, on_sideband = asyncio.run(go())
    [path] = tmp_path.glob("*.jsonl")
    header, *frames = lines_of(path)
    assert header["source"] == "relay" and "call_id=" in header["upstream"]
    assert "sk-test-not-a-real-key" not in path.read_text()
    sent = [f["event"] for f in frames if f.get("dir") == "client"]
    assert [e["type"] for e in sent] == ["session.update"]
    got = [f["event"]["event_id"] for f in frames if f.get("dir") == "server"]
    assert got == [e["event_id"] for e in on_sideband] == [e["event_id"] for e in on_channel]


def test_a_barge_in_recorded_by_attach_is_heard_audio_in_the_tables(request, tmp_path):
    """The server's own truncation is what the caller heard; Ctrl-C ends attach cleanly."""
    if rerun_in_netns(request):
        return

    async def go():
        assert loopback_only() == ["lo"]
        attached = asyncio.Event()

        def log(line: str) -> None:
            if " sideband " in line and " -> " in line:
                attached.set()

        async with serve(cfg=SimulatorConfig(seed=3), webrtc_port=0, log=log) as srv:
            caller = Caller()
            call_id = await dial(srv, caller)
            await caller.until("session.created")
            proc = await asyncio.create_subprocess_exec(
                *[sys.executable, "-m", "rtlens", "attach", call_id],
                *["--upstream", f"ws://127.0.0.1:{srv.port}", "--out", str(tmp_path)],
                env={**os.environ, "OPENAI_API_KEY": SECRET},
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            await asyncio.wait_for(attached.wait(), 120)  # a safety net: the log is awaited
            caller.mic.say(speech(1000, seed=1))
            first = await caller.until("output_audio_buffer.started")
            await caller.heard(20, 0.01)  # 400 ms of the reply heard, then the user talks
            caller.mic.say(speech(800, seed=2))
            cut = await caller.until("conversation.item.truncated", start=first)
            proc.send_signal(signal.SIGINT)  # the call goes on; attach stops recording
            _out, err = await asyncio.wait_for(proc.communicate(), 120)
            await caller.close()
            return caller.events[cut], proc.returncode, err.decode()

    truncated, code, err = asyncio.run(go())
    assert code == 0, err
    [path] = tmp_path.glob("*.jsonl")
    *_, last = lines_of(path)
    assert last["close"] == {"by": "client", "code": 1000, "reason": "rtlens attach: stopped"}
    db = tmp_path / "rt.duckdb"
    ingest = subprocess.run(
        [sys.executable, "-m", "rtlens", "ingest", str(path), "--db", str(db)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ingest.returncode == 0, ingest.stderr
    con = duckdb.connect(str(db), read_only=True)
    row = con.execute(
        "select item_id, truncated_by, audio_played_ms, audio_stop_after_ms from interruptions"
    ).fetchall()
    assert len(row) == 1
    item_id, by, played, stop_after = row[0]
    assert (item_id, by, played) == (truncated["item_id"], "server", truncated["audio_end_ms"])
    assert stop_after is not None  # from output_audio_buffer.cleared
    report = subprocess.run(
        [sys.executable, "-m", "rtlens", "report", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert report.returncode == 0 and "GA over WebRTC" in report.stdout, report.stderr

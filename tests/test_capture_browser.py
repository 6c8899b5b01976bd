"""The browser capture in a real browser: Debian's chromium calls the simulator over WebRTC.

Inside a loopback-only network namespace (`webrtc_helpers.rerun_in_netns`): `rtlens record`
runs as the real program (two workers, so a call's batches may land in either process),
the simulator in this process, and a small page on loopback includes the relay's
/capture.js before it creates its RTCPeerConnection. Chromium's fake microphone plays a
WAV of the simulator's synthetic speech, which its VAD hears. The page logs every message
it sends and receives on `oai-events`; the simulator's link is watched for every event it
sends and gets. The recording must hold exactly those, in order, both directions, and its
tables what the simulator did.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import stat
import subprocess
import sys
import wave
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pytest
from browser_helpers import ARGS, CHROMIUM
from relay_helpers import free_port
from webrtc_helpers import loopback_only, rerun_in_netns

from rtlens.simulator import SimulatorConfig, serve
from rtlens.simulator import audio as sim_audio
from rtlens.simulator.link import CallLink

SECRET = "ek_browser_capture_secret_0123456789"

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>call</title>
<script src="%(relay)s/capture.js"></script></head><body><p id="state">idle</p><script>
window.seen = [];  // [dir, text] as the app itself sent and received them
window.types = [];
async function call(callsUrl) {
  const pc = new RTCPeerConnection({iceServers: []});
  const mic = await navigator.mediaDevices.getUserMedia({audio: true});
  pc.addTrack(mic.getTracks()[0], mic);
  pc.ontrack = (e) => { const a = new Audio(); a.srcObject = e.streams[0]; a.play(); };
  const dc = pc.createDataChannel('oai-events');
  const send = (event) => {
    const text = JSON.stringify(event);
    dc.send(text);
    seen.push(['client', text]);
  };
  dc.onmessage = (e) => {
    seen.push(['server', e.data]);
    const event = JSON.parse(e.data);
    types.push(event.type);
    if (event.type === 'session.created') {
      send({type: 'session.update', session: {type: 'realtime', instructions: 'Be brief.'}});
    }
  };
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((done) => {  // no trickle ICE: the offer carries its candidates
    if (pc.iceGatheringState === 'complete') return done();
    pc.addEventListener('icegatheringstatechange',
      () => pc.iceGatheringState === 'complete' && done());
  });
  const answer = await fetch(callsUrl + '?model=gpt-realtime', {
    method: 'POST', body: pc.localDescription.sdp,
    headers: {'Authorization': 'Bearer %(secret)s', 'Content-Type': 'application/sdp'},
  });
  window.location_header = answer.headers.get('location');
  await pc.setRemoteDescription({type: 'answer', sdp: await answer.text()});
  window.pc = pc;
  document.getElementById('state').textContent = 'calling';
}
</script></body></html>
"""


def fake_microphone(path: Path) -> None:
    """1.2 s of the simulator's synthetic speech after 0.6 s of a noise floor, then 30 s of
    the floor (played once: `%noloop`), 48 kHz mono."""
    rng = random.Random(5)
    rate = 48000
    samples = np.concatenate(
        [
            sim_audio.silence(600, rate, rng),
            sim_audio.speech(1200, rate, rng),
            sim_audio.silence(30000, rate, rng),
        ]
    )
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(sim_audio.encode("pcm16", samples))


class LinkWatch:
    """Every event the simulator's calls send and receive on their link, in order."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.sent: list[str] = []
        self.got: list[str] = []
        send, deliver = CallLink.send, CallLink.deliver
        watch = self

        async def watched_send(link: CallLink, message: str) -> None:
            if link.channel is not None and link.channel.readyState == "open":
                watch.sent.append(message)
            await send(link, message)

        def watched_deliver(link: CallLink, message: Any) -> None:
            if isinstance(message, str | bytes) and not link.closed:
                watch.got.append(message if isinstance(message, str) else message.decode())
            deliver(link, message)

        monkeypatch.setattr(CallLink, "send", watched_send)
        monkeypatch.setattr(CallLink, "deliver", watched_deliver)


async def serve_page(html: str) -> tuple[Any, int]:
    from aiohttp import web

    async def page(_request: web.Request) -> web.Response:
        return web.Response(text=html, content_type="text/html")

    app = web.Application()
    app.router.add_get("/", page)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, int(runner.addresses[0][1])


class Relay:
    """`rtlens record` as a program; its terminal lines are read as they come."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.port = free_port()
        self.lines: list[str] = []
        self._changed = asyncio.Condition()

    async def start(self, upstream: str) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            *[sys.executable, "-m", "rtlens", "record", "--workers", "2"],
            *["--listen", f"127.0.0.1:{self.port}", "--upstream", upstream],
            *["--out", str(self.out_dir)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self._reader = asyncio.ensure_future(self._read())
        await self.until("relay processes")

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        async for raw in self.proc.stdout:
            async with self._changed:
                self.lines.append(raw.decode().rstrip("\n"))
                self._changed.notify_all()

    async def until(self, text: str) -> str:
        def found() -> str | None:
            return next((line for line in self.lines if text in line), None)

        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: found() is not None), 120)
        line = found()
        assert line is not None
        return line

    async def stop(self) -> None:
        self.proc.terminate()
        await asyncio.wait_for(self.proc.wait(), 60)
        await self._reader


@pytest.mark.parametrize(
    ("hang_up", "reason"),
    [("pc.close()", "pc.close()"), ("location.href = 'about:blank'", "pagehide")],
    ids=["pc-close", "pagehide"],
)
def test_a_browser_call_is_recorded_event_for_event(
    request, tmp_path, monkeypatch, hang_up, reason
):
    """The page hangs up (`pc.close()`), or leaves (its last batch goes in a beacon)."""
    if rerun_in_netns(request):
        return
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    playwright = pytest.importorskip("playwright.async_api", reason="pip install playwright")
    assert loopback_only() == ["lo"]
    mic = tmp_path / "mic.wav"
    fake_microphone(mic)
    out = tmp_path / "recordings"
    watch = LinkWatch(monkeypatch)

    async def go() -> dict[str, Any]:
        relay = Relay(out)
        async with serve(cfg=SimulatorConfig(seed=3), webrtc_port=0) as srv:
            await relay.start(f"ws://127.0.0.1:{srv.port}")
            relay_url = f"http://127.0.0.1:{relay.port}"
            runner, page_port = await serve_page(PAGE % {"relay": relay_url, "secret": SECRET})
            args = [
                *ARGS,
                "--allow-loopback-in-peer-connection",  # the namespace has nothing else
                "--use-fake-device-for-media-stream",
                "--use-fake-ui-for-media-stream",
                f"--use-file-for-fake-audio-capture={mic}%noloop",
            ]
            try:
                async with playwright.async_playwright() as pw:
                    browser = await pw.chromium.launch(executable_path=CHROMIUM, args=args)
                    page = await browser.new_page()
                    errors: list[str] = []
                    page.on("pageerror", lambda e: errors.append(str(e)))
                    await page.goto(f"http://127.0.0.1:{page_port}/")
                    await page.evaluate("(url) => call(url)", srv.calls_url)
                    await page.wait_for_function(
                        "types.includes('output_audio_buffer.stopped')", timeout=120_000
                    )
                    seen = await page.evaluate("seen")
                    location = await page.evaluate("location_header")
                    await page.evaluate(hang_up)
                    closed = await relay.until(" close ")
                    await browser.close()
            finally:
                await runner.cleanup()
                await relay.stop()
        return {
            "seen": seen,
            "location": location,
            "closed": closed,
            "errors": errors,
            "lines": relay.lines,
        }

    got = asyncio.run(go())
    assert got["errors"] == []
    [path] = out.glob("*.jsonl")
    assert f"close  {path}  by client '{reason}'" in got["closed"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert SECRET not in text
    header, *frames, close = [json.loads(line) for line in text.splitlines()]

    # every message the page saw, in its order, both directions
    seen = [(d, json.loads(t)) for d, t in got["seen"]]
    assert seen, "the page saw no events"
    recorded = [(f["dir"], f["event"]) for f in frames]
    assert recorded == seen
    # and what the simulator sent and got on the channel until then
    server = [e for d, e in recorded if d == "server"]
    client = [e for d, e in recorded if d == "client"]
    assert server == [json.loads(m) for m in watch.sent[: len(server)]]
    assert client == [json.loads(m) for m in watch.got[: len(client)]]
    assert [e["type"] for e in client] == ["session.update"]
    ts = [f["ts"] for f in frames]
    assert ts == sorted(ts)
    assert close["close"] == {"by": "client", "code": None, "reason": reason}
    assert close["ts"] >= ts[-1]

    call_id = got["location"].rsplit("/", 1)[1]
    assert header["source"] == "browser" and header["transport"] == "webrtc"
    assert header["call_id"] == call_id
    assert header["upstream"].endswith("/v1/realtime/calls?model=gpt-realtime")
    assert header["request"]["method"] == "POST"
    assert ["Authorization", "<redacted>"] in header["request"]["headers"]
    assert header["response"]["status"] == 201

    db = tmp_path / "rt.duckdb"
    ingest = subprocess.run(
        [sys.executable, "-m", "rtlens", "ingest", str(path), "--db", str(db)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ingest.returncode == 0, ingest.stderr
    con = duckdb.connect(str(db), read_only=True)
    source, transport, n_events = con.execute(
        "select source, transport, n_events from sessions"
    ).fetchone()
    assert (source, transport, n_events) == ("browser", "webrtc", len(frames))
    # the simulator's responses, each first heard at its output_audio_buffer.started line
    t0 = frames[0]["ts"]
    started = {
        f["event"]["response_id"]: (f["ts"] - t0) * 1000
        for f in frames
        if f["event"]["type"] == "output_audio_buffer.started"
    }
    done = {e["response"]["id"] for e in server if e["type"] == "response.done"}
    rows = con.execute("select response_id, first_audio_ms from responses").fetchall()
    assert {r for r, _ in rows} == done and done
    for response_id, first_audio in rows:
        assert abs(first_audio - started[response_id]) < 0.01
    committed = [e["item_id"] for e in server if e["type"] == "input_audio_buffer.committed"]
    turns = con.execute("select item_id, v2v_ms from turns order by turn").fetchall()
    assert [t for t, _ in turns] == committed and committed
    stopped = next(f for f in frames if f["event"]["type"] == "input_audio_buffer.speech_stopped")
    first = min(started.values())
    assert abs(turns[0][1] - (first - (stopped["ts"] - t0) * 1000)) < 0.01
    report = subprocess.run(
        [sys.executable, "-m", "rtlens", "report", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert report.returncode == 0 and "over WebRTC" in report.stdout, report.stderr
    assert os.environ.get("RTLENS_TEST_IN_NETNS") == "1"

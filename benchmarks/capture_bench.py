"""The browser capture's cost in the page, and the collector's rate, in Debian's chromium.

A page holds two peer connections joined on loopback: the "API" side (the browser's own
RTCPeerConnection, saved before capture.js wraps it) sends Realtime-shaped events on
`oai-events`; the app's side receives them, with and without capture.js (a fresh page
each), and `rtlens record --workers 1` (the real program) takes the batches. The page is
cross-origin isolated, so `performance.now()` has 5 µs resolution, not 100.

- **dispatch**: from the message event's creation (`event.timeStamp`) to the start of the
  app's handler: what runs before the app's handler (capture.js's listener) adds to it.
- **send**: one `channel.send()` of the app, with capture.js's wrapper or without.
- **end to end**: the far side's send → the app's handler, paced at one event per ms
  (batch flushes run on the page's thread too, so they show here if they delay anything).
- **events/s**: a flood of events through the page into the collector's file: first send
  to the call's close line on the terminal; and the collector alone (batches of 400 events
  posted one at a time from Python).

Run it inside a loopback-only namespace, as the tests do:

    unshare --net sh -c 'ip link set lo up && ip addr add 127.0.0.2/8 dev lo && \\
        .venv/bin/python benchmarks/capture_bench.py --events 3000 --flood 20000'
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from aiohttp import web
from playwright.async_api import async_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from browser_helpers import ARGS, CHROMIUM

PAGE = """<!doctype html><html><head><meta charset="utf-8">
<script>window.NativePC = window.RTCPeerConnection;</script>
%(capture)s
<script>
let near, far, app, api;
async function pair() {
  await navigator.mediaDevices.getUserMedia({audio: true});
  far = new NativePC(); near = new RTCPeerConnection();
  far.onicecandidate = (e) => e.candidate && near.addIceCandidate(e.candidate);
  near.onicecandidate = (e) => e.candidate && far.addIceCandidate(e.candidate);
  app = near.createDataChannel('oai-events');
  const farChannel = new Promise((r) => { far.ondatachannel = (e) => r(e.channel); });
  await near.setLocalDescription(); await far.setRemoteDescription(near.localDescription);
  await far.setLocalDescription(); await near.setRemoteDescription(far.localDescription);
  api = await farChannel;
  await new Promise((r) => api.readyState === 'open' ? r() : (api.onopen = r));
  if (app.readyState !== 'open') await new Promise((r) => (app.onopen = r));
}
function delta(i) {
  return JSON.stringify({type: 'response.output_audio_transcript.delta',
    event_id: 'event_' + i.toString(16).padStart(21, '0'),
    response_id: 'resp_C0aBcDeFgHiJkLmNoPqRs',
    item_id: 'item_C0aBcDeFgHiJkLmNoPqRt', output_index: 0, content_index: 0,
    delta: ' word', obfuscation: 'a1b2c3d4e5', sent: performance.now()});
}
// capture.js's batch work on the page's thread (the flush builds and posts a batch)
const flushes = [], takes = [];
function timeFlushes() {
  const proto = Object.getPrototypeOf(__rtlensCapture.calls[0]), flush = proto.flush;
  const take = proto.take;
  proto.take = function (m) {
    const t = performance.now(), body = take.call(this, m);
    takes.push(performance.now() - t);
    return body;
  };
  proto.flush = function () {
    const t = performance.now(); flush.call(this); flushes.push(performance.now() - t);
  };
}
// paced: one event a ms from the far side; the app's handler notes when it ran
function paced(n) {
  return new Promise((done) => {
    const dispatch = [], e2e = [];
    app.onmessage = (e) => {
      const t = performance.now();
      dispatch.push(t - e.timeStamp);
      e2e.push(t - JSON.parse(e.data).sent);
      if (dispatch.length === n) done({dispatch, e2e});
    };
    let i = 0;
    const timer = setInterval(() => {
      api.send(delta(i++));
      if (i === n) clearInterval(timer);
    }, 1);
  });
}
function sends(n) {
  const cost = [];
  for (let i = 0; i < n; i++) {
    const text = JSON.stringify({type: 'input_audio_buffer.append', audio: 'AAAA'.repeat(64), i});
    const t = performance.now(); app.send(text); cost.push(performance.now() - t);
  }
  return cost;
}
// as fast as the channel takes them; resolves when the app has them all
async function flood(n) {
  let got = 0;
  const all = new Promise((done) => { app.onmessage = () => { if (++got === n) done(); }; });
  const start = performance.timeOrigin + performance.now();
  api.bufferedAmountLowThreshold = 1 << 20;
  for (let i = 0; i < n; i++) {
    if (api.bufferedAmount > 4 << 20) await new Promise((r) => (api.onbufferedamountlow = r));
    api.send(delta(i));
  }
  await all;
  return {start, received: performance.timeOrigin + performance.now()};
}
</script></head><body></body></html>
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summary(values: list[float]) -> dict[str, float]:
    return {"p50_ms": pct(values, 0.5), "p99_ms": pct(values, 0.99), "max_ms": max(values)}


class Relay:
    def __init__(self, out: Path) -> None:
        self.out = out
        self.port = free_port()
        self.lines: list[str] = []
        self.line_at: list[float] = []
        self.changed = asyncio.Event()

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            *[sys.executable, "-m", "rtlens", "record", "--workers", "1"],
            *["--listen", f"127.0.0.1:{self.port}", "--out", str(self.out)],
            *["--upstream", "ws://127.0.0.1:9"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self.reader = asyncio.ensure_future(self._read())
        await self.until("relaying")

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        async for raw in self.proc.stdout:
            self.lines.append(raw.decode().rstrip())
            self.line_at.append(time.time())
            self.changed.set()

    async def until(self, text: str, start: int = 0) -> float:
        while True:
            for i in range(start, len(self.lines)):
                if text in self.lines[i]:
                    return self.line_at[i]
            self.changed.clear()
            await asyncio.wait_for(self.changed.wait(), 300)

    async def stop(self) -> None:
        self.proc.terminate()
        await self.proc.wait()
        await self.reader


async def collector_alone(port: int, batches: int) -> float:
    """Events/s the collector takes from batches of 400 posted one at a time."""
    import http.client

    key = "f" * 32
    event = json.dumps({"type": "response.output_audio_transcript.delta", "delta": " word"})

    def run() -> float:
        t = time.perf_counter()
        for seq in range(batches):
            body: dict[str, Any] = {"rtlens_capture": 1, "call": key, "seq": seq}
            if seq == 0:
                body["open"] = {"started": time.time() * 1000}
            if seq == batches - 1:
                body["close"] = {"ts": time.time() * 1000, "by": "client", "reason": "done"}
            now = time.time() * 1000
            body["events"] = [{"ts": now, "dir": "server", "text": event}] * 400
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            conn.request("POST", "/collect", json.dumps(body), {"Content-Type": "text/plain"})
            assert conn.getresponse().status == 200
            conn.close()
        return batches * 400 / (time.perf_counter() - t)

    return await asyncio.to_thread(run)


async def main(events: int, flood_n: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        relay = Relay(Path(tmp) / "rec")
        await relay.start()
        relay_url = f"http://127.0.0.1:{relay.port}"
        pages = {
            "without": PAGE % {"capture": ""},
            "with": PAGE % {"capture": f'<script src="{relay_url}/capture.js"></script>'},
        }

        async def page(request: web.Request) -> web.Response:
            if request.match_info["mode"] not in pages:
                raise web.HTTPNotFound()
            return web.Response(
                text=pages[request.match_info["mode"]],
                content_type="text/html",
                headers={  # cross-origin isolated: 5 µs timers
                    "Cross-Origin-Opener-Policy": "same-origin",
                    "Cross-Origin-Embedder-Policy": "require-corp",
                },
            )

        app = web.Application()
        app.router.add_get("/{mode}", page)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        page_port = int(runner.addresses[0][1])
        # loopback candidates; Chrome gathers host candidates only once the page has been
        # granted a microphone (the fake one)
        args = [
            *ARGS,
            "--allow-loopback-in-peer-connection",
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
        ]
        try:
            async with async_playwright() as pw:
                browser = await pw.chromium.launch(executable_path=CHROMIUM, args=args)
                for mode in ("without", "with"):
                    tab = await browser.new_page()
                    await tab.goto(f"http://127.0.0.1:{page_port}/{mode}")
                    assert await tab.evaluate("crossOriginIsolated")
                    await tab.evaluate("pair()")
                    if mode == "with":
                        await tab.evaluate("timeFlushes()")
                    got = await tab.evaluate(f"paced({events})")
                    cost = await tab.evaluate(f"sends({events})")
                    results[mode] = {
                        "dispatch": summary(got["dispatch"]),
                        "end_to_end": summary(got["e2e"]),
                        "send": summary(cost),
                    }
                    if mode == "with":
                        results[mode]["flush"] = summary(await tab.evaluate("flushes"))
                        results[mode]["flushes"] = await tab.evaluate("flushes.length")
                        results[mode]["take"] = summary(await tab.evaluate("takes"))
                        mark = len(relay.lines)
                        await tab.evaluate("near.close()")  # the paced call's file ends
                        await relay.until(" close ", mark)
                        await tab.evaluate("pair()")  # a fresh call for the flood
                        mark = len(relay.lines)
                        times = await tab.evaluate(f"flood({flood_n})")
                        await tab.evaluate("near.close()")
                        written = await relay.until(" close ", mark)
                        start_s = times["start"] / 1000
                        results["flood"] = {
                            "events": flood_n,
                            "page_events_per_s": flood_n / (times["received"] / 1000 - start_s),
                            "recorded_events_per_s": flood_n / (written - start_s),
                        }
                    await tab.close()
                await browser.close()
            results["collector_alone_events_per_s"] = await collector_alone(relay.port, 100)
        finally:
            await runner.cleanup()
            await relay.stop()
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=3000, help="paced events per page")
    parser.add_argument("--flood", type=int, default=20000, help="events in the flood")
    opts = parser.parse_args()
    print(json.dumps(asyncio.run(main(opts.events, opts.flood)), indent=2))

"""A real aiortc caller for the simulator's WebRTC tests, and the loopback-only namespace.

WebRTC gathers candidates on every interface, so each WebRTC test re-runs itself inside a
network namespace that has only loopback (`unshare --net`): no packet can leave 127.0.0.0/8.
aioice leaves 127.0.0.1 out of its host candidates, so the namespace gives `lo` a second
loopback address, 127.0.0.2, for ICE to use.
"""

from __future__ import annotations

import asyncio
import fractions
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame
from openai import AsyncOpenAI

from rtlens.simulator import audio as sim_audio

IN_NETNS = "RTLENS_TEST_IN_NETNS"
KEY = {"Authorization": "Bearer sk-test-not-a-real-key"}
ROOT = Path(__file__).resolve().parent.parent


def rerun_in_netns(request: pytest.FixtureRequest) -> bool:
    """Run this test again inside a loopback-only namespace; True when the caller must stop
    (the re-run did the work and passed), False when already inside it."""
    if os.environ.get(IN_NETNS) == "1":
        return False
    unshare = shutil.which("unshare")
    ip = shutil.which("ip")
    if unshare is None or ip is None:
        pytest.skip("needs unshare and ip (util-linux, iproute2) for a loopback-only namespace")
    probe = subprocess.run([unshare, "--net", "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"unshare --net is not permitted here: {probe.stderr.decode().strip()}")
    setup = 'ip link set lo up && ip addr add 127.0.0.2/8 dev lo && exec "$@"'
    cmd = [unshare, "--net", "sh", "-c", setup, "sh", sys.executable, "-m", "pytest", "-q"]
    cmd += ["-p", "no:cacheprovider", "-x", request.node.nodeid]
    env = {**os.environ, IN_NETNS: "1"}
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    return True


def loopback_only() -> list[str]:
    """The namespace's interfaces (the tests assert there is nothing but `lo`)."""
    return sorted(name for _, name in socket.if_nameindex())


class MicTrack(MediaStreamTrack):
    """The caller's microphone: queued pcm16 (24 kHz) in real time, quiet noise in between."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self.queue = bytearray()
        self._start: float | None = None
        self._n = 0
        self._noise = np.random.default_rng(7)

    def say(self, pcm16: bytes) -> None:
        self.queue += pcm16

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        now = time.monotonic()
        if self._start is None:
            self._start = now
        else:
            await asyncio.sleep(max(0.0, self._start + self._n * 0.02 - now))
        chunk = bytes(self.queue[:960])
        del self.queue[:960]
        if len(chunk) < 960:  # a -66 dBFS noise floor: a real microphone is never zero
            floor = (self._noise.standard_normal(480) * 16).astype("<i2").tobytes()
            chunk += floor[len(chunk) :]
        frame = AudioFrame(format="s16", layout="mono", samples=480)
        frame.planes[0].update(chunk)
        frame.pts = self._n * 480
        frame.sample_rate = 24000
        frame.time_base = fractions.Fraction(1, 24000)
        self._n += 1
        return frame


class Caller:
    """A WebRTC client: offer, data channel `oai-events`, a mic, and the heard audio."""

    def __init__(self) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.mic = MicTrack()
        self.pc.addTrack(self.mic)
        self.channel = self.pc.createDataChannel("oai-events")
        self.events: list[dict[str, Any]] = []
        self.event_at: list[float] = []
        self.heard_rms: list[tuple[float, float]] = []  # (monotonic time, frame RMS)
        self.opened = asyncio.Event()
        self._arrived = asyncio.Condition()
        self._tasks: list[asyncio.Task[None]] = []
        self.channel.on("open", self.opened.set)
        self.channel.on("message", self._on_message)
        self.pc.on("track", self._on_track)

    def _on_message(self, message: str) -> None:
        self.events.append(json.loads(message))
        self.event_at.append(time.monotonic())
        self._tasks.append(asyncio.ensure_future(self._wake()))

    async def _wake(self) -> None:
        async with self._arrived:
            self._arrived.notify_all()

    def _on_track(self, track: Any) -> None:
        self._tasks.append(asyncio.ensure_future(self._listen(track)))

    async def _listen(self, track: Any) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            pcm = frame.to_ndarray().astype(np.float64) / 32768.0
            self.heard_rms.append((time.monotonic(), float(np.sqrt(np.mean(pcm * pcm)))))
            await self._wake()

    async def heard(self, frames: int, level: float = 0.0) -> None:
        """Wait until `frames` frames louder than `level` (RMS) have been heard."""

        def enough() -> bool:
            return sum(r >= level for _, r in self.heard_rms) >= frames

        async with self._arrived:
            await asyncio.wait_for(self._arrived.wait_for(enough), 120)

    async def offer(self) -> str:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return self.pc.localDescription.sdp

    async def accept(self, answer_sdp: str) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(answer_sdp, "answer"))
        await asyncio.wait_for(self.opened.wait(), 60)  # a safety net: the open is awaited

    def send(self, event: dict[str, Any]) -> None:
        self.channel.send(json.dumps(event))

    async def until(self, kind: str, start: int = 0, **fields: Any) -> int:
        """Wait for an event of `kind` (with `fields`) at index >= start; return its index."""

        def found() -> int | None:
            for i in range(start, len(self.events)):
                e = self.events[i]
                if e["type"] == kind and all(e.get(k) == v for k, v in fields.items()):
                    return i
            return None

        async with self._arrived:
            await asyncio.wait_for(self._arrived.wait_for(lambda: found() is not None), 120)
        index = found()
        assert index is not None
        return index

    def types(self) -> list[str]:
        return [e["type"] for e in self.events]

    async def close(self) -> None:
        await self.pc.close()
        for task in self._tasks:
            task.cancel()


def speech(ms: float, seed: int) -> bytes:
    """`ms` of the simulator's synthetic speech as pcm16 at 24 kHz (voiced end to end), after
    600 ms of a quiet noise floor (so the 300 ms prefix padding never reaches 0)."""
    rng = random.Random(seed)
    quiet = sim_audio.silence(600, 24000, rng)
    return sim_audio.encode("pcm16", np.concatenate([quiet, sim_audio.speech(ms, 24000, rng)]))


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

"""Per-frame latency through `rtlens record`, against a direct connection and a bare relay.

    python benchmarks/relay_latency.py [--sessions 1,50] [--seconds 20] [--slice-seconds 5]
                                       [--metrics] [--otlp]
                                       [--out benchmarks/results/relay_latency.json]

Processes, for each session count (each role is its own process, so the path under test has
its CPU read from `/proc/<pid>/stat`):

- upstream: the rtlens simulator (`pace=1`, the real service's timing), instrumented in its
  own process: every event it sends carries a sequence number and a send time in its
  `event_id`, and arrivals are stamped as websockets parses each frame;
- the paths under test: a bare forwarding relay written here with websockets (`bare`) and the
  real `python -m rtlens record` CLI (`record`); `direct` goes straight to the upstream;
- with `--metrics`, a fifth path `metrics`: `rtlens record --metrics`, its /metrics scraped
  every second for the whole run, so its p99 and CPU per frame compare with `record`'s;
- with `--otlp`, that path and a sixth, `otlp`: `rtlens record --metrics --otlp URL`, scraped
  the same way and sending its spans live to an OTLP/HTTP receiver in this process (it
  answers 200 to every POST), so off, `--metrics` and `--metrics --otlp` are one run;
- clients: one process running N asyncio sessions, each streaming 40 ms pcm16 appends in real
  time and asking for spoken responses one after another, as a user who answers as soon as
  the assistant's audio has played out.

Interleaving: the clients run a schedule of short slices (`--slice-seconds`), each slice one
path, the path order rotating each cycle, until every path has streamed `--seconds`. Each
slice opens fresh sessions, streams, drains and closes them. Other people's jobs on the
machine then hit every path alike, and each path is measured `seconds / slice` times, which
gives the spread.

Latency is one-way: the sender's `time.perf_counter_ns()` just before `send()` to the
receiver's stamp when websockets hands over the parsed frame. CLOCK_MONOTONIC is one clock for
every process on the machine, so no clock sync is involved. Sequence numbers count every text
frame both ways: `lost` = sent but never received, `reordered` = arrived after a later one.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import math
import os
import random
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode

PATHS = ("direct", "bare", "tap", "record", "record2")
RELAYS = ("bare", "tap", "record", "record2")
# `record` is `rtlens record --workers 1` (one process), `record2` is `--workers 2`.
WORKERS = {"tap": 1, "record": 1, "record2": 2, "metrics": 1, "otlp": 1}
LIVE = ("metrics", "otlp")  # the paths with `--metrics` (`otlp`: and `--otlp`)
# `tap`: the real `rtlens record` with frame lines not written (header and close lines are),
# so record/tap is what writing the recording itself costs on rtlens's own forwarding path.
TAP = """
import sys
from rtlens.logfile.writer import SessionWriter
SessionWriter.write_text = lambda self, direction, data, ts_us=None: 0
SessionWriter.write_binary = lambda self, direction, data, ts_us=None: 0
from rtlens.cli import main
sys.exit(main())
"""
DIRECTIONS = ("up", "down")  # up: client -> upstream; down: upstream -> client
DEFAULT_OUT = "benchmarks/results/relay_latency.json"
SESSION_PARAM = "bench_session"  # `<slice>-<session>`, so the upstream can tell them apart
API_KEY = "sk-rtlens-bench-0000000000000000"  # any key will do; the simulator never checks
HEAD_BYTES = 256  # enough to hold `type` and `event_id`, which come first in every frame
STAMP = re.compile(rb'"event_id":"[^"]*/(\d+)/(\d+)"')
SETTLE_S = 0.5  # between the last session's setup and the first streamed frame of a slice
QUIET_S = 0.3  # no frame for this long after the last response: nothing is in flight
TARGET_RATIO = 1.10
TARGET_ADDED_MS = 2.0
TARGET_SESSIONS = 50
COUNTS = ("frames", "sent", "lost", "reordered", "duplicated", "setup_frames", "window_frames")
SCRIPT = Path(__file__).resolve()
PORT_LINE = r"^PORT (\d+)"


# ---- stamping ------------------------------------------------------------------------------


def stamped_id(prefix: str, seq: int) -> str:
    """An `event_id` carrying the sequence number and the send time (taken now)."""
    return f"{prefix}/{seq}/{time.perf_counter_ns()}"


class Arrivals:
    """Receive-side stamps: taken in `process_event`, as soon as websockets has parsed a frame.

    Stamping there rather than after `recv()` keeps the receiving application's own work
    (the simulator's VAD, the clients' bookkeeping) out of the measurement: it is the same in
    every path and would only add noise. Only the head of each frame is kept; it is parsed
    once the run is over, off the measured path.
    """

    arrivals: list[tuple[int, bytes]]
    sent_frames: int

    def stamp(self, event: Any) -> None:
        if isinstance(event, Frame) and event.opcode is Opcode.TEXT and event.fin:
            self.arrivals.append((time.perf_counter_ns(), bytes(event.data[:HEAD_BYTES])))


class StampedClient(ClientConnection, Arrivals):
    """The benchmark client's connection."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.arrivals = []
        self.sent_frames = 0

    def process_event(self, event: Any) -> None:
        self.stamp(event)
        super().process_event(event)


class StampedServer(ServerConnection, Arrivals):
    """The simulator's side of a connection; every one is kept for the final dump."""

    opened: list[StampedServer] = []  # noqa: RUF012 (one process, one registry)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.arrivals = []
        self.sent_frames = 0
        StampedServer.opened.append(self)

    def process_event(self, event: Any) -> None:
        self.stamp(event)
        super().process_event(event)


def receive_record(arrivals: list[tuple[int, bytes]]) -> dict[str, list[int]]:
    """Sequence numbers, send and receive times (ns) of the stamped frames, in arrival order."""
    record: dict[str, list[int]] = {"seq": [], "sent_ns": [], "recv_ns": []}
    for received_ns, head in arrivals:
        match = STAMP.search(head)
        if match is None:
            continue  # a frame without a stamp: none is expected, and `lost` would show it
        record["seq"].append(int(match[1]))
        record["sent_ns"].append(int(match[2]))
        record["recv_ns"].append(received_ns)
    return record


def write_json(path: str | Path, data: Any) -> None:
    Path(path).write_bytes(orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY))


async def until_signalled() -> None:
    """Wait for SIGTERM or SIGINT: the orchestrator stops every role that way."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


# ---- role: upstream (the instrumented simulator) -------------------------------------------


def instrument_simulator(live_voice: bool) -> None:
    """Patch the simulator, in this process only, to stamp what it sends and receives.

    - `Session.emit` puts `<its own event id>/<seq>/<send ns>` in `event_id`; the seq is taken
      before the first await, and websockets writes a frame before `send()` first yields, so
      seq order is wire order even with a response task and the session loop both sending.
    - connections are `StampedServer`, which stamp every arrival.
    - unless `live_voice`: the assistant's voice for each canned reply is synthesised once at
      start-up. Live synthesis blocks the simulator's event loop 3-20 ms per response (numpy,
      ~1.6 ms per second of audio); at 50 sessions that is several stalls a second, which
      set every path's p99 alike (measured: direct p99 up 0.6 ms cached, 23 ms live) and
      bury the relay's share. Only the waveform's randomness changes: sizes, timing and
      events are the same.
    """
    from rtlens.catalogue import wire_name
    from rtlens.simulator import audio, canned, server, session

    async def emit(self: Any, stream: Any, canonical: str, **fields: Any) -> None:
        ws = self.ws
        seq = ws.sent_frames
        ws.sent_frames = seq + 1
        event = {
            "type": wire_name(canonical, self.dialect),
            "event_id": stamped_id(stream.event_id(), seq),
            **fields,
        }
        await ws.send(orjson.dumps(event).decode())
        self.sent += 1

    def ws_serve(*args: Any, **kwargs: Any) -> Any:
        return serve(*args, create_connection=StampedServer, **kwargs)

    session.Session.emit = emit  # type: ignore[method-assign]
    server.ws_serve = ws_serve  # type: ignore[assignment]
    if not live_voice:
        voices: dict[tuple[str, str], bytes] = {}
        synthesise = audio.assistant_voice
        for text in canned.REPLIES + canned.TOOL_FOLLOW_UPS + canned.TOOL_PREAMBLES:
            voices[text, "pcm16"] = synthesise(text, "pcm16", random.Random(text))

        def cached_voice(text: str, fmt: str, rng: random.Random) -> bytes:
            if (text, fmt) not in voices:
                voices[text, fmt] = synthesise(text, fmt, rng)
            return voices[text, fmt]

        audio.assistant_voice = cached_voice


def upstream_dump() -> dict[str, Any]:
    """What the simulator sent (counts) and received (stamps), per bench session key."""
    sent: dict[str, int] = {}
    received: dict[str, dict[str, list[int]]] = {}
    for conn in StampedServer.opened:
        key = session_key(conn.request.path if conn.request else "")
        if key is not None:
            sent[key] = conn.sent_frames
            received[key] = receive_record(conn.arrivals)
    return {"sent": sent, "received": received}


def session_key(request_path: str) -> str | None:
    values = parse_qs(urlsplit(request_path).query).get(SESSION_PARAM)
    return values[-1] if values else None


async def upstream_main(out: str, live_voice: bool) -> None:
    instrument_simulator(live_voice)
    from rtlens.simulator import SimulatorConfig, server

    async with server.serve("127.0.0.1", 0, SimulatorConfig(pace=1.0)) as sim:
        print(f"PORT {sim.port}", flush=True)
        await until_signalled()
    write_json(out, upstream_dump())


# ---- role: bare relay ----------------------------------------------------------------------


async def bare_relay_main(upstream: str) -> None:
    """The baseline: forward every frame both ways, no recording, nothing else.

    It is as cheap as a websockets relay gets (`decode=False`, frames sent on as text: every
    frame in this benchmark is text), so `record` is compared with the best case.
    """

    async def pump(src: Any, dst: Any) -> None:
        try:
            while True:
                await dst.send(await src.recv(decode=False), text=True)
        except ConnectionClosed:
            await dst.close()

    async def handler(app: ServerConnection) -> None:
        assert app.request is not None
        auth = [("Authorization", app.request.headers["Authorization"])]
        url = upstream + app.request.path
        async with connect(url, additional_headers=auth, compression=None, max_size=None) as api:
            await asyncio.gather(pump(app, api), pump(api, app))

    async with serve(handler, "127.0.0.1", 0, compression=None, max_size=None) as relay:
        print(f"PORT {relay.sockets[0].getsockname()[1]}", flush=True)
        await until_signalled()


# ---- role: clients -------------------------------------------------------------------------


def audio_chunks(chunk_ms: int, count: int = 25) -> list[str]:
    """Base64 pcm16 chunks of microphone noise (-66 dBFS: real size, below the VAD threshold,
    so the simulator's server VAD runs on every append but never starts a turn)."""
    from rtlens.simulator import audio

    rng = random.Random(0)
    pcm = audio.encode("pcm16", audio.silence(chunk_ms * count, 24000, rng))
    step = len(pcm) // count
    return [base64.b64encode(pcm[i * step : (i + 1) * step]).decode() for i in range(count)]


def delta_audio_ms(frame: bytes) -> float:
    """Milliseconds of 24 kHz pcm16 in an audio delta, from its base64 length (the last field)."""
    start = frame.rfind(b'"delta":"') + len(b'"delta":"')
    return (len(frame) - start - 2) * 3 / 4 / 48


@dataclass
class ClientSession:
    """One app session: a mic streaming appends, and a user taking turns with the assistant."""

    index: int
    ws: StampedClient
    configured: asyncio.Event = field(default_factory=asyncio.Event)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    responding: bool = False
    first_audio_at: float | None = None
    response_audio_ms: float = 0.0
    audio_ms_down: float = 0.0

    async def send(self, kind: str, **fields: Any) -> None:
        """Send an event whose `event_id` (second key, inside the stamped head) is stamped."""
        seq = self.ws.sent_frames
        event = {"type": kind, "event_id": stamped_id("c", seq), **fields}
        await self.ws.send(orjson.dumps(event), text=True)
        self.ws.sent_frames = seq + 1

    async def read(self) -> None:
        """Consume every frame; note what the turn-taking needs (the stamps are already taken)."""
        loop = asyncio.get_running_loop()
        with contextlib.suppress(ConnectionClosed):
            while True:
                frame = await self.ws.recv(decode=False)
                if frame.startswith(b'{"type":"response.output_audio.delta"'):
                    ms = delta_audio_ms(frame)
                    self.audio_ms_down += ms
                    self.response_audio_ms += ms
                    if self.first_audio_at is None:
                        self.first_audio_at = loop.time()
                elif frame.startswith(b'{"type":"response.done"'):
                    self.responding = False
                    self.done.set()
                elif frame.startswith(b'{"type":"session.updated"'):
                    self.configured.set()

    async def stream_mic(
        self, chunks: list[str], start: float, stop: float, chunk_s: float
    ) -> None:
        """Append one chunk every `chunk_s` on an absolute schedule (late ticks catch up)."""
        loop = asyncio.get_running_loop()
        tick = start
        n = self.index
        while tick < stop:
            await asyncio.sleep(max(0.0, tick - loop.time()))
            await self.send("input_audio_buffer.append", audio=chunks[n % len(chunks)])
            n += 1
            tick += chunk_s

    async def converse(self, start: float, stop: float) -> None:
        """Ask for a response, let its audio play out, ask again; until `stop`."""
        loop = asyncio.get_running_loop()
        await asyncio.sleep(max(0.0, start - loop.time()))
        while loop.time() < stop:
            self.done.clear()
            self.first_audio_at, self.response_audio_ms = None, 0.0
            self.responding = True
            await self.send("response.create")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.done.wait(), max(0.0, stop - loop.time()))
            if not self.done.is_set():
                return  # streaming time is up: `finish` cancels the response
            played = (self.first_audio_at or loop.time()) + self.response_audio_ms / 1000
            await asyncio.sleep(max(0.0, min(played, stop) - loop.time()))

    async def finish(self) -> None:
        """Cancel a response still streaming, wait until nothing is in flight, then close."""
        if self.responding:
            await self.send("response.cancel")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.done.wait(), 15)
        seen = -1
        while seen != len(self.ws.arrivals):
            seen = len(self.ws.arrivals)
            await asyncio.sleep(QUIET_S)
        await self.ws.close()


async def open_session(url: str, key: str, index: int) -> tuple[ClientSession, asyncio.Task[None]]:
    """Connect, configure (server VAD, audio out, no transcription), wait for the update."""
    from rtlens.simulator.apps.payloads import session_update

    ws = await connect(
        f"{url}/v1/realtime?model=gpt-realtime&{SESSION_PARAM}={key}",
        additional_headers={"Authorization": f"Bearer {API_KEY}"},
        compression=None,
        max_size=None,
        open_timeout=60,
        create_connection=StampedClient,
    )
    assert isinstance(ws, StampedClient)
    session = ClientSession(index, ws)
    reader = asyncio.create_task(session.read())
    body = session_update("ga", instructions="You are a benchmark.", transcribe=False)
    await session.send("session.update", session=body)
    await asyncio.wait_for(session.configured.wait(), 30)
    return session, reader


@dataclass
class SliceSpec:
    index: int
    path: str
    url: str
    sessions: int
    seconds: float
    chunk_ms: int


async def run_slice(spec: SliceSpec, chunks: list[str]) -> dict[str, Any]:
    """Open every session, stream together for `seconds` (START..STOP lines), drain, close."""
    opened = await asyncio.gather(
        *(open_session(spec.url, f"{spec.index}-{k}", k) for k in range(spec.sessions))
    )
    loop = asyncio.get_running_loop()
    start = loop.time() + SETTLE_S
    stop = start + spec.seconds
    chunk_s = spec.chunk_ms / 1000
    rng = random.Random(spec.index)
    work = []
    for session, _ in opened:
        phase = start + chunk_s * session.index / spec.sessions  # uncorrelated mics, evenly
        work.append(session.stream_mic(chunks, phase, stop, chunk_s))
        work.append(session.converse(start + rng.uniform(0, min(2.0, spec.seconds / 2)), stop))
    await asyncio.sleep(max(0.0, start - loop.time()))
    streaming_ns = time.perf_counter_ns()
    print(f"START {spec.index}", flush=True)
    *_, stopped_ns = await asyncio.gather(*work, say_stop(spec.index, stop))
    await asyncio.gather(*(session.finish() for session, _ in opened))
    await asyncio.gather(*(reader for _, reader in opened))
    sessions = [session for session, _ in opened]
    return {
        "slice": spec.index,
        "path": spec.path,
        "streaming_ns": streaming_ns,
        "stopped_ns": stopped_ns,
        "sent": {f"{spec.index}-{s.index}": s.ws.sent_frames for s in sessions},
        "received": {f"{spec.index}-{s.index}": receive_record(s.ws.arrivals) for s in sessions},
        "audio_ms_down": sum(s.audio_ms_down for s in sessions),
    }


async def say_stop(index: int, stop: float) -> int:
    """Say STOP (the orchestrator closes its CPU window) and return when, in perf ns."""
    await asyncio.sleep(max(0.0, stop - asyncio.get_running_loop().time()))
    print(f"STOP {index}", flush=True)
    return time.perf_counter_ns()


async def clients_main(args: argparse.Namespace) -> None:
    urls = dict(item.split("=", 1) for item in args.urls.split(","))
    chunks = audio_chunks(args.chunk_ms)
    slices = []
    for index, path in enumerate(args.order.split(",")):
        spec = SliceSpec(index, path, urls[path], args.sessions, args.slice_seconds, args.chunk_ms)
        slices.append(await run_slice(spec, chunks))
    write_json(args.out, slices)


# ---- orchestration: processes and CPU ------------------------------------------------------


def cpu_ticks(pid: int) -> tuple[int, int]:
    """(utime, stime) of a process and its live children (`--workers`' relay processes), in
    clock ticks: user space, and the kernel working for them."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    user, system = int(fields[11]), int(fields[12])
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        with contextlib.suppress(FileNotFoundError):
            child_user, child_system = cpu_ticks(int(child))
            user, system = user + child_user, system + child_system
    return user, system


def machine_ticks() -> tuple[int, int]:
    """(busy, total) ticks over all CPUs, to see how loaded the machine was meanwhile."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values[:8]) - idle, sum(values[:8])


@dataclass
class Child:
    """A child process whose stdout and stderr go to a log file we can poll."""

    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    def wait_line(self, pattern: str, timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern, re.M)
        while time.monotonic() < deadline:
            match = regex.search(self.log.read_text(errors="replace"))
            if match:
                return match
            if self.proc.poll() is not None:
                break
            time.sleep(0.01)
        raise RuntimeError(f"{self.name}: no {pattern!r} in its output:\n{self.tail()}")

    def tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-30:])

    def wait_exit(self, timeout: float) -> None:
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"{self.name} did not finish:\n{self.tail()}") from None
        if code != 0:
            raise RuntimeError(f"{self.name} failed ({code}):\n{self.tail()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
        """Signal the child and wait: roles and `rtlens record` end cleanly on SIGINT/SIGTERM."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        self.wait_exit(timeout)


def spawn(name: str, argv: list[str], workdir: Path) -> Child:
    log = workdir / f"{name}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=workdir)
    return Child(name, proc, log)


def role_argv(role: str, *args: str) -> list[str]:
    return [sys.executable, str(SCRIPT), "--role", role, *args]


@contextlib.contextmanager
def children() -> Iterator[list[Child]]:
    """Whatever happens, no child outlives the session count that started it."""
    started: list[Child] = []
    try:
        yield started
    finally:
        for child in reversed(started):
            if child.proc.poll() is None:
                child.proc.kill()
                child.proc.wait()


def start_relay(path: str, upstream_url: str, workdir: Path) -> tuple[Child, str]:
    """Start one path under test; the child and the URL the clients connect to. The
    `metrics` path gets a scraper that GETs its /metrics every second until the run ends."""
    if path == "bare":
        child = spawn("bare", role_argv("bare", "--upstream", upstream_url), workdir)
        return child, f"ws://127.0.0.1:{child.wait_line(PORT_LINE, 60)[1]}"
    program = ["-c", TAP] if path == "tap" else ["-m", "rtlens"]
    argv = [sys.executable, *program, "record", "--listen", "127.0.0.1:0"]
    argv += ["--workers", str(WORKERS[path])]
    out = workdir / ("recordings" if path == "record" else f"recordings-{path}")
    argv += ["--upstream", upstream_url, "--out", str(out)]
    if path in LIVE:
        argv += ["--metrics", "127.0.0.1:0"]
    if path == "otlp":
        argv += ["--otlp", start_otlp_receiver()]
    child = spawn(path, argv, workdir)
    if path in LIVE:
        start_scraper(child.wait_line(r"metrics: (http://\S+)", 60)[1])
    return child, child.wait_line(r"relaying (ws://127\.0\.0\.1:\d+) ->", 60)[1]


SCRAPES: list[int] = []  # successful scrapes of the `metrics` and `otlp` paths
OTLP_POSTS: list[int] = []  # bytes of each export the `otlp` path sent


def start_otlp_receiver() -> str:
    """An OTLP/HTTP endpoint that takes every export (200, empty response); its URL."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            OTLP_POSTS.append(len(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, name="otlp", daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}"


_STOP_SCRAPING = threading.Event()


def start_scraper(url: str) -> None:
    """Scrape `url` every second (as Prometheus would) until `_STOP_SCRAPING` is set."""

    def scrape() -> None:
        while not _STOP_SCRAPING.wait(1.0):
            with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=10) as resp:
                resp.read()
                SCRAPES.append(resp.status)

    threading.Thread(target=scrape, name="scraper", daemon=True).start()


@dataclass
class Window:
    """CPU ticks of each process and of the machine, from a slice's START to its STOP."""

    pids: dict[str, int]
    start_ticks: dict[str, tuple[int, int]] = field(default_factory=dict)
    ticks: dict[str, int] = field(default_factory=dict)
    sys_ticks: dict[str, int] = field(default_factory=dict)
    machine_start: tuple[int, int] = (0, 0)
    machine: tuple[int, int] = (0, 0)
    started: float = 0.0
    seconds: float = 0.0

    def open(self) -> None:
        self.started = time.monotonic()
        self.machine_start = machine_ticks()
        self.start_ticks = {k: cpu_ticks(pid) for k, pid in self.pids.items()}

    def close(self) -> None:
        self.seconds = time.monotonic() - self.started
        busy, total = machine_ticks()
        self.machine = (busy - self.machine_start[0], total - self.machine_start[1])
        for k, pid in self.pids.items():
            user, system = cpu_ticks(pid)
            self.ticks[k] = user + system - sum(self.start_ticks[k])
            self.sys_ticks[k] = system - self.start_ticks[k][1]

    def summary(self) -> dict[str, Any]:
        hz = os.sysconf("SC_CLK_TCK")
        busy, total = self.machine
        ours = sum(self.ticks.values())
        return {
            "window_s": self.seconds,
            "cpu_ms": {k: 1000 * v / hz for k, v in self.ticks.items()},
            "cpu_pct": {k: 100 * v / hz / self.seconds for k, v in self.ticks.items()},
            "cpu_sys_pct": {k: 100 * v / hz / self.seconds for k, v in self.sys_ticks.items()},
            "machine_busy_pct": 100 * busy / max(1, total),
            "others_pct_of_machine": 100 * max(0, busy - ours) / max(1, total),
        }


def schedule(seconds: float, slice_seconds: float) -> tuple[list[str], float]:
    """Slice order (the path order rotating each cycle) and the slice length."""
    cycles = max(1, math.ceil(seconds / slice_seconds - 1e-9))
    order: list[str] = []
    for cycle in range(cycles):
        shift = cycle % len(PATHS)
        order += PATHS[shift:] + PATHS[:shift]
    return order, seconds / cycles


def run_sessions(sessions: int, args: argparse.Namespace) -> list[dict[str, Any]]:
    """Every slice of one session count, in fresh processes; raw results, one per slice."""
    workdir = Path(tempfile.mkdtemp(prefix=f"rtlens-bench-{sessions}-"))
    try:
        with children() as started:
            return measure(sessions, args, workdir, started)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def measure(
    sessions: int, args: argparse.Namespace, workdir: Path, started: list[Child]
) -> list[dict[str, Any]]:
    up_args = ["--out", str(workdir / "upstream.json")] + ["--live-voice"] * args.live_voice
    upstream = spawn("upstream", role_argv("upstream", *up_args), workdir)
    started.append(upstream)
    urls = {"direct": f"ws://127.0.0.1:{upstream.wait_line(PORT_LINE, 60)[1]}"}
    relays: dict[str, Child] = {}
    for path in RELAYS:
        relays[path], urls[path] = start_relay(path, urls["direct"], workdir)
        started.append(relays[path])
    order, slice_s = schedule(args.seconds, args.slice_seconds)
    client_args = ["--urls", ",".join(f"{k}={v}" for k, v in urls.items())]
    client_args += ["--order", ",".join(order), "--sessions", str(sessions)]
    client_args += ["--slice-seconds", str(slice_s), "--chunk-ms", str(args.chunk_ms)]
    client_args += ["--out", str(workdir / "clients.json")]
    clients = spawn("clients", role_argv("clients", *client_args), workdir)
    started.append(clients)
    windows = [
        follow_slice(i, path, clients, upstream, relays, slice_s) for i, path in enumerate(order)
    ]
    clients.wait_exit(timeout=120)
    _STOP_SCRAPING.set()
    for relay in relays.values():
        relay.stop(signal.SIGINT)  # `rtlens record` closes every file cleanly on Ctrl-C
    upstream.stop()
    up = orjson.loads((workdir / "upstream.json").read_bytes())
    slices = orjson.loads((workdir / "clients.json").read_bytes())
    recorded = count_recorded(workdir / "recordings")
    return [
        {"sessions": sessions, "cpu": window, "clients": s, "upstream": up, "recorded": recorded}
        for s, window in zip(slices, windows, strict=True)
    ]


def follow_slice(
    index: int,
    path: str,
    clients: Child,
    upstream: Child,
    relays: dict[str, Child],
    slice_s: float,
) -> dict[str, Any]:
    """CPU from the slice's START to its STOP: clients, upstream, and the path's relay."""
    pids = {"clients": clients.proc.pid, "upstream": upstream.proc.pid}
    if path in relays:
        pids["relay"] = relays[path].proc.pid
    window = Window(pids)
    clients.wait_line(rf"^START {index}$", 120)
    window.open()
    clients.wait_line(rf"^STOP {index}$", slice_s + 60)
    window.close()
    return window.summary() | {"load": os.getloadavg()}


def count_recorded(folder: Path) -> dict[str, int]:
    """Frame lines in the recordings (every line but the header and the close line)."""
    files = sorted(folder.glob("*.jsonl"))
    lines = sum(f.read_bytes().count(b"\n") for f in files)
    return {"files": len(files), "frames": lines - 2 * len(files)}


# ---- analysis -------------------------------------------------------------------------------


def check_frames(
    sent: dict[str, int], received: dict[str, dict[str, list[int]]], window: tuple[int, int]
) -> dict[str, Any]:
    """Per-direction totals over sessions: frames, lost, reordered, duplicated, latencies.

    Every frame counts for lost and reordered; latencies are those of frames sent once
    streaming started (`setup_frames` are the connection storm and `session.update` before it:
    50 handshakes at once is a different question from per-frame latency while streaming).
    """
    lost = reordered = duplicated = frames = setup = in_window = 0
    lats: list[np.ndarray] = []
    for key in sorted(set(sent) | set(received)):
        rec = received.get(key, {"seq": [], "sent_ns": [], "recv_ns": []})
        seq = np.asarray(rec["seq"], dtype=np.int64)
        unique = len(np.unique(seq))
        frames += len(seq)
        duplicated += len(seq) - unique
        lost += max(0, sent.get(key, 0) - unique)
        if len(seq) > 1:
            reordered += int(np.sum(seq[1:] < np.maximum.accumulate(seq)[:-1]))
        sent_ns = np.asarray(rec["sent_ns"], dtype=np.int64)
        steady = sent_ns >= window[0]
        setup += int(np.sum(~steady))
        in_window += int(np.sum(steady & (sent_ns < window[1])))
        lats.append((np.asarray(rec["recv_ns"], dtype=np.int64) - sent_ns)[steady])
    return {
        "frames": frames,
        "sent": sum(sent.values()),
        "lost": lost,
        "reordered": reordered,
        "duplicated": duplicated,
        "setup_frames": setup,
        "window_frames": in_window,
        "latency_ms": np.concatenate(lats) / 1e6 if lats else np.zeros(0),
    }


def percentiles(latency_ms: np.ndarray) -> dict[str, float | None]:
    if latency_ms.size == 0:
        return {"p50_ms": None, "p99_ms": None, "max_ms": None}
    p50, p99 = np.percentile(latency_ms, [50, 99])
    return {"p50_ms": float(p50), "p99_ms": float(p99), "max_ms": float(latency_ms.max())}


def of_slice(data: dict[str, Any], index: int) -> dict[str, Any]:
    """The upstream's entries (keyed `<slice>-<session>`) that belong to slice `index`."""
    prefix = f"{index}-"
    return {k: v for k, v in data.items() if k.startswith(prefix)}


def analyse_slice(raw: dict[str, Any]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """One slice: per-direction frame checks and percentiles, and the relay's CPU."""
    client, index = raw["clients"], raw["clients"]["slice"]
    window = (client["streaming_ns"], client["stopped_ns"])
    up_sent, up_received = of_slice(raw["upstream"]["sent"], index), raw["upstream"]["received"]
    flows = {
        "up": check_frames(client["sent"], of_slice(up_received, index), window),
        "down": check_frames(up_sent, client["received"], window),
    }
    sessions, cpu = raw["sessions"], raw["cpu"]
    relay_ms = cpu["cpu_ms"].get("relay")
    frames = sum(f["window_frames"] for f in flows.values())
    result = {
        "slice": index,
        "path": client["path"],
        "sessions": sessions,
        "cpu": cpu,
        "relay_cpu_ms_per_session_s": (
            None if relay_ms is None else relay_ms / (sessions * cpu["window_s"])
        ),
        "relay_cpu_us_per_frame": None if relay_ms is None else 1000 * relay_ms / max(1, frames),
        "audio_s_down_per_session_s": client["audio_ms_down"]
        / 1000
        / (sessions * (window[1] - window[0]) / 1e9),
        "relayed_frames": flows["up"]["frames"] + flows["down"]["frames"],
        "directions": {
            d: {k: v for k, v in f.items() if k != "latency_ms"} | percentiles(f["latency_ms"])
            for d, f in flows.items()
        },
    }
    return result, {d: f["latency_ms"] for d, f in flows.items()}


def pooled(
    runs: list[dict[str, Any]], lats: list[dict[str, np.ndarray]], direction: str
) -> dict[str, Any]:
    """All slices of one (path, sessions) pooled, plus each slice's p99 for the spread."""
    per_run = [r["directions"][direction] for r in runs]
    out: dict[str, Any] = {k: sum(p[k] for p in per_run) for k in COUNTS}
    out.update(percentiles(np.concatenate([lat[direction] for lat in lats])))
    out["p99_ms_by_slice"] = [p["p99_ms"] for p in per_run]
    return out


def summarise(runs: list[dict[str, Any]], lats: list[dict[str, np.ndarray]]) -> dict[str, Any]:
    """Per session count: each path pooled, p99 ratio record/bare, p99 added over direct, CPU."""
    summary: dict[str, Any] = {}
    for n in sorted({r["sessions"] for r in runs}):
        block: dict[str, Any] = {"paths": {}}
        for path in PATHS:
            picked = [i for i, r in enumerate(runs) if r["sessions"] == n and r["path"] == path]
            sub_runs, sub_lats = [runs[i] for i in picked], [lats[i] for i in picked]
            entry = {d: pooled(sub_runs, sub_lats, d) for d in DIRECTIONS}
            entry["relay_cpu"] = relay_cpu(sub_runs)
            entry["others_pct_of_machine"] = [r["cpu"]["others_pct_of_machine"] for r in sub_runs]
            block["paths"][path] = entry
        block["comparisons"] = compare(block["paths"])
        summary[str(n)] = block
    return summary


def relay_cpu(runs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Relay CPU over all of a path's slices: % of one core, per session-second, per frame."""
    if runs[0]["relay_cpu_ms_per_session_s"] is None:
        return None
    cpu = [r["cpu"] for r in runs]
    seconds = sum(c["window_s"] for c in cpu)
    total_ms = sum(c["cpu_ms"]["relay"] for c in cpu)
    kernel_ms = sum(c["cpu_sys_pct"]["relay"] * c["window_s"] * 10 for c in cpu)
    frames = sum(r["directions"][d]["window_frames"] for r in runs for d in DIRECTIONS)
    return {
        "cpu_pct_of_one_core": 100 * total_ms / 1000 / seconds,
        "kernel_pct_of_one_core": 100 * kernel_ms / 1000 / seconds,
        "cpu_ms_per_session_s": total_ms / (seconds * runs[0]["sessions"]),
        "cpu_us_per_frame": 1000 * total_ms / max(1, frames),
        "cpu_pct_by_slice": [c["cpu_pct"]["relay"] for c in cpu],
    }


def compare(paths: dict[str, Any]) -> dict[str, Any]:
    """The issue's numbers: p99 record/bare and p99 added over direct, pooled and by cycle
    (cycle i = the i-th slice of each path, run one after the other)."""
    out: dict[str, Any] = {}
    for d in DIRECTIONS:
        p99 = {p: paths[p][d]["p99_ms"] for p in PATHS}
        by = {p: paths[p][d]["p99_ms_by_slice"] for p in PATHS}
        entry: dict[str, Any] = {}
        if p99["bare"]:
            entry["p99_ratio_record_over_bare"] = p99["record"] / p99["bare"]
            ratios = [r / b for r, b in zip(by["record"], by["bare"], strict=True)]
            entry["p99_ratio_by_cycle"] = ratios
            entry["p99_ratio_median_of_cycles"] = float(np.median(ratios))
        for live in LIVE:
            if live in p99 and p99["record"]:
                entry[f"p99_ratio_{live}_over_record"] = p99[live] / p99["record"]
                ratios = [m / r for m, r in zip(by[live], by["record"], strict=True)]
                entry[f"p99_ratio_{live}_by_cycle"] = ratios
                entry[f"p99_ratio_{live}_median_of_cycles"] = float(np.median(ratios))
        if p99["tap"]:
            entry["p99_ratio_record_over_tap"] = p99["record"] / p99["tap"]
            ratios = [r / b for r, b in zip(by["record"], by["tap"], strict=True)]
            entry["p99_ratio_over_tap_by_cycle"] = ratios
            entry["p99_ratio_over_tap_median_of_cycles"] = float(np.median(ratios))
        if p99["record"]:  # issue 20: two relay processes against one
            entry["p99_ratio_workers2_over_workers1"] = p99["record2"] / p99["record"]
        for p in RELAYS:
            entry[f"p99_added_over_direct_ms_{p}"] = p99[p] - p99["direct"]
            added = [a - b for a, b in zip(by[p], by["direct"], strict=True)]
            entry[f"p99_added_by_cycle_ms_{p}"] = added
            entry[f"p99_added_median_of_cycles_ms_{p}"] = float(np.median(added))
        out[d] = entry
    return out


def targets(runs: list[dict[str, Any]], summary: dict[str, Any]) -> dict[str, Any]:
    """Each target of the issue, met or not (None: not measured in this run)."""
    lost = sum(r["directions"][d]["lost"] for r in runs for d in DIRECTIONS)
    reordered = sum(r["directions"][d]["reordered"] for r in runs for d in DIRECTIONS)
    ratios = [
        c.get("p99_ratio_record_over_bare")
        for block in summary.values()
        for c in block["comparisons"].values()
    ]
    at_target = summary.get(str(TARGET_SESSIONS), {}).get("comparisons", {})
    added = [c["p99_added_over_direct_ms_record"] for c in at_target.values()]
    recorded = [block["recording"] for block in summary.values()]
    workers_p99 = [
        c.get("p99_ratio_workers2_over_workers1")
        for block in summary.values()
        for c in block["comparisons"].values()
    ]
    cpu_ratio = [
        (block["paths"]["record2"]["relay_cpu"] or {}).get("cpu_us_per_frame", 0)
        / max(1e-9, (block["paths"]["record"]["relay_cpu"] or {}).get("cpu_us_per_frame", 0))
        for block in summary.values()
    ]
    live = {
        p: [
            c.get(f"p99_ratio_{p}_over_record")
            for block in summary.values()
            for c in block["comparisons"].values()
        ]
        for p in LIVE
    }
    return {
        **{
            f"{p}_p99_within_10pct_of_record": (
                None if None in ratios else all(x <= TARGET_RATIO for x in ratios)
            )
            for p, ratios in live.items()
        },
        "metrics_scrapes": len(SCRAPES) if "metrics" in PATHS else None,
        "otlp_exports": len(OTLP_POSTS) if "otlp" in PATHS else None,
        "zero_lost_and_reordered": lost == 0 and reordered == 0,
        "workers2_p99_le_half_of_workers1": (
            None if None in workers_p99 else all(x <= 0.5 for x in workers_p99)
        ),
        "workers2_p99_over_workers1": workers_p99,
        "workers2_cpu_per_frame_over_workers1": cpu_ratio,
        "every_frame_recorded": all(r["frames"] == r["relayed_frames"] for r in recorded),
        "record_p99_within_10pct_of_bare": (
            None if None in ratios else all(x <= TARGET_RATIO for x in ratios)
        ),
        "record_p99_added_le_2ms_at_50_sessions": (
            all(x <= TARGET_ADDED_MS for x in added) if added else None
        ),
    }


def recording_checks(raw: list[dict[str, Any]], runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per session count: frame lines in the recordings vs frames relayed in `record` slices."""
    relayed = sum(r["relayed_frames"] for r in runs if r["path"] == "record")
    return raw[0]["recorded"] | {"relayed_frames": relayed}


# ---- reporting ------------------------------------------------------------------------------


def fmt(value: float | None, spec: str = ".2f") -> str:
    return "-" if value is None else format(value, spec)


def spread(values: list[float | None]) -> str:
    vals = [v for v in values if v is not None]
    return f" [{min(vals):.2f}-{max(vals):.2f}]" if len(vals) > 1 else ""


def table(summary: dict[str, Any]) -> str:
    """The readable table: one row per (sessions, path, direction)."""
    head = (
        f"{'sess':>4} {'path':<7}{'dir':<5}{'frames':>7}{'lost':>5}{'reord':>6}"
        f"{'p50 ms':>8}  {'p99 ms [slices]':<21}{'max ms':>8}{'+p99 ms':>8}"
        f"{'p99/bare':>9}{'p99/tap':>8}{'relay CPU%':>11}{'ms/sess-s':>10}{'us/frame':>9}"
    )
    lines = [head, "-" * len(head)]
    for n, block in summary.items():
        for path, entry in block["paths"].items():
            cpu = entry["relay_cpu"] or {}
            for d in DIRECTIONS:
                row, comp = entry[d], block["comparisons"][d]
                added = comp.get(f"p99_added_over_direct_ms_{path}")
                ratio = comp.get("p99_ratio_record_over_bare") if path == "record" else None
                over_tap = comp.get("p99_ratio_record_over_tap") if path == "record" else None
                p99 = fmt(row["p99_ms"]) + spread(row["p99_ms_by_slice"])
                lines.append(
                    f"{n:>4} {path:<7}{d:<5}{row['frames']:>7}{row['lost']:>5}"
                    f"{row['reordered']:>6}{fmt(row['p50_ms']):>8}  {p99:<21}"
                    f"{fmt(row['max_ms']):>8}{fmt(added, '+.2f'):>8}{fmt(ratio):>9}"
                    f"{fmt(over_tap):>8}"
                    f"{fmt(cpu.get('cpu_pct_of_one_core'), '.1f'):>11}"
                    f"{fmt(cpu.get('cpu_ms_per_session_s')):>10}"
                    f"{fmt(cpu.get('cpu_us_per_frame'), '.0f'):>9}"
                )
        lines.append("")
    return "\n".join(lines)


def metrics_line(n: str, block: dict[str, Any]) -> str:
    """`--metrics` (and `--metrics --otlp`) against `record` in the same run: p99 ratio per
    direction, CPU per frame."""
    comp = block["comparisons"]
    live = [p for p in LIVE if p in block["paths"]]
    cpu = {
        p: (block["paths"][p]["relay_cpu"] or {}).get("cpu_us_per_frame") for p in ("record", *live)
    }
    ratios = "; ".join(
        f"{d} p99 {p}/record {fmt(comp[d].get(f'p99_ratio_{p}_over_record'))}"
        f" (median of cycles {fmt(comp[d].get(f'p99_ratio_{p}_median_of_cycles'))})"
        for p in live
        for d in DIRECTIONS
    )
    per_frame = " ".join(f"{p} {fmt(cpu[p], '.1f')}" for p in cpu)
    return f"{n} sessions: {ratios}; CPU us/frame {per_frame}"


def cycle_lines(summary: dict[str, Any]) -> str:
    """The paired view: each cycle's record/bare p99 ratio and record's p99 over direct."""
    lines = [
        "per cycle (slices run back to back): p99 record/bare, record/tap, "
        "record - direct (ms); medians in brackets"
    ]
    for n, block in summary.items():
        for d in DIRECTIONS:
            comp = block["comparisons"][d]
            ratios = " ".join(f"{x:.2f}" for x in comp.get("p99_ratio_by_cycle", []))
            over_tap = " ".join(f"{x:.2f}" for x in comp.get("p99_ratio_over_tap_by_cycle", []))
            added = " ".join(f"{x:+.2f}" for x in comp["p99_added_by_cycle_ms_record"])
            lines.append(
                f"{n:>4} {d:<5} /bare {ratios} [{fmt(comp.get('p99_ratio_median_of_cycles'))}]"
                f"\n{'':10} /tap  {over_tap} "
                f"[{fmt(comp.get('p99_ratio_over_tap_median_of_cycles'))}]"
                f"\n{'':10} +ms   {added} "
                f"[{comp['p99_added_median_of_cycles_ms_record']:+.2f}]"
            )
    return "\n".join(lines)


def load_lines(runs: list[dict[str, Any]]) -> str:
    """How busy the machine was during each slice, ours and everyone else's."""
    lines = ["slice  sess path    window  machine busy  others  upstream  clients  relay"]
    for r in runs:
        cpu, pct = r["cpu"], r["cpu"]["cpu_pct"]
        lines.append(
            f"{r['slice']:>5} {r['sessions']:>5} {r['path']:<7}{cpu['window_s']:>6.1f}s"
            f"  {cpu['machine_busy_pct']:>10.1f}%  {cpu['others_pct_of_machine']:>5.1f}%"
            f"  {pct['upstream']:>7.1f}%  {pct['clients']:>6.1f}%"
            f"  {fmt(pct.get('relay'), '.1f'):>5}"
        )
    return "\n".join(lines)


def machine_state() -> dict[str, Any]:
    """`uptime` and the top of `top`, as the report asks how loaded the machine was."""

    def run(argv: list[str]) -> str:
        try:
            return subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"{argv[0]}: {exc}"

    top = run(["top", "-bn1"]).splitlines()[:15]
    return {"uptime": run(["uptime"]).strip(), "top": top, "loadavg": os.getloadavg()}


# ---- main -----------------------------------------------------------------------------------


def measure_count(
    sessions: int, args: argparse.Namespace
) -> tuple[list[dict[str, Any]], list[dict[str, np.ndarray]], dict[str, int]]:
    """One session count: its slices analysed, and the recordings checked against them."""
    print(f"{sessions} sessions: {len(schedule(args.seconds, args.slice_seconds)[0])} slices")
    raw = run_sessions(sessions, args)
    analysed = [analyse_slice(r) for r in raw]
    runs = [a[0] for a in analysed]
    return runs, [a[1] for a in analysed], recording_checks(raw, runs)


def benchmark(args: argparse.Namespace) -> dict[str, Any]:
    """Run every session count, then pool, compare and check the targets."""
    sessions = [int(s) for s in str(args.sessions).split(",") if s.strip()]
    before = machine_state()
    runs, lats, recordings = [], [], {}
    for n in sessions:
        count_runs, count_lats, recordings[str(n)] = measure_count(n, args)
        runs += count_runs
        lats += count_lats
    summary = summarise(runs, lats)
    for n, check in recordings.items():
        summary[n]["recording"] = check
    return {
        "command": shlex.join([sys.executable, *sys.argv]),
        "settings": {
            "sessions": sessions,
            "seconds": args.seconds,
            "slice_seconds": schedule(args.seconds, args.slice_seconds)[1],
            "chunk_ms": args.chunk_ms,
            "upstream": "rtlens simulator, pace 1, "
            + ("live voice synthesis" if args.live_voice else "voices synthesised at start-up"),
        },
        "machine_before": before,
        "machine_after": machine_state(),
        "targets": targets(runs, summary),
        "summary": summary,
        "slices": runs,
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", default="1,50", help="comma-separated session counts")
    parser.add_argument(
        "--seconds", type=float, default=20.0, help="streaming time per path and session count"
    )
    parser.add_argument(
        "--slice-seconds", type=float, default=5.0, help="length of one interleaved slice"
    )
    parser.add_argument("--chunk-ms", type=int, default=40, help="client append size (ms)")
    parser.add_argument("--out", default=DEFAULT_OUT, help="results JSON")
    parser.add_argument(
        "--metrics",
        action="store_true",
        help="add the path `rtlens record --metrics`, scraped every second",
    )
    parser.add_argument(
        "--otlp",
        action="store_true",
        help="add `--metrics` and `rtlens record --metrics --otlp` (spans to a local receiver)",
    )
    parser.add_argument(
        "--live-voice", action="store_true", help="let the simulator synthesise voices live"
    )
    hidden = argparse.SUPPRESS
    parser.add_argument("--role", choices=("upstream", "bare", "clients"), help=hidden)
    parser.add_argument("--urls", help=hidden)
    parser.add_argument("--order", help=hidden)
    parser.add_argument("--upstream", help=hidden)
    return parser.parse_args(argv)


def run_role(args: argparse.Namespace) -> None:
    if args.role == "upstream":
        asyncio.run(upstream_main(args.out, args.live_voice))
    elif args.role == "bare":
        asyncio.run(bare_relay_main(args.upstream))
    else:
        args.sessions = int(args.sessions)
        asyncio.run(clients_main(args))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.role:
        run_role(args)
        return 0
    live = ("metrics", "otlp") if args.otlp else ("metrics",) if args.metrics else ()
    if live:
        global PATHS, RELAYS
        PATHS, RELAYS = (*PATHS, *live), (*RELAYS, *live)
    results = benchmark(args)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_json(out, results)
    print()
    print(table(results["summary"]))
    print(cycle_lines(results["summary"]))
    print()
    print(load_lines(results["slices"]))
    print(f"\nmachine before: {results['machine_before']['uptime']}")
    print(f"machine after:  {results['machine_after']['uptime']}")
    print("\ntargets:", ", ".join(f"{k}={v}" for k, v in results["targets"].items()))
    for n, block in results["summary"].items():
        if "metrics" in block["paths"]:
            print(metrics_line(n, block))
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

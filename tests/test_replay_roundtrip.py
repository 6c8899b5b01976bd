"""The replay round trip: each sample log, served by `rtlens replay` to the scripted app that
recorded it and recorded again through the relay, gives the same rows in every table except
times, and the same frames, byte for byte, except their `ts`.

The app is gated by the recording's order (`replay_helpers.recorded_order`): it decides on
what the recording shows it had received, not on the wall clock. Everything else is real:
the replay server, the recording relay, the app's websockets client, ingest into DuckDB.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest
from replay_helpers import SAMPLE_LOGS, SPEED_FAST, assert_same_call, rerecord, sample

from rtlens.replay.schedule import load_schedule
from rtlens.simulator.samples import SAMPLES


@pytest.mark.parametrize("name", [s.name for s in SAMPLES])
def test_each_sample_replayed_and_recorded_again_is_the_same_call(name: str, tmp_path: Path):
    original = SAMPLE_LOGS / f"{name}.jsonl"
    schedule = load_schedule(original)
    again, result = asyncio.run(
        rerecord(original, sample(name), tmp_path, speed=SPEED_FAST, strict=True)
    )
    assert result.divergence is None
    assert (result.steps_sent, result.clients_seen) == (
        len(schedule.steps),
        len(schedule.clients),
    )
    assert_same_call(original, again)


@contextlib.asynccontextmanager
async def replay_cli(
    path: Path, *args: str
) -> AsyncIterator[tuple[asyncio.subprocess.Process, str]]:
    """`rtlens replay PATH --listen 127.0.0.1:0 ARGS` as a program, with the URL it serves."""
    proc = await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "rtlens", "replay", str(path), "--listen", "127.0.0.1:0", *args],
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    url = (await asyncio.wait_for(proc.stdout.readline(), 120)).decode().strip()
    try:
        yield proc, url
    finally:
        if proc.returncode is None:
            await asyncio.wait_for(proc.wait(), 120)


@contextlib.asynccontextmanager
async def record_cli(upstream: str, out_dir: Path, *args: str) -> AsyncIterator[str]:
    """`rtlens record --listen 127.0.0.1:0 --upstream UPSTREAM --out DIR ARGS` as a program,
    with the URL it relays from; stopped with Ctrl-C (SIGINT) at the end, and must exit 0."""
    proc = await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "rtlens", "record", "--listen", "127.0.0.1:0"],
        *["--upstream", upstream, "--out", str(out_dir), *args],
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 120)).decode()
    match = re.search(r"relaying (ws://\S+) -> ", line)
    assert match, line
    try:
        yield match.group(1)
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = await asyncio.wait_for(proc.communicate(), 120)
        assert proc.returncode == 0, err.decode()


def test_one_sample_at_speed_1_through_the_replay_and_record_programs(tmp_path: Path):
    """At the recorded pace, `rtlens replay` and `rtlens record` as a user runs them: the same
    call, and the replay's closing line counts every frame both ways."""
    original = SAMPLE_LOGS / "ga_rate_limited.jsonl"
    schedule = load_schedule(original)
    s = sample("ga_rate_limited")
    assert s.redact_audio  # as the sample was recorded

    async def go() -> tuple[Path, int, str, str]:
        async with replay_cli(original, "--speed", "1", "--strict") as (proc, url):
            assert url.startswith("ws://127.0.0.1:") and url.endswith("/v1/realtime")
            upstream = url.removesuffix("/v1/realtime")
            async with record_cli(upstream, tmp_path, "--redact-audio") as relay:
                again, _ = await rerecord(
                    original, s, tmp_path, speed=1, upstream=upstream, relay=relay
                )
            out, err = await asyncio.wait_for(proc.communicate(), 120)
        return again, proc.returncode or 0, out.decode(), err.decode()

    again, code, out, err = asyncio.run(go())
    assert (code, err) == (0, "")
    assert out == (
        f"replayed {len(schedule.steps)} of {len(schedule.steps)} server frames; the client "
        f"sent {len(schedule.clients)} of the recording's {len(schedule.clients)} client frames\n"
    )
    assert_same_call(original, again)


def _client_types(path: Path) -> list[tuple[int, str, str | None]]:
    """(line, type, event_id) of each client frame, read straight from the file."""
    out = []
    for line_no, line in enumerate(path.read_bytes().splitlines(), 1):
        obj = orjson.loads(line)
        if obj.get("dir") == "client":
            event = obj.get("event") or {}
            out.append((line_no, event.get("type"), event.get("event_id")))
    return out


def test_a_client_that_diverges_is_named_with_its_event_and_the_recording_line(tmp_path: Path):
    """The tool-calling sample replayed to the plain conversation app: `--strict` ends at the
    first client frame of another type, and says which, against which recorded line."""
    original = SAMPLE_LOGS / "ga_function_calling.jsonl"

    async def go() -> tuple[Path, int, str, str]:
        async with replay_cli(original, "--speed", "0", "--strict") as (proc, url):
            again, _ = await rerecord(
                original,
                sample("ga_voice_conversation"),  # same dialect, no tools: it never answers one
                tmp_path,
                speed=SPEED_FAST,
                upstream=url.removesuffix("/v1/realtime"),
            )
            out, err = await asyncio.wait_for(proc.communicate(), 120)
        return again, proc.returncode or 0, out.decode(), err.decode()

    again, code, out, err = asyncio.run(go())
    want, got = _client_types(original), _client_types(again)
    k = next(i for i, (w, g) in enumerate(zip(want, got, strict=False)) if w[1] != g[1])
    assert k > 10  # they agree on the setup and the first turn's audio
    line = (
        f"client diverged at client event {k + 1}: expected {want[k][1]} (line {want[k][0]}), "
        f"got {got[k][1]} (event_id {got[k][2]})"
    )
    assert (code, err) == (1, line + "\n")
    assert out.endswith(f"the client sent {k} of the recording's {len(want)} client frames\n")
    close = orjson.loads(again.read_bytes().splitlines()[-1])["close"]
    assert close["by"] == "server" and close["code"] == 1008
    assert line.startswith(close["reason"]) and len(close["reason"]) >= 60

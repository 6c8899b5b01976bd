"""Replay round trips: a recording served by `rtlens replay`, recorded again through the relay.

`recorded_order` is the scripted app's gate under replay: before the k-th frame the script
sends, and before each look at what has arrived one microphone chunk after its last frame, it
waits until it has received every server frame the recording shows before the k-th client
frame, so the app decides on what it had seen when it was recorded. A look straight after a
frame (the script's next line) waits for nothing: what was on its way then had not arrived;
nor does a look wait for frames the relay saw less than IN_FLIGHT_S before the app's next
frame (they crossed it: the app had decided before they reached it).
Without the gate the microphone runs on the wall clock and streams a few more or fewer 40 ms
chunks while the app waits, which no replay could make the same.

`table_rows` reads every table of an ingested recording without the columns that are times
(listed by hand below, per table) or that name the recording rather than the call.
"""

from __future__ import annotations

import asyncio
import functools
import re
from pathlib import Path
from typing import Any

import orjson
from websockets.asyncio.client import connect

import rtlens
from rtlens.recording import serve_relay
from rtlens.replay.schedule import Schedule, load_schedule
from rtlens.replay.server import ReplayResult, replay
from rtlens.schema import TABLES
from rtlens.simulator.apps import Gate, run_app
from rtlens.simulator.apps.client import App
from rtlens.simulator.samples import SAMPLES, Sample

SAMPLE_LOGS = Path(__file__).parent.parent / "sample_logs"
SPEED_FAST = 50  # a 40 s call in under a second, its gaps and bursts still on the plan

# Columns that differ between a recording and its replay by nature. Times: every wall-clock
# instant and every duration between two of them (audio positions and durations computed
# from byte counts are not times and are compared). Not times: `session_id` is the relay's
# random id for each recording, `source_file` the file's path; `upstream` is compared without
# its host and port (the simulator's then, the replay's now).
NOT_COMPARED: dict[str, frozenset[str]] = {
    "sessions": frozenset(
        {"session_id", "source_file", "upstream", "started_ts", "ended_ts", "duration_ms"}
    ),
    "events": frozenset({"session_id", "ts", "t_ms"}),
    "responses": frozenset(
        {
            "session_id",
            "created_ms",
            "first_audio_ms",
            "first_text_ms",
            "done_ms",
            "ttfa_ms",
            "duration_ms",
        }
    ),
    "turns": frozenset(
        {
            "session_id",
            "speech_started_ms",
            "speech_stopped_ms",
            "committed_ms",
            "response_created_ms",
            "first_audio_ms",
            "v2v_ms",
            "v2v_est_ms",
            "text_to_reply_ms",
            "turn_gap_ms",
            "ttfa_ms",
            "transcript_ms",
        }
    ),
    "rate_limits": frozenset({"session_id", "t_ms", "ts"}),
    "interruptions": frozenset(
        {
            "session_id",
            "speech_started_ms",
            "cancel_ms",
            "truncate_ms",
            "stop_ms",
            "cancel_after_ms",
            "audio_stop_after_ms",
        }
    ),
    "errors": frozenset({"session_id", "t_ms"}),
    "function_calls": frozenset(
        {
            "session_id",
            "arguments_done_ms",
            "output_ms",
            "tool_ms",
            "followup_first_audio_ms",
            "tool_to_audio_ms",
        }
    ),
    "transcriptions": frozenset(
        {"session_id", "committed_ms", "first_delta_ms", "done_ms", "latency_ms"}
    ),
    "ingest_errors": frozenset({"session_id", "source_file"}),
}


def sample(name: str) -> Sample:
    return next(s for s in SAMPLES if s.name == name)


# A server frame the relay saw less than this before the app's next frame was still on its
# way to the app when it decided to send that frame (the relay is ~0.1 ms from the app).
# The samples need it: one error crossed an append 65 µs apart. Any value from 0.1 ms to
# 5 ms reproduces all nine; 0 and 20 ms do not.
IN_FLIGHT_S = 0.001


def recorded_order(schedule: Schedule) -> Gate:
    """The gate that makes the scripted app decide on what the recording shows it had seen."""
    n = len(schedule.clients)
    before = [0] * (n + 1)  # server frames before each client frame
    for step in schedule.steps:
        before[step.after_clients] += 1
    for k in range(1, n + 1):
        before[k] += before[k - 1]
    seen = list(before)  # ... without those still in flight when the app decided
    for k, client in enumerate(schedule.clients):
        while (
            seen[k] > 0
            and client.ts is not None
            and (ts := schedule.steps[seen[k] - 1].ts) is not None
            and client.ts - ts < IN_FLIGHT_S
        ):
            seen[k] -= 1

    def needed(app: App, point: str) -> int:
        k = min(len(app.result.sent), n)
        if point != "look" or not app.streaming_mic:
            return before[k]  # the relay saw these before the app's next frame: keep its order
        if not app.slept:
            # a look at once after its frame: what was on the way had not arrived
            return len(app.result.received)
        return seen[k]

    async def gate(app: App, point: str) -> None:
        if point == "react":  # a truncate goes out after what the relay saw before it
            await app.arrived(before[min(len(app.result.sent), n)])
        else:
            await app.deliver(needed(app, point))

    return gate


async def start_replay(
    schedule: Schedule, *, speed: float, strict: bool, result: ReplayResult
) -> tuple[asyncio.Task[None], str]:
    """`rtlens replay` of `schedule` in this process on a free loopback port: its task, and
    the URL it listens on, once it does."""
    url: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(
        replay(
            schedule,
            "127.0.0.1",
            0,
            speed=speed,
            strict=strict,
            result=result,
            on_listen=url.set_result,
        )
    )
    return task, await url


async def rerecord(
    recording: Path,
    s: Sample,
    out_dir: Path,
    *,
    speed: float,
    strict: bool = True,
    upstream: str | None = None,
    relay: str | None = None,
) -> tuple[Path, ReplayResult]:
    """Replay `recording` (in process, or at `upstream` when given) to its scripted app
    through a recording relay (in process, or the one at `relay` that writes to `out_dir`);
    return the new recording and what the replay saw."""
    schedule = load_schedule(recording)
    result = ReplayResult()
    task = None
    if upstream is None:
        task, url = await start_replay(schedule, speed=speed, strict=strict, result=result)
        upstream = url.removesuffix("/v1/realtime")
    query = f"?rtlens_scenario={s.scenario}" if s.scenario != "default" else ""
    app = functools.partial(
        run_app,
        script=s.script,
        dialect=s.dialect,
        seed=s.seed,
        # the microphone at the replay's pace (gated all the same)
        pace=1 / speed if speed > 0 else 0.001,
        gate=recorded_order(schedule),
    )
    if relay is not None:
        await app(f"{relay}/v1/realtime{query}")
    else:
        async with serve_relay(
            "127.0.0.1",
            0,
            upstream=upstream,
            out_dir=out_dir,
            redact_audio=s.redact_audio,
            report=None,
        ) as server:
            await app(f"ws://127.0.0.1:{server.port}/v1/realtime{query}")
    if task is not None:
        await asyncio.wait_for(task, 120)
    (path,) = out_dir.glob("*.jsonl")
    return path, result


def frames(path: Path) -> list[Any]:
    """A recording's lines after the header, without the time each was seen."""
    out = []
    for line in path.read_bytes().splitlines()[1:]:
        obj = orjson.loads(line)
        obj.pop("ts", None)
        out.append(obj)
    return out


def assert_same_call(original: Path, again: Path) -> None:
    want, got = table_rows(original), table_rows(again)
    assert set(want) == {*TABLES, "sessions.upstream"}
    for table in want:
        assert got[table] == want[table], f"table {table} differs"
    assert sum(len(rows) for rows in want.values()) > 100  # the comparison compared something
    assert frames(again) == frames(original)


def table_rows(recording: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows for one recording, without NOT_COMPARED, in a stable order."""
    con = rtlens.load([recording])
    out: dict[str, list[tuple[Any, ...]]] = {}
    for name, table in TABLES.items():
        columns = [c.name for c in table.columns if c.name not in NOT_COMPARED[name]]
        listed = ", ".join(f'"{c}"' for c in columns)
        order = '"seq"' if "seq" in columns else "ALL"
        rows = con.execute(f'SELECT {listed} FROM "{name}" ORDER BY {order}').fetchall()
        out[name] = [tuple(r) for r in rows]
    (upstream,) = con.execute("SELECT upstream FROM sessions").fetchone() or (None,)
    out["sessions.upstream"] = [(re.sub(r"^ws://[^/]+", "ws://HOST", upstream or ""),)]
    con.close()
    return out


async def replay_to_plain_client(
    recording: Path, out_dir: Path, *, path_and_query: str, speed: float = SPEED_FAST
) -> tuple[Path, ReplayResult]:
    """Replay `recording` (strict) through a recording relay to a bare websockets app that
    knows only the recording: it sends the k-th recorded client frame once it has received
    the server frames recorded before it, then reads the rest and closes."""
    schedule = load_schedule(recording)
    client_frames = [
        obj.get("event")
        for obj in map(orjson.loads, recording.read_bytes().splitlines())
        if isinstance(obj, dict) and obj.get("dir") == "client"
    ]
    before = [0] * (len(schedule.clients) + 1)
    for step in schedule.steps:
        before[step.after_clients] += 1
    result = ReplayResult()
    task, url = await start_replay(schedule, speed=speed, strict=True, result=result)
    upstream = url.removesuffix("/v1/realtime")
    async with serve_relay(
        "127.0.0.1", 0, upstream=upstream, out_dir=out_dir, report=None
    ) as relay:
        target = f"ws://127.0.0.1:{relay.port}{path_and_query}"
        async with connect(target, max_size=None) as ws:
            for k, event in enumerate(client_frames):
                for _ in range(before[k]):
                    await asyncio.wait_for(ws.recv(), 120)
                await ws.send(orjson.dumps(event).decode())
            for _ in range(before[len(client_frames)]):
                await asyncio.wait_for(ws.recv(), 120)
    await asyncio.wait_for(task, 120)
    (path,) = out_dir.glob("*.jsonl")
    return path, result

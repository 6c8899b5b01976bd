"""`rtlens replay` over real loopback WebSockets (speed 0: no waits, order only)."""

from __future__ import annotations

import asyncio
import base64
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from replay_helpers import start_replay
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from rtlens.replay.schedule import ReplayError, load_schedule
from rtlens.replay.server import ReplayResult

SAMPLE_LOGS = Path(__file__).parent.parent / "sample_logs"
SAMPLE = SAMPLE_LOGS / "ga_function_calling.jsonl"


def _lines(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


async def _run(strict: bool, diverge_at: int | None) -> tuple[int, int | None, str, ReplayResult]:
    schedule = load_schedule(SAMPLE)
    result = ReplayResult()
    task, url = await start_replay(schedule, speed=0, strict=strict, result=result)
    clients = [ln["event"] for ln in _lines(SAMPLE) if ln.get("dir") == "client"]
    received = 0
    async with connect(url, max_size=None) as ws:
        async with connect(url) as second:
            with pytest.raises(ConnectionClosed):
                await second.recv()
            assert (second.close_code, second.close_reason) == (1013, "replay already in use")
        for i, event in enumerate(clients):
            if i == diverge_at:
                event = {**event, "type": "bogus"}
            try:
                await ws.send(orjson.dumps(event).decode())
            except ConnectionClosed:
                break
        try:
            while received < len(schedule.steps):
                await ws.recv()
                received += 1
        except ConnectionClosed:
            pass
        code, reason = ws.close_code, ws.close_reason or ""
    if received == len(schedule.steps):
        await ws.close()
    await task
    return received, code, reason, result


def test_every_server_frame_is_released_and_second_client_refused() -> None:
    server_lines = [ln for ln in _lines(SAMPLE) if ln.get("dir") == "server"]
    received, _, _, result = asyncio.run(_run(strict=False, diverge_at=None))
    assert received == len(server_lines)  # every recorded server frame, once
    assert result.divergence is None


def test_strict_divergence_names_expected_got_and_line() -> None:
    lines = _lines(SAMPLE)
    client_line_nos = [n for n, ln in enumerate(lines, 1) if ln.get("dir") == "client"]
    expected = [ln for ln in lines if ln.get("dir") == "client"][2]["event"]["type"]
    _, code, reason, result = asyncio.run(_run(strict=True, diverge_at=2))
    assert code == 1008
    want = f"expected {expected} (line {client_line_nos[2]}), got bogus"
    assert result.divergence is not None and want in result.divergence
    assert want in reason


def test_recording_without_server_frames_is_too_short(tmp_path: Path) -> None:
    path = tmp_path / "short.jsonl"
    path.write_text(
        '{"rtlens": 1, "session_id": "s"}\n{"ts": 1.0, "dir": "client", "event": {"type": "x"}}\n'
    )
    with pytest.raises(ReplayError, match="too short to replay"):
        load_schedule(path)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rtlens", "replay", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_the_program_refuses_a_recording_too_short_to_replay_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "short.jsonl"
    path.write_text('{"rtlens": 1, "session_id": "s"}\n{"ts": 1.0, "dir": "client", "event": {}}\n')
    done = _cli(str(path), "--listen", "127.0.0.1:0")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == f"Error: {path}: too short to replay: no server frames\n"


@pytest.mark.parametrize("speed", ["-1", "nan"])
def test_the_program_refuses_a_speed_that_is_not_a_number_from_0(speed: str) -> None:
    done = _cli(str(SAMPLE), "--speed", speed)
    assert done.returncode == 2
    assert "Invalid value for --speed: must be a number >= 0" in done.stderr


def test_redacted_audio_is_sent_as_silence_of_its_recorded_length() -> None:
    """beta_barge_in was recorded with --redact-audio: each delta is `""` plus a byte count."""
    path = SAMPLE_LOGS / "beta_barge_in.jsonl"
    recorded = [ln for ln in _lines(path) if ln.get("dir") == "server"]
    schedule = load_schedule(path)
    with schedule.frames() as source:
        deltas = [
            (ln["audio_bytes"], source.frame(step))
            for ln, step in zip(recorded, schedule.steps, strict=True)
            if ln["event"]["type"] == "response.audio.delta"
        ]
    assert len(deltas) > 10
    for n_bytes, frame in deltas:
        sent = orjson.loads(frame)
        assert base64.b64decode(sent["delta"]) == bytes(n_bytes)  # pcm16 silence is zeros


def test_redacted_g711_audio_is_g711_silence(tmp_path: Path) -> None:
    path = tmp_path / "ulaw.jsonl"
    session = {"audio": {"output": {"format": {"type": "audio/pcmu"}}}}
    delta = {"type": "response.output_audio.delta", "item_id": "i", "delta": ""}
    path.write_text(
        '{"rtlens": 1, "session_id": "s"}\n'
        + orjson.dumps(
            {"ts": 1.0, "dir": "server", "event": {"type": "session.created", "session": session}}
        ).decode()
        + "\n"
        + orjson.dumps({"ts": 1.1, "dir": "server", "event": delta, "audio_bytes": 160}).decode()
        + "\n"
    )
    schedule = load_schedule(path)
    with schedule.frames() as source:
        frame = orjson.loads(source.frame(schedule.steps[1]))
    assert base64.b64decode(frame["delta"]) == b"\xff" * 160  # μ-law codes zero as 0xFF


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("{not json", "not JSON"),
        ('{"ts": 1.0, "dir": "server", "binary": "***"}', "'binary' is not base64"),
    ],
)
def test_a_bad_line_is_named_by_its_number(tmp_path: Path, line: str, why: str) -> None:
    path = tmp_path / "bad.jsonl"
    good = '{"ts": 0.5, "dir": "server", "event": {"type": "session.created"}}'
    path.write_text(f'{{"rtlens": 1, "session_id": "s"}}\n{good}\n{line}\n')
    with pytest.raises(ReplayError) as caught:
        load_schedule(path)
    assert str(caught.value) == f"{path}:3: {why}"

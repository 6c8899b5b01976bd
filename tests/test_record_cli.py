"""`rtlens record` as a user runs it: a real subprocess, real signals, real file limits."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner
from relay_helpers import AUDIO, App, ScriptedUpstream, async_test, read_recording
from websockets.exceptions import ConnectionClosed

from rtlens.cli import main

REALTIME = "/v1/realtime?model=gpt-realtime"
WORKERS = 1  # relay processes `running_cli` asks for (set per test by `relay_workers`)


@pytest.fixture(autouse=True, params=[1, 2], ids=["workers=1", "workers=2"])
def relay_workers(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    """Every test here runs with one relay process and with two (`--workers`)."""
    monkeypatch.setattr(sys.modules[__name__], "WORKERS", request.param)
    return int(request.param)


# Runs the CLI, optionally under a file size limit (a real write failure: EFBIG).
CLI = """
import resource, sys
limit = int(sys.argv[1])
if limit:
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
from rtlens.cli import main
main(sys.argv[2:], prog_name="rtlens")
"""


@asynccontextmanager
async def running_cli(
    *args: str, file_limit: int = 0
) -> AsyncIterator[tuple[asyncio.subprocess.Process, str]]:
    """`rtlens record --listen 127.0.0.1:0 ARGS` in a subprocess, with the URL it listens on."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CLI,
        str(file_limit),
        "record",
        "--listen",
        "127.0.0.1:0",
        "--workers",
        str(WORKERS),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        # lines before the relay's own (`--metrics` prints its address first) stay readable
        preamble: list[str] = []
        while not (match := re.search(r"relaying (ws://\S+) -> ", line := await _line(proc))):
            assert line, "".join(preamble)
            preamble.append(line)
        proc.preamble = preamble  # type: ignore[attr-defined]
        yield proc, match.group(1)
    finally:
        if proc.returncode is None:  # the test failed before stopping it
            proc.kill()
            await proc.communicate()


async def _line(proc: asyncio.subprocess.Process) -> str:
    assert proc.stdout is not None
    return (await proc.stdout.readline()).decode()


async def stop_cli(proc: asyncio.subprocess.Process) -> tuple[int, str, str]:
    proc.send_signal(signal.SIGINT)
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def test_help_has_a_summary_and_an_example() -> None:
    result = CliRunner().invoke(main, ["record", "--help"])
    assert result.exit_code == 0
    assert "Record every Realtime session through a local relay" in result.output
    assert "Example:" in result.output and "rtlens record --out recordings/" in result.output
    listing = CliRunner().invoke(main, ["--help"]).output
    assert "record      Record every Realtime session through a local relay" in listing


@async_test
async def test_ctrl_c_closes_every_session_and_leaves_every_file_valid(tmp_path: Path) -> None:
    async with (
        ScriptedUpstream() as upstream,
        running_cli("--upstream", upstream.url, "--out", str(tmp_path)) as (proc, url),
    ):
        apps = [await App.connect(url + REALTIME) for _ in range(3)]
        for app in apps:
            await app.send({"type": "response.create"})
            await app.recv_until("rate_limits.updated")
        code, out, err = await stop_cli(proc)
        for app in apps:
            assert await app.closed() == (1001, "rtlens relay: shutting down")

    assert code == 0, err
    assert err == ""
    files = sorted(tmp_path.glob("*.jsonl"))
    assert len(files) == 3
    for path in files:
        recording = read_recording(path)
        assert recording.close == {
            "by": "relay",
            "code": 1001,
            "reason": "rtlens relay: shutting down",
        }
        assert recording.types("server")[-1] == "rate_limits.updated"
        assert sum(f" open   {path}" in line for line in out.splitlines()) == 1
        close_line = next(line for line in out.splitlines() if f" close  {path}" in line)
        assert "by relay 1001 'rtlens relay: shutting down'" in close_line
        assert re.search(r"\d+\.\d s, 9 events, \d+\.\d KB$", close_line), close_line
    assert "stopping, closing 3 open session(s)" in out
    assert out.rstrip().endswith(f"stopped; 3 session(s) recorded in {tmp_path}/")


@async_test
async def test_a_write_failure_closes_the_session_instead_of_relaying(tmp_path: Path) -> None:
    limit = 64 * 1024
    async with (
        ScriptedUpstream() as upstream,
        running_cli("--upstream", upstream.url, "--out", str(tmp_path), file_limit=limit) as (
            proc,
            url,
        ),
    ):
        app = await App.connect(url + REALTIME)
        await app.recv_until("session.created")
        session = await upstream.next_session()
        try:
            for _ in range(20):  # 20 x 13.6 KB: the file hits the limit on the way
                await app.send({"type": "input_audio_buffer.append", "audio": AUDIO})
        except ConnectionClosed:
            pass
        code, reason = await app.closed()
        upstream_close = await session.closed
        exit_code, out, err = await stop_cli(proc)

    reason_expected = "rtlens relay: cannot write the recording (File too large)"
    assert (code, reason) == (1011, reason_expected)
    assert upstream_close == (1011, reason_expected)
    assert exit_code == 0, err
    assert "ERROR" in out and "File too large" in out and "rather than relay it unrecorded" in out
    # What reached the upstream is exactly what the file holds: nothing passed unrecorded.
    [path] = tmp_path.glob("*.jsonl")
    recording = read_recording(path, complete=False)
    assert 0 < len(session.received) < 20
    assert recording.frames_from("client") == session.received
    assert path.stat().st_size <= limit


@async_test
async def test_a_session_refused_for_a_full_disk_leaves_no_empty_file(tmp_path: Path) -> None:
    """The header cannot be written (here: over a 512-byte file size limit, as on a full
    disk): the file was left, empty, and every later ingest of the folder exited 1."""
    async with (
        ScriptedUpstream() as upstream,
        running_cli("--upstream", upstream.url, "--out", str(tmp_path), file_limit=512) as (
            proc,
            url,
        ),
    ):
        app = await App.connect(url + REALTIME)
        code, reason = await app.closed()
        exit_code, out, err = await stop_cli(proc)
    assert (code, reason) == (1011, "rtlens relay: cannot write the recording (File too large)")
    assert exit_code == 0, err
    assert "refused the session (1011)" in out
    assert list(tmp_path.iterdir()) == []


def test_unwritable_output_folder_is_one_clear_line(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    result = CliRunner().invoke(
        main, ["record", "--workers", str(WORKERS), "--out", str(tmp_path / "a-file" / "out")]
    )
    assert result.exit_code == 1
    assert result.output == (
        f"Error: cannot write recordings to {tmp_path}/a-file/out: Not a directory; "
        "choose a writable output folder\n"
    )


def test_port_in_use_is_one_clear_line(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        listen = f"127.0.0.1:{port}"
        args = ["record", "--workers", str(WORKERS), "--listen", listen, "--out", str(tmp_path)]
        result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    assert result.output == (
        f"Error: cannot listen on 127.0.0.1:{port}: the port is already in use; "
        "stop the other program or choose another port\n"
    )


def test_bad_options_are_usage_errors(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["record", "--listen", "nowhere"])
    assert result.exit_code == 2 and "'nowhere' is not HOST:PORT" in result.output
    result = CliRunner().invoke(main, ["record", "--upstream", "ftp://example.com"])
    assert result.exit_code == 2 and "is not a WebSocket base URL" in result.output


def test_ctrl_c_stops_the_relay_even_if_its_parent_blocked_the_signal(
    tmp_path: Path, relay_workers: int
) -> None:
    # A runner or service manager may start rtlens with SIGINT blocked; its mask is inherited
    # across exec, and a relay that never sees Ctrl-C would run until killed.
    def block_sigint() -> None:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})

    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "rtlens", "record", "--listen", "127.0.0.1:0"),
            *("--upstream", "ws://127.0.0.1:9", "--out", str(tmp_path)),
            *("--workers", str(relay_workers)),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        preexec_fn=block_sigint,
    )
    try:
        assert proc.stdout is not None
        assert "relaying ws://127.0.0.1:" in proc.stdout.readline()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "stopped; 0 session(s) recorded" in out

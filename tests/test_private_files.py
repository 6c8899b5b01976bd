"""Recordings are private by default (files 0600, folders created 0700) whatever the umask;
`--shared-files` / `shared_files=True` keeps the old modes; listening beyond loopback warns."""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from relay_helpers import App, ScriptedUpstream, async_test
from test_record_cli import running_cli, stop_cli
from websockets.asyncio.client import connect

from rtlens.recording import is_loopback, record_connection, serve_relay

REALTIME = "/v1/realtime?model=gpt-realtime"
Recorder = Callable[..., Awaitable[Path]]


@pytest.fixture(params=[0o000, 0o022], ids=["umask000", "umask022"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def one_relayed_session(out: Path, shared_files: bool = False) -> Path:
    async with (
        ScriptedUpstream() as upstream,
        serve_relay(
            "127.0.0.1", 0, upstream=upstream.url, out_dir=out, shared_files=shared_files
        ) as relay,
    ):
        app = await App.connect(relay.url + REALTIME)
        await app.recv_until("session.created")
        await app.ws.close(1000, "done")
        await upstream.sessions[0].closed
    (path,) = out.glob("*.jsonl")
    return path


async def one_hooked_session(out: Path, shared_files: bool = False) -> Path:
    async with ScriptedUpstream() as upstream:
        ws = await connect(upstream.url + REALTIME)
        recorded = record_connection(ws, out, shared_files=shared_files)
        await recorded.recv()
        await recorded.close()
    (path,) = out.glob("*.jsonl")
    return path


@pytest.mark.parametrize("record", [one_relayed_session, one_hooked_session])
def test_recordings_are_0600_in_folders_created_0700(
    umask: int, record: Recorder, tmp_path: Path
) -> None:
    out = tmp_path / "new" / "recordings"
    path = asyncio.run(record(out))
    assert mode(path) == 0o600
    assert mode(out) == 0o700
    assert mode(tmp_path / "new") == 0o700  # a missing parent is created private too


@pytest.mark.parametrize("record", [one_relayed_session, one_hooked_session])
def test_shared_files_keeps_the_old_modes(umask: int, record: Recorder, tmp_path: Path) -> None:
    out = tmp_path / "shared"
    path = asyncio.run(record(out, shared_files=True))
    assert mode(path) == 0o644 & ~umask  # 0644 at umask 000 and 022 alike
    assert mode(out) == 0o777 & ~umask  # 0777 / 0755


def test_an_existing_folder_keeps_its_mode(tmp_path: Path) -> None:
    out = tmp_path / "team"
    out.mkdir()
    out.chmod(0o750)
    path = asyncio.run(one_relayed_session(out))
    assert mode(out) == 0o750
    assert mode(path) == 0o600


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.20", False),
        ("relay.example.com", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


@async_test
async def test_cli_warns_once_when_listening_beyond_loopback(tmp_path: Path) -> None:
    async with running_cli("--listen", "0.0.0.0:0", "--out", str(tmp_path)) as (proc, _url):
        code, _out, err = await stop_cli(proc)
    assert code == 0, err
    warnings = [line for line in err.splitlines() if "warning" in line]
    assert len(warnings) == 1, err
    assert "0.0.0.0" in warnings[0]
    assert "no authentication" in warnings[0] and "app's key" in warnings[0]


@async_test
async def test_cli_does_not_warn_on_loopback(tmp_path: Path) -> None:
    async with running_cli("--out", str(tmp_path)) as (proc, _url):
        code, _out, err = await stop_cli(proc)
    assert code == 0, err
    assert "warning" not in err


@async_test
async def test_cli_shared_files_flag(tmp_path: Path) -> None:
    old = os.umask(0o022)  # the subprocess inherits it
    try:
        async with (
            ScriptedUpstream() as upstream,
            running_cli(
                "--out", str(tmp_path / "out"), "--upstream", upstream.url, "--shared-files"
            ) as (
                proc,
                url,
            ),
        ):
            app = await App.connect(url + REALTIME)
            await app.recv_until("session.created")
            await app.ws.close(1000, "done")
            await upstream.sessions[0].closed
            code, _out, _err = await stop_cli(proc)
    finally:
        os.umask(old)
    assert code == 0
    (path,) = (tmp_path / "out").glob("*.jsonl")
    assert mode(path) == 0o644
    assert mode(tmp_path / "out") == 0o755

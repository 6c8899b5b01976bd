"""`rtlens record --workers 2` as a user runs it: two relay processes on one address; one
killed outright mid-session leaves the other's sessions untouched, its own files valid
JSONL up to their last line, and is replaced.

Which process holds an app's connection is read from the kernel (/proc/net/tcp and the
processes' file descriptors), not from rtlens."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import orjson
import pytest
from relay_helpers import App, ScriptedUpstream, async_test, read_recording
from test_record_cli import REALTIME, running_cli, stop_cli

pytestmark = pytest.mark.skipif(
    not Path("/proc/net/tcp").exists(), reason="needs Linux's /proc to see which process"
)


def children(pid: int) -> set[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return {int(p) for p in text.split()}


def _socket_inode(local_port: int, remote_port: int) -> str | None:
    """The inode of the relay's side of an app's connection (IPv4 loopback)."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, inode = fields[1], fields[2], fields[9]
        if int(local.split(":")[1], 16) == local_port and int(remote.split(":")[1], 16) == (
            remote_port
        ):
            return inode
    return None


def holder(pids: set[int], relay_port: int, app: App) -> int | None:
    inode = _socket_inode(relay_port, app.ws.local_address[1])
    if inode is None:
        return None
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if str(fd.readlink()) == f"socket:[{inode}]":
                    return pid
            except OSError:
                continue
    return None


async def until(condition, what: str, timeout: float = 60.0):
    """Wait for a condition the kernel shows (a safety net, not a timing bound)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not (result := condition()):
        assert loop.time() < deadline, what
        await asyncio.sleep(0.02)
    return result


@async_test
async def test_a_killed_worker_leaves_the_others_sessions_untouched(tmp_path: Path) -> None:
    async with (
        ScriptedUpstream() as upstream,
        running_cli("--upstream", upstream.url, "--out", str(tmp_path), "--workers", "2") as (
            proc,
            url,
        ),
    ):
        relay_port = int(url.rsplit(":", 1)[1])
        workers = await until(lambda: len(children(proc.pid)) == 2 and children(proc.pid), "2")
        apps: dict[int, list[App]] = {pid: [] for pid in workers}
        for _ in range(64):  # the kernel spreads connections: 64 all on one is 2**-63
            app = await App.connect(url + REALTIME)
            await app.send({"type": "response.create"})
            await app.recv_until("rate_limits.updated")  # the session is running
            owner = holder(workers, relay_port, app)
            assert owner in workers
            apps[owner].append(app)
            if all(apps.values()):
                break
        assert all(apps.values()), "every connection went to one worker"
        victim, survivor = sorted(workers, key=lambda pid: -len(apps[pid]))
        os.kill(victim, signal.SIGKILL)
        for app in apps[victim]:
            assert (await app.closed())[0] == 1006  # cut off: no close frame
        for app in apps[survivor]:  # untouched: they go on
            await app.send({"type": "response.create"})
            await app.recv_until("rate_limits.updated")
        replaced = await until(
            lambda: len(kids := children(proc.pid)) == 2 and victim not in kids and kids,
            "the killed worker was not replaced",
        )
        late = await App.connect(url + REALTIME)  # the relay still takes new sessions
        await late.send({"type": "response.create"})
        await late.recv_until("rate_limits.updated")
        assert holder(replaced, relay_port, late) in replaced
        code, out, err = await stop_cli(proc)
        for app in [*apps[survivor], late]:
            assert await app.closed() == (1001, "rtlens relay: shutting down")

    assert code == 0, err
    n_sessions = sum(len(a) for a in apps.values()) + 1
    assert f"relay process {victim} ended (killed by SIGKILL)" in out
    assert out.rstrip().endswith(f"stopped; {n_sessions} session(s) recorded in {tmp_path}/")
    killed_ports = {app.ws.local_address[1] for app in apps[victim]}
    files = sorted(tmp_path.glob("*.jsonl"))
    assert len(files) == n_sessions
    for path in files:
        lines = path.read_bytes().splitlines(keepends=True)
        header = orjson.loads(lines[0])
        port = int(header["request"]["client"].rsplit(":", 1)[1])
        if port in killed_ports:  # valid JSONL up to its last line, no close line
            complete = [line for line in lines if line.endswith(b"\n")]
            assert len(complete) >= len(lines) - 1
            parsed = [orjson.loads(line) for line in complete]
            assert not any("close" in line for line in parsed)
            assert read_recording(path, complete=False).frames
        else:
            assert read_recording(path).close == {
                "by": "relay",
                "code": 1001,
                "reason": "rtlens relay: shutting down",
            }


@async_test
async def test_metrics_count_every_workers_sessions(tmp_path: Path) -> None:
    """`--metrics` with two workers: one /metrics, served by the supervisor, counts the
    sessions of both (each connection's process is read from the kernel, as above)."""
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    async with (
        ScriptedUpstream() as upstream,
        running_cli(
            "--upstream",
            upstream.url,
            "--out",
            str(tmp_path),
            "--workers",
            "2",
            "--metrics",
            "127.0.0.1:0",
        ) as (proc, url),
    ):
        [line] = [x for x in proc.preamble if "metrics: http://" in x]
        metrics_url = line.split("metrics: ", 1)[1].split()[0]
        relay_port = int(url.rsplit(":", 1)[1])
        workers = await until(lambda: len(children(proc.pid)) == 2 and children(proc.pid), "2")
        owners: set[int] = set()
        opened = 0
        while len(owners) < 2 and opened < 64:
            app = await App.connect(url + REALTIME)
            await app.send({"type": "response.create"})
            await app.recv_until("rate_limits.updated")
            owners.add(holder(workers, relay_port, app))
            await app.ws.close()
            opened += 1
        assert len(owners) == 2

        def sessions_counted() -> float | None:
            with urllib.request.urlopen(metrics_url, timeout=30) as resp:
                text = resp.read().decode()
            total = 0.0
            for family in text_string_to_metric_families(text):
                if family.name == "rtlens_sessions":
                    total += sum(s.value for s in family.samples if s.name.endswith("_total"))
            return total if total == opened else None

        await until(sessions_counted, f"/metrics never counted {opened} sessions")
        await stop_cli(proc)


@async_test
async def test_worker_connections_have_nagle_off() -> None:
    """A worker's accepted connections send each frame at once (TCP_NODELAY, as asyncio sets
    it for the sockets it makes itself): with Nagle on, a reply frame could wait for the
    app's delayed ACK, ~40 ms."""
    import socket

    from rtlens.recording.workers import _socket_for

    sock = _socket_for("127.0.0.1", 0, reuse_port=True)
    sock.listen()
    seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = writer.get_extra_info("socket")
        seen.set_result(conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()

    server = await asyncio.start_server(handler, sock=sock)
    async with server:
        _reader, writer = await asyncio.open_connection(*sock.getsockname())
        assert await asyncio.wait_for(seen, 60) == 1
        writer.close()

"""`rtlens record --workers N`: N relay processes on one listen address, so a hundred
concurrent calls use every core instead of queueing on one.

Each worker is a whole relay (`RelayServer`) that owns its connections and their files end
to end: nothing about a session crosses processes. Where the OS has `SO_REUSEPORT` (Linux,
the BSDs, macOS) each worker listens on its own socket bound to the same address and the
kernel spreads new connections over them; elsewhere the workers accept from one socket
the supervisor opened (the fallback: the same behaviour, less even spreading).

The supervisor (the process `rtlens record` started) does not relay. It reserves the port
(a bound socket that never listens, so no connection reaches it), starts the workers,
prints the lines that concern all of them, restarts a worker that dies (its sessions' files
end at their last line; the apps see their connections drop), and on Ctrl-C or SIGTERM
stops every worker with SIGTERM, so each closes its sessions with close lines. Workers
ignore SIGINT (Ctrl-C reaches the whole process group: the count of open sessions the
supervisor prints must be taken before any worker starts closing) and are sent SIGTERM by
the kernel should the supervisor die outright.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import mmap
import multiprocessing as mp
import multiprocessing.connection
import os
import signal
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, cast

from rtlens.procs import parent_death_signal
from rtlens.recording import terminal
from rtlens.recording.collect_http import CollectPolicy
from rtlens.recording.relay import RelayServer, RelayStartError, check_out_dir, listen_error
from rtlens.recording.session import OnRecorded, Report

STARTED, OPEN = 0, 1  # a worker's two counters in the shared array
RESTART_AFTER = 1.0  # seconds: a worker that dies sooner is restarted no sooner


@dataclass(frozen=True)
class RelayOptions:
    """What every worker's relay is given."""

    upstream: str
    out_dir: Path
    redact_audio: bool
    tls: ssl.SSLContext | None
    shared_files: bool = False  # 0644 files and umask folders, as before rtlens made them private
    collect_policy: CollectPolicy | None = None  # who may POST /collect (the browser capture)


@dataclass(frozen=True)
class _Started:
    """A worker's word that it listens (`error` None) or cannot, and why."""

    error: str | None = None


class _ReadyChannel:
    """The workers' word to the supervisor that they listen, or why they cannot: a pipe
    the supervisor can wait on together with Ctrl-C and the workers' exits."""

    def __init__(self, ctx: Any) -> None:
        self.reader, self._writer = ctx.Pipe(duplex=False)
        self._lock = ctx.Lock()

    def put(self, said: _Started) -> None:
        with self._lock:
            self._writer.send(said)

    def get(self) -> _Started:
        said: _Started = self.reader.recv()
        return said


class _StopRequestedError(Exception):
    """Ctrl-C or SIGTERM reached the supervisor."""


class _StopSignal:
    """Ctrl-C and SIGTERM as a pipe that turns readable, so each wait of the supervisor
    includes them. The handler only sets a flag and writes a byte: an exception raised
    from a handler could land anywhere, inside the standard library's own cleanup too."""

    def __init__(self) -> None:
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)
        self.requested = False
        self._previous: dict[int, Any] = {}

    def fileno(self) -> int:
        return self._read

    def _handle(self, _signum: int, _frame: object) -> None:
        self.requested = True
        with contextlib.suppress(BlockingIOError):  # already readable
            os.write(self._write, b"\0")

    def install(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._handle)

    def ignore(self) -> None:
        """While stopping: a second Ctrl-C must not cut the close lines short."""
        for sig in self._previous:
            signal.signal(sig, signal.SIG_IGN)

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        os.close(self._read)
        os.close(self._write)

    def check(self) -> None:
        if self.requested:
            raise _StopRequestedError


def reuse_port_available() -> bool:
    return hasattr(socket, "SO_REUSEPORT")


def _socket_for(host: str, port: int, *, reuse_port: bool) -> socket.socket:
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    # IPPROTO_TCP by name: asyncio sets TCP_NODELAY only on sockets whose proto says TCP
    # (accepted ones inherit it), and without it Nagle's algorithm meets the app's delayed
    # ACKs: a reply frame waited ~40 ms now and then (the workers' p99, downstream)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def _reserve(host: str, port: int, reuse_port: bool) -> socket.socket:
    """The supervisor's socket: bound (never listening) with SO_REUSEPORT, or listening
    for all in the fallback. A port another program holds, another `rtlens record`
    included, is refused as without workers: a probe binds it without SO_REUSEPORT first,
    as SO_REUSEPORT alone would let two relays of the same user share a port silently."""
    try:
        if reuse_port:
            with _socket_for(host, port, reuse_port=False) as probe:
                port = probe.getsockname()[1]
            return _socket_for(host, port, reuse_port=True)
        sock = _socket_for(host, port, reuse_port=False)
        sock.listen(1024)
        return sock
    except OSError as exc:
        raise RelayStartError(listen_error(host, port, exc)) from None


class _Worker:
    """One relay process and its slot in the shared counters."""

    def __init__(self, slot: int, proc: Any) -> None:
        self.slot, self.proc = slot, proc
        self.started = time.monotonic()


def run_workers(
    host: str,
    port: int,
    workers: int,
    options: RelayOptions,
    report: Report,
    on_recorded: OnRecorded | None = None,
) -> None:
    """Run `workers` relay processes until SIGINT or SIGTERM (see the module's text).
    `on_recorded(path, closed)` runs here, in the supervisor, as every worker's session
    files open and close (`--metrics` and `--otlp` then follow all workers in one place)."""
    check_out_dir(options.out_dir, options.shared_files)
    reuse_port = reuse_port_available()
    anchor = _reserve(host, port, reuse_port)
    port = anchor.getsockname()[1]
    ctx = mp.get_context("fork")  # the workers inherit the TLS context and `report`
    # Anonymous shared memory (fork shares it): no file, so no file size limit applies.
    shared_memory = mmap.mmap(-1, 16 * workers)
    counters = (ctypes.c_int64 * (2 * workers)).from_buffer(shared_memory)
    ready = _ReadyChannel(ctx)
    recorded: Any = ctx.SimpleQueue() if on_recorded is not None else None
    collector = None
    if on_recorded is not None:
        collector = threading.Thread(
            target=_collect, args=(recorded, on_recorded), name="rtlens-recorded", daemon=True
        )
        collector.start()
    shared = None if reuse_port else anchor
    supervisor = os.getpid()

    def start(slot: int) -> _Worker:
        counters[2 * slot + OPEN] = 0  # a dead worker's sessions are gone with it
        proc = ctx.Process(
            target=_worker_main,
            args=(slot, host, port, shared, options, counters, ready, recorded, report, supervisor),
            name=f"rtlens-relay-{slot}",
            daemon=False,
        )
        proc.start()
        return _Worker(slot, proc)

    stop = _StopSignal()
    stop.install()
    running: list[_Worker] = []
    try:
        running = [start(slot) for slot in range(workers)]
        _wait_ready(ready, running, stop)
        url = f"{'wss' if options.tls else 'ws'}://{_host_in_url(host)}:{port}"
        report(terminal.listening(url, options.upstream, options.out_dir, options.redact_audio))
        mode = "SO_REUSEPORT" if reuse_port else "one shared socket"
        report(f"rtlens record: {workers} relay process{'es' if workers > 1 else ''} ({mode})")
        while True:
            sentinels = {w.proc.sentinel: w for w in running}
            woke = multiprocessing.connection.wait([stop.fileno(), ready.reader, *sentinels])
            stop.check()
            if ready.reader in woke:  # a restarted worker listens, or says why it cannot
                said = ready.get()
                if said.error is not None:
                    report(terminal.problem(None, said.error))
            for done in woke:
                if done not in sentinels:
                    continue
                dead = sentinels[done]
                dead.proc.join()
                if time.monotonic() - dead.started < RESTART_AFTER:
                    # One that cannot run must not spin a core; Ctrl-C still ends the wait.
                    multiprocessing.connection.wait([stop.fileno()], timeout=RESTART_AFTER)
                    stop.check()
                report(
                    terminal.problem(
                        None,
                        f"relay process {dead.proc.pid} ended ({_how(dead.proc.exitcode)}); "
                        "its sessions were cut off; starting another",
                    )
                )
                running[running.index(dead)] = start(dead.slot)
    except _StopRequestedError:
        pass
    finally:
        stop.ignore()
        open_now = sum(counters[2 * w.slot + OPEN] for w in running)
        if running:
            report(terminal.stopping(open_now))
        for w in running:
            if w.proc.is_alive():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(w.proc.pid, signal.SIGTERM)
        for w in running:
            w.proc.join()
        anchor.close()
        if collector is not None:
            recorded.put(None)  # after every worker's last file
            collector.join()
        stop.restore()
    report(
        terminal.stopped(sum(counters[2 * s + STARTED] for s in range(workers)), options.out_dir)
    )


def _wait_ready(ready: _ReadyChannel, running: list[_Worker], stop: _StopSignal) -> None:
    """Every worker listening, or the first one's reason it cannot (all are stopped)."""
    waiting = len(running)
    while waiting:
        sentinels = {w.proc.sentinel: w for w in running}
        woke = multiprocessing.connection.wait([stop.fileno(), ready.reader, *sentinels])
        stop.check()
        error = None
        if ready.reader in woke:
            error = ready.get().error
            waiting -= 1
        elif woke:  # a worker ended before it said anything
            dead = sentinels[cast(int, woke[0])]
            dead.proc.join()
            error = (
                f"relay process {dead.proc.pid} ended before listening ({_how(dead.proc.exitcode)})"
            )
        if error is not None:
            for w in running:
                w.proc.terminate()
                w.proc.join()
            running.clear()
            raise RelayStartError(error)


def _collect(recorded: Any, on_recorded: OnRecorded) -> None:
    """Hand the workers' files to `on_recorded`, in the order they opened and closed."""
    while (said := recorded.get()) is not None:
        on_recorded(*said)


def _tell(recorded: Any, path: Path, closed: bool) -> None:
    recorded.put((path, closed))


def _how(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-exitcode).name}"
    return f"exit code {exitcode}"


def _host_in_url(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _worker_main(
    slot: int,
    host: str,
    port: int,
    shared: socket.socket | None,
    options: RelayOptions,
    counters: Any,
    ready: _ReadyChannel,
    recorded: Any,
    report: Report,
    supervisor: int,
) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the supervisor's: it sends SIGTERM
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    parent_death_signal(signal.SIGTERM)  # closes the sessions, as a Ctrl-C would
    if os.getppid() != supervisor:  # it died before the signal was set up
        return
    try:
        sock = shared if shared is not None else _socket_for(host, port, reuse_port=True)
        if shared is None:
            sock.listen(1024)
    except OSError as exc:
        ready.put(_Started(listen_error(host, port, exc)))
        return
    on_recorded = None if recorded is None else partial(_tell, recorded)
    asyncio.run(_serve(slot, host, port, sock, options, counters, ready, report, on_recorded))


async def _serve(
    slot: int,
    host: str,
    port: int,
    sock: socket.socket,
    options: RelayOptions,
    counters: Any,
    ready: _ReadyChannel,
    report: Report,
    on_recorded: OnRecorded | None,
) -> None:
    counted = 0  # this process's sessions already added to the slot (kept by restarts)

    def count(started: int, open_now: int) -> None:
        nonlocal counted
        counters[2 * slot + STARTED] += started - counted
        counted = started
        counters[2 * slot + OPEN] = open_now

    relay = RelayServer(
        host,
        port,
        upstream=options.upstream,
        out_dir=options.out_dir,
        redact_audio=options.redact_audio,
        report=report,
        tls=options.tls,
        shared_files=options.shared_files,
        collect_policy=options.collect_policy,
        sock=sock,
        on_sessions=count,
        on_recorded=on_recorded,
    )
    try:
        await relay.start()
    except RelayStartError as exc:
        ready.put(_Started(str(exc)))
        return
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    ready.put(_Started())
    try:
        await stop.wait()
    finally:
        await relay.aclose()


def default_workers() -> int:
    return os.cpu_count() or 1

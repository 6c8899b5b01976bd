"""Running the relay as a program (`rtlens record`): parse the listen address, serve until
SIGINT or SIGTERM, then close every session cleanly so each file ends with a close line."""

from __future__ import annotations

import asyncio
import ipaddress
import os
import signal
import ssl
from contextlib import suppress
from pathlib import Path

from rtlens.recording import terminal
from rtlens.recording.collect_http import CollectPolicy
from rtlens.recording.relay import RelayServer, RelayStartError
from rtlens.recording.session import OnRecorded, Report
from rtlens.recording.tls import TlsError, server_context
from rtlens.recording.upstream import DEFAULT_UPSTREAM


def parse_listen(value: str) -> tuple[str, int]:
    """`HOST:PORT`, `:PORT` or `PORT` (host 127.0.0.1); `[::1]:PORT` for IPv6."""
    host, sep, port = value.strip().rpartition(":")
    if not sep:
        host, port = "", value.strip()
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{value!r} is not HOST:PORT (for example 127.0.0.1:8765)")
    return host, int(port)


def is_loopback(host: str) -> bool:
    """Whether `host` only accepts connections from this machine (127.0.0.0/8, ::1,
    localhost). Any other address, `0.0.0.0` and host names included, is reachable."""
    if host.lower() in ("localhost", "localhost.", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def exposed_warning(host: str, port: int) -> str:
    """The one line `rtlens record` prints (stderr) when it listens beyond this machine."""
    return (
        f"rtlens record: warning: listening on {host}:{port}, which is not loopback; the relay "
        "has no authentication, so anyone who can reach it can use the upstream with the "
        "app's key"
    )


def run_relay(
    host: str = "127.0.0.1",
    port: int = 8765,
    *,
    upstream: str = DEFAULT_UPSTREAM,
    out_dir: str | os.PathLike[str] = "recordings",
    redact_audio: bool = False,
    report: Report = print,
    tls_cert: str | os.PathLike[str] | None = None,
    tls_key: str | os.PathLike[str] | None = None,
    workers: int = 1,
    shared_files: bool = False,
    on_recorded: OnRecorded | None = None,
    collect_policy: CollectPolicy | None = None,
) -> None:
    """Run the relay until SIGINT or SIGTERM, then close every session cleanly and return.

    With `tls_cert` (and `tls_key`, unless the certificate file holds the key) the relay
    serves `wss://`. With `workers` > 1, that many relay processes share the listen
    address (`rtlens.recording.workers`). `on_recorded(path, closed)` is called as each
    session's file is created and closed, in this process, whichever worker relayed it:
    with it, even one worker is a process of its own, so that what `on_recorded` sets
    going here (`--metrics`, `--otlp` follow the files) never shares a process, and so
    never the interpreter's lock, with the forwarding."""
    if tls_key is not None and tls_cert is None:
        raise RelayStartError("--tls-key needs --tls-cert: give the certificate too")
    if hasattr(signal, "pthread_sigmask"):
        # A parent that blocked these signals (a runner's thread, a service manager) would
        # leave Ctrl-C pending forever: the relay must stop when asked.
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        tls = None if tls_cert is None else server_context(tls_cert, tls_key)
    except TlsError as exc:
        raise RelayStartError(str(exc)) from None
    if workers > 1 or on_recorded is not None:
        from rtlens.recording.upstream import normalize_upstream
        from rtlens.recording.workers import RelayOptions, run_workers

        try:
            upstream = normalize_upstream(upstream)
        except ValueError as exc:
            raise RelayStartError(str(exc)) from None
        options = RelayOptions(
            upstream, Path(out_dir), redact_audio, tls, shared_files, collect_policy
        )
        run_workers(host, port, workers, options, report, on_recorded)
        return
    asyncio.run(
        _run(
            host,
            port,
            upstream,
            Path(out_dir),
            redact_audio,
            report,
            tls,
            shared_files,
            on_recorded,
            collect_policy,
        )
    )


async def _run(
    host: str,
    port: int,
    upstream: str,
    out_dir: Path,
    redact_audio: bool,
    report: Report,
    tls: ssl.SSLContext | None = None,
    shared_files: bool = False,
    on_recorded: OnRecorded | None = None,
    collect_policy: CollectPolicy | None = None,
) -> None:
    relay = RelayServer(
        host,
        port,
        upstream=upstream,
        out_dir=out_dir,
        redact_audio=redact_audio,
        report=report,
        tls=tls,
        shared_files=shared_files,
        on_recorded=on_recorded,
        collect_policy=collect_policy,
    )
    await relay.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        with suppress(NotImplementedError):  # Windows: Ctrl-C arrives as KeyboardInterrupt
            loop.add_signal_handler(sig, stop.set)
    # Announced only once Ctrl-C is handled: a script that stops the relay as soon as it reads
    # this line must get a clean shutdown, not a KeyboardInterrupt.
    report(terminal.listening(relay.url, relay.upstream, out_dir, redact_audio))
    try:
        await stop.wait()
    finally:
        report(terminal.stopping(relay.open_sessions))
        await relay.aclose()
        for sig in signals:
            with suppress(NotImplementedError):
                loop.remove_signal_handler(sig)
        report(terminal.stopped(relay.sessions_started, out_dir))

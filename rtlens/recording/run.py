"""Running the relay as a program (`rtlens record`): parse the listen address, serve until
SIGINT or SIGTERM, then close every session cleanly so each file ends with a close line."""

from __future__ import annotations

import asyncio
import os
import signal
import ssl
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

from rtlens.recording import terminal
from rtlens.recording.relay import RelayServer, RelayStartError
from rtlens.recording.session import Report
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
    on_recorded: Callable[[Path], None] | None = None,
) -> None:
    """Run the relay until SIGINT or SIGTERM, then close every session cleanly and return.

    With `tls_cert` (and `tls_key`, unless the certificate file holds the key) the relay
    serves `wss://`. `on_recorded(path)` is called with each session's file once closed."""
    if tls_key is not None and tls_cert is None:
        raise RelayStartError("--tls-key needs --tls-cert: give the certificate too")
    try:
        tls = None if tls_cert is None else server_context(tls_cert, tls_key)
    except TlsError as exc:
        raise RelayStartError(str(exc)) from None
    asyncio.run(_run(host, port, upstream, Path(out_dir), redact_audio, report, tls, on_recorded))


async def _run(
    host: str,
    port: int,
    upstream: str,
    out_dir: Path,
    redact_audio: bool,
    report: Report,
    tls: ssl.SSLContext | None = None,
    on_recorded: Callable[[Path], None] | None = None,
) -> None:
    relay = RelayServer(
        host,
        port,
        upstream=upstream,
        out_dir=out_dir,
        redact_audio=redact_audio,
        report=report,
        tls=tls,
        on_recorded=on_recorded,
    )
    await relay.start()
    report(terminal.listening(relay.url, relay.upstream, out_dir, redact_audio))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        with suppress(NotImplementedError):  # Windows: Ctrl-C arrives as KeyboardInterrupt
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        report(terminal.stopping(relay.open_sessions))
        await relay.aclose()
        for sig in signals:
            with suppress(NotImplementedError):
                loop.remove_signal_handler(sig)
        report(terminal.stopped(relay.sessions_started, out_dir))

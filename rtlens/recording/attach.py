"""`rtlens attach`: record a WebRTC or SIP call from a sideband WebSocket (`?call_id=`).

A server that created or accepted a call can open a second connection to it,
`wss://api.openai.com/v1/realtime?call_id=<id>`, and see every server event of the call
(protocol §9c). `attach` opens one with the library hook, so the file is SPEC §1 with
`source: "sideband"`, and reads until the call ends (the API closes the socket) or the
user stops it. It only listens: it sends nothing, so the call goes on as if it were not
there. A sideband sees server events only; what the caller's app sends on its data channel
is not in the file (`dir: "client"` lines are what this connection sent: none).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from rtlens.recording.hook import RecordedConnection, record_connection
from rtlens.recording.upstream import upstream_url

MAX_FRAME_BYTES = 32 * 1024 * 1024


class AttachError(Exception):
    """The sideband could not be opened (the message is one line for the terminal)."""


@dataclass(frozen=True)
class Attached:
    """How an attach ended: the file, how many server events it holds, and the close."""

    path: Path
    events: int
    close_code: int | None
    close_reason: str

    @property
    def refused(self) -> bool:
        """The API ended it with an error close (an unknown call: 4000), not a hang-up."""
        return self.close_code is not None and self.close_code >= 3000


def sideband_url(upstream: str, call_id: str) -> str:
    return upstream_url(upstream, f"/v1/realtime?call_id={call_id}")


async def attach(
    call_id: str,
    *,
    upstream: str,
    api_key: str,
    out_dir: str,
    redact_audio: bool = False,
    stop: asyncio.Event | None = None,
) -> Attached:
    """Record the call's sideband until it closes, or until `stop` is set (then close 1000)."""
    url = sideband_url(upstream, call_id)
    try:
        ws = await connect(
            url,
            additional_headers={"Authorization": f"Bearer {api_key}"},
            max_size=MAX_FRAME_BYTES,
        )
    except InvalidStatus as exc:
        raise AttachError(
            f"{url}: the API answered HTTP {exc.response.status_code} to the sideband request"
        ) from None
    except (OSError, InvalidHandshake, TimeoutError) as exc:
        raise AttachError(f"cannot connect to {url}: {exc}") from None
    rec = record_connection(
        ws, out_dir, upstream=url, redact_audio=redact_audio, source="sideband", call_id=call_id
    )
    assert isinstance(rec, RecordedConnection)
    reader = asyncio.ensure_future(_read(rec))
    waits: set[asyncio.Future[Any]] = {reader}
    if stop is not None:
        waits.add(asyncio.ensure_future(stop.wait()))
    await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    if not reader.done():
        await rec.close(1000, "rtlens attach: stopped")
    events = await reader
    for task in waits:
        task.cancel()
    protocol = ws.protocol
    return Attached(rec.path, events, protocol.close_code, protocol.close_reason or "")


async def _read(rec: RecordedConnection) -> int:
    events = 0
    with contextlib.suppress(ConnectionClosed):
        async for _message in rec:
            events += 1
    return events


def run_attach(
    call_id: str, *, upstream: str, api_key: str, out_dir: str, redact_audio: bool = False
) -> Attached:
    """Blocking `attach` that Ctrl-C or SIGTERM stops cleanly (the file gets its close line)."""

    async def main() -> Attached:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        return await attach(
            call_id,
            upstream=upstream,
            api_key=api_key,
            out_dir=out_dir,
            redact_audio=redact_audio,
            stop=stop,
        )

    return asyncio.run(main())

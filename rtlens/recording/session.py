"""One relayed session: frames copied both ways, each recorded before it is forwarded.

Two pumps run per session, app -> upstream and upstream -> app. Each one receives a message
as bytes, writes it to the session's file (the writer timestamps it there and then) and
only then sends the same bytes on as the same kind of frame. Nothing else happens per frame:
no JSON parsing here (the writer parses once), no copies, no await between receive and send
except the send itself.

The first close either pump sees ends the session: it becomes the file's last line and is
passed on to the other leg (see `closing`). A frame that cannot be written is not
forwarded: the session is closed on both legs with 1011 instead.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from websockets.exceptions import ConnectionClosed

from rtlens.logfile.writer import RecordingError, SessionWriter
from rtlens.recording import terminal
from rtlens.recording.closing import (
    GOING_AWAY,
    INTERNAL_ERROR,
    close_seen,
    fit_reason,
    forward_close,
)
from rtlens.recording.describe import safe_text
from rtlens.recording.upstream import UpstreamFailure
from rtlens.recording.wire import Tapped

Report = Callable[[str], None]
log = logging.getLogger("rtlens.recording")

SHUTDOWN_REASON = "rtlens relay: shutting down"


class RelayedSession:
    """The two legs of one app connection and the file they are recorded to."""

    def __init__(
        self,
        client: Tapped,
        upstream: Tapped | None,
        writer: SessionWriter,
        report: Report,
    ) -> None:
        self.client = client
        self.upstream = upstream
        self.writer = writer
        self._report = report
        self.done = False

    @property
    def path(self) -> Path:
        return self.writer.path

    async def run(self) -> None:
        """Relay until either side closes; returns once both legs are closed."""
        assert self.upstream is not None
        to_app = asyncio.create_task(self._pump(self.upstream, self.client, "server"))
        try:
            await self._pump(self.client, self.upstream, "client")
            await to_app
        except BaseException:
            to_app.cancel()
            raise

    async def refuse(self, failure: UpstreamFailure) -> None:
        """The upstream could not be opened: record why, tell the app in a close."""
        await self._end("relay", failure.code, failure.reason, problem=failure.detail)

    async def shutdown(self, code: int = GOING_AWAY, reason: str = SHUTDOWN_REASON) -> None:
        await self._end("relay", code, reason)

    # -- the hot path -----------------------------------------------------------------------

    async def _pump(self, src: Tapped, dst: Tapped, direction: str) -> None:
        recv = src.recv
        send = dst.send
        tap = src.text_tap
        write_text = self.writer.write_text
        write_binary = self.writer.write_binary
        try:
            while True:
                try:
                    data = await recv(decode=False)
                except ConnectionClosed as exc:
                    return await self._closed(src, exc)
                text = tap.text
                if text:
                    write_text(direction, data)
                else:
                    write_binary(direction, data)
                try:
                    await send(data, text=text)
                except ConnectionClosed as exc:
                    return await self._closed(dst, exc)
        except RecordingError as exc:
            await self._write_failed(exc)
        except Exception as exc:  # a bug: end the session visibly rather than leave it hanging
            log.exception("rtlens relay: internal error in %s", self.path)
            await self._end(
                "relay", INTERNAL_ERROR, "rtlens relay: internal error", problem=repr(exc)
            )

    # -- endings ----------------------------------------------------------------------------

    async def _closed(self, conn: Tapped, exc: ConnectionClosed) -> None:
        """`conn` is closed: record who closed it and pass the close on to the other leg."""
        if self.done:
            return
        side = "client" if conn is self.client else "server"
        by, code, reason = close_seen(exc, peer=side, local="relay")
        send_code, send_reason = forward_close(code, reason, from_side=side)
        other = self.upstream if conn is self.client else self.client
        await self._end(by, code, reason, legs=((other, send_code, send_reason),))

    async def _end(
        self,
        by: str,
        code: int,
        reason: str,
        *,
        legs: tuple[tuple[Tapped | None, int | None, str], ...] | None = None,
        problem: str | None = None,
    ) -> None:
        """Write the close line, print it, then close `legs` (default: both, same code)."""
        if self.done:
            return
        self.done = True
        if problem:
            self._report(terminal.problem(self.path, problem))
        writer = self.writer
        try:
            writer.write_close(by, code, safe_text(reason))
        except RecordingError as exc:
            self._report(terminal.problem(self.path, f"cannot write the close line: {exc}"))
        else:
            self._report(
                terminal.closed(
                    self.path,
                    by,
                    code,
                    reason,
                    writer.duration_s,
                    writer.events,
                    writer.bytes_written,
                )
            )
        if legs is None:
            legs = ((self.client, code, reason), (self.upstream, code, reason))
        await asyncio.gather(*(close_leg(conn, c, r) for conn, c, r in legs if conn is not None))

    async def _write_failed(self, exc: RecordingError) -> None:
        """The file cannot take more: stop relaying on both legs rather than relay unrecorded."""
        if self.done:  # the writer was closed by a close already recorded
            return
        self.done = True
        cause = getattr(exc.__cause__, "strerror", None) or str(exc)
        reason = fit_reason(f"rtlens relay: cannot write the recording ({cause})")
        self._report(
            terminal.problem(
                self.path,
                f"cannot write the recording ({cause}): closed the session (1011) "
                "rather than relay it unrecorded",
            )
        )
        self._salvage_close_line(reason)
        await asyncio.gather(
            close_leg(self.client, INTERNAL_ERROR, reason),
            *([close_leg(self.upstream, INTERNAL_ERROR, reason)] if self.upstream else []),
        )

    def _salvage_close_line(self, reason: str) -> None:
        """End the file with a close line if the failed write left no partial line behind."""
        writer = self.writer
        try:
            if not writer.closed and writer.path.stat().st_size == writer.bytes_written:
                writer.write_close("relay", INTERNAL_ERROR, reason)
        except OSError:  # RecordingError included: the file simply ends earlier
            pass
        finally:
            writer.close()


async def close_leg(conn: Tapped, code: int | None, reason: str) -> None:
    """Close one leg; `code=None` sends a close frame without a code (the peer sees 1005)."""
    if code is None:
        await conn.close(code=None)  # type: ignore[arg-type]
    else:
        await conn.close(code, fit_reason(reason))

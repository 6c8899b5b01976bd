"""One relayed session: frames copied both ways, each recorded before it is forwarded.

Each leg hands its incoming frames to a forwarder callback as websockets parses them (see
`wire`): the forwarder writes the frame to the session's file (the writer timestamps it
there and then) and only then sends the same bytes on, as the same kind of frame, to the
other leg's transport. Nothing else happens per frame: no JSON parsing here (the writer
parses once), no task switch, no await. When the other leg's send buffer is full, reading
from this leg pauses until it drains, so a slow peer cannot make the relay buffer without
bound.

The first close either leg sees ends the session: it becomes the file's last line and is
passed on to the other leg (see `closing`). A frame that cannot be written is not
forwarded: the session is closed on both legs with 1011 instead. A text frame that is not
UTF-8 is not forwarded either: its bytes are recorded as a `binary` line and the relay
fails the connection as the WebSocket spec asks of an endpoint, 1007 towards the sender
(and 1001 to the upstream or 1014 to the app, who did nothing wrong).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode
from websockets.protocol import State

from rtlens.logfile.writer import RecordingError, SessionWriter
from rtlens.recording import terminal
from rtlens.recording.closing import (
    BAD_GATEWAY,
    GOING_AWAY,
    INTERNAL_ERROR,
    INVALID_DATA,
    close_seen,
    fit_reason,
    forward_close,
)
from rtlens.recording.describe import safe_text
from rtlens.recording.upstream import UpstreamFailure
from rtlens.recording.wire import Tapped

_TEXT = Opcode.TEXT
_OPEN = State.OPEN

Report = Callable[[str], None]
# on_recorded(path, closed): a session's file was created (False) or closed (True)
OnRecorded = Callable[[Path, bool], None]
log = logging.getLogger("rtlens.recording")

SHUTDOWN_REASON = "rtlens relay: shutting down"


@dataclass(frozen=True)
class NotUtf8:
    """A session's end: `direction` (`client` or `server`) sent a text frame that is not UTF-8."""

    direction: str


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
        client, upstream = self.client, self.upstream
        assert upstream is not None
        loop = asyncio.get_running_loop()
        first_end: asyncio.Future[Tapped | NotUtf8 | BaseException] = loop.create_future()
        self._first_end = first_end
        for conn in (client, upstream):
            conn.on_lost = partial(self._ending, conn)
            if conn.connection_lost_waiter.done():  # closed before the session started
                self._ending(conn)
        for src, dst, direction in ((client, upstream, "client"), (upstream, client, "server")):
            forwarder = Forwarder(self, src, dst, direction)
            src.forward_to(forwarder.frame, forwarder.flush)
        ended = await first_end
        try:
            if isinstance(ended, RecordingError):
                await self._write_failed(ended)
            elif isinstance(ended, BaseException):
                await self._internal_error(ended)
            elif isinstance(ended, NotUtf8):
                await self._not_utf8(ended.direction)
            else:
                # `protocol.close_exc`: websockets' Connection has its own `close_exc` only
                # from 17.4 on, the protocol's has been there since 14.
                await self._closed(ended, ended.protocol.close_exc)
        except Exception as exc:  # a bug here must still end the file and close both legs
            await self._internal_error(exc)
        # Both legs are closed or closing; wait for the other one's closing handshake.
        await asyncio.gather(client.wait_closed(), upstream.wait_closed())

    async def refuse(self, failure: UpstreamFailure) -> None:
        """The upstream could not be opened: record why, tell the app in a close."""
        await self._end("relay", failure.code, failure.reason, problem=failure.detail)

    async def shutdown(self, code: int = GOING_AWAY, reason: str = SHUTDOWN_REASON) -> None:
        await self._end("relay", code, reason)

    def _ending(self, outcome: Tapped | NotUtf8 | BaseException) -> None:
        """The first leg lost, write failure or bug ends the session; `run` takes it from there."""
        if not self._first_end.done():
            self._first_end.set_result(outcome)

    # -- the hot path -----------------------------------------------------------------------

    def ending(self) -> bool:
        return self.done or self._first_end.done()

    # -- endings ----------------------------------------------------------------------------

    async def _internal_error(self, exc: BaseException) -> None:
        log.error("rtlens relay: internal error in %s", self.path, exc_info=exc)
        await self._end("relay", INTERNAL_ERROR, "rtlens relay: internal error", problem=repr(exc))

    async def _not_utf8(self, direction: str) -> None:
        """Fail the connection of whoever sent invalid UTF-8 (1007); end the other leg too."""
        sender = "the app" if direction == "client" else "the upstream"
        reason = f"rtlens relay: text frame from {sender} is not UTF-8"
        sender_leg, other_leg, other_code = (
            (self.client, self.upstream, GOING_AWAY)
            if direction == "client"
            else (self.upstream, self.client, BAD_GATEWAY)
        )
        legs = ((sender_leg, INVALID_DATA, reason), (other_leg, other_code, reason))
        problem = (
            f"{sender} sent a text frame that is not UTF-8: recorded its bytes as binary, "
            f"closed {sender}'s connection with 1007"
        )
        await self._end("relay", INVALID_DATA, reason, legs=legs, problem=problem)

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


class Forwarder:
    """One direction of a session: records each of `src`'s frames, then sends it to `dst`.

    Both methods run inside `src.data_received`, so they must not raise: a write that fails
    (or a bug) ends the session from `run` instead, and no later frame is forwarded. Frames
    are queued in `dst`'s protocol as they are recorded and sent by `flush`, once per read,
    in one `write`: a burst of frames costs one loopback send instead of one each.
    """

    def __init__(self, session: RelayedSession, src: Tapped, dst: Tapped, direction: str):
        self.session = session
        self.src = src
        self.dst = dst
        self.direction = direction
        self._write_text = session.writer.write_text
        self._write_binary = session.writer.write_binary
        self._protocol = dst.protocol
        self._fragments: list[Frame] = []
        self._queued = False

    def frame(self, frame: Frame) -> None:
        fragments = self._fragments
        if fragments or not frame.fin:  # a fragmented message is recorded and sent whole
            fragments.append(frame)
            if not frame.fin:
                return
            text = fragments[0].opcode is _TEXT
            data = b"".join(f.data for f in fragments)
            fragments.clear()
        else:
            text = frame.opcode is _TEXT
            data = bytes(frame.data)  # it is bytes already: no copy
        if self.session.ending():
            return  # nothing more is relayed
        protocol = self._protocol
        try:
            if text:
                try:
                    self._write_text(self.direction, data)
                except UnicodeDecodeError:
                    self._write_binary(self.direction, data)  # the bytes, losslessly
                    self.session._ending(NotUtf8(self.direction))
                    return
            else:
                self._write_binary(self.direction, data)
            if protocol.state is not _OPEN:
                return  # dst is closing; its close ends the session
            if text:
                protocol.send_text(data)
            else:
                protocol.send_binary(data)
        except Exception as exc:  # RecordingError, or a bug
            self.session._ending(exc)
            return
        self._queued = True

    def flush(self) -> None:
        """Send what the frames of the last read queued on `dst`, in one write."""
        if not self._queued:
            return
        self._queued = False
        dst = self.dst
        chunks = dst.protocol.data_to_send()
        try:
            if b"" in chunks:  # an end of stream is queued too: let websockets send it all
                dst.protocol.writes[:0] = chunks
                dst.send_data()
            elif chunks:
                dst.transport.write(chunks[0] if len(chunks) == 1 else b"".join(chunks))
        except Exception as exc:
            self.session._ending(exc)
            return
        if dst.paused:  # dst's send buffer is full: stop reading src until it drains
            self.src.transport.pause_reading()
            dst.on_writable = self.src.transport.resume_reading

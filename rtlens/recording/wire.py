"""WebSocket connections for the relay that hand over frames untouched, text or binary.

`recv(decode=False)` returns a message's bytes without UTF-8 decoding, but not whether it
came as a text or a binary frame. These connection classes remember the opcode of the
message `recv` just returned (`conn.text_tap.text`), so the relay can send the same bytes on
as the same kind of frame, never decoding or re-encoding them.

This reaches into websockets' asyncio internals (`Assembler.frames`, the queue of frames
`recv` reads from), which have this shape in websockets 14 to 17; the relay tests fail
loudly if that ever changes.
"""

from __future__ import annotations

import asyncio

from websockets.asyncio.client import ClientConnection
from websockets.asyncio.messages import SimpleQueue
from websockets.asyncio.server import ServerConnection
from websockets.frames import Frame, Opcode

_TEXT = Opcode.TEXT
_CONT = Opcode.CONT


class TextTap(SimpleQueue[Frame]):
    """A connection's incoming frame queue that notes whether the last message was text."""

    text = True

    async def get(self, block: bool = True) -> Frame:
        frame = await super().get(block)
        if frame.opcode is not _CONT:
            self.text = frame.opcode is _TEXT
        return frame


def install_tap(connection: ClientConnection | ServerConnection) -> TextTap:
    tap = TextTap()
    # The assembler was created a moment ago in connection_made: no frame is queued yet.
    connection.recv_messages.frames = tap
    return tap


class TappedClientConnection(ClientConnection):
    """The relay's connection to the upstream."""

    text_tap: TextTap

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.text_tap = install_tap(self)


class TappedServerConnection(ServerConnection):
    """The relay's connection to the app."""

    text_tap: TextTap

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.text_tap = install_tap(self)


Tapped = TappedClientConnection | TappedServerConnection

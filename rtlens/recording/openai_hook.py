"""Record a connection from the `openai` SDK: `client.realtime.connect(...)`, async or sync.

The SDK's realtime connection keeps a websockets client connection in `_connection` and
does all its I/O through that object's `send`, `recv` and `close` (its send queue and its
reconnect logic included). Replacing `_connection` with a `record_connection` wrapper is the
narrowest interception point: every event the SDK sends or receives, raw, plus the close.

Reconnects: when the connection was opened with `on_reconnecting=...`, the SDK builds each
new WebSocket through `_make_ws`; that factory is wrapped too, so every new WebSocket is
recorded to a new file (one upstream session per file, as SPEC §1 wants), whose header
names the session it replaces (`previous_session_id`). `OpenAIRecording.paths` lists them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection as AsyncClientConnection

from rtlens.recording.hook import (
    RecordedConnection,
    RecordedSyncConnection,
    record_connection,
)


class OpenAIRecording:
    """The files of one recorded SDK connection (more than one if the SDK reconnected)."""

    def __init__(
        self,
        out_dir: str | os.PathLike[str],
        redact_audio: bool,
        header_extra: dict[str, Any],
        shared_files: bool = False,
    ) -> None:
        self.out_dir = out_dir
        self.shared_files = shared_files
        self.redact_audio = redact_audio
        self.header_extra = header_extra
        self.paths: list[Path] = []
        self.current: RecordedConnection | RecordedSyncConnection | None = None

    @property
    def path(self) -> Path:
        """The file of the current (latest) WebSocket."""
        assert self.current is not None
        return self.current.path

    def wrap(self, ws: Any) -> RecordedConnection | RecordedSyncConnection:
        extra = dict(self.header_extra)
        if self.current is not None:
            extra["previous_session_id"] = self.current.writer.session_id
        recorded = record_connection(
            ws,
            self.out_dir,
            redact_audio=self.redact_audio,
            shared_files=self.shared_files,
            sdk="openai",
            **extra,
        )
        self.current = recorded
        self.paths.append(recorded.path)
        return recorded


def record_openai(
    conn: Any,
    out_dir: str | os.PathLike[str] = "recordings",
    *,
    redact_audio: bool = False,
    shared_files: bool = False,
    **header_extra: Any,
) -> OpenAIRecording:
    """Record an open `openai` realtime connection (`AsyncRealtimeConnection` or
    `RealtimeConnection`) from now on; returns the recording (`.path`, `.paths`)."""
    ws = getattr(conn, "_connection", None)
    if ws is None or not hasattr(conn, "_make_ws"):
        raise TypeError(
            "record_openai() takes the connection of `client.realtime.connect(...)`, "
            f"not {type(conn).__name__}"
        )
    recording = OpenAIRecording(out_dir, redact_audio, header_extra, shared_files)
    conn._connection = recording.wrap(ws)
    make_ws = conn._make_ws
    if make_ws is not None:
        if isinstance(ws, AsyncClientConnection):

            async def make_recorded_ws(query: Any, headers: Any) -> RecordedConnection:
                return recording.wrap(await make_ws(query, headers))  # type: ignore[return-value]

            conn._make_ws = make_recorded_ws
        else:

            def make_recorded_sync_ws(query: Any, headers: Any) -> RecordedSyncConnection:
                return recording.wrap(make_ws(query, headers))  # type: ignore[return-value]

            conn._make_ws = make_recorded_sync_ws
    return recording

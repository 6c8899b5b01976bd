"""Recording: the first stage of the flow. Realtime API traffic becomes SPEC §1 JSONL files.

- `serve_relay` / `run_relay` / `RelayServer`: the relay behind `rtlens record`; apps
  connect to it instead of the API and every connection becomes one file (`source: relay`).
- `record_connection`: wrap a websockets client connection the app opened itself.
- `record_openai`: record a connection from the `openai` SDK's `client.realtime.connect()`.
- `record`: either of the two hooks, chosen by what it is given (`source: library`).

Recording writes through `rtlens.logfile` only; nothing here imports ingest.
"""

from __future__ import annotations

import os
from typing import Any

from rtlens.logfile.writer import RecordingError
from rtlens.recording.hook import RecordedConnection, RecordedSyncConnection, record_connection
from rtlens.recording.openai_hook import OpenAIRecording, record_openai
from rtlens.recording.relay import RelayServer, RelayStartError, serve_relay
from rtlens.recording.run import exposed_warning, is_loopback, parse_listen, run_relay
from rtlens.recording.upstream import DEFAULT_UPSTREAM, normalize_upstream

__all__ = [
    "DEFAULT_UPSTREAM",
    "OpenAIRecording",
    "RecordedConnection",
    "RecordedSyncConnection",
    "RecordingError",
    "RelayServer",
    "RelayStartError",
    "exposed_warning",
    "is_loopback",
    "normalize_upstream",
    "parse_listen",
    "record",
    "record_connection",
    "record_openai",
    "run_relay",
    "serve_relay",
]


def record(
    connection: Any, out_dir: str | os.PathLike[str] = "recordings", **kwargs: Any
) -> RecordedConnection | RecordedSyncConnection | OpenAIRecording:
    """Record a connection the app owns, from now on.

    An `openai` realtime connection is recorded in place (keep using it; the returned
    `OpenAIRecording` says where the files are). A websockets client connection is wrapped:
    use the returned object in its place.
    """
    if hasattr(connection, "_connection") and hasattr(connection, "_make_ws"):
        return record_openai(connection, out_dir, **kwargs)
    return record_connection(connection, out_dir, **kwargs)

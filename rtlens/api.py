"""The public Python API (docs/api.md): the only names outside the CLI that stay put.

Everything here is re-exported from `rtlens` itself and imported on first use, so
`import rtlens` stays cheap. Each function is a thin door onto the code the CLI runs (one
definition of every table, metric and report field); the modules behind it are internal.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb

    from rtlens.audio import AudioRender, Mode

PathLike = str | Path


@dataclass(frozen=True)
class Event:
    """One event line of a recording, as it went over the wire.

    `ts` is seconds since 1970 (None in bare event files, which carry no times);
    `direction` is "client" or "server" (None when the file does not say). Base64 audio
    in `event` is replaced by "" and its decoded size is `audio_bytes`."""

    line: int
    ts: float | None
    direction: str | None
    type: str | None
    event: Any
    audio_bytes: int | None = None


def connect(db: PathLike) -> duckdb.DuckDBPyConnection:
    """Open a database made by `rtlens ingest`, read-only, with the rtlens views.

    Raises `rtlens.InputError` (one line naming the file) if it is missing, locked, not an
    rtlens database, or of another schema version."""
    from rtlens.analysis.load import open_database

    return open_database(db)


def load(paths: Sequence[PathLike], db: PathLike | None = None) -> duckdb.DuckDBPyConnection:
    """Ingest recordings (files, folders, globs) and return a connection to the result.

    Without `db` the database lives in memory (writable, gone when closed); with `db` the
    recordings are added to that file, as `rtlens ingest PATHS --db DB` does, and it is
    opened read-only. Lines that cannot be used land in the `ingest_errors` table."""
    from rtlens.analysis.load import ingest_in_memory

    if db is None:
        con, _ = ingest_in_memory(list(paths))
        return con
    from rtlens.ingest.pipeline import ingest

    ingest(list(paths), db)
    return connect(db)


def report(
    paths: Sequence[PathLike] = (),
    db: PathLike | None = None,
    *,
    v2v_threshold_ms: float | None = None,
) -> dict[str, Any]:
    """The report as data: exactly the object `rtlens report --json` prints.

    Give recordings (ingested in memory), or `db` (all its sessions, or those of `paths`)."""
    from rtlens.analysis.summary import DEFAULT_V2V_THRESHOLD_MS
    from rtlens.report.build import as_json_data, build

    threshold = DEFAULT_V2V_THRESHOLD_MS if v2v_threshold_ms is None else v2v_threshold_ms
    result = build(list(paths), db, v2v_threshold_ms=threshold)
    try:
        return as_json_data(result.summary)
    finally:
        result.con.close()


def events(recording: PathLike, *, skip_bad_lines: bool = False) -> Iterator[Event]:
    """Yield a recording's events in file order, streaming (any SPEC §1 input, `.gz` too).

    A line that cannot be read raises `rtlens.InputError` naming the file and line, unless
    `skip_bad_lines`. Non-JSON and binary frames, the header and the close line are not
    events and are not yielded (the `events` table holds the same rows)."""
    from rtlens.logfile.reader import ERROR, EVENT, InputError, read_records

    for kind, line, ts_us, direction, payload, audio_bytes in read_records(recording):
        if kind == EVENT:
            event_type = payload.get("type") if isinstance(payload, dict) else None
            yield Event(
                line,
                None if ts_us is None else ts_us / 1e6,
                direction,
                event_type if isinstance(event_type, str) else None,
                payload,
                audio_bytes,
            )
        elif kind == ERROR and not skip_bad_lines:
            raise InputError(f"{recording}:{line}: {payload}")


def write_wav(
    recording: PathLike,
    out: PathLike,
    *,
    mode: Mode = "heard",
    turn: int | None = None,
    rate: int = 24000,
) -> AudioRender:
    """Write a recording's conversation to `out` as a 16-bit stereo WAV (user left, agent
    right) on the session's real timeline, as `rtlens audio` does; say where each reply,
    user span and cut lies in it.

    `mode="generated"` keeps the audio the listener never heard; `turn` (1-based) writes
    that turn only. Raises `rtlens.NoAudioError` when there is nothing to write."""
    from rtlens.audio import render_wav

    return render_wav(recording, out, mode=mode, turn=turn, rate=rate)


def format_table(columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> str:
    """Rows as the aligned text table `rtlens query` prints."""
    from rtlens.analysis.query import as_table

    return as_table(list(columns), list(rows))

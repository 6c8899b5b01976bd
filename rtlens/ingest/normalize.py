"""One pass over one session's records: every line becomes an `events` row, and the event's
handler (looked up by canonical name) updates the state that `finalize` turns into the
other tables.

Nothing here can raise on bad input: envelope problems arrive as ERROR records from the
reader, field problems are reported by `fields`, and a handler that still fails on a
pathological event costs that event's derived rows only (noted in `ingest_errors`); the
event itself is always kept in `events`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from rtlens.catalogue import BY_WIRE, DIALECT_OF_WIRE
from rtlens.ingest.finalize import finalize
from rtlens.ingest.handlers import HANDLERS
from rtlens.ingest.state import SessionState
from rtlens.logfile.reader import BINARY, CLOSE, ERROR, EVENT, HEADER, TEXT, Record, read_records
from rtlens.schema import TABLE_NAMES

EVENTS_CHUNK_ROWS = 20_000

# (direction, wire type) -> (canonical name, dialect it proves or None, handler or None):
# the hot loop does one dict lookup per line.
ROUTES: dict[tuple[str, str], tuple[str | None, str | None, Any]] = {
    key: (spec.canonical, DIALECT_OF_WIRE.get(key), HANDLERS.get(spec.canonical))
    for key, spec in BY_WIRE.items()
}

# sink(table, rows): receives rows (tuples in schema column order) as they are ready.
Sink = Callable[[str, list[tuple[Any, ...]]], None]


@dataclass
class SessionTables:
    """The normalized rows of one session, table by table (schema column order)."""

    session_id: str
    source_file: str
    rows: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)
    n_ingest_errors: int = 0


def derived_session_id(source_file: str) -> str:
    """Session id for files without an rtlens header: stable for a given path."""
    return "file-" + hashlib.sha1(source_file.encode()).hexdigest()[:20]


def normalize_file(
    path: str | Path,
    *,
    sink: Sink | None = None,
    on_start: Callable[[str], None] | None = None,
    chunk_rows: int = EVENTS_CHUNK_ROWS,
) -> SessionTables:
    """Normalize one recording. With `sink`, `events` rows are streamed out in chunks;
    `on_start(session_id)` is called before the first chunk."""
    source_file = str(Path(path).resolve())
    return normalize_records(
        read_records(path), source_file, sink=sink, on_start=on_start, chunk_rows=chunk_rows
    )


def normalize_records(
    records: Iterable[Record],
    source_file: str,
    *,
    sink: Sink | None = None,
    on_start: Callable[[str], None] | None = None,
    chunk_rows: int = EVENTS_CHUNK_ROWS,
) -> SessionTables:
    it = iter(records)
    first = next(it, None)
    session_id = derived_session_id(source_file)
    header: dict[str, Any] = {}
    if first is not None and first[0] == HEADER:
        header = first[4]
        if isinstance(header.get("session_id"), str) and header["session_id"]:
            session_id = header["session_id"]
        first = None
    st = SessionState(session_id, source_file)
    st.header = header
    if on_start is not None:
        on_start(session_id)
    stream: Iterator[Record] = it if first is None else _chain(first, it)
    events = _run(st, stream, sink, chunk_rows)
    if not header and st.n_events == 0 and st.close is None:
        return _without_session(st)
    tables = finalize(st)
    if sink is not None:
        if events:
            sink("events", events)
    else:
        tables["events"] = events
    return SessionTables(session_id, source_file, tables, len(tables["ingest_errors"]))


def _without_session(st: SessionState) -> SessionTables:
    """A file with no header and no event lines is not a session: only its errors count."""
    errors = [
        (st.session_id, st.source_file, e["line_no"], e["error"], e["raw"])
        for e in st.ingest_errors
    ] or [(st.session_id, st.source_file, None, "empty file: no events", None)]
    tables: dict[str, list[tuple[Any, ...]]] = {name: [] for name in TABLE_NAMES}
    tables["ingest_errors"] = errors
    return SessionTables(st.session_id, st.source_file, tables, len(errors))


def _chain(first: Record, rest: Iterator[Record]) -> Iterator[Record]:
    yield first
    yield from rest


def _run(
    st: SessionState, records: Iterator[Record], sink: Sink | None, chunk_rows: int
) -> list[tuple[Any, ...]]:
    """The hot loop. Returns the event rows not yet handed to `sink`."""
    rows: list[tuple[Any, ...]] = []
    append = rows.append
    dumps = orjson.dumps
    routes = ROUTES
    votes = st.votes
    session_id = st.session_id
    client_types = st.client_types
    seq = -1
    first_us: int | None = None
    last_us: int | None = None
    for kind, line_no, ts_us, direction, payload, audio in records:
        if ts_us is not None:
            if first_us is None:
                first_us = st.first_ts_us = ts_us
            last_us = ts_us
            t_ms: float | None = (ts_us - first_us) / 1000
        else:
            t_ms = None
        if kind == EVENT:
            seq += 1
            event = payload
            wire_type = event.get("type") if type(event) is dict else None
            route = routes.get((direction, wire_type)) if type(wire_type) is str else None  # type: ignore[arg-type]
            canonical: str | None
            if route is not None:
                canonical, vote, handler = route
                if vote is not None:
                    votes[vote] += 1
            else:
                if type(wire_type) is not str:
                    wire_type = None
                canonical = handler = None
                st.n_unknown += 1
            raw = dumps(event).decode()
            if type(event) is dict:
                event_id = event.get("event_id")
                response_id = event.get("response_id")
                item_id = event.get("item_id")
                if response_id is None:
                    body = event.get("response")
                    if type(body) is dict:
                        response_id = body.get("id")
                if item_id is None:
                    item = event.get("item")
                    if type(item) is dict:
                        item_id = item.get("id")
                if type(event_id) is not str:
                    event_id = None
                if type(response_id) is not str:
                    response_id = None
                if type(item_id) is not str:
                    item_id = None
                if direction == "client" and event_id is not None and wire_type is not None:
                    client_types[event_id] = wire_type
            else:
                event_id = response_id = item_id = None
            append(
                (
                    session_id,
                    seq,
                    line_no,
                    ts_us,
                    t_ms,
                    direction,
                    wire_type,
                    canonical,
                    route is not None,
                    event_id,
                    response_id,
                    item_id,
                    audio,
                    raw,
                )
            )
            if handler is not None:
                st.seq, st.line_no, st.current_raw, st.current_ts_us = seq, line_no, raw, ts_us
                try:
                    handler(st, t_ms, event, audio)
                except Exception as exc:
                    st.ingest_errors.append(
                        {
                            "line_no": line_no,
                            "error": f"{wire_type}: could not interpret the event "
                            f"({type(exc).__name__}: {exc})",
                            "raw": raw,
                        }
                    )
            if sink is not None and len(rows) >= chunk_rows:
                sink("events", rows)
                rows = []
                append = rows.append
        elif kind == ERROR:
            st.ingest_errors.append({"line_no": line_no, "error": payload, "raw": audio})
        elif kind in (TEXT, BINARY):
            seq += 1
            raw = dumps(payload).decode()
            if direction == "client":
                st.last_bad_frame = "(non-JSON text frame)" if kind == TEXT else "(binary frame)"
            st.n_unknown += 1
            append(
                (
                    session_id,
                    seq,
                    line_no,
                    ts_us,
                    t_ms,
                    direction,
                    None,
                    None,
                    False,
                    None,
                    None,
                    None,
                    None,
                    raw,
                )
            )
        elif kind == CLOSE:
            st.close = payload
        elif kind == HEADER:  # a second header: the reader reports it; nothing to do here
            pass
    st.n_events = seq + 1
    st.last_ts_us = last_us
    return rows

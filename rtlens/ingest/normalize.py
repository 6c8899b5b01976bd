"""One pass over one session's records: every line becomes an event line (see
`rtlens.eventlines`, from which the database derives the `events` row), and the event's
handler (looked up by canonical name) updates the state that `finalize` turns into the
other tables.

Nothing here can raise on bad input: envelope problems arrive as ERROR records from the
reader, field problems are reported by `fields`, and a handler that still fails on a
pathological event costs that event's derived rows only (noted in `ingest_errors`); the
event itself is always kept in `events`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson

from rtlens.catalogue import BY_WIRE, DIALECT_OF_WIRE
from rtlens.eventlines import (
    DIRECTION_FIELD,
    LINE_FORMAT,
    MAX_LINE_RAW,
    NO_IDS,
    NO_IDS_FIELDS,
    ROUTE_OF,
    event_ids,
    ids_fields,
    line_format_for,
)
from rtlens.ingest.finalize import finalize
from rtlens.ingest.handlers import HANDLERS
from rtlens.ingest.results import EventTuple, SessionTables
from rtlens.ingest.state import BINARY_FRAME, TEXT_FRAME, TYPELESS_EVENT, SessionState
from rtlens.logfile.reader import (
    APPEND,
    APPEND_RAW_PARTS,
    APPENDS,
    BINARY,
    C_APPENDS,
    CLOSE,
    ERROR,
    EVENT,
    HEADER,
    MAX_LINE_BYTES,
    TEXT,
    Record,
    read_records,
)
from rtlens.logfile.redact import contains_key, scrub_keys
from rtlens.schema import TABLE_NAMES

EVENTS_CHUNK_ROWS = 8_192  # event lines handed to the sink at a time
LONG_CHUNK_BYTES = 4 << 20  # ... or this many bytes of events too long for a line

# (direction, wire type) -> (route number, dialect it proves or None, handler or None):
# the hot loop does one dict lookup per line.
ROUTES: dict[tuple[str, str], tuple[int, str | None, Any]] = {
    key: (ROUTE_OF[key], DIALECT_OF_WIRE.get(key), HANDLERS.get(spec.canonical))
    for key, spec in BY_WIRE.items()
}

# User audio appends arrive from the reader as APPEND records (raw JSON made, no dict). The
# catalogue's route for them is done inline: they prove no dialect, and their handler
# (`turns.append`) only counts their audio (tests/test_eventlines.py checks both).
_APPEND_KEY = ("client", "input_audio_buffer.append")
APPEND_LINE_FORMAT = line_format_for(*_APPEND_KEY)
# ... and, where the C reader is built, as APPENDS records (runs of them) written out in C:
# `APPEND_LINES(out, run, ...)` fills APPEND_LINE_FORMAT's values in between its 9 pieces.
APPEND_LINE_PIECES = tuple(re.split(rb"%[dab]", APPEND_LINE_FORMAT))
APPEND_LINES = C_APPENDS.lines if C_APPENDS is not None else None

# sink(lines, tuples): receives the events as they are ready (see `rtlens.eventlines`).
Sink = Callable[[list[bytes], list[EventTuple]], None]


def derived_session_id(source_file: str) -> str:
    """Session id for files without an rtlens header: stable for a given path."""
    import hashlib  # here: loading OpenSSL costs each worker ~10 ms, and recordings need none

    return "file-" + hashlib.sha1(source_file.encode()).hexdigest()[:20]


def normalize_file(
    path: str | Path,
    *,
    sink: Sink | None = None,
    on_start: Callable[[str], None] | None = None,
    chunk_rows: int = EVENTS_CHUNK_ROWS,
    file_index: int = 0,
    max_line: int = MAX_LINE_BYTES,
) -> SessionTables:
    """Normalize one recording. With `sink`, its events are streamed out in chunks of event
    lines tagged with `file_index`; `on_start(session_id)` is called before the first chunk.
    Without a sink, `rows["events"]` holds the derived `events` rows too (this needs DuckDB:
    it is for tests and small jobs, the pipeline always uses a sink)."""
    source_file = str(Path(path).resolve())
    return normalize_records(
        read_records(path, appends=True, runs=APPEND_LINES is not None, max_line=max_line),
        source_file,
        sink=sink,
        on_start=on_start,
        chunk_rows=chunk_rows,
        file_index=file_index,
    )


def normalize_records(
    records: Iterable[Record],
    source_file: str,
    *,
    sink: Sink | None = None,
    on_start: Callable[[str], None] | None = None,
    chunk_rows: int = EVENTS_CHUNK_ROWS,
    file_index: int = 0,
) -> SessionTables:
    it = iter(records)
    st, first = open_state(next(it, None), source_file)
    if on_start is not None:
        on_start(st.session_id)
    stream: Iterator[Record] = it if first is None else _chain(first, it)
    lines, tuples = run_records(st, stream, sink, chunk_rows, file_index)
    result = session_tables(st)
    if not _is_session(st):
        return result
    tables = result.rows
    session_id = st.session_id
    if sink is not None:
        if lines or tuples:
            sink(lines, tuples)
    else:
        from rtlens.store.db import derive_events

        tables["events"] = derive_events(lines, tuples, {file_index: session_id})
    return result


def open_state(first: Record | None, source_file: str) -> tuple[SessionState, Record | None]:
    """The state for a session whose first record is `first` (its header, when it has
    one: then it is used up and None is returned in its place)."""
    session_id = None
    header: dict[str, Any] = {}
    if first is not None and first[0] == HEADER:
        header = first[4]
        if isinstance(header.get("session_id"), str) and header["session_id"]:
            session_id = header["session_id"]
        first = None
    st = SessionState(session_id or derived_session_id(source_file), source_file)
    st.header = header
    return st, first


def session_tables(st: SessionState) -> SessionTables:
    """The rows of the session as far as `st` has read it (all of it, for ingest; so far,
    for the live relay: `rtlens.ingest.live`). Reads `st`, never changes what a later
    call would give."""
    if not _is_session(st):
        return _without_session(st)
    tables = finalize(st)
    return SessionTables(
        st.session_id, st.source_file, tables, len(tables["ingest_errors"]), st.n_events
    )


def _is_session(st: SessionState) -> bool:
    return bool(st.header) or st.n_events > 0 or st.close is not None


def _without_session(st: SessionState) -> SessionTables:
    """A file with no header and no event lines is not a session: only its errors count."""
    errors = [
        (st.session_id, st.source_file, e["line_no"], e["error"], e["raw"])
        for e in st.ingest_errors
    ] or [(st.session_id, st.source_file, None, "empty file: no events", None)]
    tables: dict[str, list[tuple[Any, ...]]] = {name: [] for name in TABLE_NAMES}
    tables["ingest_errors"] = errors
    return SessionTables(st.session_id, st.source_file, tables, len(errors))


# orjson reads JSON nested up to 1,024 levels deep but writes only 254 (the API never nests
# that deep): such an event cannot be stored, and is reported with its line.
MAX_WRITTEN_DEPTH = 254


def too_deep(line_no: int) -> dict[str, Any]:
    """The `ingest_errors` entry of an event nested too deeply to store."""
    return {
        "line_no": line_no,
        "error": f"event nested more than {MAX_WRITTEN_DEPTH} levels deep: cannot be stored",
        "raw": None,
    }


def _chain(first: Record, rest: Iterator[Record]) -> Iterator[Record]:
    yield first
    yield from rest


def run_records(
    st: SessionState,
    records: Iterator[Record],
    sink: Sink | None,
    chunk_rows: int,
    file_index: int,
) -> tuple[list[bytes], list[EventTuple]]:
    """The hot loop (once per line of every recording: keep it lean). Returns the event
    lines (and tuples) not yet handed to `sink`.

    It resumes where `st` left off (its event count and first and last timestamps), so a
    live session can be fed its records a batch at a time: the same state results as from
    one call over all of them."""
    lines: list[bytes] = []
    add = lines.append
    tuples: list[EventTuple] = []
    line_format = LINE_FORMAT
    direction_field = DIRECTION_FIELD
    max_raw = MAX_LINE_RAW
    dumps = orjson.dumps
    has_key = contains_key
    routes = ROUTES
    votes = st.votes
    client_types = st.client_types
    append_format = APPEND_LINE_FORMAT
    append_lines: Any = APPEND_LINES  # called only for APPENDS records: never None then
    pieces = APPEND_LINE_PIECES
    append_type = _APPEND_KEY[1]
    input_audio_bytes = 0  # of APPEND records (what `turns.append` counts for EVENT ones)
    seq = st.n_events - 1
    long_bytes = 0  # JSON in `tuples`
    long_chunk_bytes = LONG_CHUNK_BYTES
    first_us: int | None = st.first_ts_us
    last_us: int | None = st.last_ts_us
    t_us: int | None = None
    for kind, line_no, ts_us, direction, event, audio in records:
        if ts_us is not None:
            if first_us is None:
                first_us = st.first_ts_us = ts_us
            last_us = ts_us
            t_us = ts_us - first_us
        else:
            t_us = None
        if kind == APPEND:  # 78% of lines (direction holds the event id as bytes; see the reader)
            seq += 1
            if direction is None:
                id_field = b"None"
            else:
                id_field = direction
                client_types[id_field.decode()] = append_type
            add(append_format % (file_index, seq, line_no, ts_us, t_us, audio, id_field, event))
            input_audio_bytes += audio
        elif kind == APPENDS:  # a run of APPEND records, read (and written out) in C
            stamps = event[1]
            last_us = stamps[-1]
            append_lines(
                lines,
                event,
                line_no,
                file_index,
                seq + 1,
                first_us,
                pieces,
                APPEND_RAW_PARTS,
                client_types,
                append_type,
            )
            seq += len(stamps)
            input_audio_bytes += audio
        elif kind == EVENT:
            try:
                raw = dumps(event)
            except TypeError:  # nested deeper than orjson writes: this line only is lost
                st.ingest_errors.append(too_deep(line_no))
                continue
            if has_key(raw):  # an escaped key (`sk\\u002d…`) is plain once re-encoded
                raw = scrub_keys(raw)
                # and the tables built from the parsed event (instructions, transcripts,
                # arguments) must not hold it either
                event = orjson.loads(raw)
            seq += 1
            route = handler = wire_type = None
            if type(event) is dict:
                wire_type = event.get("type")
                if type(wire_type) is str:
                    route = routes.get((direction, wire_type))
                if direction == "client":
                    event_id = event.get("event_id")
                    if type(event_id) is str and type(wire_type) is str:
                        client_types[event_id] = wire_type
            if direction == "client" and type(wire_type) is not str:  # invalid_event answers
                event_id = event.get("event_id") if type(event) is dict else None
                if type(event_id) is str:
                    client_types[event_id] = TYPELESS_EVENT  # the error will name it
                else:
                    st.note_bad_frame(TYPELESS_EVENT)
            if route is None:
                number = None
                st.n_unknown += 1
            else:
                number, vote, handler = route
                if vote is not None:
                    votes[vote] += 1
            ids = event_ids(event, number is not None)
            fields = ids_fields(ids)
            if fields is not None and len(raw) + len(fields) <= max_raw:
                add(
                    line_format
                    % (
                        file_index,
                        seq,
                        line_no,
                        ts_us,
                        t_us,
                        direction_field[direction],
                        number,
                        audio,
                        fields,
                        raw,
                    )
                )
            else:
                if long_bytes and long_bytes + len(raw) > long_chunk_bytes and sink is not None:
                    sink(lines, tuples)  # so that a batch holds at most one line's worth more
                    lines, tuples, long_bytes = [], [], 0
                    add = lines.append
                tuples.append(
                    (
                        file_index,
                        seq,
                        line_no,
                        ts_us,
                        t_us,
                        direction,
                        number,
                        audio,
                        *ids,
                        raw.decode(),
                    )
                )
                long_bytes += len(raw)
            if handler is not None:
                st.seq, st.line_no, st.current_raw, st.current_ts_us = seq, line_no, raw, ts_us
                if input_audio_bytes:  # before a format change can apply to it
                    st.input_audio_bytes += input_audio_bytes
                    input_audio_bytes = 0
                try:
                    handler(st, None if t_us is None else t_us / 1000, event, audio)
                except Exception as exc:
                    st.ingest_errors.append(
                        {
                            "line_no": line_no,
                            "error": f"{wire_type}: could not interpret the event "
                            f"({type(exc).__name__}: {exc})",
                            "raw": raw.decode(),
                        }
                    )
        elif kind == ERROR:
            st.ingest_errors.append({"line_no": line_no, "error": event, "raw": audio})
        elif kind in (TEXT, BINARY):
            seq += 1
            raw = dumps(event)
            if has_key(raw):
                raw = scrub_keys(raw)
            if direction == "client":
                st.note_bad_frame(TEXT_FRAME if kind == TEXT else BINARY_FRAME)
            st.n_unknown += 1
            head = (file_index, seq, line_no, ts_us, t_us)
            if len(raw) <= max_raw:
                add(
                    line_format
                    % (*head, direction_field[direction], None, None, NO_IDS_FIELDS, raw)
                )
            else:
                tuples.append((*head, direction, None, None, *NO_IDS, raw.decode()))
                long_bytes += len(raw)
        elif kind == CLOSE:
            st.close = event
        elif kind == HEADER:  # a second header: the reader reports it; nothing to do here
            pass
        if sink is not None and (len(lines) >= chunk_rows or long_bytes > long_chunk_bytes):
            sink(lines, tuples)
            lines, tuples, long_bytes = [], [], 0
            add = lines.append
    st.n_events = seq + 1
    st.last_ts_us = last_us
    st.input_audio_bytes += input_audio_bytes
    return lines, tuples

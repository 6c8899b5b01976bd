"""How `events` rows travel from the normalizer to the database: the one definition.

Ingest's cost is per line, and nearly every line is an audio event, so the normalizer does
only what needs Python for each one: where the line is, when it was seen, which way it went,
how much audio it carried, its ids, and the event's JSON with the audio cut out. It writes
that as one short text line (an "event line"); DuckDB reads the lines with its own parallel
CSV reader and derives the rest of the `events` row in SQL (`type` and `canonical_type` from
the catalogue entry), so no Python object is made per value. The ids are taken here, in the
workers, rather than by DuckDB from the JSON: the writer is the busier side.

An event line is these fields, separated by the byte 0x1F, with `None` for NULL:

    file_index  seq  line_no  ts_us  t_us  direction  route  audio_bytes
    type  event_id  response_id  item_id  raw

`route` numbers the catalogue entry the normalizer looked up for the event (`ROUTE_OF`);
`type` is given only for events the catalogue does not know; the four text fields are
`event_ids`. `raw` is the event's JSON as orjson writes it. 0x1F and newlines cannot occur
inside it: JSON text has no raw control characters (orjson escapes them in strings and
writes no whitespace). Events whose JSON is longer than `MAX_LINE_RAW`, or with an id that
cannot travel in a line (control characters, or the text `None`), travel as tuples instead
(`rows_relation`), in batches bounded by size.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from rtlens.catalogue import BY_WIRE

# %a renders an int as its digits and None as `None`; the text fields (`ids_fields`) and
# raw (bytes) go in with %b.
LINE_FORMAT = b"%d\x1f%d\x1f%d\x1f%a\x1f%a\x1f%b\x1f%a\x1f%a\x1f%b\x1f%b\n"
DIRECTION_FIELD = {"client": b"client", "server": b"server", None: b"None"}

# Longer JSON goes as tuples: DuckDB parses 2048 lines at a time, so their size bounds its
# memory (images or long instructions in an event would otherwise need hundreds of MB).
MAX_LINE_RAW = 16 * 1024

COLUMNS: tuple[tuple[str, str], ...] = (
    ("file_index", "INTEGER"),
    ("seq", "BIGINT"),
    ("line_no", "BIGINT"),
    ("ts_us", "BIGINT"),
    ("t_us", "BIGINT"),
    ("direction", "VARCHAR"),
    ("route", "INTEGER"),
    ("audio_bytes", "BIGINT"),
    ("type", "VARCHAR"),
    ("event_id", "VARCHAR"),
    ("response_id", "VARCHAR"),
    ("item_id", "VARCHAR"),
    ("raw", "VARCHAR"),
)
EventIds = tuple[Any, Any, Any, Any]  # type, event_id, response_id, item_id: str or None
NO_IDS: EventIds = (None, None, None, None)
NO_IDS_FIELDS = b"None\x1fNone\x1fNone\x1fNone"


def event_ids(event: Any, known: bool) -> EventIds:
    """The text columns of an event: its `type` (only for an event the catalogue does not
    know: the others get theirs from the route), `event_id`, `response_id` (or
    `response.id`) and `item_id` (or `item.id`). A value that is not a string is kept as its
    JSON text (the API never sends such ids; nothing is lost if one does)."""
    if type(event) is not dict:
        return NO_IDS
    get = event.get
    response_id = get("response_id")
    if response_id is None:
        response = get("response")
        if type(response) is dict:
            response_id = response.get("id")
    item_id = get("item_id")
    if item_id is None:
        item = get("item")
        if type(item) is dict:
            item_id = item.get("id")
    return (
        None if known else json_text(get("type")),
        json_text(get("event_id")),
        json_text(response_id),
        json_text(item_id),
    )


def json_text(value: Any) -> str | None:
    """A value for a text column: strings as they are, anything else as its JSON."""
    if value is None or type(value) is str:
        return value
    return orjson.dumps(value).decode()


def ids_fields(ids: EventIds) -> bytes | None:
    """The four text columns as event-line fields, or None if one cannot travel in a line:
    control characters would break it and the text `None` would read as NULL (isprintable
    is false for every control character)."""
    if ids is NO_IDS:
        return NO_IDS_FIELDS
    out = []
    for value in ids:
        if value is None:
            out.append(b"None")
        elif value == "None" or not value.isprintable():
            return None
        else:
            out.append(value.encode())
    return b"\x1f".join(out)


# (direction, wire type) -> route number, and the canonical name of each route (1-based,
# as DuckDB lists are).
ROUTE_KEYS: tuple[tuple[str, str], ...] = tuple(sorted(BY_WIRE))
ROUTE_OF: dict[tuple[str, str], int] = {key: i for i, key in enumerate(ROUTE_KEYS, 1)}
_CANONICAL = tuple(BY_WIRE[key].canonical for key in ROUTE_KEYS)
_WIRE = tuple(wire for _, wire in ROUTE_KEYS)


def line_format_for(direction: str, wire_type: str) -> bytes:
    """`LINE_FORMAT` for one known event type that has no ids but an event_id: the direction,
    the route and the other text fields are filled in; the values left are file_index, seq,
    line_no, ts_us, t_us, audio_bytes, event_id (bytes that `ids_fields` would accept, or
    b"None") and raw."""
    fields = LINE_FORMAT.split(b"\x1f")
    fields[5] = DIRECTION_FIELD[direction]
    fields[6] = b"%d" % ROUTE_OF[(direction, wire_type)]
    fields[8] = b"None\x1f%b\x1fNone\x1fNone"
    return b"\x1f".join(fields)


def _sql_list(values: Sequence[str]) -> str:
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def select_events(source: str, first_file_index: int) -> str:
    """SQL giving `events` rows, in schema column order, from `source` (a relation with the
    event-line COLUMNS). Its parameters: the session ids of files `first_file_index`,
    `first_file_index + 1`, ... (NULL for a file whose rows are left out), the catalogue's
    wire and canonical names (`catalogue_params`), then any of `source`'s.

    Sessions are looked up by position in a list rather than joined: the list covers only
    the files an insert holds, so the cost per insert does not grow with the run, and
    DuckDB binds two list parameters faster than the catalogue's literals and a join."""
    offset = 1 - first_file_index
    return f"""
    SELECT * FROM (
        SELECT (?::VARCHAR[])[e.file_index + {offset}] AS session_id, e.seq, e.line_no,
               make_timestamptz(e.ts_us) AS ts,
               e.t_us / 1000.0 AS t_ms,
               e.direction,
               CASE WHEN e.route IS NULL THEN e.type ELSE (?::VARCHAR[])[e.route] END AS type,
               (?::VARCHAR[])[e.route] AS canonical_type,
               e.route IS NOT NULL AS known,
               e.event_id,
               e.response_id,
               e.item_id,
               e.audio_bytes,
               CAST(e.raw AS JSON) AS raw
        FROM {source} e
    )
    WHERE session_id IS NOT NULL
    """


def catalogue_params() -> list[list[str]]:
    """The wire and canonical names by route, as `select_events` takes them."""
    return [list(_WIRE), list(_CANONICAL)]


_MAX_LINE = MAX_LINE_RAW + 256  # the raw JSON and the fields before it
_BUFFER = 1 << 20


def read_files_sql(paths: Sequence[Path]) -> str:
    """A relation over event-line files, read by DuckDB's parallel CSV reader."""
    columns = "{" + ", ".join(f"'{name}': '{kind}'" for name, kind in COLUMNS) + "}"
    files = _sql_list([str(p) for p in paths])
    return (
        f"read_csv({files}, delim = '\x1f', quote = '', escape = '', header = false, "
        f"auto_detect = false, nullstr = 'None', max_line_size = {_MAX_LINE}, "
        f"buffer_size = {_BUFFER}, columns = {columns})"
    )


def rows_relation() -> str:
    """A relation over event-line tuples passed as one list parameter per column."""
    return "(SELECT " + ", ".join(f"unnest(?::{kind}[]) AS {name}" for name, kind in COLUMNS) + ")"

"""Property tests: mangled input never crashes ingest and never loses a good line."""

from __future__ import annotations

import base64
import tempfile
from pathlib import Path
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rtlens.catalogue import BY_WIRE
from rtlens.ingest.normalize import normalize_file
from rtlens.ingest.pipeline import ingest
from rtlens.schema import TABLES
from rtlens.store.db import connect

WIRE_TYPES = sorted(BY_WIRE)  # (direction, type)
# Audio events as often as all the others: the reader reads them its own way.
AUDIO_WIRE_TYPES = [key for key in WIRE_TYPES if BY_WIRE[key].audio_field]
_STORES: list[Any] = []


def _store() -> Any:
    """One in-memory database for all examples (re-ingesting replaces a file's rows)."""
    if not _STORES:
        _STORES.append(connect(None))
    return _STORES[0]


FIELDS = [
    "response",
    "item",
    "response_id",
    "item_id",
    "usage",
    "audio_end_ms",
    "audio_start_ms",
    "rate_limits",
    "session",
    "error",
    "delta",
    "audio",
    "call_id",
    "arguments",
    "name",
    "transcript",
    "text",
    "status",
    "event_id",
    "output",
    "conversation_id",
]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)  # every integer orjson reads
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from([*FIELDS, "id", "type", "input_tokens"]), children, max_size=4
        )
    ),
    max_leaves=12,
)


# Numbers that are valid JSON but no time or byte count: out of the tables' ranges.
absurd_numbers = st.sampled_from([1e300, -1e300, 2**64 - 1, -(2**63), 1e11, 2**53, -1])


@st.composite
def good_lines(draw):
    direction, wire_type = draw(st.sampled_from(WIRE_TYPES) | st.sampled_from(AUDIO_WIRE_TYPES))
    event = {"type": wire_type}
    event.update(draw(st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=5)))
    audio_field = BY_WIRE[(direction, wire_type)].audio_field
    if audio_field and draw(st.booleans()):  # real base64 audio: the reader's audio paths
        event[audio_field] = base64.b64encode(draw(st.binary(min_size=1, max_size=64))).decode()
    record = {"dir": direction, "event": event}
    if draw(st.booleans()):
        record = {"ts": draw(st.floats(1.7e9, 1.8e9) | absurd_numbers), **record}
    if draw(st.integers(0, 9)) == 0:
        record["audio_bytes"] = draw(st.integers(0, 10**6) | absurd_numbers)
    return orjson.dumps(record)


bad_lines = st.one_of(
    st.binary(min_size=1, max_size=40).map(lambda b: b"{" + b.replace(b"\n", b" ")),
    st.sampled_from(
        [
            b"[1,2]",
            b"42",
            b'"text"',
            b"null",
            b'{"dir": "server"}',
            b'{"ts": "x", "dir": "client", "event": {}}',
            b'{"ts": 1, "dir": 5}',
        ]
    ),
)


def _is_bad(line: bytes) -> bool:
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return True
    if not isinstance(obj, dict):
        return True
    if "dir" in obj:
        ts, audio_bytes = obj.get("ts", 0), obj.get("audio_bytes", 0)
        return (
            obj.get("dir") not in ("client", "server")
            or not isinstance(ts, (int, float))
            or not abs(ts) < 1e11
            or not (type(audio_bytes) is int and 0 <= audio_bytes < 2**53)
            or "event" not in obj
        )
    return not isinstance(obj.get("type"), str)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.booleans(), good_lines(), bad_lines), min_size=1, max_size=25))
def test_mangled_input_never_crashes_and_keeps_every_good_line(picks):
    lines = [good if keep_good else bad for keep_good, good, bad in picks]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "mangled.jsonl"
        path.write_bytes(b"\n".join(lines) + b"\n")
        result = normalize_file(path)
        stored = ingest([path], con=_store(), workers=0)  # every row fits the real tables
    good_line_nos = [i for i, line in enumerate(lines, 1) if not _is_bad(line)]
    assert stored.events == len(good_line_nos)
    assert stored.ingest_errors == len(result.rows["ingest_errors"])
    bad_line_nos = [i for i, line in enumerate(lines, 1) if _is_bad(line)]
    event_cols = TABLES["events"].column_names
    events = [dict(zip(event_cols, r, strict=True)) for r in result.rows["events"]]
    assert [e["line_no"] for e in events] == good_line_nos
    for e in events:
        sent = orjson.loads(lines[e["line_no"] - 1])
        sent = sent.get("event", sent)
        kept = orjson.loads(e["raw"])
        if isinstance(sent, dict) and sent.get("type") in {t for _, t in WIRE_TYPES}:
            for key in ("audio", "delta"):  # audio payloads are the only thing replaced
                if isinstance(sent.get(key), str) and kept.get(key) == "":
                    sent[key] = ""
        assert kept == sent
    errors = result.rows["ingest_errors"]
    err_lines = {r[2] for r in errors}
    assert set(bad_line_nos) <= err_lines
    assert not [r for r in errors if "could not interpret" in r[3]], errors


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_byte_level_mangling_of_a_real_session(data):
    from builders import Session, b64, ga_session, usage

    s = Session()
    s.server(0, "session.created", session=ga_session())
    s.server(100, "input_audio_buffer.speech_started", audio_start_ms=0, item_id="u")
    s.server(900, "input_audio_buffer.speech_stopped", audio_end_ms=800, item_id="u")
    s.server(950, "input_audio_buffer.committed", item_id="u")
    s.server(1000, "response.created", response={"id": "r", "conversation_id": "c"})
    s.server(1200, "response.output_audio.delta", response_id="r", item_id="i", delta=b64(4800))
    s.server(
        1300,
        "response.done",
        response={"id": "r", "status": "completed", "usage": usage(10, 10, 5, 5)},
    )
    s.server(
        1400,
        "rate_limits.updated",
        rate_limits=[{"name": "tokens", "limit": 100, "remaining": 50, "reset_seconds": 1}],
    )
    lines = list(s.lines)
    mangled_at = set()
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(1, len(lines) - 1))
        line = lines[i]
        cut = data.draw(st.integers(0, len(line) - 1))
        garbage = data.draw(st.binary(max_size=5)).replace(b"\n", b"")
        lines[i] = line[:cut] + garbage + line[cut + 1 :]
        mangled_at.add(i + 1)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.jsonl"
        path.write_bytes(b"\n".join(lines) + b"\n")
        result = normalize_file(path)
    kept = {r[2] for r in result.rows["events"]}
    untouched = set(range(2, len(lines) + 1)) - mangled_at
    assert untouched <= kept
    assert not [r for r in result.rows["ingest_errors"] if "could not interpret" in r[3]]

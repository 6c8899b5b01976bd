"""Read any SPEC §1 input as a stream of records, one per line, never loading the whole file.

Inputs: rtlens JSONL (header, frame lines, close line), bare event JSONL (one event object
with a `type` per line), a JSON array of events, and `.gz` versions of all of these. A line
that cannot be used becomes an `ERROR` record carrying its line number and text; reading
goes on with the next line.

Records are plain tuples for speed (this loop runs once per frame of every recording):

    (kind, line_no, ts_us, direction, payload, audio_bytes)

- HEADER: payload is the header dict.
- EVENT:  payload is the event (usually a dict) with base64 audio replaced by "";
          audio_bytes is the decoded length of that audio, else None.
- TEXT / BINARY: a non-JSON text frame or a binary frame; payload is {"text": …} or
          {"binary": …} (cut to `MAX_RAW_CHARS`).
- CLOSE:  payload is the close dict {"by", "code", "reason"}.
- ERROR:  payload is the error sentence; audio_bytes holds the offending line's text.
- APPEND: only with `read_records(..., appends=True)` (the normalizer's fast path): a
          client `input_audio_buffer.append` frame line of the usual shape. The direction
          slot holds the event's `event_id` as bytes (or None; never the text `None`, and
          only characters that need no escaping), and payload is the event's JSON with
          the audio cut out, exactly as `orjson.dumps` writes the parsed event; no dict is
          made. Without `appends`, such lines are EVENT records like any other.
- APPENDS: only with `runs=True` as well, and the C reader built (`C_APPENDS`): a run of
          consecutive APPEND lines in one record, read in C. line_no and ts_us are the
          first's, audio_bytes the sum; payload is the run as `C_APPENDS.scan` returns
          it, which `expand_run` turns back into the APPEND records it stands for.

The C reader (`_appends.c`, built at install where a compiler is found; `RTLENS_PURE_PYTHON=1`
turns it off) recognises exactly the appends `_APPEND_HEAD`, `_APPEND_TAIL` and
`_append_line` accept, and refuses the others back to this module.

Audio lines take a fast path: the base64 payload is located with a byte search, measured and
cut out before the rest of the line is parsed, so audio is never decoded or even parsed.
User audio appends (most lines of any recording) take a faster one still: a line of their
usual shape is recognised by one regular expression (which checks all of it but the audio)
and not parsed at all. Both read what the JSON parser reads, with one difference kept for
speed: inside the audio they look only for `"` and `\\`, so a control character or invalid
UTF-8 there goes unseen (the line loads, audio cut out) where parsing would refuse the line.
"""

from __future__ import annotations

import gzip
import io
import os
import re
from collections.abc import Iterator
from itertools import chain
from pathlib import Path
from typing import IO, Any

import orjson

from rtlens.catalogue import BY_WIRE
from rtlens.errors import InputError as InputError  # where it was defined before
from rtlens.logfile import imports
from rtlens.logfile.format import check_version
from rtlens.logfile.jsonarray import BLANK, BROKEN, Stream, split_array
from rtlens.logfile.redact import AUDIO_CARRIERS, strip_audio

HEADER, EVENT, TEXT, BINARY, CLOSE, ERROR = "header", "event", "text", "binary", "close", "error"
APPEND = "append"
APPENDS = "appends"
MAX_RAW_CHARS = 64 * 1024

# (the direction slot is str or None, except in APPEND records: see the module docstring)
Record = tuple[str, int, int | None, Any, Any, Any]

_loads = orjson.loads
_JSONDecodeError = orjson.JSONDecodeError
# A tuple, not a set: `dir` may be any JSON value, and lists and objects cannot be hashed.
_DIRECTIONS = ("client", "server")
# Timestamps beyond this many seconds from 1970 (the year 5138) are refused with the line:
# they are not times a recorder writes, and µs that large no longer fit the tables' integers.
MAX_ABS_TS = 1e11
# Integers a line or an event may carry into an integer column (JSON parsers agree on those;
# larger ones would not fit, or would overflow when summed, and stop the whole run).
MAX_ABS_INT = 2**53
# The longest line read by default (ingest sets its own from DuckDB's memory cap): a line is
# held whole while it is parsed, and its event more than once after that.
MAX_LINE_BYTES = 16_000_000


class GzipInput:
    """A gzip file whose `read(n)` returns n bytes (fewer only at the end) and keeps what it
    decompressed before the data broke off.

    `GzipFile.read` and `io.BufferedReader.read` gather a block from several inner reads and
    drop what they hold when one of them raises (a truncated or corrupt file): up to a whole
    block of good lines lost. Here each inner read is a `read1`, and the error is raised by
    the next call, once what came before it has been returned.
    """

    def __init__(self, path: Path) -> None:
        self._gz = gzip.GzipFile(path, "rb")
        self._broken: BaseException | None = None

    def read(self, size: int, /) -> bytes:
        if self._broken is not None:
            raise self._broken
        read1 = self._gz.read1
        parts: list[bytes] = []
        got = 0
        while got < size:
            try:
                part = read1(size - got)
            except BROKEN as exc:
                if not parts:
                    raise
                self._broken = exc
                break
            if not part:
                break
            parts.append(part)
            got += len(part)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def close(self) -> None:
        self._gz.close()

    def __enter__(self) -> GzipInput:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def open_input(path: str | Path) -> IO[bytes] | GzipInput:
    """Open a file for reading bytes, transparently gunzipping `.gz` or gzip-magic files."""
    path = Path(path)
    try:
        raw = path.open("rb")
    except FileNotFoundError as exc:
        raise InputError(f"{path}: no such file") from exc
    except IsADirectoryError as exc:
        raise InputError(f"{path}: is a folder, not a file") from exc
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from exc
    try:
        magic = raw.peek(2)[:2] if isinstance(raw, io.BufferedReader) else b""
    except OSError as exc:  # opened, but not readable (a device, /proc/self/mem, …)
        raw.close()
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    if magic == b"\x1f\x8b":
        raw.close()
        return GzipInput(path)
    return raw


def cut(text: bytes | str) -> str:
    """A line's text for `ingest_errors.raw`, cut to 64 KiB."""
    if isinstance(text, bytes):
        text = text[: MAX_RAW_CHARS * 4].decode("utf-8", "replace")
    return text.rstrip("\r\n")[:MAX_RAW_CHARS]


def read_records(
    path: str | Path,
    *,
    appends: bool = False,
    runs: bool = False,
    max_line: int = MAX_LINE_BYTES,
) -> Iterator[Record]:
    """Yield the records of one input file (see the module docstring; `appends`: give
    user audio appends of the usual shape as APPEND records; `runs`: as APPENDS records
    where the C reader is built).

    A line longer than `max_line` bytes is an ERROR record (it is skipped as it is read,
    never held whole); in a JSON array, such an element ends the file there.

    A file that cannot be opened raises `InputError`; a stream that breaks while reading (a
    truncated or corrupt `.gz`, an I/O error) ends with an ERROR record instead, on the
    first line not read in full.
    """
    max_line = max(max_line, _BLOCK)  # shorter lines are whole within a block: never cut
    with open_input(path) as stream:
        reached = [0]  # the last line number read, kept up to date by the readers
        try:
            head, line_no = _start(stream, reached)
            kind = imports.sniff(head)
            if kind is not None:  # another tool's capture: read as the recording it holds
                data = head + _read_up_to(stream, None)
                stream = io.BytesIO(imports.convert(kind, data, str(path)))
                head, line_no = _start(stream, reached)
            elif len(head) < _BLOCK and _one_json_document(head):
                _refuse_document(head, str(path))
            if head.lstrip(BLANK)[:1] == b"[":
                yield from _read_array(stream, head, line_no, reached, appends, max_line)
            else:
                yield from _read_lines(
                    stream, reached, line_no, head, appends=appends, runs=runs, max_line=max_line
                )
        except BROKEN as exc:
            yield _unreadable(reached[0] + 1, exc)


def read_line_batch(
    data: bytes,
    first_line_no: int,
    *,
    header: bool,
    appends: bool = False,
    runs: bool = False,
    max_line: int = MAX_LINE_BYTES,
) -> Iterator[Record]:
    """The records of `data`, whole lines of an rtlens JSONL recording that start at line
    `first_line_no` (`header`: at the start of the file). The live relay reads its own
    recordings this way as they grow (`rtlens.ingest.live`): the records are those
    `read_records` gives for the same lines of the finished file."""
    return _read_lines(
        io.BytesIO(data),
        [0],
        first_line_no,
        appends=appends,
        header=header,
        runs=runs,
        max_line=max(max_line, _BLOCK),
    )


def _one_json_document(head: bytes) -> bool:
    """A file that opens with `{` on a line that is not JSON by itself: a pretty-printed
    JSON document (a recording has one JSON object per line)."""
    stripped = head.lstrip(BLANK)
    if stripped[:1] != b"{":
        return False
    first = stripped.split(b"\n", 1)[0]
    try:
        orjson.loads(first)
    except orjson.JSONDecodeError:
        return True
    return False


def _refuse_document(head: bytes, name: str) -> None:
    """A small pretty-printed JSON document (all of it in the first block) gets one clear
    error: it is neither events nor a recording. Anything else (a JSONL file whose first
    line is broken, a bigger document) is read line by line as before."""
    try:
        doc = orjson.loads(head)
    except orjson.JSONDecodeError:
        return
    raise imports.not_a_recording(doc, name)


def _read_up_to(stream: Stream, limit: int | None) -> bytes:
    parts, size = [], 0
    while limit is None or size < limit:
        block = stream.read(_BLOCK)
        if not block:
            break
        parts.append(block)
        size += len(block)
    return b"".join(parts)


def _start(stream: Stream, reached: list[int]) -> tuple[bytes, int]:
    """The first block of the stream with content in it, and the line it starts on.

    Its first byte that is not blank tells a JSON array from JSONL, so whole blank lines
    before it are skipped (counted, not kept), however many there are.
    """
    head = stream.read(_BLOCK)
    line_no = 1
    while head and not head.lstrip(BLANK):
        more = stream.read(_BLOCK)
        if not more:
            break
        line_no += head.count(b"\n")
        reached[0] = line_no - 1
        head = head[head.rfind(b"\n") + 1 :] + more
    return head, line_no


def _unreadable(line_no: int, exc: BaseException) -> Record:
    return (ERROR, line_no, None, None, f"unreadable from here on: {exc}", "")


# ---- JSONL -----------------------------------------------------------------------------------

# Bytes read at a time (a line longer than this is gathered across reads). Small enough that
# a block stays in the CPU cache while its lines are searched, parsed and cut.
_BLOCK = 1 << 16
_BOM = b"\xef\xbb\xbf"


def too_long(line_no: int, size: int, max_line: int) -> Record:
    """The ERROR record of a line skipped for its length (it is not kept, even cut)."""
    message = (
        f"line of {size:,} bytes is longer than the {max_line:,} ingest reads "
        "(raise --memory-limit to read it): skipped"
    )
    return (ERROR, line_no, None, None, message, None)


def _read_lines(
    stream: Stream,
    reached: list[int],
    first_line_no: int = 1,
    head: bytes = b"",
    *,
    appends: bool = False,
    header: bool = True,
    runs: bool = False,
    max_line: int = MAX_LINE_BYTES,
) -> Iterator[Record]:
    """Records of a JSONL stream (after `head`, bytes already read from it); `reached[0]` is
    kept at the number of the last complete line read. `header`: the first line with content
    may be the header (not so for lines after a JSON array: the array was the first line).

    The stream is read in blocks and each line is looked at where it lies in its block:
    long audio lines are never copied whole (see `_fast_audio_line`). A line longer than
    `max_line` (at least a block: only lines across blocks are measured) is dropped as it
    is read and reported by its length.
    """
    line_no = first_line_no - 1
    header_pending = header
    pending: list[bytes] = []  # the start of a line that continues in the next block
    pending_size = 0
    skipped = -1  # bytes so far of a line too long to keep, while it is being skipped
    read = stream.read
    scan = C_APPENDS.scan if appends and runs and C_APPENDS is not None else None
    # A line the C reader handed back is one the pattern would refuse too: not tried again.
    append_head = _APPEND_HEAD.match if appends and scan is None else _never
    for block in chain((head,), iter(lambda: read(_BLOCK), b"")):
        end = block.rfind(b"\n")
        if end < 0:
            if skipped >= 0:
                skipped += len(block)
            elif block:
                pending.append(block)
                pending_size += len(block)
                if pending_size > max_line:
                    skipped, pending, pending_size = pending_size, [], 0
            continue
        pos = 0
        if skipped >= 0 or pending_size + block.find(b"\n") > max_line:
            pos = block.find(b"\n") + 1
            line_no += 1
            header_pending = False  # (that was the first line with content)
            yield too_long(line_no, max(skipped, 0) + pending_size + pos - 1, max_line)
            skipped, pending, pending_size = -1, [], 0
        elif pending:  # finish the line that began in an earlier block
            pos = block.find(b"\n") + 1
            pending.append(block[:pos])
            line = b"".join(pending)
            pending, pending_size = [], 0
            line_no += 1
            if header_pending:
                line = line.lstrip(_BOM)
            if line.strip():
                if header_pending:
                    header_pending = False
                    yield from _first_line(line, line_no)
                else:
                    record = _fast_audio_line(line, 0, len(line) - 1, line_no)
                    yield record if record is not None else _parse_line(line, line_no)
        find = block.find
        while pos <= end:
            if scan is not None and not header_pending:
                run = scan(block, pos, end)
                if run is not None:
                    yield (APPENDS, line_no + 1, run[1][0], None, run, run[5])
                    line_no += len(run[1])
                    pos = run[0]
                    if pos > end:
                        break
            nl = find(b"\n", pos)
            line_no += 1
            if header_pending:
                line = block[pos : nl + 1].lstrip(_BOM)
                pos = nl + 1
                if line.strip():
                    header_pending = False
                    yield from _first_line(line, line_no)
                continue
            head_match = append_head(block, pos, nl)
            if head_match is not None:
                record = _append_line(block, head_match, nl, line_no)
                if record is not None:
                    pos = nl + 1
                    yield record
                    continue
            record = _fast_audio_line(block, pos, nl, line_no)
            if record is not None:
                pos = nl + 1
                yield record
                continue
            line = block[pos:nl]
            pos = nl + 1
            if line.strip():
                yield _parse_line(line, line_no)
        if end + 1 < len(block):
            pending.append(block[end + 1 :])
            pending_size = len(block) - end - 1
        reached[0] = line_no
    if skipped >= 0:
        yield too_long(line_no + 1, skipped, max_line)
    elif pending:  # the last line has no newline: the file may end in the middle of it
        line = b"".join(pending)
        line_no += 1
        if header_pending:
            line = line.lstrip(_BOM)
        if line.strip():
            if header_pending:
                yield from _first_line(line, line_no, ended=False)
            else:
                yield _parse_line(line, line_no, ended=False)


def _first_line(line: bytes, line_no: int, ended: bool = True) -> Iterator[Record]:
    """The first line with content: the header, or already the first event."""
    try:
        obj = _loads(line)
    except _JSONDecodeError as exc:
        yield (ERROR, line_no, None, None, _json_error(exc, ended), cut(line))
        return
    if isinstance(obj, dict) and "rtlens" in obj:
        try:
            check_version(obj["rtlens"])
        except ValueError as exc:
            yield (ERROR, line_no, None, None, str(exc), cut(line))
            return
        yield (HEADER, line_no, None, None, obj, None)
        return
    yield _classify(obj, line_no, line, None)


def _parse_line(line: bytes, line_no: int, ended: bool = True) -> Record:
    try:
        obj = _loads(line)
    except _JSONDecodeError as exc:
        return (ERROR, line_no, None, None, _json_error(exc, ended), cut(line))
    return _classify(obj, line_no, line, None)


def _json_error(exc: Exception, ended: bool) -> str:
    if not ended:
        return f"truncated line (no newline at end of file): {exc}"
    return f"invalid JSON: {exc}"


# (direction, wire type) -> the field carrying its base64 audio, for events that have one.
_AUDIO_FIELD: dict[tuple[str, str], str] = {
    key: spec.audio_field for key, spec in BY_WIRE.items() if spec.audio_field
}
# wire type -> (audio field, its search key, its name quoted, the type as str, direction), for
# base64-audio events. Client and server types have different names: were one ever both
# with audio, only the last would take the fast path (the other is read the ordinary way).
_AUDIO_TYPES: dict[bytes, tuple[str, bytes, bytes, str, str]] = {
    name.encode(): (
        spec.audio_field,
        b'"%b":"' % spec.audio_field.encode(),
        b'"%b"' % spec.audio_field.encode(),
        name,
        direction,
    )
    for (direction, name), spec in BY_WIRE.items()
    if spec.audio_field
}


def _never(*_: Any) -> None:
    return None


# A user audio append as rtlens writes it, up to the audio: the envelope, then the event's
# keys before "audio" (compact, or spaced the way Python's json.dumps writes).
_APPEND_TYPE = "input_audio_buffer.append"
_EVENT_ID = rb'(?:"event_id":[ ]?"([\w.:\-]{0,128})",[ ]?)?'
_APPEND_HEAD = re.compile(
    rb'\{"ts":((?:0|[1-9][0-9]{0,8}|[1-3][0-9]{9})\.[0-9]{6}),"dir":"client","event":\{'
    rb'%b"type":[ ]?"%b",[ ]?%b"audio":[ ]?"'
    % (_EVENT_ID, re.escape(_APPEND_TYPE.encode()), _EVENT_ID)
)
# ... and after the audio's closing quote: maybe the event id, then the end of the line.
_APPEND_TAIL = re.compile(rb'"(?:,[ ]?"event_id":[ ]?"([\w.:\-]{0,128})")?\}\}\r?')
# The event's JSON as orjson writes it, by where its event id was (event ids of this shape
# need no escaping).
_APPEND_RAW = {
    0: b'{"type":"%s","audio":""}' % _APPEND_TYPE.encode(),
    1: b'{"event_id":"%%b","type":"%s","audio":""}' % _APPEND_TYPE.encode(),
    2: b'{"type":"%s","event_id":"%%b","audio":""}' % _APPEND_TYPE.encode(),
    3: b'{"type":"%s","audio":"","event_id":"%%b"}' % _APPEND_TYPE.encode(),
}


def _append_line(data: bytes, head: re.Match[bytes], nl: int, line_no: int) -> Record | None:
    """An APPEND record for a line whose start matched `_APPEND_HEAD`, or None if the rest
    of it is not of the usual shape (the caller then reads it the ordinary way).

    The two patterns check every byte of the line but the audio. Of the audio only the
    absence of `"` and `\\` is checked, which is what makes the string end where the search
    says: a control character or invalid UTF-8 inside it goes unseen (the line is read with
    the audio cut out, where the JSON parser would refuse the whole line). Checking every
    byte would cost about a third of the path (~1 µs a line); base64 has no such bytes, and
    the audio is dropped anyway.
    """
    start = head.end()
    end = data.find(b'"', start, nl)
    if end < 0 or data.find(b"\\", start, end) >= 0:
        return None
    if data[end + 1 : nl] == b"}}":  # the usual end, with nothing after the audio
        after = None
    else:
        tail = _APPEND_TAIL.fullmatch(data, end, nl)
        if tail is None:
            return None
        after = tail[1]
    before, between = head.group(2, 3)
    if before is None and between is None and after is None:
        event_id, raw = None, _APPEND_RAW[0]
    elif between is None and after is None:
        event_id, raw = before, _APPEND_RAW[1] % before
    elif before is None and after is None:
        event_id, raw = between, _APPEND_RAW[2] % between
    elif before is None and between is None:
        event_id, raw = after, _APPEND_RAW[3] % after
    else:
        return None  # a repeated key: leave it to the JSON parser
    if event_id == b"None":
        return None  # it would read as NULL in an event line: the ordinary way handles it
    decoded = end - start  # as base64_decoded_len counts, in place (no copy of the audio)
    if data[end - 1] == 0x3D:  # "=" (a lone "=" has the opening quote before it)
        decoded -= 1 + (data[end - 2] == 0x3D)
    decoded = decoded * 3 // 4
    # Exact, and what round(ts * 1e6) of the parsed float gives: with 6 decimals and under
    # 2**32 s, the float's error stays under half a microsecond.
    ts_us = int(head[1].replace(b".", b""))
    return (APPEND, line_no, ts_us, event_id, raw, decoded)


def _compiled_appends() -> Any:
    """The C reader of appends (`_appends.c`), or None: not built, or turned off by
    `RTLENS_PURE_PYTHON`."""
    if os.environ.get("RTLENS_PURE_PYTHON", "0") not in ("", "0"):
        return None
    try:
        from rtlens.logfile import _appends
    except ImportError:
        return None
    return _appends


C_APPENDS = _compiled_appends()
# `_APPEND_RAW` as (before the event id, after it) for the C reader.
APPEND_RAW_PARTS: tuple[tuple[bytes, bytes], ...] = tuple(
    (raw.partition(b"%b")[0], raw.partition(b"%b")[2])
    for raw in (_APPEND_RAW[where] for where in range(4))
)


def expand_run(record: Record) -> list[Record]:
    """The APPEND records an APPENDS record stands for."""
    _, line_no, _, _, run, _ = record
    _, stamps, event_ids, wheres, decoded, _ = run
    out: list[Record] = []
    for i, (ts_us, event_id, where, size) in enumerate(
        zip(stamps, event_ids, wheres, decoded, strict=True)
    ):
        if event_id is None:
            out.append((APPEND, line_no + i, ts_us, None, _APPEND_RAW[0], size))
        else:
            id_bytes = event_id.encode()
            out.append((APPEND, line_no + i, ts_us, id_bytes, _APPEND_RAW[where] % id_bytes, size))
    return out


def _fast_audio_line(data: bytes, pos: int, nl: int, line_no: int) -> Record | None:
    """Cut a long base64 audio payload out of the line `data[pos:nl]` before parsing, or
    return None.

    The line is searched where it lies (no copy of the audio is made) and only what is left
    of it is parsed. Returns None whenever the shortcut does not clearly apply; the caller
    then parses the whole line the ordinary way, so this changes speed, not results. The one
    exception: of the audio only the absence of `"` and `\\` is checked (see `_append_line`),
    so a control character or invalid UTF-8 inside it goes unseen.

    The cut must be the event's own audio field: the line has no escapes (so every key is
    spelled as it reads), the field's name occurs once in it, the event parsed without the
    audio has that field empty, and its direction and type are the catalogue's for it.
    """
    find = data.find
    at = find(b'"type":"', pos, pos + 160)
    if at < 0:
        return None
    at += 8
    type_end = find(b'"', at, at + 64)
    audio = _AUDIO_TYPES.get(data[at:type_end])
    if audio is None:
        return None
    field, key, name, wire_type, direction = audio
    start = find(key, type_end, nl)
    if start < 0:
        return None
    start += len(key)
    end = find(b'"', start, nl)
    if end < 0 or find(b"\\", pos, nl) >= 0:
        return None
    rest = data[pos:start] + data[end:nl]
    if rest.count(name) != 1:
        return None  # the field is repeated, or nested in some other object
    try:
        obj = _loads(rest)
    except _JSONDecodeError:
        return None
    if type(obj) is not dict:
        return None
    if "dir" in obj:  # a frame (else a bare event, whose direction follows from its type)
        if obj["dir"] != direction:
            return None  # e.g. a server type sent by the client: no audio field there
        event = obj.get("event")
    else:
        event = obj
    if (
        type(event) is not dict
        or event.get(field) != ""
        or event.get("type") != wire_type
        or _carries_more_audio(event)  # counted too on the ordinary path
    ):
        return None
    decoded = end - start  # as base64_decoded_len counts, in place (no copy of the audio)
    if data[end - 1] == 0x3D:  # "=" (a lone "=" has the opening quote before it)
        decoded -= 1 + (data[end - 2] == 0x3D)
    decoded = decoded * 3 // 4
    record = _usual_frame(obj, line_no, decoded)
    return record if record is not None else _classify(obj, line_no, data[pos:nl], decoded)


def _carries_more_audio(event: dict[str, Any]) -> bool:
    """Whether an event has a key under which `strip_audio` looks for audio."""
    return not AUDIO_CARRIERS.isdisjoint(event)


def _usual_frame(obj: Any, line_no: int, stripped_len: int | None) -> Record | None:
    """The EVENT record of the usual frame line (`ts` a float in range, `dir`, an `event`
    object, nothing else), or None: `_classify` then judges the line in full. The one
    check both the ordinary and the audio path make, so neither lets a time through that
    the other refuses."""
    if type(obj) is not dict or len(obj) != 3:
        return None
    ts, direction, event = obj.get("ts"), obj.get("dir"), obj.get("event")
    if not (
        type(ts) is float
        and -MAX_ABS_TS < ts < MAX_ABS_TS
        and type(event) is dict
        and direction in _DIRECTIONS
    ):
        return None
    if stripped_len is None:
        wire_type = event.get("type")
        field = _AUDIO_FIELD.get((direction, wire_type)) if type(wire_type) is str else None
        if field is not None or _carries_more_audio(event):
            stripped_len = strip_audio(event, field)
    return (EVENT, line_no, round(ts * 1_000_000), direction, event, stripped_len)


def _classify(obj: Any, line_no: int, line: bytes, stripped_len: int | None) -> Record:
    """Turn one parsed line into a record (frame, close, bare event or error).

    A line with `dir` is a frame (other keys ignored); else one with a string `type` is a
    bare event; else one with `close` (and no `event`, `text` or `binary`) is the close line.
    """
    record = _usual_frame(obj, line_no, stripped_len)
    if record is not None:
        return record
    if not isinstance(obj, dict):
        return (ERROR, line_no, None, None, "not a JSON object", cut(line))
    if "dir" in obj:
        return _frame(obj, line_no, line, stripped_len)
    wire_type = obj.get("type")
    if isinstance(wire_type, str):
        # A bare event: its direction follows from its type (client and server names differ).
        spec = BY_WIRE.get(("server", wire_type)) or BY_WIRE.get(("client", wire_type))
        direction = spec.direction if spec else None
        audio = stripped_len
        if audio is None:
            audio = strip_audio(obj, spec.audio_field if spec else None)
        return (EVENT, line_no, None, direction, obj, audio)
    if "close" in obj and not ("event" in obj or "text" in obj or "binary" in obj):
        ts = obj.get("ts")
        if _bad_ts(ts):
            return (ERROR, line_no, None, None, _BAD_TS, cut(line))
        close = obj["close"]
        if not isinstance(close, dict):
            return (ERROR, line_no, None, None, "'close' must be an object", cut(line))
        return (CLOSE, line_no, None if ts is None else round(ts * 1_000_000), None, close, None)
    if "rtlens" in obj:
        return (ERROR, line_no, None, None, "header line found after the first line", cut(line))
    return (
        ERROR,
        line_no,
        None,
        None,
        "neither an rtlens line nor an event with a 'type'",
        cut(line),
    )


_BAD_TS = "'ts' must be a number of seconds since 1970 (less than 1e11)"


def _bad_ts(ts: Any) -> bool:
    """Whether a line's `ts` (None if it has none) is not a time a recorder writes."""
    if ts is None:
        return False
    return not isinstance(ts, (int, float)) or isinstance(ts, bool) or not abs(ts) < MAX_ABS_TS


def _frame(obj: dict[str, Any], line_no: int, line: bytes, stripped_len: int | None) -> Record:
    """A frame line (it has `dir`) that is not of the usual shape."""
    ts = obj.get("ts")
    if _bad_ts(ts):
        return (ERROR, line_no, None, None, _BAD_TS, cut(line))
    ts_us = None if ts is None else round(ts * 1_000_000)
    direction = obj["dir"]
    if direction not in _DIRECTIONS:
        return (ERROR, line_no, None, None, "'dir' must be 'client' or 'server'", cut(line))
    if "event" in obj:
        event = obj["event"]
        audio = obj.get("audio_bytes")
        if audio is not None and not _is_byte_count(audio):
            return (
                ERROR,
                line_no,
                None,
                None,
                "'audio_bytes' must be a byte count (an integer from 0 to 2**53)",
                cut(line),
            )
        if stripped_len is not None:
            audio = stripped_len if audio is None else audio
        elif isinstance(event, dict):
            spec = BY_WIRE.get((direction, str(event.get("type"))))
            found = strip_audio(event, spec.audio_field if spec else None)
            if audio is None:
                audio = found
        return (EVENT, line_no, ts_us, direction, event, audio)
    if "text" in obj:
        text = obj["text"]
        if not isinstance(text, str):
            return (ERROR, line_no, None, None, "'text' must be a string", cut(line))
        return (TEXT, line_no, ts_us, direction, {"text": text[:MAX_RAW_CHARS]}, None)
    if "binary" in obj:
        data = obj["binary"]
        if not isinstance(data, str):
            return (ERROR, line_no, None, None, "'binary' must be a base64 string", cut(line))
        return (BINARY, line_no, ts_us, direction, {"binary": data[:MAX_RAW_CHARS]}, None)
    return (
        ERROR,
        line_no,
        None,
        None,
        "frame line has no 'event', 'text' or 'binary'",
        cut(line),
    )


def _is_byte_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < MAX_ABS_INT


# ---- JSON array ------------------------------------------------------------------------------

_CHUNK = 1 << 20


def _read_array(
    stream: Stream,
    head: bytes,
    line_no: int,
    reached: list[int],
    appends: bool,
    max_line: int = MAX_LINE_BYTES,
) -> Iterator[Record]:
    """Stream the elements of a top-level JSON array without loading the whole array.

    Anything after the array's closing bracket is read as JSONL (a JSONL file whose first
    line happens to be an array), so no line is silently ignored.
    """
    index = 0
    for item in split_array(stream, head, line_no, _CHUNK, max_element=max_line):
        kind = item[0]
        if kind == "rest":
            yield from _read_lines(
                stream, reached, item[1], item[2], appends=appends, header=False, max_line=max_line
            )
            return
        if kind == "fatal":
            yield (ERROR, item[1], None, None, item[2], cut(item[3]))
            return
        if kind == "broken":
            yield _unreadable(item[1], item[2])
            return
        _, line_no, element = item
        index += 1
        if not element:
            yield (ERROR, line_no, None, None, f"array element {index}: empty", "")
            continue
        try:
            obj = _loads(element)
        except _JSONDecodeError as exc:
            yield (
                ERROR,
                line_no,
                None,
                None,
                f"array element {index}: invalid JSON: {exc}",
                cut(element),
            )
            continue
        record = _classify(obj, line_no, element, None)
        if record[0] == ERROR:
            record = (ERROR, line_no, None, None, f"array element {index}: {record[4]}", record[5])
        yield record

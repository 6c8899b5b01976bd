"""Split a top-level JSON array into its elements while streaming, without parsing them.

Used by the reader for inputs that are one big array of events: elements are found by
tracking bracket depth outside strings (strings are skipped with a byte search for their
closing quote), so the array is never held in memory or parsed twice. Each element keeps
the line number it starts on, for error messages.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator
from typing import Any, Protocol

_STRUCTURAL = re.compile(rb'[\[\]{}",]')
BLANK = b"\xef\xbb\xbf \t\r\n"  # what may come before the "[" (a BOM, whitespace)
# What a stream that breaks off raises: a truncated or corrupt `.gz`, an I/O error.
BROKEN = (OSError, EOFError, zlib.error)


class Stream(Protocol):
    def read(self, size: int, /) -> bytes: ...


def split_array(
    stream: Stream,
    head: bytes,
    line_no: int = 1,
    chunk_size: int = 1 << 20,
    *,
    max_element: int | None = None,
) -> Iterator[tuple[Any, ...]]:
    """Split the array that starts `head` (bytes already read from `stream`, starting on line
    `line_no`: blanks, then "[") into its elements.

    Yields ("element", line_no, bytes) per top-level element, then at most one of:
    ("rest", line_no, bytes) if anything but blanks follows the array; ("fatal", line_no,
    message, bytes) if the file ends before the closing "]"; ("broken", line_no, exception)
    if the stream breaks off. The line_no of the last two is that of the first element not
    yielded (where its first byte is, or would be), or where the file ends if none is
    missing; the bytes are what there is of that element. An element longer than
    `max_element` bytes is "fatal" too, found before more than a read past it is held.
    """
    read = stream.read
    buf = head
    lead = len(buf) - len(buf.lstrip(BLANK))
    line_no += buf.count(b"\n", 0, lead)
    counted = lead  # newlines before this offset are already counted in line_no
    sep = lead  # offset of the "[" or "," that opened the current element
    pos = lead + 1
    depth = 1
    try:
        while True:
            match = _STRUCTURAL.search(buf, pos)
            if match is None:
                chunk = read(chunk_size)
                if not chunk:
                    yield from _ends_early(buf, sep, line_no, counted, depth > 1)
                    return
                line_no += buf.count(b"\n", counted, sep)
                buf, pos, counted, sep = buf[sep:] + chunk, pos - sep, 0, 0
                if max_element is not None and len(buf) > max_element + chunk_size:
                    yield _too_long(buf, sep, line_no, counted, max_element)
                    return
                continue
            at = match.start()
            char = buf[at]
            if char == 0x22:  # a string: jump past its closing quote
                close = _string_end(buf, at + 1)
                if close < 0:  # it goes on in the next reads
                    limit = None if max_element is None else sep + max_element + chunk_size
                    buf, close = _read_to_string_end(buf, read, chunk_size, limit)
                    if close == _TOO_LONG:
                        yield _too_long(buf, sep, line_no, counted, max_element or 0)
                        return
                    if close < 0:
                        yield from _ends_early(buf, sep, line_no, counted, True)
                        return
                pos = close + 1
            elif char in (0x5B, 0x7B):  # [ {
                depth += 1
                pos = at + 1
            elif char in (0x5D, 0x7D):  # ] }
                depth -= 1
                pos = at + 1
                if depth == 0:
                    element = buf[sep + 1 : at].strip()
                    if element:
                        line_no, counted = _located(buf, sep + 1, line_no, counted)
                        yield ("element", line_no, element)
                    line_no += buf.count(b"\n", counted, at)
                    rest = buf[at + 1 :]
                    break
            elif char == 0x2C and depth == 1:  # ,
                line_no, counted = _located(buf, sep + 1, line_no, counted)
                yield ("element", line_no, buf[sep + 1 : at].strip())
                sep = at
                pos = at + 1
            else:
                pos = at + 1
    except BROKEN as exc:
        yield ("broken", _located(buf, sep + 1, line_no, counted)[0], exc)
        return
    # After the array: only blanks, or lines the caller reads as JSONL. Only reading on tells
    # which, however many blanks there are (whole blank lines are counted, not kept).
    try:
        while not rest.strip():
            chunk = read(chunk_size)
            if not chunk:
                return
            line_no += rest.count(b"\n")
            rest = rest[rest.rfind(b"\n") + 1 :] + chunk
    except BROKEN as exc:
        yield ("broken", line_no + rest.count(b"\n"), exc)
        return
    yield ("rest", line_no, rest)


def _ends_early(
    buf: bytes, sep: int, line_no: int, counted: int, inside: bool
) -> Iterator[tuple[Any, ...]]:
    """The file ends before the array's "]": the element the end cuts (`inside`: the end
    is inside a string, object or list), or else the last one, which is then whole."""
    if inside:
        line_no, _ = _located(buf, sep + 1, line_no, counted)
        message = "the file ends inside the array element that starts on this line"
        yield ("fatal", line_no, f"truncated JSON array: {message}", buf[sep + 1 :].strip())
        return
    element = buf[sep + 1 :].strip()
    if element:
        line_no, counted = _located(buf, sep + 1, line_no, counted)
        yield ("element", line_no, element)
    line_no += buf.count(b"\n", counted, len(buf.rstrip()))
    message = "the file ends on this line, before the array's closing ']'"
    yield ("fatal", line_no, f"truncated JSON array: {message}", b"")


def _located(buf: bytes, start: int, line_no: int, counted: int) -> tuple[int, int]:
    """Line number of the first non-blank byte at or after `start`."""
    first = start
    while first < len(buf) and buf[first] in b" \t\r\n":
        first += 1
    return line_no + buf.count(b"\n", counted, first), first


_TOO_LONG = -2


def _too_long(buf: bytes, sep: int, line_no: int, counted: int, limit: int) -> tuple[Any, ...]:
    line_no, _ = _located(buf, sep + 1, line_no, counted)
    message = (
        f"an array element longer than ingest takes ({limit:,} bytes) starts on this line: "
        "the rest of the file is skipped"
    )
    return ("fatal", line_no, message, buf[sep + 1 : sep + 1 + (1 << 16)])


def _read_to_string_end(
    buf: bytes, read: Any, chunk_size: int, limit: int | None = None
) -> tuple[bytes, int]:
    """`buf`, which ends inside a JSON string, joined with what is read until the string
    closes: (the bytes, index of the closing quote), or (the bytes, -1) if the file ends,
    or (the first bytes, `_TOO_LONG`) once more than `limit` bytes are held.

    Each read is searched on its own and the parts are joined once, so a string of many
    MiB (an image in an event) costs time in proportion to its size, not to its square.
    Only the parity of a run of backslashes before a quote matters, and a run may straddle
    two reads: `odd` carries it over.
    """
    parts = [buf]
    size = len(buf)
    odd = (len(buf) - len(buf.rstrip(b"\\"))) % 2 == 1
    while True:
        chunk = read(chunk_size)
        if not chunk:
            return b"".join(parts), -1
        parts.append(chunk)
        if limit is not None and size > limit:
            return parts[0], _TOO_LONG
        probe = b"\\" + chunk if odd else chunk
        close = _string_end(probe, 0)
        if close >= 0:
            return b"".join(parts), size + close - odd
        size += len(chunk)
        run = len(chunk) - len(chunk.rstrip(b"\\"))
        odd = (odd + run) % 2 == 1 if run == len(chunk) else run % 2 == 1


def _string_end(buf: bytes, pos: int) -> int:
    """Index of the quote closing a JSON string that starts at `pos`, or -1 if not in buf."""
    while True:
        close = buf.find(b'"', pos)
        if close < 0:
            return -1
        backslashes = 0
        k = close - 1
        while k >= pos and buf[k] == 0x5C:
            backslashes += 1
            k -= 1
        if backslashes % 2 == 0:
            return close
        pos = close + 1

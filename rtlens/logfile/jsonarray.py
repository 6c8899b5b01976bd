"""Split a top-level JSON array into its elements while streaming, without parsing them.

Used by the reader for inputs that are one big array of events: elements are found by
tracking bracket depth outside strings (strings are skipped with a byte search for their
closing quote), so the array is never held in memory or parsed twice. Each element keeps
the line number it starts on, for error messages.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import IO, Any

_STRUCTURAL = re.compile(rb'[\[\]{}",]')


class Lines:
    """Iterate lines of `head` bytes, then of the rest of `stream`."""

    def __init__(self, head: bytes, stream: IO[bytes]) -> None:
        self.head, self.stream = head, stream

    def __iter__(self) -> Iterator[bytes]:
        head = self.head
        if head:
            parts = head.split(b"\n")
            tail = parts.pop()
            yield from (p + b"\n" for p in parts)
            if tail:
                yield tail + self.stream.readline()
        yield from self.stream


def split_array(stream: IO[bytes], chunk_size: int = 1 << 20) -> Iterator[tuple[Any, ...]]:
    """Yield ("element", line_no, bytes) per top-level element; then ("rest", line_no, bytes)
    if anything follows the array, or ("fatal", line_no, message) if it cannot go on."""
    buf = stream.read(chunk_size)
    lead = len(buf) - len(buf.lstrip(b"\xef\xbb\xbf \t\r\n"))
    line_no = 1 + buf.count(b"\n", 0, lead)
    counted = lead  # newlines before this offset are already counted in line_no
    sep = lead  # offset of the "[" or "," that opened the current element
    pos = lead + 1
    depth = 1
    while True:
        match = _STRUCTURAL.search(buf, pos)
        if match is None:
            chunk = stream.read(chunk_size)
            if not chunk:
                yield ("fatal", line_no, "truncated JSON array: the file ends inside it")
                return
            line_no += buf.count(b"\n", counted, sep)
            buf, pos, counted, sep = buf[sep:] + chunk, pos - sep, 0, 0
            continue
        at = match.start()
        char = buf[at]
        if char == 0x22:  # a string: jump past its closing quote
            close = _string_end(buf, at + 1)
            while close < 0:
                chunk = stream.read(chunk_size)
                if not chunk:
                    yield ("fatal", line_no, "truncated JSON array: the file ends inside a string")
                    return
                buf += chunk
                close = _string_end(buf, at + 1)
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
                if rest.strip() or _has_more(stream):
                    yield ("rest", line_no, rest)
                return
        elif char == 0x2C and depth == 1:  # ,
            line_no, counted = _located(buf, sep + 1, line_no, counted)
            yield ("element", line_no, buf[sep + 1 : at].strip())
            sep = at
            pos = at + 1
        else:
            pos = at + 1


def _has_more(stream: IO[bytes]) -> bool:
    peek = getattr(stream, "peek", None)
    return bool(peek(1).strip()) if peek else False


def _located(buf: bytes, start: int, line_no: int, counted: int) -> tuple[int, int]:
    """Line number of the first non-blank byte at or after `start`."""
    first = start
    while first < len(buf) and buf[first] in b" \t\r\n":
        first += 1
    return line_no + buf.count(b"\n", counted, first), first


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

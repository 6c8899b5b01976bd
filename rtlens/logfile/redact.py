"""What must never reach a recording, and how it is removed.

Secrets: API keys travel in headers (`Authorization`, Azure `api-key`), in query strings
(`?api-key=`, `?token=`) and in browser subprotocols (`openai-insecure-api-key.<key>`). They
are replaced by `<redacted>` before anything is written. Key-shaped strings inside frames
(`sk-…`, ephemeral `ek_…`) are replaced too, as a last line of defence.

Audio: with `--redact-audio`, base64 audio payloads become `""` and the line records the
decoded byte count instead, so durations stay computable.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

REDACTED = "<redacted>"

SECRET_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "api-key",
        "x-api-key",
        "openai-api-key",
        "cookie",
        "set-cookie",
        "ocp-apim-subscription-key",
    }
)
# Query parameter names that carry credentials (matched case-insensitively, as substrings).
_SECRET_PARAM = re.compile(r"key|token|secret|sig|password|passwd|auth|credential", re.I)
_SECRET_SUBPROTOCOL_PREFIXES = ("openai-insecure-api-key.",)
# Key-shaped strings: OpenAI secret keys and ephemeral client secrets.
_KEY_PATTERN = re.compile(rb"\b(?:sk-[A-Za-z0-9_\-]{16,}|ek_[A-Za-z0-9_\-]{16,})")


def redact_headers(headers: Iterable[tuple[str, str]]) -> list[list[str]]:
    """Headers as `[name, value]` pairs with credential values replaced."""
    return [
        [name, REDACTED if name.lower() in SECRET_HEADERS else value] for name, value in headers
    ]


def redact_query(query: str) -> str:
    pairs = parse_qsl(query, keep_blank_values=True)
    if not pairs:
        return query
    return urlencode([(k, REDACTED if _SECRET_PARAM.search(k) else v) for k, v in pairs], safe="<>")


def redact_url(url: str) -> str:
    """The URL with credential query parameters and any userinfo replaced."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = REDACTED + "@" + netloc.rsplit("@", 1)[1]
    return urlunsplit((parts.scheme, netloc, parts.path, redact_query(parts.query), parts.fragment))


def redact_subprotocols(subprotocols: Iterable[str]) -> list[str]:
    out = []
    for proto in subprotocols:
        for prefix in _SECRET_SUBPROTOCOL_PREFIXES:
            if proto.lower().startswith(prefix):
                proto = proto[: len(prefix)] + REDACTED
        out.append(proto)
    return out


def contains_key(data: bytes) -> bool:
    """Cheap pre-check before the regex runs: a key starts with `sk-` or `ek_`.

    It looks for the separators with `find` (memchr speed): base64 audio, the bulk of most
    frames, has neither `-` nor `_`, while a 3-byte substring search crawls through it.
    """
    for sep, prefix in _KEY_PREFIXES:
        at = data.find(sep, 2)
        while at >= 0:
            if data[at - 2 : at] == prefix:
                return _KEY_PATTERN.search(data) is not None
            at = data.find(sep, at + 1)
    return False


_KEY_PREFIXES = ((b"-", b"sk"), (b"_", b"ek"))


def scrub_keys(data: bytes) -> bytes:
    """Replace key-shaped substrings in a serialised frame."""
    return _KEY_PATTERN.sub(REDACTED.encode(), data)


# ---- audio -----------------------------------------------------------------------------------


def base64_decoded_len(b64: str | bytes) -> int:
    """Decoded length of a base64 string, from its length and padding, without decoding.

    Six bits per character before the padding (one or two "="), in whole bytes: exact for
    valid base64, padded or not, and for any other string still a count, never negative.
    Characters are counted as UTF-8 bytes, as the reader's fast paths count them in the line
    they cut the audio from, so every path gives the same number for the same string.
    """
    if isinstance(b64, str) and not b64.isascii():  # isascii() reads a flag, not the text
        b64 = b64.encode("utf-8", "surrogatepass")
    n = len(b64)
    if n and b64[-1] in ("=", 61):
        n -= 2 if n > 1 and b64[-2] in ("=", 61) else 1
    return n * 3 // 4


# Content parts that carry base64 audio (in items, and as a response's `part`).
_AUDIO_PART_TYPES = frozenset({"input_audio", "audio", "output_audio"})
# Keys under which an event may carry audio beyond its top-level field (see strip_audio).
AUDIO_CARRIERS = frozenset({"item", "part", "response"})


def strip_audio(event: Any, top_level_field: str | None) -> int | None:
    """Replace base64 audio in `event` (in place) by "" and return the decoded byte count.

    Returns None when the event carries no audio payload at all. Handles the top-level field
    named by the catalogue (`audio` on append, `delta` on audio deltas), audio inside a
    conversation item (`item.content[].audio`), a content part (`part.audio` on
    `response.content_part.*`) and the items of a response (`response.input[]` of the app's
    `response.create`, `response.output[]`).
    """
    if not isinstance(event, dict):
        return None
    total: int | None = None
    if top_level_field is not None:
        value = event.get(top_level_field)
        if isinstance(value, str):
            total = base64_decoded_len(value)
            event[top_level_field] = ""
    items = [event.get("item")]
    response = event.get("response")
    if isinstance(response, dict):
        for key in ("input", "output"):
            listed = response.get(key)
            if isinstance(listed, list):
                items.extend(listed)
    parts = [event.get("part")]
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("content"), list):
            parts.extend(item["content"])
    for part in parts:
        if (
            isinstance(part, dict)
            and part.get("type") in _AUDIO_PART_TYPES
            and isinstance(part.get("audio"), str)
            and part["audio"]
        ):
            total = (total or 0) + base64_decoded_len(part["audio"])
            part["audio"] = ""
    return total

"""What must never reach a recording, and how it is removed.

Secrets: API keys travel in headers (`Authorization`, Azure `api-key`, any custom name), in
query strings (`?api-key=`, `?token=`) and in browser subprotocols
(`openai-insecure-api-key.<key>`, any key shape: Azure keys are 32 hex characters). Headers
are kept by an allowlist of harmless names (`SAFE_HEADERS`); every other header's value, and
every credential subprotocol, is replaced by `<redacted>` before anything is written.
Key-shaped strings inside frames (`sk-…`, ephemeral `ek_…`, also glued to a preceding word
character and also spelled with JSON escapes such as `sk\\u002d…`) are replaced too, as a
last line of defence (see `scrub_event`, `scrub_binary`).

Audio: with `--redact-audio`, base64 audio payloads become `""` and the line records the
decoded byte count instead, so durations stay computable.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import orjson

REDACTED = "<redacted>"

# Header names whose values are written as sent (lower case). Everything else, request or
# response, is `<redacted>`: a custom auth header (`X-Custom-Token`) must not need a list.
SAFE_HEADERS = frozenset(
    {
        # request
        "host",
        "user-agent",
        "openai-beta",
        "origin",
        "content-type",
        "accept",
        "accept-encoding",
        "accept-language",
        "connection",
        "upgrade",
        "sec-websocket-version",
        "sec-websocket-extensions",
        "sec-websocket-protocol",  # kept, with credential subprotocols redacted
        "x-request-id",
        "x-client-request-id",
        "x-stainless-lang",
        "x-stainless-package-version",
        "x-stainless-os",
        "x-stainless-arch",
        "x-stainless-runtime",
        "x-stainless-runtime-version",
        "x-stainless-async",
        "x-stainless-retry-count",
        # response
        "date",
        "server",
        "content-length",
        "sec-websocket-accept",
        "openai-processing-ms",
        "openai-version",
        "openai-model",
    }
)
# Query parameter names that carry credentials (matched case-insensitively, as substrings).
_SECRET_PARAM = re.compile(r"key|token|secret|sig|password|passwd|auth|credential", re.I)
_SECRET_SUBPROTOCOL_PREFIXES = ("openai-insecure-api-key.",)
# Key-shaped strings: OpenAI secret keys and ephemeral client secrets.
# No `\b` before the prefix: `X_sk-…` (a word character glued on) is a key all the same.
_KEY_PATTERN = re.compile(rb"(?:sk-[A-Za-z0-9_\-]{16,}|ek_[A-Za-z0-9_\-]{16,})")


def redact_headers(headers: Iterable[tuple[str, str]]) -> list[list[str]]:
    """Headers as `[name, value]` pairs: allowlisted values kept, every other replaced."""
    out = []
    for name, value in headers:
        lower = name.lower()
        if lower == "sec-websocket-protocol":
            value = ", ".join(redact_subprotocols(t.strip() for t in value.split(",")))
        elif lower not in SAFE_HEADERS:
            value = REDACTED
        out.append([name, value])
    return out


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
    """Subprotocols with any credential part (`openai-insecure-api-key.<key>`) replaced,
    whatever the key looks like."""
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


def scrub_event(raw: bytes, event: Any) -> bytes:
    """A JSON frame's bytes with every key removed, escaped spellings included.

    Plain keys are cut from the bytes (the frame stays byte-identical elsewhere). A key
    spelled with escapes (`sk\\u002d…`, `\\u0073k-…`) only shows once the strings are
    decoded: JSON escapes need a backslash, so only frames with one (rare: encoders escape
    quotes, control characters and, in some, `/`) have their parsed strings scanned, and are
    re-encoded if a key is found there. Base64 audio is not decoded (see docs/secrets.md).
    """
    if contains_key(raw):
        raw = scrub_keys(raw)
    if b"\\" in raw and _has_key(event):
        raw = orjson.dumps(_scrubbed(event))
    return raw


# `\u00XX` spelling a key character ([A-Za-z0-9_-]), after an even run of backslashes (an odd
# one would make it literal text). Spelled out, such an escape stays valid JSON.
_KEY_CHAR_ESCAPE = re.compile(
    rb"(?<!\\)((?:\\\\)*)\\u00(2[dD]|3[0-9]|4[1-9a-fA-F]|5[0-9aA]|5[fF]|6[1-9a-fA-F]|7[0-9aA])"
)


def scrub_escaped_bytes(raw: bytes) -> bytes:
    """Keys in JSON bytes that cannot be parsed and re-encoded (too deep for orjson): key
    characters spelled as `\\u00XX` are written plainly, then plain keys are replaced."""
    if b"\\u" in raw:
        raw = _KEY_CHAR_ESCAPE.sub(lambda m: m[1] + bytes([int(m[2], 16)]), raw)
    return scrub_keys(raw) if contains_key(raw) else raw


def _has_key(value: Any) -> bool:
    stack = [value]
    while stack:  # iterative: a frame may nest deeper than Python recurses
        item = stack.pop()
        if isinstance(item, str):
            if contains_key(item.encode("utf-8", "surrogatepass")):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _scrubbed(value: Any) -> Any:
    if isinstance(value, str):
        data = value.encode("utf-8", "surrogatepass")
        return scrub_keys(data).decode("utf-8", "surrogatepass") if contains_key(data) else value
    if isinstance(value, dict):
        return {_scrubbed(k): _scrubbed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrubbed(v) for v in value]
    return value


_BASE64_TEXT = re.compile(rb"[A-Za-z0-9+/_\-]+={0,2}")


def scrub_binary(data: bytes) -> bytes:
    """A binary frame with keys removed: in its raw bytes, and in its content decoded when
    the whole frame is base64 text (standard or URL-safe alphabet)."""
    if contains_key(data):
        data = scrub_keys(data)
    stripped = data.strip()
    if len(stripped) >= 24 and _BASE64_TEXT.fullmatch(stripped):
        alt = b"-_" if (b"-" in stripped or b"_" in stripped) else None
        try:
            decoded = base64.b64decode(stripped + b"=" * (-len(stripped) % 4), altchars=alt)
        except (binascii.Error, ValueError):
            return data
        if contains_key(decoded):
            return base64.b64encode(scrub_keys(decoded), altchars=alt)
    return data


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

"""What a recording's header says about its connection, with every credential removed.

Header values go through `redact.py` (credential headers, key-like query parameters,
`openai-insecure-api-key.*` subprotocols), then anything still shaped like a key is
scrubbed too: the header line is written as is, without the writer's frame scrubbing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from websockets.datastructures import Headers
from websockets.http11 import Response

from rtlens.logfile.redact import (
    contains_key,
    redact_headers,
    redact_subprotocols,
    redact_url,
    scrub_keys,
)


def safe_text(text: str) -> str:
    """`text` with key-shaped strings replaced, for anything written or printed."""
    data = text.encode("utf-8", "replace")
    return scrub_keys(data).decode() if contains_key(data) else text


def safe_url(url: str) -> str:
    return safe_text(redact_url(url))


def subprotocols_of(headers: Headers) -> list[str]:
    """The subprotocols a handshake request offers, in order."""
    return [
        token.strip()
        for value in headers.get_all("Sec-WebSocket-Protocol")
        for token in value.split(",")
        if token.strip()
    ]


def describe_headers(items: Iterable[tuple[str, str]]) -> list[list[str]]:
    return [[name, safe_text(value)] for name, value in redact_headers(items)]


def describe_request(path: str, headers: Headers, client: str | None = None) -> dict[str, Any]:
    described: dict[str, Any] = {
        "path": safe_url(path),
        "headers": describe_headers(headers.raw_items()),
        "subprotocols": [safe_text(p) for p in redact_subprotocols(subprotocols_of(headers))],
    }
    if client is not None:
        described["client"] = client
    return described


def describe_response(response: Response | None, subprotocol: str | None) -> dict[str, Any] | None:
    if response is None:
        return None
    return {
        "status": response.status_code,
        "subprotocol": subprotocol,
        "headers": describe_headers(response.headers.raw_items()),
    }

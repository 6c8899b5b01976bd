"""The relay's upstream leg: the request it makes for the app, and why it failed if it did.

The app's request is replayed against the upstream base URL: same path and query, same
headers (so `Authorization`, Azure `api-key`, `OpenAI-Beta` and `api-version` pass through
untouched) minus the hop-by-hop and handshake headers websockets writes itself, same
subprotocols. Compression is offered upstream only if the app offered it.

Redirects are not followed: following one would send the app's credentials somewhere the
app never chose to send them. A redirect is reported like any other refusal.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from websockets.asyncio.client import connect
from websockets.datastructures import Headers
from websockets.exceptions import InvalidHandshake, InvalidStatus, InvalidURI
from websockets.typing import Subprotocol

from rtlens.logfile.redact import redact_url
from rtlens.recording.closing import BAD_GATEWAY, INTERNAL_ERROR, fit_reason
from rtlens.recording.describe import safe_text, subprotocols_of
from rtlens.recording.wire import TappedClientConnection

DEFAULT_UPSTREAM = "wss://api.openai.com"

# Written by websockets itself on each leg, or meaningful only for one TCP connection.
NOT_FORWARDED = frozenset(
    {
        "host",
        "connection",
        "upgrade",
        "keep-alive",
        "proxy-connection",
        "proxy-authorization",
        "proxy-authenticate",
        "te",
        "trailer",
        "transfer-encoding",
        "content-length",
        "sec-websocket-key",
        "sec-websocket-version",
        "sec-websocket-extensions",
        "sec-websocket-accept",
        "sec-websocket-protocol",
    }
)
# Response headers the relay's own handshake already sets.
NOT_COPIED_BACK = NOT_FORWARDED | {"date", "server"}


def normalize_upstream(url: str) -> str:
    """The upstream base URL as `ws(s)://host[:port][/prefix]`; ValueError with a sentence."""
    parts = urlsplit(url.strip())
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme.lower(), parts.scheme.lower())
    if scheme not in ("ws", "wss") or not parts.hostname:
        raise ValueError(
            f"upstream {url!r} is not a WebSocket base URL: use e.g. wss://api.openai.com"
        )
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/"), parts.query, ""))


def upstream_url(base: str, request_path: str) -> str:
    """`base` + the app's path and query (a query on `base` itself is kept first)."""
    parts = urlsplit(base)
    path, _, query = request_path.partition("?")
    if parts.query:
        query = f"{parts.query}&{query}" if query else parts.query
    return urlunsplit((parts.scheme, parts.netloc, parts.path + path, query, ""))


def forwarded_headers(headers: Headers) -> list[tuple[str, str]]:
    """The app's request headers to send upstream, in order, names as the app wrote them."""
    listed = {
        token.strip().lower()
        for value in headers.get_all("Connection")
        for token in value.split(",")
    }
    return [
        (name, value)
        for name, value in headers.raw_items()
        if name.lower() not in NOT_FORWARDED and name.lower() not in listed
    ]


def offers_compression(headers: Headers) -> bool:
    return any(
        "permessage-deflate" in value for value in headers.get_all("Sec-WebSocket-Extensions")
    )


def headers_to_copy_back(headers: Headers) -> list[tuple[str, str]]:
    return [(k, v) for k, v in headers.raw_items() if k.lower() not in NOT_COPIED_BACK]


class _NoRedirectConnect(connect):
    def process_redirect(self, exc: Exception) -> Exception | str:
        return exc


async def open_upstream(
    url: str, headers: Headers, *, open_timeout: float
) -> TappedClientConnection:
    """Connect upstream as the app asked; raises what websockets raises on failure."""
    subprotocols = subprotocols_of(headers)
    conn = await _NoRedirectConnect(
        url,
        additional_headers=forwarded_headers(headers),
        subprotocols=[Subprotocol(p) for p in subprotocols] or None,
        compression="deflate" if offers_compression(headers) else None,
        user_agent_header=None,  # the app's own User-Agent is forwarded
        open_timeout=open_timeout,
        max_size=None,
        create_connection=TappedClientConnection,
    )
    assert isinstance(conn, TappedClientConnection)
    return conn


@dataclass(frozen=True)
class UpstreamFailure:
    """Why the upstream could not be opened: the close sent to the app, and a terminal line."""

    code: int
    reason: str
    detail: str


def describe_failure(exc: BaseException, url: str, open_timeout: float) -> UpstreamFailure:
    where = redact_url(url)
    if isinstance(exc, InvalidStatus):
        status = exc.response.status_code
        phrase = exc.response.reason_phrase
        message = _body_message(exc.response.body)
        if 300 <= status < 400:
            location = exc.response.headers.get("Location", "")
            message = f"redirect to {redact_url(location)} not followed" if location else message
        # A 4xx will not change on retry (1014 is not retried); 429/5xx may (1011 is).
        code = BAD_GATEWAY if 300 <= status < 500 and status not in (408, 429) else INTERNAL_ERROR
        reason = f"rtlens relay: upstream refused the connection: HTTP {status}"
        detail = f"upstream {where} refused the connection: HTTP {status} {phrase}".rstrip()
        if message:
            detail += f" ({message})"
        return UpstreamFailure(code, fit_reason(reason), safe_text(detail))
    if isinstance(exc, TimeoutError):
        what = f"did not answer within {open_timeout:g} s"
    elif isinstance(exc, socket.gaierror):
        what = f"unreachable: cannot resolve the host ({exc.strerror})"
    elif isinstance(exc, OSError):
        cause = os.strerror(exc.errno) if exc.errno else str(exc)  # not "Connect call failed"
        what = f"unreachable: {cause.lower()}"
    elif isinstance(exc, InvalidURI | InvalidHandshake):
        what = f"handshake failed: {exc}"
    else:
        what = f"failed: {type(exc).__name__}: {exc}"
    reason = f"rtlens relay: upstream {what}"
    return UpstreamFailure(
        INTERNAL_ERROR, fit_reason(safe_text(reason)), safe_text(f"upstream {where} {what}")
    )


def _body_message(body: bytes | bytearray) -> str:
    """The `error.message` of a JSON error body, else the body's first line, shortened."""
    text = bytes(body[:2000]).decode("utf-8", "replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        return text.splitlines()[0][:200] if text else ""
    if isinstance(data, dict):
        error = data.get("error", data)
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])[:200]
    return text[:200]

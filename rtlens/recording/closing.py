"""Closes: who closed a WebSocket and with what code, and what the relay passes on.

Recording writes the first close it sees as the file's last line (`close.by`, `code`,
`reason`, SPEC §1); the relay then closes the other leg with the same code and reason. Two
codes cannot travel in a close frame and are mapped instead:

- 1005 (the peer sent a close frame without a code) is passed on as a close frame without
  a code, so the other side sees 1005 too.
- 1006 (the TCP connection ended without a close frame; 1015 likewise) becomes 1011 towards
  the app when the upstream dropped (the openai SDK retries 1011 as it would retry 1006),
  and 1001 ("going away") towards the upstream when the app dropped, as a browser does
  when it leaves a page.
"""

from __future__ import annotations

from websockets.exceptions import ConnectionClosed

NO_STATUS = 1005
ABNORMAL = 1006
TLS_FAILURE = 1015
GOING_AWAY = 1001
INVALID_DATA = 1007  # a text frame that is not UTF-8
INTERNAL_ERROR = 1011
BAD_GATEWAY = 1014
MAX_REASON_BYTES = 123  # a close frame's payload is at most 125 bytes, two of them the code

CloseSeen = tuple[str, int, str]


def close_seen(exc: ConnectionClosed, *, peer: str, local: str) -> CloseSeen:
    """`(by, code, reason)` of a closed connection: whoever sent the first close frame.

    `peer` names the other end of this connection (`client` or `server`), `local` this end
    (`relay` in the relay, `client` in a library hook). No close frame at all is 1006,
    blamed on the peer.
    """
    rcvd, sent = exc.rcvd, exc.sent
    if rcvd is not None and (sent is None or exc.rcvd_then_sent):
        return peer, int(rcvd.code), rcvd.reason
    if sent is not None:
        return local, int(sent.code), sent.reason
    return peer, ABNORMAL, ""


def forward_close(code: int, reason: str, *, from_side: str) -> tuple[int | None, str]:
    """The close the relay sends to the other leg; `None` means a close frame with no code."""
    if code == NO_STATUS:
        return None, ""
    if code in (ABNORMAL, TLS_FAILURE):
        if from_side == "server":
            return (
                INTERNAL_ERROR,
                f"rtlens relay: upstream connection lost without a close ({code})",
            )
        return GOING_AWAY, f"rtlens relay: client connection lost without a close ({code})"
    return code, reason


def fit_reason(reason: str) -> str:
    """A reason that fits in a close frame (123 UTF-8 bytes), cut on a character boundary."""
    data = reason.encode()
    if len(data) <= MAX_REASON_BYTES:
        return reason
    return data[: MAX_REASON_BYTES - 3].decode("utf-8", "ignore") + "..."

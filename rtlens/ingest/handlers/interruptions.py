"""Handlers for barge-ins: truncation (by the app, or by the server on WebRTC) and the
WebRTC output buffer, whose events stand in for audio deltas there."""

from __future__ import annotations

from typing import Any

from rtlens.ingest.fields import get_num, get_str
from rtlens.ingest.handlers.responses import cancel_reason
from rtlens.ingest.state import Interruption, Response, SessionState


def truncate_sent(st: SessionState, t: float | None, ev: dict[str, Any], audio: int | None) -> None:
    _truncation(st, t, ev, "conversation.item.truncate", by="client")


def truncated(st: SessionState, t: float | None, ev: dict[str, Any], audio: int | None) -> None:
    _truncation(st, t, ev, "conversation.item.truncated", by="server")


def _truncation(st: SessionState, t: float | None, ev: dict[str, Any], where: str, by: str) -> None:
    item_id = get_str(st, ev, "item_id", where)
    played = get_num(st, ev, "audio_end_ms", where)
    item = st.items.get(item_id) if item_id else None
    resp = item.response if item is not None else None
    key = resp.response_id if resp is not None else f"item:{item_id}"
    row = st.interruptions.get(key)
    if row is not None and row.truncate_ms is not None:
        if by == "server" and row.truncated_by == "client":
            return  # the server confirming the app's truncate
        if played is not None:
            row.audio_played_ms = played
        return
    if resp is not None:
        speech = st.last_speech
        if speech is not None and speech.seq < resp.seq:
            speech = None  # that speech came before this response: not what cut it
    else:
        speech = st.speech  # response unknown: only a speech still going on can have cut it
    if row is None:
        row = st.interruptions[key] = Interruption(resp, item_id, "truncated", speech)
        if resp is not None and resp.status == "cancelled":  # the app cancelled it first
            row.reason, row.cancel_ms = cancel_reason(resp), resp.cancel_ms
    row.item_id = row.item_id or item_id
    row.speech = row.speech or speech
    row.truncate_ms = t
    row.truncated_by = by
    row.audio_played_ms = played
    event_id = ev.get("event_id")
    if by == "client" and isinstance(event_id, str):
        st.truncates[event_id] = row


def buffer_started(
    st: SessionState, t: float | None, ev: dict[str, Any], audio: int | None
) -> None:
    st.output_audio_buffer_events += 1
    resp = _buffer_response(st, ev)
    if resp is not None and resp.first_audio_ms is None:
        resp.first_audio_ms = t


def buffer_stopped(
    st: SessionState, t: float | None, ev: dict[str, Any], audio: int | None
) -> None:
    """`.stopped` / `.cleared`: they mark a WebRTC capture; `.cleared` is also where the
    server stopped playing a response's audio (`interruptions.audio_stop_after_ms`)."""
    st.output_audio_buffer_events += 1
    if ev.get("type") == "output_audio_buffer.cleared":
        response_id = get_str(st, ev, "response_id", "output_audio_buffer.cleared")
        if response_id:
            st.buffer_cleared_ms.setdefault(response_id, t)


def _buffer_response(st: SessionState, ev: dict[str, Any]) -> Response | None:
    response_id = get_str(st, ev, "response_id", str(ev.get("type")))
    return st.responses.get(response_id) if response_id else None


def dtmf(st: SessionState, t: float | None, ev: dict[str, Any], audio: int | None) -> None:
    """A keypad press: only a phone (SIP) call has those, so it marks the transport."""
    st.dtmf_events += 1

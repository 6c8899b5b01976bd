"""Handlers for session configuration, errors and rate limits."""

from __future__ import annotations

from typing import Any

from rtlens.eventlines import json_text
from rtlens.ingest.audio import parse_format
from rtlens.ingest.fields import get_dict, get_int, get_list, get_num, get_str
from rtlens.ingest.handlers.requests import cancel_refused, create_refused
from rtlens.ingest.state import SessionState


def session_object(
    st: SessionState, t: float | None, ev: dict[str, Any], audio: int | None
) -> None:
    """session.created / session.updated (and beta transcription_session.*)."""
    where = str(ev.get("type"))
    session = get_dict(st, ev, "session", where)
    if session is None:
        return
    cfg = st.config
    if where.endswith("updated") and st.pending_updates:
        st.pending_updates.pop(0)  # the app's oldest session.update took effect
    if (
        "audio" in session
        or "output_modalities" in session
        or session.get("type")
        in (
            "realtime",
            "transcription",
        )
    ):
        st.votes["ga"] += 1
        audio_cfg = get_dict(st, session, "audio", where) or {}
        inp = get_dict(st, audio_cfg, "input", where) or {}
        out = get_dict(st, audio_cfg, "output", where) or {}
        _apply_audio(st, inp, out, where)
    elif "modalities" in session or "input_audio_format" in session or "voice" in session:
        st.votes["beta"] += 1
        _apply_beta(st, session, where)
    cfg.server_session_id = get_str(st, session, "id", where) or cfg.server_session_id
    model = get_str(st, session, "model", where)
    if model:
        cfg.model = model


# The app's session.update requests: the server applies them in order, each before the
# appends sent after it, and answers each with session.updated (or an error).
_UPDATES = ("session.update", "transcription_session.update")
MAX_PENDING_UPDATES = 16


def update_sent(st: SessionState, t: float | None, ev: dict[str, Any], audio: int | None) -> None:
    """The app's session.update. Appends sent after it are counted in the input format it
    asks for (`sessions.input_audio_ms`), not in the one the server reports until it
    answers. The session's configuration itself is what the server reports."""
    session = ev.get("session")
    rate = _input_rate_asked(session) if isinstance(session, dict) else None
    event_id = ev.get("event_id")
    st.pending_updates.append((event_id if isinstance(event_id, str) else None, rate))
    del st.pending_updates[:-MAX_PENDING_UPDATES]
    if rate is not None:
        _count_input_audio_as(st, rate)


def _input_rate_asked(session: dict[str, Any]) -> float | None:
    value = session.get("input_audio_format")
    audio_cfg = session.get("audio")
    if value is None and isinstance(audio_cfg, dict) and isinstance(audio_cfg.get("input"), dict):
        value = audio_cfg["input"].get("format")
    parsed = parse_format(value) if value is not None else None
    return parsed[1] if parsed is not None else None


def _update_refused(st: SessionState, event_id: str) -> None:
    """An error answering a session.update: its input format never applied, so the audio
    appended since is in the format asked for before it (or the server's)."""
    for i, (pending_id, rate) in enumerate(st.pending_updates):
        if pending_id == event_id:
            del st.pending_updates[i]
            if rate is not None:
                asked = [r for _, r in st.pending_updates if r is not None]
                st.input_bytes_per_ms = asked[-1] if asked else st.config.input_format[1]
            return


def _count_input_audio_as(st: SessionState, bytes_per_ms: float) -> None:
    """Count input audio appended from now on at this many bytes per ms."""
    if bytes_per_ms != st.input_bytes_per_ms:
        st.input_audio_ms += st.input_audio_bytes / st.input_bytes_per_ms
        st.input_audio_bytes = 0
        st.input_bytes_per_ms = bytes_per_ms


def _apply_beta(st: SessionState, session: dict[str, Any], where: str) -> None:
    cfg = st.config
    if "voice" in session:
        cfg.voice = get_str(st, session, "voice", where)
    _apply_format(st, session.get("input_audio_format"), "input")
    _apply_format(st, session.get("output_audio_format"), "output")
    if "turn_detection" in session:
        _apply_turn_detection(st, session.get("turn_detection"), where)
    if "input_audio_transcription" in session:
        tr = get_dict(st, session, "input_audio_transcription", where)
        cfg.transcription_model = get_str(st, tr, "model", where) if tr else None


def _apply_audio(st: SessionState, inp: dict[str, Any], out: dict[str, Any], where: str) -> None:
    cfg = st.config
    _apply_format(st, inp.get("format"), "input")
    _apply_format(st, out.get("format"), "output")
    if "voice" in out:
        cfg.voice = get_str(st, out, "voice", where)
    if "turn_detection" in inp:
        _apply_turn_detection(st, inp.get("turn_detection"), where)
    if "transcription" in inp:
        tr = get_dict(st, inp, "transcription", where)
        cfg.transcription_model = get_str(st, tr, "model", where) if tr else None


def _apply_format(st: SessionState, value: Any, which: str) -> None:
    if value is None:
        return
    parsed = parse_format(value)
    if parsed is None:
        return
    if which == "input":
        if not any(rate is not None for _, rate in st.pending_updates):
            _count_input_audio_as(st, parsed[1])  # (else a newer request of the app's governs)
        st.config.input_format, st.config.input_format_seen = parsed, True
    else:
        st.config.output_format, st.config.output_format_seen = parsed, True


def _apply_turn_detection(st: SessionState, value: Any, where: str) -> None:
    cfg = st.config
    if value is None:
        cfg.turn_detection = "none"
        cfg.vad_threshold = cfg.prefix_padding_ms = cfg.silence_duration_ms = None
        return
    if not isinstance(value, dict):
        st.field_error(where, "turn_detection", "an object or null", value)
        return
    cfg.turn_detection = get_str(st, value, "type", where) or "server_vad"
    cfg.vad_threshold = get_num(st, value, "threshold", where)
    cfg.prefix_padding_ms = get_num(st, value, "prefix_padding_ms", where)
    cfg.silence_duration_ms = get_num(st, value, "silence_duration_ms", where)


def error(st: SessionState, t: float | None, ev: dict[str, Any], audio: int | None) -> None:
    err = get_dict(st, ev, "error", "error") or {}
    client_event_id = get_str(st, err, "event_id", "error")
    client_type = st.client_types.get(client_event_id) if client_event_id else None
    if client_event_id in st.truncates:
        st.truncates[client_event_id].truncate_rejected = True  # it did not take effect
    code = _code(err.get("code"))
    if client_type == "response.create" or (
        client_event_id is None and code == "conversation_already_has_active_response"
    ):
        create_refused(st, client_event_id, code)
    elif client_type == "response.cancel" or code == "response_cancel_not_active":
        cancel_refused(st)
    elif client_type in _UPDATES and client_event_id is not None:
        _update_refused(st, client_event_id)
    if (
        client_type is None
        and client_event_id is None
        and code in ("invalid_json", "invalid_event")
    ):
        client_type = st.answered_bad_frame(code)  # such frames carry no event_id
    st.errors.append(
        {
            "seq": st.seq,
            "t_ms": t,
            "source": "error_event",
            "type": get_str(st, err, "type", "error"),
            "code": code,
            "message": get_str(st, err, "message", "error"),
            "param": _code(err.get("param")),
            "client_event_id": client_event_id,
            "client_event_type": client_type,
        }
    )


def _code(value: Any) -> str | None:
    return json_text(value)  # a number as its digits, a list as JSON (never Python's repr)


def rate_limits(st: SessionState, t: float | None, ev: dict[str, Any], audio: int | None) -> None:
    where = "rate_limits.updated"
    entries = get_list(st, ev, "rate_limits", where) or []
    last = st.last_response
    for entry in entries:
        if not isinstance(entry, dict):
            st.field_error(where, "rate_limits[]", "an object", entry)
            continue
        limit = get_int(st, entry, "limit", where)
        remaining = get_int(st, entry, "remaining", where)
        pct = 100.0 * remaining / limit if limit and remaining is not None else None
        st.rate_limits.append(
            {
                "seq": st.seq,
                "t_ms": t,
                "ts": st.current_ts_us,
                "name": get_str(st, entry, "name", where),
                "limit": limit,
                "remaining": remaining,
                "reset_seconds": get_num(st, entry, "reset_seconds", where),
                "remaining_pct": pct,
                "response_id": last.response_id if last else None,
                "turn": last.turn.n if last and last.turn else None,
            }
        )

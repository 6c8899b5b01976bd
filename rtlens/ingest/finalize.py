"""Turn a finished `SessionState` into table rows, computing the derived metrics.

Every metric's start and end event is written down in `docs/metrics.md`; this module is the
only place they are computed, so the tables, the report and the notebooks agree.
"""

from __future__ import annotations

import bisect
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from rtlens.ingest.pricing import response_cost, transcription_cost
from rtlens.ingest.state import Response, SessionState, Transcription, Turn
from rtlens.schema import TABLES

VAD_TRIGGERS = ("server_vad", "semantic_vad", "timeout")


def _diff(end: float | None, start: float | None) -> float | None:
    return None if end is None or start is None else end - start


def _rows(table: str, dicts: list[dict[str, Any]], session_id: str) -> list[tuple[Any, ...]]:
    names = TABLES[table].column_names
    out = []
    for row in dicts:
        row.setdefault("session_id", session_id)
        out.append(tuple(row.get(name) for name in names))
    return out


def finalize(st: SessionState) -> dict[str, list[tuple[Any, ...]]]:
    # (a browser capture's header says so: a call with no reply yet has no audio events)
    said = (st.header or {}).get("transport") == "webrtc"
    webrtc = (st.output_audio_buffer_events > 0 or said) and not any(
        r.audio_deltas for r in st.responses.values()
    )
    responses = sorted(st.responses.values(), key=lambda r: r.seq)
    model = session_model(st)
    response_rows = [_response_row(r, webrtc, model) for r in responses]
    interruptions = _interruption_rows(st, webrtc)
    interrupted_turns = {row["turn"] for row in interruptions if row["turn"] is not None}
    interrupted_responses = {row["response_id"] for row in interruptions}
    turn_rows = [_turn_row(t, interrupted_turns, interrupted_responses) for t in st.turns]
    first_audio_by_turn = {row["turn"]: row["first_audio_ms"] for row in turn_rows}
    transcription_rows = _transcription_rows(st, first_audio_by_turn)
    call_rows = _function_call_rows(st, responses)
    errors = [dict(e) for e in st.errors]
    ingest_errors = [dict(e, source_file=st.source_file) for e in st.ingest_errors]
    session = _session_row(
        st,
        webrtc,
        response_rows,
        transcription_rows,
        turn_rows,
        interruptions,
        errors,
        ingest_errors,
    )
    sid = st.session_id
    return {
        "sessions": _rows("sessions", [session], sid),
        "responses": _rows("responses", response_rows, sid),
        "turns": _rows("turns", turn_rows, sid),
        "rate_limits": _rows("rate_limits", [dict(r) for r in st.rate_limits], sid),
        "interruptions": _rows("interruptions", interruptions, sid),
        "errors": _rows("errors", errors, sid),
        "function_calls": _rows("function_calls", call_rows, sid),
        "transcriptions": _rows("transcriptions", transcription_rows, sid),
        "ingest_errors": _rows("ingest_errors", ingest_errors, sid),
    }


def _response_row(r: Response, webrtc: bool, model: str | None) -> dict[str, Any]:
    """`model`: the session's, for a response that started before the recording said it."""
    u = r.usage
    audio_ms = None if webrtc and not r.audio_deltas else r.audio_bytes / r.bytes_per_ms
    cost = None
    if u:
        cost = response_cost(
            r.model or model,
            input_tokens=u.get("input_tokens"),
            output_tokens=u.get("output_tokens"),
            input_text=u.get("input_text_tokens"),
            input_audio=u.get("input_audio_tokens"),
            input_image=u.get("input_image_tokens"),
            cached=u.get("cached_tokens"),
            cached_text=u.get("cached_text_tokens"),
            cached_audio=u.get("cached_audio_tokens"),
            cached_image=u.get("cached_image_tokens"),
            output_text=u.get("output_text_tokens"),
            output_audio=u.get("output_audio_tokens"),
        )
    text = r.text if r.text is not None else ("".join(r.text_parts) or None)
    return {
        "response_id": r.response_id,
        "turn": r.turn.n if r.turn else None,
        "trigger": r.trigger,
        "out_of_band": r.out_of_band,
        "status": r.status,
        "status_reason": r.status_reason,
        "created_ms": r.created_ms,
        "first_audio_ms": r.first_audio_ms,
        "first_text_ms": r.first_text_ms,
        "done_ms": r.done_ms,
        "ttfa_ms": _diff(r.first_audio_ms, r.created_ms),
        "duration_ms": _diff(r.done_ms, r.created_ms),
        "audio_ms": audio_ms,
        "audio_bytes": r.audio_bytes,
        "audio_deltas": r.audio_deltas,
        "text": text,
        "has_function_call": r.has_function_call,
        "model": r.model or model,
        "cost_usd": cost,
        **{k: v for k, v in u.items() if k != "cached_image_tokens"},
    }


def _turn_start(turn: Turn) -> float | None:
    """When the user's turn ended, as SPEC §3 defines the start of v2v."""
    if turn.trigger in VAD_TRIGGERS and turn.speech is not None:
        return turn.speech.stopped_ms
    manual = [t for t in (turn.manual_start_ms, turn.response_create_ms) if t is not None]
    return max(manual) if manual else turn.committed_ms


def _turn_row(turn: Turn, interrupted_turns: set[int], cut_responses: set[Any]) -> dict[str, Any]:
    speech = turn.speech
    start = _turn_start(turn)
    first = turn.responses[0] if turn.responses else None
    audio_resp = next((r for r in turn.responses if r.first_audio_ms is not None), None)
    first_audio = audio_resp.first_audio_ms if audio_resp else None
    typed = turn.trigger == "text"
    # A typed turn has no voice to start from: it gets its own latency, never v2v.
    v2v = None if typed else _diff(first_audio, start)
    vad = turn.trigger in VAD_TRIGGERS
    return {
        "turn": turn.n,
        "item_id": turn.item_id,
        "trigger": turn.trigger,
        "speech_started_ms": speech.started_ms if speech else None,
        "speech_stopped_ms": speech.stopped_ms if speech else None,
        "committed_ms": turn.committed_ms,
        "audio_start_ms": speech.audio_start_ms if speech else None,
        "audio_end_ms": speech.audio_end_ms if speech else None,
        "response_id": first.response_id if first else None,
        "response_status": first.status if first else None,
        "response_created_ms": first.created_ms if first else None,
        "first_audio_ms": first_audio,
        "first_audio_response_id": audio_resp.response_id if audio_resp else None,
        "v2v_ms": v2v,
        "v2v_est_ms": v2v + turn.silence_ms
        if vad and v2v is not None and turn.silence_ms is not None
        else None,
        "text_to_reply_ms": _diff(_first_reply(turn.responses), start) if typed else None,
        "turn_gap_ms": _diff(first.created_ms if first else None, start),
        "ttfa_ms": _diff(first.first_audio_ms, first.created_ms) if first else None,
        "transcript": turn.transcript,
        "transcript_ms": turn.transcript_ms,
        "transcript_after_reply": (
            turn.transcript_ms > first_audio
            if turn.transcript_ms is not None and first_audio is not None
            else None
        ),
        "interrupted": turn.n in interrupted_turns,
        "reply_interrupted": any(r.response_id in cut_responses for r in turn.responses),
        "has_tool_call": any(r.has_function_call for r in turn.responses),
        "n_responses": len(turn.responses),
    }


def _first_reply(responses: list[Response]) -> float | None:
    """The first audio or text of the first of these responses that produced either."""
    for r in responses:
        outs = [x for x in (r.first_audio_ms, r.first_text_ms) if x is not None]
        if outs:
            return min(outs)
    return None


def _interruption_rows(st: SessionState, webrtc: bool) -> list[dict[str, Any]]:
    rows = []
    for row in st.interruptions.values():
        if row.truncate_rejected:
            if row.cancel_ms is None:
                continue  # only a truncate, and the server refused it: no barge-in happened
            row.truncate_ms = row.truncated_by = row.audio_played_ms = None
        resp = row.response
        item = st.items.get(row.item_id) if row.item_id else None
        generated: float | None = None
        if resp is not None and not (webrtc and not resp.audio_deltas):
            audio_bytes = (
                item.audio_bytes if item is not None and item.audio_bytes else resp.audio_bytes
            )
            generated = audio_bytes / resp.bytes_per_ms
        played = row.audio_played_ms
        if generated == 0 and played is None:
            played = 0.0
        unheard = (
            max(generated - played, 0.0) if generated is not None and played is not None else None
        )
        speech = row.speech
        started = speech.started_ms if speech else None
        stops = [t for t in (row.cancel_ms, row.truncate_ms) if t is not None]
        # Where playback stopped, only when the wire shows it: the app's truncate, or the
        # server clearing its WebRTC output buffer.
        audio_stop = row.truncate_ms if row.truncated_by == "client" else None
        if audio_stop is None and resp is not None:
            audio_stop = st.buffer_cleared_ms.get(resp.response_id)
        rows.append(
            {
                "response_id": resp.response_id if resp else None,
                "item_id": row.item_id,
                "turn": speech.turn.n if speech and speech.turn else None,
                "reason": row.reason,
                "speech_started_ms": started,
                "cancel_ms": row.cancel_ms,
                "truncate_ms": row.truncate_ms,
                "truncated_by": row.truncated_by,
                "stop_ms": _diff(min(stops), started) if stops else None,
                "cancel_after_ms": _diff(row.cancel_ms, started),
                "audio_stop_after_ms": _diff(audio_stop, started),
                "audio_generated_ms": generated,
                "audio_played_ms": played,
                "audio_unheard_ms": unheard,
            }
        )
    return rows


def _function_call_rows(st: SessionState, responses: list[Response]) -> list[dict[str, Any]]:
    in_band = [r for r in responses if not r.out_of_band]
    seqs = [r.seq for r in in_band]
    rows = []
    for call in st.function_calls.values():
        followup = None
        if call.output_seq is not None:
            at = bisect.bisect_right(seqs, call.output_seq)
            followup = in_band[at] if at < len(in_band) else None
        turn = call.turn or (call.response.turn if call.response else None)
        followup_audio = followup.first_audio_ms if followup else None
        rows.append(
            {
                "response_id": call.response.response_id if call.response else None,
                "item_id": call.item_id,
                "call_id": call.call_id,
                "name": call.name,
                "arguments": call.arguments,
                "turn": turn.n if turn else None,
                "arguments_done_ms": call.arguments_done_ms,
                "output_ms": call.output_ms,
                "tool_ms": _diff(call.output_ms, call.arguments_done_ms),
                "output": call.output,
                "followup_response_id": followup.response_id if followup else None,
                "followup_first_audio_ms": followup_audio,
                "tool_to_audio_ms": _diff(followup_audio, call.output_ms),
            }
        )
    return rows


def _transcription_rows(
    st: SessionState, first_audio_by_turn: dict[int, float | None]
) -> list[dict[str, Any]]:
    rows = []
    for tr in st.transcriptions.values():
        model = tr.model  # the model in force when its audio was committed
        first_audio = first_audio_by_turn.get(tr.turn.n) if tr.turn else None
        cost = None
        if tr.status == "completed":
            cost = transcription_cost(
                model,
                input_text=tr.input_text_tokens,
                input_audio=tr.input_audio_tokens
                if tr.input_audio_tokens is not None
                else tr.input_tokens,
                output_tokens=tr.output_tokens,
                seconds=_billed_seconds(tr),
            )
        rows.append(
            {
                "item_id": tr.item_id,
                "turn": tr.turn.n if tr.turn else None,
                "status": tr.status,
                "transcript": tr.transcript,
                "error": tr.error,
                "committed_ms": tr.committed_ms,
                "first_delta_ms": tr.first_delta_ms,
                "done_ms": tr.done_ms,
                "latency_ms": _diff(tr.done_ms, tr.committed_ms),
                "after_reply": (
                    tr.done_ms > first_audio
                    if tr.done_ms is not None and first_audio is not None
                    else None
                ),
                "model": model,
                "usage_type": tr.usage_type,
                "input_tokens": tr.input_tokens,
                "output_tokens": tr.output_tokens,
                "audio_seconds": tr.audio_seconds,
                "audio_ms": tr.audio_ms,
                "cost_usd": cost,
            }
        )
    return rows


def _billed_seconds(tr: Transcription) -> float | None:
    """usage.seconds when the event says it, else the duration of the audio the item covers
    (beta whisper-1 events carry no usage)."""
    if tr.audio_seconds is not None:
        return tr.audio_seconds
    return None if tr.audio_ms is None else tr.audio_ms / 1000


def _session_row(
    st: SessionState,
    webrtc: bool,
    responses: list[dict[str, Any]],
    transcriptions: list[dict[str, Any]],
    turns: list[dict[str, Any]],
    interruptions: list[dict[str, Any]],
    errors: list[dict[str, Any]],
    ingest_errors: list[dict[str, Any]],
) -> dict[str, Any]:
    cfg = st.config
    header = st.header
    beta, ga = st.votes["beta"], st.votes["ga"]
    dialect = "beta" if beta > ga else "ga" if ga > beta else "unknown"
    upstream = _upstream(header)
    model = session_model(st)
    # (the header's start only for a file with no events: without timestamps, SPEC §1
    # wants the times NULL, not a time from another clock)
    started_us = st.first_ts_us if st.n_events else _header_start(header)
    ended_us = st.last_ts_us
    billed = [r["cost_usd"] for r in responses if r.get("input_tokens") is not None]
    billed += [t["cost_usd"] for t in transcriptions if t["status"] == "completed"]
    close = st.close or {}
    input_audio_ms = st.input_audio_ms + st.input_audio_bytes / st.input_bytes_per_ms
    in_fmt = cfg.input_format if cfg.input_format_seen or input_audio_ms else None
    out_fmt = (
        cfg.output_format
        if cfg.output_format_seen or any(r["audio_bytes"] for r in responses)
        else None
    )
    total_tokens = [r["total_tokens"] for r in responses if r.get("total_tokens") is not None]
    return {
        "source_file": st.source_file,
        "source": header.get("source", "unknown") if header else "unknown",
        "server_session_id": cfg.server_session_id,
        "upstream": upstream,
        "started_ts": started_us,
        "ended_ts": ended_us,
        "duration_ms": (ended_us - started_us) / 1000 if ended_us and started_us else None,
        "dialect": dialect,
        "transport": "sip" if st.dtmf_events else "webrtc" if webrtc else "websocket",
        "model": model,
        "voice": cfg.voice,
        "turn_detection": cfg.turn_detection,
        "vad_threshold": cfg.vad_threshold,
        "prefix_padding_ms": cfg.prefix_padding_ms,
        "silence_duration_ms": cfg.silence_duration_ms,
        "input_audio_format": in_fmt[0] if in_fmt else None,
        "output_audio_format": out_fmt[0] if out_fmt else None,
        "transcription_model": cfg.transcription_model,
        "n_events": st.n_events,
        "n_unknown_events": st.n_unknown,
        "n_responses": len(responses),
        "n_turns": len(turns),
        "n_interruptions": len(interruptions),
        "n_errors": len(errors),
        "n_ingest_errors": len(ingest_errors),
        "input_audio_ms": input_audio_ms,
        "output_audio_ms": sum(r["audio_ms"] or 0.0 for r in responses),
        "total_tokens": _bigint(sum(total_tokens)),
        "cost_usd": None if any(c is None for c in billed) else sum(billed),
        "cost_usd_known": sum(c for c in billed if c is not None),
        "close_by": close.get("by"),
        "close_code": _close_code(close.get("code")),
        "close_reason": close.get("reason") if isinstance(close.get("reason"), str) else None,
    }


def session_model(st: SessionState) -> str | None:
    """The model the session reported, else the one its URL asked for."""
    return st.config.model or _url_model(_upstream(st.header))


def _upstream(header: dict[str, Any]) -> str | None:
    upstream = header.get("upstream")
    return upstream if isinstance(upstream, str) else None


def _url_model(upstream: str | None) -> str | None:
    if not upstream:
        return None
    query = parse_qs(urlsplit(upstream).query)
    for key in ("model", "deployment"):
        if query.get(key):
            return query[key][0]
    return None


def _header_start(header: dict[str, Any]) -> int | None:
    started = header.get("started_at")
    if not isinstance(started, str):
        return None
    try:
        return int(datetime.fromisoformat(started.replace("Z", "+00:00")).timestamp() * 1_000_000)
    except ValueError:
        return None


def _bigint(value: int) -> int | None:
    """A sum for a BIGINT column, or None if absurd inputs made it too large to store."""
    return value if -(2**63) <= value < 2**63 else None


def _close_code(code: Any) -> int | None:
    """A WebSocket close code (1000-4999 in practice; anything else of the 16-bit range is
    kept too)."""
    if isinstance(code, int) and not isinstance(code, bool) and 0 <= code < 65536:
        return code
    return None

"""Handlers for the user's side: input audio, VAD, commits, user items, transcription."""

from __future__ import annotations

from typing import Any

from rtlens.eventlines import json_text
from rtlens.ingest.fields import get_dict, get_int, get_num, get_str
from rtlens.ingest.state import FunctionCall, Item, SessionState, Speech, Transcription, Turn


def append(st: SessionState, t: float | None, ev: dict[str, Any], audio: int | None) -> None:
    if audio:
        st.input_audio_bytes += audio


def commit_sent(st: SessionState, t: float | None, ev: dict[str, Any], audio: int | None) -> None:
    st.pending_commit = (st.seq, t)
    st.pending_commit_audio_ms = st.appended_audio_ms()


def speech_started(
    st: SessionState, t: float | None, ev: dict[str, Any], audio: int | None
) -> None:
    where = "input_audio_buffer.speech_started"
    speech = Speech(
        seq=st.seq,
        started_ms=t,
        audio_start_ms=get_num(st, ev, "audio_start_ms", where),
        item_id=get_str(st, ev, "item_id", where),
        trigger=st.config.turn_detection or "server_vad",
    )
    st.speech = speech
    st.last_speech = speech


def speech_stopped(
    st: SessionState, t: float | None, ev: dict[str, Any], audio: int | None
) -> None:
    where = "input_audio_buffer.speech_stopped"
    speech = st.speech
    if speech is None:  # recording started mid-speech
        speech = st.speech = st.last_speech = Speech(seq=st.seq, trigger="server_vad")
    speech.stopped_ms, speech.stopped = t, True
    speech.audio_end_ms = get_num(st, ev, "audio_end_ms", where)
    speech.item_id = get_str(st, ev, "item_id", where) or speech.item_id


def timeout_triggered(
    st: SessionState, t: float | None, ev: dict[str, Any], audio: int | None
) -> None:
    where = "input_audio_buffer.timeout_triggered"
    speech = Speech(
        seq=st.seq,
        started_ms=None,
        stopped_ms=t,
        audio_start_ms=get_num(st, ev, "audio_start_ms", where),
        audio_end_ms=get_num(st, ev, "audio_end_ms", where),
        item_id=get_str(st, ev, "item_id", where),
        trigger="timeout",
        stopped=True,
    )
    st.speech = speech
    st.last_speech = speech


def cleared(st: SessionState, t: float | None, ev: dict[str, Any], audio: int | None) -> None:
    st.speech = None  # a speech that never became a turn
    st.buffer_start_audio_ms = st.appended_audio_ms()


def committed(st: SessionState, t: float | None, ev: dict[str, Any], audio: int | None) -> None:
    item_id = get_str(st, ev, "item_id", "input_audio_buffer.committed")
    speech = st.speech
    if speech is not None and speech.item_id not in (None, item_id):
        speech = None
    # The app's commit this answers, if one waits (a server-only log has none).
    commit, st.pending_commit = st.pending_commit, None
    covered = _committed_audio_ms(st, speech, commit is not None)
    # The app committed while the VAD still heard speech (no speech_stopped yet): the app,
    # not the VAD, ended this turn, and its commit starts v2v.
    if speech is not None and (speech.stopped or commit is None):
        turn = _new_turn(st, item_id, speech.trigger, t)
    else:
        turn = _new_turn(st, item_id, "manual", t)
        turn.manual_start_ms = commit[1] if commit is not None else None
    if speech is not None:
        turn.speech = speech
        speech.turn = turn
    st.speech = None
    if st.config.transcription_model and item_id:
        tr = st.transcriptions.setdefault(item_id, Transcription(item_id, turn, t))
        tr.model = st.config.transcription_model  # the model that does this one's work
        tr.audio_ms = covered


def _committed_audio_ms(st: SessionState, speech: Speech | None, by_app: bool) -> float | None:
    """How much user audio the commit put in the item: the VAD segment (`audio_end_ms` -
    `audio_start_ms`) when the VAD made it, else the audio appended since the previous commit
    or clear (up to the app's commit). None when unknown: the server never commits an empty
    buffer, so no audio counted means the recording lacks it (redacted without byte counts,
    or the app's side not recorded)."""
    end = st.pending_commit_audio_ms if by_app else None
    st.pending_commit_audio_ms = None
    if end is None:
        end = st.appended_audio_ms()
    start, st.buffer_start_audio_ms = st.buffer_start_audio_ms, end
    segment = _diff_ms(speech.audio_end_ms, speech.audio_start_ms) if speech is not None else None
    if segment is not None and segment > 0:
        return segment
    covered = end - start
    return covered if covered > 0 else None


def _new_turn(st: SessionState, item_id: str | None, trigger: str, t: float | None) -> Turn:
    turn = Turn(n=len(st.turns) + 1, item_id=item_id, trigger=trigger, committed_ms=t, seq=st.seq)
    turn.silence_ms = st.config.silence_duration_ms
    st.turns.append(turn)
    if item_id:
        st.turn_by_item[item_id] = turn
    st.current_turn = turn
    return turn


def item_added(st: SessionState, t: float | None, ev: dict[str, Any], audio: int | None) -> None:
    """conversation.item.added / .created: user items not from the audio buffer are turns."""
    where = str(ev.get("type"))
    item = get_dict(st, ev, "item", where)
    if item is None:
        return
    item_id = get_str(st, item, "id", where)
    role = get_str(st, item, "role", where)
    kind = get_str(st, item, "type", where)
    if item_id:
        known = st.items.get(item_id)
        if known is None:
            st.items[item_id] = Item(item_id, type=kind, role=role)
    if role != "user" or kind not in (None, "message") or (item_id and item_id in st.turn_by_item):
        return
    content = item.get("content")
    parts = content if isinstance(content, list) else []
    part_types = {p.get("type") for p in parts if isinstance(p, dict)}
    if "input_audio" in part_types and st.speech is not None:
        return  # the buffer's own item; its commit makes the turn
    trigger = "text" if part_types & {"input_text", "text"} else "item"
    turn = _new_turn(st, item_id, trigger, t)
    turn.manual_start_ms = st.last_item_create_sent_ms


def item_create_sent(
    st: SessionState, t: float | None, ev: dict[str, Any], audio: int | None
) -> None:
    """conversation.item.create from the app: user items and function-call outputs."""
    where = "conversation.item.create"
    item = get_dict(st, ev, "item", where)
    if item is None:
        return
    if item.get("type") == "function_call_output":
        call_id = get_str(st, item, "call_id", where)
        if not call_id:
            return
        call = st.function_calls.get(call_id)
        if call is None:
            call = st.function_calls[call_id] = FunctionCall(call_id, None)
        call.output_ms = t
        call.output_seq = st.seq
        output = item.get("output")
        call.output = (json_text(output) or "")[:4096] if output is not None else None
        st.last_output_sent = call
    else:
        st.last_item_create_sent_ms = t


def transcription_delta(
    st: SessionState, t: float | None, ev: dict[str, Any], audio: int | None
) -> None:
    tr = _transcription(st, ev, "conversation.item.input_audio_transcription.delta")
    if tr is not None and tr.first_delta_ms is None:
        tr.first_delta_ms = t


def transcription_completed(
    st: SessionState, t: float | None, ev: dict[str, Any], audio: int | None
) -> None:
    where = "conversation.item.input_audio_transcription.completed"
    tr = _transcription(st, ev, where)
    if tr is None:
        return
    tr.status = "completed"
    tr.done_ms = t
    tr.error = None  # a retry that succeeded after a failure
    tr.transcript = get_str(st, ev, "transcript", where)
    usage = get_dict(st, ev, "usage", where)
    if usage:
        tr.usage_type = get_str(st, usage, "type", where)
        tr.input_tokens = get_int(st, usage, "input_tokens", where)
        tr.output_tokens = get_int(st, usage, "output_tokens", where)
        tr.audio_seconds = get_num(st, usage, "seconds", where)
        details = get_dict(st, usage, "input_token_details", where)
        if details:
            tr.input_text_tokens = get_int(st, details, "text_tokens", where)
            tr.input_audio_tokens = get_int(st, details, "audio_tokens", where)
    if tr.turn is not None:
        tr.turn.transcript = tr.transcript
        tr.turn.transcript_ms = t


def transcription_failed(
    st: SessionState, t: float | None, ev: dict[str, Any], audio: int | None
) -> None:
    where = "conversation.item.input_audio_transcription.failed"
    tr = _transcription(st, ev, where)
    if tr is None:
        return
    tr.status = "failed"
    tr.done_ms = t
    err = get_dict(st, ev, "error", where) or {}
    code, message = err.get("code"), err.get("message")
    tr.error = ": ".join(str(x) for x in (code, message) if x) or "failed"


def _transcription(st: SessionState, ev: dict[str, Any], where: str) -> Transcription | None:
    item_id = get_str(st, ev, "item_id", where)
    if not item_id:
        return None
    tr = st.transcriptions.get(item_id)
    if tr is None:
        turn = st.turn_by_item.get(item_id)
        tr = Transcription(item_id, turn, turn.committed_ms if turn else None)
        tr.model = st.config.transcription_model
        st.transcriptions[item_id] = tr
    return tr


def _diff_ms(end: float | None, start: float | None) -> float | None:
    return None if end is None or start is None else end - start

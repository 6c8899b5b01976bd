"""Handlers for the model's side: responses, their output, usage and function calls."""

from __future__ import annotations

from typing import Any

from rtlens.ingest.audio import parse_format
from rtlens.ingest.fields import get_dict, get_int, get_list, get_str
from rtlens.ingest.handlers.requests import answered_request, cancel_time
from rtlens.ingest.state import (
    FunctionCall,
    Interruption,
    Item,
    Response,
    SessionState,
)


def created(st: SessionState, t: float | None, ev: dict[str, Any], audio: int | None) -> None:
    body = get_dict(st, ev, "response", "response.created")
    response_id = get_str(st, body, "id", "response.created")
    if body is None or not response_id:
        return
    resp = st.responses.get(response_id)
    if resp is None:
        resp = st.responses[response_id] = Response(response_id, st.seq)
    resp.created_ms = t
    resp.model = st.config.model
    resp.bytes_per_ms = st.config.output_format[1]
    fmt = _response_format(body)
    if fmt is not None:
        resp.bytes_per_ms = fmt[1]
    # conversation_id is null for an out-of-band response (when the event carries it)
    out_of_band = body.get("conversation_id") is None if "conversation_id" in body else None
    answered_request(st, resp, out_of_band)
    request = resp.request
    resp.out_of_band = (
        out_of_band if out_of_band is not None else request is not None and request.out_of_band
    )
    previous = st.last_conversation_response
    output = st.last_output_sent
    if (
        not resp.out_of_band
        and output is not None
        and output.output_seq is not None
        and (previous is None or output.output_seq > previous.seq)
    ):
        resp.trigger = "function_call_output"
    elif request is not None:
        resp.trigger = "response.create"
    turn = st.current_turn
    if not resp.out_of_band:
        st.last_conversation_response = resp
        if turn is not None:
            if not turn.responses and request is not None:
                turn.response_create_ms = request.sent_ms  # the start of a manual turn's v2v
            resp.turn = turn
            turn.responses.append(resp)
    st.active = resp
    st.last_response = resp


def _response_format(body: dict[str, Any]) -> tuple[str, float] | None:
    if "output_audio_format" in body:
        return parse_format(body["output_audio_format"])
    audio = body.get("audio")
    if isinstance(audio, dict) and isinstance(audio.get("output"), dict):
        return parse_format(audio["output"].get("format"))
    return None


def audio_delta(st: SessionState, t: float | None, ev: dict[str, Any], audio: int | None) -> None:
    """The hot path: one call per audio chunk, so only counters."""
    response_id = ev.get("response_id")
    resp = st.responses.get(response_id) if type(response_id) is str else None
    if resp is None:
        resp = _unseen_response(st, response_id)
        if resp is None:
            return
    if resp.first_audio_ms is None:
        resp.first_audio_ms = t
    if audio:
        resp.audio_bytes += audio
        item_id = ev.get("item_id")
        item = st.items.get(item_id) if type(item_id) is str else None
        if item is not None:
            item.audio_bytes += audio
    resp.audio_deltas += 1


def _unseen_response(st: SessionState, response_id: object) -> Response | None:
    """A response whose response.created is not in the recording (it started earlier)."""
    if not isinstance(response_id, str):
        return None
    resp = st.responses[response_id] = Response(response_id, st.seq)
    resp.bytes_per_ms = st.config.output_format[1]
    resp.model = st.config.model
    st.last_response = resp
    return resp


def text_delta(st: SessionState, t: float | None, ev: dict[str, Any], audio: int | None) -> None:
    resp = st.response(ev.get("response_id")) or _unseen_response(st, ev.get("response_id"))
    if resp is None:
        return
    if resp.first_text_ms is None:
        resp.first_text_ms = t
    delta = ev.get("delta")
    if isinstance(delta, str):
        resp.text_parts.append(delta)


def text_done(st: SessionState, t: float | None, ev: dict[str, Any], audio: int | None) -> None:
    resp = st.response(ev.get("response_id"))
    if resp is None:
        return
    key = "text" if "text" in ev else "transcript"
    value = get_str(st, ev, key, str(ev.get("type")))
    if value is not None:
        resp.text = value if resp.text is None else resp.text + "\n" + value


def output_item_added(
    st: SessionState, t: float | None, ev: dict[str, Any], audio: int | None
) -> None:
    where = str(ev.get("type"))
    item = get_dict(st, ev, "item", where)
    item_id = get_str(st, item, "id", where)
    if item is None or not item_id:
        return
    resp = st.response(ev.get("response_id"))
    kind = get_str(st, item, "type", where)
    known = st.items.get(item_id)
    if known is None:
        known = st.items[item_id] = Item(item_id)
    known.response = resp or known.response
    known.type = kind or known.type
    known.role = get_str(st, item, "role", where) or known.role
    if resp is not None and kind in (None, "message"):
        resp.audio_item_id = item_id
    if kind == "function_call":
        _function_call(st, item, resp, where)


def output_item_done(
    st: SessionState, t: float | None, ev: dict[str, Any], audio: int | None
) -> None:
    where = str(ev.get("type"))
    item = get_dict(st, ev, "item", where)
    if item is not None and item.get("type") == "function_call":
        _function_call(st, item, st.response(ev.get("response_id")), where)


def _function_call(
    st: SessionState, item: dict[str, Any], resp: Response | None, where: str
) -> FunctionCall | None:
    call_id = get_str(st, item, "call_id", where)
    if not call_id:
        return None
    call = st.function_calls.get(call_id)
    if call is None:
        call = st.function_calls[call_id] = FunctionCall(call_id, resp)
    call.response = call.response or resp
    call.item_id = call.item_id or get_str(st, item, "id", where)
    call.name = call.name or get_str(st, item, "name", where)
    arguments = item.get("arguments")
    if isinstance(arguments, str) and arguments:
        call.arguments = arguments
    if resp is not None:
        resp.has_function_call = True
        call.turn = call.turn or resp.turn
    return call


def arguments_delta(
    st: SessionState, t: float | None, ev: dict[str, Any], audio: int | None
) -> None:
    _function_call(st, ev, st.response(ev.get("response_id")), str(ev.get("type")))


def arguments_done(
    st: SessionState, t: float | None, ev: dict[str, Any], audio: int | None
) -> None:
    where = str(ev.get("type"))
    call = _function_call(st, ev, st.response(ev.get("response_id")), where)
    if call is None:
        return
    call.arguments_done_ms = t
    call.name = get_str(st, ev, "name", where) or call.name
    call.arguments = get_str(st, ev, "arguments", where) or call.arguments
    call.item_id = get_str(st, ev, "item_id", where) or call.item_id


_USAGE_FIELDS = (
    ("total_tokens", None, "total_tokens"),
    ("input_tokens", None, "input_tokens"),
    ("output_tokens", None, "output_tokens"),
    ("cached_tokens", "input_token_details", "cached_tokens"),
    ("input_text_tokens", "input_token_details", "text_tokens"),
    ("input_audio_tokens", "input_token_details", "audio_tokens"),
    ("input_image_tokens", "input_token_details", "image_tokens"),
    ("output_text_tokens", "output_token_details", "text_tokens"),
    ("output_audio_tokens", "output_token_details", "audio_tokens"),
)


def done(st: SessionState, t: float | None, ev: dict[str, Any], audio: int | None) -> None:
    where = "response.done"
    body = get_dict(st, ev, "response", where)
    response_id = get_str(st, body, "id", where)
    if body is None or not response_id:
        return
    resp = st.responses.get(response_id) or _unseen_response(st, response_id)
    assert resp is not None
    resp.done_ms = t
    resp.status = get_str(st, body, "status", where)
    details = get_dict(st, body, "status_details", where) or {}
    resp.status_reason = get_str(st, details, "reason", where)
    if st.active is resp:
        st.active = None
    usage = get_dict(st, body, "usage", where)
    if usage:
        _read_usage(st, resp, usage, where)
    for item in get_list(st, body, "output", where) or []:
        if isinstance(item, dict) and item.get("type") == "function_call":
            _function_call(st, item, resp, where)
    if resp.status == "failed":
        err = get_dict(st, details, "error", where) or {}
        code = err.get("code")
        resp.status_reason = resp.status_reason or (str(code) if code is not None else None)
        st.errors.append(
            {
                "seq": st.seq,
                "t_ms": t,
                "source": "response_failed",
                "type": get_str(st, err, "type", where),
                "code": None if code is None else str(code),
                "message": get_str(st, err, "message", where),
                "response_id": response_id,
            }
        )
    elif resp.status == "cancelled":
        _cancelled(st, resp, t)


def _read_usage(st: SessionState, resp: Response, usage: dict[str, Any], where: str) -> None:
    for name, parent, key in _USAGE_FIELDS:
        source = usage if parent is None else get_dict(st, usage, parent, where)
        resp.usage[name] = get_int(st, source, key, where) if source else None
    details = get_dict(st, usage, "input_token_details", where)
    cached = get_dict(st, details, "cached_tokens_details", where) if details else None
    for name, key in (
        ("cached_text_tokens", "text_tokens"),
        ("cached_audio_tokens", "audio_tokens"),
        ("cached_image_tokens", "image_tokens"),
    ):
        resp.usage[name] = get_int(st, cached, key, where) if cached else None


def _cancelled(st: SessionState, resp: Response, t: float | None) -> None:
    """A cancelled response is a barge-in when user speech caused it (SPEC §3), or when the
    app also truncated its audio (push-to-talk: the user talked over it with no VAD)."""
    resp.cancel_ms = cancel_time(st, resp, t)
    speech = st.last_speech
    spoke_during = speech is not None and speech.seq > resp.seq
    row = st.interruptions.get(resp.response_id)
    if resp.status_reason != "turn_detected" and not spoke_during and row is None:
        return  # cancelled for another reason: visible in responses.status_reason only
    if row is None:
        row = st.interruptions[resp.response_id] = Interruption(
            resp, resp.audio_item_id, "", speech if spoke_during else None
        )
    row.reason = cancel_reason(resp)
    row.cancel_ms = resp.cancel_ms


def cancel_reason(resp: Response) -> str:
    """An interruption's reason when its response ended cancelled."""
    return resp.status_reason or "client_cancelled"

"""Client event handlers: one function per canonical client event, found by dict lookup.

`handle_text` parses and checks a frame (JSON object, known `type` of this dialect, no unknown
top-level fields) before routing it; every `ClientError` a handler raises becomes one `error`
event that echoes the client's `event_id`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from rtlens.catalogue import DIALECT_OF_WIRE, lookup
from rtlens.simulator import errors, timing
from rtlens.simulator.checks import need_number, only_keys
from rtlens.simulator.dialect import apply_update, session_object
from rtlens.simulator.errors import ClientError
from rtlens.simulator.requests import parse_item, parse_response
from rtlens.simulator.session import Session
from rtlens.simulator.shapes import item_object
from rtlens.simulator.turns import append, clear, commit, cut_playback

Handler = Callable[[Session, dict[str, Any]], Awaitable[None]]

# The order the GA server lists them in its `invalid_value` message (capture C6).
SUPPORTED: dict[str, list[str]] = {
    "ga": [
        "session.update",
        "session.close",
        "input_audio_buffer.append",
        "session.input_audio_buffer.append",
        "input_audio_buffer.commit",
        "input_audio_buffer.clear",
        "conversation.item.create",
        "conversation.item.truncate",
        "conversation.item.delete",
        "conversation.item.retrieve",
        "response.create",
        "response.cancel",
    ],
}
# Unconfirmed for beta: the same list without the names only GA has (from the catalogue).
SUPPORTED["beta"] = [
    name for name in SUPPORTED["ga"] if DIALECT_OF_WIRE.get(("client", name)) != "ga"
]
# Accepted on a WebRTC call only (the WS list of capture C6 does not have it).
WEBRTC_ONLY = ["output_audio_buffer.clear"]
FIELDS: dict[str, list[str]] = {
    "session.update": ["session"],
    "input_audio_buffer.append": ["audio"],
    "conversation.item.create": ["previous_item_id", "item"],
    "conversation.item.retrieve": ["item_id"],
    "conversation.item.delete": ["item_id"],
    "conversation.item.truncate": ["item_id", "content_index", "audio_end_ms"],
    "response.create": ["response"],
    "response.cancel": ["response_id"],
}


async def handle_binary(session: Session) -> None:
    await session.fail(errors.binary_frame(), None)


async def handle_text(session: Session, text: str) -> None:
    try:
        event = orjson.loads(text)
    except orjson.JSONDecodeError:
        await session.fail(errors.invalid_json(), None)
        return
    if not isinstance(event, dict):
        await session.fail(errors.not_an_object(), None)
        return
    event_id = event.get("event_id")
    try:
        kind = event.get("type")
        if kind is None:
            raise errors.missing_type()
        spec = lookup("client", kind) if isinstance(kind, str) else None
        supported = SUPPORTED[session.dialect] + (WEBRTC_ONLY if session.media else [])
        if spec is None or kind not in supported:
            raise errors.invalid_value(kind, supported, "type")
        only_keys(event, ["type", "event_id", *FIELDS.get(spec.canonical, [])], "")
        await HANDLERS[spec.canonical](session, event)
    except ClientError as error:
        await session.fail(error, event_id)


# ---- session ------------------------------------------------------------------------------


async def session_update(s: Session, ev: dict[str, Any]) -> None:
    new = apply_update(
        s.cfg, ev.get("session"), s.dialect, has_assistant_audio=s.conv.has_assistant_audio()
    )
    if (new.input_format, new.turn_detection) != (s.cfg.input_format, s.cfg.turn_detection):
        s.buffer.configure(new.input_format, new.turn_detection)
    s.cfg = new
    await s.clock.sleep(s.events.jitter(timing.SESSION_UPDATED))
    await s.emit(s.events, "session.updated", session=session_object(new, s.dialect))


async def session_close(s: Session, ev: dict[str, Any]) -> None:
    await s.ws.close(1000, "")


# ---- conversation items ----------------------------------------------------------------------


async def item_create(s: Session, ev: dict[str, Any]) -> None:
    item = parse_item(ev.get("item"), "item", s.dialect, s.events, s.cfg.input_format)
    if s.conv.get(item.id) is not None:
        raise ClientError(f"Item with id '{item.id}' already exists.", "invalid_value", "item.id")
    try:
        previous = s.conv.add(item, ev.get("previous_item_id"))
    except KeyError:
        raise ClientError(
            f"Previous item with id '{ev.get('previous_item_id')}' not found.",
            "invalid_value",
            "previous_item_id",
        ) from None
    await s.clock.sleep(s.events.jitter(timing.CLIENT_REPLY))
    await s.item_added(s.events, item, previous)
    if item.role == "user":
        s.user_turns += 1


async def item_retrieve(s: Session, ev: dict[str, Any]) -> None:
    item = s.conv.get(ev.get("item_id"))
    if item is None:
        raise errors.no_such_item("retrieve", ev.get("item_id"))
    await s.clock.sleep(s.events.jitter(timing.CLIENT_REPLY))
    await s.emit(
        s.events, "conversation.item.retrieved", item=item_object(item, s.dialect, with_audio=True)
    )


async def item_delete(s: Session, ev: dict[str, Any]) -> None:
    if not s.conv.delete(ev.get("item_id")):  # type: ignore[arg-type]
        raise errors.no_such_item("delete", ev.get("item_id"))
    await s.clock.sleep(s.events.jitter(timing.CLIENT_REPLY))
    await s.emit(s.events, "conversation.item.deleted", item_id=ev["item_id"])


async def item_truncate(s: Session, ev: dict[str, Any]) -> None:
    item = s.conv.get(ev.get("item_id"))
    if item is None:
        raise errors.no_such_item("truncate", ev.get("item_id"))
    content_index = int(need_number(ev.get("content_index", 0), "content_index", 0, integer=True))
    end_ms = int(need_number(ev.get("audio_end_ms"), "audio_end_ms", 0, integer=True))
    part = item.parts[content_index] if content_index < len(item.parts) else None
    if item.role != "assistant" or part is None or part.kind != "output_audio" or not part.audio:
        raise errors.not_audio_item()
    if end_ms > round(part.audio_ms):
        raise errors.audio_too_short(round(part.audio_ms), end_ms)
    part.truncate(end_ms)
    await s.clock.sleep(s.events.jitter(timing.CLIENT_REPLY))
    await s.emit(
        s.events,
        "conversation.item.truncated",
        item_id=item.id,
        content_index=content_index,
        audio_end_ms=end_ms,
    )


async def output_audio_clear(s: Session, ev: dict[str, Any]) -> None:
    await cut_playback(s, cancel=False)


# ---- responses ---------------------------------------------------------------------------------


async def response_create(s: Session, ev: dict[str, Any]) -> None:
    if s.active is not None:
        raise errors.active_response(s.active.id)
    s.start_response(parse_response(ev.get("response"), s.cfg, s.dialect, s.conv, s.events))


async def response_cancel(s: Session, ev: dict[str, Any]) -> None:
    wanted = ev.get("response_id")
    if s.active is None or (wanted is not None and wanted != s.active.id):
        raise errors.cancel_not_active()
    await s.clock.sleep(s.events.jitter(timing.CLIENT_REPLY))
    if s.active is not None:
        await s.active.cancel("client_cancelled")


HANDLERS: dict[str, Handler] = {
    "session.update": session_update,
    "session.close": session_close,
    "input_audio_buffer.append": append,
    "input_audio_buffer.commit": commit,
    "input_audio_buffer.clear": clear,
    "conversation.item.create": item_create,
    "conversation.item.retrieve": item_retrieve,
    "conversation.item.delete": item_delete,
    "conversation.item.truncate": item_truncate,
    "response.create": response_create,
    "response.cancel": response_cancel,
    "output_audio_buffer.clear": output_audio_clear,
}

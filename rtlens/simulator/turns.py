"""Input-audio handlers: appends through the server VAD, manual commits, clears.

A VAD `speech_started` during a response with `interrupt_response` cancels it before the next
frame is read; a `speech_stopped` commits the buffer up to `audio_end_ms`, announces the user
item and, with `create_response`, starts a response.

On WebRTC the audio comes from the call's track (`feed_audio`), and a barge-in while a reply is
playing is handled by the server itself (protocol §9b): `output_audio_buffer.cleared`, the
cancel's done events and `response.done` (if the response was still running), then
`conversation.item.truncated` at the ms actually played, with no client truncate.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from rtlens.simulator import audio, errors, timing
from rtlens.simulator.checks import need_str
from rtlens.simulator.conversation import Item, Part
from rtlens.simulator.errors import ClientError
from rtlens.simulator.requests import parse_response
from rtlens.simulator.session import Session


async def append(s: Session, ev: dict[str, Any]) -> None:
    try:
        data = base64.b64decode(need_str(ev.get("audio", ""), "audio"), validate=True)
    except (binascii.Error, ValueError):
        raise ClientError(
            "Invalid 'audio': expected base64-encoded audio.", "invalid_value", "audio"
        ) from None
    await feed(s, data)


async def feed_audio(s: Session, pcm16: bytes) -> None:
    """Caller audio from a WebRTC track (pcm16, 24 kHz), in the session's input format."""
    fmt = s.buffer.fmt
    if fmt != "pcm16":
        samples = audio.decode("pcm16", pcm16)
        step = audio.RATES["pcm16"] // audio.RATES[fmt]
        pcm16 = audio.encode(fmt, samples[::step])
    await feed(s, pcm16)


async def feed(s: Session, data: bytes) -> None:
    """Append input audio and act on the VAD events it completes."""
    for vad in s.buffer.append(data):
        await s.clock.sleep(s.events.jitter(timing.VAD_PROCESSING))
        if vad.kind == "speech_started":
            s.buffer.speech_item_id = s.events.item_id()
            await s.emit(
                s.events,
                "input_audio_buffer.speech_started",
                audio_start_ms=vad.audio_ms,
                item_id=s.buffer.speech_item_id,
            )
            td = s.cfg.turn_detection or {}
            if not td.get("interrupt_response", True):
                continue
            if s.media is not None and s.media.playing() is not None:
                await cut_playback(s)
            elif s.active is not None:
                await s.active.cancel("turn_detected")
        else:
            item_id = s.buffer.speech_item_id or s.events.item_id()
            await s.emit(
                s.events,
                "input_audio_buffer.speech_stopped",
                audio_end_ms=vad.audio_ms,
                item_id=item_id,
            )
            data_taken, ms = s.buffer.take(vad.audio_ms)
            await _commit(s, data_taken, ms, item_id)
            td = s.cfg.turn_detection or {}
            if td.get("create_response", True) and s.active is None:
                s.start_response(parse_response(None, s.cfg, s.dialect, s.conv, s.events))


async def cut_playback(s: Session, *, cancel: bool = True) -> None:
    """Stop the reply being played (WebRTC), as the server does on a barge-in; `cancel`
    also cancels its response if it is still running (a client `output_audio_buffer.clear`
    does not: the client sends `response.cancel` for that)."""
    cut = s.media.clear() if s.media is not None else None
    if cut is None:
        return
    await s.emit(
        s.events,
        "output_audio_buffer.cleared",
        event_id=s.events.buffer_event_id(),
        response_id=cut.response_id,
    )
    if cancel and s.active is not None:  # the one playing, or a newer one not heard yet
        await s.active.cancel("turn_detected")
    item = s.conv.get(cut.item_id)
    part = item.audio_part if item is not None else None
    if item is None or part is None:
        return
    end_ms = min(round(cut.played_ms), round(part.audio_ms))
    part.truncate(end_ms)
    await s.emit(
        s.events,
        "conversation.item.truncated",
        item_id=item.id,
        content_index=item.parts.index(part),
        audio_end_ms=end_ms,
    )


async def _commit(s: Session, data: bytes, ms: float, item_id: str) -> None:
    part = Part("input_audio", None, bytearray(data), ms, s.buffer.fmt)
    item = Item(item_id, "message", role="user", parts=[part])
    previous = s.conv.add(item)
    s.buffer.speech_item_id = None
    await s.emit(
        s.events, "input_audio_buffer.committed", previous_item_id=previous, item_id=item_id
    )
    await s.item_added(s.events, item, previous)
    s.user_turns += 1
    s.transcribe(item)


async def commit(s: Session, ev: dict[str, Any]) -> None:
    if s.buffer.buffered_ms < 100:
        raise errors.commit_empty(s.buffer.buffered_ms)
    item_id = s.buffer.speech_item_id or s.events.item_id()
    data, ms = s.buffer.take()
    if s.buffer.vad is not None:
        s.buffer.vad.in_speech = False
    await s.clock.sleep(s.events.jitter(timing.MANUAL_COMMIT))
    await _commit(s, data, ms, item_id)


async def clear(s: Session, ev: dict[str, Any]) -> None:
    s.buffer.clear()
    await s.clock.sleep(s.events.jitter(timing.CLIENT_REPLY))
    await s.emit(s.events, "input_audio_buffer.cleared")

"""Stream one output item of a response: a spoken/text message, or a function call.

Audio replies interleave transcript deltas (which run slightly ahead, as on the real service)
with audio deltas whose durations grow (100, 100, 150, 200, ... 500 ms) and which are produced
2.2-3.2× faster than real time (on WebRTC the audio goes to the call's track, not deltas).
Text replies and function-call arguments stream in small pieces a few ms apart. When the
response is interrupted (cancel, scripted failure, output token cap) the item still gets its
trailing done events, with status `incomplete`.
"""

from __future__ import annotations

import base64
import itertools
from typing import TYPE_CHECKING

from rtlens.simulator import audio, timing
from rtlens.simulator.conversation import Item, Part
from rtlens.simulator.shapes import item_object, stream_part
from rtlens.simulator.transcriber import split_words

if TYPE_CHECKING:
    from rtlens.simulator.responder import Response

TRANSCRIPT_LEAD_MS = 250.0


async def _open(resp: Response, item: Item, index: int) -> None:
    resp.items.append(item)
    await resp.emit(
        "response.output_item.added",
        response_id=resp.id,
        output_index=index,
        item=item_object(item, resp.dialect),
    )
    if resp.in_conversation:
        previous = resp.session.conv.add(item)
        await resp.emit(
            "conversation.item.added",
            previous_item_id=previous,
            item=item_object(item, resp.dialect),
        )


async def _close(resp: Response, item: Item, index: int) -> None:
    item.status = "incomplete" if resp.reason else "completed"
    if resp.in_conversation and resp.dialect == "ga" and item in resp.session.conv.items:
        await resp.emit(
            "conversation.item.done",
            previous_item_id=resp.session.conv.previous_of(item),
            item=item_object(item, resp.dialect),
        )
    await resp.emit(
        "response.output_item.done",
        response_id=resp.id,
        output_index=index,
        item=item_object(item, resp.dialect),
    )


async def stream_message(resp: Response, text: str, index: int) -> None:
    item = Item(resp.stream.item_id(), "message", role="assistant", status="in_progress")
    await _open(resp, item, index)
    kind = "output_audio" if resp.params.audio_out else "output_text"
    part = Part(kind, "", audio_format=resp.params.output_format)
    item.parts.append(part)
    ids = {"response_id": resp.id, "item_id": item.id, "output_index": index, "content_index": 0}
    await resp.emit("response.content_part.added", **ids, part=stream_part(part))
    if kind == "output_audio":
        await _stream_audio(resp, part, text, ids)
    else:
        await _stream_text(resp, part, text, ids)
    if kind == "output_audio":
        await resp.emit("response.output_audio.done", **ids)
        await resp.emit("response.output_audio_transcript.done", **ids, transcript=part.text)
    else:
        await resp.emit("response.output_text.done", **ids, text=part.text)
    await resp.emit("response.content_part.done", **ids, part=stream_part(part))
    await _close(resp, item, index)


async def _stream_audio(resp: Response, part: Part, text: str, ids: dict[str, object]) -> None:
    fmt = part.audio_format
    voice = audio.assistant_voice(text, fmt, resp.stream)
    total_ms = audio.duration_ms(fmt, len(voice))
    words = split_words(text)
    starts = list(itertools.accumulate((len(w) for w in words), initial=0))
    word_ms = [total_ms * s / max(1, len(text)) for s in starts[:-1]]
    speedup = resp.stream.jitter(timing.GENERATION_SPEEDUP)
    sizes = itertools.chain(timing.AUDIO_CHUNK_MS, itertools.repeat(timing.AUDIO_CHUNK_MS[-1]))
    sent_words = 0
    pos_ms = 0.0
    width = audio.BYTES_PER_SAMPLE[fmt]
    for n, chunk_ms in enumerate(sizes):
        if pos_ms >= total_ms:
            break
        delay = resp.stream.jitter(timing.FIRST_DELTA) if n == 0 else chunk_ms / speedup
        if await resp.pause(delay):
            return
        end_ms = min(total_ms, pos_ms + chunk_ms)
        while sent_words < len(words) and word_ms[sent_words] < end_ms + TRANSCRIPT_LEAD_MS:
            delta = words[sent_words]
            sent_words += 1
            part.text = (part.text or "") + delta
            await resp.emit(
                "response.output_audio_transcript.delta", **ids, delta=delta, **resp.obfuscation()
            )
        lo = int(pos_ms * audio.bytes_per_ms(fmt)) // width * width
        hi = (
            len(voice)
            if end_ms >= total_ms
            else int(end_ms * audio.bytes_per_ms(fmt)) // width * width
        )
        chunk = voice[lo:hi]
        part.audio += chunk
        part.audio_ms = audio.duration_ms(fmt, len(part.audio))
        pos_ms = end_ms
        media = resp.session.media
        if media is not None:  # WebRTC: the audio rides the media track, no deltas
            media.play(resp.id, str(ids["item_id"]), bytes(chunk), fmt)
        else:
            await resp.emit(
                "response.output_audio.delta", **ids, delta=base64.b64encode(chunk).decode()
            )
        if await resp.after_chunk():
            return


async def _stream_text(resp: Response, part: Part, text: str, ids: dict[str, object]) -> None:
    for n, delta in enumerate(split_words(text)):
        delay = resp.stream.jitter(timing.FIRST_DELTA if n == 0 else timing.TEXT_DELTA_GAP)
        if await resp.pause(delay):
            return
        part.text = (part.text or "") + delta
        await resp.emit("response.output_text.delta", **ids, delta=delta, **resp.obfuscation())
        if await resp.after_chunk():
            return


async def stream_function_call(
    resp: Response, tool: dict[str, object], arguments: str, index: int
) -> None:
    item = Item(
        resp.stream.item_id(),
        "function_call",
        status="in_progress",
        name=str(tool["name"]),
        call_id=resp.stream.call_id(),
    )
    await _open(resp, item, index)
    ids = {
        "response_id": resp.id,
        "item_id": item.id,
        "output_index": index,
        "call_id": item.call_id,
    }
    pos = 0
    while pos < len(arguments):
        if await resp.pause(resp.stream.jitter(timing.ARGUMENT_DELTA_GAP)):
            break
        step = resp.stream.randint(3, 8)
        delta = arguments[pos : pos + step]
        pos += step
        item.arguments += delta
        await resp.emit("response.function_call_arguments.delta", **ids, delta=delta)
        if await resp.after_chunk():
            break
    if not resp.reason:
        await resp.emit(
            "response.function_call_arguments.done", **ids, name=item.name, arguments=item.arguments
        )
    await _close(resp, item, index)

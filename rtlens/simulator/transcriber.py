"""Input audio transcription: the `…input_audio_transcription.*` events for one user item.

It runs beside the response, as on the real service: deltas about 1.2 s after the commit and
`completed` ~0.2 s later (capture C6), so it often lands after the reply has started. whisper-1
sends one delta holding the whole transcript (C1); other models stream word by word with GA
`obfuscation` padding (C6). GA `completed` carries `usage` ({type: tokens} or, for whisper-1,
{type: duration}); beta `completed` has none (C1, whisper-1, May 2025). The transcript is a
canned sentence: the simulator does not recognise speech.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING

from rtlens.simulator import canned, timing
from rtlens.simulator.conversation import Item
from rtlens.simulator.usage import transcription_usage

if TYPE_CHECKING:
    from rtlens.simulator.session import Session

WORDS = re.compile(r"\s*[\w'’-]+|\s*[^\w\s]")


def split_words(text: str) -> list[str]:
    return WORDS.findall(text) or [text]


async def transcribe(session: Session, item: Item, index: int) -> None:
    stream = session.streams(f"transcription:{index}")
    settings = session.cfg.transcription or {}
    model = settings.get("model", "whisper-1")
    scenario = session.scenario
    ga = session.dialect == "ga"
    part = item.audio_part
    audio_ms = part.audio_ms if part else 0.0
    await session.clock.sleep(stream.jitter(timing.TRANSCRIPTION_FIRST_DELTA))
    if scenario.fail_transcription_every and index % scenario.fail_transcription_every == 0:
        error = {
            "type": "transcription_error",
            "code": "audio_unintelligible",
            "message": "Audio is unintelligible.",
            "param": None,
        }
        await session.emit(
            stream,
            "conversation.item.input_audio_transcription.failed",
            item_id=item.id,
            content_index=0,
            error=error,
        )
        return
    text = canned.user_transcript(stream)
    deltas = [text] if model == "whisper-1" else split_words(text)
    for n, delta in enumerate(deltas):
        if n:
            await session.clock.sleep(stream.jitter(timing.TRANSCRIPTION_DELTA_GAP))
        extra = {"obfuscation": stream.obfuscation()} if ga else {}
        await session.emit(
            stream,
            "conversation.item.input_audio_transcription.delta",
            item_id=item.id,
            content_index=0,
            delta=delta,
            **extra,
        )
    await session.clock.sleep(stream.jitter(timing.TRANSCRIPTION_COMPLETED))
    if part is not None:
        part.text = text
    fields: dict[str, object] = {"item_id": item.id, "content_index": 0, "transcript": text}
    if ga:
        fields["usage"] = (
            {"type": "duration", "seconds": math.ceil(audio_ms / 1000)}
            if model == "whisper-1"
            else transcription_usage(audio_ms, text)
        )
    await session.emit(stream, "conversation.item.input_audio_transcription.completed", **fields)

"""The conversation: ordered items, and what they cost as model input.

Items are dialect-free: content parts use neutral kinds (`input_audio`, `input_text`,
`output_audio`, `output_text`) that `shapes.py` renders per dialect. An item remembers its
audio (bytes and duration) so `conversation.item.retrieve` can return it and
`conversation.item.truncate` can check `audio_end_ms` against what was really generated.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from rtlens.simulator import audio
from rtlens.simulator.usage import TRANSCRIPT_OVERHEAD_TOKENS, Tokens, audio_tokens, text_tokens

ITEM_OVERHEAD_TOKENS = 4
PROMPT_OVERHEAD_TOKENS = 24


@dataclass
class Part:
    kind: str  # input_audio | input_text | output_audio | output_text
    text: str | None = None  # text, or the transcript of an audio part
    audio: bytearray = field(default_factory=bytearray)
    audio_ms: float = 0.0
    audio_format: str = "pcm16"

    def truncate(self, end_ms: int) -> None:
        """Keep the first `end_ms` of audio, and the transcript words spoken by then."""
        width = audio.BYTES_PER_SAMPLE[self.audio_format]
        keep = int(end_ms * audio.bytes_per_ms(self.audio_format)) // width * width
        if self.text and self.audio_ms:
            cut = round(len(self.text) * end_ms / self.audio_ms)
            self.text = self.text[:cut].rsplit(" ", 1)[0] if cut < len(self.text) else self.text
        del self.audio[keep:]
        self.audio_ms = float(end_ms)


@dataclass
class Item:
    id: str
    type: str  # message | function_call | function_call_output
    role: str | None = None
    status: str = "completed"
    parts: list[Part] = field(default_factory=list)
    name: str | None = None
    call_id: str | None = None
    arguments: str = ""
    output: str = ""

    @property
    def audio_part(self) -> Part | None:
        return next((p for p in self.parts if p.kind.endswith("audio")), None)

    def tokens(self) -> Tokens:
        """What this item costs when it is part of a response's input."""
        tokens = Tokens(ITEM_OVERHEAD_TOKENS, 0)
        if self.type == "function_call":
            return tokens + Tokens(text_tokens((self.name or "") + self.arguments), 0)
        if self.type == "function_call_output":
            return tokens + Tokens(text_tokens(self.output), 0)
        for part in self.parts:
            if part.kind == "input_audio":
                tokens += Tokens(0, audio_tokens(part.audio_ms))
            elif part.kind == "output_audio":
                transcript = text_tokens(part.text or "")
                tokens += Tokens(
                    transcript + TRANSCRIPT_OVERHEAD_TOKENS, audio_tokens(part.audio_ms)
                )
            else:
                tokens += Tokens(text_tokens(part.text or ""), 0)
        return tokens


def prompt_tokens(instructions: str, tools: list[dict[str, Any]]) -> Tokens:
    """The fixed part of every response's input: system prompt, instructions and tools."""
    tool_text = json.dumps(tools) if tools else ""
    return Tokens(PROMPT_OVERHEAD_TOKENS + text_tokens(instructions) + text_tokens(tool_text), 0)


class Conversation:
    """The default conversation of a session (`conv_…`)."""

    def __init__(self, conversation_id: str) -> None:
        self.id = conversation_id
        self.items: list[Item] = []

    def get(self, item_id: Any) -> Item | None:
        return next((i for i in self.items if i.id == item_id), None)

    @property
    def last_id(self) -> str | None:
        return self.items[-1].id if self.items else None

    def add(self, item: Item, previous_item_id: str | None = None) -> str | None:
        """Insert `item` after `previous_item_id` ("root" = first; None = last).

        Returns the id of the item now before it (the event's `previous_item_id`).
        """
        if previous_item_id is None:
            previous = self.last_id
            self.items.append(item)
            return previous
        if previous_item_id == "root":
            self.items.insert(0, item)
            return None
        for index, existing in enumerate(self.items):
            if existing.id == previous_item_id:
                self.items.insert(index + 1, item)
                return existing.id
        raise KeyError(previous_item_id)

    def previous_of(self, item: Item) -> str | None:
        index = self.items.index(item)
        return self.items[index - 1].id if index else None

    def delete(self, item_id: str) -> bool:
        item = self.get(item_id)
        if item is None:
            return False
        self.items.remove(item)
        return True

    def tokens(self) -> Tokens:
        total = Tokens()
        for item in self.items:
            total += item.tokens()
        return total

    def has_assistant_audio(self) -> bool:
        return any(p.kind == "output_audio" and p.audio_ms > 0 for i in self.items for p in i.parts)

"""Cost from usage and a price table kept as data (`rtlens/data/prices.json`).

Realtime usage splits input into text, audio and image tokens, and `cached_tokens` is a
*subset* of input tokens, itself split by `cached_tokens_details`. So each modality's input
cost is (fresh tokens x input price) + (cached tokens x cached price); output is text and
audio at their output prices. Older (Oct 2024) usage has no cached split: the cached tokens
are then spread over text and audio in proportion to their input tokens. A model that is not
in the table (for example an Azure deployment name) gets no cost (NULL), never a guess.
"""

from __future__ import annotations

import json
import os
import re
from functools import cache
from pathlib import Path
from typing import Any

_SNAPSHOT_DATE = re.compile(r"-\d{4}-\d{2}-\d{2}$")
PER_MILLION = 1_000_000


@cache
def price_table() -> dict[str, Any]:
    override = os.environ.get("RTLENS_PRICES")
    if override:
        with Path(override).open(encoding="utf-8") as fh:
            return dict(json.load(fh))
    # Beside the package's modules, read by path: `importlib.resources` costs each ingest
    # worker ~7 ms to import, more than the whole table takes to read.
    text = (Path(__file__).parent.parent / "data" / "prices.json").read_text(encoding="utf-8")
    return dict(json.loads(text))


def prices_for(kind: str, model: str | None) -> dict[str, float] | None:
    """The price entry of a model (`kind`: realtime or transcription), or None."""
    return _prices(kind, model)


def _prices(kind: str, model: str | None) -> dict[str, float] | None:
    if not model:
        return None
    table = price_table()[kind]
    found = table.get(model)
    if found is None:
        found = table.get(_SNAPSHOT_DATE.sub("", model))
    return found


def response_cost(
    model: str | None,
    *,
    input_tokens: int | None,
    output_tokens: int | None,
    input_text: int | None,
    input_audio: int | None,
    input_image: int | None,
    cached: int | None,
    cached_text: int | None,
    cached_audio: int | None,
    cached_image: int | None,
    output_text: int | None,
    output_audio: int | None,
) -> float | None:
    """USD for one response's usage, or None if the model has no price or usage is missing.
    Usage with no per-modality details costs 0 if it counts no tokens (a cancelled response
    may report only zero totals), else it cannot be priced (None)."""
    prices = _prices("realtime", model)
    if prices is None:
        return None
    if input_text is None and input_audio is None and output_text is None:
        return 0.0 if input_tokens == 0 and output_tokens == 0 else None
    in_text, in_audio, in_image = input_text or 0, input_audio or 0, input_image or 0
    if cached_text is None and cached_audio is None and cached_image is None and cached:
        fresh_total = in_text + in_audio + in_image
        cached_text = round(cached * in_text / fresh_total) if fresh_total else 0
        cached_image = round(cached * in_image / fresh_total) if fresh_total else 0
        cached_audio = cached - cached_text - cached_image
    c_text, c_audio, c_image = cached_text or 0, cached_audio or 0, cached_image or 0
    usd = (
        max(in_text - c_text, 0) * prices["text_in"]
        + c_text * prices["text_cached"]
        + max(in_audio - c_audio, 0) * prices["audio_in"]
        + c_audio * prices["audio_cached"]
        + max(in_image - c_image, 0) * prices.get("image_in", prices["text_in"])
        + c_image * prices.get("image_cached", prices["text_cached"])
        + (output_text or 0) * prices["text_out"]
        + (output_audio or 0) * prices["audio_out"]
    )
    return usd / PER_MILLION


def transcription_cost(
    model: str | None,
    *,
    input_text: int | None,
    input_audio: int | None,
    output_tokens: int | None,
    seconds: float | None,
) -> float | None:
    """USD for one input transcription (billed separately from the realtime model)."""
    prices = _prices("transcription", model)
    if prices is None:
        return None
    if "per_minute" in prices:
        return None if seconds is None else seconds / 60 * prices["per_minute"]
    if input_audio is None and output_tokens is None:
        return None
    usd = (
        (input_text or 0) * prices["text_in"]
        + (input_audio or 0) * prices["audio_in"]
        + (output_tokens or 0) * prices["text_out"]
    )
    return usd / PER_MILLION

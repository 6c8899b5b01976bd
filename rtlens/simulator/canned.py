"""What the simulated model "says": canned replies, user transcripts and tool arguments.

The simulator does not understand audio. It picks texts from small fixed sets with a seeded
stream, so a session reads naturally (a customer-service assistant on the phone) and the
same seed gives the same words. Tool-call arguments are built from the tool's JSON-schema
`parameters`, so any tool an app configures gets well-formed arguments.
"""

from __future__ import annotations

import json
import random
from typing import Any

REPLIES: tuple[str, ...] = (
    "Sure, I can help with that.",
    "Of course! Could you tell me a little more about what you need?",
    "Got it. Give me one second while I pull that up.",
    "Thanks for waiting. Your order shipped yesterday and should arrive on Thursday.",
    "Happy to help. The store opens at nine and closes at six on weekdays.",
    "I understand. I've made a note of that, and someone from the team will follow up "
    "by email within a day.",
    "Great question! The basic plan includes two users and five gigabytes of storage, and "
    "you can upgrade at any time from your account page.",
    "No problem at all. I've moved your appointment to Tuesday at three in the afternoon. "
    "You'll get a confirmation text in a moment. Is there anything else I can do for you?",
    "Let me walk you through it. First, open the settings menu. Then choose notifications, "
    "and switch off the ones you don't want. It only takes a minute, and you can turn them "
    "back on whenever you like.",
    "Absolutely. For a table of four on Friday evening I have seven fifteen or eight thirty "
    "available. Which one works better for you?",
)

TOOL_FOLLOW_UPS: tuple[str, ...] = (
    "All done. I've taken care of that for you.",
    "I checked, and everything looks good on your account.",
    "Here's what I found: it's sunny and twenty-two degrees, with a light breeze this afternoon.",
    "That's booked. You'll receive a confirmation shortly.",
)

TOOL_PREAMBLES: tuple[str, ...] = (
    "Let me check that for you.",
    "One moment while I look that up.",
)

USER_TRANSCRIPTS: tuple[str, ...] = (
    "Hi, I'd like to check on my order.",
    "What time do you open tomorrow?",
    "Can you move my appointment to next week?",
    "What's the weather going to be like this afternoon?",
    "I need a table for four on Friday.",
    "How do I turn off these notifications?",
    "Actually, never mind, that's fine.",
    "Wait, sorry, can I ask something else?",
    "Yes, that works for me.",
    "Thanks, that's all I needed.",
)

_STRING_HINTS: dict[str, str] = {
    "location": "Paris, France",
    "city": "Paris",
    "date": "2026-05-14",
    "time": "19:30",
    "name": "Alex Morgan",
    "email": "alex@example.com",
    "phone": "+1 555 0100",
    "order": "A1027",
    "reason": "customer asked for help",
    "query": "opening hours",
    "unit": "celsius",
}


def reply_text(rng: random.Random, *, after_tool: bool = False) -> str:
    return rng.choice(TOOL_FOLLOW_UPS if after_tool else REPLIES)


def user_transcript(rng: random.Random) -> str:
    return rng.choice(USER_TRANSCRIPTS)


def _value(name: str, schema: dict[str, Any], rng: random.Random, depth: int) -> Any:
    if schema.get("enum"):
        return rng.choice(list(schema["enum"]))
    kind = schema.get("type", "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind == "object":
        return _object(schema, rng, depth + 1)
    if kind == "array":
        return [_value(name, schema.get("items") or {}, rng, depth + 1)]
    if kind == "integer":
        return rng.randint(int(schema.get("minimum", 1)), int(schema.get("maximum", 8)))
    if kind == "number":
        return round(rng.uniform(float(schema.get("minimum", 1)), 100.0), 1)
    if kind == "boolean":
        return True
    lowered = name.lower()
    for hint, value in _STRING_HINTS.items():
        if hint in lowered:
            return value
    return f"example {lowered or 'value'}"


def _object(schema: dict[str, Any], rng: random.Random, depth: int) -> dict[str, Any]:
    if depth > 4:
        return {}
    props: dict[str, Any] = schema.get("properties") or {}
    required = set(schema.get("required") or props)
    return {k: _value(k, v or {}, rng, depth) for k, v in props.items() if k in required}


def tool_arguments(tool: dict[str, Any], rng: random.Random) -> str:
    """JSON arguments for `tool` (a function tool definition), as the model streams them."""
    params = tool.get("parameters") or {}
    args = _object(params, rng, 0) if isinstance(params, dict) else {}
    return json.dumps(args, separators=(",", ":"))

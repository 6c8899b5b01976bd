"""Routing: canonical event name -> handler. A dict lookup, not an if-chain.

Every handler has the signature `(state, t_ms, event, audio_bytes) -> None`. Events whose
catalogue entry feeds no table beyond `events` have no handler. `tests/test_catalogue.py`
checks that this table and the catalogue's `feeds` agree.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rtlens.ingest.handlers import interruptions, requests, responses, session, turns
from rtlens.ingest.state import SessionState

Handler = Callable[[SessionState, "float | None", dict[str, Any], "int | None"], None]

HANDLERS: dict[str, Handler] = {
    # session, errors, rate limits
    "session.created": session.session_object,
    "session.updated": session.session_object,
    "session.update": session.update_sent,
    "error": session.error,
    "rate_limits.updated": session.rate_limits,
    # user side
    "input_audio_buffer.append": turns.append,
    "input_audio_buffer.commit": turns.commit_sent,
    "input_audio_buffer.speech_started": turns.speech_started,
    "input_audio_buffer.speech_stopped": turns.speech_stopped,
    "input_audio_buffer.timeout_triggered": turns.timeout_triggered,
    "input_audio_buffer.cleared": turns.cleared,
    "input_audio_buffer.committed": turns.committed,
    "conversation.item.added": turns.item_added,
    "conversation.item.create": turns.item_create_sent,
    "conversation.item.input_audio_transcription.delta": turns.transcription_delta,
    "conversation.item.input_audio_transcription.completed": turns.transcription_completed,
    "conversation.item.input_audio_transcription.failed": turns.transcription_failed,
    # model side
    "response.create": requests.create_sent,
    "response.cancel": requests.cancel_sent,
    "response.created": responses.created,
    "response.output_item.added": responses.output_item_added,
    "response.output_item.done": responses.output_item_done,
    "response.output_audio.delta": responses.audio_delta,
    "response.output_text.delta": responses.text_delta,
    "response.output_audio_transcript.delta": responses.text_delta,
    "response.output_text.done": responses.text_done,
    "response.output_audio_transcript.done": responses.text_done,
    "response.function_call_arguments.delta": responses.arguments_delta,
    "response.function_call_arguments.done": responses.arguments_done,
    "response.done": responses.done,
    # barge-ins and the WebRTC output buffer
    "conversation.item.truncate": interruptions.truncate_sent,
    "conversation.item.truncated": interruptions.truncated,
    "output_audio_buffer.started": interruptions.buffer_started,
    "output_audio_buffer.stopped": interruptions.buffer_stopped,
    "output_audio_buffer.cleared": interruptions.buffer_stopped,
    "input_audio_buffer.dtmf_event_received": interruptions.dtmf,
}

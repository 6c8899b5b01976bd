"""The event catalogue: every Realtime event of both dialects and both directions, as data.

This table is the single place where beta and GA differ. Everything else in rtlens (the
normalizer's routing, the simulator's event names, `docs/events.md`) looks names up here:

- `canonical` is the dialect-independent name rtlens uses internally and in
  `events.canonical_type`. It is the GA name where GA has the event, because that is what
  OpenAI serves today; beta-only events keep their beta name.
- `beta` / `ga` list the wire `type` strings each dialect uses for it (the first one is the
  one a server or client of that dialect sends; later ones are aliases seen or specified).
- `feeds` names the rtlens tables (besides `events`, which every line feeds) whose rows the
  event can set or change, directly or through what it links (a response to its turn, an
  error to the request it refuses); `sessions` is listed whenever its counts or totals can
  move. `tests/test_catalogue.py` checks, over the sample logs, that no event changes a
  table it does not name.
- `audio_field` names the top-level field holding base64 audio, if any.

Sources for each row are in `../shared/protocol/realtime_protocol.md` (see docs/events.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Direction = Literal["client", "server"]
Dialect = Literal["beta", "ga"]

DIALECTS: tuple[Dialect, ...] = ("beta", "ga")


@dataclass(frozen=True)
class EventSpec:
    """One event kind, with its wire names in each dialect."""

    direction: Direction
    canonical: str
    beta: tuple[str, ...]
    ga: tuple[str, ...]
    feeds: tuple[str, ...]
    doc: str
    audio_field: str | None = None

    def wire_names(self, dialect: Dialect) -> tuple[str, ...]:
        return self.beta if dialect == "beta" else self.ga

    def wire_name(self, dialect: Dialect) -> str:
        """The `type` a peer of `dialect` sends for this event."""
        names = self.wire_names(dialect)
        if not names:
            raise KeyError(f"{self.canonical!r} does not exist in the {dialect} dialect")
        return names[0]


# direction, canonical, beta wire names, GA wire names, tables fed, audio field, doc.
# Several wire names are separated by spaces; "-" means the dialect has no such event.
# fmt: off
_ROWS: list[tuple[Direction, str, str, str, str, str, str]] = [
    # ---- server events -------------------------------------------------------------------
    ("server", "error", "error", "error", "sessions responses turns interruptions errors", "-",
     "An error; `error.event_id` names the client event it answers. Not fatal unless a close follows."),
    ("server", "session.created", "session.created transcription_session.created",
     "session.created", "sessions responses turns transcriptions", "-",
     "First server event: the session's initial configuration."),
    ("server", "session.updated", "session.updated transcription_session.updated",
     "session.updated", "sessions responses turns transcriptions", "-",
     "The full effective configuration after a `session.update`."),
    ("server", "conversation.created", "conversation.created", "conversation.created", "", "-",
     "A conversation was created (in the spec; not seen in real captures)."),
    ("server", "conversation.item.added", "conversation.item.created",
     "conversation.item.added conversation.item.created", "sessions responses turns rate_limits interruptions function_calls transcriptions", "-",
     "An item entered the conversation (beta `created`; GA `added` when it starts)."),
    ("server", "conversation.item.done", "-", "conversation.item.done", "", "-",
     "GA: an item is final (no audio bytes)."),
    ("server", "conversation.item.retrieved", "conversation.item.retrieved",
     "conversation.item.retrieved", "", "-",
     "Answer to `conversation.item.retrieve` (carries audio)."),
    ("server", "conversation.item.deleted", "conversation.item.deleted",
     "conversation.item.deleted", "", "-", "An item was deleted."),
    ("server", "conversation.item.truncated", "conversation.item.truncated",
     "conversation.item.truncated", "sessions turns interruptions", "-",
     "An assistant audio item was cut at `audio_end_ms` (by the client, or by the server on WebRTC)."),
    ("server", "conversation.item.input_audio_transcription.delta",
     "conversation.item.input_audio_transcription.delta",
     "conversation.item.input_audio_transcription.delta", "transcriptions", "-",
     "Partial transcript of the user's audio."),
    ("server", "conversation.item.input_audio_transcription.completed",
     "conversation.item.input_audio_transcription.completed",
     "conversation.item.input_audio_transcription.completed", "sessions turns transcriptions", "-",
     "Final transcript of the user's audio (with separately billed `usage`)."),
    ("server", "conversation.item.input_audio_transcription.failed",
     "conversation.item.input_audio_transcription.failed",
     "conversation.item.input_audio_transcription.failed", "sessions transcriptions", "-",
     "Transcription of the user's audio failed."),
    ("server", "conversation.item.input_audio_transcription.segment", "-",
     "conversation.item.input_audio_transcription.segment", "", "-",
     "GA diarization segment (spec only)."),
    ("server", "input_audio_buffer.committed", "input_audio_buffer.committed",
     "input_audio_buffer.committed", "sessions responses turns rate_limits interruptions function_calls transcriptions", "-",
     "The input buffer became a user item: a turn."),
    ("server", "input_audio_buffer.cleared", "input_audio_buffer.cleared",
     "input_audio_buffer.cleared", "sessions turns interruptions", "-",
     "The input buffer was cleared (a pending speech never becomes a turn)."),
    ("server", "input_audio_buffer.speech_started", "input_audio_buffer.speech_started",
     "input_audio_buffer.speech_started", "sessions turns interruptions transcriptions", "-",
     "Server VAD heard speech start (`audio_start_ms` on the input-audio timeline)."),
    ("server", "input_audio_buffer.speech_stopped", "input_audio_buffer.speech_stopped",
     "input_audio_buffer.speech_stopped", "sessions turns transcriptions", "-",
     "Server VAD heard speech stop (`audio_end_ms` includes the silence window)."),
    ("server", "input_audio_buffer.timeout_triggered", "-",
     "input_audio_buffer.timeout_triggered", "sessions turns", "-",
     "GA: server VAD idle timeout fired; a commit and a response follow."),
    ("server", "input_audio_buffer.dtmf_event_received", "-",
     "input_audio_buffer.dtmf_event_received", "", "-", "GA SIP: a DTMF key was pressed."),
    ("server", "output_audio_buffer.started", "output_audio_buffer.started",
     "output_audio_buffer.started", "sessions responses turns function_calls transcriptions", "-",
     "WebRTC/SIP: the server started playing a response's audio (first-audio anchor there)."),
    ("server", "output_audio_buffer.stopped", "output_audio_buffer.stopped",
     "output_audio_buffer.stopped", "sessions", "-",
     "WebRTC/SIP: the response's audio finished playing."),
    ("server", "output_audio_buffer.cleared", "output_audio_buffer.cleared",
     "output_audio_buffer.cleared", "sessions", "-",
     "WebRTC/SIP: playback was cut (barge-in or client clear)."),
    ("server", "response.created", "response.created", "response.created",
     "sessions responses turns rate_limits interruptions function_calls transcriptions", "-", "A response started (status `in_progress`)."),
    ("server", "response.done", "response.done", "response.done",
     "sessions responses turns interruptions errors function_calls", "-",
     "A response ended: status, status_details and `usage`."),
    ("server", "response.output_item.added", "response.output_item.added",
     "response.output_item.added", "sessions responses turns interruptions function_calls", "-",
     "A response started an output item."),
    ("server", "response.output_item.done", "response.output_item.done",
     "response.output_item.done", "responses turns function_calls", "-",
     "An output item is final."),
    ("server", "response.content_part.added", "response.content_part.added",
     "response.content_part.added", "", "-", "A content part started."),
    ("server", "response.content_part.done", "response.content_part.done",
     "response.content_part.done", "", "-", "A content part is final."),
    ("server", "response.output_text.delta", "response.text.delta", "response.output_text.delta",
     "responses turns", "-", "Streamed text output."),
    ("server", "response.output_text.done", "response.text.done", "response.output_text.done",
     "responses", "-", "Final text output."),
    ("server", "response.output_audio_transcript.delta", "response.audio_transcript.delta",
     "response.output_audio_transcript.delta", "responses", "-",
     "Streamed transcript of the audio output."),
    ("server", "response.output_audio_transcript.done", "response.audio_transcript.done",
     "response.output_audio_transcript.done", "responses", "-",
     "Final transcript of the audio output."),
    ("server", "response.output_audio.delta", "response.audio.delta", "response.output_audio.delta",
     "sessions responses turns interruptions function_calls transcriptions", "delta",
     "A chunk of output audio (base64; absent on WebRTC)."),
    ("server", "response.output_audio.done", "response.audio.done", "response.output_audio.done",
     "", "-", "Output audio of an item is complete."),
    ("server", "response.function_call_arguments.delta", "response.function_call_arguments.delta",
     "response.function_call_arguments.delta", "responses turns function_calls", "-",
     "Streamed function-call arguments."),
    ("server", "response.function_call_arguments.done", "response.function_call_arguments.done",
     "response.function_call_arguments.done", "responses turns function_calls", "-",
     "Final function-call arguments: the tool can run."),
    ("server", "response.mcp_call_arguments.delta", "-", "response.mcp_call_arguments.delta",
     "", "-", "GA: streamed MCP tool-call arguments."),
    ("server", "response.mcp_call_arguments.done", "-", "response.mcp_call_arguments.done",
     "", "-", "GA: final MCP tool-call arguments."),
    ("server", "response.mcp_call.in_progress", "-", "response.mcp_call.in_progress", "", "-",
     "GA: an MCP tool call started."),
    ("server", "response.mcp_call.completed", "-", "response.mcp_call.completed", "", "-",
     "GA: an MCP tool call completed."),
    ("server", "response.mcp_call.failed", "-", "response.mcp_call.failed", "", "-",
     "GA: an MCP tool call failed."),
    ("server", "mcp_list_tools.in_progress", "-", "mcp_list_tools.in_progress", "", "-",
     "GA: listing an MCP server's tools."),
    ("server", "mcp_list_tools.completed", "-", "mcp_list_tools.completed", "", "-",
     "GA: MCP tools listed."),
    ("server", "mcp_list_tools.failed", "-", "mcp_list_tools.failed", "", "-",
     "GA: listing MCP tools failed."),
    ("server", "rate_limits.updated", "rate_limits.updated", "rate_limits.updated",
     "rate_limits", "-", "Rate-limit sample: `rate_limits[]{name, limit, remaining, reset_seconds}`."),
    # ---- client events -------------------------------------------------------------------
    ("client", "session.update", "session.update transcription_session.update",
     "session.update", "sessions", "-",
     "The app asks for a configuration; the server's `session.updated` says what took effect. "
     "Appends sent after it are in the input audio format it asks for."),
    ("client", "input_audio_buffer.append", "input_audio_buffer.append",
     "input_audio_buffer.append session.input_audio_buffer.append", "sessions transcriptions", "audio",
     "A chunk of user audio (base64). `session.input_audio_buffer.append` is an undocumented GA alias."),
    ("client", "input_audio_buffer.commit", "input_audio_buffer.commit",
     "input_audio_buffer.commit", "sessions turns", "-", "Manual turn end: commit the input buffer."),
    ("client", "input_audio_buffer.clear", "input_audio_buffer.clear", "input_audio_buffer.clear",
     "", "-", "Drop the input buffer."),
    ("client", "conversation.item.create", "conversation.item.create", "conversation.item.create",
     "responses turns function_calls", "-",
     "The app adds an item (user text or audio, or a `function_call_output`)."),
    ("client", "conversation.item.retrieve", "conversation.item.retrieve",
     "conversation.item.retrieve", "", "-", "Ask for an item's full content."),
    ("client", "conversation.item.truncate", "conversation.item.truncate",
     "conversation.item.truncate", "sessions turns interruptions", "-",
     "The app cut an assistant item at `audio_end_ms` (what the user heard)."),
    ("client", "conversation.item.delete", "conversation.item.delete", "conversation.item.delete",
     "", "-", "Delete an item."),
    ("client", "response.create", "response.create", "response.create",
     "responses turns", "-",
     "Ask for a response (manual turns, tool follow-ups, out-of-band with `conversation: none`)."),
    ("client", "response.cancel", "response.cancel", "response.cancel", "interruptions", "-",
     "The app cancels the active response."),
    ("client", "output_audio_buffer.clear", "output_audio_buffer.clear",
     "output_audio_buffer.clear", "", "-", "WebRTC/SIP: cut the audio being played."),
    ("client", "session.close", "-", "session.close", "", "-",
     "GA: undocumented, accepted by the server (semantics unconfirmed)."),
]
# fmt: on


def _names(field: str) -> tuple[str, ...]:
    return () if field == "-" else tuple(field.split())


CATALOGUE: tuple[EventSpec, ...] = tuple(
    EventSpec(
        direction=direction,
        canonical=canonical,
        beta=_names(beta),
        ga=_names(ga),
        feeds=tuple(feeds.split()),
        audio_field=None if audio == "-" else audio,
        doc=doc,
    )
    for direction, canonical, beta, ga, feeds, audio, doc in _ROWS
)

# (direction, wire type) -> spec. Routing anywhere in rtlens is a lookup in this dict.
BY_WIRE: dict[tuple[str, str], EventSpec] = {}
# (direction, canonical name) -> spec.
BY_CANONICAL: dict[tuple[str, str], EventSpec] = {}
# (direction, wire type) -> the dialect this name proves, when only one dialect uses it.
DIALECT_OF_WIRE: dict[tuple[str, str], Dialect] = {}

for _spec in CATALOGUE:
    BY_CANONICAL[(_spec.direction, _spec.canonical)] = _spec
    for _dialect in DIALECTS:
        for _name in _spec.wire_names(_dialect):
            BY_WIRE[(_spec.direction, _name)] = _spec
    for _name in set(_spec.beta) ^ set(_spec.ga):
        DIALECT_OF_WIRE[(_spec.direction, _name)] = "beta" if _name in _spec.beta else "ga"


def lookup(direction: str, wire_type: str) -> EventSpec | None:
    """The catalogue entry for a wire `type` seen in `direction`, or None if unknown."""
    return BY_WIRE.get((direction, wire_type))


def wire_name(canonical: str, dialect: Dialect, direction: Direction = "server") -> str:
    """The `type` string a peer speaking `dialect` uses for `canonical`."""
    return BY_CANONICAL[(direction, canonical)].wire_name(dialect)


def audio_field(direction: str, wire_type: str) -> str | None:
    spec = BY_WIRE.get((direction, wire_type))
    return spec.audio_field if spec else None


def server_events(dialect: Dialect) -> list[str]:
    """All server wire types of one dialect (primary names and aliases)."""
    return [n for s in CATALOGUE if s.direction == "server" for n in s.wire_names(dialect)]

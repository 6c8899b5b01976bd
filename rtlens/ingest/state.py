"""The normalizer's working state for one session: rows under construction and context.

Handlers (`rtlens.ingest.handlers`) mutate a `SessionState` event by event; `finalize`
turns it into table rows. Rows are small mutable dataclasses because most of their fields
are only known later (a response's first audio, a turn's reply, a tool's output).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rtlens.ingest.audio import DEFAULT_FORMAT


@dataclass(slots=True)
class Speech:
    """One server-VAD speech segment; becomes a turn when it is committed."""

    seq: int
    started_ms: float | None = None
    stopped_ms: float | None = None
    audio_start_ms: float | None = None
    audio_end_ms: float | None = None
    item_id: str | None = None
    trigger: str = "server_vad"
    turn: Turn | None = None
    stopped: bool = False  # speech_stopped came (its time may be unknown: no timestamps)


@dataclass(slots=True)
class Turn:
    n: int
    item_id: str | None
    trigger: str
    committed_ms: float | None
    seq: int
    speech: Speech | None = None
    manual_start_ms: float | None = None  # later of the app's commit / item create sent
    response_create_ms: float | None = None  # the app's response.create sent, for this turn
    silence_ms: float | None = None  # the VAD silence window in force at commit
    transcript: str | None = None
    transcript_ms: float | None = None
    responses: list[Response] = field(default_factory=list)


@dataclass(slots=True)
class Response:
    response_id: str
    seq: int
    created_ms: float | None = None
    status: str | None = "in_progress"
    status_reason: str | None = None
    turn: Turn | None = None
    trigger: str = "turn"
    out_of_band: bool = False
    first_audio_ms: float | None = None
    first_text_ms: float | None = None
    done_ms: float | None = None
    audio_bytes: int = 0
    audio_deltas: int = 0
    bytes_per_ms: float = DEFAULT_FORMAT[1]
    text: str | None = None
    text_parts: list[str] = field(default_factory=list)
    has_function_call: bool = False
    audio_item_id: str | None = None  # the message item carrying its audio
    usage: dict[str, int | None] = field(default_factory=dict)
    model: str | None = None
    cancel_ms: float | None = None  # when it was stopped, if it ended cancelled (see docs)
    request: CreateRequest | None = None  # the app's response.create it answers, if any
    overtaken: list[CreateRequest] = field(default_factory=list)  # older ones, if refused


@dataclass(slots=True)
class CreateRequest:
    """An app's `response.create` not yet answered by a `response.created`."""

    seq: int
    sent_ms: float | None
    out_of_band: bool
    event_id: str | None


@dataclass(slots=True)
class Item:
    """A conversation item seen on the wire (only what the tables need)."""

    item_id: str
    response: Response | None = None
    type: str | None = None
    role: str | None = None
    audio_bytes: int = 0


@dataclass(slots=True)
class Interruption:
    response: Response | None
    item_id: str | None
    reason: str
    speech: Speech | None
    cancel_ms: float | None = None
    truncate_ms: float | None = None
    truncated_by: str | None = None
    audio_played_ms: float | None = None
    truncate_rejected: bool = False  # the server answered the app's truncate with an error


@dataclass(slots=True)
class FunctionCall:
    call_id: str
    response: Response | None
    item_id: str | None = None
    name: str | None = None
    arguments: str | None = None
    arguments_done_ms: float | None = None
    output_ms: float | None = None
    output_seq: int | None = None
    output: str | None = None
    turn: Turn | None = None


@dataclass(slots=True)
class Transcription:
    item_id: str
    turn: Turn | None
    committed_ms: float | None
    status: str = "in_progress"
    transcript: str | None = None
    error: str | None = None
    first_delta_ms: float | None = None
    done_ms: float | None = None
    usage_type: str | None = None
    input_text_tokens: int | None = None
    input_audio_tokens: int | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    audio_seconds: float | None = None
    audio_ms: float | None = None  # the committed user audio it covers (see docs/metrics.md)
    model: str | None = None


@dataclass(slots=True)
class SessionConfig:
    """The session's effective configuration, as the server last reported it."""

    model: str | None = None
    voice: str | None = None
    turn_detection: str | None = None
    vad_threshold: float | None = None
    prefix_padding_ms: float | None = None
    silence_duration_ms: float | None = None
    input_format: tuple[str, float] = DEFAULT_FORMAT
    output_format: tuple[str, float] = DEFAULT_FORMAT
    input_format_seen: bool = False
    output_format_seen: bool = False
    transcription_model: str | None = None
    server_session_id: str | None = None


# What errors.client_event_type says for client frames that carry no event_id.
TEXT_FRAME, BINARY_FRAME = "(non-JSON text frame)", "(binary frame)"
TYPELESS_EVENT = "(event without a type)"
MAX_BAD_FRAMES = 16


class SessionState:
    """Everything the handlers know about one session while reading it."""

    def __init__(self, session_id: str, source_file: str) -> None:
        self.session_id = session_id
        self.source_file = source_file
        self.header: dict[str, Any] = {}
        self.config = SessionConfig()
        self.votes = {"beta": 0, "ga": 0}
        # the line being handled (handlers report field problems against it)
        self.seq = -1
        self.line_no = 0
        self.current_raw: bytes | None = None  # its JSON, as written to events.raw
        self.current_ts_us: int | None = None
        # context
        self.speech: Speech | None = None  # pending (not yet committed) speech
        self.last_speech: Speech | None = None
        self.turns: list[Turn] = []
        self.turn_by_item: dict[str, Turn] = {}
        self.current_turn: Turn | None = None
        self.responses: dict[str, Response] = {}
        self.active: Response | None = None
        self.last_response: Response | None = None
        self.items: dict[str, Item] = {}
        self.interruptions: dict[str, Interruption] = {}
        self.truncates: dict[str, Interruption] = {}  # the app's truncate event_id -> its row
        self.function_calls: dict[str, FunctionCall] = {}
        self.transcriptions: dict[str, Transcription] = {}
        self.client_types: dict[str, str] = {}  # client event_id -> type
        # the app's commit (seq, t) the server has not answered yet
        self.pending_commit: tuple[int, float | None] | None = None
        # input audio (ms appended) when the app sent that commit, and at the last commit or
        # clear: the audio between the two is what a manual commit covers
        self.pending_commit_audio_ms: float | None = None
        self.buffer_start_audio_ms = 0.0
        # output_audio_buffer.cleared received, by response (WebRTC: where playback stopped)
        self.buffer_cleared_ms: dict[str, float | None] = {}
        self.last_item_create_sent_ms: float | None = None
        # the app's response.create requests in the order sent, until a response answers one
        self.pending_creates: list[CreateRequest] = []
        self.last_conversation_response: Response | None = None  # in-conversation only
        self.pending_cancel: tuple[int, float | None] | None = None  # (seq, t) not yet used
        self.answered: dict[str, Response] = {}  # a create's event_id -> the response it got
        self.last_output_sent: FunctionCall | None = None
        # client frames the server cannot read, not yet answered by an error (oldest first)
        self.bad_frames: list[str] = []
        # rows produced directly
        self.rate_limits: list[dict[str, Any]] = []
        self.errors: list[dict[str, Any]] = []
        self.ingest_errors: list[dict[str, Any]] = []
        # counters
        self.n_events = 0
        self.n_unknown = 0
        self.input_audio_bytes = 0  # appended since the input format last changed
        self.input_bytes_per_ms = DEFAULT_FORMAT[1]  # ... in that format
        self.input_audio_ms = 0.0  # of the audio appended before
        # the app's session.update requests not yet answered: (event_id, input bytes per ms)
        self.pending_updates: list[tuple[str | None, float | None]] = []
        self.output_audio_buffer_events = 0
        self.dtmf_events = 0  # input_audio_buffer.dtmf_event_received: a SIP call
        self.first_ts_us: int | None = None
        self.last_ts_us: int | None = None
        self.close: dict[str, Any] | None = None

    def appended_audio_ms(self) -> float:
        """ms of user audio the app has appended so far (from decoded byte counts)."""
        return self.input_audio_ms + self.input_audio_bytes / self.input_bytes_per_ms

    # ---- reporting bad fields (the event row is kept; the problem is noted) ----------------

    def field_error(self, event_type: str, name: str, expected: str, value: object) -> None:
        shown = repr(value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        self.ingest_errors.append(
            {
                "line_no": self.line_no,
                "error": f"{event_type}: field {name} should be {expected}, got {shown}",
                "raw": None if self.current_raw is None else self.current_raw.decode(),
            }
        )

    def note_bad_frame(self, kind: str) -> None:
        self.bad_frames.append(kind)
        del self.bad_frames[:-MAX_BAD_FRAMES]

    def answered_bad_frame(self, code: str | None) -> str | None:
        """The client frame an `invalid_json` or `invalid_event` error without an event_id
        answers: the oldest unanswered one of the kind the code names (a non-JSON text
        frame; a binary frame or an event without a `type`)."""
        kinds = (TEXT_FRAME,) if code == "invalid_json" else (BINARY_FRAME, TYPELESS_EVENT)
        for i, kind in enumerate(self.bad_frames):
            if kind in kinds:
                del self.bad_frames[i]
                return kind
        return None

    def response(self, response_id: object) -> Response | None:
        if isinstance(response_id, str):
            return self.responses.get(response_id)
        return None

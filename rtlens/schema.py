"""The table schema, as data: the one definition of every rtlens table and column.

It creates the DuckDB tables (with `COMMENT ON` docs), types the polars frames (so an empty
session still yields typed tables), generates `docs/schema.md`, and `tests/test_schema.py`
compares it with a real database. SPEC §3 names are fixed; columns marked `extra` are
rtlens additions. Units are in the names: `*_ms` (DOUBLE ms: since the session's first event
for points in time, or a duration), `*_ts` (TIMESTAMPTZ, µs), `*_tokens`, `*_bytes`, `*_usd`.
"""

from __future__ import annotations

from dataclasses import dataclass

SCHEMA_VERSION = 2


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # DuckDB type
    doc: str
    extra: bool = False  # not named by SPEC §3


@dataclass(frozen=True)
class Table:
    name: str
    doc: str
    columns: tuple[Column, ...]

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


def _cols(spec: str) -> tuple[Column, ...]:
    """Parse `name TYPE [+] | doc` lines; `+` marks a column SPEC does not name."""
    out = []
    for raw_line in spec.strip().splitlines():
        left, doc = raw_line.split("|", 1)
        parts = left.split()
        extra = parts[-1] == "+"
        if extra:
            parts = parts[:-1]
        out.append(Column(parts[0], " ".join(parts[1:]), doc.strip(), extra))
    return tuple(out)


# fmt: off
TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table("sessions", "One row per recording (one WebSocket session).", _cols("""
session_id VARCHAR | rtlens session id from the file header; for files without one, derived from the file's path
source_file VARCHAR | absolute path of the file the session was loaded from
source VARCHAR + | how it was captured: relay, library, browser, sideband, import, or unknown (no header)
server_session_id VARCHAR + | the API's own session id (`sess_…`) from session.created
upstream VARCHAR + | the upstream URL the recorder connected to (secrets removed)
started_ts TIMESTAMPTZ | first event (or the header's started_at when there are no events)
ended_ts TIMESTAMPTZ | last line (event or close)
duration_ms DOUBLE | ended_ts - started_ts
dialect VARCHAR | beta, ga or unknown, from event names and session shape
transport VARCHAR + | websocket; webrtc when the server plays audio itself (output_audio_buffer.*, no audio deltas); sip when the call has keypad presses (input_audio_buffer.dtmf_event_received), which only phone calls have
model VARCHAR | model from session.created/updated, else the URL's model= parameter
voice VARCHAR | output voice (last effective configuration)
turn_detection VARCHAR | server_vad, semantic_vad or none (manual turns); last effective configuration
vad_threshold DOUBLE + | server_vad threshold
prefix_padding_ms DOUBLE + | server_vad prefix padding included in speech_started.audio_start_ms
silence_duration_ms DOUBLE + | server_vad silence window included in speech_stopped.audio_end_ms
input_audio_format VARCHAR | pcm16, g711_ulaw or g711_alaw (GA audio/pcm is pcm16 at its rate)
output_audio_format VARCHAR | as input_audio_format, for the model's audio
transcription_model VARCHAR + | input transcription model, if transcription is on
n_events BIGINT | event lines (rows in events)
n_unknown_events BIGINT + | event lines whose type is not in the catalogue
n_responses BIGINT | rows in responses
n_turns BIGINT | rows in turns
n_interruptions BIGINT | rows in interruptions
n_errors BIGINT | rows in errors
n_ingest_errors BIGINT + | lines of this file that landed in ingest_errors
input_audio_ms DOUBLE + | user audio appended by the app (from decoded byte counts)
output_audio_ms DOUBLE + | model audio received (from decoded byte counts)
total_tokens BIGINT + | sum of responses.total_tokens
cost_usd DOUBLE + | sum of responses.cost_usd plus transcription cost; NULL if any billed part's cost is unknown
cost_usd_known DOUBLE + | the same sum over the parts whose cost is known: a lower bound when cost_usd is NULL
close_by VARCHAR + | who closed the connection: client, server or relay; NULL if the file has no close line
close_code INTEGER + | WebSocket close code
close_reason VARCHAR + | WebSocket close reason
""")),
        Table("events", "Every event line of every file, known or not (not the header or close line).", _cols("""
session_id VARCHAR | session the line belongs to
seq BIGINT | 0-based order of the event lines in the file
line_no BIGINT + | 1-based line number in the file (for a JSON array, the line its element starts on)
ts TIMESTAMPTZ | when the recorder saw the frame; NULL for files without timestamps
t_ms DOUBLE | ms since the session's first event
direction VARCHAR | client (sent by the app) or server (sent by the API); NULL if unknown
type VARCHAR | the event's type as on the wire; NULL for non-JSON text and binary frames (a type that is not a string is kept as its JSON text)
canonical_type VARCHAR | dialect-independent name from the catalogue (GA names); NULL if unknown
known BOOLEAN | the type is in the catalogue for this direction
event_id VARCHAR | the event's event_id (an id that is not a string is kept as its JSON text, here and below)
response_id VARCHAR | response_id, or response.id
item_id VARCHAR | item_id, or item.id
audio_bytes BIGINT | decoded bytes of base64 audio the event carried
raw JSON | the event's JSON with audio payloads replaced by ""
""")),
        Table("responses", "One row per response (response.created or response.done).", _cols("""
session_id VARCHAR | session
response_id VARCHAR | resp_… id
turn BIGINT + | the user turn this response belongs to (NULL for out-of-band responses and responses before any turn)
trigger VARCHAR + | what started it: turn (server VAD / commit), response.create, or function_call_output follow-up
out_of_band BOOLEAN + | created with conversation: none (not part of the conversation)
status VARCHAR | completed, cancelled, failed, incomplete; in_progress if the session ended first
status_reason VARCHAR | status_details.reason (turn_detected, client_cancelled, max_output_tokens, …) or the failure code
created_ms DOUBLE | response.created received
first_audio_ms DOUBLE | first audio delta received (output_audio_buffer.started on WebRTC)
first_text_ms DOUBLE | first text or audio-transcript delta received
done_ms DOUBLE | response.done received
ttfa_ms DOUBLE | created_ms → first_audio_ms
duration_ms DOUBLE | created_ms → done_ms
audio_ms DOUBLE | audio generated, from decoded delta bytes and the output format; NULL on WebRTC
audio_bytes BIGINT + | decoded bytes of audio deltas
audio_deltas BIGINT + | number of audio delta events
text VARCHAR + | the response's text or audio transcript
has_function_call BOOLEAN + | the response contains a function_call item
input_tokens BIGINT | usage.input_tokens
output_tokens BIGINT | usage.output_tokens
total_tokens BIGINT | usage.total_tokens
cached_tokens BIGINT | usage.input_token_details.cached_tokens (a subset of input_tokens)
cached_text_tokens BIGINT + | cached_tokens_details.text_tokens
cached_audio_tokens BIGINT + | cached_tokens_details.audio_tokens
input_text_tokens BIGINT | input_token_details.text_tokens
input_audio_tokens BIGINT | input_token_details.audio_tokens
input_image_tokens BIGINT + | input_token_details.image_tokens (GA)
output_text_tokens BIGINT | output_token_details.text_tokens
output_audio_tokens BIGINT | output_token_details.audio_tokens
model VARCHAR + | model the response was priced with
cost_usd DOUBLE | from the price table; NULL when the model's price is unknown
""")),
        Table("turns", "One row per user turn: a committed user audio item or a user text item.", _cols("""
session_id VARCHAR | session
turn BIGINT | 1-based turn number
item_id VARCHAR | the user item
trigger VARCHAR + | server_vad, semantic_vad, timeout (idle_timeout), manual (app commit) or text (app item)
speech_started_ms DOUBLE | input_audio_buffer.speech_started received
speech_stopped_ms DOUBLE | input_audio_buffer.speech_stopped received
committed_ms DOUBLE | input_audio_buffer.committed received (or the text item created)
audio_start_ms DOUBLE + | speech_started.audio_start_ms (input-audio timeline; includes prefix padding)
audio_end_ms DOUBLE + | speech_stopped.audio_end_ms (input-audio timeline; includes the silence window)
response_id VARCHAR | the response this turn triggered
response_status VARCHAR + | that response's status
response_created_ms DOUBLE + | that response's response.created received
first_audio_ms DOUBLE | first audio of the turn's reply (first audio delta, or output_audio_buffer.started)
first_audio_response_id VARCHAR + | the response that produced that audio (a tool follow-up for tool turns)
v2v_ms DOUBLE | voice to voice: speech_stopped (manual: later of commit / response.create sent) → first_audio_ms; NULL for text turns
v2v_est_ms DOUBLE + | v2v_ms + silence_duration_ms: estimated from the user's actual end of speech
text_to_reply_ms DOUBLE + | text turns only: later of the app's item create / response.create sent → first audio or text of the reply
turn_gap_ms DOUBLE + | speech_stopped (or manual start) → response.created
ttfa_ms DOUBLE + | response.created → first audio of that response
transcript VARCHAR | the user's words, from input transcription
transcript_ms DOUBLE + | transcription completed received
transcript_after_reply BOOLEAN + | the transcript arrived after the reply's first audio
interrupted BOOLEAN | this turn barged in on an assistant response
reply_interrupted BOOLEAN + | this turn's reply was itself cut short by a barge-in
has_tool_call BOOLEAN + | the reply went through a function call
n_responses BIGINT + | responses belonging to this turn
""")),
        Table("rate_limits", "One row per entry of every rate_limits.updated.", _cols("""
session_id VARCHAR | session
seq BIGINT + | events.seq of the rate_limits.updated
t_ms DOUBLE | received
ts TIMESTAMPTZ | received
name VARCHAR | requests, tokens (older: input_tokens, output_tokens)
limit BIGINT | the limit
remaining BIGINT | remaining
reset_seconds DOUBLE | seconds until the limit resets
remaining_pct DOUBLE + | 100 * remaining / limit
response_id VARCHAR + | the latest response created before this sample
turn BIGINT + | that response's turn
""")),
        Table("interruptions", "One row per barge-in the wire shows (a cancel and a truncate of the same response are one row).", _cols("""
session_id VARCHAR | session
response_id VARCHAR | the interrupted response (NULL if the truncated item was never seen being generated)
item_id VARCHAR | the truncated assistant item, if any
turn BIGINT + | the user turn whose speech interrupted
reason VARCHAR | turn_detected, client_cancelled, or truncated (playback cut after the response completed)
speech_started_ms DOUBLE | the user's speech_started that caused it
cancel_ms DOUBLE | response.done (cancelled) received, or the app's response.cancel sent
truncate_ms DOUBLE | the app's conversation.item.truncate sent, or the server's conversation.item.truncated received (WebRTC)
truncated_by VARCHAR + | client or server
stop_ms DOUBLE + | speech_started → first of cancel_ms/truncate_ms: the first sign on the wire that the response was stopped
cancel_after_ms DOUBLE + | speech_started → cancel_ms: the response cancelled (the server's time, not playback)
audio_stop_after_ms DOUBLE + | speech_started → where the wire shows playback stopped: the app's truncate sent, or output_audio_buffer.cleared (WebRTC); else NULL
audio_generated_ms DOUBLE | audio generated for the interrupted item (or response)
audio_played_ms DOUBLE | truncate's audio_end_ms: what the user heard
audio_unheard_ms DOUBLE | audio_generated_ms - audio_played_ms (never below 0)
""")),
        Table("errors", "One row per error event, and per response that ended with status failed.", _cols("""
session_id VARCHAR | session
seq BIGINT + | events.seq of the line
t_ms DOUBLE | received
source VARCHAR + | error_event, or response_failed
type VARCHAR | error.type
code VARCHAR | error.code
message VARCHAR | error.message
param VARCHAR | error.param
client_event_id VARCHAR | error.event_id: the client event it answers
client_event_type VARCHAR | that client event's type, when it is in the recording
response_id VARCHAR + | the failed response (response_failed rows)
""")),
        Table("function_calls", "One row per function call the model made.", _cols("""
session_id VARCHAR | session
response_id VARCHAR | the response that made the call
item_id VARCHAR + | the function_call item
call_id VARCHAR | call_… id
name VARCHAR | function name
arguments VARCHAR | JSON arguments
turn BIGINT + | the user turn
arguments_done_ms DOUBLE | response.function_call_arguments.done received
output_ms DOUBLE | the app sent the function_call_output
tool_ms DOUBLE | arguments_done_ms → output_ms: the app's tool time
output VARCHAR + | the output the app sent (cut to 4 KiB)
followup_response_id VARCHAR + | the next in-conversation response created after the output
followup_first_audio_ms DOUBLE + | its first audio
tool_to_audio_ms DOUBLE + | output_ms → followup_first_audio_ms
""")),
        Table("transcriptions", "One row per input-audio transcription.", _cols("""
session_id VARCHAR | session
item_id VARCHAR | the user item transcribed
turn BIGINT + | its turn
status VARCHAR | completed, failed, or in_progress if neither arrived
transcript VARCHAR | the transcript
error VARCHAR | failure message (code: message)
committed_ms DOUBLE + | input_audio_buffer.committed received
first_delta_ms DOUBLE + | first transcription delta received
done_ms DOUBLE + | completed/failed received
latency_ms DOUBLE | committed → completed/failed
after_reply BOOLEAN + | finished after the turn's reply started playing (first audio)
model VARCHAR + | transcription model
usage_type VARCHAR + | tokens or duration
input_tokens BIGINT + | usage.input_tokens
output_tokens BIGINT + | usage.output_tokens
audio_seconds DOUBLE + | usage.seconds (duration-billed models)
audio_ms DOUBLE + | the committed user audio it covers: the VAD segment (audio_end_ms - audio_start_ms), else the audio appended since the previous commit or clear; NULL if unknown
cost_usd DOUBLE + | from the price table; NULL if unknown
""")),
        Table("ingest_errors", "One row per input line that could not be used as it is.", _cols("""
session_id VARCHAR + | session of the file, if known
source_file VARCHAR | absolute path
line_no BIGINT | 1-based line number (NULL for problems with the whole file)
error VARCHAR | what is wrong
raw VARCHAR | the line, cut to 64 KiB
""")),
    )
}
# fmt: on

TABLE_NAMES: tuple[str, ...] = tuple(TABLES)

# DuckDB type -> polars dtype name (resolved lazily so importing the schema stays cheap).
POLARS_TYPES = {
    "VARCHAR": "String",
    "JSON": "String",
    "BIGINT": "Int64",
    "INTEGER": "Int32",
    "DOUBLE": "Float64",
    "BOOLEAN": "Boolean",
    "TIMESTAMPTZ": "Datetime",
}


def polars_schema(table: str) -> dict[str, object]:
    """The polars schema of a table (timestamps are µs, UTC)."""
    import polars as pl

    out: dict[str, object] = {}
    for col in TABLES[table].columns:
        if col.type == "TIMESTAMPTZ":
            out[col.name] = pl.Datetime("us", "UTC")
        else:
            out[col.name] = getattr(pl, POLARS_TYPES[col.type])
    return out


def quote(name: str) -> str:
    """Quote an identifier (`limit` is a keyword)."""
    return '"' + name.replace('"', '""') + '"'


# Columns stored with a fixed compression instead of the one DuckDB picks by trying several:
# unique strings (ids, event JSON), where its dictionary + FSST pick costs the most time at
# ingest and saves the least. zstd makes `events` about a quarter smaller and ingest faster
# (0.06 s less DuckDB time on the ingest benchmark); fetching single rows by their raw JSON
# is a few ms slower, scans are not.
COMPRESSION: dict[tuple[str, str], str] = {
    ("events", "raw"): "zstd",
    ("events", "event_id"): "zstd",
}


def create_table_sql(table: Table) -> list[str]:
    def column(c: Column) -> str:
        method = COMPRESSION.get((table.name, c.name))
        using = f" USING COMPRESSION {method}" if method else ""
        return f"{quote(c.name)} {c.type}{using}"

    cols = ",\n  ".join(column(c) for c in table.columns)
    stmts = [f"CREATE TABLE IF NOT EXISTS {table.name} (\n  {cols}\n)"]
    stmts.append(f"COMMENT ON TABLE {table.name} IS {sql_string(table.doc)}")
    stmts.extend(
        f"COMMENT ON COLUMN {table.name}.{quote(c.name)} IS {sql_string(c.doc)}"
        for c in table.columns
    )
    return stmts


def sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"

"""The event catalogue is complete for both dialects and agrees with the normalizer."""

from __future__ import annotations

from rtlens.catalogue import BY_WIRE, CATALOGUE, DIALECT_OF_WIRE, lookup, wire_name
from rtlens.ingest.handlers import HANDLERS

BETA_SERVER_EVENTS = """
error session.created session.updated conversation.created input_audio_buffer.committed
input_audio_buffer.cleared input_audio_buffer.speech_started input_audio_buffer.speech_stopped
conversation.item.created conversation.item.input_audio_transcription.completed
conversation.item.input_audio_transcription.failed conversation.item.truncated
conversation.item.deleted response.created response.done response.output_item.added
response.output_item.done response.content_part.added response.content_part.done
response.text.delta response.text.done response.audio_transcript.delta
response.audio_transcript.done response.audio.delta response.audio.done
response.function_call_arguments.delta response.function_call_arguments.done
rate_limits.updated
""".split()

GA_ONLY = """
conversation.item.added conversation.item.done response.output_audio.delta
response.output_audio.done response.output_audio_transcript.delta
response.output_audio_transcript.done response.output_text.delta response.output_text.done
input_audio_buffer.timeout_triggered conversation.item.input_audio_transcription.segment
response.mcp_call_arguments.delta response.mcp_call.completed mcp_list_tools.completed
""".split()

CLIENT_BOTH = """
session.update input_audio_buffer.append input_audio_buffer.commit input_audio_buffer.clear
conversation.item.create conversation.item.retrieve conversation.item.truncate
conversation.item.delete response.create response.cancel output_audio_buffer.clear
""".split()


def test_all_28_beta_server_events_are_known():
    assert len(BETA_SERVER_EVENTS) == 28
    for name in BETA_SERVER_EVENTS:
        spec = lookup("server", name)
        assert spec is not None, name
        assert name in spec.beta


def test_beta_names_map_to_their_ga_counterparts():
    pairs = {
        "response.audio.delta": "response.output_audio.delta",
        "response.audio_transcript.done": "response.output_audio_transcript.done",
        "response.text.delta": "response.output_text.delta",
        "conversation.item.created": "conversation.item.added",
        "transcription_session.updated": "session.updated",
    }
    for beta, ga in pairs.items():
        assert lookup("server", beta).canonical == ga
        assert lookup("server", ga).canonical == ga


def test_ga_only_events_and_client_events_of_both_dialects():
    for name in GA_ONLY:
        spec = lookup("server", name)
        assert spec is not None and name in spec.ga, name
    for name in CLIENT_BOTH:
        spec = lookup("client", name)
        assert spec is not None and name in spec.beta and name in spec.ga, name
    assert lookup("client", "transcription_session.update").canonical == "session.update"


def test_wire_names_choose_the_dialect():
    assert wire_name("response.output_audio.delta", "beta") == "response.audio.delta"
    assert wire_name("response.output_audio.delta", "ga") == "response.output_audio.delta"
    assert DIALECT_OF_WIRE[("server", "response.audio.delta")] == "beta"
    assert DIALECT_OF_WIRE[("server", "conversation.item.done")] == "ga"
    assert ("server", "response.done") not in DIALECT_OF_WIRE  # both dialects use it


def test_client_and_server_names_never_collide():
    client = {n for (d, n) in BY_WIRE if d == "client"}
    server = {n for (d, n) in BY_WIRE if d == "server"}
    assert not client & server


def test_routing_table_and_catalogue_agree():
    feeding = {s.canonical for s in CATALOGUE if s.feeds}
    assert set(HANDLERS) == feeding
    canonical = {s.canonical for s in CATALOGUE}
    assert set(HANDLERS) <= canonical


def test_audio_fields_are_declared_where_base64_audio_travels():
    assert lookup("client", "input_audio_buffer.append").audio_field == "audio"
    assert lookup("server", "response.audio.delta").audio_field == "delta"
    assert lookup("server", "response.output_audio.delta").audio_field == "delta"
    assert lookup("server", "response.output_text.delta").audio_field is None


def test_every_table_an_event_changes_is_among_its_feeds(monkeypatch):
    """`feeds` (and so docs/events.md) claims no less than the normalizer does: with one
    event's handler switched off, only tables it names may come out different, over every
    sample log."""
    from builders import REPO

    from rtlens.ingest import normalize

    samples = sorted((REPO / "sample_logs").glob("*.jsonl"))

    def tables() -> dict[tuple[str, str], object]:
        out = {}
        for path in samples:
            rows = normalize.normalize_file(path, sink=lambda _lines, _tuples: None).rows
            out.update({(path.name, name): rows[name] for name in rows if name != "events"})
        return out

    before = tables()
    routes = dict(normalize.ROUTES)
    unclaimed = {}
    for spec in CATALOGUE:
        if spec.canonical not in HANDLERS:
            continue
        for key, (number, vote, _handler) in routes.items():
            if BY_WIRE[key].canonical == spec.canonical:
                monkeypatch.setitem(normalize.ROUTES, key, (number, vote, None))
        after = tables()
        changed = {name for key, name in before if before[key, name] != after[key, name]}
        monkeypatch.setattr(normalize, "ROUTES", dict(routes))
        if changed - set(spec.feeds):
            unclaimed[spec.canonical] = sorted(changed - set(spec.feeds))
    assert unclaimed == {}

"""`rtlens export otel` against a real OTLP/HTTP receiver on loopback that decodes the
protobuf with opentelemetry-proto. The session is `write_ga_voice` (built line by line in
test_normalize_handchecked.py); the times and counts below are read off its lines."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from builders import START
from test_normalize_handchecked import write_ga_voice

pytest.importorskip("opentelemetry.exporter.otlp.proto.http")
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

import rtlens

MS = 1_000_000  # ns


@dataclass
class Span:
    trace_id: bytes
    span_id: bytes
    parent: bytes
    name: str
    start: int
    end: int
    attrs: dict[str, object]
    status: int
    events: list[str]


def _value(v) -> object:
    return getattr(v, v.WhichOneof("value"))


class Receiver:
    """POST /v1/traces: decode each request; answer the first `ok` requests 200, then 400."""

    def __init__(self, ok: int | None = None) -> None:
        self.requests: list[list[Span]] = []
        self.headers: list[dict[str, str]] = []
        self.arrived = threading.Condition()  # notified after each decoded request
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.path != "/v1/traces" or (ok is not None and len(receiver.requests) >= ok):
                    self.send_response(400)
                    self.end_headers()
                    return
                request = ExportTraceServiceRequest.FromString(body)
                receiver.headers.append(dict(self.headers))
                receiver.requests.append(
                    [
                        Span(
                            s.trace_id,
                            s.span_id,
                            s.parent_span_id,
                            s.name,
                            s.start_time_unix_nano,
                            s.end_time_unix_nano,
                            {a.key: _value(a.value) for a in s.attributes},
                            s.status.code,
                            [e.name for e in s.events],
                        )
                        for rs in request.resource_spans
                        for ss in rs.scope_spans
                        for s in ss.spans
                    ]
                )
                with receiver.arrived:
                    receiver.arrived.notify_all()
                reply = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_until(self, condition: Callable[[list[Span]], bool], timeout: float) -> bool:
        """Wait until `condition(every span received so far)` holds."""
        with self.arrived:
            return self.arrived.wait_for(
                lambda: condition([s for r in self.requests for s in r]), timeout
            )

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def export(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rtlens", "export", "otel", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def recording(tmp_path: Path) -> Path:
    return write_ga_voice(tmp_path / "ga_voice.jsonl")


def at(ms: float) -> int:
    return round(START * 1000) * MS + round(ms * MS)


def test_one_trace_per_session_with_the_recordings_times(recording: Path, receiver: Receiver):
    done = export(str(recording), "--endpoint", receiver.url, "--header", "x-team=abc")
    assert done.returncode == 0, done.stderr
    # 1 session + 3 turns + 5 responses (resp_1..4, resp_oob) + 1 tool call + 3 transcriptions
    assert done.stdout == f"sent 1 session(s), 13 spans to {receiver.url}\n"
    assert len(receiver.requests) == 1 and receiver.headers[0]["x-team"] == "abc"
    spans = receiver.requests[0]
    assert len(spans) == 13
    assert len({s.trace_id for s in spans}) == 1
    by_name: dict[str, list[Span]] = {}
    for s in spans:
        by_name.setdefault(s.name, []).append(s)
    (root,) = by_name["realtime session"]
    assert root.parent == b""
    assert (root.start, root.end) == (at(0), at(12_000))  # first event .. close line
    assert root.attrs["gen_ai.system"] == "openai"
    assert root.attrs["gen_ai.request.model"] == "gpt-realtime"
    assert root.events == ["exception"] and root.status == 2  # one error event: STATUS_CODE_ERROR

    turns = {
        s.attrs["rtlens.turn"]: s for s in by_name["turn 1"] + by_name["turn 2"] + by_name["turn 3"]
    }
    assert all(t.parent == root.span_id for t in turns.values())
    # turn 1: speech_started at 1000 ms, first audio delta at 2600 ms
    assert (turns[1].start, turns[1].end) == (at(1000), at(2600))
    assert turns[1].attrs["rtlens.v2v_ms"] == pytest.approx(600.0)  # speech_stopped 2000 → 2600

    responses = {s.attrs["gen_ai.response.id"]: s for s in by_name["response"]}
    assert sorted(responses) == ["resp_1", "resp_2", "resp_3", "resp_4", "resp_oob"]
    r1 = responses["resp_1"]
    assert (r1.start, r1.end) == (at(2200), at(3100))  # response.created .. response.done
    assert r1.parent == turns[1].span_id
    # usage(100, 50, 10, 25, cached_text=64): 150 in, 35 out, 64 cached
    assert r1.attrs["gen_ai.usage.input_tokens"] == 150
    assert r1.attrs["gen_ai.usage.output_tokens"] == 35
    assert r1.attrs["rtlens.usage.cached_tokens"] == 64
    assert responses["resp_4"].parent == turns[3].span_id  # the tool follow-up
    assert responses["resp_oob"].parent == root.span_id  # out of band: no turn
    assert responses["resp_2"].attrs["gen_ai.response.finish_reasons"] == "cancelled"

    (tool,) = by_name["execute_tool get_weather"]
    assert tool.parent == responses["resp_3"].span_id
    assert (tool.start, tool.end) == (at(7300), at(7900))  # arguments done .. output sent
    assert tool.attrs["gen_ai.tool.name"] == "get_weather"
    assert tool.attrs["gen_ai.tool.call.id"] == "call_1"

    transcriptions = by_name["transcription"]
    assert len(transcriptions) == 3
    first = next(t for t in transcriptions if t.attrs["rtlens.turn"] == 1)
    assert (first.start, first.end) == (at(2050), at(2800))  # committed .. completed
    assert first.parent == turns[1].span_id


def test_spans_equal_the_tables(recording: Path, receiver: Receiver) -> None:
    assert export(str(recording), "--endpoint", receiver.url).returncode == 0
    spans = receiver.requests[0]
    con = rtlens.load([recording])
    rows = con.execute(
        "SELECT response_id, created_ms, done_ms, input_tokens, output_tokens FROM responses"
    ).fetchall()
    got = {
        s.attrs["gen_ai.response.id"]: (
            s.start,
            s.end,
            s.attrs["gen_ai.usage.input_tokens"],
            s.attrs["gen_ai.usage.output_tokens"],
        )
        for s in spans
        if s.name == "response"
    }
    assert got == {r[0]: (at(r[1]), at(r[2]), r[3], r[4]) for r in rows}
    n_turns, n_calls, n_trans = con.execute(
        "SELECT (SELECT count(*) FROM turns), (SELECT count(*) FROM function_calls),"
        " (SELECT count(*) FROM transcriptions)"
    ).fetchone()  # type: ignore[misc]
    assert len(spans) == 1 + n_turns + len(rows) + n_calls + n_trans


def test_exporting_twice_gives_the_same_ids(recording: Path, tmp_path: Path, receiver: Receiver):
    db = tmp_path / "rt.duckdb"
    rtlens.load([recording], db=db).close()
    assert export(str(recording), "--endpoint", receiver.url).returncode == 0
    assert export("--db", str(db), "--endpoint", receiver.url + "/v1/traces").returncode == 0
    first, second = ({(s.trace_id, s.span_id, s.parent) for s in r} for r in receiver.requests)
    assert first == second and len(first) == 13


def test_an_unreachable_endpoint_is_one_line_and_exit_1(recording: Path) -> None:
    with socket.socket() as sock:  # a port nobody listens on: bound, then closed
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    done = export(str(recording), "--endpoint", url, "--timeout", "1")
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and url in lines[0] and "0 session(s) went out" in lines[0]
    assert "connection refused" in lines[0].lower()  # the cause, not only "gave up"


def test_a_refusal_midway_says_how_many_sessions_went_out(tmp_path: Path) -> None:
    a = write_ga_voice(tmp_path / "a.jsonl")
    b = tmp_path / "b.jsonl"
    b.write_text(a.read_text().replace("test-session", "other-session"))
    receiver = Receiver(ok=1)
    try:
        done = export(str(a), str(b), "--endpoint", receiver.url, "--timeout", "1")
    finally:
        receiver.close()
    assert done.returncode == 1
    assert len(receiver.requests) == 1
    assert "1 session(s) went out" in done.stderr and len(done.stderr.splitlines()) == 1
    assert "400" in done.stderr  # the receiver's refusal, named


def test_a_bad_header_is_a_usage_error(recording: Path) -> None:
    done = export(str(recording), "--endpoint", "http://127.0.0.1:1", "--header", "novalue")
    assert done.returncode == 2 and "K=V" in done.stderr


def test_grpc_to_the_real_trace_service(recording: Path) -> None:
    """The same spans over OTLP/gRPC, to a grpc server running opentelemetry-proto's
    TraceService servicer."""
    from concurrent import futures

    import grpc
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc

    received: list[ExportTraceServiceRequest] = []
    metadata: list[dict[str, str]] = []

    class Service(trace_service_pb2_grpc.TraceServiceServicer):
        def Export(self, request, context):  # noqa: N802 - grpc's names
            received.append(request)
            metadata.append(dict(context.invocation_metadata()))
            return ExportTraceServiceResponse()

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Service(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        url = f"http://127.0.0.1:{port}"
        done = export(str(recording), "--endpoint", url, "--protocol", "grpc", "--header", "k=v")
    finally:
        server.stop(None)
    assert done.returncode == 0, done.stderr
    assert len(received) == 1 and metadata[0]["k"] == "v"
    spans = [s for rs in received[0].resource_spans for ss in rs.scope_spans for s in ss.spans]
    assert (
        len(spans) == 13
    )  # as over HTTP: 1 session, 3 turns, 5 responses, 1 tool, 3 transcriptions
    (tool,) = [s for s in spans if s.name == "execute_tool get_weather"]
    assert (tool.start_time_unix_nano, tool.end_time_unix_nano) == (at(7300), at(7900))

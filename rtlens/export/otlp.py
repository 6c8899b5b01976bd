"""Hand session traces to the OpenTelemetry SDK's OTLP exporters (http/protobuf or grpc).

Spans are built as the SDK's `ReadableSpan`s with our own ids and times rather than
started on a tracer: a tracer picks random ids and the clock's times, and a recording's
spans already happened. The exporter encodes and sends them exactly as it would any SDK
span. One export call per session: a session goes out whole or not at all.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from rtlens.export.spans import SessionTrace, SpanRecord
from rtlens.version import __version__

Protocol = Literal["http/protobuf", "grpc"]
PROTOCOLS: tuple[Protocol, ...] = ("http/protobuf", "grpc")
SERVICE_NAME = "rtlens"


class ExportError(Exception):
    """A session could not be sent; `sent` sessions went out before it."""

    def __init__(self, message: str, sent: int) -> None:
        super().__init__(message)
        self.sent = sent


@dataclass(frozen=True)
class ExportSummary:
    sessions: int
    spans: int


def traces_url(endpoint: str, protocol: Protocol) -> str:
    """http/protobuf: a bare `http://host:port` gets OTLP's `/v1/traces` path (as the SDK
    does for OTEL_EXPORTER_OTLP_ENDPOINT); a URL with a path is used as it is."""
    if protocol == "http/protobuf" and urlsplit(endpoint).path in ("", "/"):
        return endpoint.rstrip("/") + "/v1/traces"
    return endpoint


def check_installed(protocol: str) -> str | None:
    """None, or the sentence saying which extra to install for `protocol`."""
    import importlib.util

    module = "grpc" if protocol == "grpc" else "http"
    try:
        found = importlib.util.find_spec(f"opentelemetry.exporter.otlp.proto.{module}")
    except ModuleNotFoundError:
        found = None
    if found is None:
        return f"the OTLP {protocol} exporter is not installed: pip install 'rtlens[otel]'"
    return None


def make_exporter(
    endpoint: str, protocol: Protocol, headers: Mapping[str, str], timeout_s: float
) -> Any:
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter(
            endpoint=endpoint,
            insecure=urlsplit(endpoint).scheme != "https",
            headers=dict(headers),
            timeout=timeout_s,
        )
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
        OTLPSpanExporter as HttpExporter,
    )

    return HttpExporter(
        endpoint=traces_url(endpoint, protocol), headers=dict(headers), timeout=timeout_s
    )


def to_readable(spans: list[SpanRecord]) -> list[Any]:
    """The SDK's spans for one session's records (ids, parents, times, status kept)."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import Event, ReadableSpan
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope
    from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

    resource = Resource.create({"service.name": SERVICE_NAME})
    scope = InstrumentationScope("rtlens", __version__)
    flags = TraceFlags(TraceFlags.SAMPLED)

    def context(trace: int, span: int) -> SpanContext:
        return SpanContext(trace, span, is_remote=False, trace_flags=flags)

    return [
        ReadableSpan(
            name=s.name,
            context=context(s.trace_id, s.span_id),
            parent=None if s.parent_id is None else context(s.trace_id, s.parent_id),
            resource=resource,
            attributes=s.attributes,
            events=[Event(e.name, e.attributes, e.time_ns) for e in s.events],
            kind=SpanKind.CLIENT if s.parent_id is not None else SpanKind.INTERNAL,
            status=Status(StatusCode.ERROR, s.error) if s.error else Status(StatusCode.UNSET),
            start_time=s.start_ns,
            end_time=s.end_ns,
            instrumentation_scope=scope,
        )
        for s in spans
    ]


class _FirstWarning(logging.Handler):
    """The exporters say why a batch failed only in their log. The first line logged is
    the cause (a refused connection, a status code); the last only says it gave up."""

    _ERRNO = re.compile(r"\[Errno -?\d+\] [^\"')]+")

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.first: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if self.first is None:
            text = record.getMessage().splitlines()[0] if record.getMessage() else ""
            found = self._ERRNO.search(text)
            self.first = (found.group(0) if found else text)[:300] or None

    def reason(self) -> str:
        first, self.first = self.first, None
        return f": {first}" if first else ""


def watch_exporter_log() -> _FirstWarning:
    """Catch the exporters' warnings (for `why_failed`) instead of printing them."""
    log = logging.getLogger("opentelemetry.exporter")
    caught = _FirstWarning()
    log.addHandler(caught)
    log.propagate = False  # the reason goes in our one line
    return caught


def export_spans(exporter: Any, spans: list[SpanRecord]) -> bool:
    """One export call; True if the endpoint took the spans."""
    from opentelemetry.sdk.trace.export import SpanExportResult

    return exporter.export(to_readable(spans)) is SpanExportResult.SUCCESS


def why_failed(caught: _FirstWarning, endpoint: str, timeout_s: float) -> str:
    """`: <cause>` of the last failed export (or ``), from the log or by connecting."""
    why = caught.reason()
    if "Errno" not in why and (probed := probe(endpoint, timeout_s)):
        why = f": {probed}"  # the exporter only said it gave up: say why
    return why


def probe(endpoint: str, timeout_s: float) -> str | None:
    """Why the endpoint cannot be reached, found by connecting to it (the exporter's own
    log names the cause only if it retried before its deadline), or None if it can."""
    import socket

    parts = urlsplit(endpoint if "//" in endpoint else f"//{endpoint}")
    if parts.hostname is None:
        return None
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=max(timeout_s, 0.1)):
            return None
    except OSError as exc:
        return str(exc) if exc.errno is not None else f"no connection ({exc})"


def send(
    traces: Iterable[SessionTrace],
    endpoint: str,
    *,
    protocol: Protocol = "http/protobuf",
    headers: Mapping[str, str] | None = None,
    timeout_s: float = 10.0,
) -> ExportSummary:
    """Send each session's trace in its own export call; stop at the first that fails
    (raising `ExportError`, which says how many went out before it)."""
    from opentelemetry.sdk.trace.export import SpanExportResult

    exporter = make_exporter(endpoint, protocol, headers or {}, timeout_s)
    log = logging.getLogger("opentelemetry.exporter")
    caught = _FirstWarning()
    log.addHandler(caught)
    propagate, log.propagate = log.propagate, False  # the reason goes in our one line
    sessions = spans = 0
    try:
        for trace in traces:
            result = exporter.export(to_readable(trace.spans))
            if result is not SpanExportResult.SUCCESS:
                why = why_failed(caught, endpoint, timeout_s)
                raise ExportError(
                    f"cannot send traces to {endpoint} ({protocol}){why}; "
                    f"{sessions} session(s) went out before session {trace.session_id}",
                    sessions,
                )
            caught.reason()  # a retried warning of a session that went out is not the cause
            sessions += 1
            spans += len(trace.spans)
    finally:
        log.removeHandler(caught)
        log.propagate = propagate
        exporter.shutdown()
    return ExportSummary(sessions, spans)

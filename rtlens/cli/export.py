"""`rtlens export otel`: the recordings as OpenTelemetry traces, to any OTLP collector."""

from __future__ import annotations

import click

from rtlens.cli.options import db_option, otlp_options, paths_argument


@click.group(short_help="Send sessions to other systems (OpenTelemetry traces).")
def export() -> None:
    """Send sessions to the systems a team already runs."""


@export.command(short_help="One OpenTelemetry trace per session, over OTLP.")
@paths_argument(required=False)
@db_option(default=None, help_text="Export this database (all sessions, or those of PATHS).")
@click.option(
    "--endpoint",
    required=True,
    metavar="URL",
    help="The OTLP receiver, e.g. http://127.0.0.1:4318 (http: /v1/traces is added to a "
    "bare host:port) or http://127.0.0.1:4317 for grpc.",
)
@otlp_options(
    "",
    protocol_help="OTLP transport.",
    header_help="Send this header with every request (repeatable), e.g. an API key.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    default=10.0,
    show_default=True,
    help="Seconds to keep trying one session before giving up.",
)
def otel(
    paths: tuple[str, ...],
    db: str | None,
    endpoint: str,
    protocol: str,
    headers: dict[str, str],
    timeout: float,
) -> None:
    """Send one trace per session: a root span for the session, child spans for each turn,
    response, tool call and transcription, with their real times from the recording and
    the OpenTelemetry GenAI attributes (docs/otel.md).

    Trace and span ids are derived from the session and row ids, so sending a session
    twice gives the same ids and a collector can deduplicate. Header values are sent, never
    written anywhere.

    \b
    Examples:
      rtlens export otel recordings/ --endpoint http://127.0.0.1:4318
      rtlens export otel --db rt.duckdb --endpoint http://127.0.0.1:4317 --protocol grpc
      rtlens export otel rec.jsonl --endpoint https://api.honeycomb.io \\
          --header x-honeycomb-team=KEY
    """
    from rtlens.analysis.load import ingest_in_memory, open_database, sessions_for_files
    from rtlens.errors import InputError
    from rtlens.export.otlp import ExportError, check_installed, send
    from rtlens.export.spans import session_traces

    if not paths and db is None:
        raise click.UsageError("give recordings (files or folders) or --db FILE")
    missing = check_installed(protocol)
    if missing:
        raise click.UsageError(missing)
    try:
        if db is None:
            con, _ = ingest_in_memory(list(paths))
            wanted = None
        else:
            con = open_database(db)
            wanted = sessions_for_files(con, list(paths)) if paths else None
    except InputError as exc:
        raise click.UsageError(str(exc)) from exc
    try:
        summary = send(
            session_traces(con, wanted),
            endpoint,
            protocol="grpc" if protocol == "grpc" else "http/protobuf",
            headers=headers,
            timeout_s=timeout,
        )
    except ExportError as exc:
        raise click.ClickException(str(exc)) from exc  # exit 1
    if summary.sessions == 0:
        raise click.ClickException("no sessions to export")
    click.echo(f"sent {summary.sessions} session(s), {summary.spans} spans to {endpoint}")

"""`rtlens record`: run the recording relay (rtlens.recording.run_relay) until Ctrl-C."""

from __future__ import annotations

from typing import Any, cast

import click

from rtlens.cli.options import otlp_options


@click.command(short_help="Record every Realtime session through a local relay.")
@click.option(
    "--listen",
    default="127.0.0.1:8765",
    show_default=True,
    metavar="HOST:PORT",
    help="Address the app connects to instead of the API (port 0: any free port).",
)
@click.option(
    "--upstream",
    default="wss://api.openai.com",
    show_default=True,
    metavar="URL",
    help="Base URL of the real API; the app's path and query are appended (Azure works too).",
)
@click.option(
    "--out",
    "out_dir",
    default="recordings",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Folder for the recordings, one JSONL file per connection.",
)
@click.option(
    "--redact-audio",
    is_flag=True,
    help='Write base64 audio as "" plus its decoded byte count.',
)
@click.option(
    "--shared-files",
    is_flag=True,
    help="Create recordings 0644 and folders per the umask (default: files 0600, folders 0700).",
)
# -- TLS (h14clients) --
@click.option(
    "--tls-cert",
    type=click.Path(dir_okay=False),
    metavar="PEM",
    help="Serve wss:// with this certificate (for clients that force wss:, like Node's openai).",
)
@click.option(
    "--tls-key",
    type=click.Path(dir_okay=False),
    metavar="PEM",
    help="The certificate's private key (if not in the --tls-cert file).",
)
# -- end TLS --
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    metavar="N",
    help="Relay processes sharing the listen address, each owning its connections (default: "
    "one per core; 1: a single process).",
)
@click.option(
    "--metrics",
    "metrics_addr",
    metavar="HOST:PORT",
    help="Serve Prometheus metrics at http://HOST:PORT/metrics (e.g. 127.0.0.1:9464).",
)
@click.option(
    "--collect-origin",
    "collect_origins",
    multiple=True,
    metavar="ORIGIN",
    help="A page origin allowed to POST /collect (the browser capture), e.g. "
    "https://app.example.com; repeatable; '*' for any (default: origins on this machine, "
    "http(s)://localhost|127.x|[::1], any port).",
)
@click.option(
    "--collect-remote",
    is_flag=True,
    help="Take /collect batches from other machines too (default: loopback peers only).",
)
@click.option(
    "--otlp",
    "otlp_endpoint",
    metavar="URL",
    help="Send each session's OpenTelemetry spans live to this OTLP receiver (the spans "
    "'rtlens export otel' sends; a turn's once it is settled), e.g. http://127.0.0.1:4318.",
)
@otlp_options(
    "otlp-",
    protocol_help="OTLP transport for --otlp.",
    header_help="Send this header with every OTLP request (repeatable), e.g. an API key.",
)
def record(
    listen: str,
    upstream: str,
    out_dir: str,
    redact_audio: bool,
    shared_files: bool,
    tls_cert: str | None,
    tls_key: str | None,
    workers: int | None,
    metrics_addr: str | None,
    collect_origins: tuple[str, ...],
    collect_remote: bool,
    otlp_endpoint: str | None,
    otlp_protocol: str,
    otlp_headers: dict[str, str],
) -> None:
    """Record every Realtime session through a local relay (JSONL).

    Point the app at the relay instead of the API: same path and query, same headers (auth
    passes through to the API but is never written). Ctrl-C closes every session cleanly.
    Recordings are private (files 0600, new folders 0700) unless --shared-files. Listening
    beyond loopback prints a warning: the relay has no authentication of its own.

    \b
    Example:
      rtlens record --out recordings/
      # then connect the app to ws://127.0.0.1:8765/v1/realtime?model=gpt-realtime
      # openai SDK: AsyncOpenAI(websocket_base_url="ws://127.0.0.1:8765/v1")
      rtlens record --metrics 127.0.0.1:9464   # Prometheus scrapes /metrics
      # WebRTC in a browser: <script src="http://127.0.0.1:8765/capture.js"></script>
      # before the app's RTCPeerConnection; each call becomes a file (source: browser)
      rtlens record --otlp http://127.0.0.1:4318   # spans to an OpenTelemetry collector
      # WebRTC in a browser: <script src="http://127.0.0.1:8765/capture.js"></script>
      # before the app's RTCPeerConnection; each call becomes a file (source: browser)
      rtlens record --collect-origin http://localhost:5173
    """
    from rtlens.recording import (
        RelayStartError,
        exposed_warning,
        is_loopback,
        normalize_upstream,
        parse_listen,
        run_relay,
    )
    from rtlens.recording.collect_http import CollectPolicy
    from rtlens.recording.workers import default_workers

    try:
        host, port = parse_listen(listen)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--listen'") from None
    try:
        upstream = normalize_upstream(upstream)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--upstream'") from None
    if not is_loopback(host):
        click.echo(exposed_warning(host, port), err=True)
    sinks: list[Any] = []
    if metrics_addr is not None:
        sinks.append(_start_metrics(metrics_addr))
    sender = None
    if otlp_endpoint is not None:
        sender = _start_otlp(otlp_endpoint, otlp_protocol, otlp_headers)
        sinks.append(sender)
    feed = None
    if sinks:
        from rtlens.live.feed import LiveFeed

        feed = LiveFeed(sinks)
    try:
        run_relay(
            host,
            port,
            upstream=upstream,
            out_dir=out_dir,
            redact_audio=redact_audio,
            shared_files=shared_files,
            report=click.echo,
            tls_cert=tls_cert,
            tls_key=tls_key,
            workers=default_workers() if workers is None else workers,
            on_recorded=None if feed is None else feed.submit,
            collect_policy=CollectPolicy(origins=collect_origins, remote=collect_remote),
        )
    except RelayStartError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        if feed is not None:
            feed.close()  # what the files hold is published before the summary
        if sender is not None:
            click.echo(sender.summary())


def _start_metrics(addr: str) -> Any:
    """Serve /metrics; returns the metrics, for the live feed to update."""
    from rtlens.recording import parse_listen

    try:
        from rtlens.live.metrics import RelayMetrics
        from rtlens.live.server import MetricsServerError, serve_metrics
    except ImportError as exc:  # prometheus_client is an extra
        raise click.ClickException(
            f"--metrics needs prometheus_client ({exc}): pip install 'rtlens[metrics]'"
        ) from None

    try:
        host, port = parse_listen(addr)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--metrics'") from None
    metrics = RelayMetrics()
    try:
        _server, bound = serve_metrics(host, port, metrics.registry)
    except MetricsServerError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"metrics: http://{host}:{bound}/metrics")
    return metrics


def _start_otlp(endpoint: str, protocol: str, headers: dict[str, str]) -> Any:
    """The live span sender for --otlp (it reports a failing endpoint on the terminal)."""
    from rtlens.export.otlp import Protocol, check_installed

    missing = check_installed(protocol)
    if missing is not None:
        raise click.ClickException(f"--otlp: {missing}")
    from rtlens.live.traces import SpanSender

    sender = SpanSender(endpoint, cast(Protocol, protocol), headers, click.echo)
    click.echo(f"otlp: sending spans live to {endpoint} ({protocol})")
    return sender

"""`rtlens record`: run the recording relay (rtlens.recording.run_relay) until Ctrl-C."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click


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
    on_recorded = None
    if metrics_addr is not None:
        on_recorded = _start_metrics(metrics_addr)
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
            on_recorded=on_recorded,
            collect_policy=CollectPolicy(origins=collect_origins, remote=collect_remote),
        )
    except RelayStartError as exc:
        raise click.ClickException(str(exc)) from None


def _start_metrics(addr: str) -> Callable[[Path], None]:
    """Serve /metrics; returns what the relay calls with each closed recording."""
    from rtlens.recording import parse_listen

    try:
        from rtlens.live import MetricsFeed, MetricsServerError, RelayMetrics, serve_metrics
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
    return MetricsFeed(metrics).submit

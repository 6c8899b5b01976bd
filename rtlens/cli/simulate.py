"""`rtlens simulate`: run the local Realtime API stand-in (thin wrapper over `rtlens.simulator`)."""

from __future__ import annotations

import errno
from typing import cast

import click

from rtlens.simulator.config import DIALECT_MODES, DialectMode
from rtlens.simulator.scenarios import SCENARIOS


def _scenario_help() -> str:
    width = max(len(name) for name in SCENARIOS)
    return "\n".join(f"  {name.ljust(width)}  {s.summary}" for name, s in SCENARIOS.items())


@click.command(
    short_help="Stand in for the Realtime API locally (beta and GA).",
    epilog="\b\nScenarios:\n" + _scenario_help(),
)
@click.option(
    "--listen",
    default="127.0.0.1:8766",
    show_default=True,
    metavar="HOST:PORT",
    help="Address to listen on (port 0 picks a free port).",
)
@click.option(
    "--dialect",
    type=click.Choice(DIALECT_MODES),
    default="auto",
    show_default=True,
    help="auto: GA unless the client asks for beta; ga: refuse beta like OpenAI today.",
)
@click.option(
    "--scenario",
    type=click.Choice(list(SCENARIOS)),
    default="default",
    show_default=True,
    help="Special behaviour (listed below).",
)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Seed for ids, canned replies and jitter (per connection).",
)
@click.option(
    "--pace",
    type=float,
    default=1.0,
    show_default=True,
    help="Multiplier on every delay: 1 = real service timing, 0 = no waits.",
)
@click.option("--no-auth", is_flag=True, help="Accept connections without an API key.")
@click.option(
    "--webrtc-port",
    type=click.IntRange(0, 65535),
    default=None,
    help="HTTP port (on the --listen host) for WebRTC offers, POST /v1/realtime/calls "
    "(needs the webrtc extra). Default: the --listen port + 1 (8767), or a free port "
    "when --listen's port is 0.",
)
@click.option("--no-webrtc", is_flag=True, help="Do not answer WebRTC offers.")
def simulate(
    listen: str,
    dialect: str,
    scenario: str,
    seed: int,
    pace: float,
    no_auth: bool,
    webrtc_port: int | None,
    no_webrtc: bool,
) -> None:
    """Stand in for the OpenAI Realtime API (WebSocket, beta and GA) on this machine.

    \b
    Example:
      rtlens simulate --listen 127.0.0.1:8766 --scenario rate-limit
      # then point your app at ws://127.0.0.1:8766/v1/realtime?model=gpt-realtime
      # (any non-empty API key works; add OpenAI-Beta: realtime=v1 for the beta protocol)
      # WebRTC: POST the SDP offer to http://127.0.0.1:8767/v1/realtime/calls; the answer's
      # Location header names the call, and ws://127.0.0.1:8766/v1/realtime?call_id=<id>
      # is its sideband connection
    """
    from rtlens.simulator import SimulatorConfig, run
    from rtlens.simulator.server import SignallingPortError, parse_listen, webrtc_available

    try:
        _host, port = parse_listen(listen)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--listen") from None
    if webrtc_port is None:
        webrtc_port = min(port + 1, 65535) if port else 0
    if pace < 0:
        raise click.BadParameter("must be >= 0", param_hint="--pace")
    cfg = SimulatorConfig(
        dialect=cast(DialectMode, dialect),
        scenario=scenario,
        seed=seed,
        pace=pace,
        require_auth=not no_auth,
    )
    if not no_webrtc and not webrtc_available():
        click.echo(
            "rtlens simulate: WebRTC off (pip install 'rtlens[webrtc]' for aiortc and aiohttp)",
            err=True,
        )
        no_webrtc = True
    try:
        run(listen, cfg, log=click.echo, webrtc_port=None if no_webrtc else webrtc_port)
    except SignallingPortError as exc:
        raise click.ClickException(
            f"cannot listen on port {webrtc_port} for WebRTC offers: {_reason(exc)}; "
            "pick another with --webrtc-port (or --no-webrtc)"
        ) from None
    except OSError as exc:
        raise click.ClickException(
            f"cannot listen on {listen}: {_reason(exc)}; pick another port with --listen"
        ) from None


def _reason(exc: OSError) -> str:
    return "address already in use" if exc.errno == errno.EADDRINUSE else exc.strerror or str(exc)

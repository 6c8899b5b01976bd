"""`rtlens replay`: serve a recording as a Realtime server (thin wrapper over rtlens.replay)."""

from __future__ import annotations

import sys

import click


@click.command(short_help="Serve a recording as a Realtime server (WebSocket).")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--listen",
    default="127.0.0.1:8767",
    show_default=True,
    metavar="HOST:PORT",
    help="Address to listen on (port 0 picks a free port).",
)
@click.option(
    "--speed",
    type=float,
    default=1.0,
    show_default=True,
    help="Pace multiplier: 2 = twice as fast, 0 = no waits.",
)
@click.option(
    "--strict",
    is_flag=True,
    help="End the replay at the first client event that differs in type or order.",
)
def replay(file: str, listen: str, speed: float, strict: bool) -> None:
    """Serve FILE's server events to an app, each after the client event it followed.

    \b
    Example:
      rtlens replay recordings/call.jsonl --speed 2
      # then point your app at ws://127.0.0.1:8767/v1/realtime?model=gpt-realtime
    """
    from rtlens.replay.schedule import ReplayError, load_schedule
    from rtlens.replay.server import main_sync

    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit():
        raise click.BadParameter("expected HOST:PORT", param_hint="--listen")
    if not speed >= 0:  # also refuses nan, which no comparison passes
        raise click.BadParameter("must be a number >= 0", param_hint="--speed")
    try:
        schedule = load_schedule(file)
    except ReplayError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    sys.exit(main_sync(schedule, host, int(port), speed, strict, click.echo))

"""`rtlens attach`: record a WebRTC/SIP call from its sideband WebSocket (rtlens.recording)."""

from __future__ import annotations

import os

import click


@click.command(short_help="Record a WebRTC or SIP call from its sideband connection.")
@click.argument("call_id")
@click.option(
    "--upstream",
    default="wss://api.openai.com",
    show_default=True,
    metavar="URL",
    help="Base URL of the API; /v1/realtime?call_id=CALL_ID is appended.",
)
@click.option(
    "--out",
    "out_dir",
    default="recordings",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Folder for the recording (one JSONL file, source: sideband).",
)
@click.option(
    "--redact-audio",
    is_flag=True,
    help='Write base64 audio as "" plus its decoded byte count.',
)
def attach(call_id: str, upstream: str, out_dir: str, redact_audio: bool) -> None:
    """Record the server events of a running call (WebRTC, or SIP accepted by webhook) until
    it ends, from a sideband WebSocket (?call_id=). The API key comes from OPENAI_API_KEY
    and is never written. Ctrl-C stops recording and closes the file cleanly.

    \b
    Example:
      export OPENAI_API_KEY=sk-...
      rtlens attach rtc_u1ZxAbC... --out recordings/
      # the call id is the last part of the Location header of POST /v1/realtime/calls,
      # or the call_id of the realtime.call.incoming webhook (SIP)
    """
    from rtlens.recording import normalize_upstream
    from rtlens.recording.attach import AttachError, run_attach

    api_key = os.environ.get("OPENAI_API_KEY", "").strip()
    if not api_key:
        raise click.UsageError("set OPENAI_API_KEY: the sideband connection needs the API key")
    try:
        upstream = normalize_upstream(upstream)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--upstream'") from None
    try:
        done = run_attach(
            call_id, upstream=upstream, api_key=api_key, out_dir=out_dir, redact_audio=redact_audio
        )
    except AttachError as exc:
        raise click.ClickException(str(exc)) from None
    ended = f"close {done.close_code} {done.close_reason}".strip()
    click.echo(f"{done.path}: {done.events} server event(s), {ended}")
    if done.refused:
        raise click.ClickException(
            f"the API refused the sideband for {call_id} ({ended}): see the error in {done.path}"
        )

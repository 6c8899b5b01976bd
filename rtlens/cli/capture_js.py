"""`rtlens capture-js`: print the browser capture script (rtlens.recording.capture_script)."""

from __future__ import annotations

import click


@click.command("capture-js", short_help="Print the browser capture script for WebRTC calls.")
@click.option(
    "--collect-url",
    default="http://127.0.0.1:8765/collect",
    show_default=True,
    metavar="URL",
    help="Where the page posts its batches: rtlens record's listen address + /collect.",
)
def capture_js(collect_url: str) -> None:
    """Print the script that records a browser's WebRTC calls to the Realtime API.

    Include it before the app creates its RTCPeerConnection: it records every event on the
    oai-events data channel, both directions, timestamped in the page, and the SDP POST
    (URL, status, headers; never the key), and posts them to rtlens record, which writes
    one file per call (source: browser). rtlens record also serves it at /capture.js.

    \b
    Example:
      rtlens capture-js > public/rtlens-capture.js
      # <script src="/rtlens-capture.js"></script> before the app's own script, then:
      rtlens record --collect-origin http://localhost:5173
    """
    from rtlens.recording.capture_script import capture_js as script

    if not collect_url.startswith(("http://", "https://")):
        raise click.BadParameter("an http:// or https:// URL", param_hint="'--collect-url'")
    click.echo(script(collect_url), nl=False)

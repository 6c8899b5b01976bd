"""`rtlens audio`: the call as a stereo WAV (user left, agent right)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click


@click.command(short_help="Write the call as a stereo WAV: user left, agent right.")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "-o",
    "--out",
    "out",
    type=click.Path(dir_okay=False, writable=True),
    help="The WAV to write (default: FILE's name with .wav, or .turnN.wav with --turn).",
)
@click.option(
    "--heard/--generated",
    "heard",
    default=True,
    help="Cut each reply where playback stopped (default), or keep all the audio generated.",
)
@click.option(
    "--turn",
    type=click.IntRange(min=1),
    help="Only this turn (1-based, as in turns.turn), with a second of context either side.",
)
@click.option(
    "--rate",
    type=click.IntRange(min=8000, max=96000),
    default=24000,
    show_default=True,
    help="Sample rate of the WAV (audio is resampled to it).",
)
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but problems.")
def audio(
    file: str, out: str | None, heard: bool, turn: int | None, rate: int, quiet: bool
) -> None:
    """Write FILE's conversation as a stereo WAV on the session's real timeline.

    User audio (left) is placed where the app sent it; agent audio (right) where playback
    would run: from a reply's first audio delta, never overlapping the reply before. With
    --heard (the default) each reply is cut where the wire says playback stopped (a
    truncate's audio_end_ms, WebRTC output_audio_buffer.cleared). OUT.json, written beside
    the WAV, says where every reply, user turn and cut lies.

    \b
    Examples:
      rtlens audio recordings/call.jsonl -o call.wav
      rtlens audio recordings/call.jsonl --generated --turn 3 -o turn3.wav
    """
    from rtlens.audio import NoAudioError, render_wav
    from rtlens.errors import InputError

    source = Path(file)
    if out is None:
        stem = source.name.removesuffix(".gz").rsplit(".", 1)[0]
        out = str(source.with_name(stem + (f".turn{turn}" if turn else "") + ".wav"))
    target = Path(out)
    if not source.is_file():
        click.echo(f"Error: {source}: no such file", err=True)
        sys.exit(2)
    size = source.stat().st_size
    show_bar = not quiet and sys.stderr.isatty() and size > 0
    bar = click.progressbar(length=size, label="Rendering", file=sys.stderr)
    try:
        if show_bar:
            with bar:
                result = render_wav(
                    source,
                    target,
                    mode="heard" if heard else "generated",
                    turn=turn,
                    rate=rate,
                    on_progress=bar.update,
                )
        else:
            result = render_wav(
                source, target, mode="heard" if heard else "generated", turn=turn, rate=rate
            )
    except (NoAudioError, InputError) as exc:
        # One line and exit 2 (SPEC §4): no usage text, the options were fine.
        target.unlink(missing_ok=True)
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    except OSError as exc:  # the output folder cannot be written, the disk is full, ...
        click.echo(f"Error: {target}: {exc.strerror or exc}", err=True)
        sys.exit(2)
    side = target.with_suffix(".json")
    side.write_text(json.dumps(result.to_json(), indent=2), encoding="utf-8")
    if not quiet:
        click.echo(
            f"Wrote {target} ({result.duration_s:.1f} s, {result.rate} Hz stereo, "
            f"{len(result.replies)} replies, {len(result.cuts)} cut) and {side}"
        )

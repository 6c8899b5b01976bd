"""A recording's conversation as sound: `rtlens audio` and what the report pages play.

Contract (what callers such as the session page may rely on):

- `render_wav(recording, out, *, mode="heard"|"generated", turn=None, rate=24000,
  on_progress=None) -> AudioRender` streams a 16-bit stereo WAV: **user left, agent right**,
  at `rate` Hz, on the session's timeline. Memory stays flat; temporary files beside `out`
  take as much disk as the WAV while it is made. Cost: two passes over the recording (turn
  numbers, then audio), about 7 s for a one-hour call; `turn=N` costs the same (the whole
  session is placed, then only the window is written), so a page wanting many turns should
  render once and seek.
- Time base: every `*_s` field is **session seconds** = seconds since `AudioRender.origin_ts`,
  the `ts` of the recording's first timestamped line, which is also the zero of every
  `*_ms` column of the tables (so a turn's `speech_started_ms / 1000` is a session second).
  WAV time (an `<audio>` element's `currentTime`) = session seconds - `offset_s`;
  `offset_s` is 0 for a whole-session render and the window's start with `turn=N`.
- `AudioRender.replies`: one `ReplySpan` per assistant audio item (`response_id`, `item_id`,
  `turn` = `turns.turn`, `start_s`, `heard_end_s`, `generated_end_s`, `end_s` = the end
  in this file, `cut`). `AudioRender.cuts`: one `Cut` per reply the wire cut (`start_s`,
  `generated_s`, `heard_s`, `cut_at_s` = `start_s + heard_s`, `source` "truncate" or
  "output_audio_buffer.cleared"). `AudioRender.user_spans`: one `UserSpan` per turn with
  user audio (`turn`, `item_id`, `start_s`, `end_s`). `to_json()` is the side JSON.
- Placement differs by mode: in heard mode a reply after a cut one may start at the cut;
  in generated mode it starts after the whole generated audio. Spans describe the file
  rendered; render heard (the default) for a page whose turns match the wall clock.
- `iter_reply_pcm(recording, response_id, rate=24000) -> Iterator[bytes]`: the response's
  generated agent audio, mono int16 little-endian at `rate`, streamed from one pass (no WAV
  rendered). Sample `round(cut.heard_s * rate)` is where the unheard remainder begins.
  `unheard_clip(recording, cut, out, rate=24000) -> float` writes that remainder as a mono
  WAV and returns its seconds.
- `NoAudioError`: nothing to write (recorded with `--redact-audio`, no audio payloads, no
  such turn); its message is one line naming the file. Unreadable files raise
  `rtlens.logfile.reader.InputError`.

How audio is placed on the timeline, and why: docs/audio.md and `rtlens.audio.render`.
"""

from __future__ import annotations

from rtlens.audio.model import AudioRender, Cut, Mode, NoAudioError, ReplySpan, UserSpan
from rtlens.audio.render import CONTEXT_S, USER_GAP_S, iter_reply_pcm, render_wav, unheard_clip

__all__ = [
    "CONTEXT_S",
    "USER_GAP_S",
    "AudioRender",
    "Cut",
    "Mode",
    "NoAudioError",
    "ReplySpan",
    "UserSpan",
    "iter_reply_pcm",
    "render_wav",
    "unheard_clip",
]

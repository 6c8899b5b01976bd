"""The session page's call debugger: a player for the conversation, a timeline strip whose
playhead follows it (click a bar or a turn to seek), the conversation as text with the
unheard part of cut replies struck through, an event inspector for the selected turn, and
one-click playback of each unheard remainder. Plain inline JS, no network.

All times are session seconds (see `rtlens.audio`): the WAV starts at session second 0, so
an `<audio>` element's `currentTime` is a session second.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from rtlens.analysis import detail
from rtlens.audio import NoAudioError
from rtlens.logfile.reader import InputError
from rtlens.report.page_audio import PageAudio, page_audio

ESTIMATE = "(unheard part estimated from the heard share of its audio)"
EVENTS_PER_TURN = 300  # the inspector's cap, so a long turn cannot swell the page
CHUNKS_SHOWN = 3  # of each kind of audio/transcript chunk event, per turn
CHUNK_SUFFIXES = (".append", ".delta")

CSS = """
#player{width:100%}.strip{position:relative;height:46px;background:#fff;border:1px solid #d8dee6;
border-radius:6px;margin:8px 0;cursor:pointer}.strip .bar{position:absolute;height:16px;
border-radius:2px}.strip .u{top:4px;background:#4c78a8}.strip .a{top:24px;background:#f58518}
.strip .x{top:24px;background:repeating-linear-gradient(45deg,#f5851855 0 4px,#fff 4px 8px)}
#playhead{position:absolute;top:0;bottom:0;width:2px;background:#c0392b;pointer-events:none}
.conv{list-style:none;padding:0}.conv li{background:#fff;border:1px solid #d8dee6;
border-radius:6px;margin:6px 0;padding:6px 10px;cursor:pointer}.conv li.sel{border-color:#c0392b}
.who{font-weight:600;margin-right:6px}.lat{color:#4b5866;font-size:12px}
.unheard{text-decoration:line-through;color:#8a96a3}.est{color:#8a96a3;font-size:12px}
#inspector{max-height:480px;overflow:auto}#inspector table{width:100%}
#inspector td{vertical-align:top}#inspector pre{margin:0;white-space:pre-wrap;
word-break:break-all;text-align:left;font-size:12px}
"""

# Runs once the whole page is parsed: the timeline figure it follows comes after it.
JS = r"""
document.addEventListener('DOMContentLoaded',function(){
const A=document.getElementById('player');const U=document.getElementById('unheard-player');
const D=JSON.parse(document.getElementById('page-data').textContent);
const strip=document.getElementById('strip');const head=document.getElementById('playhead');
function x(t){return (100*t/Math.max(D.duration,1e-9))+'%';}
function seek(t){A.currentTime=Math.max(0,t);}
const figs=[...document.querySelectorAll('.figsync')].map(f=>({f:f,h:f.querySelector('.fighead'),
 l:+f.dataset.left,w:+f.dataset.width,x0:+f.dataset.x0,x1:+f.dataset.x1}));
function figx(g,t){return 100*(g.l+g.w*(t-g.x0)/(g.x1-g.x0));}
A.addEventListener('timeupdate',()=>{head.style.left=x(A.currentTime);
 figs.forEach(g=>{g.h.style.display='block';g.h.style.left=figx(g,A.currentTime)+'%';});});
figs.forEach(g=>g.f.addEventListener('click',e=>{const r=g.f.getBoundingClientRect();
 seek(g.x0+(g.x1-g.x0)*((e.clientX-r.left)/r.width-g.l)/g.w);}));
document.querySelectorAll('.strip .bar').forEach(b=>{b.style.left=x(+b.dataset.start);
 b.style.width=x(+b.dataset.end-+b.dataset.start);});
strip.addEventListener('click',e=>{const t=e.target.closest('.bar');
 if(t){seek(+t.dataset.start);select(t.dataset.turn);}else{const r=strip.getBoundingClientRect();
 seek(D.duration*(e.clientX-r.left)/r.width);}});
function select(turn){if(turn===undefined||turn==='')return;
 document.querySelectorAll('.conv li').forEach(
  li=>li.classList.toggle('sel',li.dataset.turn===turn));
 const ev=D.events[turn]||{rows:[],more:0,chunks:{}};const box=document.getElementById('inspector');
 const rows=ev.rows.map(r=>'<tr><td>'+r[0]+'</td><td>'+(r[1]===null?'-':r[1].toFixed(3))+
  '</td><td class=l>'+esc(r[2]||'')+'</td><td class=l>'+esc(r[3]||'')+'</td><td class=l><pre>'+
  esc(r[4]||'')+'</pre></td></tr>').join('');
 const chunks=Object.entries(ev.chunks||{}).map(([k,v])=>'<li>'+v[0]+' more '+esc(k)+
  ' (until '+(v[1]===null?'-':v[1].toFixed(3))+' s)</li>').join('');
 box.innerHTML='<p>Turn '+esc(turn)+': '+ev.rows.length+' event(s)'+(ev.more?' (and '+ev.more+
  ' more not shown)':'')+'</p>'+(chunks?'<ul>'+chunks+'</ul>':'')+
  '<table><tr><th>seq</th><th>t (s)</th><th class=l>from</th>'+
  '<th class=l>type</th><th class=l>JSON</th></tr>'+rows+'</table>';}
const ESC={'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'};
function esc(s){return String(s).replace(/[&<>"]/g,c=>ESC[c]);}
document.querySelectorAll('.conv li').forEach(li=>li.addEventListener('click',e=>{
 if(e.target.closest('button'))return;seek(+li.dataset.start);select(li.dataset.turn);}));
document.querySelectorAll('button.play-unheard').forEach(b=>b.addEventListener('click',()=>{
 A.pause();U.src=D.clips[+b.dataset.clip];U.currentTime=0;U.play();}));
});
"""


@dataclass(frozen=True)
class ReplyLine:
    """One agent reply's words: heard, unheard (estimated), and its unheard clip if cut."""

    heard: str
    unheard: str
    clip: int | None  # index into the page's unheard clips


@dataclass(frozen=True)
class TurnLine:
    """One turn of the conversation as the page lists it."""

    turn: int
    start_s: float  # where a click seeks: its user audio, else its first timed event
    user_text: str
    latency: str
    replies: list[ReplyLine]


def player_section(
    con: Any, recording: str | Path | None, session_s: float | None, turns: list[dict[str, Any]]
) -> str:
    """The debugger's HTML (with its CSS and JS), or a one-line note when the recording's
    audio cannot be played (file gone, recorded with --redact-audio, no audio sent)."""
    if recording is None or not Path(recording).is_file():
        return "<h2>Listen</h2><p>No audio: the recording file is not at hand.</p>"
    try:
        audio = page_audio(recording, session_s)
    except (NoAudioError, InputError) as exc:
        return f"<h2>Listen</h2><p>No audio: {escape(str(exc))}</p>"
    lines = _turn_lines(con, turns, audio)
    events = _events_by_turn(con, turns)
    data = {
        "duration": audio.duration_s,
        "clips": [c.data_uri for c in audio.clips],
        "events": events,
    }
    layout = "stereo, user left / agent right" if audio.channels == 2 else "mono mix"
    parts = [
        f"<style>{CSS}</style><h2>Listen</h2>",
        f'<p class="facts">{audio.duration_s:.1f} s · μ-law WAV {audio.rate} Hz, '
        f"{layout} · {audio.size_bytes / 1e6:.1f} MB · what the user heard (cut replies stop "
        "where playback stopped)</p>",
        f'<audio id="player" controls preload="auto" src="{audio.data_uri}"></audio>',
        '<audio id="unheard-player" preload="none"></audio>',
        _strip(audio, turns),
        "<h2>Conversation</h2>",
        _conversation(lines),
        '<h2>Events of the selected turn</h2><div id="inspector"><p>Click a turn.</p></div>',
        # "</" cannot end the script early: JSON escapes it
        '<script type="application/json" id="page-data">'
        + json.dumps(data).replace("</", "<\\/")
        + "</script>",
        f"<script>{JS}</script>",
    ]
    return "\n".join(parts)


def _turn_start(t: dict[str, Any], audio: PageAudio) -> float:
    for span in audio.render.user_spans:
        if span.turn == t["turn"]:
            return span.start_s
    ms = t["speech_started_ms"] if t["speech_started_ms"] is not None else t["committed_ms"]
    return (ms or 0.0) / 1000


def _turn_lines(con: Any, turns: list[dict[str, Any]], audio: PageAudio) -> list[TurnLine]:
    replies: dict[int | None, list[dict[str, Any]]] = {}
    for r in detail.reply_text_rows(con):
        replies.setdefault(r["turn"], []).append(r)
    cuts = {c.response_id: c for c in audio.render.cuts}
    clip_of = {c.response_id: i for i, c in enumerate(audio.clips)}
    out = []
    for t in turns:
        said: list[ReplyLine] = []
        for r in replies.get(t["turn"], []):
            text = (r["text"] or "").strip()
            cut = cuts.get(r["response_id"])
            if cut is None or cut.generated_s <= 0:
                said.append(ReplyLine(text, "", None))
                continue
            heard, unheard = split_heard(text, cut.heard_s / cut.generated_s)
            said.append(ReplyLine(heard, unheard, clip_of.get(r["response_id"])))
        latency = t["v2v_ms"] if t["v2v_ms"] is not None else t["v2v_est_ms"]
        out.append(
            TurnLine(
                t["turn"],
                _turn_start(t, audio),
                (t["transcript"] or "").strip(),
                "-" if latency is None else f"{latency:.0f} ms",
                said,
            )
        )
    return out


def split_heard(text: str, share: float) -> tuple[str, str]:
    """The transcript's heard and unheard parts, cut at the heard share of its audio (an
    estimate: the transcript has no timing), moved back to a word boundary."""
    at = round(len(text) * min(max(share, 0.0), 1.0))
    if 0 < at < len(text) and not text[at].isspace():
        space = text.rfind(" ", 0, at)
        at = space + 1 if space >= 0 else at
    return text[:at], text[at:]


def _strip(audio: PageAudio, turns: list[dict[str, Any]]) -> str:
    bars = [
        f'<div class="bar u" data-turn="{u.turn}" data-start="{u.start_s:.3f}" '
        f'data-end="{u.end_s:.3f}" title="turn {u.turn}: user"></div>'
        for u in audio.render.user_spans
    ]
    for r in audio.render.replies:
        turn = "" if r.turn is None else r.turn
        bars.append(
            f'<div class="bar a" data-turn="{turn}" data-start="{r.start_s:.3f}" '
            f'data-end="{r.heard_end_s:.3f}" title="turn {turn}: agent"></div>'
        )
        if r.cut:  # the unheard part, drawn where it would have played
            bars.append(
                f'<div class="bar x" data-turn="{turn}" data-start="{r.heard_end_s:.3f}" '
                f'data-end="{r.generated_end_s:.3f}" '
                f'title="turn {turn}: generated, never heard"></div>'
            )
    return (
        '<div class="strip" id="strip">'
        + "".join(bars)
        + '<div id="playhead"></div></div>'
        + '<p class="est">Top: user audio · bottom: agent audio heard; hatched: generated but '
        "never heard. Click a bar or a turn to seek there.</p>"
    )


def _conversation(lines: list[TurnLine]) -> str:
    items = []
    for line in lines:
        body = [
            f'<span class="who">Turn {line.turn} · user</span>'
            + escape(line.user_text or "(no transcript)")
            + f' <span class="lat">voice-to-voice {escape(line.latency)}</span>'
        ]
        for reply in line.replies:
            heard, unheard, clip = reply.heard, reply.unheard, reply.clip
            said = f'<br><span class="who">agent</span>{escape(heard)}'
            if unheard or clip is not None:
                said += f' <span class="unheard">{escape(unheard)}</span>'
                said += f' <span class="est">{ESTIMATE}</span>'
            if clip is not None:
                said += (
                    f' <button class="play-unheard" data-clip="{clip}">'
                    "▶ play the unheard rest</button>"
                )
            body.append(said)
        items.append(
            f'<li data-turn="{line.turn}" data-start="{line.start_s:.3f}">{"".join(body)}</li>'
        )
    return '<ol class="conv" id="conv">' + "".join(items) + "</ol>"


def _events_by_turn(con: Any, turns: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each turn's events (from its first timed moment to the next turn's); events before
    the first turn go to turn "0". Audio and transcript chunks (an append every few tens of
    ms) keep their first CHUNKS_SHOWN a turn and are counted beyond, and a turn keeps at
    most EVENTS_PER_TURN rows: a one-hour call's inspector stays a couple of MB."""
    starts = []
    for t in turns:
        ms = next((t[k] for k in ("speech_started_ms", "committed_ms") if t[k] is not None), None)
        if ms is not None:
            starts.append((ms, str(t["turn"])))
    starts.sort()
    out: dict[str, dict[str, Any]] = {}
    index = -1
    for ev in detail.iter_event_rows(con):
        while ev.t_ms is not None and index + 1 < len(starts) and ev.t_ms >= starts[index + 1][0]:
            index += 1
        key = starts[index][1] if index >= 0 else "0"
        box = out.setdefault(key, {"rows": [], "more": 0, "chunks": {}})
        t_s = None if ev.t_ms is None else round(ev.t_ms / 1000, 3)
        if ev.type is not None and ev.type.endswith(CHUNK_SUFFIXES):
            seen = box["chunks"].setdefault(ev.type, [0, t_s])
            seen[0] += 1
            seen[1] = t_s
            if seen[0] > CHUNKS_SHOWN:
                continue
        if len(box["rows"]) >= EVENTS_PER_TURN:
            box["more"] += 1
            continue
        box["rows"].append([ev.seq, t_s, ev.direction, ev.type, ev.raw])
    for box in out.values():  # only the counts of chunks not shown
        box["chunks"] = {
            k: [n - CHUNKS_SHOWN, last]
            for k, (n, last) in box["chunks"].items()
            if n > CHUNKS_SHOWN
        }
    return out

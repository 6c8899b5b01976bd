"""The text report: a session (or a fleet) understood in ten seconds, in 100 columns."""

from __future__ import annotations

import textwrap
from typing import Any

from rtlens.analysis.summary import headline_label

WIDTH = 100
MAX_TURN_ROWS = 40


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _dur(ms: float | None) -> str:
    if ms is None:
        return "unknown"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, sec = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {sec:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def _usd(value: float | None) -> str:
    if value is None:
        return "unknown"
    return f"${value:,.4f}" if value < 10 else f"${value:,.2f}"


def _heading(title: str) -> list[str]:
    return ["", title, "-" * len(title)]


def render(summary: dict[str, Any], turns: list[dict[str, Any]], title: str) -> str:
    lines = [title[:WIDTH]]
    if summary["sessions"] == 1:
        lines += _session_header(summary)
    else:
        lines += _fleet_header(summary)
    lines += _input_notice(summary)
    if not _untimed(summary):
        lines += _latency(summary)
    if summary["sessions"] == 1 and turns:
        lines += _turn_table(turns, timed=not _untimed(summary))
    lines += _tokens(summary)
    lines += _rate_limits(summary)
    lines += _interruptions(summary)
    lines += _errors(summary)
    lines += _tools(summary)
    if summary["sessions"] > 1:
        lines += _fleet(summary)
    lines += _warnings(summary)
    return "\n".join(_fit(line) for line in lines) + "\n"


def _fit(line: str) -> str:
    """Wrap a line longer than the page, continuing it indented under itself."""
    line = line.rstrip()
    if len(line) <= WIDTH:
        return line
    indent = " " * (len(line) - len(line.lstrip()) + 4)
    return "\n".join(textwrap.wrap(line, WIDTH, subsequent_indent=indent))


def _session_header(summary: dict[str, Any]) -> list[str]:
    s = summary["session"]
    vad = s["turn_detection"] or "unknown turn detection"
    if s["turn_detection"] in ("server_vad", "semantic_vad"):
        parts = []
        if s["vad_threshold"] is not None:
            parts.append(f"threshold {s['vad_threshold']:g}")
        if s["prefix_padding_ms"] is not None:
            parts.append(f"padding {s['prefix_padding_ms']:.0f} ms")
        if s["silence_duration_ms"] is not None:
            parts.append(f"silence {s['silence_duration_ms']:.0f} ms")
        vad += f" ({', '.join(parts)})" if parts else ""
    elif s["turn_detection"] == "none":
        vad = "manual turns (no VAD)"
    dialect = {"ga": "GA", "beta": "beta", "unknown": "unknown dialect"}[s["dialect"]]
    transport = {"webrtc": "WebRTC", "sip": "SIP"}.get(s["transport"], "WebSocket")
    lines = [
        f"Model {s['model'] or 'unknown'} · {dialect} over {transport} · voice "
        f"{s['voice'] or 'unknown'}",
        f"Turn detection {vad}",
        f"Duration {_dur(s['duration_ms'])} · {summary['turns']} turns · "
        f"{summary['responses']} responses · audio in {s['input_audio_format'] or '-'}, out "
        f"{s['output_audio_format'] or '-'} · transcription {s['transcription_model'] or 'off'}",
    ]
    # a browser capture's close line has no WebSocket code: say who closed it, not "None"
    code = f" ({s['close_code']})" if s["close_code"] is not None else ""
    closed = f" · closed by {s['close_by']}{code}" if s["close_by"] else ""
    if s["started_ts"]:
        lines.append(f"Started {s['started_ts']}{closed}")
    lines.append(f"Session {s['session_id']}")
    return lines


def _fleet_header(summary: dict[str, Any]) -> list[str]:
    return [
        f"{summary['sessions']} sessions · {_dur(summary['duration_ms'])} in total · "
        f"{summary['turns']} turns · {summary['responses']} responses"
    ]


def latency_rows(summary: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The latency table's rows (label, distribution), shared by the text and HTML reports.

    Always-present rows come first; tool, barge-in, estimate and transcription rows only
    when they have values, so a session without tools has no empty tool row.
    """
    lat = summary["latency"]
    cats = lat["by_category"]
    rows = [("voice-to-voice, clean turns", cats["clean"])]
    if cats["tool"]["n"]:
        rows.append(("voice-to-voice, tool turns", cats["tool"]))
    if cats["interrupted"]["n"]:
        rows.append(("voice-to-voice, barge-in turns", cats["interrupted"]))
    rows.append(("voice-to-voice, all turns", lat["v2v_ms"]))
    if lat["v2v_est_ms"]["n"]:
        rows.append(("  + VAD silence window (estimate)", lat["v2v_est_ms"]))
    if cats["text"]["n"]:
        rows.append(("typed text → first reply", cats["text"]))
    rows.append(("turn end → response.created", lat["turn_gap_ms"]))
    rows.append(("response.created → first audio", lat["ttfa_ms"]))
    rows.append(("response duration", lat["response_ms"]))
    transcription = summary["transcriptions"]["latency_ms"]
    if transcription["n"]:
        rows.append(("transcription (commit → done)", transcription))
    return rows


def _latency(summary: dict[str, Any]) -> list[str]:
    out = _heading("Latency (ms)")
    out.append(f"  {'':34}{'n':>6}{'p50':>8}{'p90':>8}{'p95':>8}{'max':>8}")
    out.extend(
        f"  {label:34}{d['n']:>6}{_ms(d['p50']):>8}{_ms(d['p90']):>8}{_ms(d['p95']):>8}"
        f"{_ms(d['max']):>8}"
        for label, d in latency_rows(summary)
    )
    head = summary["latency"]["headline"]
    scope, note = headline_label(head)
    if note:
        out.append(f"  {note}; p50 over {scope}: {_ms(head['p50'])} ms, p95 {_ms(head['p95'])} ms")
    return out


def _flags(t: dict[str, Any]) -> str:
    return "".join(
        flag
        for flag, on in (
            ("I", t["interrupted"]),
            ("C", t["reply_interrupted"]),
            ("T", t["has_tool_call"]),
            ("L", t["transcript_after_reply"]),
        )
        if on
    )


def _turn_table(turns: list[dict[str, Any]], *, timed: bool = True) -> list[str]:
    out = _heading("Turns (ms)" if timed else "Turns")
    times = f"{'v2v':>7}{'ttfa':>7}{'reply':>7}{'transcr':>8}" if timed else ""
    out.append(f"  {'#':>3} {'trigger':<11}{times}  {'flags':<6}transcript")
    shown = turns if len(turns) <= MAX_TURN_ROWS else turns[: MAX_TURN_ROWS - 5] + turns[-5:]
    for i, t in enumerate(shown):
        if len(turns) > MAX_TURN_ROWS and i == MAX_TURN_ROWS - 5:
            out.append(f"  ... {len(turns) - MAX_TURN_ROWS} more turns (see the turns table)")
        transcript = (t["transcript"] or "").strip().replace("\n", " ")
        if len(transcript) > 40:
            transcript = transcript[:39] + "…"
        times = (
            f"{_ms(t['v2v_ms']):>7}{_ms(t['ttfa_ms']):>7}{_ms(t['response_ms']):>7}"
            f"{_ms(t['transcription_ms']):>8}"
            if timed
            else ""
        )
        out.append(f"  {t['turn']:>3} {t['trigger'] or '-':<11}{times}  {_flags(t):<6}{transcript}")
    out.append(
        "  flags: I barged in · C reply cut by a barge-in · T tool call · L transcript after reply"
    )
    return out


def _tokens(summary: dict[str, Any]) -> list[str]:
    tk = summary["tokens"]
    out = _heading("Tokens and cost")
    out.append(f"  {'':10}{'input':>12}{'of which cached':>17}{'output':>12}")
    out.append(
        f"  {'text':10}{tk['input_text']:>12,}{tk['cached_text']:>17,}{tk['output_text']:>12,}"
    )
    out.append(
        f"  {'audio':10}{tk['input_audio']:>12,}{tk['cached_audio']:>17,}{tk['output_audio']:>12,}"
    )
    out.append(f"  {'total':10}{tk['input']:>12,}{tk['cached']:>17,}{tk['output']:>12,}")
    hit = tk["cache_hit_rate"]
    cost = f"  cost {_usd(tk['cost_usd'])}"
    if tk["cost_usd_transcription"]:
        cost += (
            f" ({_usd(tk['cost_usd_responses'])} model + "
            f"{_usd(tk['cost_usd_transcription'])} transcription)"
        )
    elif tk["cost_usd"] is None:
        cost += f" (at least {_usd(tk['cost_usd_known'])} known)"
    cost += f" · cache hit rate {hit:.0%}" if hit is not None else ""
    out.append(cost)
    for u in tk["cost_unknown"]:
        out.append(_fit(f"  cost unknown for {u['count']} {u['part']} part(s): {u['reason']}"))
    growth = tk["input_growth"]
    if summary["sessions"] == 1 and len(growth) > 1:
        steps = [f"{g['input_tokens']:,}" for g in growth]
        if len(steps) > 8:
            steps = [*steps[:4], "…", *steps[-3:]]
        out.append(f"  input tokens per turn: {' → '.join(steps)}")
    return out


def _pct(pct: float) -> str:
    return f"{pct:.2f}%" if pct > 99 else f"{pct:.1f}%"


def _rate_limits(summary: dict[str, Any]) -> list[str]:
    rl = summary["rate_limits"]
    if not rl:
        return [*_heading("Rate limits"), "  no rate_limits.updated events"]
    if summary["sessions"] > 1:
        return _fleet_rate_limits(rl)
    out = _heading("Rate limits")
    out.append(f"  {'name':12}{'limit':>14}{'lowest remaining':>24}{'at turn':>9}{'last':>14}")
    for name, r in rl.items():
        low = "-" if r["min_remaining"] is None else f"{r['min_remaining']:,}"
        if r["min_remaining_pct"] is not None:
            low += f" ({_pct(r['min_remaining_pct'])})"
        limit = "-" if r["limit"] is None else f"{r['limit']:,}"
        last = "-" if r["last_remaining"] is None else f"{r['last_remaining']:,}"
        at = "-" if r["min_at_turn"] is None else str(r["min_at_turn"])
        out.append(f"  {name:12}{limit:>14}{low:>24}{at:>9}{last:>14}")
    return out


def _fleet_rate_limits(rl: dict[str, Any]) -> list[str]:
    """Across sessions: how each session's lowest headroom spreads, and the one session
    where it ran lowest with that session's own limit and turn (figures of one session
    only: limits differ between sessions)."""
    out = _heading("Rate limits (each session's lowest headroom)")
    out.append(
        f"  {'name':10}{'sessions':>9}{'under 10%':>10}{'median':>9}{'lowest':>9}"
        "  where it was lowest"
    )
    for name, r in rl.items():
        spread = r["session_lowest_pct"]
        median = "-" if spread["p50"] is None else _pct(spread["p50"])
        lowest = "-" if r["min_remaining_pct"] is None else _pct(r["min_remaining_pct"])
        remaining = "-" if r["min_remaining"] is None else f"{r['min_remaining']:,}"
        limit = "-" if r["limit"] is None else f"{r['limit']:,}"
        at = "" if r["min_at_turn"] is None else f", turn {r['min_at_turn']}"
        out.append(
            f"  {name:10}{r['sessions']:>9}{r['sessions_under_10pct']:>10}{median:>9}"
            f"{lowest:>9}  {remaining} of {limit} in {_basename(r['source_file'])}{at}"
        )
    limits = {n: r["limits"] for n, r in rl.items() if len(r["limits"]) > 1}
    for name, values in limits.items():
        out.append(
            f"  '{name}' limits differ between sessions: {', '.join(f'{v:,}' for v in values)}"
        )
    return out


def _basename(path: str) -> str:
    return path.replace("\\", "/").rsplit("/", 1)[-1]


def _input_notice(summary: dict[str, Any]) -> list[str]:
    """Say first when the input is incomplete, so no figure below is read as the whole story."""
    notices = summary["input"]
    out: list[str] = []
    cut = notices["cut_off"]
    if cut and summary["sessions"] == 1:
        when = cut[0]["last_line_ts"] or "unknown (no timestamps)"
        out.append(f"In progress or cut off: no close line; last line at {when}")
    elif cut:
        out.append(f"{len(cut)} recording(s) in progress or cut off (no close line):")
        out.extend(
            f"  {_basename(c['source_file'])}: last line at {c['last_line_ts'] or '-'}"
            for c in cut[:5]
        )
        if len(cut) > 5:
            out.append(f"  ... and {len(cut) - 5} more")
    untimed = notices["no_timestamps"]
    if untimed and len(untimed) == summary["sessions"]:
        out.append("No timestamps: latencies unavailable")  # said once; no latency table
    elif untimed:
        out.append(f"{len(untimed)} session(s) have no timestamps: their latencies are unavailable")
    return out


def _untimed(summary: dict[str, Any]) -> bool:
    """Every session lacks timestamps: a latency table would be a page of dashes."""
    return len(summary["input"]["no_timestamps"]) == summary["sessions"]


def _interruptions(summary: dict[str, Any]) -> list[str]:
    it = summary["interruptions"]
    out = _heading("Barge-ins")
    if not it["count"]:
        return [*out, "  none"]
    line = f"  {it['count']} barge-in(s)"
    if it["before_any_audio"]:
        line += f" ({it['before_any_audio']} before any audio was generated)"
    if it["per_minute"] is not None:
        line += f" · {it['per_minute']:.1f} per minute"
    out.append(line)
    out.extend(f"  {line}" for line in interruption_lines(it))
    return out


def interruption_lines(it: dict[str, Any]) -> list[str]:
    """The audio and timing sentences about barge-ins, shared by the text and HTML reports.
    Audio figures are over the cuts where generated and heard audio are both known."""
    out = []
    if it["audio_known"]:
        of = "" if it["audio_known"] == it["count"] else f" (the {it['audio_known']} cuts "
        of += "where playback is known)" if of else ""
        out.append(
            f"audio generated {_dur(it['audio_generated_ms'])}, heard "
            f"{_dur(it['audio_played_ms'])}, never heard {_dur(it['audio_unheard_ms'])}{of}"
        )
    elif it["audio_played_only_ms"] is not None:
        out.append(
            f"heard {_dur(it['audio_played_only_ms'])} before the cuts (generated audio is "
            "not visible on WebRTC)"
        )
    else:
        out.append("audio heard unknown: the recording shows no truncate")
    if it["cancel_after_ms_p50"] is not None:
        out.append(
            f"response cancelled {it['cancel_after_ms_p50']:.0f} ms after speech started "
            f"(p50 of {it['cancelled']})"
        )
    if it["audio_stop_after_ms_p50"] is not None:
        out.append(
            f"audio stopped {it['audio_stop_after_ms_p50']:.0f} ms after speech started "
            f"(p50 of {it['audio_stopped']})"
        )
    return out


def _errors(summary: dict[str, Any]) -> list[str]:
    err = summary["errors"]
    out = _heading("Errors")
    if not err["count"]:
        return [*out, "  none"]
    for d in err["details"]:
        cause = f" after {d['client_event_types']}" if d["client_event_types"] else ""
        message = " ".join((d["message"] or "").split())
        if len(message) > 120:
            message = message[:119] + "…"
        line = f"  x{d['count']:<4} {d['code']}{cause}" + (f": {message}" if message else "")
        out.append(_fit(line))
    return out


def _tools(summary: dict[str, Any]) -> list[str]:
    fc = summary["function_calls"]
    if not fc["count"]:
        return []
    out = _heading("Function calls")
    line = f"  {fc['count']} call(s)"
    if fc["tool_ms"]["n"]:
        line += f" · tool time p50 {_ms(fc['tool_ms']['p50'])} ms, max {_ms(fc['tool_ms']['max'])}"
    if fc["tool_to_audio_ms"]["n"]:
        line += f" · tool result → audio p50 {_ms(fc['tool_to_audio_ms']['p50'])} ms"
    out.append(line)
    for f in fc["by_name"][:8]:
        out.append(f"    {f['name'] or '?'} x{f['count']} (tool p50 {_ms(f['tool_ms_p50'])} ms)")
    return out


def _fleet(summary: dict[str, Any]) -> list[str]:
    fleet = summary["fleet"]
    out = _heading("Across sessions")
    d = fleet["per_session_v2v_p50_ms"]
    out.append(
        f"  per-session clean v2v p50: median {_ms(d['p50'])} ms, p90 {_ms(d['p90'])}, "
        f"worst {_ms(d['max'])} ({d['n']} sessions with clean turns)"
    )
    for key in ("by_model", "by_dialect"):
        label = key.split("_")[1]
        out.append(
            f"  {label:28}{'sessions':>9}{'turns':>7}{'v2v p50':>9}{'v2v p95':>9}{'cost':>12}"
        )
        for g in fleet[key]:
            out.append(
                f"  {str(g[label])[:28]:28}{g['sessions']:>9}{g['turns']:>7}"
                f"{_ms(g['v2v_p50_ms']):>9}{_ms(g['v2v_p95_ms']):>9}{_usd(g['cost_usd']):>12}"
            )
    worst = fleet["worst_sessions"]
    for name, key, fmt in (
        ("slowest (clean v2v p95)", "latency", lambda r: f"{_ms(r['v2v_p95_ms'])} ms"),
        ("most expensive", "cost", lambda r: _usd(r["cost_usd"])),
        ("most errors", "errors", lambda r: f"{r['n_errors']} errors"),
    ):
        rows = [r for r in worst[key] if not (key == "errors" and not r["n_errors"])]
        if not rows:
            continue
        out.append(f"  {name}:")
        for r in rows[:3]:
            out.append(f"    {fmt(r):>14}  {_short_path(r['source_file'])}")
    return out


def _short_path(path: str, width: int = 78) -> str:
    return path if len(path) <= width else "…" + path[-(width - 1) :]


def _warnings(summary: dict[str, Any]) -> list[str]:
    if not summary["warnings"]:
        return ["", "No warnings."]
    out = _heading("Warnings")
    out += [_fit(f"  ! {w}") for w in summary["warnings"]]
    return out

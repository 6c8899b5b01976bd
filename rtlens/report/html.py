"""The HTML report: one self-contained file (inline CSS, PNG figures as data URIs) that opens
offline. The numbers are the same summary the text and JSON reports print."""

from __future__ import annotations

import base64
import io
import re
from html import escape
from typing import TYPE_CHECKING, Any

from rtlens.analysis import detail
from rtlens.analysis.summary import headline_label
from rtlens.report import figures, session_page
from rtlens.report.text import (
    _basename,
    _dur,
    _ms,
    _pct,
    _usd,
    interruption_lines,
    latency_rows,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from rtlens.report.build import Report

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d2733;
background:#f5f7fa}
main{max-width:1180px;margin:0 auto;padding:24px}
h1{font-size:20px;margin:0 0 4px}
h2{font-size:16px;margin:28px 0 8px;border-bottom:1px solid #d8dee6;padding-bottom:4px}
.facts{color:#4b5866}.cards{display:flex;flex-wrap:wrap;gap:12px;margin:16px 0}
.card{background:#fff;border:1px solid #d8dee6;border-radius:8px;padding:10px 14px;min-width:150px}
.card b{display:block;font-size:22px}.card span{color:#4b5866;font-size:12px}
table{border-collapse:collapse;background:#fff;font-size:13px}
td,th{border:1px solid #d8dee6;padding:3px 8px;text-align:right}
th{background:#eef2f6}td.l,th.l{text-align:left}
.warn{background:#fff4e5;border:1px solid #f0b46b;border-radius:8px;padding:8px 14px}
.warn li{margin:2px 0}.ok{color:#2f7d4f}
img{max-width:100%;background:#fff;border:1px solid #d8dee6;border-radius:6px;margin:6px 0}
.figsync{position:relative}.fighead{position:absolute;top:6px;bottom:6px;width:2px;
background:#c0392b;pointer-events:none;display:none}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:16px}
@media(max-width:900px){.grid{grid-template-columns:1fr}}
"""


def _png(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _svg_with_titles(fig: Figure, gid: str, titles: list[str]) -> str:
    """The figure as inline SVG, each point of the collection `gid` carrying a <title> (the
    browser shows it on hover), in the order the points were given."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg")
    svg = buf.getvalue()
    svg = svg[svg.index("<svg") :]  # inline in the page: no XML prolog or DOCTYPE
    start = svg.find(f'<g id="{gid}"')
    if start < 0:
        return svg
    # The group holds a <defs> marker then one <use> per point, in the order given: the
    # first len(titles) <use> elements from the group's start are exactly its points.
    points = iter(titles)

    def name(match: re.Match[str]) -> str:
        title = next(points, None)
        if title is None:
            return match.group(0)
        return f"{match.group(1)}><title>{escape(title)}</title></use>"

    named = re.sub(r"(<use [^>]*?)\s*/>", name, svg[start:], count=len(titles))
    return svg[:start] + named


def _table(headers: list[str], rows: list[list[Any]], left: int | set[int] = 1) -> str:
    """An HTML table; columns in `left` (the first `left` ones, or a set of indices) are text
    and aligned left, the others are numbers and aligned right."""
    lefts = set(range(left)) if isinstance(left, int) else left

    def cell(tag: str, i: int, value: Any) -> str:
        cls = ' class="l"' if i in lefts else ""
        return f"<{tag}{cls}>{escape(str(value))}</{tag}>"

    head = "".join(cell("th", i, h) for i, h in enumerate(headers))
    body = "".join(
        "<tr>" + "".join(cell("td", i, v) for i, v in enumerate(row)) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _card(value: str, label: str) -> str:
    return f'<div class="card"><b>{escape(value)}</b><span>{escape(label)}</span></div>'


def render_html(report: Report) -> str:
    s = report.summary
    con = report.con
    turns = detail.turn_rows(con)
    parts = [f"<h1>{escape(report.title)}</h1>", _facts(s), _input_notice(s)]
    untimed = len(s["input"]["no_timestamps"]) == s["sessions"]
    head = s["latency"]["headline"]
    scope, note = headline_label(head)
    over = f"{scope}; {note}" if note else scope
    cost = s["tokens"]["cost_usd"]
    cost_card = (
        _card(_usd(cost), "cost")
        if cost is not None
        else _card(f"≥ {_usd(s['tokens']['cost_usd_known'])}", "cost (known parts; see below)")
    )
    parts.append(
        '<div class="cards">'
        + _card(f"{_ms(head['p50'])} ms", f"voice-to-voice p50 over {over}")
        + _card(f"{_ms(head['p95'])} ms", f"voice-to-voice p95 over {over}")
        + _card(str(s["turns"]), "turns")
        + cost_card
        + _card(str(s["interruptions"]["count"]), "barge-ins")
        + _card(str(s["errors"]["count"]), "errors")
        + "</div>"
    )
    if s["warnings"]:
        items = "".join(f"<li>{escape(w)}</li>" for w in s["warnings"])
        parts.append(f'<div class="warn"><b>Worth acting on</b><ul>{items}</ul></div>')
    else:
        parts.append('<p class="ok">No warnings.</p>')
    if not untimed:  # without timestamps: said once above, no table of dashes
        parts.append(_latency_table(s))
    threshold = report.v2v_threshold_ms
    if s["sessions"] == 1:
        responses = detail.response_rows(con)
        cuts = detail.interruption_rows(con)
        calls = detail.function_call_rows(con)
        if not untimed:
            f = s["session"]
            seconds = None if f["duration_ms"] is None else f["duration_ms"] / 1000
            parts.append(session_page.player_section(con, f["source_file"], seconds, turns))
            parts.append("<h2>Timeline</h2>")
            timeline = figures.timeline(turns, responses, cuts, calls)
            parts.append(_synced_figure(timeline, "turn timeline"))
            latency = figures.latency(turns, threshold)
            parts.append(f'<img alt="latency per turn" src="{_png(latency)}">')
        parts.append("<h2>Tokens and cost</h2>")
        parts.append(_tokens_table(s))
        parts.append(f'<img alt="tokens per response" src="{_png(figures.tokens(responses))}">')
        rates = detail.rate_limit_rows(con)
        parts.append("<h2>Rate limits</h2>" + _rate_table(s))
        if rates:
            parts.append(f'<img alt="rate limits" src="{_png(figures.rate_limits(rates))}">')
        parts.append(_misc_tables(s))
        parts.append("<h2>Turns</h2>" + _turns_table(turns))
    else:
        overview = con.execute(
            "SELECT * FROM session_overview WHERE session_id IN (SELECT session_id FROM "
            "report_scope)"
        ).fetchall()
        cols = [d[0] for d in con.description or []]
        sessions = [dict(zip(cols, r, strict=True)) for r in overview]
        fleet = figures.fleet_latency(turns, sessions, threshold)
        titles = [
            f"{_basename(p['source_file'])}: v2v p50 {_ms(p['v2v_p50_ms'])} ms, "
            f"cost {_usd(p['cost_usd'])}"
            for p in figures.scatter_sessions(sessions)
        ]
        # inline SVG, not a PNG: each session's point names its recording on hover
        svg = _svg_with_titles(fleet, figures.SESSION_POINTS_GID, titles)
        parts.append(f'<div class="fig" role="img" aria-label="fleet latency">{svg}</div>')
        parts.append("<h2>Tokens and cost</h2>" + _tokens_table(s))
        parts.append("<h2>Rate limits</h2>" + _rate_table(s))
        parts.append(_misc_tables(s))
        parts.append(_fleet_tables(s))
    body = "\n".join(parts)
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{escape(report.title)}</title><style>{CSS}</style></head>"
        f"<body><main>{body}</main></body></html>\n"
    )


def _synced_figure(fig: Figure, alt: str) -> str:
    """A time-axis figure the session page's player follows: the axes' place in the image
    (figure fractions, fixed by subplots_adjust) and its x range in session seconds let the
    page's JS draw the playhead on it and seek where it is clicked."""
    src = _png(fig)
    ax = fig.axes[0]
    box = ax.get_position()
    x0, x1 = ax.get_xlim()
    return (
        f'<div class="figsync" data-left="{box.x0:.5f}" data-width="{box.width:.5f}" '
        f'data-x0="{x0:.4f}" data-x1="{x1:.4f}"><img alt="{escape(alt)}" src="{src}">'
        '<div class="fighead"></div></div>'
    )


def _input_notice(s: dict[str, Any]) -> str:
    """Incomplete input, said before any figure: no close line, or no timestamps."""
    notices = s["input"]
    items = [
        f"{_basename(c['source_file'])}: in progress or cut off (no close line); last line at "
        f"{c['last_line_ts'] or 'unknown'}"
        for c in notices["cut_off"][:20]
    ]
    if len(notices["cut_off"]) > 20:
        items.append(f"... and {len(notices['cut_off']) - 20} more without a close line")
    untimed = notices["no_timestamps"]
    if untimed and len(untimed) == s["sessions"]:
        items.append("No timestamps: latencies unavailable")
    elif untimed:
        items.append(
            f"{len(untimed)} session(s) have no timestamps: their latencies are unavailable"
        )
    if not items:
        return ""
    lis = "".join(f"<li>{escape(i)}</li>" for i in items)
    return f'<div class="warn notice"><b>Incomplete input</b><ul>{lis}</ul></div>'


def _facts(s: dict[str, Any]) -> str:
    if s["sessions"] != 1:
        return (
            f'<p class="facts">{s["sessions"]} sessions · {_dur(s["duration_ms"])} in '
            f"total · {s['turns']} turns · {s['responses']} responses</p>"
        )
    f = s["session"]
    return (
        f'<p class="facts">Model <b>{escape(str(f["model"]))}</b> · {escape(f["dialect"])} '
        f"over {escape(f['transport'])} · voice {escape(str(f['voice']))} · turn detection "
        f"{escape(str(f['turn_detection']))} (silence {_ms(f['silence_duration_ms'])} ms) · "
        f"duration {_dur(f['duration_ms'])} · audio {escape(str(f['input_audio_format']))} · "
        f"transcription {escape(str(f['transcription_model'] or 'off'))}<br>"
        f"session {escape(f['session_id'])} · {escape(str(f['source_file']))}</p>"
    )


def _latency_table(s: dict[str, Any]) -> str:
    rows = [
        [label.strip(), d["n"], _ms(d["p50"]), _ms(d["p90"]), _ms(d["p95"]), _ms(d["max"])]
        for label, d in latency_rows(s)
    ]
    return "<h2>Latency (ms)</h2>" + _table(["", "n", "p50", "p90", "p95", "max"], rows)


def _tokens_table(s: dict[str, Any]) -> str:
    t = s["tokens"]
    rows = [
        ["text", f"{t['input_text']:,}", f"{t['cached_text']:,}", f"{t['output_text']:,}"],
        ["audio", f"{t['input_audio']:,}", f"{t['cached_audio']:,}", f"{t['output_audio']:,}"],
        ["total", f"{t['input']:,}", f"{t['cached']:,}", f"{t['output']:,}"],
    ]
    hit = "-" if t["cache_hit_rate"] is None else f"{t['cache_hit_rate']:.0%}"
    return (
        _table(["", "input", "of which cached", "output"], rows)
        + f"<p>Cost {_usd(t['cost_usd'])} (model {_usd(t['cost_usd_responses'])}, "
        f"transcription {_usd(t['cost_usd_transcription'])}) · cache hit rate {hit}</p>"
        + "".join(
            f"<p>Cost unknown for {u['count']} {u['part']} part(s): {escape(u['reason'])}; "
            f"the known parts add up to {_usd(t['cost_usd_known'])}.</p>"
            for u in t["cost_unknown"]
        )
    )


def _rate_table(s: dict[str, Any]) -> str:
    if not s["rate_limits"]:
        return "<p>No rate_limits.updated events.</p>"
    if s["sessions"] > 1:
        return _fleet_rate_table(s)
    rows = [
        [
            name,
            f"{r['limit']:,}" if r["limit"] is not None else "-",
            f"{r['min_remaining']:,}" if r["min_remaining"] is not None else "-",
            "-" if r["min_remaining_pct"] is None else f"{r['min_remaining_pct']:.1f}%",
            r["min_at_turn"] if r["min_at_turn"] is not None else "-",
            f"{r['last_remaining']:,}" if r["last_remaining"] is not None else "-",
        ]
        for name, r in s["rate_limits"].items()
    ]
    return _table(["name", "limit", "lowest remaining", "headroom", "at turn", "last"], rows)


def _fleet_rate_table(s: dict[str, Any]) -> str:
    """Each row: how sessions' lowest headroom spread, then the lowest session's own
    figures (never a figure from another session: limits differ between sessions)."""
    rows = []
    for name, r in s["rate_limits"].items():
        spread = r["session_lowest_pct"]
        rows.append(
            [
                name,
                r["sessions"],
                r["sessions_under_10pct"],
                "-" if spread["p50"] is None else _pct(spread["p50"]),
                "-" if r["min_remaining_pct"] is None else _pct(r["min_remaining_pct"]),
                "-" if r["min_remaining"] is None else f"{r['min_remaining']:,}",
                "-" if r["limit"] is None else f"{r['limit']:,}",
                _basename(r["source_file"]),
                "-" if r["min_at_turn"] is None else r["min_at_turn"],
                ", ".join(f"{v:,}" for v in r["limits"]) or "-",
            ]
        )
    headers = [
        "name",
        "sessions",
        "under 10%",
        "median lowest headroom",
        "lowest headroom",
        "remaining there",
        "its limit",
        "session",
        "at turn",
        "limits seen",
    ]
    return (
        "<p>Each session's lowest headroom; the last columns are the one session where it "
        "was lowest.</p>" + _table(headers, rows, left={0, 7, 9})
    )


def _misc_tables(s: dict[str, Any]) -> str:
    it = s["interruptions"]
    out = [
        "<h2>Barge-ins</h2>",
        "<p>"
        + escape(" · ".join([f"{it['count']} barge-in(s)", *interruption_lines(it)]))
        + "</p>",
        "<h2>Errors</h2>",
    ]
    errors = s["errors"]["details"]
    if errors:
        out.append(
            _table(
                ["code", "count", "after client event", "message"],
                [
                    [e["code"], e["count"], e["client_event_types"] or "-", e["message"] or ""]
                    for e in errors
                ],
                left={0, 2, 3},
            )
        )
    else:
        out.append("<p>None.</p>")
    fc = s["function_calls"]
    if fc["count"]:
        out.append("<h2>Function calls</h2>")
        out.append(
            _table(
                ["function", "calls", "tool ms p50"],
                [[f["name"], f["count"], _ms(f["tool_ms_p50"])] for f in fc["by_name"]],
            )
        )
    return "".join(out)


def _turns_table(turns: list[dict[str, Any]]) -> str:
    rows = []
    for t in turns:
        flags = ", ".join(
            name
            for name, on in (
                ("barged in", t["interrupted"]),
                ("reply cut", t["reply_interrupted"]),
                ("tool", t["has_tool_call"]),
                ("late transcript", t["transcript_after_reply"]),
            )
            if on
        )
        rows.append(
            [
                t["turn"],
                t["trigger"],
                _ms(t["v2v_ms"]),
                _ms(t["v2v_est_ms"]),
                _ms(t["ttfa_ms"]),
                _ms(t["response_ms"]),
                _ms(t["transcription_ms"]),
                flags or "-",
                (t["transcript"] or "").strip()[:80],
            ]
        )
    return _table(
        ["turn", "trigger", "v2v", "v2v est.", "ttfa", "reply", "transcr.", "flags", "transcript"],
        rows,
        left={1, 7, 8},
    )


def _fleet_tables(s: dict[str, Any]) -> str:
    fleet = s["fleet"]
    out = ["<h2>By model and dialect</h2>", '<div class="grid">']
    for key in ("by_model", "by_dialect"):
        label = key.split("_")[1]
        out.append(
            _table(
                [label, "sessions", "timed turns", "v2v p50", "v2v p95", "cost"],
                [
                    [
                        g[label],
                        g["sessions"],
                        g["turns"],
                        _ms(g["v2v_p50_ms"]),
                        _ms(g["v2v_p95_ms"]),
                        _usd(g["cost_usd"]),
                    ]
                    for g in fleet[key]
                ],
            )
        )
    out.append("</div><h2>Worst sessions</h2>")
    rows: list[list[Any]] = []
    for name, key in (
        ("slowest", "latency"),
        ("most expensive", "cost"),
        ("most errors", "errors"),
    ):
        rows.extend(  # (most errors lists only sessions with an error: see summary)
            [name, r["source_file"], _ms(r["v2v_p95_ms"]), _usd(r["cost_usd"]), r["n_errors"]]
            for r in fleet["worst_sessions"][key][:3]
        )
    out.append(_table(["", "recording", "v2v p95", "cost", "errors"], rows, left=2))
    return "".join(out)

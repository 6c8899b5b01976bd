"""Report figures, built with `matplotlib.figure.Figure` (no pyplot global state).

Each function takes row dicts from `rtlens.analysis.detail` and returns a Figure whose
axes carry titles, labels and data that tests can inspect directly.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

MAX_BARS = 80  # above this, per-item bars become dots or areas
# Fixed margins (fractions of the 11-inch figure) instead of a layout engine: constrained
# layout drew every figure twice to measure it, a third of the HTML report's time on a
# one-hour session. The labels here are short and of known kinds, so fixed room fits them.
_MARGINS = {"left": 0.08, "right": 0.985, "bottom": 0.15, "top": 0.89, "wspace": 0.2}


def _figure(height: float, **margins: float) -> Figure:
    fig = Figure(figsize=(11, height))
    fig.subplots_adjust(**{**_MARGINS, **margins})
    return fig


CATEGORY_COLORS = {"clean": "#2b7bba", "tool": "#e08a1e", "interrupted": "#c4384a"}
# turn_latency's category names, as the figures print them: one word for barge-in everywhere
CATEGORY_LABELS = {"clean": "clean", "tool": "tool", "interrupted": "barge-in"}
THRESHOLD_COLOR = "#7a3e9d"
LANES = ("user speech", "response", "model audio", "tool", "barge-in")
LANE_COLORS = {
    "user speech": "#4caf7a",
    "response": "#9aa8b8",
    "model audio": "#2b7bba",
    "tool": "#e08a1e",
    "barge-in": "#c4384a",
}
TOKEN_KINDS = (
    ("fresh_input_text_tokens", "input text", "#8fb4d9"),
    ("fresh_input_audio_tokens", "input audio", "#2b7bba"),
    ("cached_tokens", "cached input", "#c9d6e3"),
    ("output_text_tokens", "output text", "#f2b36b"),
    ("output_audio_tokens", "output audio", "#e08a1e"),
)


def _legend_outside(ax: Any, handles: list[Any] | None = None, ncols: int = 6) -> None:
    """The legend above the plot area, right-aligned opposite the left-aligned title, so it
    never covers data however the data fall (a legend inside the axes always can)."""
    if handles is None:
        handles = ax.get_legend_handles_labels()[0]
    if handles:
        ax.legend(
            handles=handles,
            fontsize=7,
            loc="lower right",
            bbox_to_anchor=(1.0, 1.0),
            ncols=min(ncols, len(handles)),
            frameon=False,
            borderaxespad=0.2,
            handlelength=1.5,
            columnspacing=1.0,
        )


def _s(ms: float | None) -> float | None:
    return None if ms is None else ms / 1000


def _histogram(ax: Any, timed: list[dict[str, Any]]) -> None:
    """Stacked v2v histogram by category, on bins shared by all categories."""
    values = [t["v2v_ms"] for t in timed]
    if not values:
        return
    low, high = min(values), max(values)
    if high - low < 100:
        low, high = low - 50, high + 50
    bins = np.linspace(low, high, min(30, max(6, len(values) // 3)) + 1)
    stacks = [
        ([t["v2v_ms"] for t in timed if t["category"] == c], CATEGORY_LABELS[c], color)
        for c, color in CATEGORY_COLORS.items()
    ]
    stacks = [s for s in stacks if s[0]]
    ax.hist(
        [s[0] for s in stacks],
        bins=bins,
        stacked=True,
        color=[s[2] for s in stacks],
        label=[s[1] for s in stacks],
    )


def timeline(
    turns: list[dict[str, Any]],
    responses: list[dict[str, Any]],
    interruptions: list[dict[str, Any]],
    calls: list[dict[str, Any]],
) -> Figure:
    """One time axis: user speech, responses, model audio, tool time and barge-ins."""
    fig = _figure(3.6, left=0.1)
    ax = fig.add_subplot()
    lane_y = {name: len(LANES) - i for i, name in enumerate(LANES)}
    spans: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for t in turns:
        start, stop = _s(t["speech_started_ms"]), _s(t["speech_stopped_ms"])
        if start is not None and stop is not None:
            spans["user speech"].append((start, stop - start))
    cut_at = {i["response_id"]: i for i in interruptions if i["response_id"]}
    for r in responses:
        created, done = _s(r["created_ms"]), _s(r["done_ms"])
        if created is not None and done is not None:
            spans["response"].append((created, max(done - created, 0.02)))
        first = _s(r["first_audio_ms"])
        if first is not None and r["audio_ms"]:
            length = r["audio_ms"] / 1000
            cut = cut_at.get(r["response_id"])
            if cut is not None and cut["audio_played_ms"] is not None:
                length = min(length, cut["audio_played_ms"] / 1000)
            spans["model audio"].append((first, length))
    for c in calls:
        done, out = _s(c["arguments_done_ms"]), _s(c["output_ms"])
        if done is not None and out is not None:
            spans["tool"].append((done, max(out - done, 0.02)))
    for lane, bars in spans.items():
        ax.broken_barh(bars, (lane_y[lane] - 0.35, 0.7), color=LANE_COLORS[lane], label=lane)
    marks = [i["speech_started_ms"] / 1000 for i in interruptions if i["speech_started_ms"]]
    if marks:
        ax.scatter(
            marks,
            [lane_y["barge-in"]] * len(marks),
            marker="v",
            s=60,
            color=LANE_COLORS["barge-in"],
            label="barge-in",
            zorder=3,
        )
    commits = [t["committed_ms"] / 1000 for t in turns if t["committed_ms"] is not None]
    if commits:  # one collection, not a line per turn (hundreds in a long session)
        ax.vlines(
            commits,
            0,
            1,
            transform=ax.get_xaxis_transform(),
            color="#4caf7a",
            alpha=0.25,
            linewidth=0.8,
            label="turn commits",
        )
    ax.set_yticks([lane_y[n] for n in LANES], list(LANES))
    ax.set_ylim(0.4, len(LANES) + 0.6)
    ax.set_xlabel("seconds since the session's first event")
    ax.set_title("Turn timeline (vertical lines: turn commits)")
    ax.grid(axis="x", alpha=0.3)
    return fig


def latency(turns: list[dict[str, Any]], threshold_ms: float | None = None) -> Figure:
    """Voice-to-voice per turn (coloured by category) and its distribution, with the
    configured warning threshold drawn and labelled on both."""
    fig = _figure(3.4, wspace=0.22, top=0.86)
    per_turn, dist = fig.subplots(1, 2, width_ratios=(3, 1))
    timed = [t for t in turns if t["v2v_ms"] is not None]
    if len(timed) <= MAX_BARS:
        per_turn.bar(
            [t["turn"] for t in timed],
            [t["v2v_ms"] for t in timed],
            color=[CATEGORY_COLORS[t["category"]] for t in timed],
        )
    else:  # hundreds of bars are slow to draw and unreadable: one dot per turn instead
        for category, color in CATEGORY_COLORS.items():
            points = [(t["turn"], t["v2v_ms"]) for t in timed if t["category"] == category]
            if points:
                per_turn.scatter(*zip(*points, strict=True), s=10, color=color)
    ttfa = [(t["turn"], t["ttfa_ms"]) for t in turns if t["ttfa_ms"] is not None]
    if ttfa:
        per_turn.plot(
            *zip(*ttfa, strict=True),
            "o",
            color="#555555",
            markersize=3 if len(ttfa) <= MAX_BARS else 1.5,
            label="created → first audio",
        )
    if threshold_ms is not None:
        per_turn.axhline(
            threshold_ms,
            color=THRESHOLD_COLOR,
            linestyle="--",
            linewidth=1,
            label=f"threshold {threshold_ms:,.0f} ms",
        )
    per_turn.set_title("Voice-to-voice latency per turn", loc="left", fontsize=11)
    per_turn.xaxis.set_major_locator(MaxNLocator(integer=True))
    per_turn.set_xlabel("turn")
    per_turn.set_ylabel("ms")
    present = {t["category"] for t in timed}
    handles = [
        Patch(color=c, label=CATEGORY_LABELS[k]) for k, c in CATEGORY_COLORS.items() if k in present
    ]
    _legend_outside(per_turn, handles + per_turn.get_legend_handles_labels()[0])
    per_turn.grid(axis="y", alpha=0.3)
    _histogram(dist, timed)
    if threshold_ms is not None and timed:
        dist.axvline(threshold_ms, color=THRESHOLD_COLOR, linestyle="--", linewidth=1)
    dist.set_title("Distribution", loc="left", fontsize=11)
    dist.set_xlabel("voice-to-voice ms")
    dist.set_ylabel("turns")
    dist.yaxis.set_major_locator(MaxNLocator(integer=True))
    return fig


def tokens(responses: list[dict[str, Any]]) -> Figure:
    """Tokens per response stacked by kind, with the session's cumulative cost."""
    fig = _figure(3.4, right=0.93, top=0.84)
    ax = fig.add_subplot()
    billed = [r for r in responses if r["input_tokens"] is not None]
    xs = list(range(1, len(billed) + 1))
    series = [[float(r[key] or 0) for r in billed] for key, _, _ in TOKEN_KINDS]
    labels = [label for _, label, _ in TOKEN_KINDS]
    colors = [color for _, _, color in TOKEN_KINDS]
    if len(billed) <= MAX_BARS:
        bottom = [0.0] * len(billed)
        for heights, label, color in zip(series, labels, colors, strict=True):
            ax.bar(xs, heights, bottom=bottom, color=color, label=label)
            bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    elif billed:  # long sessions: a stacked area reads better than hundreds of bars
        ax.stackplot(xs, *series, labels=labels, colors=colors)
    ax.set_title("Tokens per response (input grows with the conversation)", loc="left", fontsize=11)
    ax.set_xlabel("response")
    ax.set_ylabel("tokens")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(bottom=0)
    handles = ax.get_legend_handles_labels()[0]
    costs = [r["cumulative_cost_usd"] for r in billed]
    if billed and all(c is not None for c in costs):
        cost_ax = ax.twinx()
        (line,) = cost_ax.plot(xs, costs, color="#222222", linewidth=1.5, label="cumulative cost")
        cost_ax.set_ylabel("cumulative cost (USD)")
        cost_ax.set_ylim(bottom=0)
        handles.append(line)
    _legend_outside(ax, handles, ncols=3)
    return fig


def rate_limits(rows: list[dict[str, Any]]) -> Figure:
    """Remaining share of each rate limit over time."""
    fig = _figure(3.0, bottom=0.17, top=0.87)
    ax = fig.add_subplot()
    by_name: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for r in rows:
        if r["t_ms"] is not None and r["remaining_pct"] is not None:
            by_name[r["name"]].append((r["t_ms"] / 1000, r["remaining_pct"]))
    for name, points in sorted(by_name.items()):
        ax.plot(*zip(*points, strict=True), marker="o", markersize=3, label=name)
    ax.axhline(10, color="#c4384a", linestyle="--", linewidth=1, label="10% headroom")
    ax.set_ylim(0, 105)
    ax.set_title("Rate-limit headroom", loc="left", fontsize=11)
    ax.set_xlabel("seconds since the session's first event")
    ax.set_ylabel("% remaining")
    _legend_outside(ax)
    ax.grid(alpha=0.3)
    return fig


SESSION_POINTS_GID = "rtlens-session-points"


def fleet_latency(
    turns: list[dict[str, Any]],
    sessions: list[dict[str, Any]],
    threshold_ms: float | None = None,
) -> Figure:
    """Across sessions: the v2v distribution by category, and each session's p50 vs cost.

    The scatter's points are one collection with gid `SESSION_POINTS_GID`, in the order of
    `scatter_sessions(sessions)`, so an SVG rendering can name each point (`html.py`)."""
    fig = _figure(3.4, top=0.86)
    dist, scatter = fig.subplots(1, 2)
    timed = [t for t in turns if t["v2v_ms"] is not None]
    _histogram(dist, timed)
    if threshold_ms is not None and timed:
        dist.axvline(
            threshold_ms,
            color=THRESHOLD_COLOR,
            linestyle="--",
            linewidth=1,
            label=f"threshold {threshold_ms:,.0f} ms",
        )
    dist.set_title("Voice-to-voice, all turns", loc="left", fontsize=11)
    dist.set_xlabel("ms")
    dist.set_ylabel("turns")
    dist.yaxis.set_major_locator(MaxNLocator(integer=True))
    _legend_outside(dist, ncols=2)  # two rows: one row would run into the title
    points = scatter_sessions(sessions)
    if points:
        collection = scatter.scatter(
            [s["v2v_p50_ms"] for s in points], [s["cost_usd"] for s in points], s=14
        )
        collection.set_color("#2b7bba")
        collection.set_gid(SESSION_POINTS_GID)
    scatter.set_title("Sessions: clean v2v p50 vs cost", loc="left", fontsize=11)
    scatter.set_xlabel("v2v p50 (ms)")
    scatter.set_ylabel("cost (USD)")
    scatter.set_ylim(bottom=0)
    scatter.grid(alpha=0.3)
    return fig


def scatter_sessions(sessions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The sessions the fleet scatter plots (those with a clean p50 and a known cost), in
    the order of its points."""
    return [s for s in sessions if s["v2v_p50_ms"] is not None and s["cost_usd"] is not None]


def fleet_over_time(buckets: list[Any], unit: str) -> Figure:
    """The fleet per hour or day (`rtlens.analysis.fleet.Bucket`s): clean v2v p50/p95 and
    cost on the left, errors per session and barge-ins per minute on the right."""
    fig = _figure(3.2, top=0.86)
    lat, rates = fig.subplots(1, 2)
    xs = [b.start for b in buckets]
    lat.plot(xs, [b.v2v_p50_ms for b in buckets], marker="o", label="v2v p50 (ms)")
    lat.plot(xs, [b.v2v_p95_ms for b in buckets], marker="o", label="v2v p95 (ms)")
    lat.set_ylabel("ms")
    lat.set_ylim(bottom=0)
    cost = lat.twinx()
    # markers, not bars: a bar an hour or a day wide vanishes on a fleet spanning months
    cost.plot(
        xs,
        [b.cost_usd for b in buckets],
        marker="s",
        linestyle="--",
        color="#7f8c99",
        label="cost (USD)",
    )
    cost.set_ylim(bottom=0)
    cost.set_ylabel("USD")
    lat.set_title(f"v2v, cost per {unit}", loc="left", fontsize=11)
    lat.grid(alpha=0.3)
    handles = lat.get_legend_handles_labels()[0] + cost.get_legend_handles_labels()[0]
    _legend_outside(lat, handles=handles, ncols=3)
    rates.plot(
        xs,
        [b.errors_per_session for b in buckets],
        marker="o",
        color=CATEGORY_COLORS["interrupted"],
        label="errors per session",
    )
    rates.plot(
        xs,
        [b.barge_ins_per_minute for b in buckets],
        marker="o",
        color=CATEGORY_COLORS["tool"],
        label="barge-ins per minute",
    )
    rates.set_ylim(bottom=0)
    rates.set_title(f"Rates per {unit}", loc="left", fontsize=11)
    rates.grid(alpha=0.3)
    _legend_outside(rates, ncols=2)
    for ax in (lat, rates):
        ax.tick_params(axis="x", labelrotation=30, labelsize=8)
    return fig

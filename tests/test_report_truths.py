"""Numbers a user can trust (issue 13): fleet rate limits never mix sessions, incomplete
input is said, plots are honest. Recordings come from the simulator through the relay, or
are built line by line (builders) where exact hand arithmetic is wanted."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from builders import REPO, Session, ga_session
from click.testing import CliRunner
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text

from rtlens.analysis import detail
from rtlens.cli import main
from rtlens.report import figures
from rtlens.report.build import build


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def report_json(*args: str) -> dict[str, Any]:
    result = run("report", *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory) -> Path:
    """Three simulator sessions: one under the `rate-limit` scenario (700 tokens a minute),
    two under `default` (15,000,000: rtlens.simulator.session.DEFAULT_TPM), one of which
    sends bad client events (the `errors` script) so it alone has error events."""
    from rtlens.simulator.samples import Sample, record_samples

    folder = tmp_path_factory.mktemp("fleet")
    samples = (
        Sample("tight", "conversation", "ga", scenario="rate-limit", seed=3),
        Sample("roomy", "conversation", "ga", seed=4),
        Sample("faulty", "errors", "ga", seed=5),
    )
    paths = asyncio.run(asyncio.wait_for(record_samples(folder, samples, pace=0), 120))
    assert len(paths) == 3
    return folder


def _lines(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def _token_limits(path: Path) -> list[tuple[int, int]]:
    """(limit, remaining) of every `tokens` entry of the file's rate_limits.updated, read
    straight from the recording's lines."""
    return [
        (e["limit"], e["remaining"])
        for line in _lines(path)
        if (line.get("event") or {}).get("type") == "rate_limits.updated"
        for e in line["event"]["rate_limits"]
        if e["name"] == "tokens"
    ]


# --- item 3: fleet rate limits ----------------------------------------------------------


def test_fleet_rate_limit_row_is_one_sessions_figures(fleet):
    per_file = {p.name: _token_limits(p) for p in sorted(fleet.glob("*.jsonl"))}
    # the scenarios set the limits: 700 for `tight`, 15,000,000 for the two others
    assert {name: {lim for lim, _ in v} for name, v in per_file.items()} == {
        "faulty.jsonl": {15_000_000},
        "roomy.jsonl": {15_000_000},
        "tight.jsonl": {700},
    }
    # lowest headroom of each file = min(100 * remaining / limit) over its entries
    lowest = {name: min(100 * r / lim for lim, r in v) for name, v in per_file.items()}
    worst = min(lowest, key=lowest.__getitem__)
    assert worst == "tight.jsonl"  # 700 tokens a minute run down; 15 M never do
    worst_limit, worst_low = min(per_file[worst], key=lambda p: p[1] / p[0])
    worst_last = per_file[worst][-1][1]  # that session's own last value

    got = report_json(str(fleet))["rate_limits"]["tokens"]
    assert got["limit"] == worst_limit == 700
    assert got["min_remaining"] == worst_low
    assert got["last_remaining"] == worst_last  # never the 15,000,000 of another session
    assert got["source_file"].endswith(worst)
    assert got["sessions"] == 3
    assert got["sessions_under_10pct"] == sum(v < 10 for v in lowest.values())
    assert got["limits"] == [700, 15_000_000]
    ordered = sorted(lowest.values())
    assert got["session_lowest_pct"]["p50"] == pytest.approx(ordered[1])  # median of three
    assert got["session_lowest_pct"]["min"] == pytest.approx(ordered[0])

    text = run("report", str(fleet)).stdout
    row = next(
        line
        for line in text.split("Rate limits (each session's lowest headroom)")[1].splitlines()
        if line.split()[:1] == ["tokens"]
    )
    assert f"{worst_low:,} of 700 in tight.jsonl" in row
    assert "15,000,000" not in row  # the other sessions' limit is not in this row
    assert "'tokens' limits differ between sessions: 700, 15,000,000" in text


def _rate_session(sid: str, limit: int, remainings: list[int]) -> Session:
    s = Session(sid).server(0, "session.created", session=ga_session())
    for i, remaining in enumerate(remainings):
        entry = {"name": "tokens", "limit": limit, "remaining": remaining, "reset_seconds": 1}
        s.server(1000 * (i + 1), "rate_limits.updated", rate_limits=[entry])
    return s.close(1000 * (len(remainings) + 1))


def test_fleet_rate_limits_hand_checked(tmp_path):
    # a: limit 1,000, remaining 900 then 50   -> lowest 50/1000    = 5.0 %, last 50
    # b: limit 20,000, remaining 19,000, 18,000 -> lowest 18000/20000 = 90.0 %, last 18,000
    # c: limit 1,000, remaining 80 then 950   -> lowest 80/1000    = 8.0 %, last 950
    # lowest session a; under 10 %: a and c = 2; median of (5, 8, 90) = 8; limits 1,000, 20,000
    _rate_session("a", 1000, [900, 50]).write(tmp_path / "a.jsonl")
    _rate_session("b", 20000, [19000, 18000]).write(tmp_path / "b.jsonl")
    _rate_session("c", 1000, [80, 950]).write(tmp_path / "c.jsonl")
    got = report_json(str(tmp_path))
    tokens = got["rate_limits"]["tokens"]
    assert (tokens["limit"], tokens["min_remaining"], tokens["last_remaining"]) == (1000, 50, 50)
    assert tokens["min_remaining_pct"] == pytest.approx(5.0)
    assert tokens["session_id"] == "a"
    assert (tokens["sessions"], tokens["sessions_under_10pct"]) == (3, 2)
    assert tokens["session_lowest_pct"] == {"n": 3, "min": 5.0, "p50": 8.0, "max": 90.0}
    assert tokens["limits"] == [1000, 20000]
    assert tokens["samples"] == 6
    assert any("under 10% headroom in 2 of 3 sessions" in w for w in got["warnings"])
    text = run("report", str(tmp_path)).stdout
    assert re.search(r"tokens\s+3\s+2\s+8\.0%\s+5\.0%\s+50 of 1,000 in a\.jsonl", text)

    out = tmp_path / "r.html"
    assert run("report", str(tmp_path), "--html", str(out)).exit_code == 0
    html = out.read_text()
    assert "<td>2</td><td>8.0%</td><td>5.0%</td><td>50</td><td>1,000</td>" in html
    assert "1,000, 20,000" in html


def test_most_errors_lists_only_sessions_with_errors(fleet):
    # an error is an `error` event, or a response that failed with one (rate_limit_exceeded)
    def has_error(event: dict[str, Any]) -> bool:
        details = (event.get("response") or {}).get("status_details") or {}
        return event.get("type") == "error" or (
            event.get("type") == "response.done" and "error" in details
        )

    with_errors = {
        p.name
        for p in fleet.glob("*.jsonl")
        if any(has_error(ln.get("event") or {}) for ln in _lines(p))
    }
    assert "faulty.jsonl" in with_errors and "roomy.jsonl" not in with_errors
    got = report_json(str(fleet))["fleet"]["worst_sessions"]["errors"]
    assert {Path(r["source_file"]).name for r in got} == with_errors
    assert all(r["n_errors"] > 0 for r in got)


# --- item 6: incomplete input -----------------------------------------------------------


def test_recording_without_close_line_is_called_cut_off(fleet, tmp_path):
    lines = (fleet / "roomy.jsonl").read_bytes().splitlines()
    assert b'"close"' in lines[-1]  # the relay wrote a close line
    assert "cut off" not in run("report", str(fleet / "roomy.jsonl")).stdout
    cut = tmp_path / "cut.jsonl"
    cut.write_bytes(b"\n".join(lines[:-1]) + b"\n")  # as if the recorder had died
    last_ts = orjson.loads(lines[-2])["ts"]
    # the last line's ts as UTC, to the millisecond (report format %Y-%m-%dT%H:%M:%S.mmmZ)
    when = datetime.fromtimestamp(last_ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    text = run("report", str(cut)).stdout
    assert f"In progress or cut off: no close line; last line at {when}" in text
    got = report_json(str(cut))
    assert got["input"]["cut_off"] == [
        {
            "session_id": got["input"]["cut_off"][0]["session_id"],
            "source_file": str(cut.resolve()),
            "last_line_ts": when,
        }
    ]
    assert got["errors"]["ingest_errors"] == 0  # nothing stops loading
    fleet_text = run("report", str(cut), str(fleet / "tight.jsonl")).stdout
    assert "1 recording(s) in progress or cut off (no close line):" in fleet_text
    assert f"cut.jsonl: last line at {when}" in fleet_text
    out = tmp_path / "cut.html"
    assert run("report", str(cut), "--html", str(out)).exit_code == 0
    assert f"cut.jsonl: in progress or cut off (no close line); last line at {when}" in (
        out.read_text()
    )


def test_bare_event_log_is_not_called_cut_off(tmp_path):
    bare = Session(header=False).server(0, "session.created", session=ga_session())
    got = report_json(str(bare.write(tmp_path / "bare.jsonl")))
    assert got["input"]["cut_off"] == []  # no recorder wrote it: no close line expected


def test_file_without_timestamps_says_so_once(fleet, tmp_path):
    untimed = tmp_path / "untimed.jsonl"
    kept = []
    for line in _lines(fleet / "roomy.jsonl"):
        line.pop("ts", None)
        kept.append(orjson.dumps(line))
    untimed.write_bytes(b"\n".join(kept) + b"\n")
    timed = report_json(str(fleet / "roomy.jsonl"))
    got = report_json(str(untimed))
    assert got["turns"] == timed["turns"] and got["errors"]["ingest_errors"] == 0
    assert [d["source_file"] for d in got["input"]["no_timestamps"]] == [str(untimed.resolve())]
    text = run("report", str(untimed)).stdout
    assert text.count("latencies unavailable") == 1
    assert "No timestamps: latencies unavailable" in text
    assert "Latency (ms)" not in text and "v2v" not in text
    out = tmp_path / "u.html"
    assert run("report", str(untimed), "--html", str(out)).exit_code == 0
    html = out.read_text()
    assert html.count("latencies unavailable") == 1 and "Latency (ms)" not in html


# --- item 7: plots ------------------------------------------------------------------------


def _overlaps(fig: Figure) -> list[str]:
    """Axes whose legend box overlaps their plot area (where the data are) or their title."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    bad = []
    for ax in fig.axes:
        legend = ax.get_legend()
        if legend is None:
            continue
        box, area = legend.get_window_extent(renderer), ax.get_window_extent(renderer)
        inside = box.x0 < area.x1 and box.x1 > area.x0 and box.y0 < area.y1 - 0.5
        if inside and box.y1 > area.y0:
            bad.append(ax.get_title(loc="left"))
        name = ax.get_title(loc="left")
        for title in (t for t in ax.get_children() if isinstance(t, Text) and t.get_text()):
            if title.get_text() != name:
                continue
            tb = title.get_window_extent(renderer)
            if box.x0 < tb.x1 and box.x1 > tb.x0 and box.y0 < tb.y1 and box.y1 > tb.y0:
                bad.append(f"legend over the title {name!r}")
        assert box.y1 <= fig.bbox.y1 and box.x1 <= fig.bbox.x1 + 0.5  # inside the figure
    return bad


def test_figures_are_honest(fleet):
    report = build([fleet / "tight.jsonl"])
    con = report.con
    turns, responses = detail.turn_rows(con), detail.response_rows(con)
    lat = figures.latency(turns, 1200.0)
    tok = figures.tokens(responses)
    rates = figures.rate_limits(detail.rate_limit_rows(con))
    # the bundled sample logs (simulator recordings) have clean, tool and barge-in turns:
    # the fullest legend the fleet histogram can have
    many = build([REPO / "sample_logs"]).con
    overview = many.execute("SELECT * FROM session_overview").fetchall()
    cols = [d[0] for d in many.description or []]
    fleet_fig = figures.fleet_latency(
        detail.turn_rows(many), [dict(zip(cols, r, strict=True)) for r in overview], 1200.0
    )
    for fig in (lat, tok, rates, fleet_fig):
        assert _overlaps(fig) == []
    per_turn = lat.axes[0]
    threshold = next(ln for ln in per_turn.get_lines() if ln.get_label() == "threshold 1,200 ms")
    assert list(threshold.get_ydata()) == [1200.0, 1200.0]
    assert "threshold 1,200 ms" in [t.get_text() for t in per_turn.get_legend().get_texts()]
    ax, cost_ax = tok.axes
    assert ax.get_ylim()[0] == 0 and cost_ax.get_ylim()[0] == 0  # from zero
    ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
    assert ticks and all(float(t).is_integer() for t in ticks)  # no response 1.5


def test_barge_in_is_the_word_and_fleet_points_are_named(tmp_path):
    # turn 2 barges in on response 1 (a turn_detected cancel): turn 1 is a barge-in turn
    s = Session("b1").server(0, "session.created", session=ga_session())
    s.server(100, "input_audio_buffer.speech_started", audio_start_ms=100, item_id="u1")
    s.server(900, "input_audio_buffer.speech_stopped", audio_end_ms=900, item_id="u1")
    s.server(910, "input_audio_buffer.committed", item_id="u1")
    s.server(950, "response.created", response={"id": "r1", "status": "in_progress"})
    s.server(1500, "response.output_audio.delta", response_id="r1", item_id="a1", delta="AAAA")
    s.server(1700, "input_audio_buffer.speech_started", audio_start_ms=1700, item_id="u2")
    s.server(
        1720,
        "response.done",
        response={
            "id": "r1",
            "status": "cancelled",
            "status_details": {"type": "cancelled", "reason": "turn_detected"},
        },
    )
    s.server(2500, "input_audio_buffer.speech_stopped", audio_end_ms=2500, item_id="u2")
    s.server(2510, "input_audio_buffer.committed", item_id="u2")
    s.server(2550, "response.created", response={"id": "r2", "status": "in_progress"})
    s.server(3000, "response.output_audio.delta", response_id="r2", item_id="a2", delta="AAAA")
    s.close(4000).write(tmp_path / "one.jsonl")
    report = build([tmp_path / "one.jsonl"])
    turns = detail.turn_rows(report.con)
    assert "interrupted" in {t["category"] for t in turns if t["v2v_ms"] is not None}
    fig = figures.latency(turns)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "barge-in" in labels and "interrupted" not in labels


def test_each_fleet_scatter_point_names_its_recording(fleet, tmp_path):
    out = tmp_path / "fleet.html"
    assert run("report", str(fleet), "--html", str(out)).exit_code == 0
    html = out.read_text()
    svg = html[html.index('<g id="rtlens-session-points"') :]
    titles = re.findall(r"<use [^>]*><title>([^<]*)</title></use>", svg)
    # the two GA conversations have clean turns and priced usage, so both are points
    names = sorted(t.split(":")[0] for t in titles)
    assert {"roomy.jsonl", "tight.jsonl"} <= set(names)
    assert len(names) == len(set(names))  # one point per session
    points = re.findall(r"<use [^>]*>", svg[: svg.index("</g>\n   </g>")])
    assert len(points) == len(titles)  # every point of the scatter has its title

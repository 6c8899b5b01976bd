"""Report benchmark: `rtlens report` on a one-hour session against `rtlens ingest` of it.

    python benchmarks/report_bench.py [--repeats 3] [--out benchmarks/results/report.json]

Target: the report (text and HTML, ingesting in memory) takes at most the ingest time plus
1 s, and the HTML stays under 2 MB. The session is an hour-long GA call recorded through
the relay from the simulator (script `long_call`, pcm16 both ways, barge-ins every seventh
turn), made once and kept in benchmarks/long/. To make it in minutes rather than an hour,
it is recorded at `PACE` (every delay of the simulator and of the app's microphone scaled
by it) and its timestamps are then stretched back by 1/PACE.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from ingest_bench import measure

PACE = 0.05


async def _record_long_call(folder: Path) -> None:
    from rtlens.recording import serve_relay
    from rtlens.simulator import SimulatorConfig, serve
    from rtlens.simulator.apps import run_app

    async with (
        serve("127.0.0.1", 0, SimulatorConfig(pace=PACE), log=None) as sim,
        serve_relay(
            "127.0.0.1",
            0,
            upstream=f"ws://127.0.0.1:{sim.port}",
            out_dir=str(folder),
            report=None,
        ) as relay,
    ):
        await run_app(
            f"ws://127.0.0.1:{relay.port}/v1/realtime",
            script="long_call",
            dialect="ga",
            seed=60,
            pace=PACE,
        )


def _stretch(source: Path, target: Path, factor: float) -> None:
    """Rewrite every line's `ts` so the session's clock runs `factor` times slower."""
    start: float | None = None
    with source.open("rb") as src, target.open("wb") as dst:
        for line in src:
            if line.startswith(b'{"ts":'):
                comma = line.index(b",", 6)
                ts = float(line[6:comma])
                start = ts if start is None else start
                line = b'{"ts":%.6f%s' % (start + (ts - start) * factor, line[comma:])
            dst.write(line)


def long_session(folder: Path) -> Path:
    target = folder / "long_call.jsonl"
    if not target.exists():
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            asyncio.run(_record_long_call(Path(tmp)))
            (recording,) = Path(tmp).glob("*.jsonl")
            _stretch(recording, target, 1 / PACE)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "report.json")
    args = parser.parse_args()
    session = long_session(HERE / "long")
    rtlens = str(Path(sys.executable).with_name("rtlens"))
    runs: dict[str, list[dict[str, float]]] = {"ingest": [], "report_html": [], "report_db": []}
    with tempfile.TemporaryDirectory() as tmp:
        html = Path(tmp) / "report.html"
        db = Path(tmp) / "long.duckdb"
        for _ in range(args.repeats):
            db.unlink(missing_ok=True)
            runs["ingest"].append(measure([rtlens, "ingest", str(session), "--db", str(db), "-q"]))
            runs["report_html"].append(
                measure([rtlens, "report", str(session), "--html", str(html)])
            )
            runs["report_db"].append(
                measure([rtlens, "report", "--db", str(db), "--html", str(html)])
            )
        html_bytes = html.stat().st_size
    median = {k: statistics.median(r["wall_s"] for r in v) for k, v in runs.items()}
    with tempfile.TemporaryDirectory():
        from rtlens.ingest.normalize import normalize_file

        session_row = normalize_file(session).rows["sessions"][0]
    result = {
        "session": {
            "file": str(session),
            "mb": session.stat().st_size / 1e6,
            "duration_ms": session_row[7],
            "turns": session_row[22],
        },
        "median_wall_s": median,
        "report_minus_ingest_s": median["report_html"] - median["ingest"],
        "html_bytes": html_bytes,
        "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"session: {result['session']['mb']:.0f} MB, {session_row[22]} turns, "
        f"{session_row[7] / 60000:.0f} min"
    )
    print(f"rtlens ingest (file db)         {median['ingest']:6.2f} s")
    print(
        f"rtlens report FILE --html       {median['report_html']:6.2f} s  "
        f"(report - ingest = {result['report_minus_ingest_s']:+.2f} s; target <= +1 s)"
    )
    print(f"rtlens report --db DB --html    {median['report_db']:6.2f} s")
    print(f"HTML size {html_bytes / 1e6:.2f} MB (target < 2 MB)")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

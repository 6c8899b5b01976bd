"""Session page benchmark: `rtlens report FILE --html OUT.html` on the one-hour call.

    python benchmarks/page_bench.py [--recording FILE] [--out benchmarks/results/page.json]

Target: the page (player and unheard clips inlined) stays under ~25 MB. Its render time is
given beside two baselines measured in the same run on the same file: the text report (the
ingest and queries every page pays) and one `rtlens audio` render (the page renders the
call's audio once heard, once generated, and once more at a lower rate when the call is too
long for stereo). Each run is a fresh process: wall time and its peak RSS (`os.wait4`). The
hour is the report benchmark's session (`benchmarks/long/`, made on first use, ~3 min).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def run(argv: list[str]) -> dict[str, float]:
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "rtlens", *argv], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        err = proc.stderr.read().decode() if proc.stderr else ""
        raise RuntimeError(f"rtlens {argv[0]} failed: {err[-500:]}")
    return {"wall_s": wall, "peak_rss_mb": usage.ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recording", type=Path, help="the hour-long call (default: made)")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "page.json")
    args = parser.parse_args()
    if args.recording is None:
        from report_bench import long_session

        args.recording = long_session(HERE / "long")
    rec = str(args.recording)
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "page.html"
        text = run(["report", rec])
        audio = run(["audio", rec, "-o", str(Path(tmp) / "call.wav"), "-q"])
        html = run(["report", rec, "--html", str(page)])
        size_mb = page.stat().st_size / 1e6
    result = {
        "recording_mb": args.recording.stat().st_size / 1e6,
        "page_mb": size_mb,
        "text_report": text,
        "audio_render": audio,
        "html_page": html,
        "page_over_text": html["wall_s"] / text["wall_s"],
        "page_over_audio": html["wall_s"] / audio["wall_s"],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"page {size_mb:.1f} MB (target < 25 MB); render {html['wall_s']:.1f} s, peak RSS "
        f"{html['peak_rss_mb']:.0f} MB; text report {text['wall_s']:.1f} s "
        f"(page {result['page_over_text']:.1f}x); one audio render {audio['wall_s']:.1f} s "
        f"(page {result['page_over_audio']:.1f}x)"
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

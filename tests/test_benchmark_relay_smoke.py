"""Smoke test for `benchmarks/relay_latency.py`: the machinery runs end to end and every frame
arrives once, in order, on every path, and is recorded by `rtlens record`.

Correctness only: a test never asserts latency or CPU, which depend on the machine's load.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "relay_latency.py"
PATHS = ("direct", "bare", "tap", "record", "record2", "metrics", "otlp")  # record2: --workers 2
FRAME_KEYS = {"frames", "sent", "lost", "reordered", "duplicated", "p50_ms", "p99_ms", "max_ms"}


def run_benchmark(out: Path) -> dict:
    argv = [sys.executable, str(SCRIPT), "--sessions", "2", "--seconds", "2", "--otlp"]
    done = subprocess.run(
        [*argv, "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(out.read_text())


def test_relay_latency_benchmark_runs_and_loses_nothing(tmp_path: Path) -> None:
    results = run_benchmark(tmp_path / "relay_latency.json")

    assert {"command", "settings", "machine_before", "machine_after", "targets"} <= set(results)
    assert [r["path"] for r in results["slices"]] == list(PATHS)  # one slice per path
    for run in results["slices"]:
        for direction in ("up", "down"):
            flow = run["directions"][direction]
            assert set(flow) >= FRAME_KEYS, (run["path"], direction)
            assert flow["frames"] > 0 and flow["frames"] == flow["sent"], (run["path"], direction)
            assert (flow["lost"], flow["reordered"], flow["duplicated"]) == (0, 0, 0)
        assert (run["relay_cpu_ms_per_session_s"] is None) == (run["path"] == "direct")

    block = results["summary"]["2"]
    assert block["recording"]["files"] == 2  # one file per `record` session
    assert block["recording"]["frames"] == block["recording"]["relayed_frames"]
    assert set(block["paths"]) == set(PATHS)
    for direction in ("up", "down"):
        comparison = block["comparisons"][direction]
        assert "p99_ratio_record_over_bare" in comparison
        assert "p99_ratio_record_over_tap" in comparison
        assert "p99_added_over_direct_ms_record" in comparison
        assert "p99_added_over_direct_ms_bare" in comparison
        assert "p99_added_over_direct_ms_tap" in comparison
        assert "p99_ratio_workers2_over_workers1" in comparison
        assert "p99_ratio_metrics_over_record" in comparison
        assert "p99_added_over_direct_ms_metrics" in comparison
        assert "p99_ratio_otlp_over_record" in comparison
    assert results["targets"]["zero_lost_and_reordered"] is True
    assert results["targets"]["metrics_p99_within_10pct_of_record"] in (True, False)
    assert results["targets"]["otlp_p99_within_10pct_of_record"] in (True, False)
    assert results["targets"]["otlp_exports"] >= 2  # each session's root span at its close
    assert results["targets"]["every_frame_recorded"] is True
    assert results["targets"]["record_p99_added_le_2ms_at_50_sessions"] is None  # not measured

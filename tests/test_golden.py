"""Golden files for the bundled sample logs: every table, and the report's JSON.

A change in what ingest or the report produce shows up here as a diff to review. After an
intended change, run `pytest tests/test_golden.py --update-golden` and read the diff.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from builders import REPO
from click.testing import CliRunner

from rtlens.cli import main
from rtlens.ingest.normalize import normalize_file
from rtlens.schema import TABLES
from rtlens.simulator.samples import SAMPLES

GOLDEN = Path(__file__).parent / "data" / "golden"
NAMES = [s.name for s in SAMPLES]


def _portable(value: object, source: str) -> object:
    if isinstance(value, str):
        return value.replace(source, "<sample>")
    return value


def _tables(path: Path) -> dict[str, object]:
    result = normalize_file(path)
    source = result.source_file
    out: dict[str, object] = {}
    for name, rows in result.rows.items():
        cols = TABLES[name].column_names
        dicts = [{c: _portable(v, source) for c, v in zip(cols, r, strict=True)} for r in rows]
        if name == "events":  # thousands of rows: keep their shape, not every line
            counts: dict[str, int] = {}
            for d in dicts:
                key = f"{d['direction']} {d['canonical_type']} known={d['known']}"
                counts[key] = counts.get(key, 0) + 1
            out["events"] = {
                "rows": len(dicts),
                "by_type": dict(sorted(counts.items())),
                "audio_bytes": sum(d["audio_bytes"] or 0 for d in dicts),
                "first": dicts[:3],
            }
        else:
            out[name] = dicts
    return out


def _check(path: Path, actual: object, update: bool) -> None:
    text = json.dumps(actual, indent=1, sort_keys=True, default=str) + "\n"
    if update:
        path.write_text(text, encoding="utf-8")
        return
    assert path.exists(), f"{path.name} missing: run pytest {__file__} --update-golden"
    assert json.loads(path.read_text(encoding="utf-8")) == json.loads(text), (
        f"{path.name} differs; review, then run with --update-golden"
    )


@pytest.mark.parametrize("name", NAMES)
def test_tables_match_golden(name: str, update_golden: bool) -> None:
    sample = REPO / "sample_logs" / f"{name}.jsonl"
    _check(GOLDEN / f"{name}.tables.json", _tables(sample), update_golden)


@pytest.mark.parametrize("name", NAMES)
def test_report_json_matches_golden(name: str, update_golden: bool) -> None:
    sample = REPO / "sample_logs" / f"{name}.jsonl"
    result = CliRunner().invoke(main, ["report", str(sample), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    source = str(sample.resolve())
    report = json.loads(json.dumps(report).replace(json.dumps(source)[1:-1], "<sample>"))
    _check(GOLDEN / f"{name}.report.json", report, update_golden)

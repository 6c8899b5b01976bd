"""`rtlens report DIR --html-dir SITE`: the fleet site, its re-run, its errors, and the
index in a real browser (Debian's chromium through Playwright).

The hand-built sessions' numbers are chosen here, so every expected order is worked out by
hand below; the simulator's sample fleet (sample_logs/, made by
rtlens.simulator.samples.record_samples) rides along as a realistic crowd."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from browser_helpers import chromium_page, screenshot
from builders import REPO, Session, ga_session

from rtlens.analysis import fleet
from rtlens.analysis.load import ingest_in_memory
from rtlens.report.site import page_name

SAMPLES = REPO / "sample_logs"
HOUR_MS = 3_600_000


def hand_session(sid: str, errors: int, duration_ms: int, offset_ms: int = 0) -> Session:
    """A session of model 'hand-model' with `errors` error events, lasting `duration_ms`."""
    s = Session(sid).server(offset_ms, "session.created", session=ga_session("hand-model"))
    for i in range(errors):
        s.server(
            offset_ms + 100 + i,
            "error",
            error={"type": "invalid_request_error", "code": "bad", "message": "bad event"},
        )
    return s.close(offset_ms + duration_ms)


# id: (errors, duration ms)
HAND = {"h-a": (2, 9000), "h-b": (0, 1000), "h-c": (3, 4000), "h-d": (1, 6000)}


def write_hand(folder: Path, ids: list[str]) -> None:
    for sid in ids:
        errors, duration = HAND[sid]
        hand_session(sid, errors, duration).write(folder / f"{sid}.jsonl")


def run_site(inputs: Path, site: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rtlens", "report", str(inputs), "--html-dir", str(site)],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )


def stats(site: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in site.glob("session-*.html")}


def test_rerun_renders_only_new_and_changed_sessions(tmp_path: Path) -> None:
    fleet_dir, site = tmp_path / "fleet", tmp_path / "site"
    fleet_dir.mkdir()
    write_hand(fleet_dir, ["h-a", "h-b", "h-c"])
    first = run_site(fleet_dir, site)
    assert first.returncode == 0, first.stderr
    assert "(3 page(s) rendered, 0 unchanged)" in first.stderr
    before = stats(site)
    assert set(before) == {page_name(s) for s in ("h-a", "h-b", "h-c")}

    again = run_site(fleet_dir, site)
    assert again.returncode == 0, again.stderr
    assert "(0 page(s) rendered, 3 unchanged)" in again.stderr
    assert stats(site) == before  # same inode and mtime: not rewritten

    # h-a gains an error (2 → 3), h-d is new; h-b and h-c are untouched
    hand_session("h-a", 3, 9000).write(fleet_dir / "h-a.jsonl")
    write_hand(fleet_dir, ["h-d"])
    grown = run_site(fleet_dir, site)
    assert grown.returncode == 0, grown.stderr
    assert "(2 page(s) rendered, 2 unchanged)" in grown.stderr
    after = stats(site)
    for kept in ("h-b", "h-c"):
        assert after[page_name(kept)] == before[page_name(kept)]
    assert after[page_name("h-a")] != before[page_name("h-a")]
    assert page_name("h-d") in after
    manifest = json.loads((site / "manifest.json").read_text())
    assert set(manifest["pages"]) == {"h-a", "h-b", "h-c", "h-d"}


def test_site_path_that_is_a_file_is_one_line_exit_2(tmp_path: Path) -> None:
    fleet_dir = tmp_path / "fleet"
    fleet_dir.mkdir()
    write_hand(fleet_dir, ["h-a"])
    target = tmp_path / "site.html"
    target.write_text("keep me")
    done = run_site(fleet_dir, target)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [f"Error: {target}: is a file, not a folder for the site"]
    assert target.read_text() == "keep me"


def test_buckets_per_hour_from_session_start(tmp_path: Path) -> None:
    # h-a and h-b start in the 10:00 hour (START is 10:37:32), h-c two hours later
    hand_session("h-a", 2, 9000).write(tmp_path / "a.jsonl")
    hand_session("h-b", 0, 1000).write(tmp_path / "b.jsonl")
    hand_session("h-c", 3, 4000, offset_ms=2 * HOUR_MS).write(tmp_path / "c.jsonl")
    con, _ = ingest_in_memory([tmp_path])
    rows = fleet.session_rows(con)
    assert [r.session_id for r in rows] == ["h-a", "h-b", "h-c"]
    assert fleet.bucket_unit(rows) == "hour"
    got = fleet.buckets(con, "hour")
    assert [(b.start.hour, b.sessions, b.errors_per_session) for b in got] == [
        (10, 2, 1.0),  # (2 + 0) errors / 2 sessions
        (12, 1, 3.0),
    ]
    assert [b.barge_ins_per_minute for b in got] == [0.0, 0.0]


def _column(page, col: int, visible_only: bool = True) -> list[str]:
    sel = "#sessions tbody tr" + (":not([hidden])" if visible_only else "")
    return page.eval_on_selector_all(sel, f"rows => rows.map(r => r.cells[{col}].textContent)")


@pytest.mark.timeout(300)
def test_index_in_a_real_browser(tmp_path: Path) -> None:
    fleet_dir, site = tmp_path / "fleet", tmp_path / "site"
    shutil.copytree(SAMPLES, fleet_dir, ignore=shutil.ignore_patterns("*.md"))
    write_hand(fleet_dir, list(HAND))
    done = run_site(fleet_dir, site)
    assert done.returncode == 0, done.stderr
    sample_ids = {
        f.stem: json.loads(f.read_bytes().split(b"\n", 1)[0])["session_id"]
        for f in SAMPLES.glob("*.jsonl")
    }
    # the three beta samples (rtlens/simulator/samples.py) run gpt-4o-realtime-preview
    beta_ids = sorted(v for k, v in sample_ids.items() if k.startswith("beta_"))
    everyone = set(sample_ids.values()) | set(HAND)

    with chromium_page() as browser:
        page = browser.page
        page.goto((site / "index.html").as_uri())
        assert sorted(_column(page, 1)) == sorted(everyone)
        screenshot(browser, "site_index.png")

        page.fill("#filter", "hand-model")
        assert sorted(_column(page, 1)) == sorted(HAND)
        assert page.text_content("#shown") == "4"
        page.click("th:has-text('errors')")  # ascending: h-b 0, h-d 1, h-a 2, h-c 3
        assert _column(page, 1) == ["h-b", "h-d", "h-a", "h-c"]
        page.click("th:has-text('duration')")
        page.click("th:has-text('duration')")  # descending: 9 s, 6 s, 4 s, 1 s
        assert _column(page, 1) == ["h-a", "h-d", "h-c", "h-b"]

        page.fill("#filter", "gpt-4o-realtime-preview")
        assert sorted(_column(page, 1)) == beta_ids
        page.fill("#filter", "")
        assert len(_column(page, 1)) == len(everyone)
        assert browser.console_errors == []

        hrefs = page.eval_on_selector_all(
            "#sessions tbody a", "links => links.map(a => [a.textContent, a.href])"
        )
        for sid, href in hrefs:
            page.goto(href)
            assert f"session {sid} ·" in page.text_content("body"), href
        assert browser.console_errors == []
        page.goto(dict(hrefs)["h-c"])
        screenshot(browser, "site_session.png")


def test_from_a_database_whose_recording_moved(tmp_path: Path) -> None:
    fleet_dir, site, db = tmp_path / "fleet", tmp_path / "site", tmp_path / "rt.duckdb"
    fleet_dir.mkdir()
    write_hand(fleet_dir, ["h-a", "h-b"])
    subprocess.run(
        [sys.executable, "-m", "rtlens", "ingest", str(fleet_dir), "--db", str(db)],
        check=True,
        capture_output=True,
        cwd=REPO,
    )
    (fleet_dir / "h-b.jsonl").unlink()  # its page can no longer be fingerprinted
    cmd = [sys.executable, "-m", "rtlens", "report", "--db", str(db), "--html-dir", str(site)]
    first = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=REPO)
    assert first.returncode == 0, first.stderr
    assert "(2 page(s) rendered, 0 unchanged)" in first.stderr
    again = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=REPO)
    assert "(1 page(s) rendered, 1 unchanged)" in again.stderr  # h-b renders every time
    assert "rendered " + page_name("h-b") in again.stderr
    assert "rendered " + page_name("h-a") not in again.stderr

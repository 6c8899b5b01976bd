"""Ingest when things go wrong outside the recordings: a database it cannot use, a Parquet
folder it cannot write, duplicated sessions reported in any order, and being stopped (Ctrl-C,
SIGTERM, SIGKILL) half-way. Each ends with one clear line, the database as it was, and no
process or temporary file left behind."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import pytest
from builders import REPO, Session, b64, ga_session

from rtlens.ingest.pipeline import _Writer, ingest
from rtlens.ingest.tempdirs import LOCK, PREFIX, hold
from rtlens.ingest.workers import EventSpool, Message, normalize_to
from rtlens.store import db as store

SAMPLE = REPO / "sample_logs" / "ga_rate_limited.jsonl"


def rtlens(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rtlens", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )


def one_clear_line(result: subprocess.CompletedProcess[str], code: int = 1) -> str:
    """`ingest` finding an unusable database exits 1; `query` exits 2 (README: a database
    it cannot use is a usage error there)."""
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


# ---- a database it cannot use ----------------------------------------------------------------


def test_a_file_that_is_not_a_database_is_named_in_one_line(tmp_path: Path) -> None:
    db = tmp_path / "notes.duckdb"
    db.write_text("my notes\n")
    line = one_clear_line(rtlens("ingest", str(SAMPLE), "--db", str(db)))
    assert line.startswith(f"Error: {db}: cannot open the database")
    assert db.read_text() == "my notes\n"


def test_a_database_in_use_by_another_process_is_named_in_one_line(tmp_path: Path) -> None:
    db = tmp_path / "rt.duckdb"
    assert rtlens("ingest", str(SAMPLE), "--db", str(db), "-q").returncode == 0
    holder = duckdb.connect(str(db))  # another process's write lock, as DuckDB sees it
    try:
        line = one_clear_line(rtlens("ingest", str(SAMPLE), "--db", str(db)))
        assert line.startswith(f"Error: {db}: cannot open the database") and "lock" in line
        line = one_clear_line(rtlens("query", "SELECT 1", "--db", str(db)), code=2)
        assert "in use by another process" in line
    finally:
        holder.close()


def test_someone_elses_database_is_refused_and_left_alone(tmp_path: Path) -> None:
    db = tmp_path / "crm.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE sessions (id INTEGER, name VARCHAR)")
    con.execute("INSERT INTO sessions VALUES (1, 'kept')")
    con.close()
    line = one_clear_line(rtlens("ingest", str(SAMPLE), "--db", str(db)))
    assert line.startswith(f"Error: {db}: not an rtlens database")
    line = one_clear_line(rtlens("query", "SELECT 1", "--db", str(db)), code=2)
    assert "not an rtlens database" in line
    con = duckdb.connect(str(db))
    assert con.execute("SELECT * FROM sessions").fetchall() == [(1, "kept")]
    assert [r[0] for r in con.execute("SHOW TABLES").fetchall()] == ["sessions"]


def test_query_refuses_a_database_of_another_schema_version(tmp_path: Path) -> None:
    db = tmp_path / "rt.duckdb"
    assert rtlens("ingest", str(SAMPLE), "--db", str(db), "-q").returncode == 0
    con = duckdb.connect(str(db))
    con.execute("UPDATE rtlens_meta SET schema_version = 99")
    con.close()
    line = one_clear_line(rtlens("query", "SELECT count(*) FROM events", "--db", str(db)), code=2)
    assert "schema version 99" in line


def test_too_little_memory_for_duckdb_is_one_line_with_the_way_out(tmp_path: Path) -> None:
    db = tmp_path / "rt.duckdb"
    for _ in range(3):  # it fails while opening or while inserting, as DuckDB's use varies
        line = one_clear_line(
            rtlens("ingest", str(SAMPLE), "--db", str(db), "--memory-limit", "1KB")
        )
        assert "raise it with --memory-limit" in line
        assert not db.exists() and not db.with_name(db.name + ".wal").exists()  # it was new


# ---- Parquet ---------------------------------------------------------------------------------


def test_empty_tables_still_come_out_as_parquet_with_their_columns(tmp_path: Path) -> None:
    out = tmp_path / "pq"
    result = rtlens(
        "ingest", str(SAMPLE), "--db", str(tmp_path / "rt.duckdb"), "--parquet", str(out)
    )
    assert result.returncode == 0, result.stderr
    con = duckdb.connect(str(tmp_path / "rt.duckdb"))
    assert con.execute("SELECT count(*) FROM ingest_errors").fetchone() == (0,)
    read = f"read_parquet('{out}/ingest_errors/**/*.parquet', hive_partitioning = true)"
    assert con.execute(f"SELECT count(*) FROM {read}").fetchone() == (0,)
    columns = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {read}").fetchall()]
    assert columns == [*store.TABLES["ingest_errors"].column_names, "date"]


def test_a_parquet_folder_that_cannot_be_made_stops_before_the_database_changes(
    tmp_path: Path,
) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    db = tmp_path / "rt.duckdb"
    result = rtlens("ingest", str(SAMPLE), "--db", str(db), "--parquet", str(blocker / "pq"))
    line = one_clear_line(result)
    assert line.startswith(f"Error: {blocker / 'pq'}: cannot write Parquet there")
    assert not db.exists()


# ---- the same session in two files ------------------------------------------------------------


def test_the_first_file_keeps_a_duplicated_session_whatever_order_the_workers_report(
    tmp_path: Path,
) -> None:
    s = Session("same-session")
    s.server(0, "session.created", session=ga_session())
    s.client(100, "input_audio_buffer.append", audio=b64(4800))
    first, later = s.write(tmp_path / "a.jsonl"), s.write(tmp_path / "b.jsonl")
    files = [first, later]
    reports: dict[int, list[Message]] = {0: [], 1: []}
    for index in (0, 1):  # each file normalized as a worker does, its messages kept
        spool_dir = tmp_path / f"spool{index}"  # as each worker's own files
        spool_dir.mkdir()
        spool = EventSpool(reports[index].append, spool_dir)
        normalize_to(spool, index, files[index])
        spool.flush()
    con = store.connect(tmp_path / "rt.duckdb")
    writer = _Writer(con, store, files, None, None)
    writer.start()
    for message in reports[1] + reports[0]:  # the later file's worker reported first
        writer.handle(message)
    writer.finish()
    sources = con.execute("SELECT source_file FROM sessions").fetchall()
    assert sources == [(str(first.resolve()),)]
    assert con.execute("SELECT count(*) FROM events").fetchone() == (2,)
    assert writer.result.sessions == 1 and writer.result.events == 2
    assert writer.result.skipped == [f"{later}: same session id as {first}; skipped"]


# ---- stopped half-way -------------------------------------------------------------------------


def _processes_with(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "environ").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _gone(marker: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while _processes_with(marker):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


EARLIER = REPO / "sample_logs" / "ga_voice_conversation.jsonl"


@pytest.fixture
def stalled_ingest(tmp_path: Path, request: pytest.FixtureRequest):
    """`rtlens ingest` with two workers, one of them reading a recording that is still
    being written (a named pipe): the run is surely half-way when the test acts. With the
    parameter True, the database already holds an earlier session (`EARLIER`)."""
    if not Path("/proc/self/environ").exists() or not hasattr(os, "mkfifo"):
        pytest.skip("needs Linux's /proc and named pipes")
    if getattr(request, "param", False):
        earlier = rtlens("ingest", str(EARLIER), "--db", str(tmp_path / "rt.duckdb"), "-q")
        assert earlier.returncode == 0, earlier.stderr
    live = tmp_path / "live.jsonl"
    os.mkfifo(live)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = dict(os.environ, TMPDIR=str(tmp))
    db = tmp_path / "rt.duckdb"
    argv = ["ingest", str(SAMPLE), str(live), "--db", str(db), "--workers", "2"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "rtlens", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )
    with _open_for_writing(live) as pipe:
        s = Session("live-session")
        s.server(0, "session.created", session=ga_session())
        pipe.write(s.text())
        pipe.flush()
        time.sleep(0.5)  # the writer takes the other file's rows
        yield proc, tmp, db
        proc.kill()


def _open_for_writing(fifo: Path, seconds: float = 30):
    """The pipe's writing end, once a worker has opened it to read (or an error)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:
            if exc.errno != errno.ENXIO or time.monotonic() > deadline:
                raise
            time.sleep(0.02)
            continue
        os.set_blocking(fd, True)
        return os.fdopen(fd, "wb")


def _after(proc: subprocess.Popen[str]) -> str:
    _, stderr = proc.communicate(timeout=30)
    return stderr


def _as_before(db: Path, existing: bool) -> None:
    """The database is as it was: gone if this run made it, else only the earlier session."""
    if not existing:
        assert not db.exists() and not db.with_name(db.name + ".wal").exists()
        return
    con = duckdb.connect(str(db))
    assert con.execute("SELECT count(*) FROM sessions").fetchone() == (1,)
    assert con.execute("SELECT count(*) FROM events").fetchone() == (
        len(EARLIER.read_bytes().splitlines()) - 2,  # not the header or close line
    )


@pytest.mark.parametrize("stalled_ingest", [False, True], indirect=True, ids=["new", "existing"])
@pytest.mark.parametrize("how", ["SIGINT to the group (Ctrl-C)", "SIGTERM to rtlens"])
def test_stopped_half_way_it_says_so_and_leaves_nothing(
    stalled_ingest, how: str, request: pytest.FixtureRequest
) -> None:
    proc, tmp, db = stalled_ingest
    existing = "existing" in request.node.callspec.id
    if how.startswith("SIGINT"):
        os.killpg(proc.pid, signal.SIGINT)
    else:
        proc.send_signal(signal.SIGTERM)
    stderr = _after(proc)
    assert proc.returncode == 1
    assert stderr.strip() == "Aborted!"
    assert _gone(str(tmp), 60), "worker processes left running"  # 60 s: a safety net
    assert list(tmp.iterdir()) == []  # the event-line files' folder is gone
    _as_before(db, existing)


def test_workers_end_when_rtlens_is_killed(stalled_ingest) -> None:
    proc, tmp, _ = stalled_ingest
    proc.kill()  # SIGKILL: no clean-up runs in rtlens itself
    _after(proc)
    assert _gone(str(tmp), 60), "workers outlived the killed writer"  # a safety net


def test_the_next_run_removes_the_folder_a_killed_run_left(stalled_ingest) -> None:
    """A killed run cannot remove its folder of event-line files (6-7 MB each): the next
    run does, and only that one (not a live run's, nor one without a lock file)."""
    proc, tmp, db = stalled_ingest
    proc.kill()
    _after(proc)
    assert _gone(str(tmp), 60), "workers outlived the killed writer"
    [left] = list(tmp.iterdir())  # the killed run's
    assert left.name.startswith(PREFIX) and (left / LOCK).exists()
    unlocked = tmp / (PREFIX + "starting")  # as a run is before its lock file is named
    unlocked.mkdir()
    live = Path(tempfile.mkdtemp(prefix=PREFIX, dir=tmp))
    held = hold(live)  # as a live run holds its folder
    try:
        env = dict(os.environ, TMPDIR=str(tmp))
        done = rtlens("ingest", str(SAMPLE), "--db", str(db), "-q", env=env)
        assert done.returncode == 0, done.stderr
        assert sorted(tmp.iterdir()) == sorted([unlocked, live])
    finally:
        if held is not None:
            os.close(held)


def test_the_kernel_ends_the_workers_of_a_killed_writer() -> None:
    """The stalled worker is killed by SIGKILL, the parent-death signal the kernel sends
    the moment the writer dies (the watch thread it replaces polled once a second, and its
    workers ended with exit 1). `benchmarks/worker_exit.py` waits on the workers' exit as
    their subreaper, and measures how long it took (not checked here)."""
    if not sys.platform.startswith("linux"):
        pytest.skip("parent-death signals are Linux's")
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "worker_exit.py"), "--runs", "1"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    ends = done.stdout.splitlines()[-1]
    assert ends.startswith("how the workers ended: ") and "SIGKILL" in ends, done.stdout


def test_a_file_that_opens_but_cannot_be_read_costs_one_line(tmp_path: Path) -> None:
    unreadable = Path("/proc/self/mem")  # opens, then every read fails (EIO)
    if not unreadable.exists():
        pytest.skip("needs Linux's /proc/self/mem")
    result = rtlens("ingest", str(SAMPLE), str(unreadable), "--db", str(tmp_path / "rt.duckdb"))
    line = one_clear_line(result)
    assert line.startswith("/proc/") and ": 1 line(s) in ingest_errors (" in line
    assert line.endswith("cannot read (Input/output error))")
    con = duckdb.connect(str(tmp_path / "rt.duckdb"))
    assert con.execute("SELECT count(*) FROM sessions").fetchone() == (1,)  # the sample's


def test_workers_spawned_beside_a_callers_connection_do_start(tmp_path: Path) -> None:
    """A caller holding a DuckDB connection gets spawned workers (forking a process with
    DuckDB's threads is unsafe); they used to die at start and leave ingest waiting."""
    script = (
        "import sys\n"
        "from rtlens.ingest.pipeline import ingest\n"
        "from rtlens.store import db\n"
        "con = db.connect(None)\n"
        "result = ingest([sys.argv[1]], con=con, workers=2)\n"
        "print(result.sessions, con.execute('SELECT count(*) FROM sessions').fetchone()[0])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(REPO / "sample_logs")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["9", "9"]


def test_a_worker_that_dies_stops_the_run_with_one_line(stalled_ingest) -> None:
    proc, tmp, db = stalled_ingest
    workers = [pid for pid in _processes_with(str(tmp)) if pid != proc.pid]
    assert workers, "no worker process found"
    for pid in workers:
        os.kill(pid, signal.SIGKILL)  # as the OOM killer would
    stderr = _after(proc)
    assert proc.returncode == 1
    assert stderr.strip().startswith("Error: a worker process died without finishing")
    assert "Traceback" not in stderr
    assert list(tmp.iterdir()) == []
    _as_before(db, existing=False)


def test_a_later_duplicate_that_failed_gives_way_without_error(tmp_path: Path) -> None:
    s = Session("same-session")
    s.server(0, "session.created", session=ga_session())
    first, later = s.write(tmp_path / "a.jsonl"), s.write(tmp_path / "b.jsonl")
    con = store.connect(tmp_path / "rt.duckdb")
    writer = _Writer(con, store, [first, later], None, None)
    writer.start()
    writer.handle(("begin", 1, "same-session"))
    writer.handle(("failed", 1, "cannot read (Input/output error)"))
    reports: list[Message] = []
    spool = EventSpool(reports.append, tmp_path)
    normalize_to(spool, 0, first)
    spool.flush()
    for message in reports:
        writer.handle(message)
    writer.finish()
    assert con.execute("SELECT source_file FROM sessions").fetchall() == [(str(first.resolve()),)]
    assert writer.result.sessions == 1
    failures = con.execute("SELECT source_file, error FROM ingest_errors").fetchall()
    assert failures == [(str(later.resolve()), "cannot read (Input/output error)")]


def test_a_run_that_fails_to_open_a_database_another_run_made_leaves_it(tmp_path: Path) -> None:
    """Two runs on one new file: the one that loses DuckDB's lock must not remove the file
    the other made (it decided the file was new before the other created it)."""
    db = tmp_path / "rt.duckdb"
    assert rtlens("ingest", str(SAMPLE), "--db", str(db), "-q").returncode == 0
    holder = duckdb.connect(str(db))  # the other run, still writing
    try:
        script = (
            "import sys\n"
            "from pathlib import Path\n"
            "from rtlens.ingest import pipeline\n"
            "db = Path(sys.argv[2])\n"
            "real_exists = Path.exists\n"
            "Path.exists = lambda p: False if p == db else real_exists(p)  # saw no file\n"
            "try:\n"
            "    pipeline.ingest([sys.argv[1]], db, workers=0)\n"
            "except RuntimeError as exc:\n"
            "    print('failed:', exc)\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", script, str(SAMPLE), str(db)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert "failed:" in done.stdout and "lock" in done.stdout, done.stdout + done.stderr
    finally:
        holder.close()
    assert db.exists()
    assert duckdb.connect(str(db)).execute("SELECT count(*) FROM sessions").fetchone() == (1,)


def test_a_failed_run_through_a_dangling_link_removes_the_file_not_the_link(tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.mkdir()
    link = tmp_path / "link.duckdb"
    link.symlink_to(target / "real.duckdb")  # dangling: the database does not exist yet

    def fail(_path: Path) -> None:
        raise RuntimeError("stopped by the test after the first file")

    with pytest.raises(RuntimeError, match="stopped by the test"):
        ingest([SAMPLE], link, workers=0, on_file_done=fail)
    assert link.is_symlink()  # the user's link stays
    assert list(target.iterdir()) == []  # what the run made through it is gone


def test_removing_a_failed_runs_file_spares_a_new_one_made_at_the_same_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between the failed run's unlinks and its close, another run may make a new database
    at the path; closing must not checkpoint and delete that run's WAL by name."""
    db = tmp_path / "rt.duckdb"
    other = (
        "import duckdb, os, sys\n"
        "con = duckdb.connect(sys.argv[1])\n"
        "con.execute('PRAGMA disable_checkpoint_on_shutdown')\n"
        "con.execute('CREATE TABLE theirs AS SELECT 42 AS v')\n"
        "os._exit(0)  # committed, crashed before any checkpoint: the WAL holds it all\n"
    )
    real_unlink = Path.unlink

    def unlink_then_race(self: Path, missing_ok: bool = False) -> None:
        real_unlink(self, missing_ok=missing_ok)
        if self.name == db.name + ".wal":  # the failed run's last unlink
            subprocess.run([sys.executable, "-c", other, str(db)], check=True, timeout=60)

    def fail(_path: Path) -> None:
        raise RuntimeError("stopped by the test")

    monkeypatch.setattr(Path, "unlink", unlink_then_race)
    with pytest.raises(RuntimeError, match="stopped by the test"):
        ingest([SAMPLE], db, workers=0, on_file_done=fail)
    monkeypatch.undo()
    con = duckdb.connect(str(db))
    assert con.execute("SELECT v FROM theirs").fetchall() == [(42,)]

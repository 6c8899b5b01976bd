"""mitmproxy flow dumps (issue 17 item 1), read with mitmproxy's own reader.

A real capture: a scripted app talks through `rtlens record`, whose upstream is a real
`mitmdump -w` in reverse-proxy mode in front of the simulator, so the relay's recording and
mitmproxy's dump hold the same frames. Ingested, the dump gives the relay's events (in each
direction, in order: frames crossing in opposite directions may be seen in either order at
two points) and the same responses, apart from times.

Needs the `mitmproxy` extra, whose pins clash with the test extra's: `.ci/run` runs this file
in a venv of its own (`.venv-mitm`). Without mitmproxy the import's message is tested in
tests/test_imports.py."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import orjson
import pytest
from click.testing import CliRunner

pytest.importorskip("mitmproxy", reason="the mitmproxy extra runs in .venv-mitm (.ci/run)")

from relay_helpers import free_port

from rtlens import simulator
from rtlens.cli import main
from rtlens.recording import serve_relay
from rtlens.simulator.apps import run_app

KEY = "sk-proj-mitmtestabcdefghijklmnop0123"
MITMDUMP = Path(sys.executable).parent / "mitmdump"
EVENT_COLUMNS = "direction, type, canonical_type, known, event_id, response_id, item_id, raw"


async def _listening(port: int, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(600):  # mitmdump takes a few seconds to start on a loaded host
        if proc.poll() is not None:
            raise AssertionError(f"mitmdump exited {proc.returncode}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        writer.close()
        return
    raise AssertionError("mitmdump never listened")


async def _capture(out: Path, script: str, dialect: str, extra_http: bool) -> Path:
    """Record `script` through relay → mitmdump → simulator; the dump's path."""
    dump = out / "call.flows"
    port = free_port()
    cfg = simulator.SimulatorConfig(pace=0)
    async with simulator.serve("127.0.0.1", 0, cfg, log=None) as sim:
        proc = subprocess.Popen(
            [
                str(MITMDUMP if MITMDUMP.exists() else shutil.which("mitmdump")),
                "--mode",
                f"reverse:http://127.0.0.1:{sim.port}",
                "--listen-host",
                "127.0.0.1",
                "--listen-port",
                str(port),
                "--set",
                f"confdir={out / 'mitm-conf'}",
                "-q",
                "-w",
                str(dump),
            ],
            env=dict(os.environ, HOME=str(out)),
        )
        try:
            await _listening(port, proc)
            if extra_http:  # a plain HTTP flow before the WebSocket one
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                await reader.read()
                writer.close()
            async with serve_relay(
                "127.0.0.1",
                0,
                upstream=f"ws://127.0.0.1:{port}",
                out_dir=out / "relay",
                report=None,
            ) as relay:
                await run_app(
                    f"ws://127.0.0.1:{relay.port}/v1/realtime",
                    script=script,
                    dialect=dialect,
                    pace=0,
                    headers={"Authorization": f"Bearer {KEY}"},
                )
        finally:
            proc.send_signal(signal.SIGINT)  # mitmdump writes its last flows as it stops
            proc.wait(timeout=60)
    return dump


def _ingest(path: Path, db: Path) -> object:
    return CliRunner().invoke(main, ["ingest", str(path), "--db", str(db), "--workers", "0"])


def _events(db: Path, direction: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        got = con.execute(
            f"SELECT {EVENT_COLUMNS} FROM events WHERE direction = ? ORDER BY seq", [direction]
        ).fetchall()
    return [(*row[:-1], orjson.loads(row[-1])) for row in got]


def _responses(db: Path) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        cols = [
            c
            for (c,) in con.execute(
                "SELECT column_name FROM duckdb_columns() WHERE table_name = 'responses'"
            ).fetchall()
            if c != "session_id" and not c.endswith("_ms")
        ]
        return con.execute(
            f"SELECT {', '.join(cols)} FROM responses ORDER BY response_id"
        ).fetchall()


@pytest.mark.parametrize(
    ("script", "dialect", "extra_http"),
    [("function_calling", "ga", False), ("barge_in", "beta", True)],
)
def test_a_mitmproxy_dump_gives_the_relays_events(script, dialect, extra_http, tmp_path):
    dump = asyncio.run(_capture(tmp_path, script, dialect, extra_http))
    (recording,) = (tmp_path / "relay").glob("*.jsonl")
    relay_db, dump_db = tmp_path / "relay.duckdb", tmp_path / "dump.duckdb"
    assert _ingest(recording, relay_db).exit_code == 0
    result = _ingest(dump, dump_db)
    assert result.exit_code == 0, result.output
    for direction in ("client", "server"):
        expected = _events(relay_db, direction)
        assert expected and _events(dump_db, direction) == expected, direction
    assert _responses(dump_db) == _responses(relay_db)
    with duckdb.connect(str(dump_db), read_only=True) as con:
        source, upstream, dialect_seen = con.execute(
            "SELECT source, upstream, dialect FROM sessions"
        ).fetchone()
    assert (source, dialect_seen) == ("import", dialect)
    assert upstream.startswith("ws://127.0.0.1:") and "/v1/realtime" in upstream
    assert KEY.encode() not in dump_db.read_bytes()


def test_the_header_names_mitmproxy_and_redacts_the_key(tmp_path):
    from rtlens.logfile import imports

    dump = asyncio.run(_capture(tmp_path, "text", "ga", False))
    lines = imports.convert(imports.sniff(dump.read_bytes()[:64]), dump.read_bytes(), "d")
    header = orjson.loads(lines.splitlines()[0])
    assert (header["source"], header["imported_from"]) == ("import", "mitmproxy")
    headers = {k.lower(): v for k, v in header["request"]["headers"]}
    assert headers["authorization"] == "<redacted>"
    assert KEY.encode() not in lines


def test_dumps_without_websocket_messages_or_cut_short_are_one_line_exit_1(tmp_path):
    from mitmproxy import io as mitm_io
    from mitmproxy.test import tflow

    no_ws = tmp_path / "http-only.flows"
    with no_ws.open("wb") as f:
        mitm_io.FlowWriter(f).add(tflow.tflow(resp=True))
    dump = asyncio.run(_capture(tmp_path, "text", "ga", False))
    cut = tmp_path / "cut.flows"
    cut.write_bytes(dump.read_bytes()[: dump.stat().st_size // 2])
    for path, says in [
        (no_ws, "a mitmproxy flow dump with no WebSocket messages to import"),
        (cut, "a mitmproxy flow dump that cannot be read"),
    ]:
        result = _ingest(path, tmp_path / f"{path.stem}.duckdb")
        assert result.exit_code == 1, result.output
        [line] = [x for x in result.stderr.splitlines() if str(path) in x]
        assert says in line

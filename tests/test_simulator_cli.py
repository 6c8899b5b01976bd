"""`rtlens simulate` on the command line: help, bad input, a busy port."""

from __future__ import annotations

import socket

from click.testing import CliRunner

from rtlens.cli import main
from rtlens.simulator.scenarios import SCENARIOS


def test_help_has_a_summary_an_example_and_every_scenario():
    result = CliRunner().invoke(main, ["simulate", "--help"])
    assert result.exit_code == 0
    assert "Stand in for the OpenAI Realtime API" in result.output
    assert "rtlens simulate --listen 127.0.0.1:8766" in result.output
    for name, scenario in SCENARIOS.items():
        assert f"{name}" in result.output and scenario.summary in result.output
    assert "simulate" in CliRunner().invoke(main, ["--help"]).output


def test_busy_port_is_one_clear_line():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = CliRunner().invoke(main, ["simulate", "--listen", f"127.0.0.1:{port}"])
    assert result.exit_code == 1
    assert result.output == (
        f"Error: cannot listen on 127.0.0.1:{port}: address already in use; "
        "pick another port with --listen\n"
    )


def test_bad_listen_and_scenario_are_usage_errors():
    runner = CliRunner()
    bad_listen = runner.invoke(main, ["simulate", "--listen", "localhost"])
    assert bad_listen.exit_code == 2 and "expected HOST:PORT" in bad_listen.output
    bad_scenario = runner.invoke(main, ["simulate", "--scenario", "nope"])
    assert bad_scenario.exit_code == 2 and "rate-limit" in bad_scenario.output


def test_serves_logs_each_connection_and_stops_cleanly_on_ctrl_c():
    import asyncio
    import signal
    import subprocess
    import sys

    from rtlens.simulator.apps import run_app

    proc = subprocess.Popen(
        [sys.executable, "-m", "rtlens", "simulate", "--listen", "127.0.0.1:0", "--pace", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        banner = proc.stdout.readline()
        assert banner.startswith("rtlens simulate: listening on ws://127.0.0.1:")
        url = banner.split("listening on ", 1)[1].split("?", 1)[0]
        result = asyncio.run(asyncio.wait_for(run_app(url, script="text", pace=0), 120))
        assert result.close_code == 1000
        opened, closed = proc.stdout.readline(), proc.stdout.readline()
    finally:
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=60)
    assert "#1 open" in opened and "ga gpt-realtime" in opened
    assert "#1 closed 1000" in closed and "4 responses" in closed
    assert proc.returncode == 0 and "Traceback" not in err

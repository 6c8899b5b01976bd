"""`rtlens record --tls-cert/--tls-key`: the relay serves wss:// with a given certificate,
for clients that force wss: (the Node openai SDK). Real TLS on loopback, a self-signed
certificate made for the test, clients that trust it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import openai
import pytest
from relay_helpers import (
    FAKE_KEY,
    App,
    ScriptedUpstream,
    assert_no_secret,
    async_test,
    only_recording,
)
from tls_helpers import self_signed
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidHandshake

from rtlens.recording import RelayStartError, serve_relay
from rtlens.recording.run import run_relay
from rtlens.recording.tls import server_context

REALTIME = "/v1/realtime?model=gpt-realtime"


@async_test
async def test_relay_serves_wss_with_the_given_certificate(tmp_path: Path) -> None:
    tls = self_signed(tmp_path)
    out = tmp_path / "out"
    async with (
        ScriptedUpstream() as upstream,
        serve_relay(
            "127.0.0.1",
            0,
            upstream=upstream.url,
            out_dir=out,
            tls=server_context(tls.cert, tls.key),
        ) as relay,
    ):
        assert relay.url.startswith("wss://127.0.0.1:")
        app = await App.connect(relay.url + REALTIME, ssl=tls.client_context())
        await app.recv_until("session.created")
        await app.send({"type": "response.create"})
        await app.recv_until("response.done")
        await app.ws.close(1000, "bye")
        await upstream.sessions[0].closed

    recording = only_recording(out)
    assert recording.header["listen"].startswith("wss://")
    assert "response.done" in recording.types("server")
    assert recording.close == {"by": "client", "code": 1000, "reason": "bye"}


@async_test
async def test_openai_sdk_over_wss_through_the_relay(tmp_path: Path) -> None:
    tls = self_signed(tmp_path)
    async with (
        ScriptedUpstream() as upstream,
        serve_relay(
            "127.0.0.1",
            0,
            upstream=upstream.url,
            out_dir=tmp_path / "out",
            tls=server_context(tls.cert, tls.key),
        ) as relay,
    ):
        client = openai.AsyncOpenAI(api_key=FAKE_KEY, websocket_base_url=relay.url + "/v1")
        async with client.realtime.connect(
            model="gpt-realtime", websocket_connection_options={"ssl": tls.client_context()}
        ) as conn:
            await conn.response.create()
            async for event in conn:
                if event.type == "response.done":
                    break
        await upstream.sessions[0].closed
    recording = only_recording(tmp_path / "out")
    assert "response.done" in recording.types("server")
    assert recording.close is not None and recording.close["by"] == "client"
    assert_no_secret(recording.path)


@async_test
async def test_a_client_that_does_not_trust_the_certificate_is_refused(tmp_path: Path) -> None:
    tls = self_signed(tmp_path)
    async with (
        ScriptedUpstream() as upstream,
        serve_relay(
            "127.0.0.1",
            0,
            upstream=upstream.url,
            out_dir=tmp_path / "out",
            tls=server_context(tls.cert, tls.key),
        ) as relay,
    ):
        with pytest.raises((OSError, InvalidHandshake)):  # ssl.SSLCertVerificationError
            await connect(relay.url + REALTIME)  # the system's CAs: not ours
    assert list((tmp_path / "out").glob("*.jsonl")) == []


def test_bad_tls_files_stop_the_relay_with_one_sentence(tmp_path: Path) -> None:
    tls = self_signed(tmp_path)
    (tmp_path / "other").mkdir()
    other = self_signed(tmp_path / "other")  # a key that does not match `tls.cert`
    with pytest.raises(RelayStartError, match=r"no such file"):
        run_relay(tls_cert=tmp_path / "missing.pem", out_dir=tmp_path)
    with pytest.raises(RelayStartError, match=r"needs --tls-cert"):
        run_relay(tls_key=tls.key, out_dir=tmp_path)
    with pytest.raises(RelayStartError, match=r"cannot use TLS certificate .* with key"):
        run_relay(tls_cert=tls.cert, tls_key=other.key, out_dir=tmp_path)


def test_record_command_serves_wss(tmp_path: Path) -> None:
    tls = self_signed(tmp_path)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rtlens",
            "record",
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            "ws://127.0.0.1:9",
            "--out",
            str(tmp_path / "out"),
            "--tls-cert",
            str(tls.cert),
            "--tls-key",
            str(tls.key),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
    assert "relaying wss://127.0.0.1:" in first, first

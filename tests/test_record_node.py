"""The Node `openai` SDK through the relay, run for real with node (tests/node/).

The SDK forces `wss:` on any base URL. README documents the two ways round it, and both
are run here: the `onURL` hook of `OpenAIRealtimeWebSocket` (openai 6.x) turning the URL
back to `ws:`, and `rtlens record --tls-cert/--tls-key` for `OpenAIRealtimeWS` (and 7.x,
whose custom URLs must be `wss:`), with a self-signed certificate passed to node as
`NODE_EXTRA_CA_CERTS`. The SDK is installed by npm from tests/node/package.json on the
first run (`.ci/run` installs it beforehand); the tests skip only when node or npm is
missing.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from client_helpers import relay_to_simulator
from relay_helpers import FAKE_KEY, assert_no_secret, async_test, only_recording
from tls_helpers import self_signed

from rtlens.recording.tls import server_context

NODE_DIR = Path(__file__).parent / "node"
NODE, NPM = shutil.which("node"), shutil.which("npm")
pytestmark = pytest.mark.skipif(
    NODE is None or NPM is None, reason="node and npm are needed to run the Node openai SDK"
)


@pytest.fixture(scope="module")
def node_sdk() -> list[str]:
    """The node command line for the turn script, with the SDK installed beside it."""
    assert NODE is not None and NPM is not None
    if not (NODE_DIR / "node_modules" / "openai").is_dir():
        subprocess.run(
            [NPM, "install", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=NODE_DIR,
            check=True,
        )
    # OpenAIRealtimeWebSocket needs a global WebSocket: node 22 has one, 20 behind a flag.
    has_websocket = subprocess.run(
        [NODE, "-e", "process.exit(typeof WebSocket === 'function' ? 0 : 1)"], check=False
    )
    flags = [] if has_websocket.returncode == 0 else ["--experimental-websocket"]
    return [NODE, *flags, str(NODE_DIR / "realtime_turn.mjs")]


async def run_node(command: list[str], env: dict[str, str]) -> dict[str, object]:
    proc = await asyncio.create_subprocess_exec(
        *command,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "OPENAI_API_KEY": FAKE_KEY, **env},
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    return dict(json.loads(out.decode().strip().splitlines()[-1]))


@async_test
async def test_node_sdk_over_ws_with_the_onurl_hook(tmp_path: Path, node_sdk: list[str]) -> None:
    async with relay_to_simulator(tmp_path) as (relay, upstream):
        base = relay.url.replace("ws://", "http://") + "/v1"
        result = await run_node([*node_sdk, "websocket-onurl", base], {})
        upstream_close = await upstream.next_close()

    assert str(result["url"]).startswith("ws://127.0.0.1:")  # onURL undid the forced wss:
    # Not asserted: the code node's own WebSocket reports for its close. Node 20's (undici)
    # now and then says 1006 when websockets ends the TCP connection right after the
    # closing handshake; what rtlens answers for is below: the close it recorded and the
    # close the upstream got.
    assert "response.done" in result["seen"]  # type: ignore[operator]
    assert upstream_close == 1000
    recording = only_recording(tmp_path)
    # OpenAIRealtimeWebSocket authenticates the browser way: the key in a subprotocol.
    assert "openai-insecure-api-key.<redacted>" in recording.header["request"]["subprotocols"]
    assert "response.done" in recording.types("server")
    assert recording.close == {"by": "client", "code": 1000, "reason": "done"}
    assert_no_secret(recording.path)


@async_test
async def test_node_sdk_over_wss_with_tls_cert(tmp_path: Path, node_sdk: list[str]) -> None:
    tls = self_signed(tmp_path)
    out = tmp_path / "out"
    async with relay_to_simulator(out, tls=server_context(tls.cert, tls.key)) as (relay, upstream):
        base = relay.url.replace("wss://", "https://") + "/v1"
        result = await run_node([*node_sdk, "ws-tls", base], {"NODE_EXTRA_CA_CERTS": str(tls.cert)})
        upstream_close = await upstream.next_close()

    assert str(result["url"]).startswith("wss://127.0.0.1:")
    assert result["code"] == 1000 and upstream_close == 1000
    recording = only_recording(out)
    assert ["Authorization", "<redacted>"] in recording.header["request"]["headers"]
    assert "response.done" in recording.types("server")
    assert recording.close == {"by": "client", "code": 1000, "reason": "done"}
    assert_no_secret(recording.path)

"""The recording relay, end to end on loopback: app -> relay -> scripted upstream.

Every test runs real sockets; every file written is parsed line by line (relay_helpers).
"""

from __future__ import annotations

import asyncio
import base64
import socket
from pathlib import Path

import pytest
from relay_helpers import (
    AUDIO,
    FAKE_AZURE_KEY,
    FAKE_KEY,
    FAKE_PROTOCOL_KEY,
    FAKE_QUERY_KEY,
    App,
    ScriptedUpstream,
    assert_no_secret,
    async_test,
    only_recording,
    read_recording,
)
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.frames import Frame

from rtlens.recording import RelayStartError, serve_relay
from rtlens.recording.relay import AppConnection, RelayServer
from rtlens.recording.wire import EARLY_BYTES, TappedClientConnection

REALTIME = "/v1/realtime?model=gpt-realtime"


@async_test
async def test_every_frame_is_relayed_unchanged_and_recorded_in_order(tmp_path: Path) -> None:
    async with (
        ScriptedUpstream() as upstream,
        serve_relay("127.0.0.1", 0, upstream=upstream.url, out_dir=tmp_path) as relay,
    ):
        app = await App.connect(relay.url + REALTIME)
        await app.recv_until("session.created")
        await app.send({"type": "session.update", "session": {"instructions": "Ünïcode ✓ 🎧"}})
        await app.recv_until("session.updated")
        await app.send({"type": "input_audio_buffer.append", "audio": AUDIO})
        await app.send(b'{ "type" : "input_audio_buffer.commit",  "event_id": "evt_7" }')
        await app.send(b"not json at all")
        await app.recv_frame((True, b"echo: not json at all"))
        await app.send(b"\x00\x01binary\xff", text=False)
        await app.recv_frame((False, b"echo:\x00\x01binary\xff"))
        await app.send({"type": "response.create"})
        await app.recv_until("rate_limits.updated")
        await app.ws.close(1000, "done")
        session = upstream.sessions[0]
        assert await session.closed == (1000, "done")

    # Each peer received exactly the bytes the other sent, as the same kind of frame.
    assert session.received == app.sent
    assert app.received == session.sent
    # The file holds the same frames, byte for byte, in the same order.
    recording = only_recording(tmp_path)
    assert recording.frames_from("client") == app.sent
    assert recording.frames_from("server") == session.sent
    assert recording.header["source"] == "relay"
    assert recording.header["upstream"] == upstream.url + REALTIME
    assert recording.close == {"by": "client", "code": 1000, "reason": "done"}
    kinds = [next(k for k in ("event", "text", "binary") if k in f) for f in recording.frames]
    assert kinds.count("text") == 2 and kinds.count("binary") == 2


@async_test
async def test_credentials_reach_the_upstream_but_never_the_file(tmp_path: Path) -> None:
    path = (
        "/openai/realtime?api-version=2025-04-01-preview&deployment=gpt-realtime"
        f"&api-key={FAKE_QUERY_KEY}"
    )
    headers = {
        "Authorization": f"Bearer {FAKE_KEY}",
        "api-key": FAKE_AZURE_KEY,
        "OpenAI-Beta": "realtime=v1",
    }
    # The app's own User-Agent, set the way every websockets version takes it (14.x adds its
    # default beside one passed in additional_headers: the app itself would send two).
    user_agent = "my-voice-app/1.0"
    subprotocols = ["realtime", f"openai-insecure-api-key.{FAKE_PROTOCOL_KEY}", "openai-beta.v1"]
    lines: list[str] = []
    async with (
        ScriptedUpstream() as upstream,
        serve_relay(
            "127.0.0.1", 0, upstream=upstream.url, out_dir=tmp_path, report=lines.append
        ) as relay,
    ):
        app = await App.connect(
            relay.url + path,
            additional_headers=headers,
            subprotocols=subprotocols,  # type: ignore[arg-type]
            compression=None,
            user_agent_header=user_agent,
        )
        session = await upstream.next_session()
        await app.send({"type": "session.update", "session": {"note": f"my key is {FAKE_KEY}"}})
        await app.recv_until("session.updated")
        await app.ws.close()
        await session.closed

    # Everything passed through untouched...
    assert session.path == path
    for name, value in headers.items():
        assert session.headers.get_all(name) == [value]
    assert session.headers.get_all("User-Agent") == [user_agent]
    offered = [p.strip() for p in session.headers["Sec-WebSocket-Protocol"].split(",")]
    assert offered == subprotocols
    assert session.subprotocol == "realtime" and app.ws.subprotocol == "realtime"
    assert "permessage-deflate" not in session.headers.get("Sec-WebSocket-Extensions", "")
    assert session.received == app.sent  # the key inside the frame went upstream as sent
    # ...and nothing secret reached the file (nor the terminal).
    recording = only_recording(tmp_path)
    assert_no_secret(recording.path)
    assert not any(secret in line for line in lines for secret in (FAKE_KEY, FAKE_QUERY_KEY))
    request = recording.header["request"]
    assert ["Authorization", "<redacted>"] in request["headers"]
    assert ["api-key", "<redacted>"] in request["headers"]
    assert ["OpenAI-Beta", "realtime=v1"] in request["headers"]
    assert "openai-insecure-api-key.<redacted>" in request["subprotocols"]
    assert "api-version=2025-04-01-preview" in recording.header["upstream"]
    assert recording.header["response"]["subprotocol"] == "realtime"


@pytest.mark.parametrize(
    ("command", "app_sees", "recorded"),
    [
        (
            {"type": "test.close", "code": 4000, "reason": "invalid_request_error.invalid_model"},
            (4000, "invalid_request_error.invalid_model"),
            {"by": "server", "code": 4000, "reason": "invalid_request_error.invalid_model"},
        ),
        (
            {"type": "test.close", "code": 3000, "reason": "invalid_api_key"},
            (3000, "invalid_api_key"),
            {"by": "server", "code": 3000, "reason": "invalid_api_key"},
        ),
        (  # a close frame without a code is passed on as one: the app sees 1005 too
            {"type": "test.close_empty"},
            (1005, ""),
            {"by": "server", "code": 1005, "reason": ""},
        ),
        (  # no close frame at all: 1006 cannot be sent, the app gets 1011 with a reason
            {"type": "test.drop"},
            (1011, "rtlens relay: upstream connection lost without a close (1006)"),
            {"by": "server", "code": 1006, "reason": ""},
        ),
    ],
    ids=["4000", "3000", "no-status", "dropped"],
)
@async_test
async def test_upstream_closes_reach_the_app_and_the_file(
    tmp_path: Path, command: dict, app_sees: tuple[int, str], recorded: dict
) -> None:
    async with (
        ScriptedUpstream() as upstream,
        serve_relay("127.0.0.1", 0, upstream=upstream.url, out_dir=tmp_path) as relay,
    ):
        app = await App.connect(relay.url + REALTIME)
        await app.recv_until("session.created")
        await app.send(command)
        assert await app.closed() == app_sees
        session = upstream.sessions[0]

    recording = only_recording(tmp_path)
    assert recording.close == recorded
    assert recording.frames_from("server") == session.sent  # all that was sent before it
    assert app.received == session.sent


@pytest.mark.parametrize(
    ("how", "upstream_sees", "recorded"),
    [
        ("1000", (1000, "bye"), {"by": "client", "code": 1000, "reason": "bye"}),
        ("4321", (4321, "app-specific"), {"by": "client", "code": 4321, "reason": "app-specific"}),
        ("no-status", (1005, ""), {"by": "client", "code": 1005, "reason": ""}),
        (
            "dropped",
            (1001, "rtlens relay: client connection lost without a close (1006)"),
            {"by": "client", "code": 1006, "reason": ""},
        ),
    ],
)
@async_test
async def test_app_closes_reach_the_upstream_and_the_file(
    tmp_path: Path, how: str, upstream_sees: tuple[int, str], recorded: dict
) -> None:
    async with (
        ScriptedUpstream() as upstream,
        serve_relay("127.0.0.1", 0, upstream=upstream.url, out_dir=tmp_path) as relay,
    ):
        app = await App.connect(relay.url + REALTIME)
        await app.recv_until("session.created")
        session = upstream.sessions[0]
        if how == "dropped":
            app.ws.transport.abort()
        elif how == "no-status":
            await app.ws.close(code=None)  # type: ignore[arg-type]
        else:
            await app.ws.close(int(how), upstream_sees[1])
        assert await session.closed == upstream_sees

    assert only_recording(tmp_path).close == recorded


@async_test
async def test_upstream_refusal_is_a_close_with_the_reason(tmp_path: Path) -> None:
    lines: list[str] = []
    async with (
        ScriptedUpstream(refuse=401) as upstream,
        serve_relay(
            "127.0.0.1", 0, upstream=upstream.url, out_dir=tmp_path, report=lines.append
        ) as relay,
    ):
        app = await App.connect(
            relay.url + REALTIME, additional_headers={"Authorization": f"Bearer {FAKE_KEY}"}
        )
        reason = "rtlens relay: upstream refused the connection: HTTP 401"
        assert await app.closed() == (1014, reason)

    assert upstream.requests[0].headers["Authorization"] == f"Bearer {FAKE_KEY}"
    recording = only_recording(tmp_path)
    assert recording.frames == []
    assert recording.close == {"by": "relay", "code": 1014, "reason": reason}
    assert_no_secret(recording.path)
    problem = next(line for line in lines if "ERROR" in line)
    assert "HTTP 401" in problem and "Incorrect API key provided" in problem


@async_test
async def test_unreachable_upstream_is_a_close_with_the_reason(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        dead = f"ws://127.0.0.1:{sock.getsockname()[1]}"
    lines: list[str] = []
    async with serve_relay(
        "127.0.0.1", 0, upstream=dead, out_dir=tmp_path, report=lines.append
    ) as relay:
        app = await App.connect(relay.url + REALTIME)
        code, reason = await app.closed()

    assert (code, reason) == (1011, "rtlens relay: upstream unreachable: connection refused")
    assert only_recording(tmp_path).close == {"by": "relay", "code": 1011, "reason": reason}
    assert any("ERROR" in line and dead in line and "refused" in line for line in lines)


@async_test
async def test_app_sees_the_same_frames_with_and_without_the_relay(tmp_path: Path) -> None:
    async def conversation(url: str) -> tuple[list, tuple]:
        app = await App.connect(url + REALTIME)
        await app.recv_until("session.created")
        await app.send({"type": "session.update", "session": {"instructions": "hi"}})
        await app.send({"type": "response.create"})
        await app.recv_until("rate_limits.updated")
        await app.send(b"plain text")
        await app.send(b"\xde\xad\xbe\xef", text=False)
        await app.recv_frame((False, b"echo:\xde\xad\xbe\xef"))
        await app.send({"type": "test.close", "code": 4000, "reason": "bye from upstream"})
        close = await app.closed()
        return app.received, close

    async with ScriptedUpstream() as upstream:
        direct = await conversation(upstream.url)
        async with serve_relay("127.0.0.1", 0, upstream=upstream.url, out_dir=tmp_path) as relay:
            relayed = await conversation(relay.url)

    assert relayed == direct
    assert direct[1] == (4000, "bye from upstream")


@async_test
async def test_many_sessions_at_once_each_get_their_own_file(tmp_path: Path) -> None:
    n = 24

    async def one(url: str, i: int) -> App:
        app = await App.connect(url + REALTIME + f"&n={i}")
        await app.recv_until("session.created")
        await app.send({"type": "session.update", "session": {"instructions": f"session {i}"}})
        await app.send({"type": "input_audio_buffer.append", "audio": AUDIO})
        await app.send({"type": "response.create"})
        await app.recv_until("rate_limits.updated")
        await app.ws.close(1000, f"bye {i}")
        return app

    async with (
        ScriptedUpstream() as upstream,
        serve_relay("127.0.0.1", 0, upstream=upstream.url, out_dir=tmp_path) as relay,
    ):
        apps = await asyncio.gather(*(one(relay.url, i) for i in range(n)))
        await asyncio.gather(*(s.closed for s in upstream.sessions))

    files = sorted(tmp_path.glob("*.jsonl"))
    assert len(files) == n
    by_session = {s.path: s for s in upstream.sessions}
    for path in files:
        recording = read_recording(path)
        i = int(recording.header["request"]["path"].rsplit("=", 1)[1])
        assert recording.frames_from("client") == apps[i].sent
        assert recording.frames_from("server") == by_session[REALTIME + f"&n={i}"].sent
        assert recording.close == {"by": "client", "code": 1000, "reason": f"bye {i}"}


@async_test
async def test_redact_audio_keeps_byte_counts_not_audio(tmp_path: Path) -> None:
    async with (
        ScriptedUpstream() as upstream,
        serve_relay(
            "127.0.0.1", 0, upstream=upstream.url, out_dir=tmp_path, redact_audio=True
        ) as relay,
    ):
        app = await App.connect(relay.url + REALTIME)
        await app.send({"type": "input_audio_buffer.append", "audio": AUDIO})
        await app.send({"type": "response.create"})
        await app.recv_until("rate_limits.updated")
        await app.ws.close()
        session = upstream.sessions[0]
        await session.closed

    assert session.received == app.sent  # the upstream still got the audio
    recording = only_recording(tmp_path)
    assert AUDIO[:64].encode() not in recording.path.read_bytes()
    audio_lines = [f for f in recording.frames if "audio_bytes" in f]
    assert [f["audio_bytes"] for f in audio_lines] == [10240, 10240, 3072]
    assert recording.header["redaction"] == {"secrets": True, "audio": True}


@async_test
async def test_a_frame_nested_too_deep_to_re_encode_is_recorded_and_relayed(
    tmp_path: Path,
) -> None:
    """orjson reads 1,024 levels but writes 254: re-encoding such a frame (to cut its audio,
    or to put it on one line) once raised, and the session ended with 1011, the frame
    neither recorded nor forwarded."""
    deep = b"[" * 600 + b"]" * 600
    spread = b'{"type": "conversation.item.create",\n "item": %b}' % deep  # two lines
    with_audio = b'{"type":"input_audio_buffer.append","audio":"%b","x":%b}' % (
        AUDIO.encode(),
        deep,
    )
    async with (
        ScriptedUpstream() as upstream,
        serve_relay(
            "127.0.0.1", 0, upstream=upstream.url, out_dir=tmp_path, redact_audio=True
        ) as relay,
    ):
        app = await App.connect(relay.url + REALTIME)
        await app.recv_until("session.created")
        await app.ws.send(spread.decode())
        await app.ws.send(with_audio.decode())
        await app.send({"type": "response.create"})
        await app.recv_until("rate_limits.updated")  # the session goes on
        await app.ws.close()
        session = upstream.sessions[0]
        await session.closed

    assert session.received[:2] == [(True, spread), (True, with_audio)]  # forwarded as sent
    recording = only_recording(tmp_path)
    assert recording.close is not None and recording.close["by"] == "client"
    first, second = [f for f in recording.frames if f["dir"] == "client"][:2]
    assert first["text"] == spread.decode()  # not one line as it came: kept as text
    assert second["event"]["audio"] == ""  # the audio redacted all the same
    assert AUDIO[:64].encode() not in recording.path.read_bytes()


@async_test
async def test_a_15_mib_frame_passes_both_ways(tmp_path: Path) -> None:
    big = base64.b64encode(b"\x01" * (11 * 1024 * 1024)).decode()  # ~15 MiB of base64
    async with (
        ScriptedUpstream() as upstream,
        serve_relay("127.0.0.1", 0, upstream=upstream.url, out_dir=tmp_path) as relay,
    ):
        app = await App.connect(relay.url + REALTIME, compression=None)
        await app.send({"type": "input_audio_buffer.append", "audio": big})
        await app.send(b"ping")
        await app.recv_frame((True, b"echo: ping"))
        await app.ws.close()
        session = upstream.sessions[0]
        await session.closed

    assert session.received == app.sent
    assert only_recording(tmp_path).frames_from("client") == app.sent


@async_test
async def test_unwritable_output_folder_fails_at_start(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(RelayStartError, match=r"cannot write recordings to .*a-file/out"):
        async with serve_relay("127.0.0.1", 0, out_dir=blocker / "out"):
            pass


@async_test
async def test_port_in_use_fails_at_start(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(RelayStartError, match="already in use"):
            async with serve_relay("127.0.0.1", port, out_dir=tmp_path):
                pass


@async_test
async def test_closing_the_relay_closes_every_session_with_a_close_line(tmp_path: Path) -> None:
    async with ScriptedUpstream() as upstream:
        async with serve_relay("127.0.0.1", 0, upstream=upstream.url, out_dir=tmp_path) as relay:
            apps = [await App.connect(relay.url + REALTIME) for _ in range(3)]
            for app in apps:
                await app.recv_until("session.created")
        for app in apps:
            assert await app.closed() == (1001, "rtlens relay: shutting down")
        for session in upstream.sessions:
            assert await session.closed == (1001, "rtlens relay: shutting down")

    files = sorted(tmp_path.glob("*.jsonl"))
    assert len(files) == 3
    for path in files:
        close = read_recording(path).close
        assert close == {"by": "relay", "code": 1001, "reason": "rtlens relay: shutting down"}


@async_test
async def test_an_app_leaving_mid_handshake_does_not_leak_its_upstream(tmp_path: Path) -> None:
    upstream = ScriptedUpstream()
    upstream.gate = asyncio.Event()
    async with (
        upstream,
        serve_relay("127.0.0.1", 0, upstream=upstream.url, out_dir=tmp_path) as relay,
    ):
        _reader, writer = await asyncio.open_connection("127.0.0.1", relay.port)
        writer.write(
            b"GET /v1/realtime HTTP/1.1\r\nHost: relay\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            b"Sec-WebSocket-Version: 13\r\n\r\n"
        )
        await upstream.request_seen.wait()  # the relay is opening the upstream for it...
        writer.close()  # ...when the app goes away
        await writer.wait_closed()
        upstream.gate.set()
        session = await upstream.next_session()
        code, _ = await session.closed
        assert code == 1001  # "client left", or "client connection lost" if it won the race


@async_test
async def test_a_session_that_cannot_be_recorded_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "out"
    lines: list[str] = []
    async with (
        ScriptedUpstream() as upstream,
        serve_relay(
            "127.0.0.1", 0, upstream=upstream.url, out_dir=out, report=lines.append
        ) as relay,
    ):
        out.rmdir()  # the folder disappears while the relay runs
        app = await App.connect(relay.url + REALTIME)
        reason = "rtlens relay: cannot write the recording (No such file or directory)"
        assert await app.closed() == (1011, reason)
        assert await upstream.sessions[0].closed == (1011, reason)
    assert any("ERROR" in line and "refused the session" in line for line in lines)


@async_test
async def test_a_fragmented_message_is_recorded_and_relayed_whole(tmp_path: Path) -> None:
    async with (
        ScriptedUpstream() as upstream,
        serve_relay("127.0.0.1", 0, upstream=upstream.url, out_dir=tmp_path) as relay,
    ):
        app = await App.connect(relay.url + REALTIME)
        await app.recv_until("session.created")
        await app.ws.send(['{"type": "input_audio_buffer.append", ', f'"audio": "{AUDIO}"}}'])
        await app.ws.send([b"frag", b"mented"])  # binary fragments
        await app.recv_frame((False, b"echo:fragmented"))
        await app.ws.close()
        session = upstream.sessions[0]
        await session.closed

    whole = f'{{"type": "input_audio_buffer.append", "audio": "{AUDIO}"}}'.encode()
    assert session.received == [(True, whole), (False, b"fragmented")]
    assert only_recording(tmp_path).frames_from("client") == session.received


@async_test
async def test_a_slow_app_makes_the_relay_stop_reading_the_upstream(tmp_path: Path) -> None:
    """Backpressure: while the app reads nothing, the relay must not keep buffering."""
    frame = b'{"type":"response.output_audio.delta","delta":"' + b"A" * (1 << 20) + b'"}'
    total = 120  # 120 MiB; the socket buffers on the way hold ~20 of them
    sent = 0
    flooding: list[ServerConnection] = []
    flood_ended = asyncio.Event()

    async def flood(ws: ServerConnection) -> None:
        nonlocal sent
        flooding.append(ws)
        for _ in range(total):
            await ws.send(frame, text=True)
            sent += 1
        flood_ended.set()
        await ws.close()

    def stalled(relay: RelayServer) -> bool:
        """The idle app's steady state: the relay reads nothing from the upstream, and the
        upstream's own sends wait on a full socket, so no more frames can move."""
        apps = [c for c in relay._server.connections if isinstance(c, AppConnection)]
        return (
            bool(apps and flooding)
            and all(a.upstream is not None and not a.upstream.transport.is_reading() for a in apps)
            and flooding[0].paused
        )

    async with (
        serve(flood, "127.0.0.1", 0, max_size=None) as server,
        serve_relay(
            "127.0.0.1",
            0,
            upstream=f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}",
            out_dir=tmp_path,
        ) as relay,
    ):
        app = await connect(relay.url + REALTIME, max_size=None, compression=None)
        # Wait for that state, or for the flood to end (all 120 MiB taken in by the relay
        # while the app read nothing: no backpressure). Polled; pytest-timeout is the bound.
        while not stalled(relay) and not flood_ended.is_set():
            await asyncio.sleep(0.01)
        assert not flood_ended.is_set(), "the relay took in every frame while the app was idle"
        # What the relay itself holds: bytes written to the app's transport that its socket
        # has not taken (the relay reads no frame it cannot write). The frames "sent" beyond
        # that sit in kernel socket buffers, which autotune up to tcp_rmem's maximum (32 MiB
        # per socket here), and in the app's websockets queue: not the relay's memory.
        held = [
            c.transport.get_write_buffer_size()
            for c in relay._server.connections
            if isinstance(c, AppConnection)
        ]
        sent_while_app_idle = sent
        received = [await app.recv(decode=False) for _ in range(total)]
        await app.wait_closed()

    # At most the frame being written when the app's socket filled, plus the transport's
    # high-water mark (64 KiB) it was under before that write: below 2 frames of 1 MiB.
    assert held and all(h < 2 * len(frame) for h in held), (held, sent_while_app_idle)
    assert received == [frame] * total
    assert len(only_recording(tmp_path).frames_from("server")) == total


@async_test
async def test_frames_the_upstream_sends_before_the_relay_forwards_are_bounded() -> None:
    """Frames that come before the session forwards (during the app's handshake) were kept
    without limit; past EARLY_BYTES the socket is not read until `forward_to`, which then
    replays every frame, in order."""
    total, size = 40, 256 * 1024  # 10 MiB in all: ten times EARLY_BYTES

    async def flood(ws: ServerConnection) -> None:
        for n in range(total):
            await ws.send(b"%03d" % n + b"A" * size)
        await ws.wait_closed()

    async with serve(flood, "127.0.0.1", 0, max_size=None, compression=None) as server:
        port = server.sockets[0].getsockname()[1]
        conn = await connect(
            f"ws://127.0.0.1:{port}",
            create_connection=TappedClientConnection,
            max_size=None,
            compression=None,
        )
        assert isinstance(conn, TappedClientConnection)
        while conn.transport.is_reading():  # until the early frames stop the reading
            await asyncio.sleep(0.01)
        held = sum(len(frame.data) for frame in conn._early_frames)
        # At most EARLY_BYTES, the frame that crossed it and one more frame from the same
        # read (a read is at most 256 KiB): each frame is 3 + size bytes.
        assert EARLY_BYTES < held <= EARLY_BYTES + 2 * (3 + size)
        got: list[bytes] = []
        every = asyncio.Event()

        def sink(frame: Frame) -> None:
            got.append(bytes(frame.data[:3]))
            if len(got) == total:
                every.set()

        conn.forward_to(sink, lambda: None)
        await every.wait()
        await conn.close()
    assert got == [b"%03d" % n for n in range(total)]

"""Live, per turn: `rtlens record --metrics --otlp` publishes a session's settled turns while
the call is still open, and everything at its close, from the recording as it is written.

Sessions go through a real relay on loopback to the simulator; /metrics is scraped over HTTP
and parsed with prometheus_client's parser; spans arrive at a real OTLP/HTTP receiver that
decodes the protobuf. Expected values come from `rtlens ingest` (DuckDB) and `rtlens export
otel` of the finished recordings: an independent route through the database."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest
from client_helpers import relay_to_simulator
from relay_helpers import async_test
from test_export_otel import Receiver, Span
from test_live_metrics import KIND_OF_CATEGORY, approx, by, rows, scrape

from rtlens.live.feed import LiveFeed
from rtlens.live.metrics import RelayMetrics
from rtlens.live.server import serve_metrics
from rtlens.live.traces import SpanSender

simulator = pytest.importorskip("rtlens.simulator")
pytest.importorskip("opentelemetry.exporter.otlp.proto.http")
from websockets.asyncio.client import connect  # noqa: E402

from rtlens.simulator.apps import run_app  # noqa: E402
from rtlens.simulator.apps.client import App, AppClosedError, AppResult  # noqa: E402
from rtlens.simulator.apps.scripts import _drain, _response, _setup, _utterance  # noqa: E402

LATER = [("barge_in", "ga"), ("function_calling", "beta")]  # after the paused call


@dataclass
class Run:
    mid: dict[str, Any]  # the scrape while the first call was open, two turns settled
    mid_spans: list[Span]
    final: dict[str, Any]
    spans: list[Span]
    con: Any
    first_file: Path
    exported: list[Span]
    lines: list[str]
    revised: int


async def paused_call(url: str, pause: Any) -> None:
    """Three voiced turns; once the third's reply is done, `pause()` runs with the call
    still open (turns 1 and 2 are settled then: a later turn has begun, their replies and
    transcriptions are done); then the call ends."""
    async with connect(
        url + "?model=gpt-realtime",
        additional_headers={"Authorization": "Bearer sk-rtlens-sim"},
        max_size=None,
    ) as ws:
        app = App(ws, AppResult("paused", "ga"), seed=3, pace=0)
        reader = asyncio.create_task(app.reader())
        with contextlib.suppress(AppClosedError):
            await _setup(app)
            for _ in range(3):
                mark = await _utterance(app)
                await _response(app, mark)
                await app.finish_playback()
            ends = (
                "conversation.item.input_audio_transcription.completed",
                "conversation.item.input_audio_transcription.failed",
            )
            await app.wait_for(lambda e: sum(len(app.result.of(k)) for k in ends) >= 3)
            await pause()
            await _drain(app)
        await ws.close()
        await reader


def decoded(receiver: Receiver) -> list[Span]:
    return [s for request in receiver.requests for s in request]


def export_spans(folder: Path) -> list[Span]:
    """What `rtlens export otel FOLDER` sends, as a fresh receiver decodes it."""
    again = Receiver()
    try:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "rtlens",
                "export",
                "otel",
                str(folder),
                "--endpoint",
                again.url,
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        return decoded(again)
    finally:
        again.close()


def span_set(spans: list[Span]) -> set[tuple[Any, ...]]:
    return {
        (s.trace_id, s.span_id, s.parent, s.name, s.start, s.end, tuple(sorted(s.attrs.items())),
         s.status, tuple(s.events))
        for s in spans
    }  # fmt: skip


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    tmp = tmp_path_factory.mktemp("liveturns")
    out_dir = tmp / "rec"
    metrics = RelayMetrics()
    receiver = Receiver()
    lines: list[str] = []
    sender = SpanSender(receiver.url, "http/protobuf", {}, lines.append)
    feed = LiveFeed([metrics, sender])
    opened: list[Path] = []

    def on_recorded(path: Path, closed: bool) -> None:
        if not closed:
            opened.append(path)
        feed.submit(path, closed)

    server, port = serve_metrics("127.0.0.1", 0, metrics.registry)
    seen: dict[str, Any] = {}

    @async_test
    async def drive() -> None:
        async with relay_to_simulator(out_dir, on_recorded=on_recorded) as (relay, _):

            async def pause() -> None:
                two = await asyncio.to_thread(feed.wait_until, lambda f: f.turns_published >= 2, 60)
                assert two and await asyncio.to_thread(sender.wait_sent, 60)
                seen["mid"] = await asyncio.to_thread(scrape, port)
                seen["mid_spans"] = decoded(receiver)
                assert feed.observed == 0  # the call is still open

            await paused_call(relay.url + "/v1/realtime", pause)
            assert await asyncio.to_thread(feed.wait_for, 1, 60)
            for n, (script, dialect) in enumerate(LATER, 2):
                await run_app(relay.url + "/v1/realtime", script=script, dialect=dialect, pace=0)
                assert await asyncio.to_thread(feed.wait_for, n, 60)

    try:
        drive()
        assert sender.wait_sent(60)
        final = scrape(port)
        feed.close()
        db = tmp / "rt.duckdb"
        subprocess.run(
            [sys.executable, "-m", "rtlens", "ingest", str(out_dir), "--db", str(db), "-q"],
            check=True,
        )
        exported = export_spans(out_dir)
        yield Run(
            seen["mid"],
            seen["mid_spans"],
            final,
            decoded(receiver),
            duckdb.connect(str(db), read_only=True),
            opened[0].resolve(),
            exported,
            lines,
            feed.revised,
        )
    finally:
        receiver.close()
        server.shutdown()
        server.server_close()


def first_session(run: Run) -> str:
    return run.con.execute(
        "SELECT session_id FROM sessions WHERE source_file = ?", [str(run.first_file)]
    ).fetchone()[0]


def test_mid_call_scrape_shows_the_settled_turns(run: Run) -> None:
    sid = first_session(run)
    con = run.con
    where = f"session_id = '{sid}' AND turn <= 2"
    # hand: the call had three turns; the first two are settled, the third has no later turn
    assert con.execute(f"SELECT count(*) FROM turns WHERE session_id = '{sid}'").fetchone() == (3,)
    assert sum(v for _, v in run.mid["rtlens_turns_total"]) == 2
    assert "rtlens_sessions_total" not in run.mid or not by(run.mid["rtlens_sessions_total"])
    for metric, column in (("rtlens_v2v_seconds", "v2v_ms"), ("rtlens_ttfa_seconds", "ttfa_ms")):
        n_sum = con.execute(
            f"SELECT count({column}), sum({column}) / 1000 FROM turn_latency WHERE {where}"
        ).fetchone()
        assert n_sum[0] == 2
        assert sum(v for _, v in run.mid[f"{metric}_count"]) == n_sum[0]
        assert sum(v for _, v in run.mid[f"{metric}_sum"]) == pytest.approx(n_sum[1], rel=1e-9)
    assert by(run.mid["rtlens_responses_total"], "status") == rows(
        con, f"SELECT status, count(*) FROM responses WHERE {where} GROUP BY ALL"
    )
    tokens = con.execute(
        f"SELECT sum(input_audio_tokens), sum(output_audio_tokens) FROM responses WHERE {where}"
    ).fetchone()
    got = by(run.mid["rtlens_tokens_total"], "kind")
    assert (got[("input_audio",)], got[("output_audio",)]) == tokens


def test_after_close_everything_equals_ingest(run: Run) -> None:
    m, con = run.final, run.con
    assert sum(v for _, v in m["rtlens_sessions_total"]) == 3
    assert by(m["rtlens_turns_total"], "model", "dialect") == rows(
        con,
        "SELECT coalesce(s.model, 'unknown'), coalesce(s.dialect, 'unknown'), count(*) "
        "FROM turns JOIN sessions s USING (session_id) GROUP BY ALL",
    )
    assert by(m["rtlens_responses_total"], "status") == rows(
        con, "SELECT status, count(*) FROM responses GROUP BY ALL"
    )
    n_barge, unheard = con.execute(
        "SELECT count(*), sum(coalesce(audio_unheard_ms, 0)) / 1000 FROM interruptions"
    ).fetchone()
    assert n_barge > 0
    assert sum(v for _, v in m["rtlens_barge_ins_total"]) == n_barge
    assert sum(v for _, v in m["rtlens_unheard_audio_seconds_total"]) == pytest.approx(unheard)
    cost = con.execute("SELECT sum(cost_usd) FROM sessions").fetchone()[0]
    assert sum(v for _, v in m["rtlens_cost_usd_total"]) == pytest.approx(cost, rel=1e-9)
    expected_n: dict[tuple[str, ...], float] = defaultdict(float)
    expected_sum: dict[tuple[str, ...], float] = defaultdict(float)
    for category, n, total in con.execute(
        "SELECT category, count(v2v_ms), sum(v2v_ms) / 1000 FROM turn_latency "
        "WHERE category <> 'text' AND v2v_ms IS NOT NULL GROUP BY ALL"
    ).fetchall():
        expected_n[(KIND_OF_CATEGORY[category],)] += n
        expected_sum[(KIND_OF_CATEGORY[category],)] += total
    assert by(m["rtlens_v2v_seconds_count"], "kind") == dict(expected_n)
    assert by(m["rtlens_v2v_seconds_sum"], "kind") == approx(dict(expected_sum))
    assert run.revised == 0  # no published row was changed by a later event


def test_live_spans_equal_the_export_of_the_recordings(run: Run) -> None:
    assert run.lines == []  # the receiver answered every export: nothing to report
    assert len(run.spans) == len(span_set(run.spans))  # no span sent twice
    assert span_set(run.spans) == span_set(run.exported)
    # mid-call: the settled turns' spans (turns 1 and 2, their responses and transcriptions)
    # and not the session's root, which goes at the close
    mid = run.mid_spans
    assert sorted(s.name for s in mid if s.name.startswith("turn")) == ["turn 1", "turn 2"]
    assert sum(s.name == "response" for s in mid) == 2
    assert sum(s.name == "transcription" for s in mid) == 2
    assert not any(s.name == "realtime session" for s in mid)
    assert {s.attrs["rtlens.turn"] for s in mid} == {1, 2}
    assert span_set(mid) <= span_set(run.exported)


# ---- `rtlens record --otlp` as a user runs it ---------------------------------------------


@pytest.fixture(params=[1, 2], ids=["workers=1", "workers=2"])
def workers(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    """With `--workers 2` the supervisor follows the workers' files (one sender for all)."""
    import test_record_cli

    monkeypatch.setattr(test_record_cli, "WORKERS", request.param)
    return int(request.param)


@async_test
async def test_record_otlp_sends_what_export_sends(tmp_path: Path, workers: int) -> None:
    from test_record_cli import running_cli, stop_cli

    receiver = Receiver()
    try:
        cfg = simulator.SimulatorConfig(pace=0)
        async with (
            simulator.serve("127.0.0.1", 0, cfg) as sim,
            running_cli(
                "--upstream",
                f"ws://127.0.0.1:{sim.port}",
                "--out",
                str(tmp_path),
                "--otlp",
                receiver.url,
                "--otlp-header",
                "x-team=abc",
            ) as (proc, url),
        ):

            async def pause() -> None:
                # the call is open: its settled turns' spans come from the process following
                # the relay's files (the supervisor, with two workers)
                def two_turns(spans: list[Span]) -> bool:
                    return sum(s.name.startswith("turn ") for s in spans) >= 2

                assert await asyncio.to_thread(receiver.wait_until, two_turns, 60)
                mid.extend(decoded(receiver))

            mid: list[Span] = []
            await paused_call(url + "/v1/realtime", pause)
            await run_app(url + "/v1/realtime", script="barge_in", dialect="beta", pace=0)
            code, out, err = await stop_cli(proc)
        live = decoded(receiver)
        assert receiver.headers and all(h["x-team"] == "abc" for h in receiver.headers)
    finally:
        receiver.close()
    assert code == 0, err
    exported = export_spans(tmp_path)
    assert span_set(live) == span_set(exported) and len(live) == len(exported)
    assert sorted(s.name for s in mid if s.name.startswith("turn ")) == ["turn 1", "turn 2"]
    assert not any(s.name == "realtime session" for s in mid)
    assert (
        f"otlp: 2 session(s), {len(exported)} span(s) sent to {receiver.url} (http/protobuf)\n"
        in out
    )


@async_test
async def test_an_unreachable_endpoint_is_named_and_relaying_goes_on(
    tmp_path: Path, workers: int
) -> None:
    import socket

    from relay_helpers import App as RelayApp
    from relay_helpers import ScriptedUpstream, read_recording
    from test_record_cli import REALTIME, running_cli, stop_cli

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    async with (
        ScriptedUpstream() as upstream,
        running_cli("--upstream", upstream.url, "--out", str(tmp_path), "--otlp", dead) as (
            proc,
            url,
        ),
    ):
        for _ in range(2):
            app = await RelayApp.connect(url + REALTIME)
            await app.send({"type": "response.create"})
            await app.recv_until("rate_limits.updated")  # relayed, whatever the endpoint
            await app.ws.close()
        code, out, err = await stop_cli(proc)
    assert code == 0, err
    failures = [line for line in out.splitlines() if "cannot send spans" in line]
    assert failures == [
        f"otlp: cannot send spans to {dead} (http/protobuf): [Errno 111] Connection refused; "
        "relaying goes on, spans are counted as lost until it answers"
    ]
    # hand: each session is a root span and one response span (no turns: no user audio)
    summary = f"otlp: 0 session(s), 0 span(s) sent to {dead} (http/protobuf)"
    assert f"{summary}; 4 span(s) could not be sent\n" in out
    files = sorted(tmp_path.glob("*.jsonl"))
    assert len(files) == 2 and all(read_recording(p).close for p in files)

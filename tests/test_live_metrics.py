"""`rtlens record --metrics`: sessions driven through the relay to the simulator, /metrics
scraped over real HTTP and parsed with prometheus_client's parser, and by a real Prometheus
server (Debian's /usr/bin/prometheus), compared with what `rtlens ingest` puts in DuckDB for
the same recordings."""

from __future__ import annotations

import asyncio
import itertools
import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from client_helpers import relay_to_simulator
from relay_helpers import async_test, free_port

from rtlens.live.feed import LiveFeed
from rtlens.live.metrics import V2V_BUCKETS, RelayMetrics
from rtlens.live.server import MetricsServerError, serve_metrics

prometheus_client = pytest.importorskip("prometheus_client")
simulator = pytest.importorskip("rtlens.simulator")
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from rtlens.simulator.apps import run_app  # noqa: E402

# (script, dialect): a clean conversation, tool turns, barge-ins, error events, a typed turn
SESSIONS = [
    ("conversation", "beta"),
    ("function_calling", "ga"),
    ("barge_in", "ga"),
    ("errors", "ga"),
    ("typed_turn", "ga"),
]
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
KIND_OF_CATEGORY = {"clean": "clean", "tool": "tool", "interrupted": "barge-in"}


def scrape(port: int) -> dict[str, list[tuple[dict[str, str], float]]]:
    """sample name -> [(labels, value)] from a real HTTP GET of /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as resp:
        assert resp.status == 200
        text = resp.read().decode()
    out: dict[str, list[tuple[dict[str, str], float]]] = defaultdict(list)
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[s.name].append((s.labels, s.value))
    return out


def by(samples: list[tuple[dict[str, str], float]], *keys: str) -> dict[tuple[str, ...], float]:
    """Sum the samples by the given label values (zero-valued series dropped)."""
    out: dict[tuple[str, ...], float] = defaultdict(float)
    for labels, value in samples:
        out[tuple(labels[k] for k in keys)] += value
    return {k: v for k, v in out.items() if v}


def rows(con: Any, sql: str) -> dict[tuple[str, ...], float]:
    return {tuple(r[:-1]): r[-1] for r in con.execute(sql).fetchall() if r[-1]}


def approx(d: dict[tuple[str, ...], float]) -> dict[tuple[str, ...], Any]:
    return {k: pytest.approx(v, rel=1e-9) for k, v in d.items()}


@pytest.fixture(scope="module")
def relayed(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[dict[str, Any], Any, list[Path], int]]:
    """Drive SESSIONS through relay -> simulator; returns (scrape, DuckDB connection, files
    in closing order)."""
    tmp = tmp_path_factory.mktemp("live")
    out_dir = tmp / "rec"
    metrics = RelayMetrics()
    feed = LiveFeed([metrics])
    closed: list[Path] = []

    def on_recorded(path: Path, is_closed: bool) -> None:
        if is_closed:
            closed.append(path)
        feed.submit(path, is_closed)

    server, port = serve_metrics("127.0.0.1", 0, metrics.registry)

    @async_test
    async def drive() -> None:
        async with relay_to_simulator(out_dir, on_recorded=on_recorded) as (relay, _):
            for n, (script, dialect) in enumerate(SESSIONS, 1):
                await run_app(relay.url + "/v1/realtime", script=script, dialect=dialect, pace=0)
                # one at a time, so the closing order (and so the gauges' last value) is known
                assert await asyncio.to_thread(feed.wait_for, n, 30)

    drive()
    scraped = scrape(port)
    feed.close()
    db = tmp / "rt.duckdb"
    subprocess.run(
        [sys.executable, "-m", "rtlens", "ingest", str(out_dir), "--db", str(db), "-q"],
        check=True,
    )
    yield scraped, duckdb.connect(str(db), read_only=True), closed, port
    server.shutdown()
    server.server_close()


LABELS = "coalesce(s.model, 'unknown'), coalesce(s.dialect, 'unknown')"


def test_counters_equal_the_ingested_tables(relayed):
    m, con, closed, _ = relayed
    assert len(closed) == len(SESSIONS)
    assert sum(v for _, v in m["rtlens_sessions_total"]) == 5  # hand: five sessions driven
    assert by(m["rtlens_turns_total"], "model", "dialect") == rows(
        con, f"SELECT {LABELS}, count(*) FROM turns JOIN sessions s USING (session_id) GROUP BY ALL"
    )
    assert by(m["rtlens_responses_total"], "status") == rows(
        con, "SELECT status, count(*) FROM responses GROUP BY ALL"
    )
    tokens = con.execute(
        "SELECT sum(input_text_tokens), sum(input_audio_tokens), sum(cached_tokens), "
        "sum(output_text_tokens), sum(output_audio_tokens) FROM responses"
    ).fetchone()
    kinds = ("input_text", "input_audio", "input_cached", "output_text", "output_audio")
    assert by(m["rtlens_tokens_total"], "kind") == {
        (k,): v for k, v in zip(kinds, tokens, strict=True) if v
    }
    cost = con.execute("SELECT sum(cost_usd) FROM sessions").fetchone()[0]
    assert cost > 0
    assert sum(v for _, v in m["rtlens_cost_usd_total"]) == pytest.approx(cost, rel=1e-9)
    n_barge, unheard = con.execute(
        "SELECT count(*), sum(coalesce(audio_unheard_ms, 0)) / 1000 FROM interruptions"
    ).fetchone()
    assert n_barge > 0
    assert sum(v for _, v in m["rtlens_barge_ins_total"]) == n_barge
    assert sum(v for _, v in m["rtlens_unheard_audio_seconds_total"]) == pytest.approx(unheard)
    assert by(m["rtlens_errors_total"], "code") == rows(
        con, "SELECT coalesce(code, 'none'), count(*) FROM errors GROUP BY ALL"
    )
    # hand: the errors script provokes invalid_event twice (tests/test_simulator_apps.py)
    assert by(m["rtlens_errors_total"], "code")[("invalid_event",)] == 2


@pytest.mark.parametrize(
    ("metric", "column"), [("rtlens_v2v_seconds", "v2v_ms"), ("rtlens_ttfa_seconds", "ttfa_ms")]
)
def test_histograms_equal_the_turn_latency_view(relayed, metric, column):
    m, con, _, _ = relayed
    expected_n: dict[tuple[str, ...], float] = defaultdict(float)
    expected_sum: dict[tuple[str, ...], float] = defaultdict(float)
    for model, dialect, category, n, total in con.execute(
        f"SELECT coalesce(model, 'unknown'), coalesce(dialect, 'unknown'), category, "
        f"count({column}), sum({column}) / 1000 FROM turn_latency "
        f"WHERE category <> 'text' AND {column} IS NOT NULL GROUP BY ALL"
    ).fetchall():
        key = (model, dialect, KIND_OF_CATEGORY[category])
        expected_n[key] += n
        expected_sum[key] += total
    assert {k[2] for k in expected_n} == {"clean", "tool", "barge-in"}  # all three kinds seen
    assert by(m[f"{metric}_count"], "model", "dialect", "kind") == dict(expected_n)
    assert by(m[f"{metric}_sum"], "model", "dialect", "kind") == approx(dict(expected_sum))
    # the +Inf bucket holds every observation
    inf = [(lab, v) for lab, v in m[f"{metric}_bucket"] if lab["le"] == "+Inf"]
    assert by(inf, "model", "dialect", "kind") == dict(expected_n)


def test_rate_limit_gauges_hold_the_last_closed_sessions_last_sample(relayed):
    m, con, closed, _ = relayed
    # the last session closed with each (model, dialect) set the gauges of those labels
    last_file: dict[tuple[str, str], str] = {}
    for path in closed:
        model, dialect = con.execute(
            f"SELECT {LABELS} FROM sessions s WHERE source_file = ?", [str(path.resolve())]
        ).fetchone()
        last_file[(model, dialect)] = str(path.resolve())
    expected_remaining: dict[tuple[str, ...], float] = {}
    expected_headroom: dict[tuple[str, ...], Any] = {}
    for (model, dialect), source in last_file.items():
        for name, remaining, limit in con.execute(
            'SELECT name, remaining, "limit" FROM rate_limits r JOIN sessions s '
            "USING (session_id) WHERE s.source_file = ? "
            "QUALIFY row_number() OVER (PARTITION BY name ORDER BY seq DESC) = 1",
            [source],
        ).fetchall():
            expected_remaining[(model, dialect, name)] = remaining
            expected_headroom[(model, dialect, name)] = pytest.approx(remaining / limit)
    assert expected_remaining
    assert by(m["rtlens_rate_limit_remaining"], "model", "dialect", "limit") == {
        k: v for k, v in expected_remaining.items() if v
    }
    assert by(m["rtlens_rate_limit_headroom_ratio"], "model", "dialect", "limit") == {
        k: v for k, v in expected_headroom.items() if expected_remaining.get(k)
    }


def test_no_session_id_in_any_label(relayed):
    m, con, _, _ = relayed
    ids = {r[0] for r in con.execute("SELECT session_id FROM sessions").fetchall()}
    values = {v for samples in m.values() for labels, _ in samples for v in labels.values()}
    assert values.isdisjoint(ids)


def test_port_in_use_is_named_like_listen():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(MetricsServerError) as exc:
            serve_metrics("127.0.0.1", port, RelayMetrics().registry)
        assert str(exc.value) == (
            f"cannot serve metrics on 127.0.0.1:{port}: the port is already in use; "
            "stop the other program or choose another port"
        )
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "rtlens",
                "record",
                "--listen",
                "127.0.0.1:0",
                "--metrics",
                f"127.0.0.1:{port}",
                "--out",
                "/nonexistent-unused",
            ],
            capture_output=True,
            text=True,
        )
    assert result.returncode == 1
    assert result.stderr.strip() == f"Error: {exc.value}"


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as resp:
        return json.loads(resp.read())


def until(fn: Any, what: str, limit_s: float = 120) -> Any:
    """Poll `fn` until it returns something truthy: Prometheus has no push notification.
    The limit only ends a broken run; it is not a timing assertion."""
    end = time.monotonic() + limit_s
    while time.monotonic() < end:
        try:
            value = fn()
        except OSError:
            value = None
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"Prometheus never showed {what}")


@pytest.fixture
def prometheus_url(tmp_path: Path, relayed: Any) -> Iterator[str]:
    metrics_port = relayed[3]
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        "  - job_name: rtlens\n"
        f"    static_configs: [{{targets: ['127.0.0.1:{metrics_port}']}}]\n"
    )
    port = free_port()
    log = (tmp_path / "prometheus.log").open("wb")
    proc = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        log.close()


@pytest.mark.skipif(not Path(PROMETHEUS).exists(), reason="Debian's prometheus is not installed")
def test_a_real_prometheus_gives_the_v2v_median_within_a_bucket(prometheus_url, relayed):
    prometheus = prometheus_url
    _, con, _, _ = relayed

    def target_up() -> bool:
        active = get(prometheus + "/api/v1/targets")["data"]["activeTargets"]
        return any(t["health"] == "up" for t in active)

    until(target_up, "the relay's /metrics target up")
    query = "histogram_quantile(0.5, sum by (le) (rtlens_v2v_seconds_bucket))"

    def median() -> float | None:
        url = prometheus + "/api/v1/query?" + urllib.parse.urlencode({"query": query})
        result = get(url)["data"]["result"]
        return float(result[0]["value"][1]) if result else None

    p50 = until(median, "the v2v median")
    duck = con.execute(
        "SELECT quantile_cont(v2v_ms, 0.5) / 1000 FROM turn_latency "
        "WHERE category <> 'text' AND v2v_ms IS NOT NULL"
    ).fetchone()[0]
    # Prometheus interpolates inside the bucket holding the median: the width of that bucket
    edges = (0.0, *V2V_BUCKETS)
    width = next(hi - lo for lo, hi in itertools.pairwise(edges) if lo < duck <= hi)
    assert abs(p50 - duck) <= width
    # and the turn count it sums is exactly the one DuckDB has
    count_query = "sum(rtlens_v2v_seconds_count)"
    url = prometheus + "/api/v1/query?" + urllib.parse.urlencode({"query": count_query})
    n = float(get(url)["data"]["result"][0]["value"][1])
    assert (
        n
        == con.execute(
            "SELECT count(*) FROM turn_latency WHERE category <> 'text' AND v2v_ms IS NOT NULL"
        ).fetchone()[0]
    )


def test_the_grafana_dashboard_has_a_panel_for_every_metric():
    root = Path(__file__).resolve().parents[1]
    dashboard = json.loads((root / "docs" / "grafana-dashboard.json").read_text())
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
    names = {m.name for m in RelayMetrics().registry.collect()}
    assert len(names) == 12  # hand: the 12 metrics of docs/metrics-live.md
    assert [n for n in sorted(names) if n not in exprs] == []
    documented = (root / "docs" / "metrics-live.md").read_text()
    assert [n for n in sorted(names) if f"`{n}" not in documented] == []

"""`rtlens export otel` throughput: spans per second, sample_logs/ and the benchmark corpus.

    python benchmarks/otel_bench.py [--corpus benchmarks/corpus] [--mb 320] [--repeats 3]

Each input is ingested once into a DuckDB file (not timed here: benchmarks/ingest_bench.py
times ingest), then exported to an OTLP/HTTP receiver on loopback (a stdlib HTTP server
that reads each request and answers 200, as a collector would before its own work). The
baseline in the same run is building the same spans from the tables without sending
them, so `send / build` says what the SDK's encoding and the HTTP round trips add.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from corpus import ensure_corpus


class _Sink(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the exporter's requests session expects

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


def _measure(db: Path, url: str, repeats: int) -> dict[str, float]:
    import rtlens
    from rtlens.export.otlp import send
    from rtlens.export.spans import session_traces

    builds, sends, spans, sessions = [], [], 0, 0
    for _ in range(repeats):
        con = rtlens.connect(db)
        started = time.perf_counter()
        spans = sum(len(t.spans) for t in session_traces(con))
        builds.append(time.perf_counter() - started)
        con.close()
        con = rtlens.connect(db)
        started = time.perf_counter()
        summary = send(session_traces(con), url)
        sends.append(time.perf_counter() - started)
        con.close()
        sessions = summary.sessions
        assert summary.spans == spans
    build, total = statistics.median(builds), statistics.median(sends)
    return {
        "sessions": sessions,
        "spans": spans,
        "build_s": round(build, 3),
        "export_s": round(total, 3),
        "spans_per_s": round(spans / total),
        "build_spans_per_s": round(spans / build),
        "export_over_build": round(total / build, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=HERE / "corpus")
    parser.add_argument("--mb", type=float, default=320)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "otel.json")
    args = parser.parse_args()

    import rtlens

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, folder in (
            ("sample_logs", REPO / "sample_logs"),
            ("corpus", ensure_corpus(args.corpus, args.mb)),
        ):
            db = Path(tmp) / f"{name}.duckdb"
            rtlens.load([folder], db=db).close()
            results[name] = _measure(db, url, args.repeats)
    server.shutdown()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(
        f"{'input':<12} {'sessions':>8} {'spans':>7} {'spans/s':>9} {'build/s':>9} {'x build':>8}"
    )
    for name, r in results.items():
        print(
            f"{name:<12} {r['sessions']:>8} {r['spans']:>7} {r['spans_per_s']:>9} "
            f"{r['build_spans_per_s']:>9} {r['export_over_build']:>8}"
        )


if __name__ == "__main__":
    main()

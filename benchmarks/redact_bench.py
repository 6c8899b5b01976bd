"""Cost of the frame redaction the writer runs on every frame, as ratios in one run.

    python benchmarks/redact_bench.py [--repeat 2000]

Per frame kind (a 40 ms pcm16 append at 24 kHz, an audio delta, a transcript delta, a
`session.update` with a backslash in its instructions, a 4 KiB binary frame), the time of
`scrub_event` / `scrub_binary` (today's check: plain keys, escaped keys when the frame has a
backslash, base64 binary) against the plain-key check alone (`contains_key`, the check
before escaped keys were looked for) and against `orjson.loads` of the same frame, which
the writer does anyway. Ratios, not times: both sides run interleaved in the same process.
"""

from __future__ import annotations

import argparse
import base64
import os
import time
from collections.abc import Callable

import orjson

from rtlens.logfile.redact import contains_key, scrub_binary, scrub_event

AUDIO = base64.b64encode(os.urandom(1920)).decode()  # 40 ms of 24 kHz pcm16


def frames() -> dict[str, bytes]:
    return {
        "append": orjson.dumps(
            {"type": "input_audio_buffer.append", "event_id": "event_123", "audio": AUDIO}
        ),
        "audio delta": orjson.dumps(
            {
                "type": "response.output_audio.delta",
                "event_id": "event_4",
                "response_id": "resp_1",
                "item_id": "item_1",
                "output_index": 0,
                "content_index": 0,
                "delta": AUDIO,
            }
        ),
        "text delta": orjson.dumps(
            {"type": "response.output_audio_transcript.delta", "event_id": "e", "delta": "Hi"}
        ),
        "escaped": b'{"type":"session.update","session":{"instructions":"say \\"hi\\"\\n"}}',
    }


def best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(5):
        start = time.perf_counter_ns()
        for _ in range(repeat):
            fn()
        times.append(time.perf_counter_ns() - start)
    return min(times) / repeat


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2000)
    repeat = parser.parse_args().repeat
    print(f"{'frame':<12} {'scrub/plain-check':>18} {'scrub/orjson.loads':>19}")
    for name, raw in frames().items():
        event = orjson.loads(raw)
        new = best(lambda raw=raw, event=event: scrub_event(raw, event), repeat)
        old = best(lambda raw=raw: contains_key(raw), repeat)
        parse = best(lambda raw=raw: orjson.loads(raw), repeat)
        print(f"{name:<12} {new / old:>18.2f} {new / parse:>19.2f}")
    binary = os.urandom(4096)
    new = best(lambda: scrub_binary(binary), repeat)
    old = best(lambda: contains_key(binary), repeat)
    print(f"{'binary 4KiB':<12} {new / old:>18.2f} {'-':>19}")


if __name__ == "__main__":
    main()

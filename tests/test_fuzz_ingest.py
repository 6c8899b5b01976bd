"""Fuzz `rtlens ingest` as users run it: mangled real recordings, the real program.

Each example mangles a few seed recordings (the bundled sample logs and fresh simulator
recordings) with the damage real files get: truncation, byte flips, dropped and duplicated
lines, deep nesting, huge numbers, NUL runs, a BOM, CRLF, invalid UTF-8, and broken gzip.
One `python -m rtlens ingest` runs over the folder of mangled files, and per file:

- no traceback on stdout or stderr, exit code 0 or 1;
- every intact line is a row in `events`: a line of the original recording (an event line,
  `dir` and `event`/`text`/`binary`; not the header or close line, SPEC §1) that survives
  unchanged as a complete line of the mangled file (a trailing CR, from CRLF, is a line
  ending; a last line without newline is complete if it is unchanged). Each intact line is
  found by its line number, so duplicates count twice.

Deterministic (derandomize, no example database) and bounded by example count, not time.
"""

from __future__ import annotations

import asyncio
import gzip
import os
import subprocess
import sys
import zlib
from dataclasses import dataclass

import duckdb
import orjson
import pytest
from builders import REPO
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

EXAMPLES = int(os.environ.get("RTLENS_FUZZ_EXAMPLES", "50"))  # ~40 s on a loaded 2-core host
FILES_PER_EXAMPLE = 4


class Seed:
    """A seed recording: its bytes, and its lines (without "\\n") that are rows in events.

    A plain class with a short repr: a failing example prints its arguments, and
    Hypothesis would print a dataclass field by field (megabytes).
    """

    def __init__(self, name: str, data: bytes, event_lines: frozenset[bytes]) -> None:
        self.name, self.data, self.event_lines = name, data, event_lines

    def __repr__(self) -> str:
        return f"Seed({self.name!r})"


def _seed(name: str, data: bytes) -> Seed:
    events = set()
    for line in data.split(b"\n"):
        obj = orjson.loads(line) if line else None
        # SPEC §1: an event line has `dir` (and event, text or binary); the header has
        # `rtlens`, the close line `close`.
        if isinstance(obj, dict) and "dir" in obj:
            events.add(line)
    return Seed(name, data, frozenset(events))


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> list[Seed]:
    from rtlens.simulator.samples import Sample, record_samples

    folder = tmp_path_factory.mktemp("fuzz_seeds")
    # Fresh recordings, audio kept (the reader's base64 paths), both dialects, at pace 0.
    fresh = (
        Sample("sim_ga_barge_in", "barge_in", "ga", seed=41, redact_audio=False),
        Sample("sim_beta_errors", "errors", "beta", "transcription-failure", 42, "", False),
        Sample("sim_ga_tools", "function_calling", "ga", scenario="tools", seed=43),
    )
    recorded = asyncio.run(asyncio.wait_for(record_samples(folder, fresh, pace=0), 120))
    bundled = sorted((REPO / "sample_logs").glob("*.jsonl"))
    return [_seed(path.stem, path.read_bytes()) for path in [*bundled, *recorded]]


# ---- mangling ---------------------------------------------------------------------------------

TS = b"1764067052.500000"  # a plausible receive time (SPEC §1's example day)


def _deep(depth: int, kind: str) -> bytes:
    if kind == "array":
        inner = b"[" * depth + b"]" * depth
    elif kind == "object":
        inner = b'{"a":' * depth + b"1" + b"}" * depth
    else:  # a bare line: nothing but nesting
        return b"[" * depth + b"]" * depth
    return b'{"ts":%b,"dir":"server","event":{"type":"x.deep","a":%b}}' % (TS, inner)


HUGE_NUMBERS = [
    b"1e400",
    b"-1e400",
    b"1e-400",
    b"123e99999",
    b"9" * 400,
    b"-" + b"9" * 30,
    b"18446744073709551616",  # 2**64
    b"1" * 5000,
]


def _huge(number: bytes, where: str) -> bytes:
    if where == "ts":
        return b'{"ts":%b,"dir":"server","event":{"type":"session.updated"}}' % number
    if where == "audio_bytes":
        return b'{"ts":%b,"dir":"client","event":{"type":"input_audio_buffer.append",' % TS + (
            b'"audio":""},"audio_bytes":%b}' % number
        )
    if where == "tokens":
        return (
            b'{"ts":%b,"dir":"server","event":{"type":"response.done","response":{"id":"r",'
            b'"status":"completed","usage":{"total_tokens":%b,"input_tokens":%b}}}}'
            % (TS, number, number)
        )
    return b'{"ts":%b,"dir":"server","event":{"type":"input_audio_buffer.speech_started",' % (
        TS
    ) + (b'"audio_start_ms":%b,"item_id":"i"}}' % number)


INVALID_UTF8 = [b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc0\xaf", b"\x80"]


@dataclass(frozen=True)
class Mangle:
    """One kind of damage at one place (positions wrap around the file's length).

    A small record rather than a closure, so that a failing example prints readably.
    """

    kind: str
    at: int = 0
    other: int = 0  # a second position, a byte to xor, a depth or a count
    arg: str = ""  # which variant

    def __call__(self, data: bytes) -> bytes:
        at = self.at % (len(data) + 1)
        lines = data.split(b"\n")
        line_at = self.at % (len(lines) + 1)
        if self.kind == "truncate":
            return data[:at]
        if self.kind == "flip":
            at = self.at % max(len(data), 1)
            return data[:at] + bytes([data[at] ^ self.other]) + data[at + 1 :] if data else data
        if self.kind == "drop":
            del lines[self.at % len(lines)]
        elif self.kind == "duplicate":
            lines.insert(self.other % (len(lines) + 1), lines[self.at % len(lines)])
        elif self.kind == "deep":
            lines.insert(line_at, _deep(self.other, self.arg))
        elif self.kind == "huge":
            lines.insert(line_at, _huge(HUGE_NUMBERS[self.other], self.arg))
        elif self.kind == "bom-line":
            lines.insert(line_at, b"\xef\xbb\xbf")
        elif self.kind == "bom":
            return b"\xef\xbb\xbf" + data
        elif self.kind == "crlf":
            return data.replace(b"\n", b"\r\n")
        else:  # bytes inserted: NULs, a lone CR, invalid UTF-8
            junk = {"nul": b"\0" * self.other, "cr": b"\r"}.get(self.kind) or (
                INVALID_UTF8[self.other]
            )
            return data[:at] + junk + data[at:]
        return b"\n".join(lines)


positions = st.integers(0, 2**31)
mangles = st.one_of(
    st.builds(Mangle, st.just("truncate"), positions),
    st.builds(Mangle, st.just("flip"), positions, st.integers(1, 255)),
    st.builds(Mangle, st.just("drop"), positions),
    st.builds(Mangle, st.just("duplicate"), positions, positions),
    st.builds(  # deep nesting (orjson reads 1024 levels and writes 254)
        Mangle,
        st.just("deep"),
        positions,
        st.sampled_from([200, 254, 255, 300, 1023, 1024, 1025, 5000, 100_000]),
        st.sampled_from(["array", "object", "bare"]),
    ),
    st.builds(
        Mangle,
        st.just("huge"),
        positions,
        st.integers(0, len(HUGE_NUMBERS) - 1),
        st.sampled_from(["ts", "audio_bytes", "tokens", "audio_start_ms"]),
    ),
    st.builds(Mangle, st.just("nul"), positions, st.sampled_from([1, 7, 4096])),
    st.builds(Mangle, st.just("bom")),
    st.builds(Mangle, st.just("bom-line"), positions),
    st.builds(Mangle, st.just("crlf")),
    st.builds(Mangle, st.just("cr"), positions),
    st.builds(Mangle, st.just("utf8"), positions, st.integers(0, len(INVALID_UTF8) - 1)),
)

CONTAINERS = ["plain", "plain", "gzip", "gzip-truncated", "gzip-flipped", "gzip-trailing"]


@dataclass(frozen=True)
class Case:
    seed: int  # index into the seeds
    mangles: tuple[Mangle, ...]
    container: str
    cut: int  # where a broken gzip breaks


cases = st.lists(
    st.builds(
        Case,
        st.integers(0, 11),
        st.lists(mangles, min_size=1, max_size=4).map(tuple),
        st.sampled_from(CONTAINERS),
        positions,
    ),
    min_size=1,
    max_size=FILES_PER_EXAMPLE,
    unique_by=lambda case: case.seed,  # one session id per file: no cross-file duplicates
)


def _build(case: Case, seed: Seed) -> tuple[bytes, bytes | None]:
    """The file's bytes, and what a reader can get out of them (None: no promise made)."""
    text = seed.data
    for mangle in case.mangles:
        text = mangle(text)
    if case.container == "plain":
        return text, text
    packed = gzip.compress(text, mtime=0)
    if case.container == "gzip":
        return packed, text
    if case.container == "gzip-trailing":  # garbage after the gzip member
        return packed + b"not gzip\n", text
    if case.container == "gzip-truncated":
        cut = packed[: case.cut % len(packed)]
        # A cut stream gives, before the break, all zlib can decode from it.
        return cut, zlib.decompressobj(wbits=31).decompress(cut)
    at = 10 + case.cut % (len(packed) - 10)  # a flip after the gzip header
    flipped = packed[:at] + bytes([packed[at] ^ 0x55]) + packed[at + 1 :]
    return flipped, None  # the bytes before a corrupt point are zlib's business


def _intact_line_nos(readable: bytes, seed: Seed, stream_ended: bool) -> list[int]:
    lines = readable.split(b"\n")
    last = len(lines) - 1  # the segment after the last "\n": complete only at a real end
    out = []
    for i, line in enumerate(lines):
        if i == last and not stream_ended:
            continue
        line = line.removesuffix(b"\r")
        if line in seed.event_lines:
            out.append(i + 1)
    return out


TOTALS = {"examples": 0, "files": 0, "intact_lines": 0}


@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    # Shrinking re-runs ingest hundreds of times: on only when asked for (RTLENS_FUZZ_SHRINK=1).
    phases=[
        Phase.explicit,
        Phase.generate,
        *([Phase.shrink] if os.environ.get("RTLENS_FUZZ_SHRINK") else []),
    ],
)
@given(picks=cases)
def test_mangled_recordings_never_crash_ingest_and_keep_every_intact_line(
    picks: list[Case], seeds: list[Seed], tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = tmp_path_factory.mktemp("mangled")
    expected: dict[str, list[int]] = {}
    for n, case in enumerate(picks):
        seed = seeds[case.seed % len(seeds)]
        data, readable = _build(case, seed)
        suffix = ".jsonl.gz" if case.container.startswith("gzip") else ".jsonl"
        path = folder / f"{n}_{seed.name}{suffix}"
        path.write_bytes(data)
        if readable is not None:
            ended = case.container != "gzip-truncated"
            expected[str(path.resolve())] = _intact_line_nos(readable, seed, ended)
    db = folder / "rt.duckdb"
    done = subprocess.run(
        [sys.executable, "-m", "rtlens", "ingest", str(folder), "--db", str(db)],
        capture_output=True,
        timeout=600,
        check=False,
    )
    out = done.stdout + done.stderr
    assert b"Traceback" not in out, out.decode(errors="replace")[-4000:]
    assert done.returncode in (0, 1), out.decode(errors="replace")[-4000:]
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            "select s.source_file, e.line_no from events e join sessions s using (session_id)"
        ).fetchall()
    stored: dict[str, set[int]] = {}
    for source_file, line_no in rows:
        stored.setdefault(source_file, set()).add(line_no)
    for source_file, line_nos in expected.items():
        lost = [n for n in line_nos if n not in stored.get(source_file, set())]
        assert not lost, f"{source_file}: intact lines {lost[:20]} not in events ({len(lost)})"
    TOTALS["examples"] += 1
    TOTALS["files"] += len(picks)
    TOTALS["intact_lines"] += sum(len(v) for v in expected.values())


def teardown_module() -> None:
    # The figures for a run with -s: examples, files ingested, intact lines checked.
    print(f"\nfuzz ingest: {TOTALS}")

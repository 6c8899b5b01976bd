"""The C reader of user audio appends (`rtlens/logfile/_appends.c`) against the Python one.

The Python reader defines which appends take the fast path (`_APPEND_HEAD`, `_APPEND_TAIL`,
`_append_line`) and the normalizer defines their event lines (`APPEND_LINE_FORMAT`); the C
reader must give the same records and the same lines for every input, and refuse back to
Python every line the Python fast path refuses. These tests hold it to that, line by line,
file by file (across read boundaries), table by table, and through the CLI.
"""

from __future__ import annotations

import asyncio
import base64
import os
import random
import shutil
import subprocess
import sys
import sysconfig

import duckdb
import pytest
from builders import CORPUS, REPO
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

import rtlens.ingest.normalize as normalize
from rtlens.ingest.normalize import APPEND_LINE_FORMAT, APPEND_LINE_PIECES, normalize_file
from rtlens.logfile import reader
from rtlens.logfile.reader import (
    _APPEND_HEAD,
    APPEND_RAW_PARTS,
    APPENDS,
    C_APPENDS,
    EVENT,
    _append_line,
    expand_run,
    read_records,
)
from rtlens.schema import TABLE_NAMES

APPEND_TYPE = "input_audio_buffer.append"


def _why_no_c_reader() -> str | None:
    """Why these tests cannot run: the C reader is off on purpose, or rtlens was installed
    where no C compiler was found (it then reads the same tables in pure Python, which
    the rest of the suite tests). A compiler here but no module is a broken install: the
    tests run, and fail."""
    if C_APPENDS is not None:
        return None
    if os.environ.get("RTLENS_PURE_PYTHON", "0") not in ("", "0"):
        return "RTLENS_PURE_PYTHON is set: the C reader is off on purpose"
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(compiler) is None:
        return f"no C compiler ({compiler}): rtlens was installed without its C reader"
    return None


pytestmark = pytest.mark.skipif(_why_no_c_reader() is not None, reason=_why_no_c_reader() or "")


def test_the_c_reader_is_built_and_used(tmp_path):
    assert C_APPENDS is not None, (
        "rtlens/logfile/_appends.c was not built (no C compiler at install time?) or "
        "RTLENS_PURE_PYTHON is set: ingest runs on its pure-Python path, ~20% slower"
    )
    assert normalize.APPEND_LINES is C_APPENDS.lines
    path = tmp_path / "x.jsonl"
    path.write_bytes(
        b'{"ts":1764067052.010000,"dir":"client","event":{"type":"%b","audio":"AAAA"}}\n'
        % APPEND_TYPE.encode()
        * 3
    )
    kinds = [r[0] for r in read_records(path, appends=True, runs=True)]
    assert kinds == [EVENT, APPENDS]  # the first line may be a header: read by Python


def _python_append(line: bytes) -> tuple | None:
    """What the Python reader makes of one line as the first line of a block."""
    data = line + b"\n"
    head = _APPEND_HEAD.match(data, 0, len(line))
    return None if head is None else _append_line(data, head, len(line), 1)


def _c_append(line: bytes) -> tuple | None:
    data = line + b"\n"
    run = C_APPENDS.scan(data, 0, len(line))
    if run is None:
        return None
    assert run[0] == len(data)  # one line, consumed whole
    record = (APPENDS, 1, run[1][0], None, run, run[5])
    (append,) = expand_run(record)
    assert run[5] == append[5]
    return append


# ---- lines that are, nearly are, or are not appends of the usual shape ----------------------

ID_CHARS = "abcXYZ019_.:-"


@st.composite
def event_ids(draw, clean):
    if clean:
        return draw(st.text(alphabet=ID_CHARS, max_size=24) | st.just("a" * 128))
    return draw(
        st.text(alphabet=ID_CHARS, max_size=140)
        | st.sampled_from(["None", "", "a" * 128, "a" * 129, 'a"b', "a\\b", "é", "a b"])
    )


@st.composite
def stamps(draw, clean):
    if not clean and draw(st.booleans()):
        return draw(
            st.sampled_from(
                [
                    b"0.000000",
                    b"01.500000",
                    b"1.5",
                    b"1.5000000",
                    b"-1.000000",
                    b"1e9",
                    b"3999999999.999999",
                    b"4000000000.000000",
                    b"999999999.000001",
                    b"12345678901.000000",
                    b"1764067052.01",
                    b" 1.000000",
                    b"1.00000a",
                ]
            )
        )
    seconds = draw(st.integers(0, 3_999_999_999 if clean else 9_999_999_999))
    return b"%d.%06d" % (seconds, draw(st.integers(0, 999_999)))


def audios(draw, clean):
    if not clean and draw(st.booleans()):
        return draw(
            st.sampled_from([b"", b"=", b"==", b"A=", b"AB\\/C", b'AB"C', b"AB\x01\xff==", b"AB\n"])
        )
    return base64.b64encode(draw(st.binary(max_size=300)))


def pick(draw, clean, usual, odd):
    """One of the usual choices, or (not clean) also one of the odd ones."""
    return draw(st.sampled_from(usual if clean else usual + odd))


@st.composite
def append_lines(draw):
    """An append line as recorders write it (clean), or with small departures from that."""
    clean = draw(st.booleans())
    ids = [None, None, None]
    where = draw(st.integers(0, 3 if clean else 4))  # 0: no id; 1-3: where; 4: two of them
    if where == 4:
        ids[0] = draw(event_ids(clean))
        ids[2] = draw(event_ids(clean))
    elif where:
        ids[where - 1] = draw(event_ids(clean))
    sp = [pick(draw, clean, [b"", b" "], [b"  ", b"\t"]) for _ in range(8)]

    def id_field(i):
        return b'"event_id":%b"%b"' % (sp[i], ids[i].encode())

    event = b"{"
    if ids[0] is not None:
        event += id_field(0) + b"," + sp[3]
    kind = pick(draw, clean, [APPEND_TYPE.encode()], [b"input_audio_buffer.commit", b"x"])
    event += b'"type":%b"%b",%b' % (sp[4], kind, sp[5])
    if ids[1] is not None:
        event += id_field(1) + b"," + sp[6]
    event += b'"audio":%b"%b"' % (sp[7], audios(draw, clean))
    if ids[2] is not None:
        event += b"," + sp[0] + id_field(2)
    event += pick(draw, clean, [b"}"], [b"", b"}}", b',"x":1}', b" }"])
    direction = pick(draw, clean, [b'"client"'], [b'"server"', b' "client"'])
    line = b'{"ts":%b,"dir":%b,"event":%b' % (draw(stamps(clean)), direction, event)
    line += pick(draw, clean, [b"}", b"}\r"], [b"} ", b"}}", b"", b"}\r\r"])
    if not clean and draw(st.booleans()):  # a byte changed anywhere
        at = draw(st.integers(0, len(line) - 1))
        line = line[:at] + bytes([draw(st.integers(0, 255))]) + line[at + 1 :]
    return line.replace(b"\n", b" ")


@settings(max_examples=3000, deadline=None)
@given(append_lines())
def test_c_takes_exactly_the_lines_python_takes_and_reads_them_alike(line):
    assert _c_append(line) == _python_append(line)


@pytest.mark.parametrize(
    "outcome",
    [
        lambda r: r is None,
        lambda r: r is not None and r[3] is None,
        lambda r: r is not None and r[4].startswith(b'{"event_id"'),
        lambda r: r is not None and r[4].endswith(b'"}') and b'"event_id"' in r[4][-40:],
        lambda r: r is not None and r[5] > 20,
        lambda r: r is not None and r[2] > 3_000_000_000_000_000,
    ],
    ids=["refused", "no id", "id first", "id last", "long audio", "late time"],
)
def test_the_generator_reaches_every_outcome(outcome):
    """The property above means little unless the lines it draws reach each outcome."""
    find(
        append_lines(),
        lambda line: outcome(_python_append(line)),
        settings=settings(database=None, max_examples=5000),
    )


# ---- whole files: runs across read boundaries, other lines between ---------------------------

OTHER_LINES = [
    b'{"ts":1764067052.020000,"dir":"server","event":{"type":"input_audio_buffer.speech_started","audio_start_ms":10,"item_id":"i"}}',
    b"",
    b"   ",
    b"{not json",
    b'{"type":"input_audio_buffer.append","audio":"AAAA"}',
    b'{"ts":1764067052.030000,"dir":"client","event":{"type":"input_audio_buffer.commit"}}',
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(append_lines() | st.sampled_from(OTHER_LINES), min_size=1, max_size=60),
    st.sampled_from([b"", b'{"rtlens":1,"session_id":"s"}\n']),
    st.integers(0, 3),
)
def test_files_read_alike_by_runs_and_line_by_line(tmp_path_factory, lines, header, pad):
    # Long audio in some lines puts runs across the reader's 64 KiB blocks.
    padded = [
        line.replace(b'"audio":"', b'"audio":"' + b"A" * 4 * 5000 * pad, 1) if i % 3 == 0 else line
        for i, line in enumerate(lines)
    ]
    path = tmp_path_factory.mktemp("runs") / "x.jsonl"
    path.write_bytes(header + b"\n".join(padded) + b"\n")
    by_line = list(read_records(path, appends=True))
    by_run: list[tuple] = []
    for record in read_records(path, appends=True, runs=True):
        by_run.extend(expand_run(record) if record[0] == APPENDS else [record])
    assert by_run == by_line


def test_runs_cross_block_boundaries_at_every_offset(tmp_path):
    """Appends of every length around the block size, so that the block boundary falls at
    every place in a line: the lines cut by it are read the ordinary way, the others in
    runs, with the same records."""
    rng = random.Random(11)
    lines = []
    for i in range(400):
        audio = base64.b64encode(rng.randbytes(rng.randrange(0, 700)))
        lines.append(
            b'{"ts":1764067052.%06d,"dir":"client","event":{"event_id":"e%d","type":"%b","audio":"%b"}}'
            % (i, i, APPEND_TYPE.encode(), audio)
        )
    path = tmp_path / "x.jsonl"
    path.write_bytes(b'{"rtlens":1,"session_id":"s"}\n' + b"\n".join(lines) + b"\n")
    records = list(read_records(path, appends=True, runs=True))
    assert sum(r[0] == APPENDS for r in records) > 1  # split into several runs by the blocks
    expanded = [x for r in records for x in (expand_run(r) if r[0] == APPENDS else [r])]
    assert expanded == list(read_records(path, appends=True))
    assert [r[1] for r in expanded] == list(range(1, 402))


# ---- event lines -------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 2**53),
            st.none() | st.text(alphabet=ID_CHARS, max_size=30),
            st.integers(1, 3),
            st.integers(0, 2**40),
        ),
        min_size=1,
        max_size=20,
    ),
    st.integers(1, 10**6),
    st.integers(0, 10**4),
    st.integers(0, 10**6),
    st.integers(0, 2**53),
)
def test_c_event_lines_are_the_python_format(appends, line_no, file_index, seq, first_us):
    """Times before the session's first (negative t_us), huge numbers and every id place."""
    run = (
        0,
        [a[0] for a in appends],
        [a[1] for a in appends],
        [0 if a[1] is None else a[2] for a in appends],
        [a[3] for a in appends],
        sum(a[3] for a in appends),
    )
    out: list[bytes] = [b"before"]
    seen: dict[str, str] = {}
    C_APPENDS.lines(
        out,
        run,
        line_no,
        file_index,
        seq,
        first_us,
        APPEND_LINE_PIECES,
        APPEND_RAW_PARTS,
        seen,
        APPEND_TYPE,
    )
    expected = [
        APPEND_LINE_FORMAT
        % (
            file_index,
            seq + i,
            line_no + i,
            ts,
            ts - first_us,
            size,
            b"None" if event_id is None else event_id,
            raw,
        )
        for i, (_, _, ts, event_id, raw, size) in enumerate(
            expand_run((APPENDS, line_no, run[1][0], None, run, run[5]))
        )
    ]
    assert out == [b"before", *expected]
    assert seen == {a[1]: APPEND_TYPE for a in appends if a[1] is not None}


def test_bad_arguments_are_errors_not_crashes():
    with pytest.raises(ValueError):
        C_APPENDS.scan(b"abc\n", 0, 4)  # end past the block
    with pytest.raises(ValueError):
        C_APPENDS.scan(b"abc\n", -1, 3)
    with pytest.raises(TypeError):
        C_APPENDS.scan("text", 0, 0)
    run = (0, [1], [None], [7], [0], 0)
    with pytest.raises(ValueError):  # no such template
        C_APPENDS.lines([], run, 1, 0, 0, 0, APPEND_LINE_PIECES, APPEND_RAW_PARTS, {}, "t")
    with pytest.raises(ValueError):  # lists of different lengths
        C_APPENDS.lines(
            [],
            (0, [1, 2], [None], [0], [0], 0),
            1,
            0,
            0,
            0,
            APPEND_LINE_PIECES,
            APPEND_RAW_PARTS,
            {},
            "t",
        )
    with pytest.raises(TypeError):
        C_APPENDS.lines([], run, 1, 0, 0, 0, APPEND_LINE_PIECES[:3], APPEND_RAW_PARTS, {}, "t")


def test_lines_refuse_a_time_that_does_not_fit_and_agree_with_expand_run_on_odd_runs():
    with pytest.raises(OverflowError):
        C_APPENDS.lines(
            [],
            (0, [2**63 - 1], [None], [0], [0], 0),
            1,
            0,
            0,
            -5,
            APPEND_LINE_PIECES,
            APPEND_RAW_PARTS,
            {},
            "t",
        )
    run = (0, [5], [None], [2], [3], 3)  # a template for an id, but no id
    out: list[bytes] = []
    C_APPENDS.lines(out, run, 1, 0, 0, 5, APPEND_LINE_PIECES, APPEND_RAW_PARTS, {}, "t")
    ((_, _, _, _, raw, _),) = expand_run((APPENDS, 1, 5, None, run, 3))
    assert out == [APPEND_LINE_FORMAT % (0, 0, 1, 5, 0, 3, b"None", raw)]


HOSTILE_RUN = """
from rtlens.ingest.normalize import APPEND_LINE_PIECES as P
from rtlens.logfile.reader import APPEND_RAW_PARTS as R, C_APPENDS
ids = ["a" * 200, "b"]
class Shrinks:  # converting it empties the run's lists while lines() walks them
    def __index__(self):
        ids.clear()
        return 1
out = []
C_APPENDS.lines(out, (0, [1, 1], ids, [Shrinks(), 1], [0, 0], 0), 1, 0, 0, 0, P, R, {}, "k")
assert len(out) == 2 and b"a" * 200 in out[0], out
print("ok")
"""


def test_lines_survive_python_code_that_changes_the_run_under_them():
    """Found by review: lines() read list items without holding them, so an `__index__`
    (or a dict key's `__eq__`) that changed the lists crashed the interpreter. In a
    subprocess, so that a crash fails this test only."""
    done = subprocess.run(
        [sys.executable, "-c", HOSTILE_RUN], capture_output=True, text=True, check=False
    )
    assert (done.returncode, done.stdout.strip()) == (0, "ok"), done.stderr


@pytest.mark.parametrize("at", ["line_no", "seq"])
def test_lines_refuse_numbers_that_would_overflow(at):
    args = {"line_no": 1, "seq": 0, at: 2**63 - 1}
    run = (0, [1, 1], [None, None], [0, 0], [0, 0], 0)
    with pytest.raises(OverflowError):
        C_APPENDS.lines(
            [],
            run,
            args["line_no"],
            0,
            args["seq"],
            0,
            APPEND_LINE_PIECES,
            APPEND_RAW_PARTS,
            {},
            "t",
        )


def test_random_bytes_never_crash_the_scanner():
    rng = random.Random(5)
    template = (
        b'{"ts":1764067052.010000,"dir":"client","event":{"type":"input_audio_buffer.append",'
        b'"audio":"AAAA"}}\n'
    )
    for _ in range(20_000):
        block = bytearray(template * rng.randrange(1, 4))
        for _ in range(rng.randrange(0, 6)):
            block[rng.randrange(len(block))] = rng.randrange(256)
        block = bytes(block)
        end = block.rfind(b"\n")
        if end < 0:
            continue
        pos = rng.randrange(0, end + 1)
        run = C_APPENDS.scan(block, pos, end)
        if run is not None:
            assert pos < run[0] <= end + 1 and block[run[0] - 1] == 0x0A


# ---- whole tables --------------------------------------------------------------------------


def _normalized(path, *, c: bool):
    lines: list[bytes] = []
    saved = normalize.APPEND_LINES
    normalize.APPEND_LINES = saved if c else None
    try:
        result = normalize_file(path, sink=lambda chunk, tuples: lines.extend(chunk))
    finally:
        normalize.APPEND_LINES = saved
    return lines, result.rows, result.n_events


SCRIPTS = [
    (script, dialect)
    for script in ("conversation", "barge_in", "function_calling", "twilio_ulaw", "manual")
    for dialect in ("ga", "beta")
]


@pytest.fixture(scope="module")
def recordings(tmp_path_factory):
    """Sessions with their audio (most sample logs are redacted: no appends to read), one
    of each scripted app in both dialects, recorded by the relay from the simulator."""
    from rtlens.simulator.samples import Sample, record_samples

    folder = tmp_path_factory.mktemp("recordings")
    samples = tuple(
        Sample(f"{script}_{dialect}", script, dialect, seed=i, redact_audio=False)
        for i, (script, dialect) in enumerate(SCRIPTS)
    )
    paths = asyncio.run(asyncio.wait_for(record_samples(folder, samples, pace=0), 120))
    assert len(paths) == len(SCRIPTS)
    return folder


def test_normalized_tables_are_the_same_either_way(recordings):
    runs = 0
    for path in [
        *sorted(recordings.glob("*.jsonl")),
        *sorted((REPO / "sample_logs").glob("*.jsonl")),
    ]:
        c_lines, c_rows, c_events = _normalized(path, c=True)
        py_lines, py_rows, py_events = _normalized(path, c=False)
        assert (c_lines, c_rows, c_events) == (py_lines, py_rows, py_events), path
        runs += sum(r[0] == APPENDS for r in read_records(path, appends=True, runs=True))
    assert runs > 100  # the C reader did read these


@pytest.mark.skipif(
    not CORPUS.is_dir(), reason=f"real captures not found at {CORPUS} (../shared is absent)"
)
def test_the_real_captures_normalize_the_same_either_way():
    paths = sorted(CORPUS.rglob("*.jsonl"))
    assert paths
    for path in paths:
        assert _normalized(path, c=True) == _normalized(path, c=False), path


def test_the_cli_gives_the_same_database_with_rtlens_pure_python(tmp_path, recordings):
    """The switch users and benchmarks have, through the whole pipeline (workers, DuckDB)."""
    tables = {}
    for mode in ("c", "pure"):
        db = tmp_path / f"{mode}.duckdb"
        env = dict(os.environ)
        env.pop("RTLENS_PURE_PYTHON", None)
        if mode == "pure":
            env["RTLENS_PURE_PYTHON"] = "1"
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "rtlens",
                "ingest",
                str(REPO / "sample_logs"),
                "--db",
                str(db),
                "-q",
            ],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        con = duckdb.connect(str(db), read_only=True)
        tables[mode] = {
            name: con.execute(f"SELECT * FROM {name} ORDER BY ALL").fetchall()
            for name in TABLE_NAMES
        }
        con.close()
    assert tables["c"]["events"]  # not two empty databases
    assert tables["c"] == tables["pure"]


@pytest.mark.parametrize(("value", "pure"), [("1", True), ("yes", True), ("0", False), ("", False)])
def test_the_switch_is_read_at_import(value, pure):
    code = "from rtlens.logfile.reader import C_APPENDS; print(C_APPENDS is None)"
    env = dict(os.environ, RTLENS_PURE_PYTHON=value)
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == str(pure)
    assert reader.C_APPENDS is not None

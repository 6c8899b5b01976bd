"""Every SPEC §1 input format reads the same events; bad lines become errors, never losses."""

from __future__ import annotations

import base64
import gzip

import orjson
import pytest
from builders import Session, b64

from rtlens.logfile.reader import (
    APPEND,
    BINARY,
    CLOSE,
    ERROR,
    EVENT,
    HEADER,
    TEXT,
    read_records,
)

AUDIO = base64.b64encode(bytes(range(256)) * 20).decode()  # 5,120 bytes, no padding


def kinds(records):
    return [r[0] for r in records]


def events(records):
    return [(r[3], r[4], r[5]) for r in records if r[0] == EVENT]


def sample() -> Session:
    s = Session()
    s.server(0, "session.created", session={"model": "gpt-realtime"})
    s.client(10, "input_audio_buffer.append", audio=AUDIO, event_id="evt_1")
    s.server(20, "response.output_audio.delta", response_id="r", item_id="i", delta=AUDIO)
    s.server(30, "response.output_audio_transcript.delta", response_id="r", delta="hi")
    return s.close(40)


def test_rtlens_jsonl(tmp_path):
    records = list(read_records(sample().write(tmp_path / "s.jsonl")))
    assert kinds(records) == [HEADER, EVENT, EVENT, EVENT, EVENT, CLOSE]
    append = records[2]
    assert append[1:4] == (3, 1_764_067_052_010_000, "client")
    assert append[4] == {"type": "input_audio_buffer.append", "audio": "", "event_id": "evt_1"}
    assert append[5] == 5120
    assert records[3][4]["delta"] == "" and records[3][5] == 5120
    assert records[4][4]["delta"] == "hi" and records[4][5] is None  # text deltas are kept
    assert records[5][4] == {"by": "client", "code": 1000, "reason": ""}


@pytest.mark.parametrize("pad", [0, 1, 2])
def test_audio_length_comes_from_base64_length_and_padding(tmp_path, pad):
    n = 3000 + (3 - pad) % 3  # 3000 -> no "=", 3002 -> "=", 3001 -> "=="
    s = Session(header=False).client(0, "input_audio_buffer.append", audio=b64(n))
    (record,) = read_records(s.write(tmp_path / "a.jsonl"))
    assert record[5] == n


def test_fast_and_slow_paths_agree(tmp_path):
    """Key order decides which path reads a line; the result must not depend on it."""
    fast = orjson.dumps(
        {
            "ts": 1.5,
            "dir": "client",
            "event": {"type": "input_audio_buffer.append", "event_id": "e", "audio": AUDIO},
        }
    )
    slow = orjson.dumps(
        {
            "event": {"audio": AUDIO, "event_id": "e", "type": "input_audio_buffer.append"},
            "dir": "client",
            "ts": 1.5,
        }
    )
    escaped = fast.replace(b"/", b"\\/")  # some encoders escape "/"
    path = tmp_path / "x.jsonl"
    path.write_bytes(b"\n".join([fast, slow, escaped]) + b"\n")
    a, b, c = read_records(path)
    assert a[2:] == b[2:] == c[2:]
    assert a[5] == 5120


def test_bare_event_jsonl_infers_direction(tmp_path):
    path = tmp_path / "bare.jsonl"
    path.write_bytes(
        b"\n".join(
            [
                orjson.dumps({"type": "session.update", "session": {}}),
                orjson.dumps({"type": "response.audio.delta", "delta": AUDIO}),
                orjson.dumps({"type": "some.future.event"}),
            ]
        )
        + b"\n"
    )
    records = list(read_records(path))
    assert [(r[2], r[3]) for r in records] == [(None, "client"), (None, "server"), (None, None)]
    assert records[1][4]["delta"] == "" and records[1][5] == 5120


def test_json_array_streams_elements_with_line_numbers(tmp_path):
    tricky = {"type": "response.output_text.delta", "delta": 'a "quoted" ]}{[ \\ text'}
    body = (
        "[\n"
        + ",\n".join(
            [
                orjson.dumps(
                    {"type": "session.created", "session": {"tools": [[1], {"a": []}]}}
                ).decode(),
                orjson.dumps(tricky).decode(),
                '{"type": "response.done", "response": {"id": r}}',  # invalid, but balanced
                orjson.dumps({"type": "response.audio.delta", "delta": AUDIO}).decode(),
            ]
        )
        + "\n]\n"
    )
    path = tmp_path / "array.json"
    path.write_text(body)
    records = list(read_records(path))
    assert kinds(records) == [EVENT, EVENT, ERROR, EVENT]
    assert [r[1] for r in records] == [2, 3, 4, 5]
    assert records[1][4] == tricky
    assert records[3][5] == 5120
    assert "array element 3" in records[2][4]


def test_truncated_json_array_keeps_what_came_before(tmp_path):
    path = tmp_path / "cut.json"
    path.write_text('[{"type": "session.created"}, {"type": "response.done", "respo')
    records = list(read_records(path))
    assert kinds(records) == [EVENT, ERROR]
    assert "truncated" in records[1][4]


@pytest.mark.parametrize("name", ["s.jsonl.gz", "s.gz", "s.jsonl"])
def test_gzip_is_detected_by_content(tmp_path, name):
    data = sample().text()
    path = tmp_path / name
    path.write_bytes(gzip.compress(data) if "gz" in name else data)
    assert events(read_records(path)) == events(read_records(sample().write(tmp_path / "p")))


def test_gzipped_array(tmp_path):
    path = tmp_path / "a.json.gz"
    path.write_bytes(gzip.compress(b'[{"type":"session.created"},{"type":"error"}]'))
    assert [r[4]["type"] for r in read_records(path)] == ["session.created", "error"]


def test_truncated_gzip_ends_with_an_error_after_the_good_lines(tmp_path):
    data = gzip.compress(sample().text() * 200)
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])
    records = list(read_records(path))
    assert records[-1][0] == ERROR and "unreadable" in records[-1][4]
    good = [r for r in records if r[0] == EVENT]
    assert len(good) > 100


def test_bad_lines_become_errors_and_the_rest_loads(tmp_path):
    s = Session()
    s.server(0, "session.created", session={})
    s.raw("{not json")
    s.raw("[1, 2]")
    s.raw('{"ts": "yesterday", "dir": "server", "event": {"type": "error"}}')
    s.raw('{"ts": 1.0, "dir": "sideways", "event": {"type": "error"}}')
    s.raw('{"ts": 1.0, "dir": "server"}')
    s.raw('{"ts": 1.0, "dir": "client", "event": {"type": "x"}, "audio_bytes": "many"}')
    s.raw('{"rtlens": 1, "session_id": "again"}')
    s.raw('{"hello": "world"}')
    s.server(50, "response.created", response={"id": "r"})
    path = s.write(tmp_path / "bad.jsonl")
    path.write_bytes(path.read_bytes() + b'{"ts": 2.0, "dir": "server", "eve')  # cut last line
    records = list(read_records(path))
    errors = [(r[1], r[4]) for r in records if r[0] == ERROR]
    assert [line for line, _ in errors] == [3, 4, 5, 6, 7, 8, 9, 10, 12]
    messages = dict(errors)
    assert messages[3].startswith("invalid JSON")
    assert messages[4] == "not a JSON object"
    assert "'ts' must be a number" in messages[5]
    assert "'dir' must be" in messages[6]
    assert "header line found after the first line" in messages[9]
    assert messages[12].startswith("truncated line")
    assert [r[4]["type"] for r in records if r[0] == EVENT] == [
        "session.created",
        "response.created",
    ]
    assert all(isinstance(r[5], str) for r in records if r[0] == ERROR)


def test_text_and_binary_frames(tmp_path):
    s = Session()
    s.raw('{"ts": 1.0, "dir": "client", "text": "not json"}')
    s.raw('{"ts": 1.1, "dir": "client", "binary": "AAEC"}')
    records = list(read_records(s.write(tmp_path / "t.jsonl")))
    assert kinds(records) == [HEADER, TEXT, BINARY]
    assert records[1][4] == {"text": "not json"} and records[2][4] == {"binary": "AAEC"}


def test_redacted_audio_keeps_its_byte_count(tmp_path):
    s = Session()
    s.raw(
        '{"ts": 1.0, "dir": "client", "event": {"type": "input_audio_buffer.append", '
        '"audio": ""}, "audio_bytes": 4800}'
    )
    records = list(read_records(s.write(tmp_path / "r.jsonl")))
    assert records[1][5] == 4800


def test_newer_format_is_refused_per_line_not_fatal(tmp_path):
    path = tmp_path / "new.jsonl"
    path.write_text('{"rtlens": 99, "session_id": "x"}\n{"type": "error"}\n')
    records = list(read_records(path))
    assert records[0][0] == ERROR and "newer rtlens" in records[0][4]
    assert records[1][0] == EVENT


def test_bom_crlf_and_blank_lines(tmp_path):
    path = tmp_path / "win.jsonl"
    path.write_bytes(b'\xef\xbb\xbf\r\n{"type":"session.created"}\r\n\r\n{"type":"error"}\r\n')
    assert [r[4]["type"] for r in read_records(path)] == ["session.created", "error"]


def test_large_json_array_crosses_read_chunks(tmp_path):
    """Elements and strings that straddle the reader's 1 MiB chunks still split exactly."""
    elements = [
        orjson.dumps(
            {"type": "response.output_audio.delta", "response_id": f"r{i}", "delta": b64(7000 + i)}
        )
        for i in range(400)
    ]
    path = tmp_path / "big.json"
    path.write_bytes(b"[\n" + b",\n".join(elements) + b"\n]\n")
    records = list(read_records(path))
    assert [r[0] for r in records] == [EVENT] * 400
    assert [r[1] for r in records] == list(range(2, 402))
    assert [r[5] for r in records] == [7000 + i for i in range(400)]
    assert records[-1][4]["response_id"] == "r399"


def test_a_jsonl_file_whose_first_line_is_an_array(tmp_path):
    path = tmp_path / "odd.jsonl"
    path.write_bytes(b'[1,2]\n{"type":"error"}\n')
    records = list(read_records(path))
    assert [(r[0], r[1]) for r in records] == [(ERROR, 1), (ERROR, 1), (EVENT, 2)]


APPEND_SHAPES = {
    # shape: (line, whether the APPEND fast path must take it)
    "compact, id first": (
        b'{"event_id":"evt_1","type":"input_audio_buffer.append","audio":"%s"}',
        True,
    ),
    "compact, no id": (b'{"type":"input_audio_buffer.append","audio":"%s"}', True),
    "compact, id between": (
        b'{"type":"input_audio_buffer.append","event_id":"e-2","audio":"%s"}',
        True,
    ),
    "compact, id last": (
        b'{"type":"input_audio_buffer.append","audio":"%s","event_id":"e:3"}',
        True,
    ),
    "json.dumps spacing": (
        b'{"type": "input_audio_buffer.append", "audio": "%s", "event_id": "e.4"}',
        True,
    ),
    "empty id": (b'{"event_id":"","type":"input_audio_buffer.append","audio":"%s"}', True),
    "id None": (b'{"event_id":"None","type":"input_audio_buffer.append","audio":"%s"}', False),
    "id twice": (
        b'{"event_id":"a","type":"input_audio_buffer.append","audio":"%s","event_id":"b"}',
        False,
    ),
    "id needing escapes": (
        b'{"event_id":"a\\"b","type":"input_audio_buffer.append","audio":"%s"}',
        False,
    ),
    "escaped audio": (b'{"type":"input_audio_buffer.append","audio":"\\/%s"}', False),
    "another key": (b'{"type":"input_audio_buffer.append","audio":"%s","x":1}', False),
    "tab spacing": (b'{"type":\t"input_audio_buffer.append","audio":"%s"}', False),
}


@pytest.mark.parametrize("shape", APPEND_SHAPES)
@pytest.mark.parametrize("ending", [b"\n", b"\r\n"])
def test_append_fast_path_reads_what_the_json_parser_reads(tmp_path, shape, ending):
    """The normalizer reads user audio appends without parsing them (APPEND records); for
    every shape, what it gets must be what parsing the line gives."""
    event, fast = APPEND_SHAPES[shape]
    audio = AUDIO[:-1].encode()  # 5,119 bytes of base64: "=" padding
    line = b'{"ts":1764067052.010000,"dir":"client","event":' + event % audio + b"}" + ending
    path = tmp_path / "a.jsonl"
    path.write_bytes(sample().text() + line)
    (*_, parsed), (*_, quick) = list(read_records(path)), list(read_records(path, appends=True))
    assert parsed[0] == EVENT
    assert quick[0] == (APPEND if fast else EVENT)
    if quick[0] == APPEND:
        line_no, ts_us, event_id, raw, audio_bytes = quick[1:]
        assert raw == orjson.dumps(parsed[4])  # exactly the JSON the slow path writes
        expected_id = parsed[4].get("event_id")
        assert event_id == (None if expected_id is None else expected_id.encode())
        assert (line_no, ts_us, "client", audio_bytes) == (*parsed[1:4], parsed[5])
    else:
        assert quick == parsed


@pytest.mark.parametrize(
    "line",
    [
        b'{"ts":01.5,"dir":"client","event":{"type":"input_audio_buffer.append","audio":"AAAA"}}',
        b'{"ts":1.5,"dir":"client","event":{"type":"input_audio_buffer.append","audio":"AAAA"}',
        b'{"ts":1.5,"dir":"client","event":{"type":"input_audio_buffer.append","audio":"AAAA"}} x',
        b'{"ts":1.5,"dir":"client","event":{"type":"input_audio_buffer.append","audio":"AA',
    ],
    ids=["leading zero", "missing brace", "trailing junk", "cut off"],
)
def test_append_fast_path_never_accepts_a_broken_line(tmp_path, line):
    path = tmp_path / "a.jsonl"
    path.write_bytes(sample().text() + line + b"\n" + sample().lines[-1] + b"\n")
    quick = list(read_records(path, appends=True))[-2:]
    assert quick == list(read_records(path))[-2:]
    assert [r[0] for r in quick] == [ERROR, CLOSE]


def test_append_fast_path_timestamps_equal_the_parsed_floats():
    """The fast path reads "seconds.micros" as an exact integer; the slow path rounds the
    parsed float. Up to the fast path's limit (under 4e9 s) they must always agree."""
    import random

    rng = random.Random(7)
    stamps = [rng.randrange(4_000_000_000_000_000) for _ in range(50_000)]
    stamps += [0, 1, 999_999, 3_999_999_999_999_999]
    for ts_us in stamps:
        text = b"%d.%06d" % divmod(ts_us, 1_000_000)
        assert int(text.replace(b".", b"")) == ts_us == round(orjson.loads(text) * 1_000_000)

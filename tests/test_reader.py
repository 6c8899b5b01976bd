"""Every SPEC §1 input format reads the same events; bad lines become errors, never losses."""

from __future__ import annotations

import base64
import gzip
import io
import random
import zlib

import orjson
import pytest
from builders import Session, b64

from rtlens.logfile.jsonarray import split_array
from rtlens.logfile.reader import (
    APPEND,
    APPENDS,
    BINARY,
    CLOSE,
    ERROR,
    EVENT,
    HEADER,
    TEXT,
    expand_run,
    read_records,
)
from rtlens.logfile.redact import base64_decoded_len

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


# ---- fixes: each of these once cost a whole file, lost lines, or differed by path --------------

HEADER_LINE = b'{"rtlens":1,"session_id":"s"}\n'


def write_lines(tmp_path, *lines: bytes, name: str = "x.jsonl", header: bool = True):
    path = tmp_path / name
    path.write_bytes((HEADER_LINE if header else b"") + b"".join(line + b"\n" for line in lines))
    return path


def ordinary(line: bytes) -> bytes:
    """The same line, but spaced so that no fast path takes it (the JSON parser reads it)."""
    assert line.startswith(b"{") and b'"type":"' in line
    return b"{ " + line[1:].replace(b'"type":"', b'"type": "', 1)


def test_base64_decoded_len_is_exact_for_base64_and_never_negative():
    for n in range(40):
        encoded = base64.b64encode(bytes(n))
        for text in (encoded, encoded.rstrip(b"="), encoded.decode()):
            assert base64_decoded_len(text) == n
    odd = ["=", "==", "===", "A", "A=", "=A", "AA=", "é", "é="]
    assert [base64_decoded_len(s) for s in odd] == [0, 0, 0, 0, 0, 1, 1, 1, 1]
    assert [base64_decoded_len(s.encode()) for s in odd] == [0, 0, 0, 0, 0, 1, 1, 1, 1]


ODD_AUDIO = {  # audio string -> decoded bytes, by base64_decoded_len's definition
    "": 0,
    "=": 0,
    "==": 0,
    "===": 0,
    "A=": 0,
    "=A": 1,
    "AA": 1,
    "AA==": 1,
    "AAA=": 2,
    "AAAA": 3,
    "AAAA=": 3,
    "é=": 1,  # not base64, but a string all the same: counted as its UTF-8 bytes
}


@pytest.mark.parametrize("audio", ODD_AUDIO)
def test_every_path_counts_the_same_audio_the_same_and_never_negative(tmp_path, audio):
    """A lone "=" once crashed the ordinary path (and with it the whole file); the fast
    paths gave -1 for "=" and "==", and counted a "=" before the last character."""
    text = audio.encode()
    frame = b'{"ts":1.5,"dir":"client","event":{"type":"input_audio_buffer.append","audio":"%b"}}'
    lines = [
        frame % text,  # APPEND path (with appends), fast audio path (without)
        b'{"type":"input_audio_buffer.append","audio":"%b"}' % text,  # bare, fast audio path
        b'{"ts":1.5,"dir":"server","event":{"type":"response.audio.delta","delta":"%b"}}' % text,
    ]
    lines += [ordinary(line) for line in lines]
    lines.append(frame % orjson.dumps(audio)[1:-1].replace(b"=", b"\\u003d"))  # escaped
    path = write_lines(tmp_path, *lines, b'{"type":"error"}')
    for appends in (False, True):
        records = list(read_records(path, appends=appends))[1:]
        assert [r[1] for r in records] == list(range(2, 10))
        assert [r[5] for r in records[:-1]] == [ODD_AUDIO[audio]] * 7
        assert records[-1][:2] == (EVENT, 9)
    assert base64_decoded_len(audio) == ODD_AUDIO[audio]


def test_audio_of_only_padding_in_an_item_costs_nothing(tmp_path):
    item = {"type": "message", "role": "user", "content": [{"type": "input_audio", "audio": "="}]}
    path = write_lines(
        tmp_path,
        orjson.dumps({"type": "conversation.item.create", "item": item}),
        b'{"type":"error"}',
        header=False,
    )
    records = list(read_records(path))
    assert [(r[0], r[1], r[5]) for r in records] == [(EVENT, 1, 0), (EVENT, 2, None)]
    assert records[0][4]["item"]["content"] == [{"type": "input_audio", "audio": ""}]


@pytest.mark.parametrize("direction", [b'["client"]', b'{"a":1}', b"1", b"null"])
@pytest.mark.parametrize("appends", [False, True])
def test_a_dir_that_is_not_a_string_costs_its_line_only(tmp_path, direction, appends):
    """A list or object as `dir` once stopped the whole file (it cannot be hashed)."""
    lines = [
        b'{"ts":1.5,"dir":%b,"event":{"type":"error"}}',  # the usual frame shape
        b'{"ts":1.5,"dir":%b,"event":{"type":"error"},"x":1}',  # another shape
        b'{"ts":1.5,"dir":%b,"event":{"type":"response.audio.delta","delta":"AAAA"}}',
        b'{"ts":1.5,"dir":%b,"event":{"type":"input_audio_buffer.append","audio":"AAAA"}}',
        b'{"dir":%b,"text":"hi"}',
    ]
    path = write_lines(tmp_path, *(line % direction for line in lines), b'{"type":"error"}')
    records = list(read_records(path, appends=appends))
    assert [(r[0], r[1]) for r in records] == [(HEADER, 1)] + [(ERROR, n) for n in range(2, 7)] + [
        (EVENT, 7)
    ]
    assert {r[4] for r in records if r[0] == ERROR} == {"'dir' must be 'client' or 'server'"}


def gzip_cut(data: bytes, share: float) -> tuple[bytes, bytes]:
    """`data` gzipped and cut after `share` of it, and what zlib can still get out of that."""
    packed = gzip.compress(data)
    broken = packed[: int(len(packed) * share)]
    return broken, zlib.decompressobj(31).decompress(broken)


def noisy_lines(count: int) -> list[bytes]:
    """Lines of user audio (of the shape the APPEND path takes) and transcript text that
    gzip cannot shrink much."""
    rng = random.Random(5)
    lines = []
    for i in range(count):
        ts = b"1764067052.%06d" % (i * 10)
        if i % 2:
            audio = base64.b64encode(rng.randbytes(96))
            event = b'{"type":"input_audio_buffer.append","audio":"%b"}' % audio
            lines.append(b'{"ts":%b,"dir":"client","event":%b}' % (ts, event))
        else:
            event = orjson.dumps(
                {"type": "response.output_audio_transcript.delta", "delta": rng.randbytes(30).hex()}
            )
            lines.append(b'{"ts":%b,"dir":"server","event":%b}' % (ts, event))
    return lines


@pytest.mark.parametrize("appends", [False, True])
def test_a_truncated_gzip_loads_every_line_zlib_can_recover(tmp_path, appends):
    """Reading the gzip in buffered blocks once dropped the block being gathered when the
    data broke off (up to 64 KiB of good lines) and named a line that had been readable."""
    broken, recovered = gzip_cut(HEADER_LINE + b"\n".join(noisy_lines(20_000)) + b"\n", 0.3)
    complete = recovered.count(b"\n")  # lines whose newline came through: all of them load
    assert 1000 < complete < 19_000
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(broken)
    records = list(read_records(path, appends=appends))
    assert [r[1] for r in records[:-1]] == list(range(1, complete + 1))
    assert {r[0] for r in records[1:-1]} == ({APPEND, EVENT} if appends else {EVENT})
    assert records[-1][:4] == (ERROR, complete + 1, None, None)
    assert records[-1][4].startswith("unreadable from here on: Compressed file ended")


def test_a_truncated_gzipped_array_loads_every_element_zlib_can_recover(tmp_path):
    body = b"[\n" + b",\n".join(noisy_lines(20_000)) + b"\n]\n"
    broken, recovered = gzip_cut(body, 0.3)
    loaded = recovered.count(b"},")  # elements whose comma came through
    assert 1000 < loaded < 19_000 and not recovered.endswith(b",")
    path = tmp_path / "cut.json.gz"
    path.write_bytes(broken)
    records = list(read_records(path))
    assert [(r[0], r[1]) for r in records[:-1]] == [(EVENT, n) for n in range(2, loaded + 2)]
    assert records[-1][:4] == (ERROR, loaded + 2, None, None)  # the first element not loaded
    assert records[-1][4].startswith("unreadable from here on: Compressed file ended")


def test_a_gzip_with_a_bad_checksum_loads_every_line_then_says_so(tmp_path):
    """The check at the end of the data failed inside the last block: the block was lost."""
    packed = bytearray(gzip.compress(HEADER_LINE + b"\n".join(noisy_lines(2000)) + b"\n"))
    packed[-8] ^= 0xFF  # the CRC-32 of the data
    path = tmp_path / "bad.jsonl.gz"
    path.write_bytes(bytes(packed))
    records = list(read_records(path, appends=True))
    assert [r[1] for r in records] == list(range(1, 2003))
    assert records[-1][:4] == (ERROR, 2002, None, None)
    assert records[-1][4].startswith("unreadable from here on: CRC check failed")


def test_every_record_of_a_gzip_equals_that_of_the_plain_file(tmp_path):
    data = HEADER_LINE + b"\n".join(noisy_lines(3000)) + b"\n"
    plain, packed = tmp_path / "p.jsonl", tmp_path / "p.jsonl.gz"
    plain.write_bytes(data)
    packed.write_bytes(gzip.compress(data))
    for appends in (False, True):
        assert list(read_records(packed, appends=appends)) == list(
            read_records(plain, appends=appends)
        )


AUDIO_LINES_BY_PATH = {
    # name: (line as the fast path sees it, expected event, expected audio bytes)
    "server type sent by the client": (
        b'{"ts":1.5,"dir":"client","event":{"type":"response.audio.delta","delta":"AAAA"}}',
        {"type": "response.audio.delta", "delta": "AAAA"},
        None,
    ),
    "client type sent by the server": (
        b'{"ts":1.5,"dir":"server","event":{"type":"input_audio_buffer.append","audio":"AAAA"}}',
        {"type": "input_audio_buffer.append", "audio": "AAAA"},
        None,
    ),
    "repeated field": (
        b'{"ts":1.5,"dir":"server","event":{"type":"response.audio.delta","delta":"AAAA","delta":""}}',
        {"type": "response.audio.delta", "delta": ""},
        0,
    ),
    "nested field first": (
        b'{"ts":1.5,"dir":"server","event":{"type":"response.audio.delta",'
        b'"x":{"delta":"AAAA"},"delta":""}}',
        {"type": "response.audio.delta", "x": {"delta": "AAAA"}, "delta": ""},
        0,
    ),
    "own field spelled with an escape": (
        b'{"ts":1.5,"dir":"server","event":{"type":"response.audio.delta",'
        b'"d\\u0065lta":"","x":{"delta":"AAAA"}}}',
        {"type": "response.audio.delta", "delta": "", "x": {"delta": "AAAA"}},
        0,
    ),
    "own field spelled with a space": (
        b'{"ts":1.5,"dir":"server","event":{"type":"response.audio.delta",'
        b'"delta" :"","x":{"delta":"AAAA"}}}',
        {"type": "response.audio.delta", "delta": "", "x": {"delta": "AAAA"}},
        0,
    ),
    "audio in an item too": (
        b'{"ts":1.5,"dir":"server","event":{"type":"response.audio.delta","delta":"AAAA",'
        b'"item":{"content":[{"type":"audio","audio":"AAAAAA=="}]}}}',
        {
            "type": "response.audio.delta",
            "delta": "",
            "item": {"content": [{"type": "audio", "audio": ""}]},
        },
        7,
    ),
    "bare, with a close key": (
        b'{"type":"response.audio.delta","delta":"AAAA","close":{}}',
        {"type": "response.audio.delta", "delta": "", "close": {}},
        3,
    ),
    "frame with its own byte count": (
        b'{"ts":1.5,"dir":"server","event":{"type":"response.audio.delta","delta":"AAAA"},'
        b'"audio_bytes":9}',
        {"type": "response.audio.delta", "delta": ""},
        9,
    ),
}


@pytest.mark.parametrize("name", AUDIO_LINES_BY_PATH)
@pytest.mark.parametrize("appends", [False, True])
def test_the_audio_fast_path_reads_what_the_json_parser_reads(tmp_path, name, appends):
    """The fast path once found its audio type without its direction and cut the first
    match of the field's name wherever it was: a server type sent by the client lost its
    audio, a nested field was blanked, a repeated one counted."""
    line, event, audio_bytes = AUDIO_LINES_BY_PATH[name]
    path = write_lines(tmp_path, line, ordinary(line))
    _, fast, slow = read_records(path, appends=appends)
    assert fast[0] == slow[0] == EVENT
    assert fast[2:] == slow[2:]
    assert (fast[4], fast[5]) == (event, audio_bytes)


@pytest.mark.parametrize("appends", [False, True])
def test_bytes_inside_audio_are_not_checked_by_the_fast_paths(tmp_path, appends):
    """Pinned on purpose (see the reader's docstring): inside the audio the fast paths look
    only for `"` and `\\`, so a control character or invalid UTF-8 there is not seen. Such a
    line loads as its event with the audio cut out, the rest of it intact; the JSON parser,
    reading the same line spaced differently, refuses it."""
    odd = b"AB\x01\xff\x00CD=="  # 9 bytes, "==": 7 * 3 // 4 = 5
    lines = [
        b'{"ts":1764067052.500000,"dir":"client","event":{"event_id":"e1",'
        b'"type":"input_audio_buffer.append","audio":"%b"}}' % odd,
        b'{"ts":1.5,"dir":"server","event":{"type":"response.output_audio.delta",'
        b'"response_id":"r","item_id":"i","delta":"%b","content_index":0}}' % odd,
        b'{"type":"response.audio.delta","response_id":"r","delta":"%b"}' % odd,
    ]
    path = write_lines(tmp_path, *lines, ordinary(lines[0]))
    records = list(read_records(path, appends=appends))[1:]
    append = records[0]
    if appends:
        assert append[:4] == (APPEND, 2, 1_764_067_052_500_000, b"e1")
        assert orjson.loads(append[4]) == {
            "event_id": "e1",
            "type": "input_audio_buffer.append",
            "audio": "",
        }
    else:
        assert append[:4] == (EVENT, 2, 1_764_067_052_500_000, "client")
        assert append[4] == {"event_id": "e1", "type": "input_audio_buffer.append", "audio": ""}
    assert append[5] == 5
    assert records[1] == (
        EVENT,
        3,
        1_500_000,
        "server",
        {
            "type": "response.output_audio.delta",
            "response_id": "r",
            "item_id": "i",
            "delta": "",
            "content_index": 0,
        },
        5,
    )
    assert records[2] == (
        EVENT,
        4,
        None,
        "server",
        {"type": "response.audio.delta", "response_id": "r", "delta": ""},
        5,
    )
    assert records[3][:2] == (ERROR, 5) and records[3][4].startswith("invalid JSON")


def test_a_truncated_array_loads_every_complete_element(tmp_path):
    """The element after the last comma was lost when the closing "]" was missing."""
    path = tmp_path / "cut.json"
    path.write_bytes(b'[{"type":"session.created"},\n{"type":"response.created"}')
    records = list(read_records(path))
    assert [(r[0], r[1]) for r in records] == [(EVENT, 1), (EVENT, 2), (ERROR, 2)]
    assert [r[4]["type"] for r in records[:2]] == ["session.created", "response.created"]
    assert records[2][4:] == (
        "truncated JSON array: the file ends on this line, before the array's closing ']'",
        "",
    )


@pytest.mark.parametrize(
    "body, line_no, raw",
    [
        (b'[{"type":"session.created"},\n{"type":"response.do', 2, '{"type":"response.do'),
        (b'[{"type":"session.created"},\n\n{"type":"response.done", "r":[1,', 3, None),
        (b'[{"type":"session.created"},\n{\n  "type": "response.done",\n  "x": "a', 2, None),
        (b'[{"type":"session.created"}, {"type":"res', 1, '{"type":"res'),
    ],
    ids=["in a string", "in a list", "pretty-printed", "same line"],
)
def test_a_truncated_array_names_the_line_its_cut_element_starts_on(tmp_path, body, line_no, raw):
    path = tmp_path / "cut.json"
    path.write_bytes(body)
    records = list(read_records(path))
    assert [(r[0], r[1]) for r in records] == [(EVENT, 1), (ERROR, line_no)]
    assert records[1][4] == (
        "truncated JSON array: the file ends inside the array element that starts on this line"
    )
    assert records[1][5] == (raw if raw is not None else body.split(b"},", 1)[1].strip().decode())


def test_a_header_after_an_array_is_an_error(tmp_path):
    """Lines after an array were read as if the first of them could be the header."""
    path = tmp_path / "a.json"
    path.write_bytes(
        b'[{"type":"session.created"}]\n{"rtlens":1,"session_id":"zz"}\n{"type":"response.created"}\n'
    )
    records = list(read_records(path))
    assert [(r[0], r[1]) for r in records] == [(EVENT, 1), (ERROR, 2), (EVENT, 3)]
    assert records[1][4] == "header line found after the first line"


@pytest.mark.parametrize("at", [-12, -6, -5, -1, 0, 1, 5, 1 << 16, (1 << 16) - 5, (1 << 16) + 5])
def test_lines_after_an_array_and_many_blanks_are_read(tmp_path, at):
    """The array ending just before a 1 MiB read boundary, then more than 8 KiB of blanks:
    the event line after them was dropped without a word."""
    element = b'{"type":"x","pad":"%b"}'
    pad = (1 << 20) + at - 1 - len(element % b"")  # the "]" lands at 1 MiB + at
    data = b"[" + element % (b"a" * pad) + b"]" + b" " * 9000 + b"\n\n" + b"\t" * 70_000
    path = tmp_path / "a.json"
    path.write_bytes(data + b'\n{"type":"response.created"}\n')
    records = list(read_records(path))
    assert [(r[0], r[1]) for r in records] == [(EVENT, 1), (EVENT, 4)]
    assert records[1][4] == {"type": "response.created"}


def test_whatever_follows_an_array_is_found_across_any_read_boundary():
    """The same, read in chunks of 16 bytes with the array ending at every offset."""
    for n in range(40):
        data = b'[{"a":"%b"}]' % (b"x" * n) + b" " * 50 + b"\n \n" + b'{"type":"x"}\n'
        stream = io.BytesIO(data)
        *elements, (kind, line_no, rest) = split_array(stream, stream.read(16), 1, 16)
        assert elements == [("element", 1, b'{"a":"%b"}' % (b"x" * n))]
        rest += stream.read()  # the caller reads on from where the splitter stopped
        assert kind == "rest" and rest.strip() == b'{"type":"x"}'
        assert line_no + rest[: rest.index(b"{")].count(b"\n") == 3


def test_strings_with_escapes_are_split_alike_across_any_read_boundary():
    """A string that goes on over several reads is searched one read at a time (linear in
    its size); an escaped quote or a run of backslashes may straddle two reads."""
    texts = ['a"b', "a\\", 'x\\"y', "\\" * 7 + '"', "]}[{,", "é" * 5, "q" * 40, ""]
    elements = [orjson.dumps({"type": "x", "text": t, "n": i}) for i, t in enumerate(texts)]
    data = b"[" + b",\n".join(elements) + b"]\n"
    for chunk in range(1, 25):
        stream = io.BytesIO(data)
        items = list(split_array(stream, stream.read(chunk), 1, chunk))
        assert [orjson.loads(item[2])["text"] for item in items] == texts, chunk
        assert [item[1] for item in items] == list(range(1, len(texts) + 1))


@pytest.mark.parametrize("blank", [b" " * 65, b"\n" * 70_000, b"\xef\xbb\xbf" + b" \r\n" * 30_000])
def test_any_amount_of_blank_before_an_array_or_the_first_line(tmp_path, blank):
    """More than 64 bytes of whitespace before "[" once made an array read as JSONL."""
    lines = blank.count(b"\n")
    path = tmp_path / "a.json"
    path.write_bytes(blank + b'[{"type":"session.created"},\n{"type":"error"}]\n')
    records = list(read_records(path))
    assert [(r[0], r[1], r[4]["type"]) for r in records] == [
        (EVENT, lines + 1, "session.created"),
        (EVENT, lines + 2, "error"),
    ]
    path.write_bytes(blank + HEADER_LINE + b'{"type":"error"}\n')
    assert [(r[0], r[1]) for r in read_records(path)] == [(HEADER, lines + 1), (EVENT, lines + 2)]


def test_a_close_key_does_not_swallow_an_event(tmp_path):
    """`close` was tested before `event` and `type`: the event was lost without a word."""
    path = write_lines(
        tmp_path,
        b'{"type":"foo","close":{}}',
        b'{"ts":1764067052.5,"dir":"client","event":{"type":"response.create"},"close":{"by":"client"}}',
        b'{"ts":1.5,"type":"bar","close":{"by":"client"}}',
        b'{"ts":1.5,"event":{"type":"baz"},"close":{"by":"client"}}',
        b'{"ts":1.5,"close":"soon"}',
        b'{"ts":1.5,"close":{"by":"server"},"extra":1}',
        b'{"close":{"by":"client"}}',
    )
    records = list(read_records(path))[1:]
    assert [(r[0], r[1], r[2], r[3], r[4]) for r in records] == [
        (EVENT, 2, None, None, {"type": "foo", "close": {}}),
        (EVENT, 3, 1_764_067_052_500_000, "client", {"type": "response.create"}),
        (EVENT, 4, None, None, {"ts": 1.5, "type": "bar", "close": {"by": "client"}}),
        (ERROR, 5, None, None, "neither an rtlens line nor an event with a 'type'"),
        (ERROR, 6, None, None, "'close' must be an object"),
        (CLOSE, 7, 1_500_000, None, {"by": "server"}),
        (CLOSE, 8, None, None, {"by": "client"}),
    ]


def test_audio_in_content_parts_and_response_input_is_cut_and_counted(tmp_path):
    """`response.content_part.*` can carry `part.audio`, and the app's `response.create` can
    carry items with audio in `response.input[]`: both once stayed in `raw` in full."""
    audio = base64.b64encode(b"\0" * 300).decode()
    part = {"type": "response.content_part.done", "part": {"type": "audio", "audio": audio}}
    item = {"type": "message", "role": "user", "content": [{"type": "input_audio", "audio": audio}]}
    create = {"type": "response.create", "response": {"input": [item]}}
    lines = [
        orjson.dumps({"ts": 1764067052.5, "dir": "server", "event": part}),
        orjson.dumps({"ts": 1764067052.6, "dir": "client", "event": create}),
        orjson.dumps(part),  # bare events too
    ]
    path = tmp_path / "parts.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    for appends in (False, True):
        records = list(read_records(path, appends=appends))
        assert [r[5] for r in records] == [300, 300, 300]
        assert records[0][4]["part"]["audio"] == ""
        assert records[1][4]["response"]["input"][0]["content"][0]["audio"] == ""
        assert audio.encode() not in orjson.dumps([r[4] for r in records])


@pytest.mark.parametrize("appends", [False, True])
@pytest.mark.parametrize("newline_at_end", [True, False])
def test_a_line_over_the_cap_is_skipped_by_its_length_and_the_rest_loads(
    tmp_path, appends, newline_at_end
):
    """Read in 64 KiB blocks: a line of 300,000 bytes spans five of them and is dropped as
    it is read (a 100 MB line once took 630-890 MB and the whole run)."""
    cap = 100_000
    long_event = b'{"type":"session.update","session":{"instructions":"%b"}}' % (
        b"x" * (300_000 - 55)  # 55: the JSON around the instructions
    )
    append = (
        b'{"ts":1.000000,"dir":"client","event":{"type":"input_audio_buffer.append","audio":"%b"}}'
    )
    lines = [
        b'{"rtlens":1,"session_id":"s","started_at":"2026-01-01T00:00:00Z"}',
        append % AUDIO.encode(),
        long_event,
        append % AUDIO.encode(),
        b'{"type":"session.updated","session":{}}',  # under the cap across blocks, loads
        long_event,
    ]
    assert len(long_event) == 300_000
    (tmp_path / "a.jsonl").write_bytes(b"\n".join(lines) + (b"\n" if newline_at_end else b""))
    records = list(read_records(tmp_path / "a.jsonl", appends=appends, runs=appends, max_line=cap))
    if appends:
        records = [r for rec in records for r in (expand_run(rec) if rec[0] == APPENDS else [rec])]
    assert [(r[0], r[1]) for r in records] == [
        (HEADER, 1),
        (APPEND if appends else EVENT, 2),
        (ERROR, 3),
        (APPEND if appends else EVENT, 4),
        (EVENT, 5),
        (ERROR, 6),
    ]
    message = (
        "line of 300,000 bytes is longer than the 100,000 ingest reads "
        "(raise --memory-limit to read it): skipped"
    )
    assert records[2][4] == records[5][4] == message
    assert records[2][5] is None  # nothing of it is kept


def test_an_array_element_over_the_cap_ends_the_file_there(tmp_path):
    small = b'{"type":"session.updated","session":{}}'
    big = b'{"type":"session.update","session":{"instructions":"%b"}}' % (b"x" * 3_000_000)
    (tmp_path / "a.json").write_bytes(b"[" + small + b",\n" + big + b",\n" + small + b"]")
    records = list(read_records(tmp_path / "a.json", max_line=1_000_000))
    assert [(r[0], r[1]) for r in records] == [(EVENT, 1), (ERROR, 2)]  # the big one's line
    assert records[1][4].startswith("an array element longer than ingest takes (1,000,000 bytes)")
    assert len(records[1][5]) <= 64 * 1024  # what is kept of it is cut

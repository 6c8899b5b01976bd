"""The public Python API (docs/api.md) on a session built line by line: every expected
value is worked out by hand from the lines in `write_session`."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import wave
from pathlib import Path

import duckdb
import pytest
from builders import START, Session, b64, ga_session, usage

import rtlens

# 12,000 pcm16 samples of value 16 = 0.5 s of agent audio at 24 kHz, none of it silent
AGENT_AUDIO = base64.b64encode(b"\x10\x00" * 12_000).decode()


def write_session(path: Path, *, bad_line: bool = False) -> Path:
    """One voice turn: 1 s of silent user audio, a reply of 0.5 s of audio, then usage."""
    s = Session("api-session")
    s.server(0, "session.created", event_id="e0", session=ga_session())
    s.client(100, "input_audio_buffer.append", audio=b64(48_000))  # 48,000 B = 1 s pcm16
    s.server(200, "input_audio_buffer.speech_started", audio_start_ms=100, item_id="u1")
    s.server(1000, "input_audio_buffer.speech_stopped", audio_end_ms=900, item_id="u1")
    s.server(1010, "input_audio_buffer.committed", item_id="u1", previous_item_id=None)
    if bad_line:
        s.raw("{not json")
    s.server(1100, "response.created", response={"id": "resp_1", "status": "in_progress"})
    s.server(1300, "response.output_audio.delta", response_id="resp_1", delta=AGENT_AUDIO)
    s.server(
        1900,
        "response.done",
        response={"id": "resp_1", "status": "completed", "usage": usage(10, 40, 5, 25)},
    )
    s.close(2000)
    return s.write(path)


@pytest.fixture
def recording(tmp_path: Path) -> Path:
    return write_session(tmp_path / "api.jsonl")


def counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return {
        t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # type: ignore[index]
        for t in ("sessions", "events", "turns", "responses", "ingest_errors")
    }


# 9 event lines (header and close are not events); 1 committed user turn; 1 response
EXPECTED = {"sessions": 1, "events": 8, "turns": 1, "responses": 1, "ingest_errors": 0}


def test_import_rtlens_is_cheap() -> None:
    code = (
        "import sys, rtlens; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'duckdb', 'numpy', 'websockets'}), "
        "callable(rtlens.report), callable(rtlens.load))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[] True True"


def test_load_in_memory_has_the_tables_and_views(recording: Path) -> None:
    con = rtlens.load([recording])
    assert counts(con) == EXPECTED
    # response 1: 10 + 40 input tokens, 5 + 25 output tokens
    row = con.execute("SELECT input_tokens, output_tokens FROM responses").fetchone()
    assert row == (50, 30)
    assert con.execute("SELECT count(*) FROM turn_latency").fetchone() == (1,)  # a view


def test_load_into_a_file_then_connect(recording: Path, tmp_path: Path) -> None:
    db = tmp_path / "rt.duckdb"
    con = rtlens.load([recording], db=db)
    assert counts(con) == EXPECTED
    con.close()
    again = rtlens.connect(db)
    assert counts(again) == EXPECTED
    with pytest.raises(duckdb.Error):  # read-only: the API never changes a database it opens
        again.execute("DELETE FROM sessions")


def test_connect_names_a_missing_database(tmp_path: Path) -> None:
    missing = tmp_path / "nope.duckdb"
    with pytest.raises(rtlens.InputError, match=f"^{missing}: no such database"):
        rtlens.connect(missing)


def test_a_bad_line_lands_in_ingest_errors(tmp_path: Path) -> None:
    con = rtlens.load([write_session(tmp_path / "bad.jsonl", bad_line=True)])
    assert counts(con) == {**EXPECTED, "ingest_errors": 1}
    # header is line 1, then 5 event lines: the bad line is line 7
    assert con.execute("SELECT line_no FROM ingest_errors").fetchall() == [(7,)]


def test_events_are_typed_records_in_file_order(recording: Path) -> None:
    got = list(rtlens.events(recording))
    assert [e.type for e in got] == [
        "session.created",
        "input_audio_buffer.append",
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "response.created",
        "response.output_audio.delta",
        "response.done",
    ]
    assert [e.line for e in got] == list(range(2, 10))  # line 1 is the header
    assert [e.direction for e in got][:3] == ["server", "client", "server"]
    append = got[1]
    assert append.ts == pytest.approx(START + 0.100, abs=1e-6)
    assert append.audio_bytes == 48_000 and append.event["audio"] == ""
    assert got[-1].event["response"]["usage"]["output_tokens"] == 30


def test_events_stop_at_a_bad_line_naming_file_and_line(tmp_path: Path) -> None:
    path = write_session(tmp_path / "bad.jsonl", bad_line=True)
    seen: list[int] = []
    with pytest.raises(rtlens.InputError, match=f"^{path}:7: "):
        seen.extend(event.line for event in rtlens.events(path))
    assert seen == [2, 3, 4, 5, 6]
    assert len(list(rtlens.events(path, skip_bad_lines=True))) == 8


def test_report_is_what_report_json_prints(recording: Path) -> None:
    data = rtlens.report([recording])
    printed = subprocess.run(
        [sys.executable, "-m", "rtlens", "report", "--json", str(recording)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert data == json.loads(printed)
    assert json.dumps(data, indent=2) + "\n" == printed  # same text, key order and all
    assert data["sessions"] == 1 and data["turns"] == 1 and data["responses"] == 1
    assert data["tokens"]["input"] == 50 and data["tokens"]["output"] == 30
    assert data["tokens"]["input_audio"] == 40 and data["tokens"]["output_audio"] == 25


def test_report_of_a_database(recording: Path, tmp_path: Path) -> None:
    db = tmp_path / "rt.duckdb"
    rtlens.load([recording], db=db).close()
    assert rtlens.report(db=db)["tokens"]["total"] == 80  # 50 in + 30 out


def test_write_wav_puts_the_reply_on_the_right_channel(recording: Path, tmp_path: Path) -> None:
    out = tmp_path / "session.wav"
    result = rtlens.write_wav(recording, out, mode="generated")
    assert result.path == out
    with wave.open(str(out)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (2, 2, 24_000)
        frames = wav.readframes(wav.getnframes())
    samples = memoryview(frames).cast("h")
    left, right = samples[0::2], samples[1::2]
    assert sum(1 for v in left if v) == 0  # the user's audio was silence
    assert sum(1 for v in right if v == 16) == 12_000  # all of the reply, nothing else


def test_write_wav_without_audio_says_so(tmp_path: Path) -> None:
    s = Session("no-audio")
    s.server(0, "session.created", event_id="e0", session=ga_session())
    path = s.write(tmp_path / "quiet.jsonl")
    with pytest.raises(rtlens.NoAudioError, match="no audio to write"):
        rtlens.write_wav(path, tmp_path / "quiet.wav")

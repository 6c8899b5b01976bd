"""A phone (SIP) call recorded from its sideband: ingest calls its transport `sip`, the
report says "over SIP". Only phone calls carry keypad presses
(`input_audio_buffer.dtmf_event_received`, protocol §9c); without one, the same WebRTC-style
call (output_audio_buffer.*, no audio deltas) is `webrtc`.
"""

from __future__ import annotations

from pathlib import Path

from builders import Session, ga_session, usage
from click.testing import CliRunner

from rtlens.cli import main
from rtlens.ingest.normalize import normalize_file
from rtlens.schema import TABLES


def _call(path: Path, *, dtmf: bool) -> Path:
    s = Session("sip-call").server(0, "session.created", event_id="e0", session=ga_session())
    if dtmf:
        s.server(900, "input_audio_buffer.dtmf_event_received", event="5", received_at=1764067053)
    s.server(1000, "input_audio_buffer.speech_started", audio_start_ms=700, item_id="i1")
    s.server(1500, "input_audio_buffer.speech_stopped", audio_end_ms=1700, item_id="i1")
    s.server(1600, "response.created", response={"id": "r1", "status": "in_progress"})
    s.server(1900, "output_audio_buffer.started", response_id="r1")
    s.server(
        2500,
        "response.done",
        response={"id": "r1", "status": "completed", "usage": usage(10, 20, 5, 50)},
    )
    s.server(4000, "output_audio_buffer.stopped", response_id="r1")
    return s.close(4100, by="server").write(path)


def _session(path: Path) -> dict:
    result = normalize_file(str(path))
    names = TABLES["sessions"].column_names
    [row] = result.rows["sessions"]
    return dict(zip(names, row, strict=True))


def test_keypad_presses_make_the_transport_sip(tmp_path):
    sip = _session(_call(tmp_path / "sip.jsonl", dtmf=True))
    webrtc = _session(_call(tmp_path / "webrtc.jsonl", dtmf=False))
    assert (sip["transport"], webrtc["transport"]) == ("sip", "webrtc")


def test_the_report_says_over_sip(tmp_path):
    path = _call(tmp_path / "sip.jsonl", dtmf=True)
    result = CliRunner().invoke(main, ["report", str(path)])
    assert result.exit_code == 0, result.output
    assert "GA over SIP" in result.output

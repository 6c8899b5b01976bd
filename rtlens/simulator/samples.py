"""Make the project's sample logs: scripted apps talk through `rtlens record` to the simulator.

Everything runs on loopback in one process: a simulator, a recording relay in front of it,
and one scripted app per sample, all concurrently and in real time (pace 1), so the
recordings carry realistic timings. Regenerate the bundled ones with:

    python -m rtlens.simulator.samples sample_logs/
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Sample:
    name: str
    script: str
    dialect: str
    scenario: str = "default"
    seed: int = 1
    shows: str = ""
    redact_audio: bool = True  # keeps files small: audio is replaced by its byte count


# fmt: off
SAMPLES: tuple[Sample, ...] = (
    Sample("beta_voice_conversation", "conversation", "beta", seed=11,
           shows="an ordinary voice conversation in the beta dialect (pcm16, server VAD, "
                 "whisper-1 transcription)"),
    Sample("ga_voice_conversation", "conversation", "ga", seed=12,
           shows="the same kind of conversation in the GA dialect that OpenAI serves today"),
    Sample("beta_barge_in", "barge_in", "beta", seed=13,
           shows="a caller who talks over the assistant: turn_detected cancellations, the "
                 "app's truncates, audio generated but never heard"),
    Sample("ga_function_calling", "function_calling", "ga", scenario="tools", seed=14,
           shows="tool calls: arguments streamed, the app's function_call_output after its "
                 "tool time, then a follow-up response"),
    Sample("beta_errors_transcription_failed", "errors", "beta",
           scenario="transcription-failure", seed=15,
           shows="error events answering bad client events (unknown type, non-JSON text, a "
                 "binary frame, cancel with nothing active, truncate past the end) and failed "
                 "input transcriptions"),
    Sample("ga_rate_limited", "conversation", "ga", scenario="rate-limit", seed=17,
           shows="rate-limit exhaustion: headroom runs down and a response fails with "
                 "rate_limit_exceeded"),
    Sample("ga_text_and_out_of_band", "text", "ga", seed=19,
           shows="text turns and an out-of-band response (conversation: none)"),
    Sample("ga_twilio_g711", "twilio_ulaw", "ga", seed=16, redact_audio=False,
           shows="a phone-style session: G.711 mu-law audio in 20 ms frames, audio kept"),
    Sample("ga_manual_turns", "manual", "ga", seed=18, redact_audio=False,
           shows="push-to-talk: no VAD; the app commits and asks for each response; pcm16 "
                 "audio kept"),
)
# fmt: on


async def record_samples(
    out_dir: Path, samples: tuple[Sample, ...] = SAMPLES, *, pace: float = 1.0
) -> list[Path]:
    """Record every sample at once, each through its own relay, in front of one simulator."""
    from rtlens.simulator import SimulatorConfig, serve

    out_dir.mkdir(parents=True, exist_ok=True)
    async with serve("127.0.0.1", 0, SimulatorConfig(seed=0, pace=pace), log=None) as sim:
        return list(
            await asyncio.gather(*(_record_one(sim.port, s, out_dir, pace) for s in samples))
        )


async def _record_one(sim_port: int, sample: Sample, out_dir: Path, pace: float) -> Path:
    from rtlens.recording import serve_relay
    from rtlens.simulator.apps import run_app

    with tempfile.TemporaryDirectory() as raw_dir:
        async with serve_relay(
            "127.0.0.1",
            0,
            upstream=f"ws://127.0.0.1:{sim_port}",
            out_dir=raw_dir,
            redact_audio=sample.redact_audio,
            report=None,
        ) as relay:
            query = f"?rtlens_scenario={sample.scenario}" if sample.scenario != "default" else ""
            await run_app(
                f"ws://127.0.0.1:{relay.port}/v1/realtime{query}",
                script=sample.script,
                dialect=sample.dialect,
                seed=sample.seed,
                pace=pace,
            )
        (recording,) = Path(raw_dir).glob("*.jsonl")
        target = out_dir / f"{sample.name}.jsonl"
        target.write_bytes(recording.read_bytes())
    return target


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else Path("sample_logs")
    for path in asyncio.run(record_samples(out)):
        print(f"{path}  {path.stat().st_size / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

"""The official `openai` SDK can hold a realtime session against the simulator."""

from __future__ import annotations

import base64

import openai


def test_openai_sdk_session(realtime):
    async def go():
        async with realtime.server() as srv:
            client = openai.AsyncOpenAI(
                api_key="sk-test", websocket_base_url=f"ws://127.0.0.1:{srv.port}/v1"
            )
            seen = []
            async with client.realtime.connect(model="gpt-realtime") as conn:
                await conn.session.update(
                    session={
                        "type": "realtime",
                        "output_modalities": ["audio"],
                        "audio": {"input": {"turn_detection": None}},
                    }
                )
                await conn.conversation.item.create(
                    item={
                        "type": "message",
                        "role": "user",
                        "content": [{"type": "input_text", "text": "Say something."}],
                    }
                )
                await conn.response.create()
                async for event in conn:
                    seen.append(event)
                    if event.type == "response.done":
                        break
            await client.close()
            return seen

    events = realtime.run(go())
    types = [e.type for e in events]
    assert types[0] == "session.created" and "session.updated" in types
    done = events[-1]
    assert done.response.status == "completed"
    assert done.response.usage.total_tokens == (
        done.response.usage.input_tokens + done.response.usage.output_tokens
    )
    audio = b"".join(
        base64.b64decode(e.delta) for e in events if e.type == "response.output_audio.delta"
    )
    assert len(audio) > 24000  # at least half a second of pcm16
    transcript = "".join(
        e.delta for e in events if e.type == "response.output_audio_transcript.delta"
    )
    assert transcript == done.response.output[0].content[0].transcript

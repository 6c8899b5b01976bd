// One Realtime turn with the Node openai SDK, the two ways README documents for reaching
// the rtlens relay:
//   node realtime_turn.mjs websocket-onurl http://127.0.0.1:8765/v1   (ws://, onURL hook)
//   node realtime_turn.mjs ws-tls https://127.0.0.1:8765/v1            (wss://, --tls-cert)
// Prints the server event types it saw as one JSON line, then exits (2 on an SDK error).
import OpenAI from 'openai';
import { OpenAIRealtimeWebSocket } from 'openai/realtime/websocket';
import { OpenAIRealtimeWS } from 'openai/realtime/ws';

const [mode, baseURL] = process.argv.slice(2);
const client = new OpenAI({ apiKey: process.env.OPENAI_API_KEY, baseURL });

const rt =
  mode === 'websocket-onurl'
    ? // The SDK forces wss: on the URL it builds; onURL gets that URL before the socket
      // opens, so it can point it back at ws://.
      new OpenAIRealtimeWebSocket(
        { model: 'gpt-realtime', onURL: (url) => { url.protocol = 'ws:'; } },
        client,
      )
    : new OpenAIRealtimeWS({ model: 'gpt-realtime' }, client);

const seen = [];
rt.on('error', (err) => {
  console.error(`sdk error: ${err.message}`);
  process.exit(2);
});
rt.on('event', (event) => {
  seen.push(event.type);
  if (event.type === 'session.created') {
    rt.send({
      type: 'conversation.item.create',
      item: { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Say hello.' }] },
    });
    rt.send({ type: 'response.create' });
  } else if (event.type === 'response.done') {
    rt.close({ code: 1000, reason: 'done' });
  }
});
const closed = (code) => {
  console.log(JSON.stringify({ url: rt.url.toString(), seen, code }));
};
if (mode === 'websocket-onurl') rt.socket.addEventListener('close', (ev) => closed(ev.code));
else rt.socket.on('close', (code) => closed(code));

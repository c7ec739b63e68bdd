// `server.engine: node` on the wire, no proxy in front: HTTP/1.0 requests are answered (what uWS
// 20.30 never does), a whole body with its Content-Length, a stream without framing lines and
// ended by the close (RFC 9112 §6.3), an HTTP/1.0 keep-alive request keeps its connection, and
// HTTP/1.1 keeps chunked streams and keep-alive. Raw sockets, so the bytes are seen.
import { connect } from 'node:net';
import t from 'tap';
import { startBackends, startCorral } from '../helpers/corral-process.js';
import { answer, HI, MODEL } from '../helpers/sim.js';

/** Writes `request`, reads until the server closes or `until` matches what came. */
function exchange(port: number, request: string, until: RegExp | null = null): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(request));
    let text = '';
    let done = false;
    const finish = (closed: boolean): void => {
      if (done) return;
      done = true;
      socket.destroy();
      resolve({ text, closed });
    };
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      text += d;
      if (until !== null && until.test(text)) finish(false);
    });
    socket.on('close', () => finish(true));
    socket.on('error', reject);
    socket.setTimeout(10_000, () => reject(new Error(`no close within 10 s: ${JSON.stringify(text)}`)));
  });
}

function split(text: string): { status: string; head: string; body: string } {
  const end = text.indexOf('\r\n\r\n');
  return { status: text.slice(0, text.indexOf('\r\n')), head: text.slice(0, end), body: text.slice(end + 4) };
}

t.test('server.engine node answers HTTP/1.0 and 1.1', async (t) => {
  const [sim] = await startBackends(t, [{ name: 'a' }]);
  const corral = await startCorral(t, [sim!], { config: { server: { engine: 'node', workers: 1 } } });
  const chat = (stream: boolean): string => JSON.stringify({ model: MODEL, messages: HI, stream });

  t.test('HTTP/1.0 GET: a whole body with its length, then the close', async (t) => {
    const r = await exchange(corral.port, 'GET /api/tags HTTP/1.0\r\n\r\n');
    const { status, head, body } = split(r.text);
    t.equal(status, 'HTTP/1.1 200 OK');
    t.match(head, /\r\nContent-Length: \d+/);
    t.match(head, /\r\nConnection: close/i);
    t.match(JSON.parse(body), { models: [{ name: MODEL }] });
    t.ok(r.closed);
  });

  t.test('HTTP/1.0 streamed chat: NDJSON lines without framing, ended by the close', async (t) => {
    const b = chat(true);
    const r = await exchange(corral.port, `POST /api/chat HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: ${b.length}\r\n\r\n${b}`);
    const { status, head, body } = split(r.text);
    t.equal(status, 'HTTP/1.1 200 OK');
    t.notMatch(head, /transfer-encoding|content-length/i, 'no chunked coding, no length: the close ends it');
    t.match(head, /\r\nx-corral-endpoint: a/);
    const lines = body.trim().split('\n').map((l) => JSON.parse(l) as { message: { content: string }; done: boolean });
    t.equal(lines.map((l) => l.message.content).join(''), answer('a'), 'every token, whole lines');
    t.equal(lines.at(-1)?.done, true);
    t.ok(r.closed);
  });

  t.test('HTTP/1.0 with Connection: keep-alive keeps the connection after a whole body', async (t) => {
    const b = chat(false);
    const r = await exchange(corral.port,
      `POST /api/chat HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: ${b.length}\r\n\r\n${b}`, /"done":true[^]*\}$/);
    t.match(split(r.text).head, /\r\nConnection: keep-alive/i);
    t.notOk(r.closed, 'still open after the answer');
  });

  t.test('HTTP/1.1: a stream is chunked; an unknown model is a 404 in the dialect', async (t) => {
    const b = chat(true);
    const r = await exchange(corral.port, `POST /api/chat HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: ${b.length}\r\n\r\n${b}`);
    t.match(split(r.text).head, /\r\nTransfer-Encoding: chunked/i);
    t.match(r.text, /0\r\n\r\n$/, 'the last chunk');
    const nf = JSON.stringify({ model: 'nope', messages: HI });
    const e = await exchange(corral.port, `POST /v1/chat/completions HTTP/1.0\r\nContent-Length: ${nf.length}\r\n\r\n${nf}`);
    t.equal(split(e.text).status, 'HTTP/1.1 404 Not Found');
    t.match(JSON.parse(split(e.text).body), { error: { code: 'CORRAL_ERR_MODEL_NOT_FOUND' } });
  });
});

// The response head corral writes for a proxied answer (issue 4, Optimisation 9: one uWS call per
// head): a backend's header lines arrive at the client byte for byte — latin1 bytes ≥ 0x80, odd
// spacing, repeated fields, long values — beside corral's own x-corral-* lines, with the backend's
// framing and hop-by-hop lines replaced by corral's, whether the body is whole or streamed.
import { once } from 'node:events';
import { connect } from 'node:net';
import t, { type Test } from 'tap';
import { startCorral } from '../helpers/corral-process.js';
import { readRequests, startRawServer } from '../helpers/raw-backend.js';
import { MODEL } from '../helpers/sim.js';

/** The header lines the backend sends with every answer, in order, exactly as they go on the wire. */
const LINES = [
  'X-Latin: caf\u00e9 cr\u00e8me',                   // written as latin1 bytes 0xE9, 0xE8 (obs-text)
  'X-Spaced:    padded value   ',
  'Set-Cookie: a=1; Path=/',
  'Set-Cookie: b=2; Path=/',
  `X-Long: ${'v'.repeat(6000)}`,
  'content-type: application/x-ndjson',
];
/** `?short`: without the long line, so the head fits the parser's first text window and corral's head is short too. */
function linesFor(path: string): string[] {
  return path.endsWith('?short') ? LINES.filter((l) => !l.startsWith('X-Long')) : LINES;
}

/** Lines the backend sends that corral must not pass on. */
const DROPPED = ['Connection: keep-alive', 'Keep-Alive: timeout=5', 'Server: raw-backend', 'Date: Thu, 01 Jan 1970 00:00:00 GMT'];

const ANSWER = `${JSON.stringify({ model: MODEL, message: { role: 'assistant', content: 'ok' }, done: true })}\n`;

/** The answer to one request: whole or chunked bodies, heads written by hand (node:http would normalise them). */
function answer(method: string, path: string): Buffer {
  if (method === 'GET') {
    const body = path === '/api/tags' ? JSON.stringify({ models: [{ name: MODEL, model: MODEL }] })
      : path === '/api/ps' ? JSON.stringify({ models: [] }) : JSON.stringify({ version: '0.5.0' });
    return Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`, 'latin1');
  }
  const streamed = path.startsWith('/api/generate');
  const framing = streamed ? 'Transfer-Encoding: chunked' : `Content-Length: ${ANSWER.length}`;
  const head = `HTTP/1.1 200 OK\r\n${[...linesFor(path), ...DROPPED, framing].join('\r\n')}\r\n\r\n`;
  if (!streamed) return Buffer.from(head + ANSWER, 'latin1');
  const half = ANSWER.length >> 1;
  return Buffer.from(`${head}${half.toString(16)}\r\n${ANSWER.slice(0, half)}\r\n`
    + `${(ANSWER.length - half).toString(16)}\r\n${ANSWER.slice(half)}\r\n0\r\n\r\n`, 'latin1');
}

/** A keep-alive HTTP/1.1 backend over plain TCP: reads each request (Content-Length bodies) and answers it. */
function startRawBackend(t: Test): Promise<number> {
  return startRawServer(t, (socket) => readRequests(socket, (_head, method, path) => {
    socket.write(answer(method, path));
  }));
}

/** Sends one POST over a raw socket and returns the response's head as latin1 text and its body. */
async function rawPost(port: number, path: string): Promise<{ head: string; body: string }> {
  const body = JSON.stringify({ model: MODEL, stream: path.startsWith('/api/generate'), messages: [{ role: 'user', content: 'hi' }], prompt: 'hi' });
  const socket = connect(port, '127.0.0.1');
  socket.write(`POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  await once(socket, 'close');
  const all = Buffer.concat(chunks);
  const end = all.indexOf('\r\n\r\n');
  return { head: all.subarray(0, end).toString('latin1'), body: all.subarray(end + 4).toString('latin1') };
}

t.test('a backend\'s header lines reach the client byte for byte, beside corral\'s own', async (t) => {
  const port = await startRawBackend(t);
  const corral = await startCorral(t, [], {
    endpoints: [{ name: 'raw', url: `http://127.0.0.1:${port}`, type: 'ollama', models: [MODEL] }],
  });
  await corral.waitForLog((l) => l.msg === 'endpoint healthy' && l.endpoint === 'raw');

  for (const [path, streamed] of [['/api/chat', false], ['/api/generate', true], ['/api/chat?short', false], ['/api/generate?short', true]] as const) {
    const { head, body } = await rawPost(corral.port, path);
    const lines = head.split('\r\n');
    t.equal(lines[0], 'HTTP/1.1 200 OK', `${path}: status line`);
    for (const line of linesFor(path)) t.ok(lines.includes(line), `${path}: passed on as sent: ${line.slice(0, 40)}`);
    t.equal(lines.filter((l) => l.startsWith('Set-Cookie: ')).length, 2, `${path}: both Set-Cookie lines`);
    for (const line of DROPPED) t.notOk(lines.includes(line), `${path}: not passed on: ${line}`);
    t.equal(lines.filter((l) => /^date:/i.test(l)).length, 1, `${path}: one Date line (uWS's own)`);
    t.match(head, /\r\nx-corral-request-id: [\w-]+\r\n/, `${path}: corral's request id`);
    t.match(head, /\r\nx-corral-endpoint: raw\r\nx-corral-route: [a-z-]+\r\nx-corral-retries: 0(\r\n|$)/, `${path}: corral's routing lines`);
    if (streamed) {
      t.ok(lines.some((l) => /^transfer-encoding: chunked$/i.test(l)), `${path}: re-framed by corral as a stream`);
      t.match(body, /"done":true/, `${path}: the streamed body arrives`);
    } else {
      t.ok(lines.includes(`Content-Length: ${ANSWER.length}`), `${path}: corral's own Content-Length`);
      t.equal(body, ANSWER, `${path}: the body unchanged`);
    }
    // The raw bytes: 0xE9 and 0xE8 as themselves, not re-encoded as UTF-8 (C3 A9, C3 A8).
    const bytes = Buffer.from(head, 'latin1');
    t.ok(bytes.includes(Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x20, 0x63, 0x72, 0xe8])), `${path}: latin1 bytes unchanged`);
    t.notOk(bytes.includes(Buffer.from([0xc3, 0xa9])), `${path}: no UTF-8 re-encoding`);
  }
});

t.test('a client\'s request id that cannot be echoed as it is cannot break the head either', async (t) => {
  // A request refused before its headers are checked (431: headers too large) still echoes the
  // caller's id; uWS hands corral the value as text, in which anything outside printable ASCII is masked.
  const port = await startRawBackend(t);
  const corral = await startCorral(t, [], {
    endpoints: [{ name: 'raw', url: `http://127.0.0.1:${port}`, type: 'ollama', models: [MODEL] }],
    config: { server: { max_header_size: '1KiB' } },
  });
  const socket = connect(corral.port, '127.0.0.1');
  // (uWS 20.30 drops a request whose header value holds a control character other than DEL: not sent here.)
  const id = Buffer.concat([Buffer.from('id-'), Buffer.from([0xe9, 0x7f]), Buffer.from('-end')]);
  socket.write(Buffer.concat([
    Buffer.from('GET /api/tags HTTP/1.1\r\nHost: x\r\nx-request-id: '), id,
    Buffer.from(`\r\nx-filler: ${'f'.repeat(2000)}\r\nConnection: close\r\n\r\n`),
  ]));
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  await once(socket, 'close');
  const text = Buffer.concat(chunks).toString('latin1');
  t.match(text, /^HTTP\/1\.1 431 /, 'refused: headers too large');
  const echoed = /\r\nx-corral-request-id: ([^\r\n]*)\r\n/.exec(text);
  t.ok(echoed, 'the id is echoed on a line of its own');
  t.match(echoed![1]!, /^id-\?+-end$/, 'each character outside printable ASCII written as ?');
  t.match(text, /\r\ncontent-type: application\/json; charset=utf-8\r\n/, 'the lines after it intact');
});

// Uploads that corral refuses while the client is still sending (issue 10, items 4 and 5):
// - a body over server.max_body_size gets its 413 at once — announced by Content-Length or
//   passing the limit chunked — and the common clients (curl, the openai and ollama clients,
//   undici) read it although they are mid-upload: corral reads and drops the rest before it
//   closes instead of resetting the connection under them;
// - server.body_timeout is what bounds a body, slow or stalled, even past the ~10 s after which
//   uWebSockets.js would drop an upload bringing under 16 KiB per 10 s without a response.
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import t from 'tap';
import OpenAI from 'openai';
import { Ollama } from 'ollama';
import { request } from 'undici';
import { startBackends, startCorral } from '../helpers/corral-process.js';
import { MODEL } from '../helpers/sim.js';

const run = promisify(execFile);
const BIG = 8 * 1024 * 1024;

t.test('413 over max_body_size reaches every common client while it is still uploading', async (t) => {
  const sims = await startBackends(t, [{ name: 'a' }]);
  const corral = await startCorral(t, sims, { config: { server: { max_body_size: '1MiB' } } });
  const dir = mkdtempSync(join(tmpdir(), 'corral-upload-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const bigChat = JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'x'.repeat(BIG) }], stream: false });
  const file = join(dir, 'big.json');
  writeFileSync(file, bigChat);

  await t.test('openai client (Content-Length)', async (t) => {
    const ai = new OpenAI({ baseURL: `${corral.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const err = await ai.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'x'.repeat(BIG) }] }).then(() => null, (e) => e);
    t.ok(err instanceof OpenAI.APIError, `an APIError (got ${err?.constructor?.name}: ${err?.message})`);
    t.equal(err?.status, 413);
    t.equal(err?.code, 'CORRAL_ERR_BODY_TOO_LARGE');
  });

  await t.test('ollama client (Content-Length)', async (t) => {
    const ollama = new Ollama({ host: corral.url });
    const err = await ollama.chat({ model: MODEL, messages: [{ role: 'user', content: 'x'.repeat(BIG) }] }).then(() => null, (e) => e);
    t.equal(err?.status_code, 413, `a ResponseError with the status (got ${err?.name}: ${err?.message})`);
    t.match(String(err?.message), /max_body_size/, 'and corral\'s message');
  });

  await t.test('undici, Content-Length and chunked', async (t) => {
    const fixed = await request(`${corral.url}/api/chat`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: bigChat });
    t.equal(fixed.statusCode, 413);
    t.equal((await fixed.body.json() as any).code, 'CORRAL_ERR_BODY_TOO_LARGE');
    let sent = 0;
    const stream = new Readable({
      read() {
        // 64 KiB pieces until 8 MiB: no length announced, so the body goes chunked.
        if (sent >= BIG) return void this.push(null);
        sent += 65536;
        this.push(Buffer.alloc(65536, 0x20));
      },
    });
    const chunked = await request(`${corral.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: stream });
    t.equal(chunked.statusCode, 413);
    t.equal((await chunked.body.json() as any).error?.code, 'CORRAL_ERR_BODY_TOO_LARGE');
  });

  await t.test('curl, Content-Length (with Expect: 100-continue) and chunked', async (t) => {
    for (const extra of [[], ['-H', 'Expect:'], ['-H', 'Transfer-Encoding: chunked']]) {
      const { stdout } = await run('curl', ['-s', '-S', '-o', '-', '-w', '\n%{http_code}', '-H', 'content-type: application/json', ...extra,
        '--data-binary', `@${file}`, `${corral.url}/api/chat`]);
      const cut = stdout.lastIndexOf('\n');
      const body = stdout.slice(0, cut);
      const code = stdout.slice(cut + 1);
      t.equal(code, '413', `curl ${extra.join(' ') || '(defaults)'}: 413`);
      t.equal(JSON.parse(body).code, 'CORRAL_ERR_BODY_TOO_LARGE', `curl ${extra.join(' ') || '(defaults)'}: the error body`);
    }
  });

  const after = await request(`${corral.url}/api/chat`, { method: 'POST', body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], stream: false }) });
  t.equal(after.statusCode, 200, 'a normal request is served afterwards');
  await after.body.dump();
});

/**
 * Sends the head, then the body a byte every `tickMs`, up to `upTo` bytes; collects the answer.
 * `chunked`: the head announces a chunked body (and no byte of it is sent).
 */
async function dribble(port: number, body: string, tickMs: number, upTo: number, chunked = false): Promise<{ response: string; closed: boolean }> {
  const socket = connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  socket.on('error', () => {});
  await once(socket, 'connect');
  socket.write(`POST /api/chat HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n${chunked ? 'Transfer-Encoding: chunked' : `Content-Length: ${body.length}`}\r\n\r\n`);
  let response = '';
  let i = 0;
  const drip = setInterval(() => {
    if (i < upTo && response === '') socket.write(body[i++]!);
  }, tickMs);
  socket.on('data', (d: Buffer) => {
    response += d.toString('latin1');
  });
  let idle = false;
  socket.setTimeout(40_000, () => {
    idle = true;
    socket.destroy();
  });
  await once(socket, 'close');
  clearInterval(drip);
  return { response, closed: !idle };
}

t.test('body_timeout (16 s) bounds slow and stalled bodies, past uWS\'s own ~10 s', async (t) => {
  const sims = await startBackends(t, [{ name: 'a' }]);
  const corral = await startCorral(t, sims, { config: { server: { body_timeout: '16s' } } });
  const body = JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], stream: false });
  const [slow, stalled, chunkedStalled] = await Promise.all([
    // Every byte of the body over ~13 s: slower than uWS's 16 KiB per 10 s, within body_timeout.
    dribble(corral.port, body, Math.ceil(13_000 / body.length), body.length),
    // A third of it, then nothing.
    dribble(corral.port, body, 20, body.length / 3),
    // A chunked body whose first byte never comes (uWS calls no data handler until one does).
    dribble(corral.port, body, 20, 0, true),
  ]);
  t.match(slow.response, /^HTTP\/1\.1 200 /, 'the slow body is served');
  t.match(slow.response, /"done":true/, 'with the whole answer');
  t.match(stalled.response, /^HTTP\/1\.1 408 /, 'the stalled body gets 408 when body_timeout is up, not a dropped connection at ~10 s');
  t.match(stalled.response, /CORRAL_ERR_REQUEST_TIMEOUT/);
  t.match(stalled.response, /\r\nconnection: close\r\n/i, 'saying the connection closes');
  t.ok(stalled.closed, 'and corral closes it');
  t.match(chunkedStalled.response, /^HTTP\/1\.1 408 /, 'a chunked body stalled before its first byte: 408 too');
  t.ok(chunkedStalled.closed, 'and closed');
});

// https endpoints: the same pool over node:tls (loaded only for them). The certificate is a
// self-signed fixture for localhost (test/fixtures/tls, valid for 100 years).
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { UpstreamPool } from '../../../src/upstream/upstream-pool.js';
import type { UpstreamConnection } from '../../../src/upstream/upstream-connection.js';
import type { UpstreamRequest } from '../../../src/upstream/upstream-request.js';

const fixture = (name: string) => readFileSync(new URL(`../../fixtures/tls/${name}`, import.meta.url));

class Probe implements UpstreamRequest {
  readonly bodySkip = 0;
  readonly requestHead = 'POST /api/chat HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n';
  readonly body = Buffer.from('{}');
  connection: UpstreamConnection | null = null;
  abandoned = false;
  status = 0;
  data = '';
  error: (Error & { code?: string }) | null = null;
  readonly done: Promise<void>;
  #resolve!: () => void;
  constructor() {
    this.done = new Promise((resolve) => (this.#resolve = resolve));
  }
  onUpstreamHead(status: number): void { this.status = status; }
  onUpstreamData(chunk: Buffer): boolean { this.data += chunk.toString('latin1'); return true; }
  onUpstreamEnd(): void { this.#resolve(); }
  onUpstreamError(err: Error): void { this.error = err; this.#resolve(); }
}

t.test('an https endpoint: certificates are verified; a trusted one serves streamed answers', { timeout: 10_000 }, async (t) => {
  const server = createServer({ key: fixture('localhost-key.pem'), cert: fixture('localhost-cert.pem') }, (req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      res.write('{"n":1}\n');
      res.end('{"n":2}\n');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const pool = new UpstreamPool(new URL(`https://localhost:${(server.address() as AddressInfo).port}`),
    { connect_timeout: 5000, first_byte_timeout: 5000, idle_timeout: 5000, connections: 4 });
  const previous = process.env.NODE_TLS_REJECT_UNAUTHORIZED;
  t.teardown(async () => {
    if (previous === undefined) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
    else process.env.NODE_TLS_REJECT_UNAUTHORIZED = previous;
    await pool.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const refused = new Probe();
  pool.dispatch(refused);
  await refused.done;
  t.equal(refused.status, 0, 'no answer over an unverified certificate');
  t.match(refused.error?.code, /SELF_SIGNED|UNABLE_TO_VERIFY/, `the verification error says why (${refused.error?.code})`);

  // Node 20 has no API to add a CA at run time; for the rest, verification is switched off.
  process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
  for (let i = 0; i < 2; i++) {
    const ok = new Probe();
    pool.dispatch(ok);
    await ok.done;
    t.equal(ok.error, null, `request ${i + 1}: no error`);
    t.equal(ok.status, 200);
    t.equal(ok.data, '{"n":1}\n{"n":2}\n', `request ${i + 1}: the chunked body, framing removed`);
  }
  t.equal(pool.connections.size, 1, 'the second request reused the TLS connection');
});

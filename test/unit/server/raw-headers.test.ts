import t from 'tap';
import { isSkippedHeader, rawContentLength } from '../../../src/server/raw-headers.js';

const raw = (...pairs: string[]) => pairs.map((s) => Buffer.from(s, 'latin1'));

t.test('hop-by-hop and framing headers are skipped whatever their case', async (t) => {
  for (const name of ['Connection', 'keep-alive', 'TRANSFER-ENCODING', 'Content-Length', 'date', 'Server', 'uWebSockets', 'TE', 'Trailer', 'Upgrade', 'Proxy-Connection']) {
    t.ok(isSkippedHeader(Buffer.from(name)), name);
  }
  for (const name of ['content-type', 'x-sim-backend', 'cache-control', 'x-request-id', 'tes', 'dates', 'set-cookie']) {
    t.notOk(isSkippedHeader(Buffer.from(name)), name);
  }
});

t.test('Content-Length is read from raw headers', async (t) => {
  t.equal(rawContentLength(raw('Content-Type', 'application/json', 'Content-Length', '173')), 173);
  t.equal(rawContentLength(raw('content-length', ' 42 ')), 42, 'optional whitespace');
  t.equal(rawContentLength(raw('transfer-encoding', 'chunked')), -1, 'absent');
  t.equal(rawContentLength(raw('content-length', '')), -1, 'empty');
  t.equal(rawContentLength(raw('content-length', '12a')), -1, 'not a number');
  t.equal(rawContentLength(raw('content-length', '0')), 0);
});

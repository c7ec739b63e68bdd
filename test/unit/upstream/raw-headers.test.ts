import t from 'tap';
import { equalsLowerAt, isSkippedHeader } from '../../../src/upstream/raw-headers.js';

t.test('hop-by-hop and framing headers are skipped whatever their case', async (t) => {
  for (const name of ['Connection', 'keep-alive', 'TRANSFER-ENCODING', 'Content-Length', 'date', 'Server', 'uWebSockets', 'TE', 'Trailer', 'Upgrade', 'Proxy-Connection']) {
    t.ok(isSkippedHeader(Buffer.from(name)), name);
  }
  for (const name of ['content-type', 'x-sim-backend', 'cache-control', 'x-request-id', 'tes', 'dates', 'set-cookie']) {
    t.notOk(isSkippedHeader(Buffer.from(name)), name);
  }
});

t.test('equalsLowerAt compares a name with a lower-case one ignoring ASCII case only', async (t) => {
  const equalsLower = (name: Buffer, lower: Buffer) => equalsLowerAt(name, 0, name.length, lower);
  t.ok(equalsLower(Buffer.from('Content-Length'), Buffer.from('content-length')));
  t.notOk(equalsLower(Buffer.from('Content-Lengths'), Buffer.from('content-length')), 'length differs');
  t.notOk(equalsLower(Buffer.from('content_length'), Buffer.from('content-length')), 'one byte differs');
  t.notOk(equalsLower(Buffer.from([0xc3]), Buffer.from([0xe3])), 'no case folding outside ASCII');
});

t.test('isSkippedHeader reads a name at offsets inside a larger buffer', async (t) => {
  const head = Buffer.from('Connection: close\r\nContent-Type: text/plain\r\n', 'latin1');
  t.ok(isSkippedHeader(head, 0, 10), 'Connection');
  t.notOk(isSkippedHeader(head, 19, 31), 'Content-Type');
  t.notOk(isSkippedHeader(head, 0, 9), 'a prefix of a skipped name is not skipped');
});

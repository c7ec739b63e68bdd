import t from 'tap';
import { classifyHeader, equalsLowerAt, HeaderKind } from '../../../src/upstream/raw-headers.js';

t.test('hop-by-hop headers and those uWS writes itself are skipped whatever their case', async (t) => {
  for (const name of ['date', 'Server', 'uWebSockets', 'TE', 'Trailer', 'Upgrade', 'Proxy-Connection', 'DATE']) {
    t.equal(classifyHeader(Buffer.from(name)), HeaderKind.Skip, name);
  }
});

t.test('framing and connection headers are read by the parser, whatever their case', async (t) => {
  t.equal(classifyHeader(Buffer.from('Content-Length')), HeaderKind.ContentLength);
  t.equal(classifyHeader(Buffer.from('content-length')), HeaderKind.ContentLength);
  t.equal(classifyHeader(Buffer.from('TRANSFER-ENCODING')), HeaderKind.TransferEncoding);
  t.equal(classifyHeader(Buffer.from('Connection')), HeaderKind.Connection);
  t.equal(classifyHeader(Buffer.from('Keep-Alive')), HeaderKind.KeepAlive);
});

t.test('everything else is forwarded, including names one byte away from a known one', async (t) => {
  for (const name of ['content-type', 'x-sim-backend', 'cache-control', 'x-request-id', 'tes', 'dates', 'set-cookie',
    'Dave', 'server!', 'content_length', 'Aate', '!ate', 'a-very-long-header-name-indeed', 'x']) {
    t.equal(classifyHeader(Buffer.from(name)), HeaderKind.Forward, name);
  }
  // Same length and same low five bits of the first byte as "date" ('d' = 0x64, 'D' = 0x44, '$' = 0x24).
  t.equal(classifyHeader(Buffer.from('$ate')), HeaderKind.Forward, 'a non-letter sharing the first letter\'s low bits');
});

t.test('equalsLowerAt compares a name with a lower-case one ignoring ASCII case only', async (t) => {
  const equalsLower = (name: Buffer, lower: Buffer) => equalsLowerAt(name, 0, name.length, lower);
  t.ok(equalsLower(Buffer.from('Content-Length'), Buffer.from('content-length')));
  t.notOk(equalsLower(Buffer.from('Content-Lengths'), Buffer.from('content-length')), 'length differs');
  t.notOk(equalsLower(Buffer.from('content_length'), Buffer.from('content-length')), 'one byte differs');
  t.notOk(equalsLower(Buffer.from([0xc3]), Buffer.from([0xe3])), 'no case folding outside ASCII');
});

t.test('classifyHeader reads a name at offsets inside a larger buffer', async (t) => {
  const head = Buffer.from('Connection: close\r\nContent-Type: text/plain\r\n', 'latin1');
  t.equal(classifyHeader(head, 0, 10), HeaderKind.Connection, 'Connection');
  t.equal(classifyHeader(head, 19, 31), HeaderKind.Forward, 'Content-Type');
  t.equal(classifyHeader(head, 0, 9), HeaderKind.Forward, 'a prefix of a known name is forwarded');
});

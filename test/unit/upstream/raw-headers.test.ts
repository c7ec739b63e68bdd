import t from 'tap';
import { classifyHeader, equalsLowerText, HeaderKind } from '../../../src/upstream/raw-headers.js';

t.test('hop-by-hop headers and those uWS writes itself are skipped whatever their case', async (t) => {
  for (const name of ['date', 'Server', 'uWebSockets', 'TE', 'Trailer', 'Upgrade', 'Proxy-Connection', 'DATE']) {
    t.equal(classifyHeader(name), HeaderKind.Skip, name);
  }
});

t.test('framing and connection headers are read by the parser, whatever their case', async (t) => {
  t.equal(classifyHeader('Content-Length'), HeaderKind.ContentLength);
  t.equal(classifyHeader('content-length'), HeaderKind.ContentLength);
  t.equal(classifyHeader('TRANSFER-ENCODING'), HeaderKind.TransferEncoding);
  t.equal(classifyHeader('Connection'), HeaderKind.Connection);
  t.equal(classifyHeader('Keep-Alive'), HeaderKind.KeepAlive);
  // Neither the canonical nor the lower-case spelling: the character-by-character path.
  t.equal(classifyHeader('cOnTeNt-LeNgTh'), HeaderKind.ContentLength);
  t.equal(classifyHeader('KEEP-ALIVE'), HeaderKind.KeepAlive);
  t.equal(classifyHeader('Transfer-encoding'), HeaderKind.TransferEncoding);
});

t.test('everything else is forwarded, including names one byte away from a known one', async (t) => {
  for (const name of ['content-type', 'x-sim-backend', 'cache-control', 'x-request-id', 'tes', 'dates', 'set-cookie',
    'Dave', 'server!', 'content_length', 'Aate', '!ate', 'a-very-long-header-name-indeed', 'x']) {
    t.equal(classifyHeader(name), HeaderKind.Forward, name);
  }
  // Same length and same low five bits of the first byte as "date" ('d' = 0x64, 'D' = 0x44, '$' = 0x24).
  t.equal(classifyHeader('$ate'), HeaderKind.Forward, 'a non-letter sharing the first letter\'s low bits');
  t.equal(classifyHeader('\u00c4ate'), HeaderKind.Forward, 'a latin1 letter sharing them: no case folding outside ASCII');
  t.equal(classifyHeader('Content-Lengtx'), HeaderKind.Forward, 'the last character differs');
});

t.test('equalsLowerText compares a name with a lower-case one ignoring ASCII case only', async (t) => {
  const equalsLower = (name: string, lower: string) => equalsLowerText(name, 0, name.length, lower);
  t.ok(equalsLower('Content-Length', 'content-length'));
  t.notOk(equalsLower('Content-Lengths', 'content-length'), 'length differs');
  t.notOk(equalsLower('content_length', 'content-length'), 'one character differs');
  t.notOk(equalsLower('\u00c3', '\u00e3'), 'no case folding outside ASCII');
  t.ok(equalsLowerText('Connection: Keep-Alive', 12, 22, 'keep-alive'), 'at offsets inside a longer text');
});

t.test('classifyHeader reads a name at offsets inside the text of a head', async (t) => {
  const head = 'Connection: close\r\nContent-Type: text/plain\r\n';
  t.equal(classifyHeader(head, 0, 10), HeaderKind.Connection, 'Connection');
  t.equal(classifyHeader(head, 19, 31), HeaderKind.Forward, 'Content-Type');
  t.equal(classifyHeader(head, 0, 9), HeaderKind.Forward, 'a prefix of a known name is forwarded');
});

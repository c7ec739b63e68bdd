import t from 'tap';
import { completeLength, endsAtBoundary, Framing, closingBytes } from '../../../src/protocol/stream-framing.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

t.test('SSE: an event ends at a blank line in any of its three line-ending forms', async (t) => {
  for (const whole of ['data: 1\n\n', 'data: 1\r\n\r\n', 'data: 1\r\r', ': ping\n\n', 'data: 1\n\ndata: 2\n\n']) {
    t.ok(endsAtBoundary(b(whole), Framing.Sse), JSON.stringify(whole));
    t.equal(completeLength(b(whole), Framing.Sse), whole.length, JSON.stringify(whole));
  }
  for (const [text, complete] of [
    ['data: 1\n\ndata: {"a"', 9], ['data: 1\n\ndata: 2\n', 9], ['data: 1\r\n\r\ndata: 2\r\n', 11], ['data: 1\r\rdata', 9],
    ['data: {"a":1}', 0], ['data: 1\n', 0], ['\n', 0], ['data: 1\n\nevent: x\n', 9],
  ] as const) {
    t.notOk(endsAtBoundary(b(text), Framing.Sse), JSON.stringify(text));
    t.equal(completeLength(b(text), Framing.Sse), complete, JSON.stringify(text));
  }
  t.equal(completeLength(b(''), Framing.Sse), 0);
});

t.test('NDJSON: a line ends at LF', async (t) => {
  t.equal(completeLength(b('{"a":1}\n'), Framing.Ndjson), 8);
  t.equal(completeLength(b('{"a":1}\r\n'), Framing.Ndjson), 9);
  t.equal(completeLength(b('{"a":1}\n{"b"'), Framing.Ndjson), 8);
  t.equal(completeLength(b('{"a":1}'), Framing.Ndjson), 0);
  t.equal(completeLength(b('{}\n{}\n{'), Framing.Ndjson), 6);
});

t.test('what closes a partly sent event or line', async (t) => {
  t.equal(closingBytes(Framing.Sse), '\n\n');
  t.equal(closingBytes(Framing.Ndjson), '\n');
});

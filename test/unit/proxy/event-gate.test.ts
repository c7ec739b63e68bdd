import t from 'tap';
import { EventGate } from '../../../src/proxy/event-gate.js';
import { endsAtBoundary, Framing, MAX_HELD_EVENT } from '../../../src/protocol/stream-framing.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

t.test('whole events pass as they are, the same buffer, nothing held', async (t) => {
  const g = new EventGate(Framing.Sse);
  const chunk = b('data: 1\n\ndata: 2\n\n');
  t.equal(g.admit(chunk), chunk);
  t.equal(g.heldLength, 0);
  t.notOk(g.midEvent);
});

t.test('an event split over chunks leaves whole, in order, and the bytes are never changed', async (t) => {
  const streams = [
    'data: {"a":1}\n\ndata: {"b":22}\n\ndata: {"c":333}\n\ndata: [DONE]\n\n',
    'data: {"a":1}\r\n\r\ndata: {"b":22}\r\n\r\ndata: [DONE]\r\n\r\n',
    'data: 1\r\rdata: 22\r\rdata: 333\r\r',
  ];
  for (const stream of streams) {
    // Every split of the stream into three chunks: what leaves is the stream, each send ends on a boundary.
    for (let i = 0; i <= stream.length; i += 3) {
      for (let j = i; j <= stream.length; j += 5) {
        const g = new EventGate(Framing.Sse);
        const read = b(stream); // one buffer, as a connection's read buffer: the gate must copy what it holds
        let out = '';
        for (const [from, to] of [[0, i], [i, j], [j, stream.length]] as const) {
          const sent = g.admit(read.subarray(from, to));
          if (sent.length > 0) t.ok(endsAtBoundary(sent, Framing.Sse), `send ends on a boundary (${i}, ${j})`);
          out += sent.toString('latin1');
          read.fill(0x21, from, to); // the connection reads into the same buffer again
        }
        out += g.takeHeld()?.toString('latin1') ?? '';
        t.equal(out, stream, `split at ${i}, ${j}`);
      }
    }
  }
});

t.test('an event in many small reads: every byte split, boundaries straddling reads found', async (t) => {
  const stream = 'data: {"a":1}\r\n\r\ndata: {"b":22}\n\ndata: [DONE]\n\n';
  const g = new EventGate(Framing.Sse);
  const sends: string[] = [];
  for (let i = 0; i < stream.length; i++) {
    const sent = g.admit(b(stream[i]!)).toString('latin1');
    if (sent !== '') sends.push(sent);
  }
  t.same(sends, ['data: {"a":1}\r\n\r\n', 'data: {"b":22}\n\n', 'data: [DONE]\n\n'], 'one send per event, each whole');
  t.equal(g.takeHeld(), null);
});

t.test('NDJSON lines', async (t) => {
  const g = new EventGate(Framing.Ndjson);
  t.equal(g.admit(b('{"a":1}\n{"b"')).toString(), '{"a":1}\n');
  t.equal(g.heldLength, 4);
  t.equal(g.admit(b(':2}\n')).toString(), '{"b":2}\n');
  t.equal(g.heldLength, 0);
});

t.test('an event larger than MAX_HELD_EVENT is let through unfinished, and says so', async (t) => {
  const g = new EventGate(Framing.Sse);
  const big = Buffer.alloc(MAX_HELD_EVENT + 10, 0x61);
  t.equal(g.admit(b('data: 1\n\n')).length, 9);
  t.equal(g.admit(big).length, big.length, 'forwarded whole');
  t.ok(g.midEvent, 'the client has part of an event');
  t.equal(g.admit(b('aaa')).toString(), 'aaa', 'the rest of that event follows at once');
  t.equal(g.admit(b('a\n\ndata: {')).toString(), 'a\n\n', 'up to its end');
  t.notOk(g.midEvent, 'then whole events again');
  t.equal(g.takeHeld()?.toString(), 'data: {');
  t.equal(g.takeHeld(), null);
});

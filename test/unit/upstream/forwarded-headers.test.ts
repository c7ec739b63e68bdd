import t from 'tap';
import { ForwardedHeaders } from '../../../src/upstream/forwarded-headers.js';

t.test('lines are kept as corral writes them, each after its CRLF', async (t) => {
  const h = new ForwardedHeaders();
  t.equal(h.text, '');
  t.equal(h.count, 0);
  h.append('Content-Type: text/plain');
  h.append('X-Spaced:   a b  ');
  t.equal(h.text, '\r\nContent-Type: text/plain\r\nX-Spaced:   a b  ');
  t.equal(h.count, 2);
  t.same(h.toPairs(), ['Content-Type', 'text/plain', 'X-Spaced', 'a b'], 'pairs without the whitespace around values');
});

t.test('clear() starts over', async (t) => {
  const h = new ForwardedHeaders();
  h.append('X-A: plain');
  h.append('X-B: caf\u00e9');
  t.equal(h.count, 2);
  h.clear();
  t.equal(h.text, '');
  t.equal(h.count, 0);
  t.same(h.toPairs(), []);
});

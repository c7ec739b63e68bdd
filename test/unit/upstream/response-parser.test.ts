import { readFileSync } from 'node:fs';
import t from 'tap';
import { RESPONSE_CASES } from '../../fixtures/http-conformance.js';
import type { ForwardedHeaders } from '../../../src/upstream/forwarded-headers.js';
import { MAX_HEAD_BYTES, ResponseParser, type ResponseSink } from '../../../src/upstream/response-parser.js';

interface Head {
  status: number;
  headers: string[];
  contentLength: number;
}

/** Records every callback; body views are copied at once (they are valid only during the call). */
class RecordingSink implements ResponseSink {
  readonly heads: Head[] = [];
  /** The object the last head came in (the parser's own, refilled by its next head). */
  lastHeaders: ForwardedHeaders | null = null;
  /** Copies of the body views, one per onResponseData call. */
  readonly data: Buffer[] = [];
  /** The views themselves, for identity checks only. */
  readonly views: Buffer[] = [];
  readonly events: string[] = [];
  /** The last head's headers as text when the response ended: when corral writes them. */
  headersAtEnd: string[] = [];
  ends = 0;
  /** Set by the feeding code around execute(): every callback must come from within it. */
  inExecute = false;
  callsOutsideExecute = 0;

  onResponseHead(status: number, headers: ForwardedHeaders, contentLength: number): void {
    this.#seen();
    this.heads.push({ status, headers: headers.toPairs(), contentLength });
    this.lastHeaders = headers;
    this.events.push(`head ${status}`);
  }

  onResponseData(chunk: Buffer): void {
    this.#seen();
    this.data.push(Buffer.from(chunk));
    this.views.push(chunk);
    this.events.push('data');
  }

  onResponseEnd(): void {
    this.#seen();
    this.headersAtEnd = this.lastHeaders?.toPairs() ?? [];
    this.ends++;
    this.events.push('end');
  }

  get body(): string {
    return Buffer.concat(this.data).toString('latin1');
  }

  #seen(): void {
    if (!this.inExecute) this.callsOutsideExecute++;
  }
}

interface Fed {
  sink: RecordingSink;
  parser: ResponseParser;
  /** Offset in the input where parsing stopped (the end of the response or of the input), or -1 on an error. */
  end: number;
}

const bytes = (s: string | Buffer): Buffer => (typeof s === 'string' ? Buffer.from(s, 'latin1') : s);

/** What a reused read buffer holds around and after the bytes of a read: line ends, to catch a parser that looks past `end`. */
const STALE = Buffer.from('\r\n\r\n0\r\n\r\nHTTP/1.1 200 OK\r\n\r\n', 'latin1');
const LEAD = 4;

/**
 * Feeds `input` split at `splits` (ascending offsets) as the connection does: each piece is
 * copied into one reused read buffer (at an offset, with stale bytes around it) that is
 * scribbled over after every execute(). Stops at an error or when the response is complete.
 */
function feed(input: string | Buffer, splits: readonly number[] = [], parser?: ResponseParser): Fed {
  const src = bytes(input);
  const sink = parser === undefined ? new RecordingSink() : (parser.sink as RecordingSink);
  const p = parser ?? new ResponseParser(sink);
  const readBuf = Buffer.alloc(src.length + LEAD + STALE.length);
  const bounds = [0, ...splits, src.length];
  for (let k = 0; k + 1 < bounds.length; k++) {
    const from = bounds[k]!;
    const to = bounds[k + 1]!;
    if (to === from) continue;
    readBuf.fill(STALE);
    src.copy(readBuf, LEAD, from, to);
    sink.inExecute = true;
    const r = p.execute(readBuf, LEAD, LEAD + to - from);
    sink.inExecute = false;
    readBuf.fill(0x7e);
    if (r < 0) return { sink, parser: p, end: -1 };
    if (p.done) return { sink, parser: p, end: from + r - LEAD };
    if (r !== LEAD + to - from) throw new Error(`execute consumed ${r - LEAD} of ${to - from} bytes without completing`);
  }
  return { sink, parser: p, end: src.length };
}

/** Every way to split `length` bytes into reads of one byte each. */
const everyByte = (length: number): number[] => Array.from({ length: Math.max(0, length - 1) }, (_, i) => i + 1);

const CL_RESPONSE = 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 17\r\nX-Request-Id: abc\r\n\r\n{"hello":"world"}';
const CL_HEAD_LENGTH = CL_RESPONSE.length - 17;

const CHUNKED_RESPONSE = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/event-stream\r\n\r\n'
  + '5;name=value\r\nhello\r\n'
  + '7 ; quoted="a;b"\r\n, world\r\n'
  + 'A\r\n0123456789\r\n'
  + 'c\r\n abcdefghijk\r\n'
  + '0\r\nX-Trailer: one\r\nX-Other: two\r\n\r\n';
const CHUNKED_BODY = 'hello, world0123456789 abcdefghijk';

t.test('a Content-Length body in one execute', async (t) => {
  const { sink, parser, end } = feed(CL_RESPONSE);
  t.equal(end, CL_RESPONSE.length, 'consumes the whole response');
  t.same(sink.events, ['head 200', 'data', 'end'], 'one head, the body as one view, the end');
  t.same(sink.heads[0], {
    status: 200,
    headers: ['Content-Type', 'application/json', 'X-Request-Id', 'abc'],
    contentLength: 17,
  }, 'framing headers are consumed, not passed on');
  t.equal(sink.body, '{"hello":"world"}');
  t.ok(parser.done);
  t.ok(parser.headReceived);
  t.ok(parser.keepAlive, 'HTTP/1.1 with a length keeps the connection');
  t.equal(parser.error, '');
  t.equal(sink.callsOutsideExecute, 0);
});

t.test('the same response fed one byte at a time gives the same head, headers and body', async (t) => {
  const whole = feed(CL_RESPONSE);
  const bytewise = feed(CL_RESPONSE, everyByte(CL_RESPONSE.length));
  t.equal(bytewise.end, CL_RESPONSE.length);
  t.same(bytewise.sink.heads, whole.sink.heads, 'a head split across reads parses the same');
  t.equal(bytewise.sink.body, whole.sink.body, 'a body split across reads is the same bytes');
  t.equal(bytewise.sink.data.length, 17, 'one view per read, none coalesced');
  t.equal(bytewise.sink.ends, 1);
  t.equal(bytewise.parser.keepAlive, whole.parser.keepAlive);
  t.equal(bytewise.sink.callsOutsideExecute, 0);
});

t.test('a Content-Length response split at every byte boundary parses the same', async (t) => {
  const whole = feed(CL_RESPONSE);
  for (let k = 1; k < CL_RESPONSE.length; k++) {
    const split = feed(CL_RESPONSE, [k]);
    if (split.end !== CL_RESPONSE.length || split.sink.ends !== 1
      || JSON.stringify(split.sink.heads) !== JSON.stringify(whole.sink.heads) || split.sink.body !== whole.sink.body) {
      t.fail(`split at ${k}: ${JSON.stringify(split.sink.heads)} ${JSON.stringify(split.sink.body)} end=${split.end}`);
      return;
    }
    // The body arrives as views of the reads it came in: one, or two when the split falls inside it.
    const expectedViews = k > CL_HEAD_LENGTH ? 2 : 1;
    if (split.sink.data.length !== expectedViews) {
      t.fail(`split at ${k}: ${split.sink.data.length} data callbacks, expected ${expectedViews}`);
      return;
    }
  }
  t.pass(`all ${CL_RESPONSE.length - 1} split points`);
});

t.test('a chunked body with chunk extensions and trailers, split at every boundary', async (t) => {
  const whole = feed(CHUNKED_RESPONSE);
  t.equal(whole.end, CHUNKED_RESPONSE.length, 'consumes through the end of the trailer section');
  t.equal(whole.sink.body, CHUNKED_BODY, 'framing, extensions and trailers are not body');
  t.same(whole.sink.heads, [{
    status: 200,
    headers: ['Content-Type', 'text/event-stream'],
    contentLength: -1,
  }], 'chunked: no content length');
  t.equal(whole.sink.ends, 1);
  t.ok(whole.parser.keepAlive);

  const n = CHUNKED_RESPONSE.length;
  let failures = 0;
  const check = (splits: number[]): void => {
    const r = feed(CHUNKED_RESPONSE, splits);
    if (r.end !== n || r.sink.ends !== 1 || r.sink.body !== CHUNKED_BODY || r.sink.heads.length !== 1
      || JSON.stringify(r.sink.heads) !== JSON.stringify(whole.sink.heads) || !r.parser.keepAlive || r.sink.callsOutsideExecute !== 0) {
      if (failures++ < 5) t.fail(`splits ${JSON.stringify(splits)}: end=${r.end} ends=${r.sink.ends} body=${JSON.stringify(r.sink.body)} error=${r.parser.error}`);
    }
  };
  for (let a = 1; a < n; a++) check([a]);
  for (let a = 1; a < n; a++) for (let b = a + 1; b < n; b++) check([a, b]);
  check(everyByte(n));
  t.equal(failures, 0, `every split into two and three reads, and one byte per read (${n} bytes)`);
});

t.test('body views point into the caller\'s buffer, come before execute returns, and are never coalesced', async (t) => {
  const response = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\none\r\n3\r\ntwo\r\n5\r\nthree\r\n0\r\n\r\n';
  const buf = Buffer.alloc(response.length);
  buf.write(response, 'latin1');
  const sink = new RecordingSink();
  const parser = new ResponseParser(sink);
  sink.inExecute = true;
  const r = parser.execute(buf, 0, buf.length);
  sink.inExecute = false;
  t.equal(r, buf.length);
  t.same(sink.events, ['head 200', 'data', 'data', 'data', 'end'], 'three chunks in one read: three data callbacks');
  t.same(sink.data.map((d) => d.toString()), ['one', 'two', 'three']);
  t.equal(sink.callsOutsideExecute, 0, 'every callback from within execute()');
  for (const [i, word] of ['one', 'two', 'three'].entries()) {
    const view = sink.views[i]!;
    t.equal(view.buffer, buf.buffer, `${word}: a view of the read buffer, not a copy`);
    t.equal(view.byteOffset - buf.byteOffset, response.indexOf(`\r\n${word}\r\n`) + 2, `${word}: at its offset in the read`);
  }

  // A Content-Length body in one read: one view of it.
  const clBuf = Buffer.alloc(CL_RESPONSE.length);
  clBuf.write(CL_RESPONSE, 'latin1');
  const clSink = new RecordingSink();
  new ResponseParser(clSink).execute(clBuf, 0, clBuf.length);
  t.equal(clSink.views.length, 1);
  t.equal(clSink.views[0]!.buffer, clBuf.buffer);
  t.equal(clSink.views[0]!.byteOffset - clBuf.byteOffset, CL_HEAD_LENGTH);
});

t.test('headers stay valid until the response ends, however the reads are split', async (t) => {
  // feed() scribbles over its read buffer after each execute: headers still pointing into it
  // after a read that did not finish the response would show the scribble at the end.
  for (const splits of [[], [20], [CL_HEAD_LENGTH], [CL_HEAD_LENGTH + 1], everyByte(CL_RESPONSE.length)]) {
    const { sink } = feed(CL_RESPONSE, splits);
    t.equal(sink.ends, 1);
    t.same(sink.headersAtEnd, ['Content-Type', 'application/json', 'X-Request-Id', 'abc'], `reads split at ${splits.length} point(s)`);
  }
  // Chunked, with the end in a later read than the head.
  const chunked = 'HTTP/1.1 200 OK\r\nX-Kept: yes\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n';
  const { sink } = feed(chunked, [chunked.indexOf('3\r\n')]);
  t.same(sink.headersAtEnd, ['X-Kept', 'yes']);
});

t.test('headers are the parser\'s own bytes: they outlive the read and a reset, until the next head', async (t) => {
  const buf = Buffer.from(CL_RESPONSE, 'latin1');
  const sink = new RecordingSink();
  const p = new ResponseParser(sink);
  t.equal(p.execute(buf, 0, buf.length), buf.length);
  const headers = sink.lastHeaders!;
  t.equal(headers.text, '\r\nContent-Type: application/json\r\nX-Request-Id: abc',
    'the lines as corral writes them, each after its CRLF');
  t.equal(headers.count, 2);
  buf.fill(0x7e);
  // The connection is released (and may be reassigned) before the response's owner writes the head.
  p.reset();
  t.same(headers.toPairs(), ['Content-Type', 'application/json', 'X-Request-Id', 'abc'], 'the read buffer overwritten, the parser reset: unchanged');
  const next = Buffer.from('HTTP/1.1 204 No Content\r\nX-Next: 1\r\n\r\n', 'latin1');
  t.equal(p.execute(next, 0, next.length), next.length);
  t.equal(sink.lastHeaders, headers, 'one object per parser');
  t.same(headers.toPairs(), ['X-Next', '1'], 'refilled by the next head');
});

t.test('204 and 304 complete with no body', async (t) => {
  for (const status of [204, 304]) {
    // [head, reusable]: one that announces content (a 204 must not, RFC 9110 §8.6) might still
    // send it, so its connection is not reused.
    for (const [head, reusable] of [
      [`HTTP/1.1 ${status} No Body\r\nContent-Length: 10\r\n\r\n`, false],
      [`HTTP/1.1 ${status} No Body\r\nTransfer-Encoding: chunked\r\n\r\n`, false],
      [`HTTP/1.1 ${status} No Body\r\nTransfer-Encoding: gzip\r\nContent-Length: 10\r\n\r\n`, false],
      [`HTTP/1.1 ${status} No Body\r\nContent-Length: 0\r\n\r\n`, true],
      [`HTTP/1.1 ${status}\r\nX-A: b\r\n\r\n`, true],
    ] as const) {
      const { sink, parser, end } = feed(head + 'HTTP/1.1 200 OK\r\n');
      t.equal(end, head.length, `${JSON.stringify(head)}: stops at the end of the head`);
      t.same(sink.events, [`head ${status}`, 'end'], 'no data');
      t.equal(sink.heads[0]!.contentLength, 0, 'no content, whatever the head announced');
      t.ok(parser.done);
      t.equal(parser.keepAlive, reusable, `connection reusable: ${reusable}`);
    }
  }
});

t.test('Content-Length: 0 completes at the end of the head', async (t) => {
  const head = 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n';
  const { sink, parser, end } = feed(head);
  t.equal(end, head.length);
  t.same(sink.events, ['head 200', 'end']);
  t.equal(sink.heads[0]!.contentLength, 0);
  t.ok(parser.done);
  t.ok(parser.keepAlive);
});

t.test('1xx heads before the final one are skipped', async (t) => {
  const response = 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload\r\n\r\n'
    + 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';
  for (const splits of [[], [10], [25], [26], everyByte(response.length)]) {
    const { sink, parser, end } = feed(response, splits);
    t.equal(end, response.length);
    t.same(sink.events, ['head 200', ...Array(splits.length > 5 ? 2 : 1).fill('data'), 'end'], `one head, the final one (${splits.length} splits)`);
    t.same(sink.heads[0]!.headers, [], 'nothing of the 1xx heads');
    t.equal(sink.body, 'ok');
    t.ok(parser.headReceived);
  }
  // A 100 alone is not yet a head: the response has not started.
  const sink = new RecordingSink();
  const parser = new ResponseParser(sink);
  const cont = bytes('HTTP/1.1 100 Continue\r\n\r\n');
  t.equal(parser.execute(cont, 0, cont.length), cont.length);
  t.same(sink.events, []);
  t.notOk(parser.headReceived, 'the first-byte timeout still applies');
  t.notOk(parser.done);
});

t.test('101 Switching Protocols is an error', async (t) => {
  const { sink, parser, end } = feed('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
  t.equal(end, -1);
  t.match(parser.error, /101/);
  t.same(sink.events, []);
  t.notOk(parser.keepAlive);
});

t.test('which responses leave the connection reusable', async (t) => {
  const cases: [string, boolean][] = [
    ['HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok', false],
    ['HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok', true],
    ['HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nKeep-Alive: timeout=5\r\nContent-Length: 2\r\n\r\nok', true],
    ['HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok', false],
    ['HTTP/1.1 200 OK\r\nconnection: CLOSE\r\nContent-Length: 2\r\n\r\nok', false],
    ['HTTP/1.1 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 2\r\n\r\nok', false],
    ['HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok', true],
    ['HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok', true],
    ['HTTP/1.1 200 OK\r\nConnection: closed\r\nContent-Length: 2\r\n\r\nok', true],
  ];
  for (const [response, keepAlive] of cases) {
    const { sink, parser, end } = feed(response);
    t.equal(end, response.length);
    t.equal(sink.body, 'ok');
    t.equal(parser.keepAlive, keepAlive, `${JSON.stringify(response.slice(0, response.indexOf('Content-Length')))} → keepAlive ${keepAlive}`);
  }
});

t.test('no Content-Length and no chunked coding: the body runs until the connection closes', async (t) => {
  const response = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nfirst part, ';
  const { sink, parser, end } = feed(response, [30, 50]);
  t.equal(end, response.length);
  t.same(sink.heads[0]!.contentLength, -1);
  t.ok(parser.readsUntilClose);
  t.notOk(parser.done);
  t.notOk(parser.keepAlive, 'a body ended by the close cannot leave the connection reusable');
  const more = bytes('second part');
  sink.inExecute = true;
  t.equal(parser.execute(more, 0, more.length), more.length);
  t.equal(parser.execute(more, 0, 0), 0, 'an empty read consumes nothing');
  sink.inExecute = false;
  t.equal(sink.ends, 0);
  t.equal(sink.body, 'first part, second part');
  t.ok(parser.finishAtEof(), 'the close completes it');
  t.equal(sink.ends, 1);
  t.ok(parser.done);
  t.notOk(parser.finishAtEof(), 'only once');
  t.equal(sink.ends, 1);

  // A close that cuts a framed body short does not complete it.
  const cut = feed('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc');
  t.notOk(cut.parser.finishAtEof());
  t.equal(cut.sink.ends, 0);
  const cutChunked = feed('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel');
  t.notOk(cutChunked.parser.finishAtEof());
  t.equal(cutChunked.sink.ends, 0);
  const noHead = new ResponseParser(new RecordingSink());
  t.notOk(noHead.finishAtEof(), 'nor does a close before any head');
});

t.test('Transfer-Encoding: chunked, in any case and with whitespace around it, frames the body', async (t) => {
  for (const te of ['chunked', 'Chunked', 'CHUNKED', ' chunked \t']) {
    const response = `HTTP/1.1 200 OK\r\nTransfer-Encoding:${te}\r\n\r\n2\r\nok\r\n0\r\n\r\n`;
    const { sink, parser, end } = feed(response);
    t.equal(end, response.length, JSON.stringify(te));
    t.equal(sink.body, 'ok');
    t.equal(sink.heads[0]!.contentLength, -1);
    t.ok(parser.keepAlive);
  }
});

t.test('Keep-Alive: timeout=N sets keepAliveHintMs', async (t) => {
  const hint = (header: string): number => feed(`HTTP/1.1 200 OK\r\n${header}Content-Length: 0\r\n\r\n`).parser.keepAliveHintMs;
  t.equal(hint('Keep-Alive: timeout=5\r\n'), 5000);
  t.equal(hint('keep-alive: max=100, timeout=30\r\n'), 30_000);
  t.equal(hint('Keep-Alive: Timeout = 2, max=5\r\n'), 2000);
  t.equal(hint(''), 0, 'absent');
  t.equal(hint('Keep-Alive: max=100\r\n'), 0, 'no timeout parameter');
  t.equal(hint('Keep-Alive: timeout=abc\r\n'), 0, 'malformed');
});

t.test('execute stops at the end of the response: the bytes after it are not consumed', async (t) => {
  const first = 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello';
  const second = 'HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n';
  const third = 'HTTP/1.1 204 No Content\r\n\r\n';
  const all = bytes(first + second + third + 'garbage');
  const sink = new RecordingSink();
  const parser = new ResponseParser(sink);
  sink.inExecute = true;
  const a = parser.execute(all, 0, all.length);
  t.equal(a, first.length, 'Content-Length: stops after the body');
  t.equal(parser.execute(all, a, all.length), a, 'a done parser consumes nothing more');
  parser.reset();
  const b = parser.execute(all, a, all.length);
  t.equal(b, first.length + second.length, 'chunked: stops after the last chunk');
  parser.reset();
  const c = parser.execute(all, b, all.length);
  t.equal(c, first.length + second.length + third.length, '204: stops after the head');
  sink.inExecute = false;
  t.same(sink.events, ['head 200', 'data', 'end', 'head 201', 'data', 'end', 'head 204', 'end']);
  t.same(sink.data.map((d) => d.toString()), ['hello', 'abc']);
});

t.test('protocol errors: execute returns -1 and sets error', async (t) => {
  const cases: [string, string][] = [
    ['bad status line: not HTTP', 'HTTX/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'],
    ['bad status line: lower case', 'http/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'],
    ['bad status line: HTTP/2', 'HTTP/2 200 OK\r\nContent-Length: 0\r\n\r\n'],
    ['bad status line: two-digit status', 'HTTP/1.1 20 OK\r\nContent-Length: 0\r\n\r\n'],
    ['bad status line: four-digit status', 'HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n'],
    ['bad status line: letters', 'HTTP/1.1 abc OK\r\nContent-Length: 0\r\n\r\n'],
    ['bad status line: garbage', 'hello there\r\n\r\n'],
    ['conflicting Content-Length headers', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!'],
    ['Content-Length list', 'HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nhello!'],
    ['non-numeric Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: five\r\n\r\nhello'],
    ['signed Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello'],
    ['negative Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n'],
    ['empty Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n'],
    ['invalid chunk size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n'],
    ['invalid character after chunk size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5x\r\nhello\r\n0\r\n\r\n'],
    ['chunk size line without LF', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\rhello\r\n0\r\n\r\n'],
    ['chunk size too large', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1000000000000\r\n'],
    ['chunk data longer than its size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello!\r\n0\r\n\r\n'],
    ['CR after chunk data without LF', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\rX0\r\n\r\n'],
    ['trailer section not ended by CRLF', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\rX'],
    ['obs-fold header line', 'HTTP/1.1 200 OK\r\nX-Long: first\r\n  continued\r\nContent-Length: 0\r\n\r\n'],
    ['obs-fold with a tab', 'HTTP/1.1 200 OK\r\nX-Long: first\r\n\tcontinued\r\nContent-Length: 0\r\n\r\n'],
    ['header line without colon', 'HTTP/1.1 200 OK\r\nNoColonHere\r\nContent-Length: 0\r\n\r\n'],
    ['header line with an empty name', 'HTTP/1.1 200 OK\r\n: value\r\nContent-Length: 0\r\n\r\n'],
    ['whitespace between name and colon', 'HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n'],
  ];
  for (const [what, response] of cases) {
    for (const splits of [[], everyByte(response.length)]) {
      const { sink, parser, end } = feed(response, splits);
      const how = splits.length === 0 ? 'one read' : 'one byte per read';
      t.equal(end, -1, `${what} (${how}): -1`);
      t.not(parser.error, '', `${what} (${how}): error set (${parser.error})`);
      t.equal(sink.ends, 0, `${what} (${how}): never completes`);
      t.notOk(parser.keepAlive, `${what} (${how}): not reusable`);
    }
  }
  // A missing CRLF after chunk data, fed to a fresh parser piece by piece: the chunk's bytes pass, the next byte fails.
  const sink = new RecordingSink();
  const parser = new ResponseParser(sink);
  const head = bytes('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello');
  t.equal(parser.execute(head, 0, head.length), head.length);
  t.equal(sink.body, 'hello');
  const bad = bytes('X');
  t.equal(parser.execute(bad, 0, 1), -1, 'missing CRLF after chunk data');
  t.match(parser.error, /CRLF/);
  t.equal(parser.execute(bad, 0, 1), 0, 'a failed parser consumes nothing more');
});

t.test('a head larger than MAX_HEAD_BYTES is refused while waiting for its end', async (t) => {
  const big = `HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(MAX_HEAD_BYTES)}\r\n`; // no blank line yet
  const oneRead = feed(big);
  t.equal(oneRead.end, -1, 'in one read');
  t.match(oneRead.parser.error, /head/);
  const pieces: number[] = [];
  for (let at = 16 * 1024; at < big.length; at += 16 * 1024) pieces.push(at);
  const manyReads = feed(big, pieces);
  t.equal(manyReads.end, -1, 'in 16 KiB reads');
  t.match(manyReads.parser.error, /head/);
  t.same(manyReads.sink.events, []);

  // Just under the limit is fine.
  const fits = `HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(MAX_HEAD_BYTES - 100)}\r\nContent-Length: 0\r\n\r\n`;
  t.equal(feed(fits, [1000, 30_000]).end, fits.length);
});

t.test('a complete head larger than MAX_HEAD_BYTES is refused however the reads fall', async (t) => {
  // The limit is documented as "a response head larger than this is refused"; whether a head is
  // accepted must not depend on how TCP happened to segment it.
  const big = `HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(MAX_HEAD_BYTES + 1024)}\r\nContent-Length: 0\r\n\r\n`;
  const readsOf = (size: number): number[] => {
    const at: number[] = [];
    for (let i = size; i < big.length; i += size) at.push(i);
    return at;
  };
  for (const [what, splits] of [['one read', []], ['64 KiB reads', readsOf(64 * 1024)], ['16 KiB reads', readsOf(16 * 1024)]] as const) {
    const { end, parser } = feed(big, splits);
    t.equal(end, -1, `${what}: refused (error: ${JSON.stringify(parser.error)})`);
  }
});

t.test('header values are trimmed, names keep their case', async (t) => {
  const response = 'HTTP/1.1 200 OK\r\nX-MiXeD-CaSe:value\r\nX-Padded: \t  spaced value \t \r\nX-Empty:\r\nX-Blank:   \r\n'
    + 'content-LENGTH:  2  \r\nx-after: last\t\r\n\r\nok';
  const { sink, end } = feed(response);
  t.equal(end, response.length);
  t.same(sink.heads[0]!.headers, [
    'X-MiXeD-CaSe', 'value',
    'X-Padded', 'spaced value',
    'X-Empty', '',
    'X-Blank', '',
    'x-after', 'last',
  ], 'surrounding spaces and tabs trimmed, inner ones kept; names as sent');
  t.equal(sink.heads[0]!.contentLength, 2, 'framing headers found whatever their case (and not passed on)');
  t.equal(sink.body, 'ok');
  t.equal(feed('HTTP/1.1 200 OK\r\nX-A\t: b\r\nContent-Length: 0\r\n\r\n').end, -1, 'whitespace before the colon is refused (RFC 9112 §5.1)');
});

t.test('reset() readies the parser for another response', async (t) => {
  const sink = new RecordingSink();
  const parser = new ResponseParser(sink);
  const firstResponse = 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nKeep-Alive: timeout=7\r\n\r\none';
  const first = feed(firstResponse, [], parser);
  t.equal(first.end, firstResponse.length);
  t.ok(parser.done);
  t.equal(parser.keepAliveHintMs, 7000);
  parser.reset();
  t.notOk(parser.done);
  t.ok(parser.idle);
  t.notOk(parser.headReceived, 'the next response starts without a head');
  t.notOk(parser.keepAlive);
  t.equal(parser.error, '');
  const secondResponse = 'HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\ntwo\r\n0\r\n\r\n';
  const second = feed(secondResponse, everyByte(secondResponse.length), parser);
  t.equal(second.end, secondResponse.length);
  t.ok(parser.done);
  t.ok(parser.keepAlive);
  t.equal(parser.keepAliveHintMs, 0, 'the hint is the last head\'s');
  parser.reset();
  const thirdResponse = 'HTTP/1.0 200 OK\r\n\r\nthree';
  const third = feed(thirdResponse, [5], parser);
  t.equal(third.end, thirdResponse.length);
  t.ok(parser.finishAtEof());
  t.same(sink.events, ['head 200', 'data', 'end', 'head 201', 'data', 'data', 'data', 'end', 'head 200', 'data', 'end']);
  t.equal(sink.body, 'onetwothree');

  // reset() also clears a failure.
  parser.reset();
  t.equal(feed('nonsense\r\n\r\n', [], parser).end, -1);
  parser.reset();
  t.equal(parser.error, '');
  t.equal(feed('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', [], parser).end, 38);
  // And a head left half-read.
  parser.reset();
  const half = bytes('HTTP/1.1 200 O');
  parser.execute(half, 0, half.length);
  t.notOk(parser.idle);
  parser.reset();
  t.ok(parser.idle);
  t.equal(feed('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', [], parser).end, 38);
});

t.test('hop-by-hop, framing and uWS-written headers are consumed, not passed on, whatever their case', async (t) => {
  const response = 'HTTP/1.1 200 OK\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\nSERVER: backend\r\nConnection: keep-alive\r\n'
    + 'Keep-Alive: timeout=5\r\nProxy-Connection: x\r\nTE: trailers\r\nTrailer: X-T\r\nUpgrade: h2c\r\nuWebSockets: 20\r\n'
    + 'X-Kept: 1\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\nX-Date: d\r\n\r\n'
    + '2\r\nok\r\n0\r\n\r\n';
  const { sink, parser, end } = feed(response);
  t.equal(end, response.length);
  t.same(sink.heads[0]!.headers, ['X-Kept', '1', 'Content-Type', 'text/plain', 'X-Date', 'd']);
  t.equal(sink.body, 'ok');
  t.equal(parser.keepAliveHintMs, 5000, 'still read for framing and keep-alive');
  t.ok(parser.keepAlive);
});

t.test('review fixes: a bare CR inside a header line', async (t) => {
  const p = new ResponseParser({ onResponseHead: () => {}, onResponseData: () => {}, onResponseEnd: () => {} });
  const bytes = Buffer.from('HTTP/1.1 200 OK\r\nX-A: a\rSet-Cookie: evil\r\nContent-Length: 0\r\n\r\n', 'latin1');
  t.equal(p.execute(bytes, 0, bytes.length), -1, 'a bare CR inside a header line is refused');
  t.match(p.error, /CR/);
});

t.test('heads longer than the first text window (2 KiB) parse alike however the reads fall', async (t) => {
  // The end of the head is first looked for in a latin1 string of the read's first 2,048 bytes;
  // longer heads take the byte search. Terminators right at, before and after that edge.
  for (const pad of [1900, 1990, 2000, 2010, 2020, 3000]) {
    const head = `HTTP/1.1 200 OK\r\nX-Long: ${'v'.repeat(pad)}\r\nContent-Length: 2\r\nX-After: yes\r\n\r\n`;
    const response = `${head}ok`;
    for (const splits of [[], [head.length - 2], [head.length - 1], [2048], [2047, 2049]]) {
      const valid = splits.filter((s) => s > 0 && s < response.length);
      const { sink, end } = feed(response, valid);
      t.equal(end, response.length, `pad ${pad}, splits ${valid.join(',')}: whole response consumed`);
      t.equal(sink.body, 'ok');
      t.same(sink.headersAtEnd, ['X-Long', 'v'.repeat(pad), 'X-After', 'yes'], `pad ${pad}, splits ${valid.join(',')}`);
    }
  }
});

// ---------------------------------------------------------------------------------------------
// The conformance table (docs/HTTP-CONFORMANCE.md), row by row, in one read and split as TCP may
// split it. test/integration/http-conformance.test.ts sends the same bytes through a real corral.

t.test('conformance table: every response row, however the reads fall', async (t) => {
  for (const row of RESPONSE_CASES) {
    const input = bytes(row.bytes);
    // Byte by byte re-joins the head on every read: fine for short rows, quadratic for the 66 KiB one.
    const ways: [string, number[]][] = input.length <= 4096
      ? [['one read', []], ['one byte per read', everyByte(input.length)], ['two reads', [input.length >> 1]]]
      : [['one read', []], ['16 KiB reads', [16384, 32768, 49152, 65536]]];
    for (const [how, splits] of ways) {
      const label = `${row.id} (${how})`;
      const { sink, parser, end } = feed(input, splits);
      t.equal(sink.callsOutsideExecute, 0, `${label}: callbacks only from execute`);
      if (row.outcome === 'ok') {
        t.not(end, -1, `${label}: accepted${parser.error === '' ? '' : ` (error: ${parser.error})`}`);
        if (row.closeAfter === true) {
          t.ok(parser.readsUntilClose, `${label}: body until close`);
          t.ok(parser.finishAtEof(), `${label}: the close ends it`);
        }
        t.equal(sink.heads.length, 1, `${label}: one final head`);
        t.equal(sink.heads[0]?.status, row.status, `${label}: status`);
        t.equal(sink.body, row.body ?? 'hello', `${label}: body`);
        t.equal(sink.ends, 1, `${label}: complete`);
        t.equal(parser.keepAlive && end === input.length, row.reusable ?? true, `${label}: connection reusable: ${row.reusable ?? true}`);
        if (row.passedOn !== undefined) t.ok(sink.lastHeaders!.text.includes(`\r\n${row.passedOn}`), `${label}: passed on as sent`);
      } else {
        t.equal(end, -1, `${label}: refused`);
        t.match(parser.error, row.defect!, `${label}: names the defect (${parser.error})`);
        t.equal(sink.ends, 0, `${label}: never completes`);
        t.notOk(parser.keepAlive, `${label}: connection not reusable`);
        if (row.outcome === 'error') t.equal(sink.data.length, 0, `${label}: no body byte handed on`);
        else t.ok(sink.data.length > 0, `${label}: body bytes went out before the defect`);
      }
    }
  }
});

t.test('a defect in an incomplete head fails at once: nothing waits for the first-byte timeout', async (t) => {
  // Before: a head of bare-LF lines never showed its CRLF CRLF end, so the request waited 5 minutes.
  for (const [what, first] of [
    ['bare LF after the status line', 'HTTP/1.1 200 OK\n'],
    ['bare LF after a header line', 'HTTP/1.1 200 OK\r\nContent-Length: 5\n'],
    ['status code 099', 'HTTP/1.1 099 Early\r\n'],
    ['status code 999', 'HTTP/1.1 999 Weird\r\n'],
    ['HTTP/2.0', 'HTTP/2.0 200 OK\r\n'],
    ['not HTTP', 'SSH-2.0-OpenSSH_9.2\r\n'],
  ]) {
    for (const splits of [[], everyByte(first!.length)]) {
      const { end, parser } = feed(first!, splits);
      t.equal(end, -1, `${what} (${splits.length === 0 ? 'one read' : 'one byte per read'}): refused (${parser.error})`);
    }
  }
  const ok = feed('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n');
  t.equal(ok.end, 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n'.length, 'a valid incomplete head waits for the rest');
  t.equal(ok.parser.error, '');
});

t.test('every row of the table is in docs/HTTP-CONFORMANCE.md', async (t) => {
  const doc = readFileSync(new URL('../../../docs/HTTP-CONFORMANCE.md', import.meta.url), 'utf8');
  const ids = new Set(RESPONSE_CASES.map((r) => r.id));
  t.equal(ids.size, RESPONSE_CASES.length, 'ids are unique');
  for (const id of ids) t.ok(doc.includes(`| \`${id}\` |`), `${id} documented`);
});

// The node:http engine's adapter (src/server/node-response.ts): corral's one-string heads parsed
// back into a status and header lines, and the body framed by node as HTTP wants it — a length
// for a whole body, chunked to an HTTP/1.1 client, delimited by the close to an HTTP/1.0 one.
// A real node:http server on port 0, raw requests over TCP so the bytes on the wire are seen.
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import t, { type Test } from 'tap';
import { NodeResponse } from '../../../src/server/node-response.js';

type Script = (w: NodeResponse) => void;

async function serve(t: Test, script: Script): Promise<number> {
  const server: Server = createServer((_req, res) => script(new NodeResponse(res)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  return (server.address() as { port: number }).port;
}

/** Sends `request` and reads until the server closes the connection. */
function exchange(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(request));
    const parts: Buffer[] = [];
    socket.on('data', (d: Buffer) => parts.push(d));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(parts).toString('latin1')));
  });
}

const GET11 = 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n';
const GET10 = 'GET / HTTP/1.0\r\n\r\n';

/** The head's lines without Date (node's clock) and the body, split. */
function parse(raw: string): { status: string; lines: string[]; body: string } {
  const end = raw.indexOf('\r\n\r\n');
  const [status, ...lines] = raw.slice(0, end).split('\r\n');
  return { status: status!, lines: lines.filter((l) => !/^date:/i.test(l)), body: raw.slice(end + 4) };
}

t.test('a whole body gets its Content-Length, over HTTP/1.1 and 1.0', async (t) => {
  const port = await serve(t, (w) => w.cork(() => {
    w.writeStatus('404 Not Found\r\ncontent-type: application/json\r\nx-corral-request-id: abc');
    w.end('{"error":"é"}');
  }));
  for (const req of [GET11, GET10]) {
    const r = parse(await exchange(port, req));
    t.equal(r.status, 'HTTP/1.1 404 Not Found');
    t.same(r.lines, ['content-type: application/json', 'x-corral-request-id: abc', 'Content-Length: 14', 'Connection: close']);
    t.equal(Buffer.from(r.body, 'latin1').toString('utf8'), '{"error":"é"}');
  }
});

t.test('a streamed body: chunked to HTTP/1.1, close-delimited to HTTP/1.0', async (t) => {
  const port = await serve(t, (w) => {
    w.writeStatus('200 OK\r\ncontent-type: application/x-ndjson');
    w.write('{"a":1}\n');
    setImmediate(() => {
      w.write(Buffer.from('{"b":2}\n'));
      w.end('');
    });
  });
  const r11 = parse(await exchange(port, GET11));
  t.ok(r11.lines.includes('Transfer-Encoding: chunked'), 'chunked for 1.1');
  t.equal(r11.body, '8\r\n{"a":1}\n\r\n8\r\n{"b":2}\n\r\n0\r\n\r\n');
  const r10 = parse(await exchange(port, GET10));
  t.notOk(r10.lines.some((l) => /^(transfer-encoding|content-length):/i.test(l)), 'no framing line for 1.0');
  t.ok(r10.lines.includes('Connection: close'));
  t.equal(r10.body, '{"a":1}\n{"b":2}\n', 'the bytes as written, ended by the close');
});

t.test('repeated lines stay repeated; a latin1 head keeps its bytes', async (t) => {
  const port = await serve(t, (w) => {
    w.writeStatus(Buffer.from('200 OK\r\nset-cookie: a=1\r\nset-cookie: b=2\r\nx-name: caf\xe9\r\nX-Spaced:    padded ', 'latin1'));
    w.end('x');
  });
  const r = parse(await exchange(port, GET11));
  t.same(r.lines.slice(0, 4), ['set-cookie: a=1', 'set-cookie: b=2', 'x-name: caf\xe9', 'X-Spaced:    padded '], 'padding kept');
  t.equal(r.body, 'x', 'a string body after a latin1 head');
});

t.test('204 and 304 carry no length; endWithoutBody(0) for HEAD says 0', async (t) => {
  let status = '204 No Content';
  const port = await serve(t, (w) => {
    w.writeStatus(status);
    if (status.startsWith('200')) w.endWithoutBody(0, true);
    else w.endWithoutBody();
  });
  const r204 = parse(await exchange(port, GET11));
  t.equal(r204.status, 'HTTP/1.1 204 No Content');
  t.notOk(r204.lines.some((l) => /^content-length/i.test(l)));
  status = '200 OK';
  const head = parse(await exchange(port, 'HEAD / HTTP/1.1\r\nHost: x\r\n\r\n'));
  t.ok(head.lines.includes('Content-Length: 0'));
  t.ok(head.lines.includes('connection: close'), 'closeConnection');
  t.equal(head.body, '');
});

t.test('end(body, true) asks for the close; the connection closes after it', async (t) => {
  const port = await serve(t, (w) => {
    w.writeStatus('503 Service Unavailable');
    w.end('{}', true);
  });
  const r = parse(await exchange(port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
  t.ok(r.lines.includes('connection: close'));
  t.equal(r.body, '{}');
});

t.test('a whole response in the status string (sendJsonLingering) goes out; close() drops the connection', async (t) => {
  const body = '{"error":"too large"}';
  const port = await serve(t, (w) => {
    w.writeStatus(`413 Payload Too Large\r\nconnection: close\r\ndate: x\r\ncontent-length: ${body.length + 2}\r\n\r\n${body}`);
    setImmediate(() => w.close());
  });
  const r = parse(await exchange(port, 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n'));
  t.equal(r.status, 'HTTP/1.1 413 Payload Too Large');
  t.ok(r.lines.includes(`content-length: ${body.length + 2}`));
  t.equal(r.body, `${body}\r\n`, 'the body and the CRLF its length counts');
});

t.test('onWritable fires on drain after write() returned false', async (t) => {
  let drained = 0;
  let refused = false;
  const port = await serve(t, (w) => {
    w.writeStatus('200 OK');
    const big = Buffer.alloc(4 * 1024 * 1024, 97);
    w.onWritable(() => {
      drained++;
      w.end('');
      return true;
    });
    refused = !w.write(big);
    if (!refused) w.end('');
  });
  const raw = await exchange(port, GET11);
  t.ok(refused, 'a 4 MiB write is refused at first');
  t.equal(drained, 1, 'the handler ran once the client took it');
  t.ok(raw.length > 4 * 1024 * 1024);
});

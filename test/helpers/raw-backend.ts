// Backends written by hand over node:net, for tests that need bytes no HTTP library would send:
// the request side (a keep-alive connection's requests, Content-Length bodies) is read here once.
import { once } from 'node:events';
import { createServer, type AddressInfo, type Socket } from 'node:net';

interface Teardown {
  teardown(fn: () => unknown): void;
}

/**
 * Calls `onRequest` with each complete request's head (latin1, without its empty line), method
 * and path, as the requests arrive on `socket`. `onRequest` returning false stops reading the
 * requests already buffered (the connection is being answered with something that ends it).
 */
export function readRequests(socket: Socket, onRequest: (head: string, method: string, path: string) => boolean | void): void {
  let pending = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    for (;;) {
      const end = pending.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = pending.subarray(0, end).toString('latin1');
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
      if (pending.length < end + 4 + length) return;
      pending = pending.subarray(end + 4 + length);
      const [method = '', path = ''] = head.split(' ');
      if (onRequest(head, method, path) === false) return;
    }
  });
}

/** A TCP server on 127.0.0.1, port 0, closed with every connection at teardown; resolves with its port. */
export async function startRawServer(t: Teardown, onSocket: (socket: Socket) => void): Promise<number> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    onSocket(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => new Promise<void>((resolve) => {
    server.close(() => resolve());
    for (const s of sockets) s.destroy();
  }));
  return (server.address() as AddressInfo).port;
}

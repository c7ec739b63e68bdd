import type { Config } from '../config/types.js';
import { HttpServer, serverOptionsFrom, type RequestHandler } from './http-server.js';
import { NodeHttpServer } from './node-engine.js';

/**
 * What serves the API port, whichever engine (`server.engine`): uWebSockets.js (http-server.ts,
 * the default) or node:http (node-engine.ts, for HTTP/1.0 clients such as nginx with its defaults).
 * Both hand the same ClientRequest to the same RequestHandler.
 */
export interface ApiServer {
  /** The port listened on, once listen() resolved. */
  port: number;
  listen(port?: number): Promise<number>;
  /** Requests accepted from now on go to `handler` (inline-mode reload). */
  setHandler(handler: RequestHandler): void;
  /** Stops accepting connections; requests in flight carry on. */
  stopListening(): void;
  /** Closes every connection, in flight or idle (end of a graceful shutdown). */
  closeAll(): void;
}

export function createApiServer(config: Config, handler: RequestHandler, port: number = config.server.port): ApiServer {
  const options = serverOptionsFrom(config, port);
  return config.server.engine === 'node' ? new NodeHttpServer(options, handler) : new HttpServer(options, handler);
}

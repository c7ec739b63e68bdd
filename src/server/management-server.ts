import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { InternalError, MethodNotAllowedError, NotFoundError } from '../core/errors.js';
import { errorBody } from '../protocol/error-body.js';
import { Dialect } from '../protocol/dialect.js';
import { readyBody } from '../observe/status.js';
import { metricsContentType, wantsOpenMetrics } from '../observe/metrics-format.js';
import { serveDashboard } from './dashboard-routes.js';

/** What the management listener asks of the primary. */
export interface ManagementSource {
  healthyEndpoints(): number;
  status(): Promise<unknown>;
  metrics(openMetrics: boolean): Promise<string>;
  /** The dashboard's JSON view (observe/dashboard-view.ts). */
  dashboard(): Promise<unknown>;
}

/**
 * A small node:http listener in the primary for load balancers' health probes. uWebSockets.js
 * 20.30 never answers an HTTP/1.0 request (nor 1.1 without Host), which is exactly what HAProxy's
 * default `option httpchk` sends; node:http answers both. Serves /internal/health (liveness),
 * /internal/ready (503 until an endpoint is healthy), /internal/status and /metrics, and the
 * dashboard under /ui (dashboard-routes.ts).
 */
export class ManagementServer {
  readonly #server: Server;
  readonly #source: ManagementSource;
  port: number;

  constructor(source: ManagementSource) {
    this.#source = source;
    this.port = 0;
    this.#server = createServer((req, res) => this.#handle(req, res));
    this.#server.keepAliveTimeout = 5000;
  }

  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, host, () => {
        this.#server.off('error', reject);
        const addr = this.#server.address();
        this.port = typeof addr === 'object' && addr !== null ? addr.port : port;
        resolve(this.port);
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return send(res, 405, errorBody(Dialect.OpenAI, new MethodNotAllowedError(`${path} accepts GET and HEAD only`)));
    }
    switch (path) {
      case '/internal/health':
        return send(res, 200, HEALTH_BODY);
      case '/internal/ready': {
        const healthy = this.#source.healthyEndpoints();
        return send(res, healthy > 0 ? 200 : 503, readyBody(healthy));
      }
      case '/internal/status':
        this.#source.status().then((doc) => send(res, 200, JSON.stringify(doc)), (err: Error) =>
          send(res, 500, errorBody(Dialect.OpenAI, new InternalError(err.message))));
        return;
      case '/metrics': {
        const open = wantsOpenMetrics(req.headers.accept ?? '');
        this.#source.metrics(open).then((text) => send(res, 200, text, metricsContentType(open)), (err: Error) =>
          send(res, 500, errorBody(Dialect.OpenAI, new InternalError(err.message))));
        return;
      }
      default:
        if (serveDashboard(path!, req, res, () => this.#source.dashboard(), internalError)) return;
        return send(res, 404, errorBody(Dialect.OpenAI, new NotFoundError(`no route for ${req.method} ${path}`)));
    }
  }
}

function internalError(res: ServerResponse, err: Error): void {
  send(res, 500, errorBody(Dialect.OpenAI, new InternalError(err.message)));
}

const HEALTH_BODY = JSON.stringify({ status: 'ok' });

function send(res: ServerResponse, status: number, body: string, contentType = 'application/json; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

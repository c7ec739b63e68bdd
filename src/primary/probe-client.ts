import { request as httpRequest, type IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';

export class ProbeError extends Error {
  readonly code = 'CORRAL_ERR_PROBE';
  readonly status: number;
  constructor(message: string, status = 0) {
    super(message);
    this.name = 'ProbeError';
    this.status = status;
  }
}

/**
 * node:https (and with it node:tls and node:crypto, ~1 MiB of the primary's RSS) is loaded on the
 * first probe of an https endpoint: most deployments probe plain-http backends on the same host.
 */
let httpsModule: typeof import('node:https') | null = null;
function httpsRequest(): typeof import('node:https').request {
  return (httpsModule ??= createRequire(import.meta.url)('node:https') as typeof import('node:https')).request;
}

/** Probe bodies are small JSON documents; anything larger is not a health answer. */
const MAX_PROBE_BODY = 8 * 1024 * 1024;

/**
 * GET a backend path and parse JSON, with one timeout for the whole exchange. Used by the
 * primary for health probes and discovery only, never on the request path — so it uses node:http
 * rather than undici, which would add ~20 MB to the primary's idle RSS for a few requests a second.
 */
export async function getJson(baseUrl: string, path: string, timeoutMs: number): Promise<unknown> {
  const answer = await exchangeJson(baseUrl, 'GET', path, null, timeoutMs, false);
  return answer.doc;
}

/** A JSON answer of any status (postJson): the status and the parsed body, null when it was not JSON. */
export interface JsonAnswer {
  readonly status: number;
  readonly doc: unknown;
}

/**
 * POST a JSON body and read the JSON answer whatever its status, so a backend's own error
 * (`{"error": "model requires more system memory…"}`) reaches the caller. The primary's model
 * loads and unloads (load-coordinator.ts) and `/api/show` use it.
 */
export function postJson(baseUrl: string, path: string, body: unknown, timeoutMs: number): Promise<JsonAnswer> {
  return exchangeJson(baseUrl, 'POST', path, JSON.stringify(body), timeoutMs, true);
}

function exchangeJson(baseUrl: string, method: 'GET' | 'POST', path: string, body: string | null, timeoutMs: number,
  anyStatus: boolean): Promise<JsonAnswer> {
  return new Promise((resolve, reject) => {
    const url = new URL(baseUrl + path);
    const request = url.protocol === 'https:' ? httpsRequest() : httpRequest;
    const headers: Record<string, string | number> = { accept: 'application/json' };
    if (body !== null) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = Buffer.byteLength(body);
    }
    const req = request(url, { method, timeout: timeoutMs, headers }, (res: IncomingMessage) => {
      const status = res.statusCode ?? 0;
      if (status !== 200 && !anyStatus) {
        res.resume();
        reject(new ProbeError(`${method} ${path}: HTTP ${status}`, status));
        return;
      }
      const declared = Number(res.headers['content-length'] ?? 0);
      if (declared > MAX_PROBE_BODY) {
        // Refused before reading a byte: a declared 1 GB model list is not worth receiving.
        req.destroy(new ProbeError(`${method} ${path}: answer larger than ${MAX_PROBE_BODY} bytes`, status));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_PROBE_BODY) {
          req.destroy(new ProbeError(`${method} ${path}: answer larger than ${MAX_PROBE_BODY} bytes`, status));
          return;
        }
        chunks.push(c);
      });
      res.on('end', () => {
        try {
          resolve({ status, doc: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
        } catch (err) {
          if (anyStatus && status !== 200) resolve({ status, doc: null });
          else reject(new ProbeError(`${method} ${path}: invalid JSON (${(err as Error).message})`, status));
        }
      });
      res.on('error', (err) => reject(new ProbeError(`${method} ${path}: ${err.message}`, status)));
    });
    // One deadline for connect + head + body (the socket timeout alone is per-inactivity).
    const deadline = setTimeout(() => req.destroy(new ProbeError(`${method} ${path}: no answer within ${timeoutMs} ms`)), timeoutMs);
    req.on('close', () => clearTimeout(deadline));
    req.on('timeout', () => req.destroy(new ProbeError(`${method} ${path}: no answer within ${timeoutMs} ms`)));
    req.on('error', (err) => reject(err instanceof ProbeError ? err : new ProbeError(`${method} ${path}: ${(err as NodeJS.ErrnoException).code ?? err.message}`)));
    req.end(body ?? undefined);
  });
}

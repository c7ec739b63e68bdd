// Plain HTTP against corral through undici, for what the real clients hide: status, headers and
// the body as sent (error shapes, routing headers, which worker answered).
import { Client, request } from 'undici';
import type { CorralProcess } from './corral-process.js';

export type Headers = Record<string, string | string[] | undefined>;

/** A response with its body parsed as JSON, or kept as text when it is not JSON. */
export interface Answer {
  status: number;
  headers: Headers;
  body: any;
}

/** `text` parsed as JSON, or `text` itself when it does not parse: error tests assert on either. */
export function jsonOrText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** One request (JSON content-type when it has a body) on the shared undici pool; never throws on a status. */
export async function send(corral: CorralProcess, method: string, path: string, body?: string | Buffer,
  headers: Record<string, string> = {}): Promise<Answer> {
  const res = await request(`${corral.url}${path}`, {
    method: method as 'POST', body, headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
  });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, body: jsonOrText(text) };
}

/**
 * One request on a connection of its own, closed after: SO_REUSEPORT spreads such requests over
 * the workers, and a dead worker's kept-alive socket is never reused.
 */
export async function freshRequest(corral: CorralProcess, req: { path: string; method: 'GET' | 'POST'; headers?: Record<string, string>; body?: string },
  timeoutMs = 10_000): Promise<{ status: number; headers: Headers; text: string }> {
  const client = new Client(corral.url, { headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
  try {
    const res = await client.request(req);
    return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
  } finally {
    await client.close();
  }
}

/** A response header as one string, '' when absent (corral's x-corral-* headers are single-valued). */
export function header(h: Headers, name: string): string {
  return String(h[name] ?? '');
}

/** Which worker served a response: the X-Corral-Request-ID prefix, random per process. */
export function workerOf(h: Headers): string {
  const id = header(h, 'x-corral-request-id');
  return id.slice(0, id.lastIndexOf('-'));
}

/** corral's routing headers on a response as the selection tests compare them: who served it, how, after how many retries. */
export interface Routing {
  status: number;
  endpoint: string;
  route: string;
  retries: number;
  worker: string;
}

/** The Routing of a freshRequest answer. */
export function routing(res: { status: number; headers: Headers }): Routing {
  return {
    status: res.status,
    endpoint: header(res.headers, 'x-corral-endpoint'),
    route: header(res.headers, 'x-corral-route'),
    retries: Number(res.headers['x-corral-retries'] ?? NaN),
    worker: workerOf(res.headers),
  };
}

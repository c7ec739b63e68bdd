import { request } from 'undici';

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
 * GET a backend path and parse JSON, with one timeout for the whole exchange. Used by the
 * primary for health probes and discovery only (never on the request path).
 */
export async function getJson(baseUrl: string, path: string, timeoutMs: number): Promise<unknown> {
  const signal = AbortSignal.timeout(timeoutMs);
  let res;
  try {
    res = await request(baseUrl + path, { method: 'GET', signal, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
  } catch (err) {
    throw new ProbeError(`GET ${path}: ${(err as Error).message}`);
  }
  if (res.statusCode !== 200) {
    await res.body.dump().catch(() => {});
    throw new ProbeError(`GET ${path}: HTTP ${res.statusCode}`, res.statusCode);
  }
  try {
    return await res.body.json();
  } catch (err) {
    throw new ProbeError(`GET ${path}: invalid JSON (${(err as Error).message})`, res.statusCode);
  }
}

import { StatusUnreachableError } from '../core/errors.js';
import { dashboardView, type DashboardView } from './dashboard-view.js';

/** How long `corral status` waits for an answer: the view is built from memory in a millisecond. */
const TIMEOUT_MS = 5000;

/**
 * Reads the dashboard's view from a running corral: `/ui/data` on the management port, or — for
 * a URL naming the API port, which has no /ui — `/internal/status` without the sparklines.
 */
export async function fetchView(base: string): Promise<DashboardView> {
  const root = base.replace(/\/+$/, '');
  const view = await getJson(root, '/ui/data');
  if (view !== null) {
    if (!isView(view)) throw new StatusUnreachableError(`${root}/ui/data did not answer with corral's status view: is this corral's management port?`);
    return view;
  }
  const status = await getJson(root, '/internal/status');
  if (status === null || typeof status !== 'object' || !Array.isArray((status as { endpoints?: unknown }).endpoints)) {
    throw new StatusUnreachableError(`${root} does not serve corral's status (no /ui/data, no /internal/status): is this corral?`);
  }
  return dashboardView(status, null);
}

function isView(v: unknown): v is DashboardView {
  const o = v as { status?: { endpoints?: unknown }; generated_at?: unknown } | null;
  return o !== null && typeof o === 'object' && typeof o.generated_at === 'string' && Array.isArray(o.status?.endpoints);
}

/** The JSON at `path`; null on 404 (another route may have it); an error naming the cause otherwise. */
async function getJson(root: string, path: string): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(`${root}${path}`, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch (err) {
    throw new StatusUnreachableError(`cannot reach corral at ${root}: ${cause(err)} (is corral running? --url names another address)`);
  }
  if (res.status === 404) {
    await res.body?.cancel();
    return null;
  }
  if (res.status !== 200) {
    await res.body?.cancel();
    throw new StatusUnreachableError(`${root}${path} answered HTTP ${res.status}`);
  }
  try {
    return await res.json();
  } catch {
    throw new StatusUnreachableError(`${root}${path} did not answer JSON: is this corral?`);
  }
}

/** fetch's failure in words: the system error under its generic "fetch failed". */
function cause(err: unknown): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError') return `no answer within ${TIMEOUT_MS / 1000} s`;
  const code = e.cause?.code;
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'ENOTFOUND') return 'no such host';
  return e.cause?.message ?? e.message ?? String(err);
}

import type { IncomingMessage, ServerResponse } from 'node:http';
import { dashboardFile } from '../observe/dashboard-files.js';

/**
 * The page may load only its own script and style and fetch only its own data: with model names
 * coming from backends (untrusted), a slip in the page's escaping still could not run anything.
 */
const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
};

/**
 * The /ui routes of the management listener: the page's static files and its JSON (`/ui/data`).
 * Returns false for any other path. `/ui` redirects to `/ui/` with a relative Location, so the
 * page's relative links also work behind a reverse proxy that adds a path prefix.
 */
export function serveDashboard(path: string, req: IncomingMessage, res: ServerResponse, data: () => Promise<unknown>,
  fail: (res: ServerResponse, err: Error) => void): boolean {
  if (path === '/ui') {
    res.writeHead(308, { location: 'ui/', 'content-length': 0 });
    res.end();
    return true;
  }
  if (!path.startsWith('/ui/')) return false;
  const name = path.slice(4) || 'index.html';
  if (name === 'data') {
    data().then((doc) => write(res, req, 200, 'application/json; charset=utf-8', Buffer.from(JSON.stringify(doc))), (err: Error) => fail(res, err));
    return true;
  }
  let file;
  try {
    file = dashboardFile(name);
  } catch (err) {
    fail(res, err as Error);
    return true;
  }
  if (file === null) return false;
  write(res, req, 200, file.type, file.body);
  return true;
}

function write(res: ServerResponse, req: IncomingMessage, status: number, type: string, body: Buffer): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': type, 'content-length': body.length });
  res.end(req.method === 'HEAD' ? undefined : body);
}

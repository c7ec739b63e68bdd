import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The dashboard's static files (src/observe/ui/), by the name they are served under, with their type. */
export const DASHBOARD_FILES: Readonly<Record<string, string>> = {
  'index.html': 'text/html; charset=utf-8',
  'dashboard.js': 'text/javascript; charset=utf-8',
  'dashboard.css': 'text/css; charset=utf-8',
  'favicon.svg': 'image/svg+xml',
};

export interface StaticFile {
  readonly body: Buffer;
  readonly type: string;
}

let cache: Map<string, StaticFile> | null = null;

/**
 * The folder holding the files. They are read from the package, not built into the bundle (no
 * build step for the page): this module runs as dist/src/observe/*.js under tsc and as
 * dist/bundle/cli.cjs bundled, at different depths, so look upwards for src/observe/ui.
 */
function uiFolder(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let up = 0; up < 6; up++) {
    const candidate = join(dir, 'src', 'observe', 'ui');
    if (existsSync(join(candidate, 'index.html'))) return candidate;
    dir = dirname(dir);
  }
  throw new Error('the dashboard files (src/observe/ui) are not in this installation');
}

/** One of the dashboard's files, read once on first use (a few KiB each); null for any other name. */
export function dashboardFile(name: string): StaticFile | null {
  const type = Object.hasOwn(DASHBOARD_FILES, name) ? DASHBOARD_FILES[name]! : null;
  if (type === null) return null;
  if (cache === null) {
    const folder = uiFolder();
    cache = new Map(Object.entries(DASHBOARD_FILES).map(([n, t]) => [n, { body: readFileSync(join(folder, n)), type: t }]));
  }
  return cache.get(name) ?? null;
}

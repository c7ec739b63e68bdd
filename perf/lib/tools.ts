/** External programs the suite uses when a machine has them (wrk, nginx, HAProxy). */
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

const SBIN = ['/usr/sbin', '/usr/local/sbin', '/sbin'];

/** Absolute path of an executable on PATH (or in an sbin directory, where Debian puts nginx), or null. */
export function which(name: string): string | null {
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter((d) => d !== ''), ...SBIN];
  for (const d of dirs) {
    const p = join(d, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return null;
}

/** What this machine offers, detected once per run and printed with the results. */
export interface Tools {
  wrk: string | null;
  nginx: string | null;
  haproxy: string | null;
}

export function detectTools(): Tools {
  return { wrk: which('wrk'), nginx: which('nginx'), haproxy: which('haproxy') };
}

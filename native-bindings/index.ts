/**
 * Typed loader for the corral_shm addon (native-bindings/src/shm.cc).
 *
 * The addon is built into native-bindings/build/Release/ at the repo root, but this file runs both
 * from source (ts-node, native-bindings/index.ts) and compiled (dist/native-bindings/index.js), so
 * the .node path is found by walking up to the directory holding package.json, not by a fixed
 * relative path.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

interface ShmAddon {
  open(name: string, size: number, create: boolean): SharedArrayBuffer;
  unlink(name: string): boolean;
}

const ADDON_RELATIVE = join('native-bindings', 'build', 'Release', 'corral_shm.node');

function findRepoRoot(from: string): string {
  let dir = from;
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'native-bindings'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`corral: cannot find the repo root (package.json) above ${from}`);
    dir = parent;
  }
}

let addon: ShmAddon | null = null;

/** Loaded lazily so modules that merely import this file (inline mode, tests) need no build. */
function load(): ShmAddon {
  if (addon !== null) return addon;
  const root = findRepoRoot(dirname(fileURLToPath(import.meta.url)));
  const path = join(root, ADDON_RELATIVE);
  if (!existsSync(path)) {
    throw new Error(`corral: shared-memory addon not built (${path} missing); run \`npm run build\``);
  }
  addon = createRequire(import.meta.url)(path) as ShmAddon;
  return addon;
}

/** shm_open wants exactly one leading slash and no other; callers pass bare names like `corral-1234`. */
function posixName(name: string): string {
  const bare = name.startsWith('/') ? name.slice(1) : name;
  if (bare.length === 0 || bare.includes('/')) throw new Error(`corral: invalid shared-memory name ${JSON.stringify(name)}`);
  return '/' + bare;
}

/**
 * Maps a POSIX shared-memory segment as a SharedArrayBuffer. `create` makes a new zero-filled
 * segment of `size` bytes (fails with code EEXIST if the name is taken); otherwise attaches to an
 * existing one that must be at least `size` bytes. The mapping lives until every view is collected.
 */
export function openSharedMemory(name: string, size: number, create: boolean): SharedArrayBuffer {
  return load().open(posixName(name), size, create);
}

/** shm_unlink: removes the name; existing mappings stay valid. Returns false if it did not exist. */
export function unlinkSharedMemory(name: string): boolean {
  return load().unlink(posixName(name));
}

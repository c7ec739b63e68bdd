// Compiles the TypeScript into dist/ (tests, demo, benchmarks, and the type check) when
// TypeScript is installed: a development install. A production install (`npm ci --omit=dev`) has
// no TypeScript and needs none: corral itself runs from the bundles (scripts/bundle.mjs).
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

let tsc;
try {
  tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
} catch {
  console.log('corral: TypeScript is not installed (a production install): dist/ for tests, demo and benchmarks not built; the bundles are');
  process.exit(0);
}
const run = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { stdio: 'inherit' });
process.exit(run.status ?? 1);

// Bundles corral's two process entry points into one CommonJS file each:
//
//   dist/bundle/cli.cjs          the `corral` command and primary   (from src/cli.ts)
//   dist/bundle/http-worker.cjs  a cluster worker                   (from workers/http-worker.ts)
//
// Why: every module Node loads through its ESM loader costs resident memory in every process
// (module records, the loader's own builtins, V8 compiling each file and touching more of the
// node binary), and corral runs three processes at least. Measured idle RSS, primary + 2 workers
// (perf/RESULTS.md, Optimisation 7): 163.6 MiB as ~45 ES modules per process, 148.2 MiB bundled
// as CommonJS. ES-module bundles save only the workers' part.
//
// The input is the TypeScript itself (esbuild strips the types; const enums are inlined across
// files as tsc would), so a production install (`npm ci --omit=dev`) builds corral with esbuild
// alone: tsc, a devDependency, only type-checks and compiles dist/ for tests, demo and benchmarks.
// Native addons and what loads lazily through createRequire (uWebSockets.js, pino, node:tls, the
// shm addon) stay outside: esbuild does not follow createRequire(...), and the packages named
// `external` below are loaded from node_modules at run time as before. yaml is bundled: it is pure
// JavaScript and only the primary loads it.
//
//   node scripts/bundle.mjs        (run by `npm ci`, `npm ci --omit=dev`, `npm run build`, `npm test`)
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

await build({
  absWorkingDir: root,
  entryPoints: {
    cli: 'src/cli.ts',
    'http-worker': 'workers/http-worker.ts',
  },
  tsconfig: 'tsconfig.json',
  outdir: 'dist/bundle',
  outExtension: { '.js': '.cjs' },
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  // msgpackr has an optional native part it looks for at run time; undici is only for the tests
  // and the demo; the others are loaded through createRequire and would stay out anyway.
  external: ['uWebSockets.js', 'msgpackr', 'pino', 'undici'],
  // CommonJS has no import.meta: every module of the bundle sees the bundle's own URL, which is
  // what createRequire and the relative paths below need (dist/bundle is as deep as dist/src).
  // 'use strict' comes first: the ES modules it replaces were strict, and a directive after the
  // banner's statement would not count.
  banner: { js: "'use strict';\nconst __corralModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
  define: {
    'import.meta.url': '__corralModuleUrl',
    // The supervisor forks this file instead of the tsc-built worker (src/primary/supervisor.ts).
    CORRAL_BUNDLED_WORKER: JSON.stringify('./http-worker.cjs'),
  },
  // Not minified: stack traces and profiles keep corral's own names. The source map (linked, not
  // loaded unless node runs with --enable-source-maps) maps them back to the TypeScript.
  sourcemap: 'linked',
  logLevel: 'warning',
});

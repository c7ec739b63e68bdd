/**
 * The common frame of every perf script: temporary directories removed and every child killed
 * on any exit (normal, error, SIGINT/SIGTERM), a machine note, JSON output under perf/out/.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseFlags, type Flags, type OptionsOf } from './args.js';
import { killAll, REPO_ROOT } from './children.js';

const tempDirs = new Set<string>();

export function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), `corral-perf-${prefix}-`));
  tempDirs.add(d);
  return d;
}

/** Removes a tempDir before exit (a script that makes one per run). */
export function removeTempDir(d: string): void {
  rmSync(d, { recursive: true, force: true });
  tempDirs.delete(d);
}

export function cleanUp(): void {
  killAll();
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
  tempDirs.clear();
}

export function loadAverage(): string {
  return loadavg().map((l) => l.toFixed(2)).join(' ');
}

/** One line saying what the figures came from: they mean little without it. */
export function machineNote(): string {
  return `node ${process.version}, ${cpus().length} CPU (${cpus()[0]?.model.trim() ?? '?'}), `
    + `${Math.round(totalmem() / 2 ** 30)} GiB, load average ${loadAverage()}`;
}

/** Writes perf/out/NAME-TIMESTAMP.json and returns its path. */
export function writeResult(name: string, data: unknown): string {
  const dir = join(REPO_ROOT, 'perf', 'out');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(data, null, 2)}\n`);
  return file;
}

/**
 * Parses the command line against `flags` and runs `main` with the options, with cleanup wired to
 * every way out. Exit code: main's result, 2 if it threw or the command line was refused (the
 * harness broke), 130 on SIGINT/SIGTERM.
 */
export function runMain<F extends Flags>(name: string, flags: F, main: (opt: OptionsOf<F>, positionals: string[]) => Promise<number>,
  allowPositionals = false): void {
  process.once('exit', cleanUp);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      cleanUp();
      process.exit(130);
    });
  }
  const run = async (): Promise<number> => {
    const { options, positionals } = parseFlags(process.argv.slice(2), flags, allowPositionals);
    return main(options, positionals);
  };
  run().then((code) => {
    cleanUp();
    process.exit(code);
  }, (err: unknown) => {
    process.stderr.write(`perf/${name}: ${(err as Error).stack ?? String(err)}\n`);
    cleanUp();
    process.exit(2);
  });
}

/**
 * The common frame of every perf script: temporary directories removed and every child killed
 * on any exit (normal, error, SIGINT/SIGTERM), a machine note, JSON output under perf/out/.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { killAll, REPO_ROOT } from './children.js';

const tempDirs = new Set<string>();

export function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), `corral-perf-${prefix}-`));
  tempDirs.add(d);
  return d;
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
 * Runs `main` with cleanup wired to every way out. Exit code: main's result, 2 if it threw
 * (the harness broke), 130 on SIGINT/SIGTERM.
 */
export function runMain(name: string, main: () => Promise<number>): void {
  process.once('exit', cleanUp);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      cleanUp();
      process.exit(130);
    });
  }
  main().then((code) => {
    cleanUp();
    process.exit(code);
  }, (err: unknown) => {
    process.stderr.write(`perf/${name}: ${(err as Error).stack ?? String(err)}\n`);
    cleanUp();
    process.exit(2);
  });
}

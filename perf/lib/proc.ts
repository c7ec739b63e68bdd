/**
 * Linux /proc readings for the processes under test: CPU time (utime + stime) and resident memory.
 * Read from outside, so measuring never runs code inside the process being measured.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

let clockTicks = 0;

/** USER_HZ: the unit of utime/stime in /proc/PID/stat (100 on every mainstream Linux). */
export function clkTck(): number {
  if (clockTicks === 0) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/**
 * utime + stime of one process in µs, or null if it is gone. Fields 14 and 15 of /proc/PID/stat,
 * counted after the `(comm)` field, which may itself contain spaces (proc(5)).
 */
export function cpuMicros(pid: number): number | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state): utime is field 14 → rest[11], stime field 15 → rest[12].
  const ticks = Number(rest[11]) + Number(rest[12]);
  return (ticks * 1_000_000) / clkTck();
}

/** `pid` and all its descendants (from /proc/PID/task/TID/children), e.g. nginx's master and workers. */
export function processTree(pid: number): number[] {
  const out: number[] = [];
  const visit = (p: number): void => {
    out.push(p);
    let tasks: string[];
    try {
      tasks = readdirSync(`/proc/${p}/task`);
    } catch {
      return;
    }
    for (const tid of tasks) {
      let children = '';
      try {
        children = readFileSync(`/proc/${p}/task/${tid}/children`, 'utf8');
      } catch {
        continue;
      }
      for (const c of children.split(' ')) if (c.trim() !== '') visit(Number(c));
    }
  };
  visit(pid);
  return out;
}

/** Sum of cpuMicros over `pids`; a vanished process counts as null (the caller decides). */
export function cpuMicrosOf(pids: readonly number[]): { total: number; missing: number[] } {
  let total = 0;
  const missing: number[] = [];
  for (const pid of pids) {
    const us = cpuMicros(pid);
    if (us === null) missing.push(pid);
    else total += us;
  }
  return { total, missing };
}

/**
 * Proportional set size in MiB (from /proc/PID/smaps_rollup): resident pages, each shared page
 * divided by the number of processes mapping it. RSS counts the node binary's ~40 MB of shared
 * text once per process; PSS summed over corral's processes is what they really occupy.
 */
export function pssMiB(pid: number): number | null {
  return kibFieldMiB(`/proc/${pid}/smaps_rollup`, 'Pss');
}

/** VmRSS of one process in MiB (from /proc/PID/status), or null if it is gone. */
export function rssMiB(pid: number): number | null {
  return kibFieldMiB(`/proc/${pid}/status`, 'VmRSS');
}

/** A `Field:   N kB` line of a /proc file, in MiB; null if the file (its process) or the line is gone. */
function kibFieldMiB(file: string, field: string): number | null {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(readFileSync(file, 'utf8'));
    return m === null ? null : Number(m[1]) / 1024;
  } catch {
    return null;
  }
}

/** Whether /proc is there at all (Linux); the CPU and memory benchmarks need it. */
export function hasProc(): boolean {
  try {
    readFileSync('/proc/self/stat', 'utf8');
    return true;
  } catch {
    return false;
  }
}

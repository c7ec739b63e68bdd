/**
 * Human-friendly sizes and durations, as written in config/corral.yaml and CORRAL_* variables.
 *
 * - size: a non-negative integer (bytes) or a string `<number><unit>`, case-insensitive, where
 *   B, KB, MB, GB, TB are powers of 1000 and KiB, MiB, GiB, TiB powers of 1024 (`50MiB`, `16kb`).
 *   A string of digits alone is bytes.
 * - duration: a non-negative integer (milliseconds) or a string `<number><unit>` with unit ms, s,
 *   m, h or d (`250ms`, `30s`, `5m`, `1h`, `1.5s`). A string needs its unit.
 *
 * Fractions are allowed in strings and the result is rounded to a whole byte / millisecond.
 * Both return null when the value is not valid (callers turn that into a ConfigError problem).
 */

const SIZE_UNITS: Readonly<Record<string, number>> = {
  '': 1,
  b: 1,
  kb: 1000,
  mb: 1000 ** 2,
  gb: 1000 ** 3,
  tb: 1000 ** 4,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
};

const DURATION_UNITS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

const SIZE_RE = /^(\d+(?:\.\d+)?|\.\d+)\s*([a-z]*)$/i;
const DURATION_RE = /^(\d+(?:\.\d+)?|\.\d+)\s*([a-z]+)$/i;

function wholeNonNegative(v: number): number | null {
  return Number.isSafeInteger(v) && v >= 0 ? v : null;
}

function scaled(amount: string, multiplier: number | undefined): number | null {
  if (multiplier === undefined) return null;
  const value = Math.round(Number(amount) * multiplier);
  return wholeNonNegative(value);
}

/** Bytes, or null when `v` is not a valid size. */
export function parseSize(v: unknown): number | null {
  if (typeof v === 'number') return wholeNonNegative(v);
  if (typeof v !== 'string') return null;
  const m = SIZE_RE.exec(v.trim());
  if (m === null) return null;
  return scaled(m[1]!, SIZE_UNITS[m[2]!.toLowerCase()]);
}

/** Milliseconds, or null when `v` is not a valid duration. */
export function parseDuration(v: unknown): number | null {
  if (typeof v === 'number') return wholeNonNegative(v);
  if (typeof v !== 'string') return null;
  const m = DURATION_RE.exec(v.trim());
  if (m === null) return null;
  return scaled(m[1]!, DURATION_UNITS[m[2]!.toLowerCase()]);
}

/** Renders milliseconds the way a human would write them in the config (for messages, `corral config print`). */
export function formatDuration(ms: number): string {
  for (const [unit, factor] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms >= factor && ms % factor === 0) return `${ms / factor}${unit}`;
  }
  return `${ms}ms`;
}

/** Renders bytes with the largest binary unit that divides them exactly. */
export function formatSize(bytes: number): string {
  for (const [unit, factor] of [['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]] as const) {
    if (bytes >= factor && bytes % factor === 0) return `${bytes / factor}${unit}`;
  }
  return `${bytes}B`;
}

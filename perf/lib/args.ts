/** Command-line numbers for the benchmarks: strict, with the flag's name in every error. */

export function intArg(v: string | undefined, flag: string, min: number): number {
  const n = Number(v);
  if (v === undefined || !Number.isInteger(n) || n < min) throw new TypeError(`--${flag} must be an integer ≥ ${min}, got ${v}`);
  return n;
}

export function numArg(v: string | undefined, flag: string, min: number): number {
  const n = Number(v);
  if (v === undefined || !Number.isFinite(n) || n < min) throw new TypeError(`--${flag} must be a number ≥ ${min}, got ${v}`);
  return n;
}

/** `1,8,32,64` → [1, 8, 32, 64]. */
export function intListArg(v: string | undefined, flag: string, min: number): number[] {
  if (v === undefined || v.trim() === '') throw new TypeError(`--${flag} must be a comma-separated list of integers`);
  return v.split(',').map((s) => intArg(s.trim(), flag, min));
}

export function choiceArg<T extends string>(v: string | undefined, flag: string, choices: readonly T[]): T {
  if (v === undefined || !(choices as readonly string[]).includes(v)) {
    throw new TypeError(`--${flag} must be one of ${choices.join(', ')}, got ${v}`);
  }
  return v as T;
}

import { existsSync, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
/** Command-line flags for the benchmarks: strict, with the flag's name in every error. */
import { parseArgs } from 'node:util';

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

/**
 * One command-line flag as a script declares it: its default (as it would be typed) and how its
 * text becomes the option's value. Every flag takes a value (`--name value`).
 */
export interface Flag<T> {
  /** The name on the command line, when it is not the option's own key (`durationS` ← `--duration`). */
  flag?: string;
  default: string;
  parse(v: string | undefined, flag: string): T;
}

export type Flags = Record<string, Flag<unknown>>;

/** The options a flag table yields: one key per flag, each its parsed value. */
export type OptionsOf<F extends Flags> = { [K in keyof F]: F[K] extends Flag<infer T> ? T : never };

/** An integer flag ≥ `min` (intArg). */
export function int(def: number, min: number, flag?: string): Flag<number> {
  return { flag, default: String(def), parse: (v, f) => intArg(v, f, min) };
}

/** A number flag ≥ `min` (numArg). */
export function num(def: number, min: number, flag?: string): Flag<number> {
  return { flag, default: String(def), parse: (v, f) => numArg(v, f, min) };
}

/** A comma-separated list of integers ≥ `min` (intListArg), its default written the same way. */
export function intList(def: string, min: number, flag?: string): Flag<number[]> {
  return { flag, default: def, parse: (v, f) => intListArg(v, f, min) };
}

/** A path to an existing file, or '' (the default) for none. */
export function existingFile(flag?: string): Flag<string> {
  return {
    flag, default: '', parse: (v, f) => {
      if (v === undefined || v === '') return '';
      if (!existsSync(v)) throw new Error(`--${f}: no such file: ${v}`);
      return resolve(v);
    },
  };
}

/** A path to a directory, made if missing, or '' (the default) for none. */
export function directory(flag?: string): Flag<string> {
  return {
    flag, default: '', parse: (v) => {
      if (v === undefined || v === '') return '';
      mkdirSync(v, { recursive: true });
      return resolve(v);
    },
  };
}

/** One of `choices` (choiceArg). */
export function choice<T extends string>(def: T, choices: readonly T[], flag?: string): Flag<T> {
  return { flag, default: def, parse: (v, f) => choiceArg(v, f, choices) };
}

/**
 * `argv` parsed strictly against `flags` (an unknown flag or a missing value throws), each value
 * parsed in the table's order; positionals are refused unless `allowPositionals`.
 */
export function parseFlags<F extends Flags>(argv: string[], flags: F, allowPositionals = false): { options: OptionsOf<F>; positionals: string[] } {
  const spec: Record<string, { type: 'string'; default: string }> = {};
  for (const [key, f] of Object.entries(flags)) spec[f.flag ?? key] = { type: 'string', default: f.default };
  const { values, positionals } = parseArgs({ args: argv, options: spec, allowPositionals, strict: true });
  const options: Record<string, unknown> = {};
  for (const [key, f] of Object.entries(flags)) {
    const name = f.flag ?? key;
    options[key] = f.parse(values[name] as string | undefined, name);
  }
  return { options: options as OptionsOf<F>, positionals };
}

import { createRequire } from 'node:module';
import type { Logger as PinoLogger } from 'pino';
import type { LogLevel } from '../config/types.js';

/** pino's numeric levels; `silent` logs nothing. */
const LEVEL_VALUES: Readonly<Record<LogLevel, number>> = {
  trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity,
};

type LogMethod = (objOrMsg: object | string, msg?: string) => void;

/**
 * One JSON logger per process (pino, synchronous stdout: pm2 and container runtimes collect
 * stdout). `role` names the process (`primary`, `worker-3`) so interleaved lines stay readable.
 *
 * pino itself is loaded on the first line that passes the level: a worker at `info` with request
 * logging off may never log at all, and pino's modules cost ~9 MB of RSS in every process.
 * Lines below the level cost one comparison.
 */
export class Logger {
  readonly level: LogLevel;
  readonly #min: number;
  readonly #role: string;
  #pino: PinoLogger | null;

  constructor(level: LogLevel, role: string) {
    this.level = level;
    this.#min = LEVEL_VALUES[level];
    this.#role = role;
    this.#pino = null;
  }

  /** Whether a line at `level` would be written: to skip building one that would not. */
  enabled(level: 'trace' | 'debug'): boolean {
    return (level === 'trace' ? 10 : 20) >= this.#min;
  }

  #logger(): PinoLogger {
    if (this.#pino === null) {
      const pino = createRequire(import.meta.url)('pino') as typeof import('pino');
      this.#pino = pino.pino({ level: this.level, base: { pid: process.pid, role: this.#role }, timestamp: pino.stdTimeFunctions.isoTime });
    }
    return this.#pino;
  }

  #emit(value: number, name: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal', objOrMsg: object | string, msg?: string): void {
    if (value < this.#min) return;
    const l = this.#logger();
    if (typeof objOrMsg === 'string') l[name](objOrMsg);
    else l[name](objOrMsg, msg);
  }

  readonly trace: LogMethod = (o, m) => this.#emit(10, 'trace', o, m);
  readonly debug: LogMethod = (o, m) => this.#emit(20, 'debug', o, m);
  readonly info: LogMethod = (o, m) => this.#emit(30, 'info', o, m);
  readonly warn: LogMethod = (o, m) => this.#emit(40, 'warn', o, m);
  readonly error: LogMethod = (o, m) => this.#emit(50, 'error', o, m);
  readonly fatal: LogMethod = (o, m) => this.#emit(60, 'fatal', o, m);
}

export function createLogger(config: { readonly level: LogLevel }, role: string): Logger {
  return new Logger(config.level, role);
}

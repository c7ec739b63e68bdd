import pino, { type Logger } from 'pino';
import type { LoggingConfig } from '../config/types.js';

/**
 * One JSON logger per process (pino, synchronous stdout: pm2 and container runtimes collect
 * stdout). `role` names the process (`primary`, `worker-3`) so interleaved lines stay readable.
 */
export function createLogger(config: Pick<LoggingConfig, 'level'>, role: string): Logger {
  return pino({ level: config.level, base: { pid: process.pid, role }, timestamp: pino.stdTimeFunctions.isoTime });
}

export type { Logger };

import type { Config } from '../config/types.js';

/**
 * Settings a running corral cannot change in place: the listening addresses, the worker count
 * and the shared segment's sizes (fixed when it was created). A reload keeps their running
 * values and says which ones it kept; everything else (endpoints, routing, timeouts, logging,
 * the breaker) takes effect.
 */
const RESTART_ONLY: readonly (readonly [keyof Config, string])[] = [
  ['server', 'host'], ['server', 'port'], ['server', 'management_port'], ['server', 'workers'],
  ['routing', 'session_slots'], ['state', 'max_endpoints'], ['state', 'max_models'],
];

export function keepRestartOnlySettings(running: Config, next: Config): { config: Config; kept: string[] } {
  const kept: string[] = [];
  const sections: Record<string, Record<string, unknown>> = {};
  for (const [section, key] of RESTART_ONLY) {
    const was = (running[section] as unknown as Record<string, unknown>)[key];
    const now = (next[section] as unknown as Record<string, unknown>)[key];
    if (was === now) continue;
    kept.push(`${section}.${key}`);
    sections[section] ??= { ...(next[section] as unknown as Record<string, unknown>) };
    sections[section]![key] = was;
  }
  if (kept.length === 0) return { config: next, kept };
  return { config: deepFreeze({ ...next, ...sections } as Config), kept };
}

function deepFreeze<T>(o: T): T {
  if (o !== null && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}

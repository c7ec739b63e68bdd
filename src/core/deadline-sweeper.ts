import { performance } from 'node:perf_hooks';

/**
 * Timeouts without a timer per request (upstream connections, request bodies being received):
 * every owner keeps its deadlines as numbers (moved forward on every read) and one unref'd
 * interval per process compares them with the clock. Arming and re-arming a timer per request
 * and per read would cost more than the parse.
 *
 * The clock is coarse: `now` is read once per tick, and a deadline is set one tick past its due
 * time, so a timeout fires between its configured value and that plus two ticks — never early.
 * The tick is a quarter of the shortest timeout in use, between 25 ms and 1 s.
 */

export interface DeadlineOwner {
  /** Looks at its connections' deadlines; called on every tick. */
  sweep(now: number): void;
}

const MIN_TICK_MS = 25;
const MAX_TICK_MS = 1000;

const owners = new Set<DeadlineOwner>();
let timer: NodeJS.Timeout | null = null;
let tickMs = MAX_TICK_MS;

/** The coarse clock, in performance.now() milliseconds, updated every tick. */
export let coarseNow = performance.now();

/** A deadline `ms` from now on the coarse clock, one tick late so a stale `coarseNow` never fires early. */
export function deadlineIn(ms: number): number {
  return coarseNow + ms + tickMs;
}

function tick(): void {
  coarseNow = performance.now();
  for (const owner of owners) owner.sweep(coarseNow);
}

/** Starts sweeping `owner`, with a tick short enough for `shortestTimeoutMs`. */
export function watchDeadlines(owner: DeadlineOwner, shortestTimeoutMs: number): void {
  owners.add(owner);
  coarseNow = performance.now();
  const wanted = Math.min(MAX_TICK_MS, Math.max(MIN_TICK_MS, Math.floor(shortestTimeoutMs / 4)));
  if (timer !== null && wanted >= tickMs) return;
  tickMs = wanted;
  if (timer !== null) clearInterval(timer);
  timer = setInterval(tick, tickMs);
  // Deadlines never keep a process alive: a draining worker exits when its sockets do.
  timer.unref();
}

export function unwatchDeadlines(owner: DeadlineOwner): void {
  owners.delete(owner);
  if (owners.size === 0 && timer !== null) {
    clearInterval(timer);
    timer = null;
    tickMs = MAX_TICK_MS;
  }
}

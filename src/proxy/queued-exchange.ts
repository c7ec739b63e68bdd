import { Dialect } from '../protocol/dialect.js';
import { ADMIT, REFUSE_FULL } from '../routing/admission.js';
import { QueueFullError, QueueTimeoutError } from '../core/errors.js';
import { Histogram } from '../state/stats.js';
import { writeHeartbeat } from '../server/response.js';
import { nowMs } from './queue-waiters.js';
import type { Exchange } from './exchange.js';

/**
 * What an exchange does in its model's admission queue: join it or be refused, leave it, time
 * out, send heartbeats. Kept beside Exchange (which only calls in) so the request's orchestration
 * stays readable; the queue's order and wake-ups are queue-waiters.ts and state/queues.ts.
 */

/**
 * Every slot for the model is taken (or a load must wait for busy models): wait in the model's
 * admission queue, unless it is full — then 503 with a Retry-After from the queue's pace.
 */
export function enqueue(ex: Exchange): void {
  // A woken head that found no slot after all keeps its place and waits for the next wake.
  if (ex.queuedAt !== 0) return;
  const proxy = ex.proxy;
  const admission = proxy.admission!;
  const m = ex.model.index;
  const verdict = admission.admit(m, ex.lowPriority);
  if (verdict !== ADMIT) {
    proxy.segment.queues.countRefused(m);
    const depth = proxy.segment.queues.depth(m);
    return ex.fail(new QueueFullError(verdict === REFUSE_FULL
      ? `every endpoint serving "${ex.model.name}" is busy and its queue is full (${depth} waiting, queue.max_size ${admission.maxSize})`
      : `every endpoint serving "${ex.model.name}" is busy and ${depth} requests wait; low-priority requests are refused past queue.shed_at (${admission.shedAt})`),
    admission.retryAfterSeconds(ex.model));
  }
  proxy.queueWaiters.join(m, ex, ex.facts.stream && ex.route.dialect === Dialect.OpenAI);
  // Joined first, looked again second: a slot released before the join, by a request that saw
  // no queue, is found here (queue-waiters.ts: no lost wake-up).
  if (admission.mayHaveSlot(ex.model)) proxy.queueWaiters.wakeHead(m, 0, nowMs());
}

/**
 * The exchange leaves its queue (dispatched, answered, gone); the next head is woken when a slot
 * may still be free. Returns how long it waited, in ms.
 */
export function leaveQueue(ex: Exchange): number {
  const proxy = ex.proxy;
  return proxy.queueWaiters.leave(ex.model.index, ex, proxy.admission?.mayHaveSlot(ex.model) ?? false);
}

/** Dispatched from the queue: leave it and say how long it waited (header, averages, histogram). */
export function dequeued(ex: Exchange): void {
  const proxy = ex.proxy;
  const waited = leaveQueue(ex);
  ex.r.queueWaitMs = Math.round(waited);
  proxy.segment.queues.recordWait(ex.model.index, waited);
  proxy.segment.stats.observe(proxy.statsSlot, Histogram.QueueWait, Math.round(waited * 1000));
  if (ex.wakeSentAt !== 0 && proxy.log.enabled('debug')) {
    // From the slot freeing (in whichever process) to this request taking it: perf/admission reads it.
    proxy.log.debug({ requestId: ex.r.requestId, model: ex.model.name, waitedMs: Math.round(waited * 1000) / 1000,
      wakeMs: Math.round((nowMs() - ex.wakeSentAt) * 1000) / 1000 }, 'queued request dispatched');
  }
}

/** queue.timeout passed (the exchange has already left the queue): 503, and no load wait either. */
export function queueTimedOut(ex: Exchange): void {
  if (ex.done) return;
  const proxy = ex.proxy;
  if (ex.waitingFor >= 0) {
    proxy.loadWaiters.remove(ex.waitingFor, ex);
    ex.waitingFor = -1;
  }
  proxy.segment.queues.countTimeout(ex.model.index);
  ex.fail(new QueueTimeoutError(`waited ${Math.round(proxy.admission!.timeoutMs / 1000)} s (queue.timeout) for a free slot on an endpoint serving `
    + `"${ex.model.name}"; ${proxy.segment.queues.depth(ex.model.index)} request(s) still wait`), proxy.admission!.retryAfterSeconds(ex.model));
}

/** An SSE comment to a waiting /v1 stream; the first one commits a 200 event-stream head. */
export function queueHeartbeat(ex: Exchange, ahead: number): void {
  if (ex.done || ex.r.aborted) return;
  ex.heartbeatHead = true;
  writeHeartbeat(ex.r, `: queued position=${ahead + 1}\n\n`);
}

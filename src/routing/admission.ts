import type { QueueConfig } from '../config/types.js';
import { InvalidRequestError } from '../core/errors.js';
import type { Segment } from '../state/segment.js';
import { EndpointState } from '../state/endpoints.js';
import { MODEL_LOADED } from '../state/models.js';
import type { ModelRoute } from './routing-table.js';

/** admit(): the request may wait in the model's queue. */
export const ADMIT = 0;
/** admit(): the queue holds queue.max_size requests. */
export const REFUSE_FULL = 1;
/** admit(): a low-priority request, and the queue is past queue.shed_at. */
export const REFUSE_SHED = 2;

/** Retry-After when the model has no service time on record yet (no request of it has finished). */
const UNKNOWN_SERVICE_RETRY_S = 1;

/**
 * Whether a request that found every slot for its model taken may wait for one, and what to tell
 * it when not. The queue itself is shared (state/queues.ts); the waiting requests live in their
 * worker (proxy/queue-waiters.ts). Reads only the segment.
 */
export class Admission {
  readonly #segment: Segment;
  readonly maxSize: number;
  readonly shedAt: number;
  readonly timeoutMs: number;

  constructor(segment: Segment, config: QueueConfig) {
    this.#segment = segment;
    this.maxSize = config.max_size;
    this.shedAt = config.shed_at;
    this.timeoutMs = config.timeout;
  }

  /**
   * ADMIT, REFUSE_FULL or REFUSE_SHED for a new waiter of `model`. Racing workers can each see
   * room for one more: the queue may overshoot max_size by the number of workers, never more.
   */
  admit(model: number, low: boolean): number {
    const depth = this.#segment.queues.depth(model);
    if (depth >= this.maxSize) return REFUSE_FULL;
    if (low && depth >= this.shedAt) return REFUSE_SHED;
    return ADMIT;
  }

  /**
   * When a refused client should come back: the time the requests already queued take to go
   * through the model's slots, from the average time a request holds one (its service time):
   * depth × service ÷ slots, rounded up, at least 1 s and at most queue.timeout.
   */
  retryAfterSeconds(model: ModelRoute): number {
    const seg = this.#segment;
    const serviceMs = seg.queues.serviceMs(model.index);
    if (serviceMs === 0) return UNKNOWN_SERVICE_RETRY_S;
    let slots = 0;
    for (let k = 0; k < model.endpoints.length; k++) {
      const e = model.endpoints[k]!;
      if (seg.endpoints.state(e) === EndpointState.Healthy) slots += seg.endpoints.maxConcurrency(e);
    }
    const depth = seg.queues.depth(model.index) + 1;
    const seconds = Math.ceil((depth * serviceMs) / Math.max(1, slots) / 1000);
    return Math.max(1, Math.min(seconds, Math.ceil(this.timeoutMs / 1000)));
  }

  /**
   * The model is resident but busy everywhere and another endpoint could load a copy: is the copy
   * worth it? Waiting for a slot usually takes one request's time, a load many: the copy is made
   * once the queue holds a full round of the resident copies' slots (sustained demand), not for
   * a burst's last few requests.
   */
  worthACopy(model: ModelRoute): boolean {
    const seg = this.#segment;
    let slots = 0;
    for (let k = 0; k < model.endpoints.length; k++) {
      const e = model.endpoints[k]!;
      if ((seg.models.flags(e, model.index) & MODEL_LOADED) !== 0) slots += seg.endpoints.maxConcurrency(e);
    }
    return seg.queues.depth(model.index) >= slots;
  }

  /**
   * Might a slot for `model` be free now? Any healthy endpoint serving it below max_concurrency.
   * Cheap and approximate (no dialect, circuit or residency check): it only decides whether the
   * queue's head is worth waking; the head itself routes for real.
   */
  mayHaveSlot(model: ModelRoute): boolean {
    const endpoints = this.#segment.endpoints;
    for (let k = 0; k < model.endpoints.length; k++) {
      const e = model.endpoints[k]!;
      if (endpoints.state(e) === EndpointState.Healthy && endpoints.inflight(e) < endpoints.maxConcurrency(e)) return true;
    }
    return false;
  }
}

/** X-Corral-Priority: `low` or `normal` (any case); anything else is refused, naming the header. */
export function isLowPriority(value: string): boolean {
  const v = value.trim().toLowerCase();
  if (v === 'low') return true;
  if (v === 'normal') return false;
  throw new InvalidRequestError('x-corral-priority: must be normal or low');
}

import {
  H_QUEUED_TOTAL, QUEUE_LINE_STRIDE, QUEUE_SLOT_STRIDE, Q_DEPTH, Q_NEXT_TICKET, Q_QUEUED, Q_REFUSED, Q_SERVICE_MS,
  Q_TIMEOUTS, Q_WAIT_MS, QS_COUNT, QS_HEAD, type Layout,
} from './layout.js';

/** No waiter: headOwner() found no stats slot with a request queued for the model. */
export const NO_OWNER = -1;

/** Weight of a new sample in the service- and wait-time averages: 1/8, in integer arithmetic. */
const EWMA_SHIFT = 3;

/**
 * The admission queues' shared state (routing/admission.ts decides, proxy/queue-waiters.ts holds
 * the waiting requests). The requests themselves stay in the worker that accepted them; what the
 * segment holds makes the order one queue per model across every worker:
 *
 *  - a ticket counter per model: a request that must wait takes the next ticket (Atomics.add),
 *    so tickets order the model's waiters across workers in arrival order;
 *  - per (model, stats slot): how many requests that process has queued and the ticket of its
 *    oldest. A process's waiters are in ticket order (it takes them in order), so the queue's
 *    head is the smallest of these heads, and its owner is the process to wake when a slot
 *    frees. Nothing else needs to be shared: no ring of tickets, no holes left by a request
 *    that gave up (it is simply no longer anyone's head);
 *  - the depth per model and in all (header), so a request can tell in one load whether it must
 *    queue behind others, and a finishing request whether anyone waits at all.
 *
 * Tickets are u32 counters that wrap; they are compared by their signed difference, which is
 * right while fewer than 2^31 tickets separate two waiters.
 */
export class QueueTable {
  readonly #i32: Int32Array;
  readonly #slots: Int32Array;
  readonly #header: Int32Array;
  readonly #maxWorkers: number;
  readonly #maxModels: number;

  constructor(sab: SharedArrayBuffer, layout: Layout) {
    this.#i32 = new Int32Array(sab, layout.queuesOffset, layout.queuesBytes / 4);
    this.#slots = new Int32Array(sab, layout.queueSlotsOffset, layout.queueSlotsBytes / 4);
    this.#header = new Int32Array(sab, layout.headerOffset, layout.headerBytes / 4);
    this.#maxWorkers = layout.sizes.maxWorkers;
    this.#maxModels = layout.sizes.maxModels;
  }

  /** Requests queued for any model, in every process: 0 on the hot path, one load to tell. */
  total(): number {
    return Atomics.load(this.#header, H_QUEUED_TOTAL);
  }

  depth(model: number): number {
    return Atomics.load(this.#i32, model * QUEUE_LINE_STRIDE + Q_DEPTH);
  }

  /**
   * The depth as a hint, by a plain read (a machine load where Atomics.load is a builtin call):
   * for the request path's "does anyone wait for this model?", which a stale answer only delays
   * by one request — the waiters' order and wake-ups rest on the atomic counts, not on this.
   */
  waiting(model: number): number {
    return this.#i32[model * QUEUE_LINE_STRIDE + Q_DEPTH]!;
  }

  /**
   * Queues one request of stats slot `slot` for `model`: takes the next ticket, counts it, and
   * makes it the slot's head when the slot had none queued. Returns the ticket.
   */
  enqueue(model: number, slot: number): number {
    const line = model * QUEUE_LINE_STRIDE;
    const ticket = Atomics.add(this.#i32, line + Q_NEXT_TICKET, 1);
    const s = (model * this.#maxWorkers + slot) * QUEUE_SLOT_STRIDE;
    // Head before count: a reader that sees the count sees a head written for it.
    if (Atomics.load(this.#slots, s + QS_COUNT) === 0) Atomics.store(this.#slots, s + QS_HEAD, ticket);
    Atomics.add(this.#slots, s + QS_COUNT, 1);
    Atomics.add(this.#i32, line + Q_DEPTH, 1);
    Atomics.add(this.#i32, line + Q_QUEUED, 1);
    Atomics.add(this.#header, H_QUEUED_TOTAL, 1);
    return ticket;
  }

  /**
   * One request of `slot` left the queue of `model` (dispatched, timed out, gone). `nextHead` is
   * the ticket of that slot's oldest remaining waiter (ignored when none remains).
   */
  dequeue(model: number, slot: number, nextHead: number): void {
    const s = (model * this.#maxWorkers + slot) * QUEUE_SLOT_STRIDE;
    Atomics.store(this.#slots, s + QS_HEAD, nextHead);
    Atomics.sub(this.#slots, s + QS_COUNT, 1);
    Atomics.sub(this.#i32, model * QUEUE_LINE_STRIDE + Q_DEPTH, 1);
    Atomics.sub(this.#header, H_QUEUED_TOTAL, 1);
  }

  /** The stats slot holding the model's oldest waiter, or NO_OWNER. */
  headOwner(model: number): number {
    const slots = this.#slots;
    const base = model * this.#maxWorkers * QUEUE_SLOT_STRIDE;
    let owner = NO_OWNER;
    let oldest = 0;
    for (let w = 0; w < this.#maxWorkers; w++) {
      const s = base + w * QUEUE_SLOT_STRIDE;
      if (Atomics.load(slots, s + QS_COUNT) <= 0) continue;
      const head = Atomics.load(slots, s + QS_HEAD);
      if (owner === NO_OWNER || ((head - oldest) | 0) < 0) {
        owner = w;
        oldest = head;
      }
    }
    return owner;
  }

  /** How many of the model's waiters hold a ticket older than `ticket` (the position is this + 1). */
  ahead(model: number, ticket: number): number {
    // Tickets of requests that left are gaps: the distance to the oldest head bounds the count,
    // the depth does too. Exact enough for a progress line.
    const owner = this.headOwner(model);
    if (owner === NO_OWNER) return 0;
    const head = Atomics.load(this.#slots, (model * this.#maxWorkers + owner) * QUEUE_SLOT_STRIDE + QS_HEAD);
    return Math.max(0, Math.min((ticket - head) | 0, this.depth(model) - 1));
  }

  /**
   * A process went away (primary): its waiters went with it. Returns the models it had queued
   * for, whose next head must be woken.
   */
  dropSlot(slot: number): number[] {
    const dropped: number[] = [];
    for (let m = 0; m < this.#maxModels; m++) {
      const s = (m * this.#maxWorkers + slot) * QUEUE_SLOT_STRIDE;
      const count = Atomics.exchange(this.#slots, s + QS_COUNT, 0);
      if (count <= 0) continue;
      Atomics.sub(this.#i32, m * QUEUE_LINE_STRIDE + Q_DEPTH, count);
      Atomics.sub(this.#header, H_QUEUED_TOTAL, count);
      dropped.push(m);
    }
    return dropped;
  }

  /** A request of the model finished its time on an endpoint: feeds the service-time average behind Retry-After. */
  recordService(model: number, ms: number): void {
    ewma(this.#i32, model * QUEUE_LINE_STRIDE + Q_SERVICE_MS, ms);
  }

  /** Average time a request of the model holds an endpoint slot, in ms (0 = never seen). */
  serviceMs(model: number): number {
    return this.#i32[model * QUEUE_LINE_STRIDE + Q_SERVICE_MS]!;
  }

  /** A waiter was dispatched after `ms` in the queue. */
  recordWait(model: number, ms: number): void {
    ewma(this.#i32, model * QUEUE_LINE_STRIDE + Q_WAIT_MS, ms);
  }

  /** Average time the model's dispatched waiters spent queued, in ms. */
  waitMs(model: number): number {
    return this.#i32[model * QUEUE_LINE_STRIDE + Q_WAIT_MS]!;
  }

  countTimeout(model: number): void {
    Atomics.add(this.#i32, model * QUEUE_LINE_STRIDE + Q_TIMEOUTS, 1);
  }

  countRefused(model: number): void {
    Atomics.add(this.#i32, model * QUEUE_LINE_STRIDE + Q_REFUSED, 1);
  }

  /** Requests that ever waited in the model's queue (u32, wraps). */
  queued(model: number): number {
    return Atomics.load(this.#i32, model * QUEUE_LINE_STRIDE + Q_QUEUED) >>> 0;
  }

  timeouts(model: number): number {
    return Atomics.load(this.#i32, model * QUEUE_LINE_STRIDE + Q_TIMEOUTS) >>> 0;
  }

  /** Requests refused at once because the queue was full (or past queue.shed_at for their priority). */
  refused(model: number): number {
    return Atomics.load(this.#i32, model * QUEUE_LINE_STRIDE + Q_REFUSED) >>> 0;
  }
}

/**
 * An integer moving average updated by any process without a lock, by plain reads and writes
 * (aligned i32: never torn): a lost update between two racing writers loses one sample, which an
 * average can afford. The first sample sets it.
 */
function ewma(i32: Int32Array, i: number, sample: number): void {
  const old = i32[i]!;
  const v = Math.max(1, Math.min(0x7fffffff, Math.round(sample)));
  i32[i] = old === 0 ? v : old + ((v - old) >> EWMA_SHIFT);
}

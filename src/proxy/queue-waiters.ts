import { performance } from 'node:perf_hooks';
import type { QueueTable } from '../state/queues.js';
import { NO_OWNER } from '../state/queues.js';
import type { RoutingTable } from '../routing/routing-table.js';

/** A request waiting in an admission queue: an Exchange. */
export interface QueueWaiter {
  /** Its ticket in the model's queue (state/queues.ts), set by join(). */
  queueTicket: number;
  /** performance.now() when it joined; 0 while not queued. */
  queuedAt: number;
  /** Its deadline and heartbeat timers while queued (owned by QueueWaiters). */
  queueTimer: NodeJS.Timeout | null;
  heartbeatTimer: NodeJS.Timeout | null;
  /** When the wake that last reached it was sent (Unix ms with a fraction): the wake-up delay, measured at dispatch. */
  wakeSentAt: number;
  /** It is the queue's head and a slot may be free: route again (it stays queued until it is dispatched or answered). */
  queueWake(): void;
  /** queue.timeout passed: answer it (it has already left the queue). */
  queueTimedOut(): void;
  /** queue.heartbeat passed: tell the client it still waits, `ahead` requests before it. */
  queueHeartbeat(ahead: number): void;
}

/** Hops a wake may be forwarded between workers whose views of the head disagree for a moment. */
const MAX_WAKE_HOPS = 2;

/**
 * The requests of this process waiting in admission queues, by model column, in ticket order
 * (this process takes its tickets in order, and a woken head that finds no slot keeps its
 * place). The queue's order across processes is the segment's: the head is the oldest ticket of
 * any process (QueueTable.headOwner). Whoever frees a slot wakes the head: here directly, in
 * another worker through the primary (IPC `queue-wake`) — one message per freed slot while
 * requests wait, none otherwise, no polling.
 *
 * No lost wake-up: a request joins (counted in the segment) before it looks for a free slot once
 * more (Exchange.enqueue), and a finishing request releases its slot before it reads the depth.
 * With sequentially consistent atomics one of the two sees the other.
 */
export class QueueWaiters {
  readonly #queues: QueueTable;
  readonly #slot: number;
  readonly #byModel = new Map<number, QueueWaiter[]>();
  readonly #wakeRemote: (slot: number, model: number, hops: number, sentAtMs: number) => void;
  readonly #onError: (err: unknown) => void;
  #timeoutMs: number;
  #heartbeatMs: number;

  constructor(queues: QueueTable, slot: number, timeoutMs: number, heartbeatMs: number,
    wakeRemote: (slot: number, model: number, hops: number, sentAtMs: number) => void, onError: (err: unknown) => void) {
    this.#queues = queues;
    this.#slot = slot;
    this.#timeoutMs = timeoutMs;
    this.#heartbeatMs = heartbeatMs;
    this.#wakeRemote = wakeRemote;
    this.#onError = onError;
  }

  /** A reload changed queue.timeout or queue.heartbeat: waiters that join from now on use the new ones. */
  reconfigure(timeoutMs: number, heartbeatMs: number): void {
    this.#timeoutMs = timeoutMs;
    this.#heartbeatMs = heartbeatMs;
  }

  /** Requests of this process waiting, all models. */
  get size(): number {
    let n = 0;
    for (const list of this.#byModel.values()) n += list.length;
    return n;
  }

  /** Queues `w` for `model`: a ticket, the deadline, and heartbeats when `heartbeat` (a /v1 stream). */
  join(model: number, w: QueueWaiter, heartbeat: boolean): void {
    let list = this.#byModel.get(model);
    if (list === undefined) this.#byModel.set(model, (list = []));
    w.queueTicket = this.#queues.enqueue(model, this.#slot);
    w.queuedAt = performance.now();
    w.wakeSentAt = 0;
    list.push(w);
    w.queueTimer = setTimeout(expire, this.#timeoutMs, this, model, w);
    if (heartbeat && this.#heartbeatMs > 0) w.heartbeatTimer = setInterval(beat, this.#heartbeatMs, this, model, w);
  }

  /**
   * `w` leaves the queue of `model` (dispatched, answered, or its client went away). When a slot
   * may still be free, the next head is woken: a dispatch or a departure must not leave others
   * waiting behind a slot nobody will release. Returns how long it waited, in ms.
   */
  leave(model: number, w: QueueWaiter, wakeNext: boolean): number {
    const list = this.#byModel.get(model);
    const k = list === undefined ? -1 : list.indexOf(w);
    if (w.queueTimer !== null) clearTimeout(w.queueTimer);
    if (w.heartbeatTimer !== null) clearInterval(w.heartbeatTimer);
    w.queueTimer = null;
    w.heartbeatTimer = null;
    const waited = w.queuedAt === 0 ? 0 : performance.now() - w.queuedAt;
    w.queuedAt = 0;
    if (list === undefined || k < 0) return waited;
    list.splice(k, 1);
    this.#queues.dequeue(model, this.#slot, list.length > 0 ? list[0]!.queueTicket : 0);
    if (list.length === 0) this.#byModel.delete(model);
    if (wakeNext && this.#queues.depth(model) > 0) this.wakeHead(model, 0, nowMs());
    return waited;
  }

  /** How many of the model's waiters (every process) are ahead of `w`. */
  ahead(model: number, w: QueueWaiter): number {
    return this.#queues.ahead(model, w.queueTicket);
  }

  /**
   * A slot may have freed for `model`: the queue's head, wherever it waits, tries it. `sentAtMs`:
   * when the slot freed (Unix ms, performance.timeOrigin + now()).
   */
  wakeHead(model: number, hops: number, sentAtMs: number): void {
    const owner = this.#queues.headOwner(model);
    if (owner === NO_OWNER) return;
    if (owner === this.#slot) process.nextTick(wakeLocal, this, model, hops, sentAtMs);
    else if (hops < MAX_WAKE_HOPS) this.#wakeRemote(owner, model, hops + 1, sentAtMs);
  }

  /**
   * A request released a slot on `endpoint` while requests wait somewhere (queues.total() > 0):
   * the head of every queued model that endpoint serves may take it.
   */
  slotFreed(table: RoutingTable, endpoint: number): void {
    const routes = table.routes;
    const sentAtMs = nowMs();
    for (let k = 0; k < routes.length; k++) {
      const m = routes[k]!;
      if (this.#queues.depth(m.index) > 0 && m.endpoints.includes(endpoint)) this.wakeHead(m.index, 0, sentAtMs);
    }
  }

  /** A wake for `model` reached this process (its own, or another worker's through the primary). */
  woken(model: number, hops: number, sentAtMs: number): void {
    const head = this.#byModel.get(model)?.[0];
    if (head === undefined || this.#queues.headOwner(model) !== this.#slot) {
      // The head moved (it left, or another process's older waiter became visible): pass it on.
      this.wakeHead(model, hops, sentAtMs);
      return;
    }
    head.wakeSentAt = sentAtMs;
    try {
      head.queueWake();
    } catch (err) {
      this.#onError(err);
    }
  }

  /** Every model with requests waiting here: after something that frees slots wholesale (a worker gone, an endpoint back). */
  wakeAll(): void {
    const now = nowMs();
    for (const model of [...this.#byModel.keys()]) this.wakeHead(model, 0, now);
  }
}

/** Unix ms with a fraction, comparable across the processes of one host. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

function wakeLocal(q: QueueWaiters, model: number, hops: number, sentAtMs: number): void {
  q.woken(model, hops, sentAtMs);
}

function expire(q: QueueWaiters, model: number, w: QueueWaiter): void {
  w.queueTimer = null;
  q.leave(model, w, true);
  w.queueTimedOut();
}

function beat(q: QueueWaiters, model: number, w: QueueWaiter): void {
  w.queueHeartbeat(q.ahead(model, w));
}

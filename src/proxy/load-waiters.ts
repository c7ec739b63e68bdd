import type { LoadDone } from '../core/ipc.js';

/** What waits for a model load: an exchange, woken with the outcome. */
export interface LoadWaiter {
  loadDone(done: LoadDone): void;
}

class Group {
  readonly waiters: LoadWaiter[] = [];
  timer: NodeJS.Timeout | null = null;
}

/**
 * Requests of this process waiting for a model load, by model column. The primary announces the
 * end of every load (IPC `load-done`); the waiters of that model are woken at once, with no
 * polling. A deadline per model (the load timeout plus a margin) answers them should that
 * message never come (a primary that lost the load), so no request waits forever.
 */
export class LoadWaiters {
  readonly #groups = new Map<number, Group>();
  readonly #deadlineMs: number;

  /** `deadlineMs`: the longest a request waits for one load before it is answered as timed out. */
  constructor(deadlineMs: number) {
    this.#deadlineMs = deadlineMs;
  }

  /** Waiting requests, all models. */
  get size(): number {
    let n = 0;
    for (const g of this.#groups.values()) n += g.waiters.length;
    return n;
  }

  add(model: number, endpoint: number, w: LoadWaiter): void {
    let g = this.#groups.get(model);
    if (g === undefined) {
      this.#groups.set(model, (g = new Group()));
      g.timer = setTimeout(() => this.#expire(model, endpoint), this.#deadlineMs);
      g.timer.unref();
    }
    g.waiters.push(w);
  }

  /** A waiter that went away (its client disconnected). */
  remove(model: number, w: LoadWaiter): void {
    const g = this.#groups.get(model);
    if (g === undefined) return;
    const k = g.waiters.indexOf(w);
    if (k >= 0) g.waiters.splice(k, 1);
    if (g.waiters.length === 0) this.#drop(model, g);
  }

  /** The load of `done.model` ended: every waiter for that model hears it. Returns how many did. */
  wake(done: LoadDone): number {
    const g = this.#groups.get(done.model);
    if (g === undefined) return 0;
    this.#drop(done.model, g);
    for (const w of g.waiters) w.loadDone(done);
    return g.waiters.length;
  }

  #drop(model: number, g: Group): void {
    if (g.timer !== null) clearTimeout(g.timer);
    this.#groups.delete(model);
  }

  #expire(model: number, endpoint: number): void {
    this.wake({
      model, endpoint, ok: false, code: 'CORRAL_ERR_UPSTREAM_TIMEOUT', status: 504,
      message: `the model load this request waited for did not end within ${Math.round(this.#deadlineMs / 1000)} s`,
      sentAtMs: performance.timeOrigin + performance.now(),
    });
  }
}

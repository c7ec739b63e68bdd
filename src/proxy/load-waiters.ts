import { UpstreamTimeoutError } from '../core/errors.js';
import type { LoadDone } from '../core/ipc.js';

/** What waits for a model load: an exchange, woken with the outcome. */
export interface LoadWaiter {
  loadDone(done: LoadDone): void;
}

/** The largest delay a Node timer honours (2^31 - 1 ms). */
const MAX_TIMER_MS = 2 ** 31 - 1;

class Group {
  waiters: LoadWaiter[] = [];
  /** Per waiter: the model's count of ended loads when it joined (ModelInfoTable.loadsEnded). */
  epochs: number[] = [];
  timer: NodeJS.Timeout | null = null;
  endpoint = -1;
}

/**
 * Requests of this process waiting for a model load, by model column. The primary announces the
 * end of every load (IPC `load-done`); the waiters of that model that joined before it ended are
 * woken at once, with no polling (one that joined later waits for the load it joined). A deadline
 * per model, restarted whenever some of its waiters are woken, answers the rest should that
 * message never come (a primary that lost the load): no request waits forever.
 */
export class LoadWaiters {
  readonly #groups = new Map<number, Group>();
  readonly #deadlineMs: number;
  readonly #onError: (err: unknown) => void;

  /**
   * `deadlineMs`: the longest a request waits for one load before it is answered as timed out.
   * `onError`: what a waiter threw while being woken (the others are woken all the same).
   */
  constructor(deadlineMs: number, onError: (err: unknown) => void) {
    this.#deadlineMs = Math.min(deadlineMs, MAX_TIMER_MS);
    this.#onError = onError;
  }

  /** `epoch`: ModelInfoTable.loadsEnded(model), read before the request looked for a load to join. */
  add(model: number, endpoint: number, w: LoadWaiter, epoch: number): void {
    let g = this.#groups.get(model);
    if (g === undefined) {
      this.#groups.set(model, (g = new Group()));
      this.#arm(model, g);
    }
    g.endpoint = endpoint;
    g.waiters.push(w);
    g.epochs.push(epoch);
  }

  #arm(model: number, g: Group): void {
    if (g.timer !== null) clearTimeout(g.timer);
    g.timer = setTimeout(() => this.#expire(model), this.#deadlineMs);
    g.timer.unref();
  }

  /** A waiter that went away (its client disconnected). */
  remove(model: number, w: LoadWaiter): void {
    const g = this.#groups.get(model);
    if (g === undefined) return;
    const k = g.waiters.indexOf(w);
    if (k >= 0) {
      g.waiters.splice(k, 1);
      g.epochs.splice(k, 1);
    }
    if (g.waiters.length === 0) this.#drop(model, g);
  }

  /** A load of `done.model` ended: every waiter that joined before it ended hears it. Returns how many did. */
  wake(done: LoadDone): number {
    const g = this.#groups.get(done.model);
    if (g === undefined) return 0;
    const woken: LoadWaiter[] = [];
    const keptWaiters: LoadWaiter[] = [];
    const keptEpochs: number[] = [];
    for (let k = 0; k < g.waiters.length; k++) {
      if (g.epochs[k]! < done.epoch) woken.push(g.waiters[k]!);
      else {
        keptWaiters.push(g.waiters[k]!);
        keptEpochs.push(g.epochs[k]!);
      }
    }
    if (keptWaiters.length === 0) this.#drop(done.model, g);
    else {
      g.waiters = keptWaiters;
      g.epochs = keptEpochs;
      this.#arm(done.model, g);
    }
    for (const w of woken) {
      try {
        w.loadDone(done);
      } catch (err) {
        this.#onError(err);
      }
    }
    return woken.length;
  }

  #drop(model: number, g: Group): void {
    if (g.timer !== null) clearTimeout(g.timer);
    this.#groups.delete(model);
  }

  #expire(model: number): void {
    const g = this.#groups.get(model);
    this.wake({
      model, endpoint: g?.endpoint ?? -1, ok: false, code: UpstreamTimeoutError.code, status: 504,
      message: `the model load this request waited for did not end within ${Math.round(this.#deadlineMs / 1000)} s`,
      epoch: Number.MAX_SAFE_INTEGER, sentAtMs: performance.timeOrigin + performance.now(),
    });
  }
}

import type { Control } from '../core/control.js';
import type { StatusView, WorkerMessage } from '../core/ipc.js';

const STATUS_TIMEOUT_MS = 5000;

/** Control over cluster IPC: suspect reports are one-way; status and metrics are a request/reply paired by seq. */
export class WorkerControl implements Control {
  readonly statsSlot: number;
  readonly #send: (m: WorkerMessage) => void;
  readonly #pending = new Map<number, (doc: unknown) => void>();
  #seq = 0;

  constructor(statsSlot: number, send: (m: WorkerMessage) => void) {
    this.statsSlot = statsSlot;
    this.#send = send;
  }

  reportSuspect(endpoint: number): void {
    this.#send({ kind: 'suspect', endpoint });
  }

  requestLoad(endpoint: number, model: number, numCtx: number, keepAlive: string | number | null): void {
    this.#send({ kind: 'load', endpoint, model, numCtx, keepAlive });
  }

  wakeQueue(slot: number, model: number, hops: number, sentAtMs: number): void {
    this.#send({ kind: 'queue-wake', slot, model, hops, sentAtMs });
  }

  reportModels(models: readonly number[]): void {
    this.#send({ kind: 'models-seen', models });
  }

  status(): Promise<unknown> {
    return this.#ask('status');
  }

  async metrics(openMetrics: boolean): Promise<string> {
    return String(await this.#ask(openMetrics ? 'openmetrics' : 'metrics'));
  }

  #ask(view: StatusView): Promise<unknown> {
    const seq = ++this.#seq;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(seq);
        reject(new Error('the primary did not answer the status request'));
      }, STATUS_TIMEOUT_MS);
      this.#pending.set(seq, (doc) => {
        clearTimeout(timer);
        resolve(doc);
      });
      this.#send({ kind: 'status-request', seq, view });
    });
  }

  resolveStatus(seq: number, doc: unknown): void {
    const resolve = this.#pending.get(seq);
    this.#pending.delete(seq);
    resolve?.(doc);
  }
}

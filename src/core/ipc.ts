import type { Config } from '../config/types.js';
import type { CatalogSnapshot } from './catalog.js';

/**
 * Cluster IPC messages, as a dispatch table keyed by `kind` (as Node core's cluster does).
 * The hot path never waits on these: suspect reports are fire-and-forget, catalog updates are
 * pushed, and only /internal/status and /metrics make a request/reply pair (paired by `seq`): the
 * primary answers both for the whole cluster.
 */
export type PrimaryMessage =
  | { readonly kind: 'init'; readonly config: Config; readonly segment: string; readonly slot: number; readonly port: number; readonly catalog: CatalogSnapshot }
  | { readonly kind: 'catalog'; readonly catalog: CatalogSnapshot }
  | { readonly kind: 'status-reply'; readonly seq: number; readonly doc: unknown }
  | ({ readonly kind: 'load-done' } & LoadDone)
  /** The head of `model`'s admission queue waits in this worker and a slot may be free (from another worker, relayed). */
  | { readonly kind: 'queue-wake'; readonly model: number; readonly hops: number; readonly sentAtMs: number }
  /** Slots may have freed wholesale (a worker gone, an endpoint back): wake every queue's head. */
  | { readonly kind: 'queue-wake-all' }
  | { readonly kind: 'shutdown' };

export type WorkerMessage =
  /** Sent once the worker's message handler is installed: IPC messages sent before that are lost. */
  | { readonly kind: 'hello' }
  | { readonly kind: 'listening'; readonly port: number }
  | { readonly kind: 'suspect'; readonly endpoint: number }
  | { readonly kind: 'status-request'; readonly seq: number; readonly view: StatusView }
  /** This worker claimed the load of `model` on `endpoint` in the segment; the primary performs it. */
  | { readonly kind: 'load'; readonly endpoint: number; readonly model: number; readonly numCtx: number; readonly keepAlive: string | number | null }
  /** The models (columns) this worker was asked for since its last report, in order (models.prefetch only). */
  | { readonly kind: 'models-seen'; readonly models: readonly number[] }
  /** Wake the head of `model`'s admission queue, which waits in the worker of stats slot `slot` (relayed by the primary). */
  | { readonly kind: 'queue-wake'; readonly slot: number; readonly model: number; readonly hops: number; readonly sentAtMs: number };

/**
 * The end of a model load (primary → every worker): requests waiting for the model route again
 * (ok) or receive the error (`code`, `status`, `message`: a CorralError's).
 */
export interface LoadDone {
  readonly model: number;
  readonly endpoint: number;
  readonly ok: boolean;
  readonly code: string;
  readonly status: number;
  readonly message: string;
  /**
   * The model's count of ended loads once this one ended (ModelInfoTable.loadsEnded): a request
   * that joined when the count was already this high waits for a later load, not this one.
   */
  readonly epoch: number;
  /** When the primary announced it: Unix ms with a fraction (performance.timeOrigin + now()), for the wake-up delay. */
  readonly sentAtMs: number;
}

/** What a status request asks for: the /internal/status document, or the /metrics exposition in either format. */
export type StatusView = 'status' | 'metrics' | 'openmetrics';

export function isWorkerMessage(m: unknown): m is WorkerMessage {
  return m !== null && typeof m === 'object' && typeof (m as { kind?: unknown }).kind === 'string';
}

/**
 * What a request-serving process needs from the primary. In a cluster worker this is IPC; in
 * inline mode the primary implements it directly. Nothing here is on the hot path except
 * reportSuspect, which is a fire-and-forget message.
 */
export interface Control {
  /** This process's row in the segment's stats table. */
  readonly statsSlot: number;
  /** A transport failure was seen on `endpoint`: the primary probes it now. */
  reportSuspect(endpoint: number): void;
  /** The full status document (endpoints, models, workers, counters). */
  status(): Promise<unknown>;
  /**
   * This process claimed the load of `model` on `endpoint` (ModelInfoTable.claimLoad): the primary
   * performs it and announces the end to every serving process (loadDone). Fire-and-forget.
   */
  requestLoad(endpoint: number, model: number, numCtx: number, keepAlive: string | number | null): void;
  /** Models this process was asked for, in order (only with models.prefetch on). Fire-and-forget. */
  reportModels(models: readonly number[]): void;
  /**
   * The head of `model`'s admission queue waits in the process of stats slot `slot`: wake it (a
   * slot may be free). Fire-and-forget; only sent while requests are queued.
   */
  wakeQueue(slot: number, model: number, hops: number, sentAtMs: number): void;
  /** The /metrics exposition (Prometheus text, or OpenMetrics), computed by the primary. */
  metrics(openMetrics: boolean): Promise<string>;
}

import type { Config } from '../config/types.js';
import type { Control } from '../core/control.js';
import type { CatalogSnapshot } from '../core/catalog.js';
import type { LoadDone } from '../core/ipc.js';
import type { Segment } from '../state/segment.js';
import type { Logger } from '../observe/logger.js';
import { Proxy } from '../proxy/proxy.js';
import { createApiServer, type ApiServer } from '../server/api-server.js';
import { drainAndClose } from '../proxy/drain.js';

/** Inline mode (`server.workers: 0`): the primary serves HTTP itself, one process, for clinic and laptops. */
export class InlineServer {
  readonly port: number;
  readonly #segment: Segment;
  readonly #control: Control;
  readonly #log: Logger;
  readonly #server: ApiServer;
  #proxy: Proxy;
  #catalog: CatalogSnapshot;
  /** Proxies replaced by a reload that still have requests in flight (some may wait for a load). */
  readonly #retiring = new Set<Proxy>();

  constructor(segment: Segment, control: Control, log: Logger, proxy: Proxy, server: ApiServer, catalog: CatalogSnapshot) {
    this.#segment = segment;
    this.#control = control;
    this.#log = log;
    this.#proxy = proxy;
    this.#server = server;
    this.#catalog = catalog;
    this.port = server.port;
  }

  setCatalog(catalog: CatalogSnapshot): void {
    this.#catalog = catalog;
    this.#proxy.setCatalog(catalog);
  }

  /**
   * A reload in a single process: new requests go to a proxy built from the new config; requests
   * in flight finish on the old one, whose upstream pools close once it is idle.
   */
  reconfigure(config: Config): void {
    const old = this.#proxy;
    // The queued requests keep their places: one set of waiters per stats slot.
    const next = new Proxy(config, this.#segment, this.#control, this.#log, old.queueWaiters);
    next.setCatalog(this.#catalog);
    this.#proxy = next;
    this.#server.setHandler(next);
    this.#retiring.add(old);
    void old.whenIdle().then(() => {
      this.#retiring.delete(old);
      return old.close();
    });
  }

  /** A model load ended: requests waiting for it, in this proxy or a retiring one, go on. */
  loadDone(done: LoadDone): void {
    // Not inside the load coordinator's loop: the woken requests dispatch on a turn of their own.
    setImmediate(() => {
      this.#proxy.loadDone(done);
      for (const old of this.#retiring) old.loadDone(done);
    });
  }

  /** The head of a model's queue may take a slot (inline: always this process's). */
  queueWake(model: number, hops: number, sentAtMs: number): void {
    this.#proxy.queueWake(model, hops, sentAtMs);
  }

  wakeQueues(): void {
    this.#proxy.wakeQueues();
  }

  /** No quiet period: in inline mode nothing else is listening that clients could move to. */
  stop(timeoutMs: number): Promise<void> {
    return drainAndClose(this.#server, this.#proxy, timeoutMs, 0);
  }
}

export async function startInlineServer(config: Config, segment: Segment, control: Control, log: Logger, catalog: CatalogSnapshot): Promise<InlineServer> {
  const proxy = new Proxy(config, segment, control, log);
  proxy.setCatalog(catalog);
  const server = createApiServer(config, proxy);
  await server.listen();
  return new InlineServer(segment, control, log, proxy, server, catalog);
}

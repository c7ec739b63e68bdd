import type { UpstreamConfig } from '../config/types.js';
import { UpstreamPool } from './upstream-pool.js';

/** An endpoint's base URL split into what a request needs: its pool, Host header and path prefix. */
export class UpstreamTarget {
  readonly url: string;
  /** The Host header: host, and port when not the scheme's default. */
  readonly hostHeader: string;
  /** Base path of the endpoint URL (`http://h/llama` → `/llama`), '' for none. */
  readonly basePath: string;
  readonly pool: UpstreamPool;
  constructor(url: string, config: UpstreamConfig) {
    const u = new URL(url);
    this.url = url;
    this.hostHeader = u.host;
    this.basePath = u.pathname === '/' ? '' : u.pathname.replace(/\/+$/, '');
    this.pool = new UpstreamPool(u, config);
  }
}

/**
 * One keep-alive connection pool per endpoint, per process. Timeouts follow config: connect,
 * first byte and idle between body chunks — generation may last minutes, but silence that long
 * means a hung backend.
 */
export class UpstreamPools {
  readonly #config: UpstreamConfig;
  #targets: (UpstreamTarget | undefined)[];

  constructor(config: UpstreamConfig) {
    this.#config = config;
    this.#targets = [];
  }

  target(index: number): UpstreamTarget | undefined {
    return this.#targets[index];
  }

  /** Aligns pools with the catalog's endpoint URLs; pools whose URL changed are closed gracefully. */
  sync(urls: readonly string[]): void {
    const next: (UpstreamTarget | undefined)[] = new Array(urls.length);
    for (let i = 0; i < urls.length; i++) {
      const url = urls[i]!;
      const old = this.#targets[i];
      if (url === '') continue;
      if (old !== undefined && old.url === url) {
        next[i] = old;
        continue;
      }
      next[i] = new UpstreamTarget(url, this.#config);
    }
    for (let i = 0; i < this.#targets.length; i++) {
      const old = this.#targets[i];
      if (old !== undefined && next[i] !== old) void old.pool.close();
    }
    this.#targets = next;
  }

  async close(): Promise<void> {
    await Promise.all(this.#targets.map((t) => t?.pool.close()));
    this.#targets = [];
  }
}

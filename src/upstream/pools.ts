import { createRequire } from 'node:module';
import type { Pool as PoolType } from 'undici';

// Only the Pool: undici's index also loads fetch, WebSocket, caches and cookies — about 9 MB of
// idle RSS per worker that corral never uses. (undici 7 has no `exports` map; the path is stable
// across 7.x and pinned by package.json.)
const Pool = createRequire(import.meta.url)('undici/lib/dispatcher/pool.js') as typeof PoolType;
type Pool = PoolType;
import type { UpstreamConfig } from '../config/types.js';

/** An endpoint's base URL split into what undici needs: the pool origin and a path prefix. */
export class UpstreamTarget {
  readonly url: string;
  readonly origin: string;
  /** Base path of the endpoint URL (`http://h/llama` → `/llama`), '' for none. */
  readonly basePath: string;
  readonly pool: Pool;
  constructor(url: string, pool: Pool) {
    const u = new URL(url);
    this.url = url;
    this.origin = u.origin;
    this.basePath = u.pathname === '/' ? '' : u.pathname.replace(/\/+$/, '');
    this.pool = pool;
  }
}

/**
 * One keep-alive undici Pool per endpoint, per process. Timeouts follow config: connect, first
 * byte (undici's headersTimeout) and idle between body chunks (bodyTimeout) — generation may last
 * minutes, but silence that long means a hung backend.
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
      next[i] = new UpstreamTarget(url, this.#createPool(new URL(url).origin));
    }
    for (let i = 0; i < this.#targets.length; i++) {
      const old = this.#targets[i];
      if (old !== undefined && next[i] !== old) void old.pool.close().catch(() => {});
    }
    this.#targets = next;
  }

  #createPool(origin: string): Pool {
    const c = this.#config;
    return new Pool(origin, {
      connections: c.connections,
      pipelining: 1,
      connect: { timeout: c.connect_timeout },
      headersTimeout: c.first_byte_timeout,
      bodyTimeout: c.idle_timeout,
      keepAliveTimeout: 30_000,
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.#targets.map((t) => t?.pool.close().catch(() => {})));
    this.#targets = [];
  }
}

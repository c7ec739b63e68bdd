import type { Config } from '../config/types.js';
import type { Control } from '../core/control.js';
import type { CatalogSnapshot } from '../core/catalog.js';
import type { Segment } from '../state/segment.js';
import type { Logger } from '../observe/logger.js';
import { Proxy } from '../proxy/proxy.js';
import { HttpServer, serverOptionsFrom } from '../server/http-server.js';

/** Inline mode (`server.workers: 0`): the primary serves HTTP itself, one process, for clinic and laptops. */
export class InlineServer {
  readonly port: number;
  readonly #proxy: Proxy;
  readonly #server: HttpServer;
  constructor(proxy: Proxy, server: HttpServer) {
    this.#proxy = proxy;
    this.#server = server;
    this.port = server.port;
  }

  setCatalog(catalog: CatalogSnapshot): void {
    this.#proxy.setCatalog(catalog);
  }

  async stop(timeoutMs: number): Promise<void> {
    this.#server.stopListening();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.#proxy.whenIdle(), new Promise<void>((resolve) => { timer = setTimeout(resolve, timeoutMs); })]);
    clearTimeout(timer);
    this.#server.closeAll();
    await this.#proxy.close();
  }
}

export async function startInlineServer(config: Config, segment: Segment, control: Control, log: Logger, catalog: CatalogSnapshot): Promise<InlineServer> {
  const proxy = new Proxy(config, segment, control, log);
  proxy.setCatalog(catalog);
  const server = new HttpServer(serverOptionsFrom(config), proxy);
  await server.listen();
  return new InlineServer(proxy, server);
}

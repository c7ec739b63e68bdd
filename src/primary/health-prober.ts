import type { EndpointConfig } from '../config/types.js';
import type { EndpointRegistry, EndpointChanges } from './endpoint-registry.js';
import type { Segment } from '../state/segment.js';
import { EndpointState } from '../state/endpoints.js';
import { DEFAULT_HEALTH_PATH } from '../config/defaults.js';
import type { Logger } from '../observe/logger.js';
import type { CatalogBuilder } from './catalog-builder.js';
import { detectType, discoverModels } from './discovery.js';
import { getJson } from './probe-client.js';
import { endpointStateName } from '../observe/status.js';
import { closeCircuit } from '../routing/circuit-breaker.js';

/** Per-endpoint probe bookkeeping. */
class ProbeSchedule {
  timer: NodeJS.Timeout | null = null;
  probing = false;
  /** Another probe was asked for while one ran: run again right after. */
  again = false;
  /** Current retry delay while failing: fast_interval doubling up to interval. */
  backoff: number;
  lastDiscovery = 0;
  lastError: string | null = null;
  constructor(backoff: number) {
    this.backoff = backoff;
  }
}

/**
 * The primary's health prober and discovery loop. Writes endpoint state into the segment (the
 * only writer of state besides workers' Healthy→Suspect CAS). A failing endpoint is re-probed at
 * `health.fast_interval` doubling to `health.interval`, so a returning backend is back in
 * rotation within a second; a worker's suspect report triggers a probe at once.
 */
export class HealthProber {
  readonly #registry: EndpointRegistry;
  readonly #segment: Segment;
  readonly #catalog: CatalogBuilder;
  readonly #log: Logger;
  readonly #schedules: (ProbeSchedule | undefined)[];
  readonly #onCatalogChange: () => void;
  #discoveryInterval: number;
  #stopped = false;

  constructor(registry: EndpointRegistry, discoveryInterval: number, segment: Segment, catalog: CatalogBuilder, log: Logger, onCatalogChange: () => void) {
    this.#registry = registry;
    this.#discoveryInterval = discoveryInterval;
    this.#segment = segment;
    this.#catalog = catalog;
    this.#log = log;
    this.#onCatalogChange = onCatalogChange;
    this.#schedules = [];
    for (const i of registry.indices()) this.#schedules[i] = new ProbeSchedule(registry.get(i)!.health.fast_interval);
  }

  /** Probes every endpoint once (in parallel), then keeps probing on schedule. */
  async start(): Promise<void> {
    await Promise.all(this.#registry.indices().map((i) => this.probeNow(i)));
  }

  /** After a reload: stop probing removed rows, probe new and changed ones now. */
  async endpointsChanged(changes: EndpointChanges, discoveryInterval: number): Promise<void> {
    this.#discoveryInterval = discoveryInterval;
    for (const i of changes.removed) {
      const s = this.#schedules[i];
      if (s?.timer) clearTimeout(s.timer);
      this.#schedules[i] = undefined;
    }
    const fresh = [...changes.added, ...changes.changed];
    for (const i of fresh) {
      const old = this.#schedules[i];
      if (old?.timer) clearTimeout(old.timer);
      this.#schedules[i] = new ProbeSchedule(this.#registry.get(i)!.health.fast_interval);
    }
    await Promise.all(fresh.map((i) => this.probeNow(i)));
  }

  lastError(endpoint: number): string | null {
    return this.#schedules[endpoint]?.lastError ?? null;
  }

  /** Probe now (a worker saw a transport failure), unless a probe is already running. */
  async probeNow(i: number): Promise<void> {
    const s = this.#schedules[i];
    if (s === undefined || this.#stopped) return;
    if (s.probing) {
      s.again = true;
      return;
    }
    if (s.timer !== null) clearTimeout(s.timer);
    s.timer = null;
    s.probing = true;
    try {
      do {
        s.again = false;
        await this.#probe(i, s);
      } while (s.again && !this.#stopped);
    } finally {
      s.probing = false;
    }
    this.#schedule(i, s);
  }

  async #probe(i: number, s: ProbeSchedule): Promise<void> {
    const endpoint = this.#registry.get(i);
    if (endpoint === null) return;
    const endpoints = this.#segment.endpoints;
    const before = endpoints.state(i);
    try {
      await this.#check(i, endpoint);
      s.lastError = null;
      s.backoff = endpoint.health.fast_interval;
      const now = Date.now();
      const rediscover = before !== EndpointState.Healthy || now - s.lastDiscovery >= this.#discoveryInterval;
      if (rediscover) {
        s.lastDiscovery = now;
        const models = await discoverModels(endpoint, this.#catalog.type(i), endpoint.health.timeout);
        if (this.#registry.get(i) !== endpoint) return; // reloaded meanwhile: a fresh probe is on its way
        this.#catalog.setModels(i, models);
        if (this.#catalog.rebuild()) this.#onCatalogChange();
      }
      if (before !== EndpointState.Healthy && before !== EndpointState.Draining) {
        // Back from the dead: whatever the breaker counted was the outage itself. (A suspect
        // endpoint keeps its circuit: a backend that resets requests but answers probes must
        // not have its breaker closed by every probe.)
        if (before === EndpointState.Down) closeCircuit(endpoints, i);
        endpoints.setState(i, EndpointState.Healthy);
        this.#log.info({ endpoint: endpoint.name, from: endpointStateName(before) }, 'endpoint healthy');
      }
    } catch (err) {
      if (this.#registry.get(i) !== endpoint) return;
      s.lastError = (err as Error).message;
      if (before !== EndpointState.Down) {
        endpoints.setState(i, EndpointState.Down);
        this.#log.warn({ endpoint: endpoint.name, from: endpointStateName(before), err: s.lastError }, 'endpoint down');
      }
      // A dead endpoint is re-probed at fast_interval doubling only up to twice that (200 ms by
      // default): a refused connect costs nothing, and a restarted backend should be back in
      // rotation within a few hundred milliseconds, not a whole health interval later.
      s.backoff = before === EndpointState.Down ? Math.min(s.backoff * 2, endpoint.health.fast_interval * 2, endpoint.health.interval) : endpoint.health.fast_interval;
    }
  }

  async #check(i: number, endpoint: EndpointConfig): Promise<void> {
    const timeout = endpoint.health.timeout;
    let type = this.#catalog.type(i);
    if (type === 'unknown') {
      const found = await detectType(endpoint.url, timeout);
      this.#catalog.setType(i, found.type, found.version);
      this.#log.info({ endpoint: endpoint.name, type: found.type }, 'endpoint type detected');
      type = found.type;
      return;
    }
    const path = endpoint.health.path ?? DEFAULT_HEALTH_PATH[type];
    const doc = await getJson(endpoint.url, path, timeout) as { version?: unknown } | null;
    if (type === 'ollama' && typeof doc?.version === 'string') this.#catalog.setType(i, 'ollama', doc.version);
  }

  #schedule(i: number, s: ProbeSchedule): void {
    if (this.#stopped || this.#schedules[i] !== s) return;
    const endpoint = this.#registry.get(i);
    if (endpoint === null) return;
    const healthy = this.#segment.endpoints.state(i) === EndpointState.Healthy;
    const delay = healthy ? endpoint.health.interval : s.backoff;
    s.timer = setTimeout(() => void this.probeNow(i), delay);
    s.timer.unref();
  }

  stop(): void {
    this.#stopped = true;
    for (const s of this.#schedules) if (s !== undefined && s.timer !== null) clearTimeout(s.timer);
  }
}

import type { EndpointConfig } from '../config/types.js';
import type { EndpointRegistry, EndpointChanges } from './endpoint-registry.js';
import type { Segment } from '../state/segment.js';
import { EndpointState } from '../state/endpoints.js';
import { DEFAULT_HEALTH_PATH } from '../config/defaults.js';
import type { Logger } from '../observe/logger.js';
import type { CatalogBuilder } from './catalog-builder.js';
import { detectType, discoverModels } from './discovery.js';
import { readVersion, type Warnings } from './discovery-shapes.js';
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
  /** Why the last probe or discovery failed (the endpoint is down), or null. */
  lastError: string | null = null;
  /** What the last health answer had wrong though the endpoint is usable (a bad version), or null. */
  probeWarning: string | null = null;
  /** What the last discovery dropped (entries, fields), or null: shown while the endpoint serves the rest. */
  discoveryWarning: string | null = null;
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
  readonly #onRecovered: (endpoint: number) => void;
  #discoveryInterval: number;
  #stopped = false;

  /** `onRecovered`: an endpoint became healthy (first contact, or back from down): its GPU may be empty. */
  constructor(registry: EndpointRegistry, discoveryInterval: number, segment: Segment, catalog: CatalogBuilder, log: Logger, onCatalogChange: () => void,
    onRecovered: (endpoint: number) => void = () => {}) {
    this.#registry = registry;
    this.#discoveryInterval = discoveryInterval;
    this.#segment = segment;
    this.#catalog = catalog;
    this.#log = log;
    this.#onCatalogChange = onCatalogChange;
    this.#onRecovered = onRecovered;
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

  /** The endpoint's `last_error` in /internal/status: why it is down, else what its answers had wrong. */
  lastError(endpoint: number): string | null {
    const s = this.#schedules[endpoint];
    if (s === undefined) return null;
    return s.lastError ?? this.#catalog.buildError(endpoint) ?? joinWarnings(s.probeWarning, s.discoveryWarning);
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
      await this.#check(i, endpoint, s);
    } catch (err) {
      if (this.#registry.get(i) !== endpoint) return;
      // A dead endpoint is re-probed at fast_interval doubling only up to twice that (200 ms by
      // default): a refused connect costs nothing, and a restarted backend should be back in
      // rotation within a few hundred milliseconds, not a whole health interval later.
      this.#failed(i, s, endpoint, before, err, Math.min(endpoint.health.fast_interval * 2, endpoint.health.interval));
      return;
    }
    const now = Date.now();
    const rediscover = before !== EndpointState.Healthy || now - s.lastDiscovery >= this.#discoveryInterval;
    if (rediscover) {
      s.lastDiscovery = now;
      let models;
      try {
        models = await discoverModels(endpoint, this.#catalog.type(i), endpoint.health.timeout);
      } catch (err) {
        if (this.#registry.get(i) !== endpoint) return;
        // It answers its health probe but not with a usable model list (or not in time): down,
        // and asked again at a pace doubling up to health.interval — its answer is unlikely to
        // change within milliseconds, and each try may cost an 8 MiB parse.
        this.#failed(i, s, endpoint, before, err, endpoint.health.interval);
        return;
      }
      if (this.#registry.get(i) !== endpoint) return; // reloaded meanwhile: a fresh probe is on its way
      this.#noteWarnings(s, endpoint.name, models.warnings.map((w) => w.summary()).join('; ') || null, models.warnings);
      this.#catalog.setModels(i, models);
      this.#publish(endpoint.name);
    }
    s.lastError = null;
    s.backoff = endpoint.health.fast_interval;
    if (before !== EndpointState.Healthy && before !== EndpointState.Draining) {
      // Back from the dead: whatever the breaker counted was the outage itself. (A suspect
      // endpoint keeps its circuit: a backend that resets requests but answers probes must
      // not have its breaker closed by every probe.)
      if (before === EndpointState.Down) closeCircuit(endpoints, i);
      endpoints.setState(i, EndpointState.Healthy);
      this.#log.info({ endpoint: endpoint.name, from: endpointStateName(before) }, 'endpoint healthy');
      this.#onRecovered(i);
    }
  }

  /** The probe or the discovery failed: the endpoint is down (this one only), and re-probed with backoff up to `maxBackoff`. */
  #failed(i: number, s: ProbeSchedule, endpoint: EndpointConfig, before: EndpointState, err: unknown, maxBackoff: number): void {
    s.lastError = err instanceof Error ? err.message : String(err);
    if (before !== EndpointState.Down) {
      this.#segment.endpoints.setState(i, EndpointState.Down);
      this.#log.warn({ endpoint: endpoint.name, from: endpointStateName(before), err: s.lastError }, 'endpoint down');
    }
    s.backoff = before === EndpointState.Down ? Math.min(s.backoff * 2, maxBackoff) : endpoint.health.fast_interval;
  }

  /** Keeps what discovery dropped for last_error, logging it when it changed (not at every discovery). */
  #noteWarnings(s: ProbeSchedule, endpoint: string, summary: string | null, warnings: readonly Warnings[]): void {
    if (summary !== null && summary !== s.discoveryWarning) {
      const dropped: string[] = [];
      let more = 0;
      for (const w of warnings) {
        for (const m of w.list) dropped.push(`${w.source}: ${m}`);
        more += w.more;
      }
      this.#log.warn({ endpoint, warnings: dropped, more }, 'discovery answer had unusable parts; the rest is used');
    }
    s.discoveryWarning = summary;
  }

  /**
   * Rebuilds and broadcasts the catalog. Whatever goes wrong here is not the probed endpoint's
   * doing (each endpoint's data is checked, and built in isolation): it is logged, the previous
   * catalog stays in force, and no endpoint's state changes.
   */
  #publish(endpoint: string): void {
    let changed: boolean;
    try {
      changed = this.#catalog.rebuild();
    } catch (err) {
      this.#log.error({ endpoint, err: (err as Error)?.message ?? String(err) }, 'catalog rebuild failed; the previous catalog is kept');
      return;
    }
    if (changed) this.#onCatalogChange();
  }

  async #check(i: number, endpoint: EndpointConfig, s: ProbeSchedule): Promise<void> {
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
    const doc = await getJson(endpoint.url, path, timeout);
    if (type === 'ollama' && path === DEFAULT_HEALTH_PATH.ollama) {
      // Any 200 JSON answer is healthy; only a well-formed version is kept (it is re-served by
      // GET /api/version as the highest over all endpoints).
      const v = readVersion(doc, `GET ${path}`);
      if (v.version !== null) this.#catalog.setType(i, 'ollama', v.version);
      s.probeWarning = v.problem;
    }
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

function joinWarnings(a: string | null, b: string | null): string | null {
  return a === null ? b : b === null ? a : `${a}; ${b}`;
}

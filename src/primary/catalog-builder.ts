import type { Config } from '../config/types.js';
import type { CatalogEndpoint, CatalogModel, CatalogSnapshot, ResolvedType } from '../core/catalog.js';
import type { Segment } from '../state/segment.js';
import { MODEL_AVAILABLE, MODEL_LOADED } from '../state/models.js';
import type { EndpointModels } from './discovery.js';
import type { EndpointRegistry, EndpointChanges } from './endpoint-registry.js';
import type { Logger } from '../observe/logger.js';

/** Compares dotted versions numerically ("0.12.10" > "0.12.9"). */
function newerVersion(a: string, b: string): boolean {
  const pa = a.split(/[.-]/).map(Number);
  const pb = b.split(/[.-]/).map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? 0;
    const y = pb[i] ?? 0;
    if (Number.isNaN(x) || Number.isNaN(y)) return a > b;
    if (x !== y) return x > y;
  }
  return false;
}

/**
 * The primary's single source of truth about endpoints and models. Assigns each model a stable
 * column in the segment's model table (never reused while the primary lives, so a worker holding
 * an older catalog never misreads a column), writes availability flags into the segment, and
 * produces the snapshot broadcast to workers.
 */
export class CatalogBuilder {
  readonly #maxModels: number;
  readonly #registry: EndpointRegistry;
  readonly #segment: Segment;
  readonly #log: Logger;
  readonly #types: ResolvedType[];
  readonly #models: (EndpointModels | null)[];
  readonly #versions: (string | null)[];
  readonly #modelIndex: Map<string, number>;
  /** When corral first saw each model (the `created` of synthesised /v1/models entries): stable across rebuilds. */
  readonly #firstSeen: Map<string, number>;
  #generation: number;
  #snapshot: CatalogSnapshot;
  #lastKey: string;

  constructor(config: Config, registry: EndpointRegistry, segment: Segment, log: Logger) {
    this.#maxModels = config.state.max_models;
    this.#registry = registry;
    this.#segment = segment;
    this.#log = log;
    this.#types = [];
    this.#models = [];
    this.#versions = [];
    for (const i of registry.indices()) this.#forget(i);
    this.#modelIndex = new Map();
    this.#firstSeen = new Map();
    this.#generation = 0;
    this.#lastKey = '';
    this.#snapshot = this.#build();
  }

  get snapshot(): CatalogSnapshot {
    return this.#snapshot;
  }

  type(endpoint: number): ResolvedType {
    return this.#types[endpoint] ?? 'unknown';
  }

  /** Forgets what was learnt about rows that are new, changed or gone (after EndpointRegistry.apply). */
  endpointsChanged(changes: EndpointChanges): void {
    for (const i of changes.added) this.#forget(i);
    for (const i of changes.changed) this.#forget(i);
    for (const i of changes.removed) this.#forget(i);
  }

  #forget(i: number): void {
    const e = this.#registry.get(i);
    this.#types[i] = e === null || e.type === 'auto' ? 'unknown' : e.type;
    this.#models[i] = null;
    this.#versions[i] = null;
  }

  setType(endpoint: number, type: ResolvedType, version: string | null): void {
    this.#types[endpoint] = type;
    if (version !== null) this.#versions[endpoint] = version;
  }

  setModels(endpoint: number, models: EndpointModels): void {
    this.#models[endpoint] = models;
  }

  /** Rebuilds the snapshot; returns true when it changed (and so must be broadcast). */
  rebuild(): boolean {
    const next = this.#build();
    const key = JSON.stringify({ ...next, generation: 0 });
    if (key === this.#lastKey) return false;
    this.#lastKey = key;
    this.#generation++;
    this.#snapshot = { ...next, generation: this.#generation };
    this.#segment.header.setCatalogGeneration(this.#generation);
    return true;
  }

  #columnFor(name: string): number {
    let index = this.#modelIndex.get(name);
    if (index !== undefined) return index;
    if (this.#modelIndex.size >= this.#maxModels) return -1;
    index = this.#modelIndex.size;
    this.#modelIndex.set(name, index);
    return index;
  }

  #build(): CatalogSnapshot {
    const seg = this.#segment;
    const endpoints: CatalogEndpoint[] = [];
    const modelEndpoints = new Map<string, number[]>();
    const tags = new Map<string, unknown>();
    const openai = new Map<string, unknown>();
    const ps: unknown[] = [];
    let version = '0.0.0';
    let undiscovered = 0;
    for (const i of this.#registry.indices()) {
      const cfg = this.#registry.get(i)!;
      const found = this.#models[i];
      const type = this.#types[i]!;
      const names = found?.names ?? cfg.models ?? [];
      if (found === null && cfg.models === null) undiscovered++;
      endpoints.push({ index: i, name: cfg.name, url: cfg.url, type, models: names });
      const v = this.#versions[i];
      if (v !== null && v !== undefined && newerVersion(v, version)) version = v;
      const loaded = new Set((found?.ollamaPs ?? []).map((p) => String(p.name ?? p.model ?? '')));
      // The row is built aside and written in one pass that touches only changed cells: workers
      // route from these flags while this runs (ModelTable.writeEndpoint).
      const row = new Int32Array(this.#maxModels);
      for (const name of names) {
        const column = this.#columnFor(name);
        if (column < 0) {
          this.#log.error({ model: name, max_models: this.#maxModels }, 'model table full: raise state.max_models');
          continue;
        }
        row[column] = MODEL_AVAILABLE | (loaded.has(name) ? MODEL_LOADED : 0);
        let list = modelEndpoints.get(name);
        if (list === undefined) modelEndpoints.set(name, (list = []));
        list.push(i);
        if (type === 'ollama' && !tags.has(name)) {
          tags.set(name, found?.ollamaTags.find((t) => t.name === name || t.model === name) ??
            { name, model: name, modified_at: new Date(0).toISOString(), size: 0, digest: '', details: {} });
        }
        if (!openai.has(name)) {
          if (!this.#firstSeen.has(name)) this.#firstSeen.set(name, Math.floor(Date.now() / 1000));
          const created = this.#firstSeen.get(name)!;
          openai.set(name, found?.openaiModels.find((m) => m.id === name) ?? { id: name, object: 'model', created, owned_by: type === 'ollama' ? 'library' : cfg.name });
        }
      }
      seg.models.writeEndpoint(i, row);
      for (const p of found?.ollamaPs ?? []) ps.push(p);
    }
    const models: CatalogModel[] = [];
    for (const [name, eps] of modelEndpoints) models.push({ index: this.#modelIndex.get(name)!, name, endpoints: eps });
    models.sort((a, b) => a.index - b.index);
    seg.header.setModelCount(this.#modelIndex.size);
    return {
      generation: this.#generation, endpoints, models,
      ollamaTags: [...tags.values()], ollamaPs: ps, openaiModels: [...openai.values()], ollamaVersion: version, undiscovered,
    };
  }
}

import type { Config } from '../config/types.js';
import { canonicalModelName, type CatalogEndpoint, type CatalogModel, type CatalogSnapshot, type ResolvedType } from '../core/catalog.js';
import type { Segment } from '../state/segment.js';
import { MODEL_AVAILABLE, MODEL_LOADED } from '../state/models.js';
import type { EndpointModels } from './discovery.js';
import { ModelDetails, OllamaTag, OpenAiModel, type OllamaLoaded } from './discovery-shapes.js';
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
  /** Column of each model, by canonical name (`mistral` and `mistral:latest` share one). */
  readonly #modelIndex: Map<string, number>;
  /** Per endpoint: why its data was left out of the last build (it threw), or null. */
  readonly #buildErrors: (string | null)[];
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
    this.#buildErrors = [];
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

  /**
   * What discovery found. Its `/api/ps` replaces the one vRAM accounting keeps fresher only when
   * it was read at all: a failed read is no news about what is loaded.
   */
  setModels(endpoint: number, models: EndpointModels): void {
    const previous = this.#models[endpoint];
    this.#models[endpoint] = !models.psKnown && previous !== null && previous !== undefined ? { ...models, ollamaPs: previous.ollamaPs, psKnown: previous.psKnown } : models;
  }

  /**
   * A fresher `/api/ps` for an Ollama endpoint (vram-accounting.ts reads it every
   * models.refresh_interval): the next rebuild's LOADED flags and union `/api/ps` come from it.
   * Ignored until the endpoint's model list is known.
   */
  setPs(endpoint: number, ps: readonly OllamaLoaded[]): void {
    const found = this.#models[endpoint];
    if (found === null || found === undefined) return;
    this.#models[endpoint] = { ...found, ollamaPs: ps };
  }

  /** The last `/api/ps` entries known for an endpoint (empty when none). */
  ps(endpoint: number): readonly OllamaLoaded[] {
    return this.#models[endpoint]?.ollamaPs ?? [];
  }

  /** The model-table column of a model (either spelling), or -1 when it has none. */
  columnOf(name: string): number {
    return this.#modelIndex.get(canonicalModelName(name)) ?? -1;
  }

  /** The context an OpenAI-compatible endpoint publishes for a model (discovery.ts), 0 when it publishes none. */
  publishedContext(endpoint: number, name: string): number {
    return this.#models[endpoint]?.contexts.get(canonicalModelName(name)) ?? 0;
  }

  /** A model's size on disk as an Ollama endpoint's `/api/tags` reports it (the largest seen), or 0. */
  diskBytes(name: string): number {
    const key = canonicalModelName(name);
    let bytes = 0;
    for (const found of this.#models) {
      const size = found?.ollamaTags.get(key)?.size;
      if (typeof size === 'number' && size > bytes) bytes = size;
    }
    return bytes;
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

  /** A column for the model whose canonical name is `key`, or -1 when the table is full. */
  #columnFor(key: string): number {
    let index = this.#modelIndex.get(key);
    if (index !== undefined) return index;
    if (this.#modelIndex.size >= this.#maxModels) return -1;
    index = this.#modelIndex.size;
    this.#modelIndex.set(key, index);
    return index;
  }

  /** Why building the catalog failed for an endpoint's data at the last rebuild, or null. */
  buildError(endpoint: number): string | null {
    return this.#buildErrors[endpoint] ?? null;
  }

  /**
   * The snapshot from what every endpoint reported. Each endpoint's part is built aside in
   * #contribution and then merged, so whatever one endpoint's data did (it is checked by
   * discovery-shapes.ts, so nothing should) costs that endpoint its models, never the catalog.
   */
  #build(): CatalogSnapshot {
    const seg = this.#segment;
    const endpoints: CatalogEndpoint[] = [];
    const models = new Map<string, ModelBuild>();
    const tags = new Map<string, unknown>();
    const openai = new Map<string, unknown>();
    const ps: unknown[] = [];
    const full: string[] = [];
    let version = '0.0.0';
    let undiscovered = 0;
    for (const i of this.#registry.indices()) {
      const cfg = this.#registry.get(i)!;
      const found = this.#models[i] ?? null;
      const type = this.#types[i]!;
      if (found === null && cfg.models === null) undiscovered++;
      let part: Contribution;
      try {
        part = this.#contribution(cfg.name, type, found, found?.names ?? cfg.models ?? [], full);
        this.#buildErrors[i] = null;
      } catch (err) {
        const message = `catalog: ${(err as Error)?.message ?? String(err)}`;
        if (this.#buildErrors[i] !== message) this.#log.error({ endpoint: cfg.name, err: message }, 'endpoint models left out of the catalog');
        this.#buildErrors[i] = message;
        part = new Contribution(new Int32Array(this.#maxModels), [], []);
      }
      endpoints.push({ index: i, name: cfg.name, url: cfg.url, type, models: part.listed });
      const v = this.#versions[i];
      if (v !== null && v !== undefined && newerVersion(v, version)) version = v;
      // The row is built aside and written in one pass that touches only changed cells: workers
      // route from these flags while this runs (ModelTable.writeEndpoint).
      seg.models.writeEndpoint(i, part.row);
      for (const m of part.names) {
        let model = models.get(m.key);
        if (model === undefined) models.set(m.key, (model = new ModelBuild(m.column, m.name)));
        model.endpoints.push(i);
        model.listedAs.push(m.name);
        if (m.name !== model.name) model.spelt = true;
        if (m.tag !== null && !tags.has(m.key)) tags.set(m.key, m.tag);
        if (!openai.has(m.key)) openai.set(m.key, m.openai);
      }
      for (const p of part.ps) ps.push(p);
    }
    if (full.length > 0) {
      this.#log.error({ models: full.length, first: full.slice(0, 5), max_models: this.#maxModels }, 'model table full: raise state.max_models');
    }
    const list: CatalogModel[] = [];
    for (const m of models.values()) {
      list.push(m.spelt ? { index: m.column, name: m.name, endpoints: m.endpoints, listedAs: m.listedAs } : { index: m.column, name: m.name, endpoints: m.endpoints });
    }
    list.sort((a, b) => a.index - b.index);
    seg.header.setModelCount(this.#modelIndex.size);
    return {
      generation: this.#generation, endpoints, models: list,
      ollamaTags: [...tags.values()], ollamaPs: ps, openaiModels: [...openai.values()], ollamaVersion: version, undiscovered,
    };
  }

  /** One endpoint's part of the catalog: its availability row, its models with their entries, its loaded models. */
  #contribution(endpointName: string, type: ResolvedType, found: EndpointModels | null, names: readonly string[],
    full: string[]): Contribution {
    const row = new Int32Array(this.#maxModels);
    const loaded = new Set<string>();
    for (const p of found?.ollamaPs ?? []) loaded.add(canonicalModelName(p.name));
    const part = new Contribution(row, names, found?.ollamaPs ?? []);
    const seen = new Set<string>();
    for (const name of names) {
      const key = canonicalModelName(name);
      if (seen.has(key)) continue; // `mistral` and `mistral:latest` listed by one endpoint: one model
      seen.add(key);
      const column = this.#columnFor(key);
      if (column < 0) {
        full.push(name);
        continue;
      }
      // An OpenAI-compatible server serves its models as they are: nothing to load, always resident.
      row[column] = MODEL_AVAILABLE | (type === 'openai' || loaded.has(key) ? MODEL_LOADED : 0);
      let tag: unknown = null;
      if (type === 'ollama') {
        tag = found?.ollamaTags.get(key) ?? new OllamaTag(name, name, new Date(0).toISOString(), 0, '', EMPTY_DETAILS);
      }
      if (!this.#firstSeen.has(key)) this.#firstSeen.set(key, Math.floor(Date.now() / 1000));
      const listed = found?.openaiModels.get(key);
      const openai = new OpenAiModel(listed?.id ?? name, listed?.created ?? this.#firstSeen.get(key)!,
        listed?.owned_by ?? (type === 'ollama' ? 'library' : endpointName));
      part.names.push(new ContributedModel(key, name, column, tag, openai));
    }
    return part;
  }
}

/** One model of one endpoint's contribution. */
class ContributedModel {
  readonly key: string;
  readonly name: string;
  readonly column: number;
  readonly tag: unknown;
  readonly openai: OpenAiModel;
  constructor(key: string, name: string, column: number, tag: unknown, openai: OpenAiModel) {
    this.key = key;
    this.name = name;
    this.column = column;
    this.tag = tag;
    this.openai = openai;
  }
}

class Contribution {
  readonly row: Int32Array;
  /** Every name the endpoint lists (shown in /internal/status), even those without a column. */
  readonly listed: readonly string[];
  readonly names: ContributedModel[];
  readonly ps: readonly unknown[];
  constructor(row: Int32Array, listed: readonly string[], ps: readonly unknown[]) {
    this.row = row;
    this.listed = listed;
    this.names = [];
    this.ps = ps;
  }
}

/** A model being assembled from every endpoint that lists it. */
class ModelBuild {
  readonly column: number;
  readonly name: string;
  readonly endpoints: number[];
  readonly listedAs: string[];
  /** Some endpoint spells it otherwise than `name`. */
  spelt: boolean;
  constructor(column: number, name: string) {
    this.column = column;
    this.name = name;
    this.endpoints = [];
    this.listedAs = [];
    this.spelt = false;
  }
}

const EMPTY_DETAILS = new ModelDetails(undefined, undefined, undefined, undefined, undefined, undefined);

import { canonicalModelName, type CatalogSnapshot } from '../core/catalog.js';
import { DIALECTS_OF_TYPE } from '../protocol/dialect.js';

/** One model as the router sees it: its column in the model table and the endpoints that list it. */
export class ModelRoute {
  readonly index: number;
  readonly name: string;
  readonly endpoints: Int32Array;
  constructor(index: number, name: string, endpoints: readonly number[]) {
    this.index = index;
    this.name = name;
    this.endpoints = Int32Array.from(endpoints);
  }
}

/**
 * A worker's read-only routing view of the latest catalog: model name → candidate endpoints,
 * endpoint index → name/url/dialects, and the catalog GET bodies encoded once per generation
 * instead of once per request.
 */
export class RoutingTable {
  readonly generation: number;
  readonly endpointNames: readonly string[];
  readonly endpointUrls: readonly string[];
  /** Bit mask of protocol/dialect.ts Dialects each endpoint speaks (0 while its type is unknown). */
  readonly endpointDialects: Int32Array;
  readonly endpointCount: number;
  readonly ollamaTagsBody: string;
  readonly ollamaPsBody: string;
  readonly openaiModelsBody: string;
  readonly ollamaVersionBody: string;
  /** Endpoints whose model list is not known yet (see CatalogSnapshot.undiscovered). */
  readonly undiscovered: number;
  readonly #models: Map<string, ModelRoute>;

  constructor(catalog: CatalogSnapshot) {
    this.generation = catalog.generation;
    let count = 0;
    for (const e of catalog.endpoints) count = Math.max(count, e.index + 1);
    const names: string[] = new Array(count).fill('');
    const urls: string[] = new Array(count).fill('');
    this.endpointDialects = new Int32Array(count);
    for (const e of catalog.endpoints) {
      names[e.index] = e.name;
      urls[e.index] = e.url;
      this.endpointDialects[e.index] = e.type === 'unknown' ? 0 : DIALECTS_OF_TYPE[e.type];
    }
    this.endpointNames = names;
    this.endpointUrls = urls;
    this.endpointCount = count;
    this.#models = new Map();
    for (const m of catalog.models) {
      const route = new ModelRoute(m.index, m.name, m.endpoints);
      this.#models.set(m.name, route);
      // Ollama's implicit `:latest` tag: both spellings reach the same model.
      const canonical = canonicalModelName(m.name);
      if (!this.#models.has(canonical)) this.#models.set(canonical, route);
      if (m.name.endsWith(':latest')) {
        const bare = m.name.slice(0, -':latest'.length);
        if (!this.#models.has(bare)) this.#models.set(bare, route);
      }
    }
    this.ollamaTagsBody = JSON.stringify({ models: catalog.ollamaTags });
    this.ollamaPsBody = JSON.stringify({ models: catalog.ollamaPs });
    this.openaiModelsBody = JSON.stringify({ object: 'list', data: catalog.openaiModels });
    this.ollamaVersionBody = JSON.stringify({ version: catalog.ollamaVersion });
    this.undiscovered = catalog.undiscovered;
  }

  model(name: string): ModelRoute | undefined {
    return this.#models.get(name);
  }

  endpointIndex(name: string): number {
    return this.endpointNames.indexOf(name);
  }
}

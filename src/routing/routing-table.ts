import { hasModelTag, modelNameAlias, type CatalogModel, type CatalogSnapshot, type ResolvedType } from '../core/catalog.js';
import { DIALECTS_OF_TYPE } from '../protocol/dialect.js';

/**
 * One model as the router sees it under one spelling: its column in the model table, the endpoints
 * that list it, and (rarely) the name to forward to some of them instead of the client's.
 */
export class ModelRoute {
  readonly index: number;
  /** The catalog's name for the model (one spelling of it). */
  readonly name: string;
  readonly endpoints: Int32Array;
  /**
   * By endpoint index: the name that endpoint lists the model under, when the spelling this route
   * is found by may not reach it there (see forwardNames); null for every endpoint that takes the
   * client's spelling — always, for Ollama endpoints that list `name:tag` — and null as a whole
   * when no endpoint needs a rename, so the common path reads one field and nothing else.
   */
  readonly forwardAs: readonly (string | null)[] | null;
  constructor(index: number, name: string, endpoints: readonly number[] | Int32Array, forwardAs: readonly (string | null)[] | null = null) {
    this.index = index;
    this.name = name;
    this.endpoints = endpoints instanceof Int32Array ? endpoints : Int32Array.from(endpoints);
    this.forwardAs = forwardAs;
  }
}

/**
 * What to forward to each endpoint of `m` when a client asks for it as `requested` (the model's
 * name or its alias: `mistral` ↔ `mistral:latest`). An endpoint gets its own spelling when the
 * client's differs and it may not resolve the client's: an OpenAI-type server (vLLM, llama-swap,
 * LM Studio match ids exactly), or any server that lists the bare name (Ollama itself always lists
 * `name:tag` and resolves a bare name to `:latest`, so it is never renamed for). Null when none needs it.
 */
function forwardNames(m: CatalogModel, requested: string, types: readonly ResolvedType[]): (string | null)[] | null {
  let out: (string | null)[] | null = null;
  for (let k = 0; k < m.endpoints.length; k++) {
    const e = m.endpoints[k]!;
    const listed = m.listedAs?.[k] ?? m.name;
    if (listed === requested) continue;
    if (types[e] === 'ollama' && hasModelTag(listed)) continue;
    out ??= new Array<string | null>(types.length).fill(null);
    out[e] = listed;
  }
  return out;
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
  /** 1 where corral can load models on the endpoint (Ollama), 0 elsewhere (OpenAI-compatible servers serve what they have). */
  readonly endpointLoads: Uint8Array;
  readonly endpointCount: number;
  readonly ollamaTagsBody: string;
  readonly ollamaPsBody: string;
  readonly openaiModelsBody: string;
  readonly ollamaVersionBody: string;
  /** Endpoints whose model list is not known yet (see CatalogSnapshot.undiscovered). */
  readonly undiscovered: number;
  readonly #models: Map<string, ModelRoute>;
  /** One route per model (its catalog name), for what walks every model (waking admission queues). */
  readonly routes: readonly ModelRoute[];

  constructor(catalog: CatalogSnapshot) {
    this.generation = catalog.generation;
    let count = 0;
    for (const e of catalog.endpoints) count = Math.max(count, e.index + 1);
    const names: string[] = new Array(count).fill('');
    const urls: string[] = new Array(count).fill('');
    const types: ResolvedType[] = new Array<ResolvedType>(count).fill('unknown');
    this.endpointDialects = new Int32Array(count);
    this.endpointLoads = new Uint8Array(count);
    for (const e of catalog.endpoints) {
      this.endpointLoads[e.index] = e.type === 'ollama' ? 1 : 0;
      names[e.index] = e.name;
      types[e.index] = e.type;
      urls[e.index] = e.url;
      this.endpointDialects[e.index] = e.type === 'unknown' ? 0 : DIALECTS_OF_TYPE[e.type];
    }
    this.endpointNames = names;
    this.endpointUrls = urls;
    this.endpointCount = count;
    this.#models = new Map();
    const routes: ModelRoute[] = [];
    for (const m of catalog.models) {
      // Both spellings reach the model (Ollama's implicit `:latest` tag; the catalog merges them),
      // each with what to forward under it, decided here once rather than per request.
      const endpoints = Int32Array.from(m.endpoints);
      const route = new ModelRoute(m.index, m.name, endpoints, forwardNames(m, m.name, types));
      this.#models.set(m.name, route);
      routes.push(route);
      const alias = modelNameAlias(m.name);
      if (alias !== null && !this.#models.has(alias)) {
        this.#models.set(alias, new ModelRoute(m.index, m.name, endpoints, forwardNames(m, alias, types)));
      }
    }
    this.routes = routes;
    this.ollamaTagsBody = JSON.stringify({ models: catalog.ollamaTags });
    this.ollamaPsBody = JSON.stringify({ models: catalog.ollamaPs });
    this.openaiModelsBody = JSON.stringify({ object: 'list', data: catalog.openaiModels });
    this.ollamaVersionBody = JSON.stringify({ version: catalog.ollamaVersion });
    this.undiscovered = catalog.undiscovered;
  }

  model(name: string): ModelRoute | undefined {
    return this.#models.get(name);
  }

  /** The catalog name of the model in `column` ('' when this catalog has none there): for logs. */
  modelName(column: number): string {
    for (const m of this.#models.values()) if (m.index === column) return m.name;
    return '';
  }

  endpointIndex(name: string): number {
    return this.endpointNames.indexOf(name);
  }
}

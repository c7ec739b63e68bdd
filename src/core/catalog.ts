/**
 * What the primary knows about endpoints and models, broadcast to workers over IPC whenever it
 * changes. Strings live here, never in the shared segment: the segment holds only the indices
 * this snapshot names (ARCHITECTURE.md §2).
 */
export type ResolvedType = 'ollama' | 'openai' | 'unknown';

export interface CatalogEndpoint {
  readonly index: number;       // row in the segment's endpoint table
  readonly name: string;
  readonly url: string;
  readonly type: ResolvedType;  // `auto` endpoints resolve once a probe answers
  readonly models: readonly string[];
}

export interface CatalogModel {
  readonly index: number;       // column in the segment's model table
  /** The name as the first endpoint listing it spells it (`mistral` and `mistral:latest` are one model). */
  readonly name: string;
  readonly endpoints: readonly number[];
  /**
   * How each of `endpoints` spells the model (same order), when one spells it otherwise than
   * `name`; absent when all spell it `name`. Workers forward a request to an endpoint under the
   * spelling it lists when its API may not resolve the other one (routing-table.ts).
   */
  readonly listedAs?: readonly string[];
}

export interface CatalogSnapshot {
  readonly generation: number;
  readonly endpoints: readonly CatalogEndpoint[];
  readonly models: readonly CatalogModel[];
  /** Union of the backends' `/api/tags` entries, one per model name. */
  readonly ollamaTags: readonly unknown[];
  /** Union of the backends' `/api/ps` entries (one per endpoint × loaded model). */
  readonly ollamaPs: readonly unknown[];
  /** Union of the backends' `/v1/models` entries, one per model id. */
  readonly openaiModels: readonly unknown[];
  /** Highest Ollama version seen, reported by GET /api/version. */
  readonly ollamaVersion: string;
  /**
   * Endpoints whose model list is unknown (never reached, no static `models`): a model missing
   * from the catalog may be theirs, so "not found" would be a guess — corral answers 503 instead.
   */
  readonly undiscovered: number;
}

export function emptyCatalog(): CatalogSnapshot {
  return { generation: 0, endpoints: [], models: [], ollamaTags: [], ollamaPs: [], openaiModels: [], ollamaVersion: '0.0.0', undiscovered: 0 };
}

/**
 * Whether a model name carries a tag: Ollama's `model:tag`, where the model part may hold a
 * registry host with a port (`host:5000/ns/model`), so only a colon after the last slash counts.
 */
export function hasModelTag(name: string): boolean {
  return name.lastIndexOf(':') > name.lastIndexOf('/');
}

/**
 * Ollama treats `llama3.2` and `llama3.2:latest` as one model (docs/api.md, "Model names": the tag
 * defaults to `latest`); so does corral, for every endpoint type.
 */
export function canonicalModelName(name: string): string {
  return hasModelTag(name) ? name : `${name}:latest`;
}

/** The other spelling of the same model (`mistral` ↔ `mistral:latest`), or null when there is none (`llama3.2:1b`). */
export function modelNameAlias(name: string): string | null {
  if (!hasModelTag(name)) return `${name}:latest`;
  if (!name.endsWith(':latest')) return null;
  const bare = name.slice(0, -':latest'.length);
  return bare === '' || bare.endsWith('/') || hasModelTag(bare) ? null : bare;
}

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
  readonly name: string;
  readonly endpoints: readonly number[];
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

/** Ollama treats `llama3.2` and `llama3.2:latest` as one model; so does corral. */
export function canonicalModelName(name: string): string {
  return name.indexOf(':') === -1 ? `${name}:latest` : name;
}

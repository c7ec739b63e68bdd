import type { EndpointConfig } from '../config/types.js';
import type { ResolvedType } from '../core/catalog.js';
import { getJson, ProbeError } from './probe-client.js';

/** What one endpoint reported about its models at the last discovery. */
export interface EndpointModels {
  readonly names: readonly string[];
  /** Raw `/api/tags` entries (Ollama endpoints only). */
  readonly ollamaTags: readonly Record<string, unknown>[];
  /** Raw `/api/ps` entries (Ollama endpoints only). */
  readonly ollamaPs: readonly Record<string, unknown>[];
  /** Raw `/v1/models` entries (OpenAI endpoints only). */
  readonly openaiModels: readonly Record<string, unknown>[];
  readonly version: string | null;
}

/**
 * Works out what an `auto` endpoint is: an Ollama answers GET /api/version with {version}; any
 * OpenAI-compatible server answers GET /v1/models. Returns the type and, for Ollama, the version.
 */
export async function detectType(url: string, timeoutMs: number): Promise<{ type: ResolvedType; version: string | null }> {
  try {
    const v = await getJson(url, '/api/version', timeoutMs) as { version?: unknown };
    if (v !== null && typeof v === 'object' && typeof v.version === 'string') return { type: 'ollama', version: v.version };
  } catch (err) {
    if (!(err instanceof ProbeError) || err.status === 0) throw err; // unreachable: not a type question
  }
  await getJson(url, '/v1/models', timeoutMs);
  return { type: 'openai', version: null };
}

function entries(doc: unknown, key: string): Record<string, unknown>[] {
  const list = (doc as Record<string, unknown> | null)?.[key];
  return Array.isArray(list) ? list.filter((e): e is Record<string, unknown> => e !== null && typeof e === 'object') : [];
}

/** Reads an endpoint's model list (and, for Ollama, what is loaded in vRAM). */
export async function discoverModels(endpoint: EndpointConfig, type: ResolvedType, timeoutMs: number): Promise<EndpointModels> {
  if (type === 'ollama') {
    const [tags, ps] = await Promise.all([
      getJson(endpoint.url, '/api/tags', timeoutMs),
      getJson(endpoint.url, '/api/ps', timeoutMs).catch(() => null),
    ]);
    const tagList = entries(tags, 'models');
    const names = endpoint.models ?? tagList.map((t) => String(t.name ?? t.model ?? '')).filter((n) => n !== '');
    return { names, ollamaTags: tagList, ollamaPs: entries(ps, 'models'), openaiModels: [], version: null };
  }
  const models = await getJson(endpoint.url, '/v1/models', timeoutMs);
  const list = entries(models, 'data');
  const names = endpoint.models ?? list.map((m) => String(m.id ?? '')).filter((n) => n !== '');
  return { names, ollamaTags: [], ollamaPs: [], openaiModels: list, version: null };
}

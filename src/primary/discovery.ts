import type { EndpointConfig } from '../config/types.js';
import { canonicalModelName, type ResolvedType } from '../core/catalog.js';
import { getJson, ProbeError } from './probe-client.js';
import {
  readOllamaPs, readOllamaTags, readOpenAiModels, readVersion, Warnings,
  type OllamaLoaded, type OllamaTag, type OpenAiModel,
} from './discovery-shapes.js';

/** What one endpoint reported about its models at the last discovery, checked (discovery-shapes.ts). */
export interface EndpointModels {
  /** The names the endpoint serves, spelt as it lists them (or as `models:` in the config says). */
  readonly names: readonly string[];
  /** `/api/tags` entries by canonical name (Ollama endpoints only). */
  readonly ollamaTags: ReadonlyMap<string, OllamaTag>;
  /** `/api/ps` entries (Ollama endpoints only). */
  readonly ollamaPs: readonly OllamaLoaded[];
  /** `/api/ps` answered usably (false: ollamaPs is empty for want of an answer, not because nothing is loaded). */
  readonly psKnown: boolean;
  /** `/v1/models` entries by canonical name (OpenAI endpoints only). */
  readonly openaiModels: ReadonlyMap<string, OpenAiModel>;
  /** What was dropped from the answers, one Warnings per document that had any. */
  readonly warnings: readonly Warnings[];
  readonly version: string | null;
}

const NO_TAGS: ReadonlyMap<string, OllamaTag> = new Map();
const NO_MODELS: ReadonlyMap<string, OpenAiModel> = new Map();

/**
 * Works out what an `auto` endpoint is: an Ollama answers GET /api/version with {version}; any
 * OpenAI-compatible server answers GET /v1/models. Returns the type and, for Ollama, the version.
 */
export async function detectType(url: string, timeoutMs: number): Promise<{ type: ResolvedType; version: string | null }> {
  try {
    const v = readVersion(await getJson(url, '/api/version', timeoutMs));
    if (v.version !== null) return { type: 'ollama', version: v.version };
  } catch (err) {
    if (!(err instanceof ProbeError) || err.status === 0) throw err; // unreachable: not a type question
  }
  await getJson(url, '/v1/models', timeoutMs);
  return { type: 'openai', version: null };
}

function byCanonicalName<T>(entries: readonly T[], name: (e: T) => string): Map<string, T> {
  const map = new Map<string, T>();
  for (const e of entries) map.set(canonicalModelName(name(e)), e);
  return map;
}

/**
 * Reads an endpoint's model list (and, for Ollama, what is loaded in vRAM). Throws a ProbeError
 * when the backend does not answer, a DiscoveryError when its model list is unusable; a bad
 * `/api/ps` answer only loses the loaded flags (with a warning).
 */
export async function discoverModels(endpoint: EndpointConfig, type: ResolvedType, timeoutMs: number): Promise<EndpointModels> {
  if (type === 'ollama') {
    const [tagsDoc, psDoc] = await Promise.all([
      getJson(endpoint.url, '/api/tags', timeoutMs),
      getJson(endpoint.url, '/api/ps', timeoutMs).catch(() => null),
    ]);
    const tags = readOllamaTags(tagsDoc);
    const warnings: Warnings[] = tags.warnings.count > 0 ? [tags.warnings] : [];
    let ps: OllamaLoaded[] = [];
    let psKnown = false;
    if (psDoc !== null) {
      try {
        const read = readOllamaPs(psDoc);
        ps = read.entries;
        psKnown = true;
        if (read.warnings.count > 0) warnings.push(read.warnings);
      } catch (err) {
        const w = new Warnings('GET /api/ps');
        w.add(`${(err as Error).message.replace(/^GET \/api\/ps: /, '')} (loaded models unknown)`);
        warnings.push(w);
      }
    }
    const names = endpoint.models ?? tags.entries.map((t) => t.name);
    return { names, ollamaTags: byCanonicalName(tags.entries, (t) => t.name), ollamaPs: ps, psKnown, openaiModels: NO_MODELS, warnings, version: null };
  }
  const models = readOpenAiModels(await getJson(endpoint.url, '/v1/models', timeoutMs));
  const names = endpoint.models ?? models.entries.map((m) => m.id);
  return {
    names, ollamaTags: NO_TAGS, ollamaPs: [], psKnown: true, openaiModels: byCanonicalName(models.entries, (m) => m.id),
    warnings: models.warnings.count > 0 ? [models.warnings] : [], version: null,
  };
}

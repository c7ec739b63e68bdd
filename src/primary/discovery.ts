import type { EndpointConfig } from '../config/types.js';
import { canonicalModelName, type ResolvedType } from '../core/catalog.js';
import { getJson, ProbeError } from './probe-client.js';
import { readMaxModelLens, readPropsContext, readSlotsContext } from './published-context.js';
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
  /**
   * The context each model takes there, in tokens, by canonical name, as an OpenAI-compatible
   * server publishes it (published-context.ts); empty for Ollama (its models' contexts come from
   * `/api/show`) and for servers that publish none.
   */
  readonly contexts: ReadonlyMap<string, number>;
  /** What was dropped from the answers, one Warnings per document that had any. */
  readonly warnings: readonly Warnings[];
  readonly version: string | null;
}

const NO_TAGS: ReadonlyMap<string, OllamaTag> = new Map();
const NO_MODELS: ReadonlyMap<string, OpenAiModel> = new Map();
const NO_CONTEXTS: ReadonlyMap<string, number> = new Map();

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

function byCanonicalName<T, V = T>(entries: readonly T[], name: (e: T) => string, value: (e: T) => V = (e) => e as unknown as V): Map<string, V> {
  const map = new Map<string, V>();
  for (const e of entries) map.set(canonicalModelName(name(e)), value(e));
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
    return {
      names, ollamaTags: byCanonicalName(tags.entries, (t) => t.name), ollamaPs: ps, psKnown, openaiModels: NO_MODELS,
      contexts: NO_CONTEXTS, warnings, version: null,
    };
  }
  const modelsDoc = await getJson(endpoint.url, '/v1/models', timeoutMs);
  const models = readOpenAiModels(modelsDoc);
  const names = endpoint.models ?? models.entries.map((m) => m.id);
  return {
    names, ollamaTags: NO_TAGS, ollamaPs: [], psKnown: true, openaiModels: byCanonicalName(models.entries, (m) => m.id),
    contexts: await publishedContexts(endpoint.url, modelsDoc, names, timeoutMs),
    warnings: models.warnings.count > 0 ? [models.warnings] : [], version: null,
  };
}

/**
 * What context an OpenAI-compatible server takes per model (published-context.ts): vLLM's
 * `max_model_len` when its model list has it, else llama-server's slot context (`/props`, else
 * `/slots`), which holds for every model it lists. A server that answers neither publishes none:
 * its requests are not checked.
 */
async function publishedContexts(url: string, modelsDoc: unknown, names: readonly string[], timeoutMs: number): Promise<ReadonlyMap<string, number>> {
  const lens = readMaxModelLens(modelsDoc);
  if (lens.size > 0) return byCanonicalName([...lens], ([id]) => id, ([, len]) => len);
  let slot = readPropsContext(await getJson(url, '/props', timeoutMs).catch(() => null));
  if (slot === 0) slot = readSlotsContext(await getJson(url, '/slots', timeoutMs).catch(() => null));
  if (slot === 0) return NO_CONTEXTS;
  return byCanonicalName(names, (n) => n, () => slot);
}

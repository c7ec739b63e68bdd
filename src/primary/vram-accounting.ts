import type { Config, EndpointConfig } from '../config/types.js';
import { canonicalModelName, type ResolvedType } from '../core/catalog.js';
import type { Logger } from '../observe/logger.js';
import type { Segment } from '../state/segment.js';
import { EndpointState } from '../state/endpoints.js';
import { MODEL_NEED_ESTIMATED, MODEL_PINNED } from '../state/model-info.js';
import type { CatalogBuilder } from './catalog-builder.js';
import { readOllamaPs, type OllamaLoaded } from './discovery-shapes.js';
import type { EndpointRegistry } from './endpoint-registry.js';
import type { ModelNeeds, NeedSource } from './model-needs.js';
import { queryGpus, sumGpus, type GpuMemory } from './nvidia-smi.js';
import { getJson, postJson } from './probe-client.js';
import { servedContext } from './served-context.js';
import { seedFromFamilies } from './family-ratio.js';

const MiB = 1024 * 1024;
const I32_MAX = 0x7fffffff;

/** What the operator sees of one endpoint's GPU memory (/internal/status). */
export interface EndpointVram {
  readonly total_bytes: number | null;
  readonly reserve_bytes: number;
  readonly used_bytes: number;
  /** Usable for placement: total − reserve − used; null when the total is unknown. */
  readonly free_bytes: number | null;
  /** Where the total comes from: `config` (vram), `nvidia-smi` (gpus), or `unknown`. */
  readonly source: 'config' | 'nvidia-smi' | 'unknown';
  /** Used vRAM nvidia-smi sees on the endpoint's GPUs beyond what its resident models account for. */
  readonly other_bytes: number;
  readonly error: string | null;
}

/** `/api/show` facts about a model, read once per model. */
export interface ModelFacts {
  readonly max_context: number | null;
  readonly family: string | null;
  readonly parameter_size: string | null;
}

interface Capacity {
  readonly total: number | null;
  readonly reserve: number;
  readonly source: EndpointVram['source'];
  readonly error: string | null;
}

class EndpointAccount {
  totalBytes: number | null = null;
  reserveBytes = 0;
  usedBytes = 0;
  otherBytes = 0;
  source: EndpointVram['source'] = 'unknown';
  error: string | null = null;
  /** Columns whose cells hold residency, to clear those that left. */
  resident = new Set<number>();
  refreshing: Promise<void> | null = null;
}

/**
 * vRAM accounting (ARCHITECTURE.md §1, primary): reads each Ollama endpoint's `/api/ps` every
 * `models.refresh_interval` and right after every load or unload corral causes, and publishes
 * into the segment what placement reads — per (endpoint, model) the vRAM and context of resident
 * models, per endpoint the capacity (total − reserve, from `vram` or nvidia-smi for `gpus`) and
 * use, per model its need (learned, else estimated) and pinned flag. It also reads `/api/show`
 * once per model (maximum context, family, parameter size) for the operator's view.
 */
export class VramAccountant {
  readonly #registry: EndpointRegistry;
  readonly #catalog: CatalogBuilder;
  readonly #segment: Segment;
  readonly #needs: ModelNeeds;
  readonly #log: Logger;
  readonly #onCatalogChange: () => void;
  readonly #accounts: EndpointAccount[] = [];
  readonly #facts = new Map<string, ModelFacts | null>();
  #config: Config;
  #gpus: GpuMemory[] = [];
  #gpuError: string | null = null;
  #timer: NodeJS.Timeout | null = null;
  #stopped = false;
  #afterEach: () => void = () => {};
  #repairPending = false;
  #gpuRead: Promise<void> | null = null;

  constructor(config: Config, registry: EndpointRegistry, catalog: CatalogBuilder, segment: Segment, needs: ModelNeeds,
    log: Logger, onCatalogChange: () => void) {
    this.#config = config;
    this.#registry = registry;
    this.#catalog = catalog;
    this.#segment = segment;
    this.#needs = needs;
    this.#log = log;
    this.#onCatalogChange = onCatalogChange;
  }

  /** Reads every endpoint each models.refresh_interval; `afterEach` runs after every pass. */
  start(afterEach: () => void = () => {}): void {
    this.#afterEach = afterEach;
    this.#schedule();
  }

  reconfigure(config: Config): void {
    this.#config = config;
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      void this.refreshAll().finally(() => {
        this.#afterEach();
        this.#schedule();
      });
    }, this.#config.models.refresh_interval);
    this.#timer.unref();
  }

  #account(i: number): EndpointAccount {
    return (this.#accounts[i] ??= new EndpointAccount());
  }

  /** One pass over every endpoint: nvidia-smi once (when any endpoint names `gpus`), then each `/api/ps`. */
  async refreshAll(): Promise<void> {
    const indices = [...this.#registry.indices()];
    if (indices.some((i) => this.#registry.get(i)?.gpus != null)) await this.#readGpus();
    await Promise.all(indices.map((i) => this.refresh(i)));
    this.publishModelInfo();
    if (this.#repairPending) this.#repairInflight(indices);
  }

  /** A worker died: its per-model in-flight counts are repaired once each endpoint is idle. */
  workerGone(): void {
    this.#repairPending = true;
  }

  /** One nvidia-smi run at a time: callers in between share it. */
  #readGpus(): Promise<void> {
    this.#gpuRead ??= this.#queryGpus().finally(() => {
      this.#gpuRead = null;
    });
    return this.#gpuRead;
  }

  async #queryGpus(): Promise<void> {
    try {
      const read = await queryGpus(Math.max(1000, this.#config.models.refresh_interval));
      this.#gpus = read.gpus;
      if (read.problems.length > 0 && this.#gpuError === null) this.#log.warn({ problems: read.problems }, 'nvidia-smi output had unreadable lines');
      if (this.#gpuError !== null) this.#log.info('nvidia-smi readable again');
      this.#gpuError = null;
    } catch (err) {
      const message = (err as Error).message;
      if (this.#gpuError !== message) this.#log.warn({ err: message }, 'cannot read GPU memory; endpoints with gpus have no known vRAM total');
      this.#gpuError = message;
      this.#gpus = [];
    }
  }

  /** Re-reads one endpoint's `/api/ps` now (concurrent calls share one read). */
  refresh(i: number): Promise<void> {
    const a = this.#account(i);
    a.refreshing ??= this.#refresh(i, a).finally(() => {
      a.refreshing = null;
    });
    return a.refreshing;
  }

  async #refresh(i: number, a: EndpointAccount): Promise<void> {
    const cfg = this.#registry.get(i);
    if (cfg === null || this.#catalog.type(i) !== 'ollama') return;
    // nvidia-smi's figure must be as fresh as /api/ps's: "other" memory is their difference.
    if (cfg.gpus !== null) await this.#readGpus();
    const capacity = this.#capacity(cfg);
    const state = this.#segment.endpoints.state(i);
    if (state === EndpointState.Down || state === EndpointState.Unknown) {
      this.#apply(i, a, [], capacity);
      return;
    }
    let ps: OllamaLoaded[];
    try {
      ps = readOllamaPs(await getJson(cfg.url, '/api/ps', cfg.health.timeout)).entries;
    } catch (err) {
      // Residency unknown for now: keep the last picture (the health prober judges the endpoint).
      a.error = `GET /api/ps: ${(err as Error).message.replace(/^GET \/api\/ps: /, '')}`;
      return;
    }
    this.#apply(i, a, ps, capacity);
  }

  /** Total and reserve from the config (`vram`), or nvidia-smi for `gpus`; `error` when the latter cannot say. */
  #capacity(cfg: EndpointConfig): Capacity {
    let total: number | null = null;
    let source: EndpointVram['source'] = 'unknown';
    let error: string | null = null;
    if (cfg.vram !== null) {
      total = cfg.vram;
      source = 'config';
    } else if (cfg.gpus !== null && this.#gpuError === null && this.#gpus.length > 0) {
      const sum = sumGpus(this.#gpus, cfg.gpus);
      if (sum.missing.length === 0) {
        total = sum.totalMiB * MiB;
        source = 'nvidia-smi';
      } else {
        error = `nvidia-smi reports no GPU ${sum.missing.join(', ')}`;
      }
    } else if (cfg.gpus !== null) {
      error = this.#gpuError ?? 'nvidia-smi reported no GPUs';
    }
    const reserve = total === null ? 0 : 'percent' in cfg.vram_reserve ? Math.round(total * cfg.vram_reserve.percent / 100) : cfg.vram_reserve.bytes;
    return { total, reserve, source, error };
  }

  /** Writes what `/api/ps` said into the segment; rebuilds the catalog when residency changed. */
  #apply(i: number, a: EndpointAccount, ps: readonly OllamaLoaded[], capacity: Capacity): void {
    // Every figure of the account changes here, together: /internal/status never shows half.
    a.totalBytes = capacity.total;
    a.reserveBytes = capacity.reserve;
    a.source = capacity.source;
    a.error = capacity.error;
    const seg = this.#segment;
    const createdAtSec = seg.header.createdAtSec;
    const now = new Set<number>();
    let used = 0;
    for (const p of ps) {
      const bytes = p.size_vram ?? 0;
      const ctx = p.context_length ?? 0;
      used += bytes;
      // Partly offloaded to the CPU, a model's size_vram understates what it needs on a GPU: its size says it.
      this.#needs.observe(p.name, ctx, Math.max(bytes, p.size ?? 0));
      const column = this.#catalog.columnOf(p.name);
      if (column < 0) continue;
      now.add(column);
      const expires = p.expires_at === undefined ? NaN : Date.parse(p.expires_at);
      const expiresSec = Number.isFinite(expires) ? clampI32(Math.floor(expires / 1000) - createdAtSec) : 0;
      seg.models.setResidency(i, column, clampI32(Math.ceil(bytes / MiB)), clampI32(ctx), expiresSec);
    }
    for (const column of a.resident) if (!now.has(column)) seg.models.setResidency(i, column, 0, 0, 0);
    a.resident = now;
    const cfg = this.#registry.get(i);
    a.otherBytes = 0;
    if (cfg?.gpus != null && a.source === 'nvidia-smi') {
      const nv = sumGpus(this.#gpus, cfg.gpus).usedMiB * MiB;
      a.otherBytes = Math.max(0, nv - used);
    }
    a.usedBytes = used + a.otherBytes;
    const capacityMiB = a.totalBytes === null ? 0 : Math.max(1, Math.floor((a.totalBytes - a.reserveBytes) / MiB));
    seg.endpoints.setVram(i, clampI32(capacityMiB), clampI32(Math.ceil(a.usedBytes / MiB)));
    // Rebuilt whenever the catalog's picture differs from this one, whoever set it last (the
    // health prober's discovery reads /api/ps too, and may have put an older one there).
    const before = residencySignature(this.#catalog.ps(i));
    this.#catalog.setPs(i, ps);
    if (residencySignature(ps) !== before) {
      try {
        if (this.#catalog.rebuild()) this.#onCatalogChange();
      } catch (err) {
        this.#log.error({ endpoint: this.#registry.get(i)?.name, err: (err as Error)?.message ?? String(err) }, 'catalog rebuild failed; the previous catalog is kept');
      }
    }
  }

  /**
   * Drops a model from an endpoint's picture at once (the load coordinator unloaded it), so no
   * rebuild before the next `/api/ps` read brings its LOADED flag back.
   */
  forget(i: number, model: string): void {
    const key = canonicalModelName(model);
    this.#catalog.setPs(i, this.#catalog.ps(i).filter((p) => canonicalModelName(p.name) !== key));
  }

  /**
   * Each catalog model's need (MiB), pinned flag and context (served-context.ts) into the segment's
   * model info, and a starting chars-per-token ratio for models not yet sampled (family-ratio.ts).
   */
  publishModelInfo(): void {
    const info = this.#segment.modelInfo;
    const models = this.#config.models;
    const pinned = new Set(models.pinned.map(canonicalModelName));
    const catalog = this.#catalog;
    const typeOf = (e: number): ResolvedType => catalog.type(e);
    const published = (e: number, name: string): number => catalog.publishedContext(e, name);
    for (const m of catalog.snapshot.models) {
      const need = this.need(m.name, 0);
      info.setNeedMiB(m.index, clampI32(Math.max(1, Math.ceil(need.bytes / MiB))));
      info.setFlags(m.index, (pinned.has(canonicalModelName(m.name)) ? MODEL_PINNED : 0) | (need.source === 'learned' ? 0 : MODEL_NEED_ESTIMATED));
      info.setMaxContext(m.index, clampI32(servedContext(m, typeOf, this.facts(m.name)?.max_context ?? 0, published)));
    }
    seedFromFamilies(catalog.snapshot.models, (name) => this.facts(name)?.family ?? null, info);
  }

  need(model: string, context: number): { bytes: number; source: NeedSource } {
    return this.#needs.need(model, context, this.#catalog.diskBytes(model), this.#config.models.estimate_factor);
  }

  isPinned(model: string): boolean {
    const key = canonicalModelName(model);
    return this.#config.models.pinned.some((p) => canonicalModelName(p) === key);
  }

  /**
   * A worker that died mid-request leaves its per-model in-flight counts behind (the endpoint's own
   * count is reconciled exactly by the hold table): once an endpoint has nothing in flight, its
   * per-model counts must be 0 too.
   */
  #repairInflight(indices: readonly number[]): void {
    const seg = this.#segment;
    let pending = false;
    for (const i of indices) {
      if (seg.endpoints.inflight(i) !== 0) {
        pending = true;
        continue;
      }
      const cleared = seg.models.resetInflight(i);
      if (cleared > 0) this.#log.warn({ endpoint: this.#registry.get(i)?.name, cleared }, 'cleared per-model in-flight counts left by a gone worker');
    }
    this.#repairPending = pending;
  }

  vram(i: number): EndpointVram | null {
    if (this.#catalog.type(i) !== 'ollama') return null;
    const a = this.#account(i);
    return {
      total_bytes: a.totalBytes,
      reserve_bytes: a.reserveBytes,
      used_bytes: a.usedBytes,
      free_bytes: a.totalBytes === null ? null : Math.max(0, a.totalBytes - a.reserveBytes - a.usedBytes),
      source: a.source,
      other_bytes: a.otherBytes,
      error: a.error,
    };
  }

  /** Capacity (total − reserve) and use in bytes, or null capacity when unknown. */
  space(i: number): { capacity: number | null; used: number } {
    const a = this.#account(i);
    return { capacity: a.totalBytes === null ? null : a.totalBytes - a.reserveBytes, used: a.usedBytes };
  }

  /** `/api/show` facts for a model, read once (on the first endpoint that answers). */
  facts(model: string): ModelFacts | null {
    return this.#facts.get(canonicalModelName(model)) ?? null;
  }

  /** Reads `/api/show` for catalog models not yet known, a few at a time (not on any request's path). */
  async learnFacts(): Promise<void> {
    for (const m of this.#catalog.snapshot.models) {
      const key = canonicalModelName(m.name);
      if (this.#facts.has(key)) continue;
      const e = m.endpoints.find((i) => this.#catalog.type(i) === 'ollama' && this.#segment.endpoints.state(i) === EndpointState.Healthy);
      if (e === undefined) continue;
      const cfg = this.#registry.get(e);
      if (cfg === null) continue;
      this.#facts.set(key, null); // asked once; a failure is not retried every tick
      try {
        const answer = await postJson(cfg.url, '/api/show', { model: m.name }, cfg.health.timeout);
        if (answer.status === 200) this.#facts.set(key, readShow(answer.doc));
      } catch {
        // Facts are for display and estimates only.
      }
    }
    this.publishModelInfo();
  }
}

/** What /api/ps says is resident, as a string ("name@ctx:bytes,…" sorted): equal strings, equal LOADED flags. */
function residencySignature(ps: readonly OllamaLoaded[]): string {
  return ps.map((p) => `${canonicalModelName(p.name)}@${p.context_length ?? 0}:${p.size_vram ?? 0}`).sort().join(',');
}

function clampI32(n: number): number {
  return n > I32_MAX ? I32_MAX : n < -I32_MAX ? -I32_MAX : n | 0;
}

/** The few `/api/show` fields corral uses: `model_info["<arch>.context_length"]`, `details.family`, `details.parameter_size`. */
export function readShow(doc: unknown): ModelFacts {
  const o = (doc !== null && typeof doc === 'object' ? doc : {}) as { model_info?: unknown; details?: unknown };
  const info = (o.model_info !== null && typeof o.model_info === 'object' ? o.model_info : {}) as Record<string, unknown>;
  const details = (o.details !== null && typeof o.details === 'object' ? o.details : {}) as Record<string, unknown>;
  const arch = typeof info['general.architecture'] === 'string' ? info['general.architecture'] : null;
  let maxContext: number | null = null;
  const direct = arch === null ? undefined : info[`${arch}.context_length`];
  if (typeof direct === 'number' && Number.isSafeInteger(direct) && direct > 0) maxContext = direct;
  else {
    for (const [k, v] of Object.entries(info)) {
      if (k.endsWith('.context_length') && typeof v === 'number' && Number.isSafeInteger(v) && v > 0) {
        maxContext = v;
        break;
      }
    }
  }
  const str = (v: unknown): string | null => (typeof v === 'string' && v.length > 0 && v.length <= 64 ? v : null);
  return { max_context: maxContext, family: str(details.family), parameter_size: str(details.parameter_size) };
}

/**
 * YAML + CORRAL_* env overlay → validated, deeply frozen Config.
 *
 * Validation never stops at the first problem: every section is checked and every problem is
 * collected, then one ConfigError lists them all, each as `key.path: what is wrong` (with array
 * indices, and the env variable when the value came from one). Unknown keys are errors with a
 * did-you-mean. Defaults live in defaults.ts; env variables in env.ts.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, resolve } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { ConfigError } from '../core/errors.js';
import {
  ENDPOINT_DEFAULTS, ENDPOINT_TYPES, HEALTH_DEFAULTS, LOG_LEVELS, LOGGING_DEFAULTS, MAX_DURATION,
  ROUTING_DEFAULTS, SERVER_DEFAULTS, STATE_DEFAULTS, CIRCUIT_BREAKER_DEFAULTS, STRATEGIES, UPSTREAM_DEFAULTS,
  MODELS_DEFAULTS, PLACEMENT_MODES, SERVER_ENGINES, PREFETCH_KEYS, PREWARM_KEYS, PRIORITIES, QUEUE_DEFAULTS,
} from './defaults.js';
import { applyEnv } from './env.js';
import { suggestKey } from './suggest.js';
import { checkAliases, MAX_ALIASED_VALUES } from './yaml-aliases.js';
import type {
  Config, EndpointConfig, EndpointType, HealthConfig, LoggingConfig, LogLevel, RoutingConfig,
  ServerConfig, StateConfig, StrategyName, UpstreamConfig, CircuitBreakerConfig,
  ModelsConfig, PlacementMode, ServerEngine, PrefetchConfig, PrewarmConfig, Priority, QueueConfig, VramReserve,
} from './types.js';
import { parseDuration, parseSize } from './units.js';
import { MAX_MODEL_CELLS } from '../core/segment-limits.js';
import { isZeroKeepAlive } from '../protocol/keep-alive.js';

type Mapping = Record<string, unknown>;

/** An endpoint as code and tests write it: name and url required, everything else defaulted. */
export type EndpointInput = { name: string; url: string } &
  Partial<Omit<EndpointConfig, 'name' | 'url' | 'health' | 'models' | 'vram' | 'vram_reserve'>> & {
    models?: readonly string[] | null;
    health?: Partial<HealthConfig> | null;
    vram?: number | string | null;
    vram_reserve?: number | string;
  };

type Writable<T> = { -readonly [K in keyof T]?: T[K] };

/** Everything but the endpoints, each key optional; values as in Config (or as written in YAML). */
export interface ConfigOverrides {
  server?: Omit<Writable<ServerConfig>, 'workers' | 'management_port'> & {
    workers?: number | 'auto';
    management_port?: number | null | 'off';
  };
  routing?: Writable<RoutingConfig>;
  upstream?: Writable<UpstreamConfig>;
  circuit_breaker?: Writable<CircuitBreakerConfig>;
  logging?: Writable<LoggingConfig>;
  state?: Writable<StateConfig>;
  queue?: Omit<Writable<QueueConfig>, 'shed_at'> & { shed_at?: number | string };
  models?: Omit<Writable<ModelsConfig>, 'prewarm' | 'prefetch'> & {
    prewarm?: readonly Partial<PrewarmConfig>[];
    prefetch?: Partial<PrefetchConfig>;
  };
}

const SECTION_KEYS = {
  root: ['server', 'routing', 'upstream', 'circuit_breaker', 'logging', 'state', 'models', 'queue', 'endpoints'],
  queue: Object.keys(QUEUE_DEFAULTS),
  models: Object.keys(MODELS_DEFAULTS),
  prewarm: PREWARM_KEYS,
  prefetch: PREFETCH_KEYS,
  server: Object.keys(SERVER_DEFAULTS),
  routing: Object.keys(ROUTING_DEFAULTS),
  upstream: Object.keys(UPSTREAM_DEFAULTS),
  circuit_breaker: Object.keys(CIRCUIT_BREAKER_DEFAULTS),
  logging: Object.keys(LOGGING_DEFAULTS),
  state: Object.keys(STATE_DEFAULTS),
  endpoint: ['name', 'url', ...Object.keys(ENDPOINT_DEFAULTS)],
  health: Object.keys(HEALTH_DEFAULTS),
} as const;

const NAME_RE = /^[A-Za-z0-9._-]{1,64}$/;
const HEADER_RE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const HOST_RE = /^[A-Za-z0-9._:[\]%-]+$/;
const DURATION_HINT = 'integer ms or a string like 250ms, 30s, 5m, 1h';
const SIZE_HINT = 'integer bytes or a string like 512KiB, 50MiB, 1GB';

function isMapping(v: unknown): v is Mapping {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Collects problems, labelling key paths whose value came from an env variable. */
class Problems {
  readonly list: string[] = [];
  readonly #labels: ReadonlyMap<string, string>;

  constructor(labels: ReadonlyMap<string, string>) {
    this.#labels = labels;
  }

  add(path: string, message: string): void {
    this.list.push(`${this.label(path)}: ${message}`);
  }

  label(path: string): string {
    const exact = this.#labels.get(path);
    if (exact !== undefined) return `${exact} (${path})`;
    if (path.startsWith('endpoints') && this.#labels.has('endpoints')) return `${this.#labels.get('endpoints')} (${path})`;
    return path;
  }

  /** `section` as a mapping (null/absent = empty), reporting unknown keys; null when not a mapping. */
  section(value: unknown, path: string, known: readonly string[], what = 'a mapping'): Mapping | null {
    if (value === undefined || value === null) return {};
    if (!isMapping(value)) {
      this.add(path === '' ? '(root)' : path, `must be ${what}`);
      return null;
    }
    for (const key of Object.keys(value)) {
      if (known.includes(key)) continue;
      const hint = suggestKey(key, known);
      this.add(path === '' ? key : `${path}.${key}`, hint === null ? `unknown key (expected one of ${known.join(', ')})` : `unknown key (did you mean ${hint}?)`);
    }
    return value;
  }

  integer(v: unknown, path: string, min: number, max: number, dflt: number): number {
    if (v === undefined) return dflt;
    if (typeof v === 'number' && Number.isSafeInteger(v) && v >= min && v <= max) return v;
    this.add(path, max === Number.MAX_SAFE_INTEGER ? `must be an integer >= ${min}` : `must be an integer from ${min} to ${max}`);
    return dflt;
  }

  duration(v: unknown, path: string, dflt: number, allowZero = false): number {
    if (v === undefined) return dflt;
    const ms = parseDuration(v);
    if (ms === null) {
      this.add(path, `must be a duration (${DURATION_HINT})`);
      return dflt;
    }
    if (ms === 0 && !allowZero) {
      this.add(path, 'must be greater than 0');
      return dflt;
    }
    if (ms > MAX_DURATION) {
      this.add(path, `must be at most ${MAX_DURATION}ms (~24.8 days)`);
      return dflt;
    }
    return ms;
  }

  size(v: unknown, path: string, dflt: number): number {
    if (v === undefined) return dflt;
    const bytes = parseSize(v);
    if (bytes === null) {
      this.add(path, `must be a size (${SIZE_HINT})`);
      return dflt;
    }
    if (bytes === 0) {
      this.add(path, 'must be greater than 0');
      return dflt;
    }
    return bytes;
  }

  oneOf<T extends string>(v: unknown, path: string, allowed: readonly T[], dflt: T): T {
    if (v === undefined) return dflt;
    if (typeof v === 'string' && (allowed as readonly string[]).includes(v)) return v as T;
    this.add(path, `must be one of ${allowed.join(', ')}`);
    return dflt;
  }

  header(v: unknown, path: string, dflt: string): string {
    if (v === undefined) return dflt;
    if (typeof v === 'string' && HEADER_RE.test(v)) return v.toLowerCase();
    this.add(path, 'must be an HTTP header name');
    return dflt;
  }

  boolean(v: unknown, path: string, dflt: boolean): boolean {
    if (v === undefined) return dflt;
    if (typeof v === 'boolean') return v;
    this.add(path, 'must be true or false');
    return dflt;
  }
}

function checkServer(raw: unknown, p: Problems): ServerConfig {
  const s = p.section(raw, 'server', SECTION_KEYS.server) ?? {};
  const D = SERVER_DEFAULTS;
  let host: string = D.host;
  if (s.host !== undefined) {
    if (typeof s.host === 'string' && HOST_RE.test(s.host)) host = s.host;
    else p.add('server.host', 'must be an IP address or host name');
  }
  const port = p.integer(s.port, 'server.port', 0, 65535, D.port);

  let management_port: number | null;
  const m = s.management_port;
  if (m === undefined) {
    management_port = port === 0 ? 0 : port + 1;
    if (management_port > 65535) {
      p.add('server.management_port', 'the default (server.port + 1) is above 65535: set it, or off');
      management_port = null;
    }
  } else if (m === null || m === false || m === 'off') {
    management_port = null;
  } else if (typeof m === 'number' && Number.isSafeInteger(m) && m >= 0 && m <= 65535) {
    management_port = m;
    if (m !== 0 && m === port) p.add('server.management_port', 'must differ from server.port');
  } else {
    p.add('server.management_port', 'must be an integer from 0 to 65535, or off');
    management_port = null;
  }

  let workers = availableParallelism();
  if (s.workers !== undefined && s.workers !== 'auto') {
    if (typeof s.workers === 'number' && Number.isSafeInteger(s.workers) && s.workers >= 0 && s.workers <= 1024) workers = s.workers;
    else p.add('server.workers', 'must be auto or an integer from 0 to 1024');
  }

  return {
    host,
    port,
    management_port,
    workers,
    max_body_size: p.size(s.max_body_size, 'server.max_body_size', D.max_body_size),
    max_header_size: p.size(s.max_header_size, 'server.max_header_size', D.max_header_size),
    shutdown_timeout: p.duration(s.shutdown_timeout, 'server.shutdown_timeout', D.shutdown_timeout, true),
    body_timeout: p.duration(s.body_timeout, 'server.body_timeout', D.body_timeout),
    request_id_header: p.header(s.request_id_header, 'server.request_id_header', D.request_id_header),
    engine: p.oneOf<ServerEngine>(s.engine, 'server.engine', SERVER_ENGINES, D.engine),
  };
}

function checkRouting(raw: unknown, p: Problems): RoutingConfig {
  const r = p.section(raw, 'routing', SECTION_KEYS.routing) ?? {};
  const D = ROUTING_DEFAULTS;
  let session_slots = p.integer(r.session_slots, 'routing.session_slots', 1, 2 ** 30, D.session_slots);
  if ((session_slots & (session_slots - 1)) !== 0) {
    p.add('routing.session_slots', 'must be a power of two');
    session_slots = D.session_slots;
  }
  return {
    strategy: p.oneOf<StrategyName>(r.strategy, 'routing.strategy', STRATEGIES, D.strategy),
    max_retries: p.integer(r.max_retries, 'routing.max_retries', 0, 100, D.max_retries),
    session_header: p.header(r.session_header, 'routing.session_header', D.session_header),
    session_ttl: p.duration(r.session_ttl, 'routing.session_ttl', D.session_ttl),
    session_slots,
    discovery_interval: p.duration(r.discovery_interval, 'routing.discovery_interval', D.discovery_interval),
    placement: p.oneOf<PlacementMode>(r.placement, 'routing.placement', PLACEMENT_MODES, D.placement),
  };
}

/** A list of non-empty, distinct strings (model or endpoint names); null when absent or invalid. */
function checkNames(raw: unknown, at: string, p: Problems, what: string): string[] | null {
  if (!Array.isArray(raw)) {
    p.add(at, `must be a list of ${what}`);
    return null;
  }
  const out: string[] = [];
  raw.forEach((v: unknown, i) => {
    if (typeof v !== 'string' || v.trim() === '') p.add(`${at}[${i}]`, 'must be a non-empty string');
    else if (out.includes(v)) p.add(`${at}[${i}]`, `duplicate of ${at}[${out.indexOf(v)}]`);
    else out.push(v);
  });
  return out;
}

/** Ollama's keep_alive: a number of seconds (negative = forever) or a duration string such as 5m, 1h, -1. */
function checkKeepAlive(v: unknown, at: string, p: Problems): string | number | null {
  if (v === undefined || v === null) return null;
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && /^-?\d+(\.\d+)?(ms|s|m|h)?$/.test(v.trim())) return v.trim();
  p.add(at, 'must be an Ollama keep_alive: seconds as a number (-1 = forever) or a duration like 10m, 1h');
  return null;
}

/** `endpointNames`: the configured endpoints, which a prewarm entry's `endpoints` must name. */
function checkPrewarm(raw: unknown, endpointNames: readonly string[], p: Problems): PrewarmConfig[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) {
    p.add('models.prewarm', 'must be a list of {model, endpoints, keep_alive}');
    return [];
  }
  const out: PrewarmConfig[] = [];
  raw.forEach((entry: unknown, i) => {
    const at = `models.prewarm[${i}]`;
    const e = p.section(entry, at, SECTION_KEYS.prewarm, 'a mapping with model (and endpoints, keep_alive)');
    if (e === null) return;
    if (typeof e.model !== 'string' || e.model.trim() === '') {
      p.add(`${at}.model`, 'is required (a model name)');
      return;
    }
    const endpoints = e.endpoints === undefined || e.endpoints === null ? null : checkNames(e.endpoints, `${at}.endpoints`, p, 'endpoint names');
    endpoints?.forEach((name, k) => {
      if (!endpointNames.includes(name)) p.add(`${at}.endpoints[${k}]`, `names no endpoint (endpoints are ${endpointNames.join(', ')})`);
    });
    const keepAlive = checkKeepAlive(e.keep_alive, `${at}.keep_alive`, p);
    if (keepAlive !== null && isZeroKeepAlive(keepAlive)) p.add(`${at}.keep_alive`, 'must not be 0 (that unloads the model): use -1 to keep it loaded, or null for the server\'s default');
    out.push({ model: e.model, endpoints, keep_alive: keepAlive });
  });
  return out;
}

function checkPrefetch(raw: unknown, p: Problems): PrefetchConfig {
  const f = p.section(raw, 'models.prefetch', SECTION_KEYS.prefetch) ?? {};
  const D = MODELS_DEFAULTS.prefetch;
  let confidence: number = D.confidence;
  if (f.confidence !== undefined) {
    if (typeof f.confidence === 'number' && f.confidence > 0 && f.confidence <= 1) confidence = f.confidence;
    else p.add('models.prefetch.confidence', 'must be a number greater than 0 and at most 1');
  }
  return {
    enabled: p.boolean(f.enabled, 'models.prefetch.enabled', D.enabled),
    window: p.integer(f.window, 'models.prefetch.window', 2, 100_000, D.window),
    confidence,
  };
}

function checkModelsSection(raw: unknown, endpointNames: readonly string[], p: Problems): ModelsConfig {
  const m = p.section(raw, 'models', SECTION_KEYS.models) ?? {};
  const D = MODELS_DEFAULTS;
  let estimate_factor: number = D.estimate_factor;
  if (m.estimate_factor !== undefined) {
    if (typeof m.estimate_factor === 'number' && m.estimate_factor >= 0.1 && m.estimate_factor <= 100) estimate_factor = m.estimate_factor;
    else p.add('models.estimate_factor', 'must be a number from 0.1 to 100');
  }
  let chars_per_token: number = D.chars_per_token;
  if (m.chars_per_token !== undefined) {
    if (typeof m.chars_per_token === 'number' && m.chars_per_token >= 1 && m.chars_per_token <= 8) chars_per_token = m.chars_per_token;
    else p.add('models.chars_per_token', 'must be a number from 1 to 8');
  }
  return {
    refresh_interval: p.duration(m.refresh_interval, 'models.refresh_interval', D.refresh_interval),
    estimate_factor,
    load_timeout: p.duration(m.load_timeout, 'models.load_timeout', D.load_timeout),
    pinned: m.pinned === undefined || m.pinned === null ? [] : checkNames(m.pinned, 'models.pinned', p, 'model names') ?? [],
    prewarm: checkPrewarm(m.prewarm, endpointNames, p),
    prefetch: checkPrefetch(m.prefetch, p),
    size_context: p.boolean(m.size_context, 'models.size_context', D.size_context),
    num_ctx_buckets: checkBuckets(m.num_ctx_buckets, p),
    reply_budget: p.integer(m.reply_budget, 'models.reply_budget', 1, 1 << 24, D.reply_budget),
    chars_per_token,
  };
}

/** Context sizes corral may choose: ascending positive integers. */
function checkBuckets(v: unknown, p: Problems): readonly number[] {
  const D = MODELS_DEFAULTS.num_ctx_buckets;
  if (v === undefined || v === null) return D;
  if (!Array.isArray(v) || v.length === 0 || !v.every((n) => Number.isSafeInteger(n) && n >= 256 && n <= 0x7fffffff)) {
    p.add('models.num_ctx_buckets', 'must be a non-empty list of context sizes (integers from 256 tokens)');
    return D;
  }
  for (let i = 1; i < v.length; i++) {
    if (v[i] <= v[i - 1]) {
      p.add('models.num_ctx_buckets', 'must be in ascending order, each listed once');
      return D;
    }
  }
  return v as number[];
}

function checkUpstream(raw: unknown, p: Problems): UpstreamConfig {
  const u = p.section(raw, 'upstream', SECTION_KEYS.upstream) ?? {};
  const D = UPSTREAM_DEFAULTS;
  return {
    connect_timeout: p.duration(u.connect_timeout, 'upstream.connect_timeout', D.connect_timeout),
    first_byte_timeout: p.duration(u.first_byte_timeout, 'upstream.first_byte_timeout', D.first_byte_timeout),
    idle_timeout: p.duration(u.idle_timeout, 'upstream.idle_timeout', D.idle_timeout),
    connections: p.integer(u.connections, 'upstream.connections', 1, 65535, D.connections),
  };
}

function checkLogging(raw: unknown, p: Problems): LoggingConfig {
  const l = p.section(raw, 'logging', SECTION_KEYS.logging) ?? {};
  return {
    level: p.oneOf<LogLevel>(l.level, 'logging.level', LOG_LEVELS, LOGGING_DEFAULTS.level),
    requests: p.boolean(l.requests, 'logging.requests', LOGGING_DEFAULTS.requests),
  };
}

function checkQueue(raw: unknown, p: Problems): QueueConfig {
  const q = p.section(raw, 'queue', SECTION_KEYS.queue) ?? {};
  const D = QUEUE_DEFAULTS;
  const max_size = p.integer(q.max_size, 'queue.max_size', 1, 1_000_000, D.max_size);
  return {
    enabled: p.boolean(q.enabled, 'queue.enabled', D.enabled),
    max_size,
    shed_at: checkShedAt(q.shed_at, max_size, p),
    timeout: p.duration(q.timeout, 'queue.timeout', D.timeout),
    heartbeat: p.duration(q.heartbeat, 'queue.heartbeat', D.heartbeat, true),
    default_priority: p.oneOf<Priority>(q.default_priority, 'queue.default_priority', PRIORITIES, D.default_priority),
  };
}

/** `queue.shed_at`: a percentage of max_size (`80%`) or a count up to max_size; resolved to a count. */
function checkShedAt(v: unknown, maxSize: number, p: Problems): number {
  const fromPercent = (percent: number): number => Math.max(1, Math.floor(maxSize * percent / 100));
  if (v === undefined || v === null) return fromPercent(Number.parseFloat(QUEUE_DEFAULTS.shed_at));
  if (typeof v === 'string' && v.trim().endsWith('%')) {
    const n = Number(v.trim().slice(0, -1));
    if (v.trim().length > 1 && Number.isFinite(n) && n > 0 && n <= 100) return fromPercent(n);
  } else if (Number.isSafeInteger(v) && (v as number) >= 1 && (v as number) <= maxSize) {
    return v as number;
  }
  p.add('queue.shed_at', `must be a percentage of queue.max_size (1% to 100%) or a count from 1 to queue.max_size (${maxSize})`);
  return fromPercent(Number.parseFloat(QUEUE_DEFAULTS.shed_at));
}

function checkCircuitBreaker(raw: unknown, p: Problems): CircuitBreakerConfig {
  const c = p.section(raw, 'circuit_breaker', SECTION_KEYS.circuit_breaker) ?? {};
  const D = CIRCUIT_BREAKER_DEFAULTS;
  return {
    failures: p.integer(c.failures, 'circuit_breaker.failures', 0, 1_000_000, D.failures),
    open_for: p.duration(c.open_for, 'circuit_breaker.open_for', D.open_for),
    half_open_requests: p.integer(c.half_open_requests, 'circuit_breaker.half_open_requests', 1, 65535, D.half_open_requests),
  };
}

/**
 * `state.file`: null/absent = no snapshot; otherwise a non-empty path, made absolute here — relative
 * to the config file's directory when there is one (`base`), else to the current directory.
 */
function checkStateFile(v: unknown, base: string | null, p: Problems): string | null {
  if (v === undefined || v === null) return STATE_DEFAULTS.file;
  if (typeof v !== 'string' || v.trim() === '' || v.includes('\0')) {
    p.add('state.file', 'must be null (no snapshot) or a non-empty file path');
    return STATE_DEFAULTS.file;
  }
  return base === null ? resolve(v) : resolve(base, v);
}

/** `fileDir`: the config file's directory (null without a file), the base of a relative state.file. */
function checkState(raw: unknown, fileDir: string | null, p: Problems): StateConfig {
  const s = p.section(raw, 'state', SECTION_KEYS.state) ?? {};
  const max_endpoints = p.integer(s.max_endpoints, 'state.max_endpoints', 1, 4096, STATE_DEFAULTS.max_endpoints);
  const max_models = p.integer(s.max_models, 'state.max_models', 1, 4096, STATE_DEFAULTS.max_models);
  // One 32-byte cell per (endpoint, model) in the shared segment (state/layout.ts).
  if (max_endpoints * max_models > MAX_MODEL_CELLS) {
    p.add('state.max_models', `state.max_endpoints × state.max_models must be at most ${MAX_MODEL_CELLS} (${max_endpoints} × ${max_models} is ${max_endpoints * max_models})`);
  }
  return { max_endpoints, max_models, file: checkStateFile(s.file, fileDir, p) };
}

/** `http(s)://host[:port][/base]` without credentials, query or fragment, trailing slashes removed; null when invalid. */
function normaliseUrl(v: unknown): string | null {
  if (typeof v !== 'string') return null;
  let u: URL;
  try {
    u = new URL(v.trim());
  } catch {
    return null;
  }
  if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.hostname === '') return null;
  if (u.username !== '' || u.password !== '' || u.search !== '' || u.hash !== '') return null;
  return u.origin + u.pathname.replace(/\/+$/, '');
}

function checkHealth(raw: unknown, at: string, p: Problems): HealthConfig {
  const h = p.section(raw, at, SECTION_KEYS.health) ?? {};
  const D = HEALTH_DEFAULTS;
  let path: string | null = D.path;
  if (h.path !== undefined && h.path !== null) {
    if (typeof h.path === 'string' && h.path.startsWith('/') && !/\s/.test(h.path)) path = h.path;
    else p.add(`${at}.path`, 'must be null (default for the type) or a path starting with /');
  }
  const interval = p.duration(h.interval, `${at}.interval`, D.interval);
  const timeout = p.duration(h.timeout, `${at}.timeout`, D.timeout);
  const fast_interval = p.duration(h.fast_interval, `${at}.fast_interval`, D.fast_interval);
  if (fast_interval > interval) p.add(`${at}.fast_interval`, `must not exceed ${at}.interval`);
  return { path, interval, timeout, fast_interval };
}

function checkModels(raw: unknown, at: string, p: Problems): readonly string[] | null {
  if (raw === undefined || raw === null) return null;
  if (!Array.isArray(raw) || raw.length === 0) {
    p.add(at, 'must be null (discover) or a non-empty list of model names');
    return null;
  }
  const seen = new Map<string, number>();
  const models: string[] = [];
  raw.forEach((m: unknown, i) => {
    if (typeof m !== 'string' || m.trim() === '') {
      p.add(`${at}[${i}]`, 'must be a non-empty string');
      return;
    }
    const first = seen.get(m);
    if (first !== undefined) {
      p.add(`${at}[${i}]`, `duplicate of ${at}[${first}]`);
      return;
    }
    seen.set(m, i);
    models.push(m);
  });
  return models;
}

function checkEndpoint(raw: unknown, i: number, p: Problems): EndpointConfig | null {
  const at = `endpoints[${i}]`;
  const e = p.section(raw, at, SECTION_KEYS.endpoint, 'a mapping with name and url');
  if (e === null) return null;
  const D = ENDPOINT_DEFAULTS;

  let name = '';
  if (e.name === undefined || e.name === null) p.add(`${at}.name`, 'is required');
  else if (typeof e.name === 'string' && NAME_RE.test(e.name)) name = e.name;
  else p.add(`${at}.name`, 'must be 1 to 64 characters of A-Z a-z 0-9 . _ -');

  let url = '';
  if (e.url === undefined || e.url === null) p.add(`${at}.url`, 'is required (an http(s) URL)');
  else {
    const normalised = normaliseUrl(e.url);
    if (normalised !== null) url = normalised;
    else p.add(`${at}.url`, 'must be an http(s) URL');
  }

  let weight: number = D.weight;
  if (e.weight !== undefined) {
    if (typeof e.weight === 'number' && Number.isFinite(e.weight) && e.weight > 0) weight = e.weight;
    else p.add(`${at}.weight`, 'must be a number greater than 0');
  }

  return {
    name,
    url,
    type: p.oneOf<EndpointType>(e.type, `${at}.type`, ENDPOINT_TYPES, D.type),
    priority: p.integer(e.priority, `${at}.priority`, -1_000_000, 1_000_000, D.priority),
    weight,
    max_concurrency: p.integer(e.max_concurrency, `${at}.max_concurrency`, 1, 65535, D.max_concurrency),
    models: checkModels(e.models, `${at}.models`, p),
    health: checkHealth(e.health, `${at}.health`, p),
    ...checkVram(e, at, p),
  };
}

/** `vram`, `vram_reserve` and `gpus` together: a reserve must leave room, and one source of the total. */
function checkVram(e: Mapping, at: string, p: Problems): Pick<EndpointConfig, 'vram' | 'vram_reserve' | 'gpus'> {
  const vram = e.vram === undefined || e.vram === null ? null : p.size(e.vram, `${at}.vram`, 0) || null;
  const vram_reserve = checkVramReserve(e.vram_reserve, `${at}.vram_reserve`, p);
  const gpus = checkGpus(e.gpus, `${at}.gpus`, p);
  if (vram !== null && 'bytes' in vram_reserve && vram_reserve.bytes >= vram) p.add(`${at}.vram_reserve`, `must be less than ${at}.vram`);
  if (vram !== null && gpus !== null) p.add(`${at}.gpus`, `and ${at}.vram both give the vRAM total: set one (vram for a remote server, gpus for one on this host)`);
  return { vram, vram_reserve, gpus };
}

/** `10%` (of the total) or a size (`8GiB`). */
function checkVramReserve(v: unknown, at: string, p: Problems): VramReserve {
  const dflt = { percent: 10 };
  if (v === undefined || v === null) return dflt;
  if (typeof v === 'string' && v.trim().endsWith('%')) {
    const n = Number(v.trim().slice(0, -1));
    if (v.trim().length > 1 && Number.isFinite(n) && n >= 0 && n < 100) return { percent: n };
    p.add(at, 'must be a percentage from 0% to 99% of the total, or a size');
    return dflt;
  }
  const bytes = parseSize(v);
  if (bytes === null) {
    p.add(at, `must be a percentage (10%) or a size (${SIZE_HINT})`);
    return dflt;
  }
  return { bytes };
}

function checkGpus(v: unknown, at: string, p: Problems): readonly number[] | null {
  if (v === undefined || v === null) return null;
  if (!Array.isArray(v) || v.length === 0 || !v.every((g) => Number.isSafeInteger(g) && g >= 0 && g < 1024)) {
    p.add(at, 'must be null or a non-empty list of GPU indices (integers from 0, as nvidia-smi numbers them)');
    return null;
  }
  if (new Set(v).size !== v.length) {
    p.add(at, 'lists a GPU twice');
    return null;
  }
  return v as number[];
}

function checkEndpoints(raw: unknown, state: StateConfig, p: Problems): EndpointConfig[] {
  if (raw === undefined || raw === null) {
    p.add('endpoints', 'must list at least one endpoint');
    return [];
  }
  if (!Array.isArray(raw)) {
    p.add('endpoints', 'must be a list of endpoints');
    return [];
  }
  if (raw.length === 0) {
    p.add('endpoints', 'must list at least one endpoint');
    return [];
  }
  if (raw.length > state.max_endpoints) {
    p.add('endpoints', `lists ${raw.length} endpoints but state.max_endpoints is ${state.max_endpoints}`);
  }
  const endpoints: EndpointConfig[] = [];
  const names = new Map<string, number>();
  raw.forEach((entry: unknown, i) => {
    const endpoint = checkEndpoint(entry, i, p);
    if (endpoint === null) return;
    if (endpoint.name !== '') {
      const first = names.get(endpoint.name);
      if (first !== undefined) p.add(`endpoints[${i}].name`, `duplicate of endpoints[${first}].name`);
      else names.set(endpoint.name, i);
    }
    endpoints.push(endpoint);
  });
  return endpoints;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/**
 * Validates `raw` (the parsed YAML, or an object built in code) with the CORRAL_* variables of
 * `env` applied on top, and returns the deeply frozen Config. Throws one ConfigError listing every
 * problem. `source` is recorded as Config.source (the absolute file path, or null).
 */
export function parseConfig(raw: unknown, env: NodeJS.ProcessEnv = {}, source: string | null = null): Config {
  const overlay = applyEnv(raw, env);
  const p = new Problems(overlay.labels);
  p.list.push(...overlay.problems);
  const root = p.section(overlay.raw, '', SECTION_KEYS.root, 'a mapping (server, routing, upstream, circuit_breaker, logging, state, models, queue, endpoints)');
  if (root === null) throw new ConfigError(p.list);

  const server = checkServer(root.server, p);
  const routing = checkRouting(root.routing, p);
  const upstream = checkUpstream(root.upstream, p);
  const circuit_breaker = checkCircuitBreaker(root.circuit_breaker, p);
  const logging = checkLogging(root.logging, p);
  // A path from CORRAL_STATE_FILE is relative to the cwd, like any path typed in a shell.
  const fileDir = source === null || overlay.labels.has('state.file') ? null : dirname(source);
  const state = checkState(root.state, fileDir, p);
  const endpoints = checkEndpoints(root.endpoints, state, p);
  const models = checkModelsSection(root.models, endpoints.map((e) => e.name), p);
  const queue = checkQueue(root.queue, p);

  if (p.list.length > 0) throw new ConfigError(p.list);
  return deepFreeze({ server, routing, upstream, circuit_breaker, logging, state, models, queue, endpoints, source });
}

/**
 * Reads and validates a YAML config file, with `env` overrides on top. A missing file, a YAML
 * syntax error or an alias bomb is a ConfigError naming the file (and line:column) — never an
 * exception of the yaml package's, so `--validate-config` and a SIGHUP reload report it like any
 * other problem.
 */
export function loadConfigFile(path: string, env: NodeJS.ProcessEnv = process.env): Config {
  const absolute = resolve(path);
  let text: string;
  try {
    text = readFileSync(absolute, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
    throw new ConfigError([`${absolute}: cannot read config file (${code})`]);
  }
  return parseConfig(parseYaml(text, absolute), env, absolute);
}

/** The YAML document as plain values; every way it can be unusable is a ConfigError. */
function parseYaml(text: string, file: string): unknown {
  const lineCounter = new LineCounter();
  const at = (offset: number): string => {
    const pos = lineCounter.linePos(offset);
    return `${file}:${pos.line}:${pos.col}`;
  };
  try {
    const doc = parseDocument(text, { prettyErrors: false, lineCounter });
    if (doc.errors.length > 0) {
      throw new ConfigError(doc.errors.map((e) => {
        const pos = lineCounter.linePos(e.pos[0]);
        return `${at(e.pos[0])}: YAML syntax error at line ${pos.line}: ${e.message.split('\n')[0]}`;
      }));
    }
    const aliases = checkAliases(doc);
    if (aliases.over !== null) {
      throw new ConfigError([`${at(aliases.over.range?.[0] ?? 0)}: YAML aliases expand to more than ${MAX_ALIASED_VALUES} values (an alias bomb?): refused`]);
    }
    if (aliases.dangling !== null) {
      const name = aliases.dangling.source;
      throw new ConfigError([`${at(aliases.dangling.range?.[0] ?? 0)}: YAML alias *${name} has no anchor &${name} before it`]);
    }
    // aliasOverBudget() bounds the expansion; yaml's own count (uses, not size) would refuse
    // an anchor shared by more than 100 endpoints.
    return doc.toJS({ maxAliasCount: -1 });
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    // Not expected after the checks above; still a problem line, not a stack trace.
    throw new ConfigError([`${file}: YAML error: ${(err as Error).message.split('\n')[0]}`]);
  }
}

/**
 * A Config built in code (tests, demo) without a file: `endpoints` plus optional section overrides,
 * defaults for the rest, through the same validation as a file. Env variables are not applied.
 */
export function defaultConfig(endpoints: readonly EndpointInput[], overrides: ConfigOverrides = {}): Config {
  return parseConfig({ ...overrides, endpoints }, {}, null);
}

/**
 * Every configuration default, in one place. config/corral.yaml documents the same values; the
 * test test/unit/config/defaults.test.ts keeps the two in step. Sizes are bytes, durations ms.
 */
import type { EndpointType, LogLevel, PlacementMode, Priority, ServerEngine, StrategyName } from './types.js';

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const SECOND = 1000;
export const MINUTE = 60 * SECOND;

export const SERVER_ENGINES: readonly ServerEngine[] = ['uws', 'node'];
export const PLACEMENT_MODES: readonly PlacementMode[] = ['warm-first', 'off'];
export const STRATEGIES: readonly StrategyName[] = ['least-connections', 'round-robin', 'priority', 'weighted'];
export const ENDPOINT_TYPES: readonly EndpointType[] = ['auto', 'ollama', 'openai'];
export const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Health path probed when `health.path` is null, by endpoint type (`auto` probes both, ollama first). */
export const DEFAULT_HEALTH_PATH: Readonly<Record<Exclude<EndpointType, 'auto'>, string>> = {
  ollama: '/api/version',
  openai: '/v1/models',
};

export const SERVER_DEFAULTS = {
  host: '127.0.0.1',
  port: 11400,
  /** `port + 1`, computed in load.ts (0 when port is 0); null or `off` disables the listener. */
  management_port: 'port+1',
  /** Resolved to os.availableParallelism(); 0 = serve inline in the primary. */
  workers: 'auto',
  max_body_size: 50 * MiB,
  max_header_size: 16 * KiB,
  shutdown_timeout: 30 * SECOND,
  body_timeout: 60 * SECOND,
  request_id_header: 'x-request-id',
  engine: 'uws' as ServerEngine,
} as const;

export const ROUTING_DEFAULTS = {
  strategy: 'least-connections' as StrategyName,
  max_retries: 2,
  session_header: 'x-corral-session-id',
  session_ttl: 30 * MINUTE,
  session_slots: 65536,
  discovery_interval: 30 * SECOND,
  placement: 'warm-first' as PlacementMode,
} as const;

export const UPSTREAM_DEFAULTS = {
  connect_timeout: 5 * SECOND,
  first_byte_timeout: 5 * MINUTE,
  idle_timeout: 2 * MINUTE,
  connections: 64,
} as const;

export const LOGGING_DEFAULTS = {
  level: 'info' as LogLevel,
  requests: false,
} as const;

export const CIRCUIT_BREAKER_DEFAULTS = {
  failures: 5,
  open_for: 10 * SECOND,
  half_open_requests: 1,
} as const;

export const STATE_DEFAULTS = {
  max_endpoints: 64,
  max_models: 256,
  /** Snapshot path (session pins, endpoint history); null = none. */
  file: null as string | null,
} as const;

export const HEALTH_DEFAULTS = {
  path: null,
  interval: 5 * SECOND,
  timeout: 2 * SECOND,
  fast_interval: 100,
} as const;

export const ENDPOINT_DEFAULTS = {
  type: 'auto' as EndpointType,
  priority: 0,
  weight: 1,
  max_concurrency: 32,
  models: null,
  health: HEALTH_DEFAULTS,
  vram: null,
  vram_reserve: '10%',
  gpus: null,
} as const;

export const MODELS_DEFAULTS = {
  refresh_interval: 2 * SECOND,
  estimate_factor: 1.2,
  load_timeout: 5 * MINUTE,
  pinned: [] as readonly string[],
  prewarm: [] as readonly never[],
  prefetch: { enabled: false, window: 200, confidence: 0.6 },
  size_context: true,
  num_ctx_buckets: [2048, 4096, 8192, 16384, 32768, 65536, 131072] as readonly number[],
  reply_budget: 1024,
  chars_per_token: 4,
} as const;

export const PRIORITIES: readonly Priority[] = ['normal', 'low'];

export const QUEUE_DEFAULTS = {
  enabled: true,
  max_size: 100,
  /** `80%` of max_size, or a count: past it, low-priority requests are refused at once. */
  shed_at: '80%',
  timeout: 30 * SECOND,
  heartbeat: 10 * SECOND,
  default_priority: 'normal' as Priority,
} as const;

export const PREWARM_KEYS = ['model', 'endpoints', 'keep_alive'] as const;
export const PREFETCH_KEYS = ['enabled', 'window', 'confidence'] as const;

/** Largest duration a Node timer honours (2^31 - 1 ms, ~24.8 days); longer ones would fire at once. */
export const MAX_DURATION = 2 ** 31 - 1;

/**
 * The validated, frozen configuration. `src/config/load.ts` turns YAML (+ CORRAL_* env overrides)
 * into this shape; everything else reads only this. Sizes are bytes, durations milliseconds.
 * config/corral.yaml documents every key with its default.
 */
export type EndpointType = 'ollama' | 'openai' | 'auto';
export type StrategyName = 'least-connections' | 'round-robin' | 'priority' | 'weighted';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface HealthConfig {
  /** Path probed; default by type: ollama `/api/version`, openai `/v1/models`. */
  readonly path: string | null;
  readonly interval: number;       // ms between probes of a healthy endpoint (default 5s)
  readonly timeout: number;        // ms per probe (default 2s)
  readonly fast_interval: number;  // ms between probes of a down/suspect endpoint at first, doubling to `interval` (default 100ms)
}

export interface EndpointConfig {
  readonly name: string;           // unique, [A-Za-z0-9._-]{1,64}
  readonly url: string;            // http(s)://host:port[/base], no trailing slash after normalisation
  readonly type: EndpointType;     // default auto
  readonly priority: number;       // integer, higher wins under `priority` (default 0)
  readonly weight: number;         // > 0, under `weighted` (default 1)
  readonly max_concurrency: number; // integer >= 1 (default 32)
  readonly models: readonly string[] | null; // static model list; null = discover (default null)
  readonly health: HealthConfig;
  /** The endpoint's GPU memory in bytes (`vram: 80GiB`); null = from `gpus` via nvidia-smi, or unknown (default null). */
  readonly vram: number | null;
  /** Headroom placement never fills: a share of the total (default 10%) or a size. */
  readonly vram_reserve: VramReserve;
  /** GPU indices (nvidia-smi) this endpoint's server uses, on this host; null = none (default null). */
  readonly gpus: readonly number[] | null;
}

export type VramReserve = { readonly percent: number } | { readonly bytes: number };

export type PlacementMode = 'warm-first' | 'off';

/** What serves the API port: uWebSockets.js (fast, HTTP/1.1 only) or node:http (HTTP/1.0 too: nginx's default). */
export type ServerEngine = 'uws' | 'node';

export interface PrewarmConfig {
  readonly model: string;
  /** Endpoint names; null = every Ollama endpoint that lists the model. */
  readonly endpoints: readonly string[] | null;
  /** Ollama keep_alive for the load (`-1` forever, a duration, seconds); null = the server's default. */
  readonly keep_alive: string | number | null;
}

export interface PrefetchConfig {
  readonly enabled: boolean;         // default false
  readonly window: number;           // recent requests the Markov model learns from (default 200)
  readonly confidence: number;       // 0 < p <= 1: least P(next | current) that triggers a load (default 0.6)
}

export interface ModelsConfig {
  readonly refresh_interval: number; // ms between /api/ps (and nvidia-smi) reads per Ollama endpoint (default 2s)
  readonly estimate_factor: number;  // vRAM need of a never-seen model = size on disk × this (default 1.2)
  readonly load_timeout: number;     // ms one model load may take (default 5m)
  readonly pinned: readonly string[]; // never evicted by corral (default [])
  readonly prewarm: readonly PrewarmConfig[]; // loaded at start and whenever an endpoint comes back (default [])
  readonly prefetch: PrefetchConfig;
  /** Ollama requests: choose `options.num_ctx` from num_ctx_buckets, and refuse prompts longer than the model's context (default true). */
  readonly size_context: boolean;
  readonly num_ctx_buckets: readonly number[]; // ascending (default 2048 … 131072)
  readonly reply_budget: number;     // tokens reserved for the answer when the request sets no num_predict (default 1024)
  /** Characters a token, for a model's prompts until corral has learned the model's own ratio from Ollama's prompt_eval_count (default 4). */
  readonly chars_per_token: number;
}

export interface ServerConfig {
  readonly host: string;             // default 127.0.0.1
  readonly port: number;             // default 11400; 0 = ephemeral (tests)
  readonly management_port: number | null; // HTTP/1.0-capable node:http listener for probes; default port+1; null = off
  readonly workers: number;          // 'auto' resolves to os.availableParallelism(); 0 = inline (default auto)
  readonly max_body_size: number;    // bytes (default 50MiB)
  readonly max_header_size: number;  // bytes (default 16KiB)
  readonly shutdown_timeout: number; // ms (default 30s)
  readonly body_timeout: number;     // ms to receive a whole request body (default 60s)
  readonly request_id_header: string; // default x-request-id
  readonly engine: ServerEngine;     // uws | node (default uws)
}

export interface RoutingConfig {
  readonly strategy: StrategyName;   // default least-connections
  readonly max_retries: number;      // integer >= 0 (default 2)
  readonly session_header: string;   // lower-case (default x-corral-session-id)
  readonly session_ttl: number;      // ms (default 30m)
  readonly session_slots: number;    // power of two (default 65536)
  readonly discovery_interval: number; // ms between model-list refreshes (default 30s)
  /** warm-first: prefer endpoints holding the model, load cold models once where they fit (default); off: any endpoint listing it. */
  readonly placement: PlacementMode;
}

export interface UpstreamConfig {
  readonly connect_timeout: number;  // ms (default 5s)
  readonly first_byte_timeout: number; // ms headers timeout (default 5m: a cold model load is slow)
  readonly idle_timeout: number;     // ms between body chunks (default 2m)
  readonly connections: number;      // keep-alive connections per endpoint per worker (default 64)
}

export interface CircuitBreakerConfig {
  readonly failures: number;          // consecutive failures (transport errors, 5xx) that open the circuit (default 5; 0 = never)
  readonly open_for: number;          // ms an open circuit keeps the endpoint out of rotation before a trial (default 10s)
  readonly half_open_requests: number; // trial requests allowed at once while half-open (default 1)
}

export interface LoggingConfig {
  readonly level: LogLevel;          // default info
  readonly requests: boolean;        // one log line per request (default false)
}

export interface StateConfig {
  readonly max_endpoints: number;    // segment capacity (default 64)
  readonly max_models: number;       // default 256
  /**
   * Snapshot of session pins and endpoint history, written on shutdown and restored on start
   * (src/primary/snapshot.ts). Absolute after loading (a relative path in a file is resolved
   * against the file's directory, otherwise against the cwd); null = no snapshot (default null).
   */
  readonly file: string | null;
}

/** A request's class in an admission queue: `low` ones are refused first (queue.shed_at). */
export type Priority = 'normal' | 'low';

/** Admission queues (routing/admission.ts): requests wait for a slot instead of a 503. */
export interface QueueConfig {
  readonly enabled: boolean;         // default true; false = 503 at once when every endpoint is at max_concurrency
  readonly max_size: number;         // requests waiting per model, in all workers (default 100)
  readonly shed_at: number;          // depth past which low-priority requests are refused (default 80 % of max_size)
  readonly timeout: number;          // ms a request waits at most (default 30s)
  readonly heartbeat: number;        // ms between SSE comment lines to a waiting /v1 stream (default 10s; 0 = none)
  readonly default_priority: Priority; // for requests without X-Corral-Priority (default normal)
}

export interface Config {
  readonly server: ServerConfig;
  readonly routing: RoutingConfig;
  readonly upstream: UpstreamConfig;
  readonly circuit_breaker: CircuitBreakerConfig;
  readonly logging: LoggingConfig;
  readonly state: StateConfig;
  readonly models: ModelsConfig;
  readonly queue: QueueConfig;
  readonly endpoints: readonly EndpointConfig[];
  /** Absolute path the config was read from, or null when built from defaults/in code. */
  readonly source: string | null;
}

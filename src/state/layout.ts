/**
 * The one definition of the shared segment's layout. Every table is fixed-size, starts on a 64-byte
 * (cache-line) boundary, and is addressed through Int32Array / Float64Array views over one
 * SharedArrayBuffer. Change anything here → bump LAYOUT_VERSION (attach refuses a mismatch, so a
 * worker built from other code can never misread a primary's segment).
 *
 *   offset 0
 *   ┌──────────────────────────── header (HEADER_BYTES = 256) ───────────────────────────────┐
 *   │ i32[0] magic 'CRRL'  [1] version  [2] byteLength  [3] maxEndpoints  [4] maxModels       │
 *   │ [5] sessionSlots  [6] maxWorkers  [7] createdAtSec (u32, unix)             … reserved   │
 *   │ ── cache line 1 (byte 64) ── [16] configEpoch [17] catalogGeneration                    │
 *   │                              [18] endpointCount [19] modelCount            … reserved   │
 *   │ ── cache line 2 (byte 128) ─ [32] ticket (round-robin counter, hammered by every worker)│
 *   │ ── cache line 3 (byte 192) ─ [48] requests queued, all models (read by every finishing │
 *   │    request: kept off the round-robin counter's line)                                    │
 *   ├──────────────────── endpoints: maxEndpoints × 64 B (ENDPOINT_STRIDE i32) ──────────────┤
 *   │ per endpoint, one cache line of i32:                                                    │
 *   │  [0] state [1] inflight [2] maxConcurrency [3] priority [4] weight [5] ewmaLatencyUs     │
 *   │  [6] requests [7] failures [8] consecutiveFailures [9] stateChangedSec [10] ..Ms(0–999)│
 *   │  [11] circuit (closed/open/half-open) [12] circuitOpenedMs (u32, since created)         │
 *   │  [13] vramCapacityMiB (total − reserve; 0 = unknown) [14] vramUsedMiB                   │
 *   │  [15] loadingModel + 1 (the model the primary is loading there now; 0 = none)           │
 *   ├──────────── models: maxEndpoints × maxModels cells × 32 B (MODEL_STRIDE i32, row-major) ─┤
 *   │ cell (e, m) at i32[(e * maxModels + m) * MODEL_STRIDE]:                                 │
 *   │  [0] flags AVAILABLE | LOADED (primary)  [1] vramMiB  [2] contextLength                 │
 *   │  [3] expiresAtSec (since created; 0 = unknown)   (primary, from /api/ps)                │
 *   │  [4] inflight (workers, Atomics.add)  [5] lastUsedSec (workers, since created)          │
 *   │  [6..7] reserved                                                                        │
 *   ├──────────── model info: maxModels × 32 B (MODEL_INFO_STRIDE i32) ───────────────────────┤
 *   │ per model m: [0] needMiB (learned size_vram, else estimate; primary)                    │
 *   │  [1] loadingOn (endpoint + 1; a worker claims a load by CAS 0 → e + 1, the primary      │
 *   │      clears it when the load ends)  [2] flags PINNED | NEED_ESTIMATED (primary)         │
 *   │  [3] loads ended  [4] maxContext: the most any endpoint serving it takes (/api/show for │
 *   │      Ollama, /props or max_model_len for OpenAI-compatible; 0 = unknown, primary)       │
 *   │  [5] charsPerToken × 1000 (learned from Ollama's prompt_eval_count by any worker, one   │
 *   │      whole-word store per sample; 0 = not yet: models.chars_per_token)                  │
 *   │  [6] token samples learned (workers, Atomics.add)  [7] reserved                         │
 *   ├──────────── queues: maxModels × 64 B (QUEUE_LINE_STRIDE i32), one cache line per model ──┤
 *   │ per model m: [0] next ticket (u32, Atomics.add)  [1] depth  [2] service ms (average)    │
 *   │  [3] queue wait ms (average)  [4] queued ever  [5] timeouts  [6] refused  [7..15] —     │
 *   ├──────────── queue slots: maxModels × maxWorkers × 8 B (QUEUE_SLOT_STRIDE i32) ──────────┤
 *   │ (m, w) at i32[(m * maxWorkers + w) * 2]: [0] requests stats slot w has queued for m     │
 *   │  [1] the ticket of its oldest (state/queues.ts: the queue's head is the oldest of these)│
 *   ├──────────────────── sessions: sessionSlots × 16 B ─────────────────────────────────────┤
 *   │ slot = i32[hi, lo, endpoint, lastSeenSec]; hi 0 = empty, -1 = tombstone, -2 = busy     │
 *   ├──────────────────── stats: maxWorkers × STATS_SLOT_BYTES (f64) ────────────────────────┤
 *   │ slot w (0 = primary/inline): f64[Counter.COUNT] counters,                             │
 *   │   then Histogram.COUNT × HISTOGRAM_BUCKETS f64 buckets, then Histogram.COUNT f64 sums  │
 *   ├──────────────────── holds: maxWorkers × maxEndpoints × i32 ────────────────────────────┤
 *   │ holds(w, e) at i32[w * maxEndpoints + e]: requests stats slot w has in flight on e —    │
 *   │ what the primary gives back to endpoints[e].inflight when worker w dies                 │
 *   └─────────────────────────────────────────────────────────────────────── byteLength ─────┘
 */

import { MAX_MODEL_CELLS } from '../core/segment-limits.js';

/** 'CRRL' little-endian-agnostic as an i32 value. */
export const SEGMENT_MAGIC = 0x4352524c;
export const LAYOUT_VERSION = 7;

export const CACHE_LINE = 64;

// Header i32 indices.
export const H_MAGIC = 0;
export const H_VERSION = 1;
export const H_BYTE_LENGTH = 2;
export const H_MAX_ENDPOINTS = 3;
export const H_MAX_MODELS = 4;
export const H_SESSION_SLOTS = 5;
export const H_MAX_WORKERS = 6;
export const H_CREATED_AT_SEC = 7;
export const H_CONFIG_EPOCH = 16;
export const H_CATALOG_GENERATION = 17;
export const H_ENDPOINT_COUNT = 18;
export const H_MODEL_COUNT = 19;
export const H_TICKET = 32;
export const H_QUEUED_TOTAL = 48;
export const HEADER_BYTES = 256;

// Endpoint record: one cache line of i32.
export const ENDPOINT_STRIDE = 16;
export const E_STATE = 0;
export const E_INFLIGHT = 1;
export const E_MAX_CONCURRENCY = 2;
export const E_PRIORITY = 3;
export const E_WEIGHT = 4;
export const E_EWMA_US = 5;
export const E_REQUESTS = 6;
export const E_FAILURES = 7;
export const E_CONSECUTIVE_FAILURES = 8;
export const E_STATE_CHANGED_SEC = 9;
export const E_STATE_CHANGED_MS = 10;
export const E_CIRCUIT = 11;
export const E_CIRCUIT_OPENED_MS = 12;
export const E_VRAM_CAPACITY_MIB = 13;
export const E_VRAM_USED_MIB = 14;
export const E_LOADING_MODEL = 15;

// Model cell (endpoint × model): eight i32, half a cache line.
export const MODEL_STRIDE = 8;
export const M_FLAGS = 0;
export const M_VRAM_MIB = 1;
export const M_CONTEXT = 2;
export const M_EXPIRES_SEC = 3;
export const M_INFLIGHT = 4;
export const M_LAST_USED_SEC = 5;

// Model info (per model): eight i32.
export const MODEL_INFO_STRIDE = 8;
export const MI_NEED_MIB = 0;
export const MI_LOADING_ON = 1;
export const MI_FLAGS = 2;
export const MI_LOADS = 3;
export const MI_MAX_CONTEXT = 4;
export const MI_CHARS_PER_TOKEN = 5;
export const MI_TOKEN_SAMPLES = 6;

// Queue line (per model): one cache line of i32.
export const QUEUE_LINE_STRIDE = 16;
export const Q_NEXT_TICKET = 0;
export const Q_DEPTH = 1;
export const Q_SERVICE_MS = 2;
export const Q_WAIT_MS = 3;
export const Q_QUEUED = 4;
export const Q_TIMEOUTS = 5;
export const Q_REFUSED = 6;

// Queue slot (model × stats slot): two i32.
export const QUEUE_SLOT_STRIDE = 2;
export const QS_COUNT = 0;
export const QS_HEAD = 1;

// Session slot: four i32.
export const SESSION_STRIDE = 4;
export const S_HI = 0;
export const S_LO = 1;
export const S_ENDPOINT = 2;
export const S_LAST_SEEN = 3;

// Stats slot (f64 units). Mirrors Counter.COUNT / Histogram.COUNT in stats.ts (const enums, so
// the numbers are repeated here; stats.test.ts checks they agree).
export const STATS_COUNTERS = 8;
export const STATS_HISTOGRAMS = 3;
export const HISTOGRAM_BUCKETS = 32;
const STATS_SLOT_F64 = STATS_COUNTERS + STATS_HISTOGRAMS * HISTOGRAM_BUCKETS + STATS_HISTOGRAMS;
export const STATS_SLOT_BYTES = alignUp(STATS_SLOT_F64 * 8, CACHE_LINE);

/** Upper bounds that keep every index an i32 and the segment far below a typical /dev/shm. */
const LIMITS = { maxEndpoints: 4096, maxModels: 4096, sessionSlots: 1 << 24, maxWorkers: 1024 } as const;


export interface SegmentSizes {
  readonly maxEndpoints: number;
  readonly maxModels: number;
  /** Power of two. */
  readonly sessionSlots: number;
  /** Stats slots; slot 0 is the primary / inline server, workers use 1..maxWorkers-1. */
  readonly maxWorkers: number;
}

export interface Layout {
  readonly sizes: SegmentSizes;
  readonly headerOffset: number;
  readonly headerBytes: number;
  readonly endpointsOffset: number;
  readonly endpointsBytes: number;
  readonly modelsOffset: number;
  readonly modelsBytes: number;
  readonly modelInfoOffset: number;
  readonly modelInfoBytes: number;
  readonly queuesOffset: number;
  readonly queuesBytes: number;
  readonly queueSlotsOffset: number;
  readonly queueSlotsBytes: number;
  readonly sessionsOffset: number;
  readonly sessionsBytes: number;
  readonly statsOffset: number;
  readonly statsBytes: number;
  readonly statsSlotBytes: number;
  readonly holdsOffset: number;
  readonly holdsBytes: number;
  /** Total segment size, a multiple of CACHE_LINE. */
  readonly byteLength: number;
}

function alignUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

function checkSize(name: keyof SegmentSizes, v: number): void {
  if (!Number.isInteger(v) || v < 1 || v > LIMITS[name]) {
    throw new RangeError(`segment size ${name} must be an integer in 1..${LIMITS[name]}, got ${v}`);
  }
}

export function computeLayout(sizes: SegmentSizes): Layout {
  checkSize('maxEndpoints', sizes.maxEndpoints);
  checkSize('maxModels', sizes.maxModels);
  checkSize('sessionSlots', sizes.sessionSlots);
  checkSize('maxWorkers', sizes.maxWorkers);
  if ((sizes.sessionSlots & (sizes.sessionSlots - 1)) !== 0) {
    throw new RangeError(`segment size sessionSlots must be a power of two, got ${sizes.sessionSlots}`);
  }
  if (sizes.maxEndpoints * sizes.maxModels > MAX_MODEL_CELLS) {
    throw new RangeError(`segment sizes maxEndpoints × maxModels must be at most ${MAX_MODEL_CELLS}, got ${sizes.maxEndpoints} × ${sizes.maxModels}`);
  }
  const frozen: SegmentSizes = Object.freeze({
    maxEndpoints: sizes.maxEndpoints,
    maxModels: sizes.maxModels,
    sessionSlots: sizes.sessionSlots,
    maxWorkers: sizes.maxWorkers,
  });
  const headerOffset = 0;
  const headerBytes = HEADER_BYTES;
  const endpointsOffset = alignUp(headerOffset + headerBytes, CACHE_LINE);
  const endpointsBytes = frozen.maxEndpoints * ENDPOINT_STRIDE * 4;
  const modelsOffset = alignUp(endpointsOffset + endpointsBytes, CACHE_LINE);
  const modelsBytes = frozen.maxEndpoints * frozen.maxModels * MODEL_STRIDE * 4;
  const modelInfoOffset = alignUp(modelsOffset + modelsBytes, CACHE_LINE);
  const modelInfoBytes = frozen.maxModels * MODEL_INFO_STRIDE * 4;
  const queuesOffset = alignUp(modelInfoOffset + modelInfoBytes, CACHE_LINE);
  const queuesBytes = frozen.maxModels * QUEUE_LINE_STRIDE * 4;
  const queueSlotsOffset = alignUp(queuesOffset + queuesBytes, CACHE_LINE);
  const queueSlotsBytes = frozen.maxModels * frozen.maxWorkers * QUEUE_SLOT_STRIDE * 4;
  const sessionsOffset = alignUp(queueSlotsOffset + queueSlotsBytes, CACHE_LINE);
  const sessionsBytes = frozen.sessionSlots * SESSION_STRIDE * 4;
  const statsOffset = alignUp(sessionsOffset + sessionsBytes, CACHE_LINE);
  const statsBytes = frozen.maxWorkers * STATS_SLOT_BYTES;
  const holdsOffset = alignUp(statsOffset + statsBytes, CACHE_LINE);
  const holdsBytes = frozen.maxWorkers * frozen.maxEndpoints * 4;
  const byteLength = alignUp(holdsOffset + holdsBytes, CACHE_LINE);
  return Object.freeze({
    sizes: frozen,
    headerOffset, headerBytes,
    endpointsOffset, endpointsBytes,
    modelsOffset, modelsBytes,
    modelInfoOffset, modelInfoBytes,
    queuesOffset, queuesBytes,
    queueSlotsOffset, queueSlotsBytes,
    sessionsOffset, sessionsBytes,
    statsOffset, statsBytes, statsSlotBytes: STATS_SLOT_BYTES,
    holdsOffset, holdsBytes,
    byteLength,
  });
}

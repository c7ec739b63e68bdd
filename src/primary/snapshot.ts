/**
 * `state.file`: the routing state worth keeping across a restart or upgrade — session pins (so a
 * conversation keeps hitting the backend whose KV cache holds its prefix) and each endpoint's
 * history. The primary writes it on shutdown and restores it into the fresh segment on start.
 *
 * File format (msgpack, one map):
 *   { format: 'corral-state', version: 1, writtenAtMs: <Unix ms>,
 *     endpoints: [{ name, requests, failures, ewmaUs, circuit }, …],
 *     sessions: [hi, lo, ep, lastSeenUnixSec, hi, lo, ep, lastSeenUnixSec, …],
 *     modelNeeds: [[model, contextLength, bytes], …] }   (optional: absent in files of older builds)
 * Session keys are the table's stored (already normalised) words as unsigned 32-bit numbers, and
 * `ep` indexes the file's own `endpoints` list: pins are tied to endpoint NAMES, never to segment
 * indices, which change when the endpoint list is reordered. Times are absolute (Unix), since each
 * segment counts its `*Sec` values from its own creation time. Sessions are a flat array rather
 * than one map each: 65536 pins stay a few hundred KB and pack/unpack in milliseconds.
 *
 * What a restore applies, and what it does not:
 *   - session pins whose endpoint name is still configured and whose last use is within the TTL,
 *     keeping their original last-use time (so they expire when they would have without the restart);
 *   - each endpoint's EWMA first-byte latency: a fair prior until new samples replace it.
 *   - the vRAM each model was seen to need at each context length (model-needs.ts), so placement
 *     does not fall back to estimates from disk sizes after a restart.
 *   - NOT the request/failure counters: they are totals since this segment was created, next to
 *     the primary's own start time in /internal/status; carrying old totals over would make them
 *     look like this process's traffic (and Prometheus handles a counter reset on restart anyway).
 *   - NOT the circuit state: an Open circuit's timer is relative to the old segment, and the
 *     backend may well have been fixed while corral was down; the health prober re-checks every
 *     endpoint at start and the breaker re-opens within `circuit_breaker.failures` requests if not.
 * Counters and circuit state are still written, for diagnostics and for a later version to use.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { pack, unpack } from 'msgpackr';
import type { Segment } from '../state/segment.js';
import type { LearnedNeed, ModelNeeds } from './model-needs.js';

export interface SnapshotResult { sessions: number; endpoints: number; modelNeeds: number }

const FORMAT = 'corral-state';
const VERSION = 1;
const SESSION_FIELDS = 4;
const U32_MAX = 0xffffffff;
const I32_MAX = 0x7fffffff;

interface EndpointRecord {
  name: string;
  requests: number;
  failures: number;
  ewmaUs: number;
  circuit: number;
}

interface SnapshotFile {
  format: typeof FORMAT;
  version: number;
  writtenAtMs: number;
  endpoints: EndpointRecord[];
  sessions: number[];
  modelNeeds?: LearnedNeed[];
}

/** TTL in whole seconds, the way SessionSweeper rounds it. */
function ttlSeconds(sessionTtlMs: number): number {
  return Math.max(1, Math.round(sessionTtlMs / 1000));
}

/**
 * Writes session pins and per-endpoint history (requests, failures, EWMA latency µs, circuit
 * state) keyed by endpoint NAME, with a format version and the wall-clock time.
 *
 * `endpointNames[i]` is the name of the endpoint at segment row i; '' marks a row not in use (a
 * gap an endpoint removed on reload leaves; real names are never '', config validation sees to
 * it). Pins that have already outlived `sessionTtlMs`, or that point at an unused row or beyond
 * `endpointNames`, are left out.
 *
 * Atomic: written to `${path}.tmp`, then renamed over `path` (the .tmp is removed on failure);
 * the parent directory is created if missing. Errors (permissions, disk full) are thrown for the
 * caller to log.
 */
export function writeSnapshot(path: string, segment: Segment, endpointNames: readonly string[], sessionTtlMs: number,
  needs: ModelNeeds | null = null): SnapshotResult {
  const e = segment.endpoints;
  const endpoints: EndpointRecord[] = [];
  const fileIndex: number[] = []; // segment row → index in `endpoints`, -1 for an unused row
  endpointNames.forEach((name, i) => {
    if (name === '') {
      fileIndex.push(-1);
      return;
    }
    fileIndex.push(endpoints.length);
    endpoints.push({ name, requests: e.requests(i), failures: e.failures(i), ewmaUs: e.ewmaLatencyUs(i), circuit: e.circuit(i) });
  });
  const createdAtSec = segment.header.createdAtSec;
  const nowSec = segment.header.nowSec();
  const ttlSec = ttlSeconds(sessionTtlMs);
  const sessions: number[] = [];
  for (const s of segment.sessions.entries()) {
    const ep = fileIndex[s.endpoint] ?? -1;
    if (ep < 0 || nowSec - s.lastSeenSec > ttlSec) continue;
    sessions.push(s.hi, s.lo, ep, createdAtSec + s.lastSeenSec);
  }
  const modelNeeds = needs?.export() ?? [];
  const file: SnapshotFile = { format: FORMAT, version: VERSION, writtenAtMs: Date.now(), endpoints, sessions, modelNeeds };

  const tmp = `${path}.tmp`;
  mkdirSync(dirname(path), { recursive: true });
  try {
    writeFileSync(tmp, pack(file), { mode: 0o600 });
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  return { sessions: sessions.length / SESSION_FIELDS, endpoints: endpoints.length, modelNeeds: modelNeeds.length };
}

/**
 * `endpointNames` as for writeSnapshot (row → name, '' = unused row).
 * Restores what still applies into a freshly initialised segment (after its endpoints are
 * reset and configured, before workers serve): pins whose endpoint name is still in
 * `endpointNames` and whose last use is within `sessionTtlMs`, and each surviving endpoint's
 * EWMA latency (see the file comment for what is deliberately not restored). A missing file →
 * {0, 0}; a corrupt, truncated or other-version file → an Error naming the file and the problem,
 * having changed nothing in the segment.
 */
export function restoreSnapshot(path: string, segment: Segment, endpointNames: readonly string[], sessionTtlMs: number,
  needs: ModelNeeds | null = null): SnapshotResult {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { sessions: 0, endpoints: 0, modelNeeds: 0 };
    throw new Error(`state file ${path}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  const file = parse(path, bytes);

  // Old file's endpoint index → new segment index (-1: that endpoint is gone).
  const current = new Map<string, number>();
  endpointNames.forEach((name, i) => { if (name !== '') current.set(name, i); });
  const remap = file.endpoints.map((r) => current.get(r.name) ?? -1);

  let endpoints = 0;
  file.endpoints.forEach((r, j) => {
    const i = remap[j]!;
    if (i < 0) return;
    if (r.ewmaUs > 0) segment.endpoints.recordLatencyUs(i, r.ewmaUs); // first sample seeds the EWMA
    endpoints++;
  });

  const createdAtSec = segment.header.createdAtSec;
  const nowUnixSec = createdAtSec + segment.header.nowSec();
  const ttlSec = ttlSeconds(sessionTtlMs);
  const s = file.sessions;
  let sessions = 0;
  for (let k = 0; k < s.length; k += SESSION_FIELDS) {
    const endpoint = remap[s[k + 2]!]!;
    const lastSeenUnixSec = s[k + 3]!;
    if (endpoint < 0 || nowUnixSec - lastSeenUnixSec > ttlSec) continue;
    // May be negative (last used before this segment existed): an i32 like any other lastSeenSec.
    // `| 0` turns the unsigned words back into the table's signed i32s; pin() stores exactly those.
    segment.sessions.pin(s[k]! | 0, s[k + 1]! | 0, endpoint, lastSeenUnixSec - createdAtSec);
    sessions++;
  }
  const modelNeeds = needs === null ? 0 : needs.import(file.modelNeeds ?? []);
  return { sessions, endpoints, modelNeeds };
}

/** Decodes and validates the whole file before anything is applied. */
function parse(path: string, bytes: Buffer): SnapshotFile {
  const bad = (why: string): Error => new Error(`state file ${path} is not usable (${why}); starting without it`);
  let raw: unknown;
  try {
    raw = unpack(bytes);
  } catch (err) {
    throw bad(`corrupt or truncated: ${(err as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw) || (raw as { format?: unknown }).format !== FORMAT) {
    throw bad('not a corral state file');
  }
  const f = raw as Record<string, unknown>;
  if (f.version !== VERSION) throw bad(`format version ${String(f.version)}, this build reads version ${VERSION}`);
  if (typeof f.writtenAtMs !== 'number' || !Number.isFinite(f.writtenAtMs)) throw bad('writtenAtMs missing');
  if (!Array.isArray(f.endpoints)) throw bad('endpoints missing');
  const names = new Set<string>();
  for (const r of f.endpoints as unknown[]) {
    const e = r as Partial<EndpointRecord> | null;
    if (typeof e !== 'object' || e === null || typeof e.name !== 'string' || !isInt(e.ewmaUs, 0, I32_MAX)) {
      throw bad('malformed endpoint entry');
    }
    if (names.has(e.name)) throw bad(`endpoint ${e.name} listed twice`);
    names.add(e.name);
  }
  const s = f.sessions;
  if (!Array.isArray(s) || s.length % SESSION_FIELDS !== 0) throw bad('sessions missing or truncated');
  const nEndpoints = f.endpoints.length;
  for (let k = 0; k < s.length; k += SESSION_FIELDS) {
    if (!isInt(s[k], 0, U32_MAX) || !isInt(s[k + 1], 1, U32_MAX) || !isInt(s[k + 2], 0, nEndpoints - 1) ||
        !isInt(s[k + 3], 0, Number.MAX_SAFE_INTEGER)) {
      throw bad(`malformed session entry ${k / SESSION_FIELDS}`);
    }
  }
  if (f.modelNeeds !== undefined) {
    if (!Array.isArray(f.modelNeeds)) throw bad('modelNeeds is not a list');
    for (const [k, n] of (f.modelNeeds as unknown[]).entries()) {
      if (!Array.isArray(n) || n.length !== 3 || typeof n[0] !== 'string' || n[0] === '' || !isInt(n[1], 0, I32_MAX) ||
          !isInt(n[2], 1, Number.MAX_SAFE_INTEGER)) {
        throw bad(`malformed model need ${k}`);
      }
    }
  }
  return f as unknown as SnapshotFile;
}

function isInt(v: unknown, min: number, max: number): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= min && v <= max;
}

import { readdirSync } from 'node:fs';
import { openSharedMemory, unlinkSharedMemory } from '../../native-bindings/index.js';
import {
  computeLayout, H_BYTE_LENGTH, H_CREATED_AT_SEC, H_MAGIC, H_MAX_ENDPOINTS, H_MAX_MODELS, H_MAX_WORKERS,
  H_SESSION_SLOTS, H_VERSION, HEADER_BYTES, LAYOUT_VERSION, SEGMENT_MAGIC, type Layout, type SegmentSizes,
} from './layout.js';
import { Header } from './header.js';
import { EndpointTable } from './endpoints.js';
import { ModelTable } from './models.js';
import { ModelInfoTable } from './model-info.js';
import { SessionTable } from './sessions.js';
import { QueueTable } from './queues.js';
import { StatsTable } from './stats.js';
import { HoldTable } from './holds.js';

/** Where Linux exposes POSIX shared-memory objects as files. */
const SHM_DIR = '/dev/shm';
const NAME_PREFIX = 'corral-';
const STALE_NAME = /^corral-(\d+)$/;

/** One mapped segment and its typed views. */
export class Segment {
  /** null = plain in-process SharedArrayBuffer (inline mode). */
  readonly name: string | null;
  readonly sab: SharedArrayBuffer;
  readonly sizes: SegmentSizes;
  readonly layout: Layout;
  readonly header: Header;
  readonly endpoints: EndpointTable;
  readonly models: ModelTable;
  readonly modelInfo: ModelInfoTable;
  readonly queues: QueueTable;
  readonly sessions: SessionTable;
  readonly stats: StatsTable;
  readonly holds: HoldTable;

  constructor(name: string | null, sab: SharedArrayBuffer, layout: Layout) {
    this.name = name;
    this.sab = sab;
    this.sizes = layout.sizes;
    this.layout = layout;
    this.header = new Header(sab, layout);
    this.endpoints = new EndpointTable(sab, layout, this.header);
    this.models = new ModelTable(sab, layout);
    this.modelInfo = new ModelInfoTable(sab, layout);
    this.queues = new QueueTable(sab, layout);
    this.sessions = new SessionTable(sab, layout);
    this.stats = new StatsTable(sab, layout);
    this.holds = new HoldTable(sab, layout);
  }
}

/** The primary's segment name: the pid lets sweepStaleSegments tell a dead owner's leftovers. */
export function segmentName(pid: number): string {
  return `${NAME_PREFIX}${pid}`;
}

/**
 * Creates a zero-filled segment (named: fails if the name exists) and writes its header. The
 * magic goes in last, so a process attaching mid-initialisation is refused rather than misled.
 */
export function createSegment(sizes: SegmentSizes, name: string | null): Segment {
  const layout = computeLayout(sizes);
  const sab = name === null ? new SharedArrayBuffer(layout.byteLength) : openSharedMemory(name, layout.byteLength, true);
  const h = new Int32Array(sab, 0, HEADER_BYTES / 4);
  Atomics.store(h, H_VERSION, LAYOUT_VERSION);
  Atomics.store(h, H_BYTE_LENGTH, layout.byteLength);
  Atomics.store(h, H_MAX_ENDPOINTS, layout.sizes.maxEndpoints);
  Atomics.store(h, H_MAX_MODELS, layout.sizes.maxModels);
  Atomics.store(h, H_SESSION_SLOTS, layout.sizes.sessionSlots);
  Atomics.store(h, H_MAX_WORKERS, layout.sizes.maxWorkers);
  Atomics.store(h, H_CREATED_AT_SEC, Math.floor(Date.now() / 1000) | 0);
  Atomics.store(h, H_MAGIC, SEGMENT_MAGIC);
  return new Segment(name, sab, layout);
}

/**
 * Maps an existing segment: first just the header (to learn the sizes), then the whole thing.
 * Refuses anything that is not a corral segment of this exact layout version.
 */
export function attachSegment(name: string): Segment {
  const head = new Int32Array(openSharedMemory(name, HEADER_BYTES, false));
  const magic = Atomics.load(head, H_MAGIC);
  if (magic !== SEGMENT_MAGIC) {
    throw new Error(`shared segment ${name} is not a corral segment (magic 0x${(magic >>> 0).toString(16)}, ` +
      `expected 0x${SEGMENT_MAGIC.toString(16)}), or is still being initialised`);
  }
  const version = Atomics.load(head, H_VERSION);
  if (version !== LAYOUT_VERSION) {
    throw new Error(`shared segment ${name} has layout version ${version}, this build expects ${LAYOUT_VERSION}: ` +
      'primary and workers must run the same corral build');
  }
  const layout = computeLayout({
    maxEndpoints: Atomics.load(head, H_MAX_ENDPOINTS),
    maxModels: Atomics.load(head, H_MAX_MODELS),
    sessionSlots: Atomics.load(head, H_SESSION_SLOTS),
    maxWorkers: Atomics.load(head, H_MAX_WORKERS),
  });
  const byteLength = Atomics.load(head, H_BYTE_LENGTH);
  if (byteLength !== layout.byteLength) {
    throw new Error(`shared segment ${name} header says ${byteLength} bytes, its sizes imply ${layout.byteLength}`);
  }
  return new Segment(name, openSharedMemory(name, layout.byteLength, false), layout);
}

/** shm_unlink: the name goes away; every existing mapping stays valid until its views are collected. */
export function releaseSegment(name: string): void {
  unlinkSharedMemory(name);
}

/**
 * Unlinks `corral-<pid>` segments whose pid is no longer alive (a primary killed with SIGKILL
 * cannot clean up after itself). Returns the names swept.
 */
export function sweepStaleSegments(): string[] {
  let files: string[];
  try {
    files = readdirSync(SHM_DIR);
  } catch {
    return []; // no /dev/shm (not Linux): nothing we could sweep
  }
  const swept: string[] = [];
  for (const file of files) {
    const m = STALE_NAME.exec(file);
    if (m === null) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || isAlive(pid)) continue;
    if (unlinkSharedMemory(file)) swept.push(file);
  }
  return swept;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: alive, just not ours to signal. Only ESRCH proves it is gone.
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

import { formatBytes } from '../core/format-bytes.js';
import type { DashboardView } from './dashboard-view.js';

/**
 * The dashboard's view as a terminal table, for `corral status` (SSH sessions on the GPU box):
 * the gateway's rates, one row per endpoint with its resident models under it, the models, the
 * workers. Colour (ANSI SGR) only when asked for; the caller decides (a TTY, no NO_COLOR).
 */
export interface TableOptions {
  readonly colour: boolean;
  /** Columns available; long names are cut to fit. */
  readonly width: number;
}

/** The fields of /internal/status the table reads (the document has more). */
interface Resident { model: string; size_vram: number; context_length: number | null; expires_at: string | null; inflight: number; pinned: boolean }
interface Vram { total_bytes: number | null; reserve_bytes: number; used_bytes: number; free_bytes: number | null }
interface Endpoint {
  name: string; type: string; state: string; circuit: string; inflight: number; max_concurrency: number;
  ewma_first_byte_ms: number; last_error: string | null; vram: Vram | null; loading: string | null;
  residents: Resident[]; queue_depth?: number; queue?: { depth?: number };
}
interface Model { name: string; loading_on: string | null; need_bytes?: number; endpoints: { name: string; loaded: boolean; inflight: number }[]; queue_depth?: number; queue?: { depth?: number } }
interface Worker { id: number; pid: number; slot: number; state: string; restarts: number }
interface Status {
  mode: string; pid: number; uptime_s: number; sessions: number; endpoints: Endpoint[]; models: Model[]; workers: Worker[];
  counters: { requests: number; responses_5xx: number };
}

const SGR = { reset: '\x1b[0m', bold: '\x1b[1m', dim: '\x1b[2m', red: '\x1b[31m', green: '\x1b[32m', yellow: '\x1b[33m', cyan: '\x1b[36m' };
const GOOD = new Set(['healthy', 'closed', 'listening']);
const BAD = new Set(['down', 'open']);
const BLOCKS = '▁▂▃▄▅▆▇█';

/**
 * Names and errors come from backends: a control character (an escape sequence above all) must
 * not reach the terminal, where it could move the cursor, retitle the window or worse.
 */
export function printable(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
}

/** Display width of what we print: every character counts one column (names are cut, never measured by font). */
function cut(s: string, max: number): string {
  const clean = printable(s);
  return clean.length <= max ? clean : `${clean.slice(0, Math.max(1, max - 1))}…`;
}

function duration(s: number): string {
  if (s < 60) return `${Math.round(s)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}`;
}

function num(n: number | null | undefined, digits = 1): string {
  if (n === null || n === undefined) return '–';
  return n >= 100 ? String(Math.round(n)) : n.toFixed(digits);
}

function ms(n: number | null | undefined): string {
  return n === null || n === undefined ? '–' : `${num(n)} ms`;
}

/** The last `n` values as block characters, scaled to their maximum (a gap for null). */
export function sparkline(values: readonly (number | null)[], n: number): string {
  const tail = values.slice(-n);
  const present = tail.filter((v): v is number => v !== null);
  const max = present.length === 0 ? 0 : Math.max(...present);
  return tail.map((v) => (v === null ? ' ' : max === 0 ? BLOCKS[0] : BLOCKS[Math.min(7, Math.floor((v / max) * 7.999))])).join('');
}

function queueDepth(x: { queue_depth?: number; queue?: { depth?: number } }): number {
  return typeof x.queue_depth === 'number' ? x.queue_depth : typeof x.queue?.depth === 'number' ? x.queue.depth : 0;
}

/** A bar of `width` cells: resident models filled, the reserve shaded, the rest free. */
function vramBar(v: Vram, width: number): string {
  if (v.total_bytes === null || v.total_bytes <= 0) return '';
  const used = Math.round((Math.min(v.used_bytes, v.total_bytes) / v.total_bytes) * width);
  const reserve = Math.min(width - used, Math.round((v.reserve_bytes / v.total_bytes) * width));
  return `[${'█'.repeat(used)}${'░'.repeat(width - used - reserve)}${'▒'.repeat(reserve)}]`;
}

export function renderStatusTable(view: DashboardView, opts: TableOptions): string {
  const s = view.status as Status;
  const paint = (code: keyof typeof SGR, text: string): string => (opts.colour ? `${SGR[code]}${text}${SGR.reset}` : text);
  const stateColour = (text: string): string => paint(GOOD.has(text.trim()) ? 'green' : BAD.has(text.trim()) ? 'red' : 'yellow', text);
  const nameWidth = Math.max(12, Math.min(40, opts.width - 60));
  const out: string[] = [];
  const at = new Date(view.generated_at);
  const workers = s.workers ?? [];
  out.push(`${paint('bold', 'corral')}  ${s.mode} · pid ${s.pid} · up ${duration(s.uptime_s)} · ${workers.length} worker${workers.length === 1 ? '' : 's'} · ` +
    `${s.sessions} session${s.sessions === 1 ? '' : 's'} · ${s.counters.requests} requests · ${at.toISOString().slice(11, 19)}Z`);
  const h = view.history;
  if (h !== null && h.t.length > 0) {
    const g = h.gateway;
    const last = <T>(a: readonly T[]): T | undefined => a[a.length - 1];
    out.push(`gateway  req/s ${num(last(g.requests_per_s))} ${paint('cyan', sparkline(g.requests_per_s, 30))}  5xx/s ${num(last(g.errors_per_s))}  ` +
      `TTFT p50 ${ms(last(g.ttft_p50_ms))}  p95 ${ms(last(g.ttft_p95_ms))}  (last ${Math.round((h.t.length * h.interval_ms) / 1000)} s)`);
  }
  out.push('');

  // Endpoints, each with its resident models under it.
  const epRows: string[][] = [['ENDPOINT', 'STATE', 'CIRCUIT', 'IN-FLIGHT', 'QUEUE', 'TTFB', 'VRAM']];
  const residentLines = new Map<number, string[]>();
  s.endpoints.forEach((ep, i) => {
    const v = ep.vram;
    const vram = v === null ? (ep.type === 'ollama' ? '?' : '') : `${vramBar(v, 16)} ${formatBytes(v.used_bytes)} / ${v.total_bytes === null ? '?' : formatBytes(v.total_bytes)}`;
    epRows.push([cut(ep.name, nameWidth), ep.state, ep.circuit, `${ep.inflight}/${ep.max_concurrency}`, String(queueDepth(ep)), `${num(ep.ewma_first_byte_ms)} ms`, vram]);
    const lines: string[] = [];
    for (const r of ep.residents ?? []) {
      const expires = r.expires_at === null ? 'kept' : (() => {
        const left = (Date.parse(r.expires_at) - at.getTime()) / 1000;
        return left > 0 ? `expires in ${duration(left)}` : 'expiring';
      })();
      lines.push(`  └ ${cut(r.model, nameWidth)}  ${formatBytes(r.size_vram)}${r.context_length ? `  ctx ${r.context_length}` : ''}  ${expires}` +
        `${r.inflight > 0 ? `  ${r.inflight} in flight` : ''}${r.pinned ? '  pinned' : ''}`);
    }
    if (ep.loading !== null) lines.push(`  ${paint('yellow', '⟳ loading')} ${cut(ep.loading, nameWidth)}`);
    if (ep.last_error !== null) lines.push(`  ${paint('red', '!')} ${cut(ep.last_error, Math.max(20, opts.width - 4))}`);
    residentLines.set(i + 1, lines);
  });
  table(epRows, out, (col, r, text) => (r > 0 && (col === 1 || col === 2) ? stateColour(text) : r === 0 ? paint('dim', text) : text), residentLines);
  out.push('');

  // Models.
  const modelRows: string[][] = [['MODEL', 'RESIDENT ON', 'IN FLIGHT', 'QUEUE', 'NEEDS']];
  for (const m of s.models) {
    const on = m.endpoints.filter((e) => e.loaded).map((e) => e.name);
    const where = on.length > 0 ? on.join(', ') : m.loading_on !== null ? `loading on ${m.loading_on}` : '–';
    modelRows.push([cut(m.name, nameWidth), cut(where, 30), String(m.endpoints.reduce((n, e) => n + e.inflight, 0)), String(queueDepth(m)),
      typeof m.need_bytes === 'number' ? formatBytes(m.need_bytes) : '']);
  }
  if (s.models.length > 0) table(modelRows, out, (_, r, text) => (r === 0 ? paint('dim', text) : text));
  else out.push('no models');

  if (workers.length > 0) {
    out.push('');
    const wRows: string[][] = [['WORKER', 'PID', 'SLOT', 'STATE', 'RESTARTS']];
    for (const w of workers) wRows.push([String(w.id), String(w.pid), String(w.slot), w.state, String(w.restarts)]);
    table(wRows, out, (col, r, text) => (r === 0 ? paint('dim', text) : col === 3 ? stateColour(text) : text));
  }
  if (h !== null && h.not_recorded.length > 0) out.push('', paint('dim', `not recorded yet: ${h.not_recorded.join('; ')}`));
  return `${out.join('\n')}\n`;
}

/**
 * Left-aligned columns two spaces apart; `style` colours a cell after padding is computed on its
 * plain text (escape codes take no columns); `after` adds lines under a row.
 */
function table(rows: string[][], out: string[], style: (col: number, row: number, text: string) => string, after?: Map<number, string[]>): void {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, c) => (widths[c] = Math.max(widths[c] ?? 0, cell.length)));
  rows.forEach((row, r) => {
    const cells = row.map((cell, c) => style(c, r, c === row.length - 1 ? cell : cell.padEnd(widths[c]!)));
    out.push(cells.join('  ').trimEnd());
    for (const line of after?.get(r) ?? []) out.push(line);
  });
}

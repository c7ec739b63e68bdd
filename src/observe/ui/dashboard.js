// corral's dashboard (/ui): polls the primary's JSON view (`data`: /internal/status plus the
// primary's ring of samples) and redraws. No framework, no build step. Model and endpoint names
// come from backends and are untrusted: every string reaches the page as a text node
// (textContent / createTextNode), never as HTML; the server's Content-Security-Policy backs this up.
'use strict';

const SVG = 'http://www.w3.org/2000/svg';
const MODEL_COLOURS = ['#4e79a7', '#f28e2b', '#59a14f', '#b07aa1', '#edc948', '#76b7b2', '#ff9da7', '#8cd17d', '#e15759', '#499894'];
let pollMs = 2000;
let lastOk = 0;

/** An element with attributes (class, title, …) and children: strings become text nodes. */
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'style') Object.assign(node.style, v);
    else node.setAttribute(k, String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    node.append(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
  return node;
}

function bytes(n) {
  if (n === null || n === undefined) return '?';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let u = 0;
  let v = n;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v >= 100 || u === 0 || Number.isInteger(v) ? Math.round(v) : v.toFixed(1)} ${units[u]}`;
}

function duration(s) {
  if (s === null || s === undefined) return '?';
  if (s < 60) return `${Math.round(s)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}`;
}

function number(n, digits) {
  if (n === null || n === undefined) return '–';
  return n >= 100 ? String(Math.round(n)) : n.toFixed(digits === undefined ? 1 : digits);
}

/** Model name → its position in the catalog, set at each render: the colour of a model on every card. */
let modelOrder = new Map();

/** A colour per model, the same on every card: by catalog position, so the first ten never share one. */
function colourOf(name) {
  let i = modelOrder.get(name);
  if (i === undefined) {
    i = 0;
    for (let k = 0; k < name.length; k++) i = (i * 31 + name.charCodeAt(k)) >>> 0;
  }
  return MODEL_COLOURS[i % MODEL_COLOURS.length];
}

/** Sparklines span at least this many samples (a minute at one every 2 s), newest at the right edge, so a young ring grows from the right instead of stretching two points over the width. */
const MIN_SPAN = 30;

/** An SVG sparkline of `values` (nulls are gaps), scaled to its own maximum. */
function sparkline(values, label) {
  const w = 120;
  const h = 28;
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `0 0 ${w} ${h}`);
  svg.setAttribute('preserveAspectRatio', 'none');
  svg.setAttribute('class', 'spark');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', label);
  const present = values.filter((v) => v !== null && v !== undefined);
  if (present.length === 0) return svg;
  const max = Math.max(...present) || 1;
  const step = w / (Math.max(values.length, MIN_SPAN) - 1);
  const x0 = w - (values.length - 1) * step;
  let d = '';
  let pen = false;
  values.forEach((v, i) => {
    if (v === null || v === undefined) {
      pen = false;
      return;
    }
    const x = (x0 + i * step).toFixed(1);
    const y = (h - 2 - (v / max) * (h - 4)).toFixed(1);
    d += `${pen ? 'L' : 'M'}${x} ${y} `;
    pen = true;
  });
  const path = document.createElementNS(SVG, 'path');
  path.setAttribute('d', d.trim() || 'M0 0');
  svg.append(path);
  // A point between two gaps (one interval with traffic among idle ones) would draw nothing: a dot.
  values.forEach((v, i) => {
    const gap = (k) => k < 0 || k >= values.length || values[k] === null || values[k] === undefined;
    if (gap(i) || !gap(i - 1) || !gap(i + 1)) return;
    const dot = document.createElementNS(SVG, 'circle');
    dot.setAttribute('cx', (x0 + i * step).toFixed(1));
    dot.setAttribute('cy', (h - 2 - (v / max) * (h - 4)).toFixed(1));
    dot.setAttribute('r', '1.8');
    svg.append(dot);
  });
  return svg;
}

/** The newest sample: null (shown as –) when the last interval had nothing to measure, not an older figure. */
function last(values) {
  return values.length === 0 ? null : values[values.length - 1];
}

function tile(title, values, unit, digits) {
  return el('div', { class: 'tile' },
    el('div', { class: 'tile-title' }, title),
    el('div', { class: 'tile-value' }, last(values) === null || last(values) === undefined ? '–' : `${number(last(values), digits)}${unit}`),
    sparkline(values, title));
}

function badge(text, kind) {
  return el('span', { class: `badge ${kind}` }, text);
}

const STATE_KIND = { healthy: 'ok', suspect: 'warn', down: 'bad', draining: 'warn', unknown: 'muted' };
const CIRCUIT_KIND = { closed: 'ok', 'half-open': 'warn', open: 'bad' };

/** The vRAM bar: one segment per resident model, the loading model, other processes' memory, the reserve. */
function vramBar(ep) {
  const v = ep.vram;
  const residents = ep.residents || [];
  const used = residents.reduce((s, r) => s + (r.size_vram || 0), 0) + (v ? v.other_bytes || 0 : 0);
  const total = v && v.total_bytes ? v.total_bytes : Math.max(used, 1);
  // With the total unknown the models still share the bar in proportion, but it is not a gauge of fullness.
  const bar = el('div', { class: v && v.total_bytes ? 'vram' : 'vram unknown', role: 'img', 'aria-label': `vRAM of ${ep.name}` });
  const seg = (bytesUsed, cls, title, colour) => {
    if (!(bytesUsed > 0)) return;
    const pct = Math.min(100, (bytesUsed / total) * 100);
    bar.append(el('div', { class: `seg ${cls}`, title, style: { width: `${pct}%`, background: colour || '' } }));
  };
  for (const r of residents) seg(r.size_vram, 'model', `${r.model}: ${bytes(r.size_vram)}`, colourOf(r.model));
  if (v && v.other_bytes) seg(v.other_bytes, 'other', `other processes: ${bytes(v.other_bytes)}`);
  const free = v && v.total_bytes ? Math.max(0, v.total_bytes - v.reserve_bytes - used) : 0;
  if (ep.loading) bar.append(el('div', { class: 'seg loading', title: `loading ${ep.loading}`, style: { width: `${Math.max(4, Math.min(30, (free / total) * 100))}%` } }));
  if (v && v.total_bytes) {
    bar.append(el('div', { class: 'seg free', style: { flex: '1 1 auto' } }));
    seg(v.reserve_bytes, 'reserve', `reserve: ${bytes(v.reserve_bytes)}`);
  }
  const caption = v
    ? `${bytes(v.used_bytes)} used of ${v.total_bytes === null ? 'unknown total' : bytes(v.total_bytes)}` +
      (v.free_bytes === null ? '' : ` · ${bytes(v.free_bytes)} free`) + (v.reserve_bytes ? ` · ${bytes(v.reserve_bytes)} reserve` : '') +
      (v.source !== 'unknown' ? ` (${v.source})` : '')
    : '';
  return el('div', { class: 'vram-wrap' }, bar, el('div', { class: 'muted small' }, caption), v && v.error ? el('div', { class: 'error small' }, v.error) : null);
}

function residentRow(r, nowMs) {
  const expires = r.expires_at ? (Date.parse(r.expires_at) - nowMs) / 1000 : null;
  return el('li', { class: 'resident' },
    el('span', { class: 'swatch', style: { background: colourOf(r.model) } }),
    el('span', { class: 'name' }, r.model),
    el('span', { class: 'facts' },
      bytes(r.size_vram),
      r.context_length ? ` · ctx ${r.context_length}` : '',
      expires === null ? ' · kept' : expires > 0 ? ` · expires in ${duration(expires)}` : ' · expiring',
      r.inflight ? ` · ${r.inflight} in flight` : '',
      r.pinned ? ' · pinned' : ''));
}

/** The queue depth of an endpoint or model when corral reports one (admission queues), else 0. */
function queueDepth(x) {
  if (typeof x.queue_depth === 'number') return x.queue_depth;
  if (x.queue && typeof x.queue.depth === 'number') return x.queue.depth;
  return 0;
}

function endpointCard(ep, series, nowMs) {
  const max = ep.max_concurrency || 0;
  const pct = max > 0 ? Math.min(100, (ep.inflight / max) * 100) : 0;
  const residents = ep.residents || [];
  const card = el('article', { class: `card state-${ep.state}`, 'data-endpoint': ep.name },
    el('header', { class: 'card-head' },
      el('h3', {}, ep.name),
      badge(ep.state, STATE_KIND[ep.state] || 'muted'),
      badge(`circuit ${ep.circuit}`, CIRCUIT_KIND[ep.circuit] || 'muted'),
      el('span', { class: 'muted small' }, ep.type)),
    el('div', { class: 'muted small url' }, ep.url));
  if (ep.type === 'ollama') card.append(vramBar(ep));
  if (ep.loading) card.append(el('div', { class: 'loading-note' }, '⟳ loading ', el('span', { class: 'name' }, ep.loading), ep.loads_queued ? ` (+${ep.loads_queued} queued)` : ''));
  if (residents.length > 0) card.append(el('ul', { class: 'residents' }, ...residents.map((r) => residentRow(r, nowMs))));
  else if (ep.type === 'ollama') card.append(el('div', { class: 'muted small' }, 'no model resident'));
  card.append(
    el('div', { class: 'kv' },
      el('span', {}, 'in flight'),
      el('span', { class: 'meter' }, el('span', { style: { width: `${pct}%` } })),
      el('span', { class: 'num' }, `${ep.inflight} / ${max}`)),
    el('div', { class: 'kv' }, el('span', {}, 'queue'), el('span', {}, ''), el('span', { class: 'num' }, String(queueDepth(ep)))),
    el('div', { class: 'kv' }, el('span', {}, 'first byte (ewma)'), el('span', {}, ''), el('span', { class: 'num' }, `${number(ep.ewma_first_byte_ms)} ms`)),
    el('div', { class: 'kv' }, el('span', {}, 'requests/s'), series ? sparkline(series.requests_per_s, `requests/s on ${ep.name}`) : el('span', {}),
      el('span', { class: 'num' }, number(series ? last(series.requests_per_s) : null))));
  if (ep.last_error) card.append(el('div', { class: 'error small' }, ep.last_error));
  return card;
}

function modelRow(m, series) {
  const resident = (m.endpoints || []).filter((e) => e.loaded).map((e) => e.name);
  const inflight = series ? series.inflight : [];
  return el('div', { class: 'row', 'data-model': m.name },
    el('span', { class: 'swatch', style: { background: colourOf(m.name) } }),
    el('span', { class: 'name' }, m.name),
    el('span', { class: 'muted small where' },
      resident.length > 0 ? `resident on ${resident.join(', ')}` : 'not resident',
      m.loading_on ? ` · loading on ${m.loading_on}` : '',
      typeof m.need_bytes === 'number' ? ` · needs ${bytes(m.need_bytes)}` : '',
      ` · queue ${queueDepth(m)}`),
    el('span', { class: 'spark-cell' }, sparkline(inflight, `in flight for ${m.name}`), el('span', { class: 'num' }, `${number(last(inflight), 0)} in flight`)));
}

function workerRow(w) {
  return el('div', { class: 'row' },
    el('span', { class: 'name' }, `worker ${w.id}`),
    el('span', { class: 'muted small' }, `pid ${w.pid} · slot ${w.slot}`),
    badge(w.state, w.state === 'listening' ? 'ok' : 'warn'),
    el('span', { class: 'num' }, `${w.restarts} restart${w.restarts === 1 ? '' : 's'}`));
}

function render(view) {
  const s = view.status;
  const h = view.history || { t: [], gateway: { requests_per_s: [], errors_per_s: [], ttft_p50_ms: [], ttft_p95_ms: [] }, endpoints: [], models: [], not_recorded: [] };
  const nowMs = Date.parse(view.generated_at) || Date.now();
  if (h.interval_ms) pollMs = h.interval_ms;
  modelOrder = new Map(s.models.map((m, i) => [m.name, i]));
  document.getElementById('summary').textContent =
    `${s.mode} · pid ${s.pid} · up ${duration(s.uptime_s)} · ${s.sessions} session${s.sessions === 1 ? '' : 's'} · ${s.counters.requests} requests`;
  document.getElementById('gateway').replaceChildren(
    tile('requests/s', h.gateway.requests_per_s, '', 1),
    tile('5xx/s', h.gateway.errors_per_s, '', 1),
    tile('TTFT p50', h.gateway.ttft_p50_ms, ' ms', 1),
    tile('TTFT p95', h.gateway.ttft_p95_ms, ' ms', 1));
  const epSeries = new Map(h.endpoints.map((e) => [e.name, e]));
  document.getElementById('endpoints').replaceChildren(...s.endpoints.map((ep) => endpointCard(ep, epSeries.get(ep.name), nowMs)));
  const modelSeries = new Map(h.models.map((m) => [m.name, m]));
  document.getElementById('models').replaceChildren(...(s.models.length > 0 ? s.models.map((m) => modelRow(m, modelSeries.get(m.name))) : [el('div', { class: 'muted' }, 'no models')]));
  const workers = s.workers || [];
  document.getElementById('workers').replaceChildren(...(workers.length > 0 ? workers.map(workerRow) : [el('div', { class: 'muted' }, 'inline mode: the primary serves requests itself')]));
  document.getElementById('notes').textContent = h.not_recorded.length > 0 ? `Not recorded yet: ${h.not_recorded.join('; ')}.` : '';
}

function setLive(ok, text) {
  const live = document.getElementById('live');
  live.className = ok ? 'live' : 'live stale';
  live.textContent = text;
}

async function poll() {
  try {
    const res = await fetch('data', { cache: 'no-store' });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const view = await res.json();
    render(view);
    lastOk = Date.now();
    setLive(true, `live · ${new Date(lastOk).toLocaleTimeString()}`);
  } catch (err) {
    setLive(false, lastOk === 0 ? `cannot reach corral (${err.message})` : `stale since ${new Date(lastOk).toLocaleTimeString()}`);
  } finally {
    setTimeout(poll, pollMs);
  }
}

poll();

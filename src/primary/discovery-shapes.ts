/**
 * What a backend answers to discovery (GET /api/tags, /api/ps, /v1/models, /api/version), read
 * defensively: bounded depth, size and string lengths, validated shapes, and only the fields corral
 * uses or re-serves in its union answers (Ollama's docs/api.md, "List Local Models" and "List
 * Running Models"; OpenAI's model object). Nothing a backend sends reaches the catalog unchecked,
 * so one endpoint's answer can never make the catalog build (JSON.stringify, IPC) fail.
 *
 * Two kinds of defect:
 *   - the document is unusable (not an object, the list not an array, too many entries, every entry
 *     bad): a DiscoveryError naming it — that endpoint's discovery failed;
 *   - one entry or one field is bad: it is dropped and a warning names it; the rest is kept.
 *
 * V8's JSON.parse copes with any nesting; JSON.stringify and recursive walkers do not, so the walk
 * below is iterative, with an explicit depth cap and a per-entry value budget.
 */
import { DiscoveryError } from '../core/errors.js';
import { canonicalModelName } from '../core/catalog.js';
import { MAX_MODEL_NAME_LENGTH } from '../protocol/request-body.js';

/** Nesting levels a discovery document may have (the document itself is level 1). Real ones have 5. */
export const MAX_DISCOVERY_DEPTH = 32;
/** Entries read from one list; a longer list is not a model list. */
export const MAX_DISCOVERY_ENTRIES = 4096;
/** JSON values one entry may hold (a real /api/ps entry has about 15). */
export const MAX_ENTRY_VALUES = 1024;
/** JSON values looked at outside the list (unknown top-level fields, ignored but bounded). */
export const MAX_OTHER_VALUES = 1024;
/** Longest string field kept (digests, dates, families, owned_by…); names follow MAX_MODEL_NAME_LENGTH. */
export const MAX_FIELD_LENGTH = 256;
/** Longest version string kept ("0.12.10", "0.5.4-rc1"). */
export const MAX_VERSION_LENGTH = 64;
/** Entries of details.families kept. */
export const MAX_FAMILIES = 32;
/** Warnings kept for the log per document (the rest are counted). */
export const MAX_WARNINGS = 32;
/** Warnings shown in an endpoint's last_error. */
const SUMMARY_WARNINGS = 3;

const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const VERSION = /^[0-9A-Za-z][0-9A-Za-z.+_-]*$/;
const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/** Ollama's model details (docs/api.md): every field set here, absent ones undefined (omitted from JSON). */
export class ModelDetails {
  readonly parent_model: string | undefined;
  readonly format: string | undefined;
  readonly family: string | undefined;
  readonly families: readonly string[] | null | undefined;
  readonly parameter_size: string | undefined;
  readonly quantization_level: string | undefined;
  constructor(parentModel: string | undefined, format: string | undefined, family: string | undefined,
    families: readonly string[] | null | undefined, parameterSize: string | undefined, quantizationLevel: string | undefined) {
    this.parent_model = parentModel;
    this.format = format;
    this.family = family;
    this.families = families;
    this.parameter_size = parameterSize;
    this.quantization_level = quantizationLevel;
  }
}

/** One `/api/tags` entry as corral re-serves it. */
export class OllamaTag {
  readonly name: string;
  readonly model: string;
  readonly modified_at: string | undefined;
  readonly size: number | undefined;
  readonly digest: string | undefined;
  readonly details: ModelDetails | undefined;
  constructor(name: string, model: string, modifiedAt: string | undefined, size: number | undefined, digest: string | undefined,
    details: ModelDetails | undefined) {
    this.name = name;
    this.model = model;
    this.modified_at = modifiedAt;
    this.size = size;
    this.digest = digest;
    this.details = details;
  }
}

/** One `/api/ps` entry (a model resident in vRAM) as corral re-serves it. */
export class OllamaLoaded {
  readonly name: string;
  readonly model: string;
  readonly size: number | undefined;
  readonly digest: string | undefined;
  readonly details: ModelDetails | undefined;
  readonly expires_at: string | undefined;
  readonly size_vram: number | undefined;
  readonly context_length: number | undefined;
  constructor(name: string, model: string, size: number | undefined, digest: string | undefined, details: ModelDetails | undefined,
    expiresAt: string | undefined, sizeVram: number | undefined, contextLength: number | undefined) {
    this.name = name;
    this.model = model;
    this.size = size;
    this.digest = digest;
    this.details = details;
    this.expires_at = expiresAt;
    this.size_vram = sizeVram;
    this.context_length = contextLength;
  }
}

/** One `/v1/models` entry (OpenAI's model object); `created`/`owned_by` are filled by the catalog when absent. */
export class OpenAiModel {
  readonly id: string;
  readonly object: 'model';
  readonly created: number | undefined;
  readonly owned_by: string | undefined;
  constructor(id: string, created: number | undefined, ownedBy: string | undefined) {
    this.id = id;
    this.object = 'model';
    this.created = created;
    this.owned_by = ownedBy;
  }
}

/** The usable entries of one list and what was wrong with the others. */
export interface DiscoveryList<T> {
  readonly entries: T[];
  readonly warnings: Warnings;
}

/** Warnings about one document: the first MAX_WARNINGS kept, the rest counted. */
export class Warnings {
  readonly source: string;
  readonly list: string[];
  more: number;
  constructor(source: string) {
    this.source = source;
    this.list = [];
    this.more = 0;
  }

  add(message: string): void {
    if (this.list.length < MAX_WARNINGS) this.list.push(message);
    else this.more++;
  }

  get count(): number {
    return this.list.length + this.more;
  }

  /** `GET /api/tags: models[3].name is not a string (entry dropped); … (and 4 more)`, or '' when none. */
  summary(): string {
    if (this.list.length === 0) return '';
    const shown = this.list.slice(0, SUMMARY_WARNINGS).join('; ');
    const rest = this.count - Math.min(this.list.length, SUMMARY_WARNINGS);
    return `${this.source}: ${shown}${rest > 0 ? ` (and ${rest} more)` : ''}`;
  }
}

// ---------------------------------------------------------------------------------------------
// Small readers

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  switch (typeof v) {
    case 'object': return 'an object';
    case 'string': return 'a string';
    case 'number': return 'a number';
    case 'boolean': return 'a boolean';
    default: return typeof v;
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** A key as it appears in a message: `.details`, or `["we ird"]` (quoted, escaped, cut) for anything unusual. */
function keyLabel(key: string): string {
  if (PLAIN_KEY.test(key)) return `.${key}`;
  return `[${JSON.stringify(key.length > 32 ? `${key.slice(0, 32)}…` : key)}]`;
}

/** A model name quoted for a message (names are validated before, but may be 256 characters long). */
function quoted(name: string): string {
  return JSON.stringify(name.length > 64 ? `${name.slice(0, 64)}…` : name);
}

/** Why `v` is not a usable model name, or null when it is one. */
export function modelNameProblem(v: unknown): string | null {
  if (typeof v !== 'string') return `is ${describe(v)}, not a string`;
  if (v.length === 0) return 'is empty';
  if (v.length > MAX_MODEL_NAME_LENGTH) return `is longer than ${MAX_MODEL_NAME_LENGTH} characters`;
  if (CONTROL.test(v)) return 'contains control characters';
  if (LONE_SURROGATE.test(v)) return 'is not well-formed Unicode';
  if (v.trim() !== v) return 'has leading or trailing whitespace';
  return null;
}

/** Why `v` is not a usable text field of at most `max` characters, or null. */
function textProblem(v: unknown, max: number): string | null {
  if (typeof v !== 'string') return `is ${describe(v)}, not a string`;
  if (v.length > max) return `is longer than ${max} characters`;
  if (CONTROL.test(v)) return 'contains control characters';
  if (LONE_SURROGATE.test(v)) return 'is not well-formed Unicode';
  return null;
}

/** An optional text field: absent or null gives undefined silently; a bad value gives undefined and a warning. */
function text(o: Record<string, unknown>, key: string, at: string, w: Warnings): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  const problem = textProblem(v, MAX_FIELD_LENGTH);
  if (problem === null) return v as string;
  w.add(`${at}.${key} ${problem} (field dropped)`);
  return undefined;
}

/** An optional count (bytes, seconds, tokens): a non-negative safe integer. */
function count(o: Record<string, unknown>, key: string, at: string, w: Warnings): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v;
  w.add(`${at}.${key} is ${typeof v === 'number' ? String(v) : describe(v)}, not a non-negative integer (field dropped)`);
  return undefined;
}

function details(o: Record<string, unknown>, at: string, w: Warnings): ModelDetails | undefined {
  const v = o.details;
  if (v === undefined || v === null) return undefined;
  const here = `${at}.details`;
  if (!isRecord(v)) {
    w.add(`${here} is ${describe(v)}, not an object (field dropped)`);
    return undefined;
  }
  let families: string[] | null | undefined;
  const f = v.families;
  if (f === null) {
    families = null; // Ollama sends null for "none known" (docs/api.md)
  } else if (Array.isArray(f)) {
    families = [];
    for (let i = 0; i < f.length; i++) {
      if (families.length >= MAX_FAMILIES) {
        w.add(`${here}.families has more than ${MAX_FAMILIES} entries (the rest dropped)`);
        break;
      }
      const problem = textProblem(f[i], MAX_FIELD_LENGTH);
      if (problem === null) families.push(f[i] as string);
      else w.add(`${here}.families[${i}] ${problem} (dropped)`);
    }
  } else if (f !== undefined) {
    w.add(`${here}.families is ${describe(f)}, not an array (field dropped)`);
  }
  return new ModelDetails(text(v, 'parent_model', here, w), text(v, 'format', here, w), text(v, 'family', here, w), families,
    text(v, 'parameter_size', here, w), text(v, 'quantization_level', here, w));
}

// ---------------------------------------------------------------------------------------------
// The bounded walk

const TOO_DEEP = 1;
const TOO_MANY = 2;

/** The result of walk(): what was exceeded (0: nothing) and under which key of the root. */
class WalkResult {
  excess: number;
  key: string;
  constructor() {
    this.excess = 0;
    this.key = '';
  }
}

/**
 * Visits every value under `root` (an object or array at nesting level `level`) without recursion,
 * stopping at the first value deeper than MAX_DISCOVERY_DEPTH or after `budget` values. Reports
 * the root's key under which it stopped. `skip` is a key of the root not to visit (the list itself).
 */
function walk(root: object, level: number, budget: number, skip: string | null, out: WalkResult): WalkResult {
  out.excess = 0;
  out.key = '';
  const values: unknown[] = [root];
  const levels: number[] = [level];
  const keys: string[] = [''];
  let visited = 0;
  while (values.length > 0) {
    const v = values.pop() as object;
    const l = levels.pop()!;
    const under = keys.pop()!;
    const isArray = Array.isArray(v);
    for (const k in v) {
      if (v === root && k === skip) continue;
      if (++visited > budget) {
        out.excess = TOO_MANY;
        out.key = v === root ? (isArray ? `[${k}]` : keyLabel(k)) : under;
        return out;
      }
      const child = (v as Record<string, unknown>)[k];
      if (child === null || typeof child !== 'object') continue;
      const key = v === root ? (isArray ? `[${k}]` : keyLabel(k)) : under;
      if (l + 1 > MAX_DISCOVERY_DEPTH) {
        out.excess = TOO_DEEP;
        out.key = key;
        return out;
      }
      values.push(child);
      levels.push(l + 1);
      keys.push(key);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Documents

/** The root object of a discovery answer, or a DiscoveryError naming what it is instead. */
function rootOf(doc: unknown, source: string): Record<string, unknown> {
  if (!isRecord(doc)) throw new DiscoveryError(`${source}: the answer is ${describe(doc)}, not a JSON object`);
  return doc;
}

/**
 * Reads `doc[key]`, the list of one discovery answer, entry by entry with `read` (which returns
 * null after warning about an entry it drops), dropping duplicate names (by canonical name:
 * `mistral` and `mistral:latest` are one model). Throws a DiscoveryError when the document is
 * unusable: not an object, the list not an array or too long, or not one usable entry in it.
 */
function readList<T extends { readonly name: string } | { readonly id: string }>(doc: unknown, source: string, key: string,
  read: (e: Record<string, unknown>, at: string, w: Warnings) => T | null): DiscoveryList<T> {
  const root = rootOf(doc, source);
  const w = new Warnings(source);
  const list = root[key];
  const entries: T[] = [];
  const result = new WalkResult();
  if (walk(root, 1, MAX_OTHER_VALUES, key, result).excess !== 0) {
    w.add(result.excess === TOO_DEEP ? `${result.key.replace(/^\./, '')} nested deeper than ${MAX_DISCOVERY_DEPTH} levels (ignored)`
      : `more than ${MAX_OTHER_VALUES} values outside ${key} (ignored)`);
  }
  if (list === undefined || list === null) {
    w.add(`${key} is missing: no models`);
    return { entries, warnings: w };
  }
  if (!Array.isArray(list)) throw new DiscoveryError(`${source}: ${key} is ${describe(list)}, not an array`);
  if (list.length > MAX_DISCOVERY_ENTRIES) {
    throw new DiscoveryError(`${source}: ${key} has ${list.length} entries, more than ${MAX_DISCOVERY_ENTRIES}`);
  }
  const seen = new Map<string, number>();
  for (let i = 0; i < list.length; i++) {
    const at = `${key}[${i}]`;
    const e: unknown = list[i];
    if (!isRecord(e)) {
      w.add(`${at} is ${describe(e)}, not an object (entry dropped)`);
      continue;
    }
    // Levels: the document 1, the list 2, the entry 3.
    if (walk(e, 3, MAX_ENTRY_VALUES, null, result).excess !== 0) {
      w.add(result.excess === TOO_DEEP ? `${at}${result.key} nested deeper than ${MAX_DISCOVERY_DEPTH} levels (entry dropped)`
        : `${at} has more than ${MAX_ENTRY_VALUES} values (entry dropped)`);
      continue;
    }
    const entry = read(e, at, w);
    if (entry === null) continue;
    const name = 'name' in entry ? entry.name : entry.id;
    const canonical = canonicalModelName(name);
    const first = seen.get(canonical);
    if (first !== undefined) {
      w.add(`${at} names ${quoted(name)} again, as ${key}[${first}] did (entry dropped)`);
      continue;
    }
    seen.set(canonical, i);
    entries.push(entry);
  }
  if (list.length > 0 && entries.length === 0) {
    // Every entry was dropped: name the first one's defect (the others are alike, or in the log).
    const first = w.list.find((m) => m.startsWith(`${key}[`)) ?? '';
    throw new DiscoveryError(`${source}: none of the ${list.length} ${key} entries is usable (${first.replace(/ \(entry dropped\)$/, '')})`);
  }
  return { entries, warnings: w };
}

/** An Ollama entry's name: `name`, else `model` (both are the same in real answers); null after a warning. */
function ollamaName(e: Record<string, unknown>, at: string, w: Warnings): { name: string; model: string } | null {
  const key = e.name !== undefined && e.name !== null ? 'name' : 'model';
  const name = e[key];
  if (name === undefined || name === null) {
    w.add(`${at} has no name (entry dropped)`);
    return null;
  }
  const problem = modelNameProblem(name);
  if (problem !== null) {
    w.add(`${at}.${key} ${problem} (entry dropped)`);
    return null;
  }
  let model = name as string;
  if (key === 'name' && e.model !== undefined && e.model !== null) {
    const p = modelNameProblem(e.model);
    if (p === null) model = e.model as string;
    else w.add(`${at}.model ${p} (field replaced by name)`);
  }
  return { name: name as string, model };
}

function readTag(e: Record<string, unknown>, at: string, w: Warnings): OllamaTag | null {
  const n = ollamaName(e, at, w);
  if (n === null) return null;
  return new OllamaTag(n.name, n.model, text(e, 'modified_at', at, w), count(e, 'size', at, w), text(e, 'digest', at, w), details(e, at, w));
}

function readLoaded(e: Record<string, unknown>, at: string, w: Warnings): OllamaLoaded | null {
  const n = ollamaName(e, at, w);
  if (n === null) return null;
  return new OllamaLoaded(n.name, n.model, count(e, 'size', at, w), text(e, 'digest', at, w), details(e, at, w),
    text(e, 'expires_at', at, w), count(e, 'size_vram', at, w), count(e, 'context_length', at, w));
}

function readOpenAi(e: Record<string, unknown>, at: string, w: Warnings): OpenAiModel | null {
  const id = e.id;
  const problem = id === undefined || id === null ? 'is missing' : modelNameProblem(id);
  if (problem !== null) {
    w.add(`${at}.id ${problem} (entry dropped)`);
    return null;
  }
  return new OpenAiModel(id as string, count(e, 'created', at, w), text(e, 'owned_by', at, w));
}

/** GET /api/tags: `{ models: [...] }`. */
export function readOllamaTags(doc: unknown, source = 'GET /api/tags'): DiscoveryList<OllamaTag> {
  return readList(doc, source, 'models', readTag);
}

/** GET /api/ps: `{ models: [...] }` (models resident in vRAM). */
export function readOllamaPs(doc: unknown, source = 'GET /api/ps'): DiscoveryList<OllamaLoaded> {
  return readList(doc, source, 'models', readLoaded);
}

/** GET /v1/models: `{ object: "list", data: [...] }`. */
export function readOpenAiModels(doc: unknown, source = 'GET /v1/models'): DiscoveryList<OpenAiModel> {
  return readList(doc, source, 'data', readOpenAi);
}

/** The outcome of readVersion: the version, or null with the reason (null too when the answer has none). */
export class VersionAnswer {
  readonly version: string | null;
  readonly problem: string | null;
  constructor(version: string | null, problem: string | null) {
    this.version = version;
    this.problem = problem;
  }
}

/** GET /api/version: `{ version: "0.12.10" }`. Never throws: a bad version is only not used. */
export function readVersion(doc: unknown, source = 'GET /api/version'): VersionAnswer {
  if (!isRecord(doc)) return new VersionAnswer(null, `${source}: the answer is ${describe(doc)}, not a JSON object`);
  const v = doc.version;
  if (v === undefined) return new VersionAnswer(null, `${source}: version is missing`);
  if (typeof v !== 'string') return new VersionAnswer(null, `${source}: version is ${describe(v)}, not a string`);
  if (v.length === 0 || v.length > MAX_VERSION_LENGTH || !VERSION.test(v)) {
    return new VersionAnswer(null, `${source}: version ${quoted(v)} is not a version string`);
  }
  return new VersionAnswer(v, null);
}

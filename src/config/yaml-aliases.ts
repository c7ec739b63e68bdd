/**
 * The alias budget of a config file: how many values its aliases (`*name`) stand for once
 * expanded. A "billion laughs" document (`a: &a [x, x, …]`, `b: &b [*a, *a, …]`, …) is a few
 * hundred bytes whose expansion has billions of values; anything that walks the parsed config
 * (validation, freezing, --print-config) would run for ever or run out of memory on it.
 *
 * The yaml package's own guard (`maxAliasCount`, default 100) counts uses, not size: it refuses
 * a sane config that points 101 endpoints at one `health: &h {…}` anchor, names no position, and
 * throws from toJS(). This counts the expanded size exactly, in one pass over the parsed nodes
 * (each anchor's size memoised), and names the alias that crosses the budget. It also finds an
 * alias to an anchor not defined before it, which toJS() would throw on without a position.
 */
import { isAlias, isCollection, isPair, type Alias, type Document, type Node } from 'yaml';

/** Values aliases may add to a document: ~590k for the largest sane use (65535 endpoints, one shared health anchor). */
export const MAX_ALIASED_VALUES = 1_000_000;

interface Walk {
  readonly anchors: Map<string, unknown>;
  /** Expanded sizes of anchored nodes. */
  readonly sizes: Map<unknown, number>;
  readonly open: Set<unknown>;
  /** Values added by aliases so far. */
  aliased: number;
  /** The alias that crossed the budget. */
  over: Node | null;
  /** The first alias with no anchor of its name before it. */
  dangling: Alias | null;
}

/** Values under `node`, itself included, aliases expanded; stops early once the budget is crossed. */
function size(node: unknown, w: Walk): number {
  if (w.over !== null || node === null || typeof node !== 'object') return 0;
  if (isAlias(node)) {
    // Document order: the anchor in the map is the last one defined before this alias (YAML 1.2 §7.1).
    const target = w.anchors.get(node.source);
    if (target === undefined) w.dangling ??= node;
    // An anchor still open (a recursive alias) is one value, as toJS makes it a reference.
    const n = target === undefined || w.open.has(target) ? 1 : (w.sizes.get(target) ?? 1);
    w.aliased += n;
    if (w.aliased > MAX_ALIASED_VALUES) w.over = node;
    return n;
  }
  const anchor = (node as { anchor?: string }).anchor;
  if (typeof anchor === 'string') w.anchors.set(anchor, node);
  let n = 1;
  if (isPair(node)) {
    n = size(node.key, w) + size(node.value, w);
  } else if (isCollection(node)) {
    w.open.add(node);
    for (const item of node.items) n += size(item, w);
    w.open.delete(node);
  }
  if (typeof anchor === 'string') w.sizes.set(node, n);
  return n;
}

/**
 * What is wrong with the document's aliases: the alias whose expansion takes it past
 * MAX_ALIASED_VALUES (`over`), the first alias to an anchor not defined before it (`dangling`).
 */
export function checkAliases(doc: Document): { over: Node | null; dangling: Alias | null } {
  const w: Walk = { anchors: new Map(), sizes: new Map(), open: new Set(), aliased: 0, over: null, dangling: null };
  size(doc.contents, w);
  return { over: w.over, dangling: w.dangling };
}

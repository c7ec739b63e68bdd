import type { CatalogModel } from '../core/catalog.js';
import type { ModelInfoTable } from '../state/model-info.js';

/**
 * Characters per token are a property of a tokeniser, and models of one family share theirs
 * (`/api/show` details.family: llama, qwen2, gemma3…). A model nobody has sampled yet starts from
 * what its family's sampled models learned (their mean), instead of models.chars_per_token; its own
 * samples then take over (protocol/token-estimate.ts). Written by the primary after each
 * accounting pass; a seed never counts as a sample (tokenSamples stays 0), so the seed follows the
 * family until the model has samples of its own. A worker's first sample racing this write may be
 * lost: one sample.
 */
export function seedFromFamilies(models: readonly CatalogModel[], familyOf: (name: string) => string | null, info: ModelInfoTable): void {
  const sums = new Map<string, { milli: number; n: number }>();
  for (const m of models) {
    if (info.tokenSamples(m.index) === 0) continue;
    const family = familyOf(m.name);
    const milli = info.charsPerTokenMilli(m.index);
    if (family === null || milli === 0) continue;
    const s = sums.get(family) ?? { milli: 0, n: 0 };
    s.milli += milli;
    s.n++;
    sums.set(family, s);
  }
  if (sums.size === 0) return;
  for (const m of models) {
    if (info.tokenSamples(m.index) !== 0) continue;
    const family = familyOf(m.name);
    const s = family === null ? undefined : sums.get(family);
    if (s !== undefined) info.seedCharsPerToken(m.index, Math.round(s.milli / s.n));
  }
}

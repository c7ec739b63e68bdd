import t from 'tap';
import { createSegment } from '../../../src/state/segment.js';
import { seedFromFamilies } from '../../../src/primary/family-ratio.js';
import type { CatalogModel } from '../../../src/core/catalog.js';

t.test('a model not yet sampled starts from its family\'s learned ratio; its own samples take over', async (t) => {
  const info = createSegment({ maxEndpoints: 1, maxModels: 5, sessionSlots: 16, maxWorkers: 1 }, null).modelInfo;
  const models: CatalogModel[] = ['qwen-a', 'qwen-b', 'qwen-new', 'llama-new', 'nofamily'].map((name, index) => ({ index, name, endpoints: [0] }));
  const family: Record<string, string | null> = { 'qwen-a': 'qwen2', 'qwen-b': 'qwen2', 'qwen-new': 'qwen2', 'llama-new': 'llama', nofamily: null };
  seedFromFamilies(models, (n) => family[n] ?? null, info);
  t.equal(info.charsPerTokenMilli(2), 0, 'nothing learned anywhere: nothing seeded');
  info.learnCharsPerToken(0, 3000);
  info.learnCharsPerToken(1, 3400);
  seedFromFamilies(models, (n) => family[n] ?? null, info);
  t.equal(info.charsPerTokenMilli(2), 3200, 'the family\'s mean');
  t.equal(info.tokenSamples(2), 0, 'a seed is not a sample');
  t.equal(info.charsPerTokenMilli(3), 0, 'another family: untouched');
  t.equal(info.charsPerTokenMilli(4), 0, 'no family: untouched');
  t.equal(info.charsPerTokenMilli(0), 3000, 'sampled models keep their own');
  info.learnCharsPerToken(2, 2500);
  info.learnCharsPerToken(1, 4400);
  seedFromFamilies(models, (n) => family[n] ?? null, info);
  t.equal(info.charsPerTokenMilli(2), 2500, 'once sampled, its own ratio is never overwritten');
});

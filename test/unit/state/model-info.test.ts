import t from 'tap';
import { createSegment } from '../../../src/state/segment.js';

t.test('the learned chars-per-token ratio and its sample count, per model, beside the other model facts', async (t) => {
  const info = createSegment({ maxEndpoints: 2, maxModels: 3, sessionSlots: 16, maxWorkers: 1 }, null).modelInfo;
  t.equal(info.charsPerTokenMilli(1), 0, 'nothing learned: the configured ratio applies');
  t.equal(info.tokenSamples(1), 0);
  info.setMaxContext(1, 8192);
  info.setNeedMiB(1, 900);
  info.learnCharsPerToken(1, 3500);
  info.learnCharsPerToken(1, 3250);
  t.equal(info.charsPerTokenMilli(1), 3250);
  t.equal(info.tokenSamples(1), 2);
  t.equal(info.maxContext(1), 8192, 'the other fields untouched');
  t.equal(info.needMiB(1), 900);
  t.equal(info.charsPerTokenMilli(0), 0, 'neighbours untouched');
  t.equal(info.charsPerTokenMilli(2), 0);
});

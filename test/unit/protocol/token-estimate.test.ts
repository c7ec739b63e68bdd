import t from 'tap';
import { calibratedRatio, estimateTokens, MIN_SAMPLE_CHARS } from '../../../src/protocol/token-estimate.js';

t.test('tokens from characters at a ratio kept ×1000', async (t) => {
  t.equal(estimateTokens(0, 4000), 0);
  t.equal(estimateTokens(9, 4000), 3, 'rounded up');
  t.equal(estimateTokens(9000, 3000), 3000);
  t.equal(estimateTokens(10, 2500), 4);
});

t.test('a prompt that takes more tokens than thought pulls the ratio down fast', async (t) => {
  let r = 4000;
  const seen: number[] = [];
  for (let i = 0; i < 8; i++) {
    r = calibratedRatio(r, 3000, 1000); // a tokeniser of 3 characters a token
    seen.push(r);
  }
  t.same(seen.slice(0, 3), [3500, 3250, 3125]);
  t.ok(r >= 3000 && r <= 3010, `converged on 3.0 (${r})`);
});

t.test('samples that show fewer tokens are believed only a little, and not at all when far off', async (t) => {
  t.equal(calibratedRatio(4000, 4800, 1000), 4000 + (800 >> 5), 'within a quarter above: 1/32 of the gap');
  t.equal(calibratedRatio(4000, 20_000, 1000), 0, 'five times the ratio: Ollama counted only the uncached tail');
  t.equal(calibratedRatio(4000, 30_000, 10), 0, 'beyond any tokeniser');
  t.equal(calibratedRatio(4000, 3000, 3100), 0, 'under one character a token: no tokeniser');
});

t.test('short prompts are not sampled: the template\'s own tokens would dominate them', async (t) => {
  t.equal(calibratedRatio(4000, MIN_SAMPLE_CHARS - 1, 300), 0);
  t.equal(calibratedRatio(4000, MIN_SAMPLE_CHARS, 0), 0, 'no count');
  t.equal(calibratedRatio(4000, MIN_SAMPLE_CHARS, 1024), 3000);
});

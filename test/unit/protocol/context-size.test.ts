import t from 'tap';
import { chooseNumCtx } from '../../../src/protocol/context-size.js';
import { INSERTION_LENGTH, numCtxInsertion, withNumCtx } from '../../../src/protocol/num-ctx-injection.js';

const BUCKETS = [2048, 4096, 8192, 16384, 32768, 65536, 131072];

t.test('the smallest bucket that holds what the request needs', async (t) => {
  t.equal(chooseNumCtx(1500, 0, 0, BUCKETS, 0), 2048);
  t.equal(chooseNumCtx(2049, 0, 0, BUCKETS, 0), 4096);
  t.equal(chooseNumCtx(20_000, 0, 0, BUCKETS, 16384), 16384, 'capped at the model\'s maximum');
  t.equal(chooseNumCtx(200_000, 0, 0, BUCKETS, 0), 200_000, 'above every bucket: what it needs');
});

t.test('the resident runner\'s size whenever the request fits it: never a needless reload', async (t) => {
  t.equal(chooseNumCtx(1500, 0, 8192, BUCKETS, 0), 8192, 'small prompt, big runner: the runner');
  t.equal(chooseNumCtx(1500, 2048, 8192, BUCKETS, 0), 8192, 'an explicit smaller num_ctx is raised to the runner\'s');
  t.equal(chooseNumCtx(9000, 0, 8192, BUCKETS, 0), 16384, 'more than the runner has: one reload, at a bucket');
  t.equal(chooseNumCtx(1500, 10_000, 8192, BUCKETS, 0), 16384, 'an explicit larger one: rounded up to a bucket');
  // A conversation that grows: the same size turn after turn until it no longer fits.
  const sizes = [500, 900, 1400, 2100, 3200].map((tokens) => chooseNumCtx(tokens + 1024, 0, 4096, BUCKETS, 0));
  t.same(sizes, [4096, 4096, 4096, 4096, 8192]);
});

t.test('num_ctx goes into the body: inserted when there are no options, set inside them when there are', async (t) => {
  const plain = withNumCtx(Buffer.from(' {"model":"m","messages":[]}'), 4096, false);
  t.same(JSON.parse(plain.toString()), { options: { num_ctx: 4096 }, model: 'm', messages: [] });
  t.equal(plain.toString(), '{"options":{"num_ctx":4096},"model":"m","messages":[]}', 'the rest of the bytes untouched');
  const withOptions = withNumCtx(Buffer.from('{"model":"m","options":{"temperature":0.2,"num_ctx":1024}}'), 8192, true);
  t.same(JSON.parse(withOptions.toString()), { model: 'm', options: { temperature: 0.2, num_ctx: 8192 } });
});

t.test('the insertion in front of the body has one length whatever the size, and is JSON', async (t) => {
  for (const n of [1, 2048, 131072, 0x7fffffff]) {
    const ins = numCtxInsertion(n);
    t.equal(ins.length, INSERTION_LENGTH, `num_ctx ${n}`);
    t.same(JSON.parse(`${ins}"model":"m"}`), { options: { num_ctx: n }, model: 'm' });
  }
  t.equal(numCtxInsertion(4096), '{"options":{"num_ctx":      4096},', 'right-aligned: the Content-Length is known before the size');
});

import t from 'tap';
import { ModelSequence } from '../../../src/primary/model-sequence.js';

t.test('predicts the model that usually follows, with its probability', async (t) => {
  const s = new ModelSequence(100);
  for (let i = 0; i < 10; i++) for (const m of [1, 2, 3]) s.observe(m); // 1 → 2 → 3 → 1 …
  t.same(s.predict(1, 0.6, 4), { model: 2, probability: 1 });
  t.same(s.predict(3, 0.6, 4), { model: 1, probability: 1 }, '9 transitions 3 → 1');
  t.equal(s.predict(7, 0.1, 1), null, 'never seen');
  t.equal(s.predict(1, 0.6, 20), null, 'too few samples for the asked minimum');
});

t.test('below the confidence threshold, or a model following itself, predicts nothing', async (t) => {
  const s = new ModelSequence(100);
  for (const m of [1, 2, 1, 3, 1, 2, 1, 3, 1, 4]) s.observe(m); // after 1: 2, 3, 2, 3, 4
  t.same(s.predict(1, 0.4, 4), { model: 2, probability: 0.4 });
  t.equal(s.predict(1, 0.5, 4), null);
  const same = new ModelSequence(100);
  for (let i = 0; i < 10; i++) same.observe(5);
  t.equal(same.predict(5, 0.5, 4), null, 'already the current model');
});

t.test('only the last `window` requests count: a shift in popularity is learnt', async (t) => {
  const s = new ModelSequence(8);
  for (let i = 0; i < 20; i++) for (const m of [1, 2]) s.observe(m);
  t.same(s.predict(1, 0.9, 3), { model: 2, probability: 1 });
  for (let i = 0; i < 4; i++) for (const m of [1, 3]) s.observe(m);
  t.equal(s.length, 8);
  t.same(s.predict(1, 0.9, 3), { model: 3, probability: 1 }, 'the old pattern has left the window entirely');
  t.equal(s.predict(2, 0.1, 1), null, 'transitions out of 2 left with it');
});

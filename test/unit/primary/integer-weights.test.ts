import t from 'tap';
import { integerWeights } from '../../../src/primary/integer-weights.js';

t.same(integerWeights([3, 1]), [3, 1]);
t.same(integerWeights([1, 1, 1]), [1, 1, 1]);
t.same(integerWeights([0.5, 1]), [1, 2]);
t.same(integerWeights([1.5, 0.25]), [6, 1]);
t.same(integerWeights([2, 4, 6]), [1, 2, 3]);
t.same(integerWeights([0.0001]), [1], 'tiny weights stay positive');

import { STATUS_CODES } from 'node:http';
import t from 'tap';
import { REASON_PHRASES } from '../../../src/server/status-lines.js';

t.test('the reason phrases are node:http\'s, every one', async (t) => {
  t.same({ ...REASON_PHRASES }, Object.fromEntries(Object.entries(STATUS_CODES).map(([k, v]) => [k, v])));
});

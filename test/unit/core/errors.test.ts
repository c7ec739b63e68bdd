import t from 'tap';
import { readFileSync } from 'node:fs';
import { HTTP_ERRORS, ConfigError, CorralError } from '../../../src/core/errors.js';

const doc = readFileSync(new URL('../../../docs/ERRORS.md', import.meta.url), 'utf8');

t.test('every error code is documented with its status', async (t) => {
  for (const E of HTTP_ERRORS) {
    const row = doc.split('\n').find((l) => l.startsWith(`| \`${E.code}\` |`));
    t.ok(row, `${E.code} has a row in docs/ERRORS.md`);
    t.match(row ?? '', new RegExp(`\\| ${E.status} \\|`), `${E.code} documented as ${E.status}`);
  }
  t.match(doc, ConfigError.code);
});

t.test('codes are unique, stable-shaped, and carried by instances', async (t) => {
  const codes = HTTP_ERRORS.map((E) => E.code);
  t.equal(new Set(codes).size, codes.length);
  for (const E of HTTP_ERRORS) {
    t.match(E.code, /^CORRAL_ERR_[A-Z_]+$/);
    const e = new E();
    t.ok(e instanceof CorralError);
    t.equal(e.code, E.code);
    t.equal(e.status, E.status);
    t.ok(e.message.length > 0, `${E.code} has a default message`);
    t.equal(new E('custom').message, 'custom');
  }
});

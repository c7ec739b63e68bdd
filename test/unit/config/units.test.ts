import t from 'tap';
import { formatDuration, formatSize, parseDuration, parseSize } from '../../../src/config/units.js';

t.test('parseSize', async (t) => {
  t.equal(parseSize(1024), 1024);
  t.equal(parseSize(0), 0);
  t.equal(parseSize('50MiB'), 50 * 1024 * 1024);
  t.equal(parseSize('512KiB'), 512 * 1024);
  t.equal(parseSize('1GB'), 1_000_000_000);
  t.equal(parseSize('16kb'), 16_000);
  t.equal(parseSize('16KB'), 16_000);
  t.equal(parseSize('2gib'), 2 * 1024 ** 3);
  t.equal(parseSize('1.5MiB'), 1.5 * 1024 * 1024);
  t.equal(parseSize('100B'), 100);
  t.equal(parseSize(' 4 MiB '), 4 * 1024 * 1024);
  t.equal(parseSize('2048'), 2048, 'digits alone are bytes');
  for (const bad of [-1, 1.5, NaN, Infinity, '', 'MiB', '10XB', '-5MiB', '1e3', 'ten', true, null, undefined, {}, [1]]) {
    t.equal(parseSize(bad), null, `invalid: ${JSON.stringify(bad)}`);
  }
});

t.test('parseDuration', async (t) => {
  t.equal(parseDuration(250), 250);
  t.equal(parseDuration(0), 0);
  t.equal(parseDuration('250ms'), 250);
  t.equal(parseDuration('30s'), 30_000);
  t.equal(parseDuration('5m'), 300_000);
  t.equal(parseDuration('1h'), 3_600_000);
  t.equal(parseDuration('1.5s'), 1500);
  t.equal(parseDuration('30S'), 30_000, 'case-insensitive');
  t.equal(parseDuration('2d'), 2 * 86_400_000);
  for (const bad of [-1, 2.5, '30', '', 's', '5 minutes', '1h30m', '-1s', 'fast', false, null, undefined]) {
    t.equal(parseDuration(bad), null, `invalid: ${JSON.stringify(bad)}`);
  }
});

t.test('format round-trips', async (t) => {
  t.equal(formatDuration(30_000), '30s');
  t.equal(formatDuration(1500), '1500ms');
  t.equal(formatDuration(300_000), '5m');
  t.equal(formatSize(50 * 1024 * 1024), '50MiB');
  t.equal(formatSize(1000), '1000B');
  for (const ms of [100, 2000, 1_800_000, 3_600_000]) t.equal(parseDuration(formatDuration(ms)), ms);
  for (const b of [16 * 1024, 50 * 1024 * 1024, 7]) t.equal(parseSize(formatSize(b)), b);
});

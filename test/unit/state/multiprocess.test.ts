/**
 * Real processes on one named segment: two children (test/fixtures/state-child.ts) each do
 * 200,000 endpoints.acquire(0) and race sessions.pin on the same 1,000 keys.
 *
 * The children are started with child_process.fork and tap's own TypeScript loader (the
 * `--import …@tapjs/typescript…` entry of this process's execArgv), so no prior `tsc` build is
 * needed. The test waits on their 'exit' events, never on timers.
 */
import t from 'tap';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createSegment, releaseSegment } from '../../../src/state/segment.js';
import { hash32 } from '../../../src/state/hash.js';

const CHILD = fileURLToPath(new URL('../../fixtures/state-child.ts', import.meta.url));
const CHILDREN = 2;

function runChild(name: string, id: number): Promise<number | null> {
  const execArgv = process.execArgv.filter((a) => a.includes('@tapjs/typescript'));
  const child = fork(CHILD, [name, String(id), String(CHILDREN)], { execArgv, stdio: 'inherit' });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => resolve(code));
  });
}

t.test('two processes: exact Atomics counter, one slot per raced session key', async (t) => {
  const name = `corral-test-mp-${process.pid}`;
  const seg = createSegment({ maxEndpoints: 8, maxModels: 4, sessionSlots: 4096, maxWorkers: 4 }, name);
  t.teardown(() => releaseSegment(name));

  const codes = await Promise.all([runChild(name, 1), runChild(name, 2)]);
  t.same(codes, [0, 0], 'both children exit 0');
  t.equal(seg.endpoints.inflight(0), 400_000, 'acquire(0) counted exactly across processes');
  t.equal(seg.endpoints.inflight(1), CHILDREN, 'barrier saw every child');

  const now = seg.header.nowSec();
  const entries = seg.sessions.entries();
  const copies = new Map<string, number>();
  for (const e of entries) copies.set(`${e.hi}:${e.lo}`, (copies.get(`${e.hi}:${e.lo}`) ?? 0) + 1);
  let missing = 0;
  let dup = 0;
  let badEndpoint = 0;
  for (let k = 0; k < 1000; k++) {
    const hi = hash32(`session-${k}`, 0x9e3779b9);
    const lo = hash32(`session-${k}`, 0x85ebca6b);
    const n = copies.get(`${hi}:${lo}`) ?? 0;
    if (n === 0) missing++;
    if (n > 1) dup++;
    const ep = seg.sessions.lookup(hi, lo, now);
    if (ep !== 1 && ep !== 2) badEndpoint++;
  }
  t.equal(missing, 0, 'every key present');
  t.equal(dup, 0, 'no key present twice');
  t.equal(badEndpoint, 0, 'lookup from the parent returns a child\'s endpoint');
  t.equal(entries.length, 1000, 'nothing else in the table');
  t.equal(seg.sessions.count(), 1000);
});

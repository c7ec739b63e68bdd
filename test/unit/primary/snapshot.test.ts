import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pack, unpack } from 'msgpackr';
import t from 'tap';
import { restoreSnapshot, writeSnapshot } from '../../../src/primary/snapshot.js';
import { ModelNeeds } from '../../../src/primary/model-needs.js';
import { hash32 } from '../../../src/state/hash.js';
import { H_CREATED_AT_SEC } from '../../../src/state/layout.js';
import { createSegment, Segment } from '../../../src/state/segment.js';
import { CircuitState } from '../../../src/state/endpoints.js';

const SIZES = { maxEndpoints: 8, maxModels: 4, sessionSlots: 256, maxWorkers: 1 };
const TTL = 30 * 60_000;

/** A fresh in-process segment; `ageSec` pretends it was created that long ago. */
function segment(ageSec = 0, sizes = SIZES): Segment {
  const s = createSegment(sizes, null);
  if (ageSec === 0) return s;
  const h = new Int32Array(s.sab, 0, 16);
  Atomics.store(h, H_CREATED_AT_SEC, Atomics.load(h, H_CREATED_AT_SEC) - ageSec);
  return new Segment(null, s.sab, s.layout);
}

const key = (k: string): [number, number] => [hash32(k, 1), hash32(k, 2)];

t.test('round trip: pins and latency survive into a new segment, with the same names', async (t) => {
  const dir = t.testdir({});
  const file = join(dir, 'state.msgpack');
  const names = ['gpu0', 'gpu1', 'gpu2'];
  const old = segment(1000);
  const now = old.header.nowSec();
  const keys = Array.from({ length: 50 }, (_, i) => key(`conv-${i}`));
  keys.forEach(([hi, lo], i) => old.sessions.pin(hi, lo, i % 3, now - i));
  // Keys the table normalises (sentinel hi values, lo 0), and hi/lo with the top bit set.
  const odd: Array<[number, number]> = [[0, 0], [0xffffffff, 7], [0xfffffffe, 9], [-1, -5], [0x80000000, 0xffffffff]];
  odd.forEach(([hi, lo], i) => old.sessions.pin(hi, lo, i % 3, now));
  old.endpoints.recordLatencyUs(1, 250_000);
  old.endpoints.addRequest(1);
  old.endpoints.addFailure(2);
  old.endpoints.casCircuit(2, CircuitState.Closed, CircuitState.Open);

  const written = writeSnapshot(file, old, names, TTL);
  t.same(written, { sessions: 55, endpoints: 3, modelNeeds: 0 });

  const fresh = segment();
  const restored = restoreSnapshot(file, fresh, names, TTL);
  t.same(restored, { sessions: 55, endpoints: 3, modelNeeds: 0 });
  const freshNow = fresh.header.nowSec();
  keys.forEach(([hi, lo], i) => t.equal(fresh.sessions.lookup(hi, lo, freshNow), i % 3, `conv-${i}`));
  odd.forEach(([hi, lo], i) => t.equal(fresh.sessions.lookup(hi, lo, freshNow), i % 3, `odd key ${hi}/${lo}`));
  t.equal(fresh.endpoints.ewmaLatencyUs(1), 250_000, 'ewma restored');
  t.equal(fresh.endpoints.ewmaLatencyUs(0), 0, 'no sample stays no sample');
  t.equal(fresh.endpoints.requests(1), 0, 'counters start from zero');
  t.equal(fresh.endpoints.circuit(2), CircuitState.Closed, 'circuit is not carried over');

  const raw = unpack(readFileSync(file)) as Record<string, unknown>;
  t.equal(raw.format, 'corral-state');
  t.equal(raw.version, 1);
  t.ok(Math.abs((raw.writtenAtMs as number) - Date.now()) < 10_000, 'wall-clock time');
  t.same(raw.endpoints, [
    { name: 'gpu0', requests: 0, failures: 0, ewmaUs: 0, circuit: 0 },
    { name: 'gpu1', requests: 1, failures: 0, ewmaUs: 250_000, circuit: 0 },
    { name: 'gpu2', requests: 0, failures: 1, ewmaUs: 0, circuit: CircuitState.Open },
  ]);
});

t.test('last-seen times are converted to the new segment epoch', async (t) => {
  const dir = t.testdir({});
  const file = join(dir, 's');
  const old = segment(5000);
  const [hi, lo] = key('x');
  old.sessions.pin(hi, lo, 0, old.header.nowSec() - 120);
  const lastSeenUnix = old.header.createdAtSec + old.sessions.entries()[0]!.lastSeenSec;
  writeSnapshot(file, old, ['a'], TTL);
  const fresh = segment();
  restoreSnapshot(file, fresh, ['a'], TTL);
  const e = fresh.sessions.entries();
  t.equal(e.length, 1);
  t.equal(fresh.header.createdAtSec + e[0]!.lastSeenSec, lastSeenUnix, 'same absolute last use');
  t.ok(e[0]!.lastSeenSec < 0, 'used before the new segment existed: negative, like any i32');
  // The sweeper still expires it on schedule: 120 s old, so a 60 s TTL sweeps it, 30 m does not.
  t.equal(fresh.sessions.sweep(fresh.header.nowSec(), 1800), 0);
  t.equal(fresh.sessions.sweep(fresh.header.nowSec(), 60), 1);
});

t.test('reordered, removed and added endpoints: pins follow the name', async (t) => {
  const dir = t.testdir({});
  const file = join(dir, 'state');
  const old = segment();
  const now = old.header.nowSec();
  const pins = { a: key('to-a'), b: key('to-b'), c: key('to-c') };
  old.sessions.pin(...pins.a, 0, now);
  old.sessions.pin(...pins.b, 1, now);
  old.sessions.pin(...pins.c, 2, now);
  old.endpoints.recordLatencyUs(0, 1000);
  old.endpoints.recordLatencyUs(1, 2000);
  old.endpoints.recordLatencyUs(2, 3000);
  writeSnapshot(file, old, ['a', 'b', 'c'], TTL);

  const reordered = segment();
  t.same(restoreSnapshot(file, reordered, ['c', 'a', 'b'], TTL), { sessions: 3, endpoints: 3, modelNeeds: 0 });
  const n = reordered.header.nowSec();
  t.equal(reordered.sessions.lookup(...pins.a, n), 1);
  t.equal(reordered.sessions.lookup(...pins.b, n), 2);
  t.equal(reordered.sessions.lookup(...pins.c, n), 0);
  t.same([0, 1, 2].map((i) => reordered.endpoints.ewmaLatencyUs(i)), [3000, 1000, 2000]);

  const shrunk = segment();
  t.same(restoreSnapshot(file, shrunk, ['new', 'c', 'a'], TTL), { sessions: 2, endpoints: 2, modelNeeds: 0 });
  const m = shrunk.header.nowSec();
  t.equal(shrunk.sessions.lookup(...pins.a, m), 2);
  t.equal(shrunk.sessions.lookup(...pins.b, m), -1, 'b is gone: its pin is dropped');
  t.equal(shrunk.sessions.lookup(...pins.c, m), 1);
  t.equal(shrunk.sessions.count(), 2);
  t.equal(shrunk.endpoints.ewmaLatencyUs(0), 0, 'a new endpoint starts without history');
});

t.test('expired pins are dropped (on write and on restore)', async (t) => {
  const dir = t.testdir({});
  const file = join(dir, 'state');
  const old = segment(100_000);
  const now = old.header.nowSec();
  const fresh = key('fresh');
  const hourOld = key('hour-old');
  const dayOld = key('day-old');
  old.sessions.pin(...fresh, 0, now - 5);
  old.sessions.pin(...hourOld, 0, now - 3600);
  old.sessions.pin(...dayOld, 0, now - 86_400);
  // Written with a 2 h TTL: the day-old pin is already expired and is not written.
  t.same(writeSnapshot(file, old, ['a'], 2 * 3600_000), { sessions: 2, endpoints: 1, modelNeeds: 0 });
  // Restored with 30 min: the hour-old pin has expired too.
  const seg = segment();
  t.same(restoreSnapshot(file, seg, ['a'], TTL), { sessions: 1, endpoints: 1, modelNeeds: 0 });
  t.equal(seg.sessions.lookup(...fresh, seg.header.nowSec()), 0);
  t.equal(seg.sessions.lookup(...hourOld, seg.header.nowSec()), -1);
  t.equal(seg.sessions.lookup(...dayOld, seg.header.nowSec()), -1);
});

t.test('pins to an index outside the endpoint list are not written', async (t) => {
  const dir = t.testdir({});
  const file = join(dir, 'state');
  const old = segment();
  old.sessions.pin(...key('ok'), 0, old.header.nowSec());
  old.sessions.pin(...key('stale'), 5, old.header.nowSec());
  t.same(writeSnapshot(file, old, ['a'], TTL), { sessions: 1, endpoints: 1, modelNeeds: 0 });
});

t.test("'' marks an unused segment row (a gap left by a reload), on write and on restore", async (t) => {
  const dir = t.testdir({});
  const file = join(dir, 'state');
  const old = segment();
  const now = old.header.nowSec();
  old.sessions.pin(...key('to-a'), 0, now);
  old.sessions.pin(...key('to-gap'), 1, now);
  old.sessions.pin(...key('to-c'), 2, now);
  t.same(writeSnapshot(file, old, ['a', '', 'c'], TTL), { sessions: 2, endpoints: 2, modelNeeds: 0 });
  const raw = unpack(readFileSync(file)) as { endpoints: Array<{ name: string }> };
  t.same(raw.endpoints.map((e) => e.name), ['a', 'c']);

  const fresh = segment();
  t.same(restoreSnapshot(file, fresh, ['', 'c', '', 'a'], TTL), { sessions: 2, endpoints: 2, modelNeeds: 0 });
  const n = fresh.header.nowSec();
  t.equal(fresh.sessions.lookup(...key('to-a'), n), 3);
  t.equal(fresh.sessions.lookup(...key('to-c'), n), 1);
  t.equal(fresh.sessions.lookup(...key('to-gap'), n), -1);
});

t.test('a restore into a smaller table keeps what fits', async (t) => {
  const dir = t.testdir({});
  const file = join(dir, 'state');
  const old = segment(0, { ...SIZES, sessionSlots: 1024 });
  for (let i = 0; i < 500; i++) old.sessions.pin(...key(`k${i}`), 0, old.header.nowSec());
  writeSnapshot(file, old, ['a'], TTL);
  const small = segment(0, { ...SIZES, sessionSlots: 64 });
  restoreSnapshot(file, small, ['a'], TTL);
  t.ok(small.sessions.count() <= 64 && small.sessions.count() > 0);
});

t.test('a missing file restores nothing, silently', async (t) => {
  const dir = t.testdir({});
  const seg = segment();
  t.same(restoreSnapshot(join(dir, 'nope'), seg, ['a'], TTL), { sessions: 0, endpoints: 0, modelNeeds: 0 });
  t.equal(seg.sessions.count(), 0);
});

t.test('corrupt, truncated or foreign files throw a clear error and change nothing', async (t) => {
  const dir = t.testdir({});
  const good = join(dir, 'good');
  const old = segment();
  old.sessions.pin(...key('k'), 0, old.header.nowSec());
  old.endpoints.recordLatencyUs(0, 500);
  writeSnapshot(good, old, ['a'], TTL);
  const bytes = readFileSync(good);
  const valid = unpack(bytes) as Record<string, unknown>;

  const cases: Array<[string, Buffer | Uint8Array, RegExp]> = [
    ['truncated', bytes.subarray(0, bytes.length - 3), /state file .*truncated|state file .*not usable/],
    ['garbage', Buffer.from('this is not msgpack at all, just text\n'), /not usable/],
    ['empty', Buffer.alloc(0), /not usable/],
    ['another msgpack document', pack({ hello: 'world' }), /not a corral state file/],
    ['a newer version', pack({ ...valid, version: 2 }), /format version 2, this build reads version 1/],
    ['a session pointing past the endpoint list', pack({ ...valid, sessions: [1, 2, 7, 3] }), /malformed session entry 0/],
    ['sessions not a multiple of 4', pack({ ...valid, sessions: [1, 2, 0] }), /truncated/],
    ['a bad endpoint entry', pack({ ...valid, endpoints: [{ name: 3 }] }), /malformed endpoint entry/],
  ];
  for (const [what, content, message] of cases) {
    const file = join(dir, what.replace(/\W+/g, '-'));
    writeFileSync(file, content);
    const seg = segment();
    t.throws(() => restoreSnapshot(file, seg, ['a'], TTL), message, what);
    t.equal(seg.sessions.count(), 0, `${what}: no pins applied`);
    t.equal(seg.endpoints.ewmaLatencyUs(0), 0, `${what}: no latency applied`);
  }
  t.throws(() => restoreSnapshot(dir, segment(), ['a'], TTL), /state file .*cannot read it \(EISDIR\)/, 'a directory');
});

t.test('writes are atomic: no .tmp left, an old snapshot replaced whole', async (t) => {
  const dir = t.testdir({ state: 'previous contents' });
  const file = join(dir, 'state');
  const seg = segment();
  seg.sessions.pin(...key('k'), 0, seg.header.nowSec());
  writeSnapshot(file, seg, ['a'], TTL);
  t.same(readdirSync(dir), ['state']);
  t.equal(restoreSnapshot(file, segment(), ['a'], TTL).sessions, 1);

  // A parent directory that does not exist yet is created.
  const nested = join(dir, 'var', 'lib', 'corral.state');
  writeSnapshot(nested, seg, ['a'], TTL);
  t.ok(existsSync(nested));
  t.notOk(existsSync(`${nested}.tmp`));

  // A failed write (here: the target is a directory) leaves no .tmp behind.
  const target = join(dir, 'target');
  mkdirSync(target);
  t.throws(() => writeSnapshot(target, seg, ['a'], TTL), 'renaming over a directory fails');
  t.notOk(existsSync(`${target}.tmp`), 'no .tmp left behind after a failure');
});

t.test('learned vRAM needs survive a restart; a malformed entry refuses the file', async (t) => {
  const dir = t.testdir({});
  const file = join(dir, 'state.msgpack');
  const old = createSegment({ maxEndpoints: 2, maxModels: 2, sessionSlots: 16, maxWorkers: 1 }, null);
  const needs = new ModelNeeds();
  needs.observe('qwen2.5:7b', 4096, 5_000_000_000);
  needs.observe('qwen2.5:7b', 32768, 7_000_000_000);
  needs.observe('llama3.2', 0, 2_000_000_000);
  t.same(writeSnapshot(file, old, ['a'], TTL, needs), { sessions: 0, endpoints: 1, modelNeeds: 3 });
  const fresh = createSegment({ maxEndpoints: 2, maxModels: 2, sessionSlots: 16, maxWorkers: 1 }, null);
  const restored = new ModelNeeds();
  t.same(restoreSnapshot(file, fresh, ['a'], TTL, restored), { sessions: 0, endpoints: 1, modelNeeds: 3 });
  t.same(restored.need('qwen2.5:7b', 4096, 0, 1.2), { bytes: 5_000_000_000, source: 'learned' });
  t.same(restored.need('qwen2.5:7b', 0, 0, 1.2), { bytes: 7_000_000_000, source: 'learned' }, 'the latest stays the latest');
  t.same(restored.need('llama3.2:latest', 0, 0, 1.2), { bytes: 2_000_000_000, source: 'learned' }, 'either spelling');
  t.same(restored.need('qwen2.5:7b', 8192, 4_000_000_000, 1.2), { bytes: 4_800_000_000, source: 'estimate' }, 'an unseen context is estimated');
  writeFileSync(file, pack({ format: 'corral-state', version: 1, writtenAtMs: 1, endpoints: [], sessions: [], modelNeeds: [['m', 0, 0]] }));
  t.throws(() => restoreSnapshot(file, fresh, ['a'], TTL, new ModelNeeds()), /malformed model need 0/);
});

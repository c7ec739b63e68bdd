import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import {
  attachSegment, createSegment, releaseSegment, segmentName, sweepStaleSegments,
} from '../../../src/state/segment.js';
import { openSharedMemory } from '../../../native-bindings/index.js';
import { H_VERSION, LAYOUT_VERSION, SEGMENT_MAGIC } from '../../../src/state/layout.js';

const sizes = { maxEndpoints: 5, maxModels: 3, sessionSlots: 32, maxWorkers: 3 };

t.test('segmentName', async (t) => {
  t.equal(segmentName(1234), 'corral-1234');
});

t.test('attach sees what create wrote, both ways', async (t) => {
  const name = `corral-test-seg-${process.pid}`;
  const a = createSegment(sizes, name);
  t.teardown(() => releaseSegment(name));
  const b = attachSegment(name);
  t.equal(b.name, name);
  t.same(b.sizes, sizes);
  t.equal(b.header.createdAtSec, a.header.createdAtSec);
  a.endpoints.acquire(4);
  b.endpoints.acquire(4);
  t.equal(a.endpoints.inflight(4), 2);
  b.sessions.pin(11, 22, 3, 1);
  t.equal(a.sessions.lookup(11, 22, 1), 3);
  a.stats.add(2, 0, 5);
  t.equal(b.stats.sum(0), 5);
  t.throws(() => createSegment(sizes, name), /File exists/, 'create refuses an existing name');
});

t.test('attach rejects a wrong magic or version, and a missing name', async (t) => {
  const junk = `corral-test-junk-${process.pid}`;
  const raw = new Int32Array(openSharedMemory(junk, 4096, true));
  t.teardown(() => releaseSegment(junk));
  raw[0] = 0x12345678;
  t.throws(() => attachSegment(junk), /not a corral segment/);

  const old = `corral-test-old-${process.pid}`;
  const seg = createSegment(sizes, old);
  t.teardown(() => releaseSegment(old));
  const h = new Int32Array(seg.sab, 0, 8);
  t.equal(h[0], SEGMENT_MAGIC);
  h[H_VERSION] = LAYOUT_VERSION + 1;
  t.throws(() => attachSegment(old), /layout version/);

  t.throws(() => attachSegment(`corral-test-none-${process.pid}`), /No such file/);
});

t.test('release unlinks the name but the mapping stays valid', async (t) => {
  const name = `corral-test-rel-${process.pid}`;
  const seg = createSegment(sizes, name);
  releaseSegment(name);
  t.throws(() => attachSegment(name), /No such file/);
  seg.endpoints.acquire(0);
  t.equal(seg.endpoints.inflight(0), 1);
  t.doesNotThrow(() => releaseSegment(name), 'releasing twice is harmless');
});

t.test('sweepStaleSegments removes a dead pid\'s segment, keeps a live one', async (t) => {
  const child = spawn(process.execPath, ['-e', '']);
  const deadPid = child.pid!;
  await new Promise((resolve) => child.once('exit', resolve));
  const dead = segmentName(deadPid);
  const live = segmentName(process.pid);
  createSegment(sizes, dead);
  createSegment(sizes, live);
  t.teardown(() => {
    releaseSegment(dead);
    releaseSegment(live);
  });
  const swept = sweepStaleSegments();
  t.ok(swept.includes(dead), 'dead segment swept');
  t.notOk(swept.includes(live));
  t.notOk(existsSync(`/dev/shm/${dead}`));
  t.ok(existsSync(`/dev/shm/${live}`));
});

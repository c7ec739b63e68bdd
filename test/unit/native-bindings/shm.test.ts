import t from 'tap';
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { openSharedMemory, unlinkSharedMemory } from '../../../native-bindings/index.js';

const ADDON = fileURLToPath(new URL('../../../native-bindings/build/Release/corral_shm.node', import.meta.url));

t.test('create and attach share memory', async (t) => {
  const name = `corral-test-shm-${process.pid}`;
  const a = openSharedMemory(name, 8192, true);
  t.teardown(() => unlinkSharedMemory(name));
  t.ok(a instanceof SharedArrayBuffer);
  t.equal(a.byteLength, 8192);
  const va = new Int32Array(a);
  t.equal(va.reduce((x, y) => x + y, 0), 0, 'zero-filled');
  Atomics.add(va, 100, 7);
  const b = openSharedMemory(`/${name}`, 8192, false); // leading slash accepted too
  t.equal(Atomics.load(new Int32Array(b), 100), 7);
  t.throws(() => openSharedMemory(name, 8192, true), { code: 'EEXIST' });
  t.throws(() => openSharedMemory(name, 16384, false), /expected at least 16384/);
});

t.test('unlink and errors', async (t) => {
  const name = `corral-test-shm2-${process.pid}`;
  openSharedMemory(name, 4096, true);
  t.equal(unlinkSharedMemory(name), true);
  t.equal(unlinkSharedMemory(name), false);
  t.throws(() => openSharedMemory(name, 4096, false), { code: 'ENOENT' });
  t.throws(() => openSharedMemory('a/b', 4096, false), /invalid shared-memory name/);
  t.throws(() => openSharedMemory(name, 0, true), /positive integer/);
});

t.test('context-aware: a worker thread loads the addon and sees the same memory', async (t) => {
  const name = `corral-test-shm3-${process.pid}`;
  const sab = openSharedMemory(name, 4096, true);
  t.teardown(() => unlinkSharedMemory(name));
  const w = new Worker(
    `const { workerData } = require('node:worker_threads');
     const m = require(workerData.addon);
     Atomics.add(new Int32Array(m.open(workerData.name, 4096, false)), 0, 41);`,
    { eval: true, workerData: { addon: ADDON, name: `/${name}` } },
  );
  const code = await new Promise((resolve, reject) => { w.once('error', reject); w.once('exit', resolve); });
  t.equal(code, 0);
  t.equal(Atomics.load(new Int32Array(sab), 0), 41);
});

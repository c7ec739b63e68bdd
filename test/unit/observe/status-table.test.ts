import t from 'tap';
import { printable, renderStatusTable, sparkline } from '../../../src/observe/status-table.js';
import { dashboardView } from '../../../src/observe/dashboard-view.js';

const GiB = 1024 ** 3;

function status(modelName: string): unknown {
  return {
    mode: 'cluster', pid: 1, uptime_s: 75, sessions: 0, counters: { requests: 3, responses_5xx: 0 },
    endpoints: [{
      name: 'gpu', type: 'ollama', state: 'down', circuit: 'open', inflight: 1, max_concurrency: 4, ewma_first_byte_ms: 12.5,
      last_error: 'GET /api/ps: HTTP 500', loading: null,
      vram: { total_bytes: 8 * GiB, reserve_bytes: 1 * GiB, used_bytes: 4 * GiB, free_bytes: 3 * GiB },
      residents: [{ model: modelName, size_vram: 4 * GiB, context_length: 4096, expires_at: null, inflight: 1, pinned: true }],
    }],
    models: [{ name: modelName, loading_on: null, need_bytes: 4 * GiB, queue_depth: 3, endpoints: [{ name: 'gpu', loaded: true, inflight: 1 }] }],
    workers: [],
  };
}

t.test('a control character in a backend\'s name never reaches the terminal', async (t) => {
  const hostile = 'evil\x1b]0;pwned\x07\x1b[2J:7b';
  const text = renderStatusTable(dashboardView(status(hostile), null, 0), { colour: false, width: 120 });
  t.notMatch(text, /[\x00-\x09\x0b-\x1f\x7f-\x9f]/, 'no control character but newlines');
  t.match(text, 'evil?]0;pwned??[2J:7b', 'each shown as ?');
  t.equal(printable('a\u009bb'), 'a?b', 'C1 controls too (CSI as one byte)');
});

t.test('colour only when asked; the figures either way', async (t) => {
  const plain = renderStatusTable(dashboardView(status('qwen2.5:7b'), null, 0), { colour: false, width: 120 });
  t.notMatch(plain, '\x1b[');
  t.match(plain, /^gpu +down +open +1\/4 +0 +12\.5 ms +\[████████░░░░░░▒▒\] 4\.0 GiB \/ 8\.0 GiB$/m);
  t.match(plain, /^ {2}└ qwen2\.5:7b {2}4\.0 GiB {2}ctx 4096 {2}kept {2}1 in flight {2}pinned$/m);
  t.match(plain, /^ {2}! GET \/api\/ps: HTTP 500$/m);
  t.match(plain, /^qwen2\.5:7b +gpu +1 +3 +4\.0 GiB$/m, 'a queue depth, when the status has one');
  const coloured = renderStatusTable(dashboardView(status('qwen2.5:7b'), null, 0), { colour: true, width: 120 });
  t.match(coloured, '\x1b[31mdown \x1b[0m', 'down in red');
  t.match(coloured, '\x1b[31mopen   \x1b[0m', 'an open circuit in red');
});

t.test('sparklines in block characters, gaps for intervals without a figure', async (t) => {
  t.equal(sparkline([0, 1, 2, 4, null, 8], 10), '▁▁▂▄ █');
  t.equal(sparkline([0, 0], 10), '▁▁', 'all zero: the floor');
  t.equal(sparkline([1, 2, 3, 4], 2), '▆█', 'the last n only');
});

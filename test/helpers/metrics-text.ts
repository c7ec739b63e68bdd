// Reading a Prometheus text exposition in tests: sample lines, the metric names it exports, and
// promtool's opinion of it.
import { spawn } from 'node:child_process';
import { request } from 'undici';

/** Runs promtool with `args`, `input` on stdin: its exit code and everything it printed. */
export function promtool(args: string[], input = ''): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn('promtool', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.on('error', (err) => resolve({ code: -1, output: `promtool not runnable (${err.message}): apt-get install prometheus (.ci/run does)` }));
    child.on('close', (code) => resolve({ code, output }));
    child.stdin.end(input);
  });
}

/** promtool check metrics: exit 0 and no complaint, or the problem it names. */
export function promtoolCheck(text: string): Promise<{ code: number | null; output: string }> {
  return promtool(['check', 'metrics'], text);
}

/** Sample lines as `name{labels}` → value. */
export function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

/**
 * Every series name a query may use: each sample's name, and each family named in `# TYPE` (with a
 * histogram's `_bucket`, `_sum` and `_count`), so a family without samples yet (no eviction so far)
 * still counts as exported.
 */
export function exportedNames(text: string): Set<string> {
  const out = new Set<string>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)/.exec(line);
    if (type !== null) {
      out.add(type[1]!);
      if (type[2] === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) out.add(`${type[1]}${suffix}`);
    } else if (line !== '' && !line.startsWith('#')) {
      out.add(/^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)![0]);
    }
  }
  return out;
}

export async function scrapeMetrics(baseUrl: string, accept?: string): Promise<{ type: string; text: string }> {
  const res = await request(`${baseUrl}/metrics`, { headers: accept === undefined ? {} : { accept } });
  return { type: String(res.headers['content-type']), text: await res.body.text() };
}

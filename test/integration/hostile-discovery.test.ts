// Hostile discovery answers (issue 10, "Hardening"): whatever one backend answers to GET /api/tags,
// /api/ps, /api/version or /v1/models — deep nesting, huge arrays, wrong types, `__proto__`,
// control characters, absurd names — affects that endpoint only. One corral (2 workers) runs every
// case: a scripted backend switches its answer, the test waits (bounded polls, no sleeps) for the
// endpoint's last_error to name the defect, and checks that the healthy endpoint served requests
// before, during and after, that /internal/ready stayed 200, and that the catalog answers parse.
// The regression this guards: a deeply nested /api/tags made the catalog build throw and every
// endpoint went down in turn.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import t, { type Test } from 'tap';
import { startBackends, startCorral, type CorralProcess } from '../helpers/corral-process.js';
import { send } from '../helpers/http.js';
import { HI, MODEL } from '../helpers/sim.js';
import { until } from '../helpers/wait.js';

/** A backend that answers GETs with whatever text the test set last, and 404 otherwise. */
class ScriptedBackend {
  readonly url: string;
  #answers: Record<string, string>;
  readonly #server: ReturnType<typeof createServer>;
  constructor(server: ReturnType<typeof createServer>, answers: Record<string, string>) {
    this.#server = server;
    this.#answers = answers;
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  static async start(t: Test, answers: Record<string, string>): Promise<ScriptedBackend> {
    let backend: ScriptedBackend | null = null;
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      const body = backend!.#answers[req.url ?? ''];
      req.resume();
      if (req.method !== 'GET' || body === undefined) {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
    });
    server.keepAliveTimeout = 1000;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.teardown(() => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }));
    backend = new ScriptedBackend(server, answers);
    return backend;
  }

  /** Answers from now on (paths not given keep their answer). */
  set(answers: Record<string, string>): void {
    this.#answers = { ...this.#answers, ...answers };
  }
}

// ---------------------------------------------------------------------------------------------
// Answers

function tagEntry(name: string): Record<string, unknown> {
  return {
    name, model: name, modified_at: '2025-01-01T00:00:00Z', size: 1_300_000_000, digest: 'a'.repeat(64),
    details: { parent_model: '', format: 'gguf', family: 'llama', families: ['llama'], parameter_size: '1B', quantization_level: 'Q4_K_M' },
  };
}

const tags = (...entries: unknown[]): string => JSON.stringify({ models: entries });
const deepArray = (levels: number): string => `${'['.repeat(levels)}0${']'.repeat(levels)}`;
const deepObject = (levels: number): string => `${'{"a":'.repeat(levels)}0${'}'.repeat(levels)}`;

const OLLAMA_OK = { '/api/version': '{"version":"0.9.0"}', '/api/tags': tags(tagEntry('hostile-base:1b')), '/api/ps': '{"models":[]}' };
const OPENAI_OK = { '/v1/models': JSON.stringify({ object: 'list', data: [{ id: 'ai-base', object: 'model', created: 1, owned_by: 'me' }] }) };

interface Case {
  name: string;
  endpoint: 'bad-ollama' | 'bad-openai';
  answers: Record<string, string>;
  /** The endpoint's state once the answer is taken in: kept serving the valid rest, or down. */
  state: 'healthy' | 'down';
  /** What its last_error must say. */
  error: RegExp;
  /** Models of its answer that must be listed (in /api/tags for Ollama, /v1/models for OpenAI) once it is taken in. */
  kept?: string[];
}

const CASES: Case[] = [
  {
    name: 'deep nesting inside one model\'s details', endpoint: 'bad-ollama', state: 'healthy',
    answers: { '/api/tags': `{"models":[${JSON.stringify(tagEntry('kept-1:1b'))},{"name":"deep:1b","details":{"x":${deepObject(20_000)}}}]}` },
    error: /^GET \/api\/tags: models\[1\]\.details nested deeper than 32 levels \(entry dropped\)$/, kept: ['kept-1:1b'],
  },
  {
    name: 'deep nesting at the top level, beside a usable list', endpoint: 'bad-ollama', state: 'healthy',
    answers: { '/api/tags': `{"models":[${JSON.stringify(tagEntry('kept-2:1b'))}],"extra":${deepArray(20_000)}}` },
    error: /^GET \/api\/tags: extra nested deeper than 32 levels \(ignored\)$/, kept: ['kept-2:1b'],
  },
  {
    name: 'a document that is nothing but nesting', endpoint: 'bad-ollama', state: 'down',
    answers: { '/api/tags': deepArray(100_000) },
    error: /^GET \/api\/tags: the answer is an array, not a JSON object$/,
  },
  {
    name: 'a 100k-entry models array', endpoint: 'bad-ollama', state: 'down',
    answers: { '/api/tags': tags(...Array.from({ length: 100_000 }, (_, i) => ({ name: `m${i}` }))) },
    error: /^GET \/api\/tags: models has 100000 entries, more than 4096$/,
  },
  {
    name: 'models is not an array', endpoint: 'bad-ollama', state: 'down',
    answers: { '/api/tags': '{"models":{"name":"x:1b"}}' },
    error: /^GET \/api\/tags: models is an object, not an array$/,
  },
  {
    name: 'entries that are numbers, strings and null', endpoint: 'bad-ollama', state: 'healthy',
    answers: { '/api/tags': tags(1, 'llama3.2:1b', null, tagEntry('kept-6:1b')) },
    error: /^GET \/api\/tags: models\[0\] is a number, not an object \(entry dropped\); models\[1\] is a string, not an object \(entry dropped\); models\[2\] is null, not an object \(entry dropped\)$/,
    kept: ['kept-6:1b'],
  },
  {
    name: 'no usable entry at all', endpoint: 'bad-ollama', state: 'down',
    answers: { '/api/tags': tags(1, 'x', null) },
    error: /^GET \/api\/tags: none of the 3 models entries is usable \(models\[0\] is a number, not an object\)$/,
  },
  {
    name: 'names that are objects, arrays and numbers', endpoint: 'bad-ollama', state: 'healthy',
    answers: { '/api/tags': tags({ name: { x: 1 } }, { name: [MODEL] }, { name: 5 }, tagEntry('kept-8:1b')) },
    error: /^GET \/api\/tags: models\[0\]\.name is an object, not a string \(entry dropped\); models\[1\]\.name is an array/,
    kept: ['kept-8:1b'],
  },
  {
    name: '__proto__ and constructor as keys and names', endpoint: 'bad-ollama', state: 'healthy',
    answers: {
      '/api/tags': '{"__proto__":{"polluted":true},"models":[{"name":"__proto__","__proto__":{"x":1}},'
        + '{"name":"constructor","constructor":{"prototype":{"y":1}}},{"name":{"__proto__":{"admin":true}}},'
        + `${JSON.stringify(tagEntry('kept-9:1b'))}]}`,
    },
    error: /^GET \/api\/tags: models\[2\]\.name is an object, not a string \(entry dropped\)$/,
    kept: ['__proto__', 'constructor', 'kept-9:1b'],
  },
  {
    name: 'control characters and NULs in names', endpoint: 'bad-ollama', state: 'healthy',
    answers: { '/api/tags': tags({ name: 'nul\u0000name:1b' }, { name: 'line\nbreak:1b' }, { name: 'esc\u001b[31m:1b' }, tagEntry('kept-10:1b')) },
    error: /^GET \/api\/tags: models\[0\]\.name contains control characters \(entry dropped\); models\[1\]\.name contains control/,
    kept: ['kept-10:1b'],
  },
  {
    name: '1 MB names', endpoint: 'bad-ollama', state: 'healthy',
    answers: { '/api/tags': tags({ name: 'x'.repeat(1 << 20) }, tagEntry('kept-11:1b')) },
    error: /^GET \/api\/tags: models\[0\]\.name is longer than 256 characters \(entry dropped\)$/, kept: ['kept-11:1b'],
  },
  {
    name: 'empty and padded names', endpoint: 'bad-ollama', state: 'healthy',
    answers: { '/api/tags': tags({ name: '' }, { name: ' padded:1b ' }, tagEntry('kept-12:1b')) },
    error: /^GET \/api\/tags: models\[0\]\.name is empty \(entry dropped\); models\[1\]\.name has leading or trailing whitespace/,
    kept: ['kept-12:1b'],
  },
  {
    name: 'duplicate names', endpoint: 'bad-ollama', state: 'healthy',
    answers: { '/api/tags': tags(tagEntry('kept-13'), tagEntry('kept-13:latest'), tagEntry('kept-13b:1b'), tagEntry('kept-13b:1b')) },
    error: /^GET \/api\/tags: models\[1\] names "kept-13:latest" again, as models\[0\] did \(entry dropped\); models\[3\] names "kept-13b:1b" again/,
    kept: ['kept-13', 'kept-13b:1b'],
  },
  {
    name: 'huge numbers and wrong field types', endpoint: 'bad-ollama', state: 'healthy',
    answers: { '/api/tags': '{"models":[{"name":"kept-14:1b","size":1e400,"digest":12,"details":{"families":"llama"}}]}' },
    error: /^GET \/api\/tags: models\[0\]\.size is Infinity, not a non-negative integer \(field dropped\); models\[0\]\.digest is a number/,
    kept: ['kept-14:1b'],
  },
  {
    name: 'a version of the wrong type', endpoint: 'bad-ollama', state: 'healthy',
    answers: { '/api/version': '{"version":{"major":99}}', '/api/tags': tags(tagEntry('kept-15:1b')) },
    error: /^GET \/api\/version: version is an object, not a string$/, kept: ['kept-15:1b'],
  },
  {
    name: 'a version that is not a version', endpoint: 'bad-ollama', state: 'healthy',
    answers: { '/api/version': JSON.stringify({ version: `99999.0${'\u0000'.repeat(10)}` }) },
    error: /^GET \/api\/version: version "99999\.0\\u0000/,
  },
  {
    name: 'a hostile /api/ps beside a good /api/tags', endpoint: 'bad-ollama', state: 'healthy',
    answers: {
      '/api/version': '{"version":"0.9.0"}', '/api/tags': tags(tagEntry('kept-17:1b')),
      '/api/ps': `{"models":[{"name":"kept-17:1b","details":${deepObject(20_000)}}]}`,
    },
    error: /^GET \/api\/ps: none of the 1 models entries is usable \(models\[0\]\.details nested deeper than 32 levels\) \(loaded models unknown\)$/,
    kept: ['kept-17:1b'],
  },
  {
    name: 'not JSON', endpoint: 'bad-ollama', state: 'down',
    answers: { '/api/ps': '{"models":[]}', '/api/tags': '{"models":[' },
    error: /^GET \/api\/tags: invalid JSON/,
  },
  {
    name: 'an answer larger than 8 MiB', endpoint: 'bad-ollama', state: 'down',
    answers: { '/api/tags': `{"models":[],"pad":"${'x'.repeat(9 << 20)}"}` },
    error: /^GET \/api\/tags: answer larger than 8388608 bytes$/,
  },
  {
    name: '/v1/models: data is not an array', endpoint: 'bad-openai', state: 'down',
    answers: { '/v1/models': '{"object":"list","data":"ai-x"}' },
    error: /^GET \/v1\/models: data is a string, not an array$/,
  },
  {
    name: '/v1/models: ids that are objects, deep nesting, wrong types', endpoint: 'bad-openai', state: 'healthy',
    answers: { '/v1/models': `{"data":[{"id":{"a":1}},{"id":"ai-deep","meta":${deepArray(20_000)}},{"id":"ai-kept","created":"today"}]}` },
    error: /^GET \/v1\/models: data\[0\]\.id is an object, not a string \(entry dropped\); data\[1\]\.meta nested deeper than 32 levels \(entry dropped\); data\[2\]\.created is a string/,
    kept: ['ai-kept'],
  },
];

// ---------------------------------------------------------------------------------------------

interface EndpointStatus {
  name: string;
  state: string;
  last_error: string | null;
}

async function endpointStatus(corral: CorralProcess, name: string): Promise<EndpointStatus> {
  const doc = await corral.status() as { endpoints: EndpointStatus[] };
  return doc.endpoints.find((e) => e.name === name)!;
}

/** A chat with the healthy endpoint's model in each dialect: both must be served by it. */
async function chat(corral: CorralProcess): Promise<string[]> {
  const problems: string[] = [];
  const ollama = await send(corral, 'POST', '/api/chat', JSON.stringify({ model: MODEL, messages: HI, stream: false }));
  if (ollama.status !== 200 || ollama.headers['x-corral-endpoint'] !== 'good') problems.push(`/api/chat: ${ollama.status} ${JSON.stringify(ollama.body)}`);
  const openai = await send(corral, 'POST', '/v1/chat/completions', JSON.stringify({ model: MODEL, messages: HI }));
  if (openai.status !== 200 || openai.headers['x-corral-endpoint'] !== 'good') problems.push(`/v1/chat/completions: ${openai.status} ${JSON.stringify(openai.body)}`);
  return problems;
}

/** The healthy side is whole: requests served, ready, the catalog answers parse. */
async function healthySide(t: Test, corral: CorralProcess, when: string): Promise<void> {
  t.same(await chat(corral), [], `${when}: the healthy endpoint's model is served in both dialects`);
  const ready = await send(corral, 'GET', '/internal/ready');
  t.equal(ready.status, 200, `${when}: /internal/ready is 200`);
  t.equal((await endpointStatus(corral, 'good')).state, 'healthy', `${when}: the healthy endpoint stays healthy`);
  for (const path of ['/api/tags', '/api/ps', '/v1/models', '/api/version']) {
    const res = await send(corral, 'GET', path);
    t.equal(res.status, 200, `${when}: GET ${path} answers`);
    t.equal(typeof res.body, 'object', `${when}: GET ${path} is JSON`);
  }
}

async function catalogNames(corral: CorralProcess, path: '/api/tags' | '/v1/models'): Promise<string[]> {
  const res = await send(corral, 'GET', path);
  return path === '/api/tags' ? (res.body as { models: { name: string }[] }).models.map((m) => m.name)
    : (res.body as { data: { id: string }[] }).data.map((m) => m.id);
}

t.test('hostile discovery answers affect their endpoint only', async (t) => {
  const [good] = await startBackends(t, [{ name: 'good' }]);
  const badOllama = await ScriptedBackend.start(t, OLLAMA_OK);
  const badOpenai = await ScriptedBackend.start(t, OPENAI_OK);
  const fast = { interval: '100ms', fast_interval: '50ms', timeout: '2s' };
  const corral = await startCorral(t, [good!], {
    config: { routing: { discovery_interval: '100ms' } },
    endpoints: [
      { name: 'good' },
      { name: 'bad-ollama', url: badOllama.url, type: 'ollama', health: fast },
      { name: 'bad-openai', url: badOpenai.url, type: 'openai', health: fast },
    ],
  });
  await until('every endpoint healthy', async () => {
    const doc = await corral.status() as { endpoints: EndpointStatus[] };
    return doc.endpoints.every((e) => e.state === 'healthy');
  });
  await healthySide(t, corral, 'before any hostile answer');
  const goodVersion = (await send(corral, 'GET', '/api/version')).body.version as string;

  for (const c of CASES) {
    await t.test(c.name, async (t) => {
      (c.endpoint === 'bad-ollama' ? badOllama : badOpenai).set(c.answers);
      // A request racing the discovery that takes the new answer in.
      const during = chat(corral);
      let seen: EndpointStatus | null = null;
      await until(`${c.endpoint}: ${c.state} with last_error ${c.error}`, async () => {
        seen = await endpointStatus(corral, c.endpoint);
        return seen.state === c.state && c.error.test(seen.last_error ?? '');
      }, 20_000).catch((err: Error) => {
        const last = seen as EndpointStatus | null;
        throw new Error(`${err.message}; last seen: ${last?.state}, ${JSON.stringify(last?.last_error?.slice(0, 300))}`);
      });
      t.match(seen!.last_error, c.error, 'last_error names the defect');
      t.ok(seen!.last_error!.length < 2000, 'last_error is bounded');
      t.same(await during, [], 'requests were served while the answer was taken in');
      await healthySide(t, corral, 'after');
      if (c.kept !== undefined) {
        const path = c.endpoint === 'bad-ollama' ? '/api/tags' : '/v1/models';
        await until(`${c.kept.join(', ')} listed`, async () => {
          const names = await catalogNames(corral, path);
          return c.kept!.every((n) => names.includes(n));
        });
        t.pass(`the valid rest is kept: ${c.kept.join(', ')}`);
      }
      t.equal((await send(corral, 'GET', '/api/version')).body.version, goodVersion, "a bad version never becomes corral's");
    });
    // Back to a sane answer between cases, so each case starts from a healthy endpoint.
    (c.endpoint === 'bad-ollama' ? badOllama : badOpenai).set(c.endpoint === 'bad-ollama' ? OLLAMA_OK : OPENAI_OK);
    await until(`${c.endpoint} healthy again after "${c.name}"`, async () => {
      const e = await endpointStatus(corral, c.endpoint);
      return e.state === 'healthy' && e.last_error === null;
    }, 20_000);
  }

  await healthySide(t, corral, 'after every case');
  const names = await catalogNames(corral, '/api/tags');
  t.ok(names.every((n) => n.length <= 256 && !/[\u0000-\u001f]/.test(n)), 'no hostile name ever reached the catalog');
  const doc = await corral.status() as { workers: { restarts: number }[] };
  t.ok(doc.workers.every((w) => w.restarts === 0), 'no worker restarted');
  t.notOk(corral.logs.some((l) => l.msg === 'catalog rebuild failed; the previous catalog is kept'), 'the catalog build never failed');
  t.notOk(corral.logs.some((l) => l.msg === 'endpoint down' && l.endpoint === 'good'), 'the healthy endpoint never went down');
});

// The discovery sanitiser (src/primary/discovery-shapes.ts): whatever a backend answers, the
// result is bounded, shaped, serialisable, and each defect is named.
import t, { type Test } from 'tap';
import { readFileSync } from 'node:fs';
import {
  MAX_DISCOVERY_DEPTH, MAX_DISCOVERY_ENTRIES, MAX_FAMILIES, MAX_WARNINGS, OllamaTag,
  modelNameProblem, readOllamaPs, readOllamaTags, readOpenAiModels, readVersion,
} from '../../../src/primary/discovery-shapes.js';
import { DiscoveryError } from '../../../src/core/errors.js';

/** A real /api/tags entry (Ollama docs/api.md, "List Local Models"). */
function tag(name: unknown, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name, model: name, modified_at: '2023-11-04T14:56:49.277302595-07:00', size: 7365960935,
    digest: '9f438cb9cd581fc025612d27f7c1a6669ff83a8bb0ed86c94fcf4c5440555697',
    details: { parent_model: '', format: 'gguf', family: 'llama', families: null, parameter_size: '13B', quantization_level: 'Q4_0' },
    ...extra,
  };
}

/** `levels` nested arrays around a 0: `[[[0]]]` for 3. Built as text and parsed: V8's JSON.parse does not recurse. */
function nested(levels: number): unknown {
  return JSON.parse(`${'['.repeat(levels)}0${']'.repeat(levels)}`);
}

function deepObject(levels: number): unknown {
  return JSON.parse(`${'{"a":'.repeat(levels)}0${'}'.repeat(levels)}`);
}

/** The DiscoveryError `fn` throws (failing the test when it throws none or another error). */
function discoveryError(t: Test, fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    t.ok(err instanceof DiscoveryError, 'a DiscoveryError');
    t.equal((err as InstanceType<typeof DiscoveryError>).code, 'CORRAL_ERR_DISCOVERY');
    return (err as Error).message;
  }
  t.fail('expected a DiscoveryError');
  return '';
}

t.test('a real /api/tags answer is kept field for field, and nothing else', async (t) => {
  const doc = { models: [tag('codellama:13b', { remote_host: 'x', extra: { deep: [1] } }), tag('llama3:latest')] };
  const r = readOllamaTags(doc);
  t.equal(r.warnings.count, 0);
  t.equal(r.entries.length, 2);
  t.ok(r.entries[0] instanceof OllamaTag);
  t.same(JSON.parse(JSON.stringify(r.entries[0])), {
    name: 'codellama:13b', model: 'codellama:13b', modified_at: '2023-11-04T14:56:49.277302595-07:00', size: 7365960935,
    digest: '9f438cb9cd581fc025612d27f7c1a6669ff83a8bb0ed86c94fcf4c5440555697',
    details: { parent_model: '', format: 'gguf', family: 'llama', families: null, parameter_size: '13B', quantization_level: 'Q4_0' },
  }, 'documented fields only; families: null kept');
});

t.test('a real /api/ps answer keeps expires_at, size_vram and context_length', async (t) => {
  const r = readOllamaPs({ models: [{ ...tag('mistral:latest'), expires_at: '2024-06-04T14:38:31.83753-07:00', size_vram: 5137025024, context_length: 8192 }] });
  t.equal(r.warnings.count, 0);
  t.match(JSON.parse(JSON.stringify(r.entries[0])), { name: 'mistral:latest', expires_at: '2024-06-04T14:38:31.83753-07:00', size_vram: 5137025024, context_length: 8192 });
  t.notOk('modified_at' in JSON.parse(JSON.stringify(r.entries[0])), '/api/ps entries have no modified_at');
});

t.test('a real /v1/models answer', async (t) => {
  const r = readOpenAiModels({ object: 'list', data: [{ id: 'meta-llama/Llama-3.1-8B', object: 'model', created: 1715367049, owned_by: 'vllm', root: 'x', max_model_len: 8192 }] });
  t.same(JSON.parse(JSON.stringify(r.entries)), [{ id: 'meta-llama/Llama-3.1-8B', object: 'model', created: 1715367049, owned_by: 'vllm' }]);
});

t.test('wholly unusable documents are DiscoveryErrors naming the defect', async (t) => {
  t.equal(discoveryError(t, () => readOllamaTags(null)), 'GET /api/tags: the answer is null, not a JSON object');
  t.equal(discoveryError(t, () => readOllamaTags([1, 2])), 'GET /api/tags: the answer is an array, not a JSON object');
  t.equal(discoveryError(t, () => readOllamaTags('models')), 'GET /api/tags: the answer is a string, not a JSON object');
  t.equal(discoveryError(t, () => readOllamaTags({ models: { a: 1 } })), 'GET /api/tags: models is an object, not an array');
  t.equal(discoveryError(t, () => readOpenAiModels({ data: 'x' })), 'GET /v1/models: data is a string, not an array');
  t.equal(discoveryError(t, () => readOllamaTags({ models: new Array(100_000).fill(0).map((_, i) => tag(`m${i}`)) })),
    `GET /api/tags: models has 100000 entries, more than ${MAX_DISCOVERY_ENTRIES}`);
  t.equal(discoveryError(t, () => readOllamaTags({ models: [1, 'x', null] })),
    'GET /api/tags: none of the 3 models entries is usable (models[0] is a number, not an object)');
  t.equal(discoveryError(t, () => readOllamaTags(nested(100_000))), 'GET /api/tags: the answer is an array, not a JSON object');
});

t.test('a missing or null list is no models, with a warning', async (t) => {
  for (const doc of [{}, { models: null }]) {
    const r = readOllamaTags(doc);
    t.same(r.entries, []);
    t.equal(r.warnings.summary(), 'GET /api/tags: models is missing: no models');
  }
  t.same(readOllamaTags({ models: [] }).warnings.count, 0, 'an empty list is fine');
});

t.test('bad entries are dropped, the rest kept, each defect named', async (t) => {
  const cases: [unknown, string][] = [
    [42, 'models[1] is a number, not an object (entry dropped)'],
    ['llama', 'models[1] is a string, not an object (entry dropped)'],
    [null, 'models[1] is null, not an object (entry dropped)'],
    [[tag('x')], 'models[1] is an array, not an object (entry dropped)'],
    [tag({ evil: true }), 'models[1].name is an object, not a string (entry dropped)'],
    [tag(['a']), 'models[1].name is an array, not a string (entry dropped)'],
    [tag(7), 'models[1].name is a number, not a string (entry dropped)'],
    [tag(''), 'models[1].name is empty (entry dropped)'],
    [tag('a'.repeat(1 << 20)), 'models[1].name is longer than 256 characters (entry dropped)'],
    [tag('bad\u0000name'), 'models[1].name contains control characters (entry dropped)'],
    [tag('bad\nname'), 'models[1].name contains control characters (entry dropped)'],
    [tag('bad\u009bname'), 'models[1].name contains control characters (entry dropped)'],
    [tag(' padded '), 'models[1].name has leading or trailing whitespace (entry dropped)'],
    [tag('half\ud800'), 'models[1].name is not well-formed Unicode (entry dropped)'],
    [{ size: 1 }, 'models[1] has no name (entry dropped)'],
    [tag('deep', { details: deepObject(10_000) }), `models[1].details nested deeper than ${MAX_DISCOVERY_DEPTH} levels (entry dropped)`],
    [tag('deep', { junk: nested(10_000) }), `models[1].junk nested deeper than ${MAX_DISCOVERY_DEPTH} levels (entry dropped)`],
    [tag('wide', { junk: new Array(100_000).fill(0) }), 'models[1] has more than 1024 values (entry dropped)'],
    [tag('llama3.2:1b'), 'models[1] names "llama3.2:1b" again, as models[0] did (entry dropped)'],
  ];
  for (const [bad, warning] of cases) {
    const r = readOllamaTags({ models: [tag('llama3.2:1b'), bad, tag('qwen2.5:7b')] });
    t.same(r.entries.map((e) => e.name), ['llama3.2:1b', 'qwen2.5:7b'], warning);
    t.same(r.warnings.list, [warning]);
    t.equal(r.warnings.summary(), `GET /api/tags: ${warning}`);
    t.doesNotThrow(() => JSON.stringify(r.entries));
  }
});

t.test('a depth just inside the cap is fine, one more level is not', async (t) => {
  // Levels: document 1, models 2, entry 3, details 4; details.x adds the rest.
  const inside = readOllamaTags({ models: [tag('a', { details: { format: 'gguf', x: deepObject(MAX_DISCOVERY_DEPTH - 4) } })] });
  t.equal(inside.warnings.count, 0);
  t.equal(inside.entries.length, 1);
  t.equal(discoveryError(t, () => readOllamaTags({ models: [tag('a', { details: { x: deepObject(MAX_DISCOVERY_DEPTH - 3) } })] })),
    `GET /api/tags: none of the 1 models entries is usable (models[0].details nested deeper than ${MAX_DISCOVERY_DEPTH} levels)`);
});

t.test('`__proto__` and `constructor` are plain data', async (t) => {
  const doc = JSON.parse('{"models":[{"name":"__proto__","__proto__":{"polluted":1},"details":{"__proto__":{"format":"evil"}}},{"name":"constructor"},{"name":"ok","constructor":{"prototype":{"x":1}}}],"__proto__":{"y":1}}');
  const r = readOllamaTags(doc);
  t.same(r.entries.map((e) => e.name), ['__proto__', 'constructor', 'ok'], 'such names are names like any other');
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype was touched');
  t.equal(r.entries[0]!.details?.format, undefined, 'an inherited-looking field is not read through __proto__');
  t.equal(Object.getPrototypeOf(r.entries[0]), OllamaTag.prototype);
});

t.test('duplicate names, also as the two spellings of one model', async (t) => {
  const r = readOllamaTags({ models: [tag('mistral'), tag('mistral:latest'), tag('mistral:7b'), tag('mistral:7b')] });
  t.same(r.entries.map((e) => e.name), ['mistral', 'mistral:7b']);
  t.same(r.warnings.list, [
    'models[1] names "mistral:latest" again, as models[0] did (entry dropped)',
    'models[3] names "mistral:7b" again, as models[2] did (entry dropped)',
  ]);
});

t.test('wrong field types drop the field, not the entry', async (t) => {
  const r = readOllamaTags({
    models: [tag('a', {
      size: 1e400, digest: 12, modified_at: { at: 1 }, model: ['x'],
      details: { format: 'x'.repeat(300), families: ['llama', 3, 'l'.repeat(300)], parameter_size: null, quantization_level: 'Q4\u0000' },
    }), tag('b', { size: -1, details: 'gguf' }), tag('c', { size: 2 ** 60, details: { families: 'llama' } }), tag('d', { size: 1.5 })],
  });
  t.same(r.entries.map((e) => e.name), ['a', 'b', 'c', 'd']);
  const a = JSON.parse(JSON.stringify(r.entries[0]));
  t.same(a, { name: 'a', model: 'a', details: { families: ['llama'] } });
  t.same(r.warnings.list, [
    'models[0].model is an array, not a string (field replaced by name)',
    'models[0].modified_at is an object, not a string (field dropped)',
    'models[0].size is Infinity, not a non-negative integer (field dropped)',
    'models[0].digest is a number, not a string (field dropped)',
    'models[0].details.families[1] is a number, not a string (dropped)',
    'models[0].details.families[2] is longer than 256 characters (dropped)',
    'models[0].details.format is longer than 256 characters (field dropped)',
    'models[0].details.quantization_level contains control characters (field dropped)',
    'models[1].size is -1, not a non-negative integer (field dropped)',
    'models[1].details is a string, not an object (field dropped)',
    'models[2].size is 1152921504606847000, not a non-negative integer (field dropped)',
    'models[2].details.families is a string, not an array (field dropped)',
    'models[3].size is 1.5, not a non-negative integer (field dropped)',
  ]);
  t.equal(r.warnings.summary(), 'GET /api/tags: models[0].model is an array, not a string (field replaced by name); '
    + 'models[0].modified_at is an object, not a string (field dropped); models[0].size is Infinity, not a non-negative integer (field dropped) (and 10 more)');
});

t.test('families are capped', async (t) => {
  const r = readOllamaTags({ models: [tag('a', { details: { families: new Array(100).fill('llama') } })] });
  t.equal(r.entries[0]!.details!.families!.length, MAX_FAMILIES);
  t.same(r.warnings.list, [`models[0].details.families has more than ${MAX_FAMILIES} entries (the rest dropped)`]);
});

t.test('warnings are bounded: the first kept, the rest counted', async (t) => {
  const r = readOllamaTags({ models: [tag('ok'), ...new Array(4000).fill(7)] });
  t.equal(r.warnings.list.length, MAX_WARNINGS);
  t.equal(r.warnings.count, 4000);
  t.match(r.warnings.summary(), /\(and 3997 more\)$/);
});

t.test('unknown top-level fields are ignored, but bounded and named', async (t) => {
  const deep = readOllamaTags({ models: [tag('a')], junk: nested(50_000) });
  t.same(deep.entries.map((e) => e.name), ['a']);
  t.same(deep.warnings.list, [`junk nested deeper than ${MAX_DISCOVERY_DEPTH} levels (ignored)`]);
  const wide = readOllamaTags({ models: [tag('a')], junk: new Array(50_000).fill(1) });
  t.same(wide.warnings.list, ['more than 1024 values outside models (ignored)']);
  const odd = readOllamaTags(JSON.parse(`{"models":[],"we\\u0000ird${'x'.repeat(100)}":${'['.repeat(40)}${']'.repeat(40)}}`));
  t.match(odd.warnings.list[0], /^\["we\\u0000irdx+…"\] nested deeper than 32 levels \(ignored\)$/, 'a hostile key is quoted, escaped and cut');
});

t.test('/v1/models entries: id validated, created and owned_by checked', async (t) => {
  const r = readOpenAiModels({ data: [{ id: 'a', created: 'yesterday', owned_by: 5 }, { id: { x: 1 } }, { object: 'model' }, { id: 'b', object: 'not-a-model' }] });
  t.same(JSON.parse(JSON.stringify(r.entries)), [{ id: 'a', object: 'model' }, { id: 'b', object: 'model' }]);
  t.same(r.warnings.list, [
    'data[0].created is a string, not a non-negative integer (field dropped)',
    'data[0].owned_by is a number, not a string (field dropped)',
    'data[1].id is an object, not a string (entry dropped)',
    'data[2].id is missing (entry dropped)',
  ]);
});

t.test('/api/version', async (t) => {
  t.same(readVersion({ version: '0.12.10' }), { version: '0.12.10', problem: null });
  t.same(readVersion({ version: '0.5.4-rc1' }).version, '0.5.4-rc1');
  t.same(readVersion({ version: 12 }), { version: null, problem: 'GET /api/version: version is a number, not a string' });
  t.same(readVersion({ version: ['0.1'] }).problem, 'GET /api/version: version is an array, not a string');
  t.same(readVersion({}).problem, 'GET /api/version: version is missing');
  t.same(readVersion([]).problem, 'GET /api/version: the answer is an array, not a JSON object');
  t.same(readVersion({ version: '9'.repeat(100) }).problem, `GET /api/version: version "${'9'.repeat(64)}…" is not a version string`);
  t.same(readVersion({ version: '1.0 <script>' }).problem, 'GET /api/version: version "1.0 <script>" is not a version string');
  t.same(readVersion({ version: '' }).version, null);
});

t.test('modelNameProblem', async (t) => {
  t.equal(modelNameProblem('hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M'), null);
  t.equal(modelNameProblem('registry:5000/ns/model:tag'), null);
  t.equal(modelNameProblem('with inner space'), null, 'inner spaces are allowed (an OpenAI server may name a model so)');
  t.equal(modelNameProblem('\tx'), 'contains control characters');
  t.equal(modelNameProblem('x\u2028'), 'contains control characters');
  t.equal(modelNameProblem('x\u00a0'), 'has leading or trailing whitespace');
});

t.test('a 100k-level document is read without a stack overflow', async (t) => {
  t.doesNotThrow(() => readOllamaTags({ models: [tag('a', { details: deepObject(200_000) }), tag('b')] }));
  t.doesNotThrow(() => readOpenAiModels({ data: [{ id: 'a', x: nested(200_000) }, { id: 'b' }] }));
});

t.test('CORRAL_ERR_DISCOVERY is documented', async (t) => {
  t.match(readFileSync(new URL('../../../docs/ERRORS.md', import.meta.url), 'utf8'), DiscoveryError.code);
});

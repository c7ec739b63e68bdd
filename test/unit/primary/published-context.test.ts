import t from 'tap';
import { readMaxModelLens, readPropsContext, readSlotsContext } from '../../../src/primary/published-context.js';
import { servedContext } from '../../../src/primary/served-context.js';
import type { CatalogModel, ResolvedType } from '../../../src/core/catalog.js';

t.test('llama-server: a slot\'s n_ctx from GET /props, else GET /slots', async (t) => {
  // As llama-server answers (tools/server/README.md), trimmed.
  t.equal(readPropsContext({ default_generation_settings: { id: 0, n_ctx: 65536, params: { n_predict: -1 } }, total_slots: 4, build_info: 'b8681' }), 65536);
  t.equal(readPropsContext({ n_ctx: 8192 }), 8192, 'a version that has it at the top');
  t.equal(readPropsContext({ default_generation_settings: { n_ctx: 0 } }), 0);
  t.equal(readPropsContext({ default_generation_settings: { n_ctx: '4096' } }), 0, 'not a number');
  t.equal(readPropsContext(null), 0, 'no answer (vLLM answers 404)');
  t.equal(readPropsContext([]), 0);
  t.equal(readSlotsContext([{ id: 0, n_ctx: 4096 }, { id: 1, n_ctx: 2048 }]), 2048, 'the smallest: a request may get any slot');
  t.equal(readSlotsContext([{ id: 0 }]), 0);
  t.equal(readSlotsContext({ error: 'slots endpoint disabled' }), 0);
});

t.test('vLLM: max_model_len per /v1/models entry', async (t) => {
  const lens = readMaxModelLens({
    object: 'list',
    data: [
      { id: 'meta-llama/Llama-3.1-8B-Instruct', object: 'model', owned_by: 'vllm', root: 'meta-llama/Llama-3.1-8B-Instruct', max_model_len: 131072 },
      { id: 'lora-adapter', object: 'model', owned_by: 'vllm', parent: 'x' },
      { id: 'bad', max_model_len: -1 },
      { max_model_len: 4096 },
    ],
  });
  t.same([...lens], [['meta-llama/Llama-3.1-8B-Instruct', 131072]]);
  t.equal(readMaxModelLens({ data: 'nope' }).size, 0);
  t.equal(readMaxModelLens(null).size, 0);
});

t.test('a model\'s context: the most any endpoint serving it takes, unknown while any is', async (t) => {
  const model: CatalogModel = { index: 0, name: 'm', endpoints: [0, 1, 2] };
  const types: ResolvedType[] = ['ollama', 'openai', 'openai'];
  const typeOf = (e: number): ResolvedType => types[e]!;
  t.equal(servedContext(model, typeOf, 8192, (e) => [0, 4096, 16384][e]!), 16384);
  t.equal(servedContext(model, typeOf, 0, (e) => [0, 4096, 16384][e]!), 0, 'the Ollama model\'s /api/show not read yet');
  t.equal(servedContext(model, typeOf, 8192, (e) => [0, 4096, 0][e]!), 0, 'one server publishes nothing: it might take anything');
  t.equal(servedContext({ index: 1, name: 'o', endpoints: [0] }, typeOf, 32768, () => 0), 32768, 'Ollama alone: /api/show');
});

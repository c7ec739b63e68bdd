// RoutingTable's model lookup: both spellings of a model (`mistral`, `mistral:latest`) route to it,
// and forwardAs says, per endpoint, which spelling to send when the client's may not be resolved.
import t from 'tap';
import { RoutingTable } from '../../../src/routing/routing-table.js';
import { canonicalModelName, emptyCatalog, hasModelTag, modelNameAlias, type CatalogModel, type CatalogSnapshot, type ResolvedType } from '../../../src/core/catalog.js';

function table(types: ResolvedType[], models: CatalogModel[]): RoutingTable {
  const catalog: CatalogSnapshot = {
    ...emptyCatalog(),
    generation: 1,
    endpoints: types.map((type, i) => ({ index: i, name: `gpu-${i}`, url: `http://127.0.0.1:${9000 + i}`, type, models: [] })),
    models,
  };
  return new RoutingTable(catalog);
}

t.test('canonical names and aliases', async (t) => {
  t.equal(canonicalModelName('mistral'), 'mistral:latest');
  t.equal(canonicalModelName('mistral:7b'), 'mistral:7b');
  t.equal(canonicalModelName('registry:5000/ns/mistral'), 'registry:5000/ns/mistral:latest', 'a port is not a tag');
  t.ok(hasModelTag('registry:5000/ns/mistral:7b'));
  t.equal(modelNameAlias('mistral'), 'mistral:latest');
  t.equal(modelNameAlias('mistral:latest'), 'mistral');
  t.equal(modelNameAlias('mistral:7b'), null);
  t.equal(modelNameAlias('registry:5000/m:latest'), 'registry:5000/m');
  t.equal(modelNameAlias(':latest'), null);
});

t.test('a bare name on an Ollama endpoint: both spellings route, :latest is renamed for it', async (t) => {
  const rt = table(['ollama'], [{ index: 0, name: 'mistral', endpoints: [0] }]);
  const bare = rt.model('mistral')!;
  const tagged = rt.model('mistral:latest')!;
  t.equal(bare.index, 0);
  t.equal(tagged.index, 0);
  t.equal(bare.forwardAs, null, 'the listed spelling is sent as it is');
  t.same(tagged.forwardAs, ['mistral'], 'an Ollama-compatible server listing the bare name gets the bare name');
});

t.test('name:latest on an Ollama endpoint: nothing is ever renamed (Ollama resolves a bare name itself)', async (t) => {
  const rt = table(['ollama'], [{ index: 0, name: 'mistral:latest', endpoints: [0] }]);
  t.equal(rt.model('mistral')!.forwardAs, null);
  t.equal(rt.model('mistral:latest')!.forwardAs, null);
});

t.test('an OpenAI endpoint gets exactly the id it lists', async (t) => {
  const bare = table(['openai'], [{ index: 0, name: 'mistral', endpoints: [0] }]);
  t.equal(bare.model('mistral')!.forwardAs, null);
  t.same(bare.model('mistral:latest')!.forwardAs, ['mistral']);
  const tagged = table(['openai'], [{ index: 0, name: 'mistral:latest', endpoints: [0] }]);
  t.same(tagged.model('mistral')!.forwardAs, ['mistral:latest']);
  t.equal(tagged.model('mistral:latest')!.forwardAs, null);
});

t.test('one model listed under both spellings by different endpoints', async (t) => {
  // gpu-0 (Ollama) lists mistral:latest, gpu-1 (OpenAI) lists mistral, gpu-2 (OpenAI) lists mistral:latest.
  const rt = table(['ollama', 'openai', 'openai'], [{ index: 3, name: 'mistral:latest', endpoints: [0, 1, 2], listedAs: ['mistral:latest', 'mistral', 'mistral:latest'] }]);
  const asBare = rt.model('mistral')!;
  const asTagged = rt.model('mistral:latest')!;
  t.same([...asBare.endpoints], [0, 1, 2]);
  t.same([...asTagged.endpoints], [0, 1, 2]);
  t.same(asBare.forwardAs, [null, null, 'mistral:latest']);
  t.same(asTagged.forwardAs, [null, 'mistral', null]);
  t.equal(asBare.name, 'mistral:latest', "the route carries the catalog's name");
});

t.test('tagged names other than :latest have no alias', async (t) => {
  const rt = table(['ollama'], [{ index: 0, name: 'llama3.2:1b', endpoints: [0] }]);
  t.ok(rt.model('llama3.2:1b'));
  t.equal(rt.model('llama3.2'), undefined);
  t.equal(rt.model('llama3.2:1b:latest'), undefined);
});

import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { loadConfigFile } from '../../../src/config/load.js';

const configDir = fileURLToPath(new URL('../../../config/', import.meta.url));

t.test('config/corral.yaml parses cleanly and is what `npm start` runs', async (t) => {
  const c = loadConfigFile(`${configDir}corral.yaml`, {});
  t.equal(c.source, `${configDir}corral.yaml`);
  t.equal(c.server.port, 11400);
  t.equal(c.server.management_port, 11401);
  t.same(c.endpoints.map((e) => [e.name, e.url, e.type]), [['local-ollama', 'http://127.0.0.1:11434', 'ollama']]);
});

// Every YAML example is a corral configuration, except the Prometheus alert rules (checked by
// test/integration/monitoring-examples.test.ts).
const examples = readdirSync(`${configDir}examples`).filter((f) => f.endsWith('.yaml') && f !== 'prometheus-alerts.yaml');
t.ok(examples.includes('two-ollama.yaml') && examples.includes('mixed.yaml'), 'examples present');

for (const file of examples) {
  t.test(`config/examples/${file} parses cleanly`, async (t) => {
    const c = loadConfigFile(`${configDir}examples/${file}`, {});
    t.ok(c.endpoints.length >= 2);
    t.ok(Object.isFrozen(c.endpoints));
  });
}

t.test('mixed.yaml: ollama + llama-server + vLLM', async (t) => {
  const c = loadConfigFile(`${configDir}examples/mixed.yaml`, {});
  t.same(c.endpoints.map((e) => e.type), ['ollama', 'openai', 'openai']);
  t.equal(c.endpoints[1]!.url, 'http://127.0.0.1:8080', 'trailing slash removed');
  t.equal(c.endpoints[2]!.health.interval, 10_000);
  t.equal(c.endpoints[2]!.health.fast_interval, 100);
  t.equal(c.routing.strategy, 'priority');
});

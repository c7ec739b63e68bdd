// withModelName (src/protocol/model-rename.ts): only the top-level model value changes, byte for byte.
import t from 'tap';
import { withModelName } from '../../../src/protocol/model-rename.js';

function renamed(body: string, name: string): string | null {
  return withModelName(Buffer.from(body), name)?.toString() ?? null;
}

t.test('replaces the top-level model string and nothing else', async (t) => {
  t.equal(renamed('{"model":"mistral:latest","messages":[{"role":"user","content":"hi"}]}', 'mistral'),
    '{"model":"mistral","messages":[{"role":"user","content":"hi"}]}');
  t.equal(renamed(' { "stream" : true ,\n "model" :\t"a" , "seed": 12345678901234567890, "x": 1.0e0 } ', 'bb'),
    ' { "stream" : true ,\n "model" :\t"bb" , "seed": 12345678901234567890, "x": 1.0e0 } ', 'spacing and number spellings kept');
});

t.test('nested "model" keys and look-alikes in strings are left alone', async (t) => {
  const body = '{"messages":[{"role":"user","content":"\\"model\\": \\"x\\"","model":"inner"}],"tools":{"model":"t"},"model":"m","modelx":"y"}';
  t.equal(renamed(body, 'n'), body.replace('"model":"m"', '"model":"n"'));
});

t.test('non-ASCII and escapes around the value survive', async (t) => {
  const body = '{"prompt":"héllo \\u00e9 \\\\ \\" {[","model":"café:latest","images":["x"]}';
  t.equal(renamed(body, 'café'), body.replace('"café:latest"', '"café"'));
});

t.test('the last of duplicate keys, as JSON.parse reads it', async (t) => {
  t.equal(renamed('{"model":"a","model":"b"}', 'c'), '{"model":"a","model":"c"}');
});

t.test('an escaped key is decoded', async (t) => {
  t.equal(renamed('{"mod\\u0065l":"a"}', 'b'), '{"mod\\u0065l":"b"}');
});

t.test("/api/show's name when model is absent or null", async (t) => {
  t.equal(renamed('{"name":"mistral:latest","verbose":true}', 'mistral'), '{"name":"mistral","verbose":true}');
  t.equal(renamed('{"model":null,"name":"a"}', 'b'), '{"model":null,"name":"b"}');
  t.equal(renamed('{"model":"a","name":"x"}', 'b'), '{"model":"b","name":"x"}', 'model wins over name');
});

t.test('the new name is JSON-encoded', async (t) => {
  const out = renamed('{"model":"a"}', 'x"y\\z');
  t.same(JSON.parse(out!), { model: 'x"y\\z' });
});

t.test('null when there is nothing to replace', async (t) => {
  t.equal(renamed('[1,2]', 'x'), null);
  t.equal(renamed('{"messages":[]}', 'x'), null);
  t.equal(renamed('{"model":5}', 'x'), null);
  t.equal(renamed('{}', 'x'), null);
});

t.test('deep nesting is skipped without recursion', async (t) => {
  const deep = `${'['.repeat(200_000)}${']'.repeat(200_000)}`;
  t.equal(renamed(`{"x":${deep},"model":"a"}`, 'b'), `{"x":${deep},"model":"b"}`);
});

import t from 'tap';
import { finalPromptEvalCount } from '../../../src/protocol/final-chunk.js';

const b = (s: string): Buffer => Buffer.from(s);

// Ollama's own lines (docs/api.md): a token line, the final line of /api/chat and of /api/generate.
const TOKEN = '{"model":"llama3.2","created_at":"2025-01-01T00:00:00Z","message":{"role":"assistant","content":"Hi"},"done":false}\n';
const FINAL_CHAT = '{"model":"llama3.2","created_at":"2025-01-01T00:00:00Z","message":{"role":"assistant","content":""},"done_reason":"stop","done":true,'
  + '"total_duration":4883583458,"load_duration":1334875,"prompt_eval_count":26,"prompt_eval_duration":342546000,"eval_count":282,"eval_duration":4535599000}\n';
const FINAL_GENERATE = '{"model":"llama3.2","created_at":"2025-01-01T00:00:00Z","response":"","done":true,"total_duration":10706818083,'
  + '"load_duration":6338219291,"prompt_eval_count":1234,"prompt_eval_duration":130079000,"eval_count":259,"eval_duration":4232710000,"context":[1,2,3]}';

t.test('the count from the final object of a stream, a whole answer, or a chunk ending with one', async (t) => {
  t.equal(finalPromptEvalCount(b(FINAL_CHAT)), 26);
  t.equal(finalPromptEvalCount(b(FINAL_GENERATE)), 1234, 'a non-streamed answer, no newline, context last');
  t.equal(finalPromptEvalCount(b(TOKEN + TOKEN + FINAL_CHAT)), 26, 'several lines in one chunk: the last one\'s');
  t.equal(finalPromptEvalCount(b('{"done":true,"prompt_eval_count": 7 }')), 7, 'whitespace');
});

t.test('anything else is no sample', async (t) => {
  t.equal(finalPromptEvalCount(b(TOKEN)), -1, 'a token line: two bytes read');
  t.equal(finalPromptEvalCount(b('')), -1);
  t.equal(finalPromptEvalCount(b('\n')), -1);
  t.equal(finalPromptEvalCount(b('{"error":"model runner has unexpectedly stopped"}\n')), -1);
  t.equal(finalPromptEvalCount(b('{"done":true,"prompt_eval_count":}')), -1, 'no digits');
  t.equal(finalPromptEvalCount(b('{"done":true,"prompt_eval_count":"26"}')), -1, 'not a number');
  t.equal(finalPromptEvalCount(b('{"a":"x","prompt_eval_count":12')), -1, 'cut by a chunk boundary');
  t.equal(finalPromptEvalCount(b('{"prompt_eval_count":99999999999}')), -1, 'absurd');
  t.equal(finalPromptEvalCount(b('{"message":{"content":"\\"prompt_eval_count\\":5"},"done":true}')), -1, 'the key quoted inside a string is escaped');
});

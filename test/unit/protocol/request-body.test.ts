import t from 'tap';
import { analyseBody, RequestFacts, MAX_MODEL_NAME_LENGTH } from '../../../src/protocol/request-body.js';

const facts = (body: unknown, streamsByDefault = false) => {
  const f = new RequestFacts();
  analyseBody(Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)), streamsByDefault, f);
  return f;
};

t.test('extracts model and stream flag', async (t) => {
  const plain = { numCtx: 0, keepAlive: null, promptChars: 0, numPredict: 0, hasOptions: false, insertsNumCtx: false };
  t.same(facts({ model: 'llama3.2', stream: true }), { model: 'llama3.2', stream: true, ...plain });
  t.same(facts({ model: 'm' }), { model: 'm', stream: false, ...plain });
  t.same(facts({ model: 'm' }, true), { model: 'm', stream: true, ...plain }, 'Ollama chat streams unless told not to');
  t.same(facts({ model: 'm', stream: false }, true), { model: 'm', stream: false, ...plain });
});

t.test('reads Ollama options.num_ctx and keep_alive for a load corral makes, without judging them', async (t) => {
  t.match(facts({ model: 'm', options: { num_ctx: 8192 }, keep_alive: '10m' }), { numCtx: 8192, keepAlive: '10m' });
  t.match(facts({ model: 'm', keep_alive: -1 }), { numCtx: 0, keepAlive: -1 });
  for (const numCtx of [0, -1, 1.5, '4096', null, 2 ** 40]) {
    t.equal(facts({ model: 'm', options: { num_ctx: numCtx } }).numCtx, 0, `num_ctx ${JSON.stringify(numCtx)} is left to the backend`);
  }
  t.equal(facts({ model: 'm', options: null }).numCtx, 0);
  t.equal(facts({ model: 'm', keep_alive: { x: 1 } }).keepAlive, null);
});

t.test('/api/show may name the model with the older `name` field', async (t) => {
  const f = new RequestFacts();
  analyseBody(Buffer.from('{"name":"llama3.2"}'), false, f, true);
  t.equal(f.model, 'llama3.2');
  t.throws(() => analyseBody(Buffer.from('{"name":"llama3.2"}'), false, new RequestFacts()), { code: 'CORRAL_ERR_MISSING_MODEL' }, 'only where accepted');
});

t.test('rejects with codes and messages naming the field', async (t) => {
  const cases: [unknown, string, RegExp][] = [
    ['', 'CORRAL_ERR_INVALID_JSON', /empty/],
    ['{"model":', 'CORRAL_ERR_INVALID_JSON', /not valid JSON/],
    ['[1,2]', 'CORRAL_ERR_INVALID_REQUEST', /JSON object/],
    ['null', 'CORRAL_ERR_INVALID_REQUEST', /JSON object/],
    [{}, 'CORRAL_ERR_MISSING_MODEL', /^model: is required/],
    [{ model: '' }, 'CORRAL_ERR_MISSING_MODEL', /^model:/],
    [{ model: 42 }, 'CORRAL_ERR_INVALID_REQUEST', /^model: must be a string/],
    [{ model: 'x'.repeat(MAX_MODEL_NAME_LENGTH + 1) }, 'CORRAL_ERR_INVALID_REQUEST', /^model: must be at most/],
    [{ model: 'm', stream: 'yes' }, 'CORRAL_ERR_INVALID_REQUEST', /^stream: must be a boolean/],
  ];
  for (const [body, code, message] of cases) {
    t.throws(() => facts(body), { code, message }, `${JSON.stringify(body).slice(0, 40)} → ${code}`);
  }
  t.throws(() => analyseBody(null, false, new RequestFacts()), { code: 'CORRAL_ERR_INVALID_JSON' });
  t.throws(() => analyseBody(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), false, new RequestFacts()),
    { code: 'CORRAL_ERR_INVALID_JSON', message: /UTF-8/ }, 'invalid UTF-8 is refused, not replaced');
  t.throws(() => facts({ model: 'llama\n3' }), { code: 'CORRAL_ERR_INVALID_REQUEST', message: /^model: must not contain control/ });
});

t.test('counts prompt characters and the reply limit only when asked (context sizing)', async (t) => {
  const count = (body: unknown) => {
    const f = new RequestFacts();
    analyseBody(Buffer.from(JSON.stringify(body)), false, f, false, true);
    return f;
  };
  t.match(count({ model: 'm', messages: [{ role: 'system', content: 'abcd' }, { role: 'user', content: [{ type: 'text', text: 'xyz' }, { type: 'image_url' }] }] }), { promptChars: 7 });
  t.match(count({ model: 'm', prompt: 'hello', system: 'be brief', options: { num_predict: 64, num_ctx: 4096 } }), { promptChars: 13, numPredict: 64, numCtx: 4096, hasOptions: true });
  t.match(count({ model: 'm', messages: [], max_tokens: 100 }), { promptChars: 0, numPredict: 100, hasOptions: false });
  t.match(facts({ model: 'm', prompt: 'hello' }), { promptChars: 0 }, 'not counted unless asked');
});

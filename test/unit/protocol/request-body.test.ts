import t from 'tap';
import { analyseBody, RequestFacts, MAX_MODEL_NAME_LENGTH } from '../../../src/protocol/request-body.js';

const facts = (body: unknown, streamsByDefault = false) => {
  const f = new RequestFacts();
  analyseBody(Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)), streamsByDefault, f);
  return f;
};

t.test('extracts model and stream flag', async (t) => {
  t.same(facts({ model: 'llama3.2', stream: true }), { model: 'llama3.2', stream: true });
  t.same(facts({ model: 'm' }), { model: 'm', stream: false });
  t.same(facts({ model: 'm' }, true), { model: 'm', stream: true }, 'Ollama chat streams unless told not to');
  t.same(facts({ model: 'm', stream: false }, true), { model: 'm', stream: false });
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

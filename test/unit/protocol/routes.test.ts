import t from 'tap';
import { ROUTES, findRoute, dialectOfPath, RouteKind } from '../../../src/protocol/routes.js';
import { Dialect } from '../../../src/protocol/dialect.js';
import { errorBody, midStreamErrorChunk } from '../../../src/protocol/error-body.js';
import { ModelNotFoundError, UpstreamError } from '../../../src/core/errors.js';

t.test('every route is found by its path, with or without a trailing slash', async (t) => {
  for (const r of ROUTES) {
    t.equal(findRoute(r.path), r);
    t.equal(findRoute(`${r.path}/`), r);
  }
  t.equal(findRoute('/api/nope'), undefined);
  t.equal(findRoute('/'), undefined);
});

t.test('dialects and defaults follow the two APIs', async (t) => {
  t.equal(findRoute('/api/chat')!.dialect, Dialect.Ollama);
  t.equal(findRoute('/api/chat')!.streamsByDefault, true);
  t.equal(findRoute('/api/embed')!.streamsByDefault, false);
  t.equal(findRoute('/v1/chat/completions')!.dialect, Dialect.OpenAI);
  t.equal(findRoute('/v1/chat/completions')!.streamsByDefault, false);
  t.equal(findRoute('/api/show')!.kind, RouteKind.ModelInfo);
  t.equal(dialectOfPath('/api/whatever'), Dialect.Ollama);
  t.equal(dialectOfPath('/v1/whatever'), Dialect.OpenAI);
  t.equal(dialectOfPath('/elsewhere'), Dialect.OpenAI);
});

t.test('error bodies in each dialect', async (t) => {
  const e = new ModelNotFoundError('model "x" is not served');
  t.same(JSON.parse(errorBody(Dialect.OpenAI, e)), { error: { message: 'model "x" is not served', type: 'invalid_request_error', code: 'CORRAL_ERR_MODEL_NOT_FOUND' } });
  t.same(JSON.parse(errorBody(Dialect.Ollama, e)), { error: 'model "x" is not served', code: 'CORRAL_ERR_MODEL_NOT_FOUND' });
  const sse = midStreamErrorChunk(true, new UpstreamError('cut'));
  t.match(sse, /^data: \{.*\}\n\n$/);
  t.equal(JSON.parse(sse.slice(6)).error.code, 'CORRAL_ERR_UPSTREAM');
  const nd = midStreamErrorChunk(false, new UpstreamError('cut'));
  t.match(nd, /^\{.*\}\n$/);
  t.equal(JSON.parse(nd).error, 'cut (CORRAL_ERR_UPSTREAM)');
  t.equal(JSON.parse(nd).code, 'CORRAL_ERR_UPSTREAM');
});

import t from 'tap';
import { classifyFailure, FailureKind, isRetryableStatus } from '../../../src/upstream/error-class.js';
import {
  UpstreamClientError, UPSTREAM_BODY_TIMEOUT, UPSTREAM_CLOSED, UPSTREAM_CONNECT_TIMEOUT, UPSTREAM_HEADERS_TIMEOUT, UPSTREAM_POOL_CLOSED, UPSTREAM_PROTOCOL,
} from '../../../src/upstream/errors.js';

t.test('each upstream failure code has its kind', async (t) => {
  const kind = (code: string) => classifyFailure(new UpstreamClientError(code, 'x'));
  for (const code of ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', UPSTREAM_CLOSED, UPSTREAM_CONNECT_TIMEOUT]) {
    t.equal(kind(code), FailureKind.Transport, `${code}: the endpoint looks dead (retry elsewhere, suspect)`);
  }
  for (const code of [UPSTREAM_HEADERS_TIMEOUT, UPSTREAM_BODY_TIMEOUT]) t.equal(kind(code), FailureKind.Timeout, code);
  t.equal(kind(UPSTREAM_POOL_CLOSED), FailureKind.PoolClosed, 'a pool corral closed blames no endpoint');
  t.equal(kind(UPSTREAM_PROTOCOL), FailureKind.Protocol, 'a malformed response: retried like a 502');
  t.equal(classifyFailure(new Error('no code')), FailureKind.Other);
  t.equal(classifyFailure(null), FailureKind.Other);
});

t.test('502, 503 and 504 from a backend may be retried elsewhere; other statuses not', async (t) => {
  for (const s of [502, 503, 504]) t.ok(isRetryableStatus(s), String(s));
  for (const s of [200, 400, 404, 413, 500, 501]) t.notOk(isRetryableStatus(s), String(s));
});

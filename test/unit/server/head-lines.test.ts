import t from 'tap';
import { extraLine, requestIdLine, routingLines, statusText } from '../../../src/server/head-lines.js';

t.test('status texts are the code and its reason phrase', async (t) => {
  t.equal(statusText(200), '200 OK');
  t.equal(statusText(503), '503 Service Unavailable');
  t.equal(statusText(599), '599 Unknown', 'a code without a phrase');
});

t.test('corral\'s own lines, each after its CRLF, ready to follow a status text', async (t) => {
  t.equal(routingLines('gpu-1', 'least-connections', 2), '\r\nx-corral-endpoint: gpu-1\r\nx-corral-route: least-connections\r\nx-corral-retries: 2');
  t.equal(extraLine('retry-after', '5'), '\r\nretry-after: 5');
  t.equal(requestIdLine('Ab_9-1f', false), '\r\nx-corral-request-id: Ab_9-1f');
});

t.test('a client\'s request id cannot end its line: anything outside printable ASCII is masked', async (t) => {
  t.equal(requestIdLine('ok id\t1', true), '\r\nx-corral-request-id: ok id\t1', 'printable ASCII and HTAB kept');
  t.equal(requestIdLine('a\r\nx-evil: 1', true), '\r\nx-corral-request-id: a??x-evil: 1');
  t.equal(requestIdLine('\u0000\u007f\u00e9\u20ac', true), '\r\nx-corral-request-id: ????');
});

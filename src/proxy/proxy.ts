import { performance } from 'node:perf_hooks';
import type { Logger } from '../observe/logger.js';
import type { Config } from '../config/types.js';
import type { Control } from '../core/control.js';
import {
  CorralError, DialectUnsupportedError, InternalError, MethodNotAllowedError, ModelNotFoundError,
  NoEndpointError, NotFoundError, BodyTooLargeError, HeadersTooLargeError, RequestTimeoutError, InvalidRequestError,
  ModelLoadError, NoCapacityError, UpstreamTimeoutError,
} from '../core/errors.js';
import type { LoadDone } from '../core/ipc.js';
import { formatBytes } from '../core/format-bytes.js';
import { emptyCatalog, type CatalogSnapshot } from '../core/catalog.js';
import type { Segment } from '../state/segment.js';
import { EndpointState } from '../state/endpoints.js';
import { Counter, Histogram } from '../state/stats.js';
import { hash32 } from '../state/hash.js';
import type { RequestHandler } from '../server/http-server.js';
import type { ClientRequest } from '../server/client-request.js';
import { sendJson, sendJsonLingering, sendText } from '../server/response.js';
import { metricsContentType, wantsOpenMetrics } from '../observe/metrics-format.js';
import { findRoute, dialectOfPath, RouteKind, CatalogView, InternalView, type Route } from '../protocol/routes.js';
import { Dialect } from '../protocol/dialect.js';
import { errorBody } from '../protocol/error-body.js';
import { analyseBody, RequestFacts } from '../protocol/request-body.js';
import { isForwardableHeaderValue, isForwardableQuery } from '../protocol/forwarded-values.js';
import { RoutingTable } from '../routing/routing-table.js';
import { Selector, NO_ENDPOINT_DIALECT, NO_ENDPOINT_SATURATED } from '../routing/selector.js';
import { Placement } from '../routing/placement.js';
import { LoadWaiters } from './load-waiters.js';
import { Admission, isLowPriority } from '../routing/admission.js';
import { QueueWaiters } from './queue-waiters.js';
import { ModelSequenceReporter } from './model-sequence-reporter.js';
import { createStrategy } from '../routing/strategies.js';
import { CircuitBreaker, CircuitChange } from '../routing/circuit-breaker.js';
import { UpstreamPools } from '../upstream/pools.js';
import { nextRequestId } from '../observe/request-id.js';
import { readyBody } from '../observe/status.js';
import { Exchange } from './exchange.js';
import { checkContext, contentLengthLine } from './context-check.js';

/** Seeds for the session key's two independent 32-bit hashes (a 64-bit key in the segment). */
const SESSION_SEED_HI = 0x9e3779b1;
const SESSION_SEED_LO = 0x85ebca77;

const HEALTH_BODY = JSON.stringify({ status: 'ok' });
/** Added to twice models.load_timeout (its own load, and one queued before it): how long a request waits for a load before it is answered 504 itself. */
const LOAD_WAIT_MARGIN_MS = 30_000;
const MiB = 1024 * 1024;
const RETRY_AFTER_SECONDS = '1';

/**
 * The request handler every serving process runs (cluster worker, or the primary in inline
 * mode): routes a complete request to a catalog answer, an internal view, or an Exchange.
 */
export class Proxy implements RequestHandler {
  readonly segment: Segment;
  readonly control: Control;
  readonly log: Logger;
  readonly selector: Selector;
  readonly breaker: CircuitBreaker;
  readonly placement: Placement;
  readonly loadWaiters: LoadWaiters;
  /** Admission queues (queue.enabled); null: a saturated model's requests get 503 at once. */
  readonly admission: Admission | null;
  /** This process's queued requests. Shared with the proxy a reload replaces (inline mode): one per stats slot. */
  readonly queueWaiters: QueueWaiters;
  /** queue.default_priority is low: requests that do not say are refused first. */
  readonly lowByDefault: boolean;
  /** routing.placement is warm-first: inference requests prefer endpoints holding the model, and cold models are placed. */
  readonly warmFirst: boolean;
  /** models.size_context: prompts are checked against the model's context, Ollama's num_ctx chosen. */
  readonly sizeContext: boolean;
  readonly numCtxBuckets: readonly number[];
  readonly replyBudget: number;
  /** models.chars_per_token × 1000: the estimate for a model before its own ratio is learned (context-check.ts). */
  readonly charsPerTokenMilli: number;
  /** The models asked for, reported to the primary's prefetcher; null with models.prefetch off. */
  readonly sequence: ModelSequenceReporter | null;
  readonly pools: UpstreamPools;
  readonly requestIdHeader: string;
  readonly maxRetries: number;
  readonly statsSlot: number;
  readonly logRequests: boolean;
  table: RoutingTable;
  /**
   * The segment clock (seconds since it was created), refreshed every second by one unref'd
   * timer: what requests stamp as their model's last use, without a clock read per request.
   */
  nowSec: number;
  readonly #clock: NodeJS.Timeout;
  /** Exchanges in flight in this process (graceful shutdown waits for 0). */
  active: number;
  /** Draining: every response tells its client to close the connection (no new requests here). */
  draining: boolean;
  /** performance.now() of the last request accepted or finished, for the drain's quiet period. */
  lastActivity: number;
  #onIdle: (() => void)[];

  constructor(config: Config, segment: Segment, control: Control, log: Logger, queueWaiters: QueueWaiters | null = null) {
    this.segment = segment;
    this.control = control;
    this.log = log;
    this.breaker = new CircuitBreaker(segment.endpoints, config.circuit_breaker);
    this.selector = new Selector(segment, createStrategy(config.routing.strategy), this.breaker);
    this.placement = new Placement(segment, this.breaker);
    // A backstop: the primary answers a load's waiters itself when it fails or times out.
    this.loadWaiters = new LoadWaiters(2 * config.models.load_timeout + LOAD_WAIT_MARGIN_MS,
      (err) => this.log.error({ err }, 'a request waiting for a model load failed when woken'));
    this.admission = config.queue.enabled ? new Admission(segment, config.queue) : null;
    this.lowByDefault = config.queue.default_priority === 'low';
    if (queueWaiters !== null) queueWaiters.reconfigure(config.queue.timeout, config.queue.heartbeat);
    this.queueWaiters = queueWaiters ?? new QueueWaiters(segment.queues, control.statsSlot, config.queue.timeout, config.queue.heartbeat,
      (slot, model, hops, sentAtMs) => control.wakeQueue(slot, model, hops, sentAtMs),
      (err) => this.log.error({ err }, 'a request waiting in an admission queue failed when woken'));
    this.warmFirst = config.routing.placement === 'warm-first';
    this.nowSec = segment.header.nowSec();
    this.#clock = setInterval(() => {
      this.nowSec = this.segment.header.nowSec();
    }, 1000);
    this.#clock.unref();
    this.sizeContext = config.models.size_context;
    this.numCtxBuckets = config.models.num_ctx_buckets;
    this.replyBudget = config.models.reply_budget;
    this.charsPerTokenMilli = Math.round(config.models.chars_per_token * 1000);
    this.sequence = config.models.prefetch.enabled && this.warmFirst ? new ModelSequenceReporter(control) : null;
    this.pools = new UpstreamPools(config.upstream);
    this.maxRetries = config.routing.max_retries;
    this.requestIdHeader = config.server.request_id_header;
    this.statsSlot = control.statsSlot;
    this.logRequests = config.logging.requests;
    this.table = new RoutingTable(emptyCatalog());
    this.active = 0;
    this.draining = false;
    this.lastActivity = 0;
    this.#onIdle = [];
  }

  /** A new catalog from the primary: swap the routing view and align the upstream pools. */
  setCatalog(catalog: CatalogSnapshot): void {
    this.table = new RoutingTable(catalog);
    this.pools.sync(this.table.endpointUrls);
  }

  onRequest(r: ClientRequest): void {
    if (r.requestId === '') r.requestId = nextRequestId();
    if (this.draining) {
      r.closeAfter = true;
      this.lastActivity = performance.now();
    }
    const route = findRoute(r.path);
    if (route === undefined) {
      return this.sendError(r, dialectOfPath(r.path), new NotFoundError(`no route for ${r.method.toUpperCase()} ${r.path}`));
    }
    // HEAD is GET without a body (RFC 9110 §9.3.2); response.ts leaves the body out.
    if (r.method !== route.method && !(r.method === 'head' && route.method === 'get')) {
      return this.sendError(r, route.dialect, new MethodNotAllowedError(`${r.path} accepts ${route.method.toUpperCase()} only`),
        false, 'allow', route.method === 'get' ? 'GET, HEAD' : 'POST');
    }
    try {
      switch (route.kind) {
        case RouteKind.Inference:
        case RouteKind.ModelInfo:
          return this.#forward(r, route);
        case RouteKind.Catalog:
          return this.#catalog(r, route);
        case RouteKind.Internal:
          return this.#internal(r, route);
      }
    } catch (err) {
      this.sendError(r, route.dialect, err instanceof CorralError ? err : this.#internalError(r, err));
    }
  }

  onAborted(r: ClientRequest): void {
    const ex = r.exchange as Exchange | null;
    if (ex !== null && !ex.done) ex.clientAborted();
  }

  onBodyTooLarge(r: ClientRequest): void {
    this.#refuseUpload(r, new BodyTooLargeError());
  }

  onBodyTimeout(r: ClientRequest): void {
    this.#refuseUpload(r, new RequestTimeoutError());
  }

  /** A refusal while the client may still be sending (server/response.ts, sendJsonLingering). */
  #refuseUpload(r: ClientRequest, err: CorralError): void {
    if (r.requestId === '') r.requestId = nextRequestId();
    this.#count(err.status);
    sendJsonLingering(r, err.status, errorBody(dialectOfPath(r.path), err));
  }

  onHeadersTooLarge(r: ClientRequest): void {
    this.sendError(r, dialectOfPath(r.path), new HeadersTooLargeError(), true);
  }

  onInvalidFraming(r: ClientRequest, reason: string): void {
    this.sendError(r, dialectOfPath(r.path), new InvalidRequestError(reason), true);
  }

  #checkForwardedValues(r: ClientRequest): void {
    if (r.query !== '' && !isForwardableQuery(r.query)) {
      throw new InvalidRequestError('query string: must be ASCII (percent-encode other characters)');
    }
    if (r.clientRequestId !== '' && !isForwardableHeaderValue(r.clientRequestId)) {
      r.requestId = nextRequestId(); // not echoed back either
      throw new InvalidRequestError(`${this.requestIdHeader}: must be printable ASCII`);
    }
    if (r.accept !== '' && !isForwardableHeaderValue(r.accept)) throw new InvalidRequestError('accept: must be printable ASCII');
    if (r.traceparent !== '' && !isForwardableHeaderValue(r.traceparent)) throw new InvalidRequestError('traceparent: must be printable ASCII');
  }

  #forward(r: ClientRequest, route: Route): void {
    const facts = new RequestFacts();
    const checksContext = this.sizeContext && route.generates;
    analyseBody(r.body, route.kind === RouteKind.Inference && route.streamsByDefault, facts, route.kind === RouteKind.ModelInfo, checksContext);
    const table = this.table;
    const model = table.model(facts.model);
    if (model === undefined) {
      if (table.undiscovered > 0) {
        // Some endpoint never answered discovery: the model may well be its. Say so, retryably.
        throw new NoEndpointError(`model "${facts.model}" is not known to corral and ${table.undiscovered} endpoint(s) have not been reachable to list their models; retry shortly`);
      }
      throw new ModelNotFoundError(`model "${facts.model}" is not served by any endpoint (GET ${route.dialect === Dialect.Ollama ? '/api/tags' : '/v1/models'} lists them)`);
    }
    // Refused before any backend is touched: a prompt too long fails late and confusingly there.
    if (checksContext) checkContext(this, facts, model, route.dialect);
    let hi = 0;
    let lo = 0;
    if (r.sessionKey !== '') {
      hi = hash32(r.sessionKey, SESSION_SEED_HI);
      lo = hash32(r.sessionKey, SESSION_SEED_LO);
    }
    // The upstream request's header block, built once for every try (Host goes before it per try).
    // Client values are copied as they are, so they must be ASCII (protocol/forwarded-values.ts).
    this.#checkForwardedValues(r);
    let headerBlock = `content-type: application/json\r\nx-request-id: ${r.requestId}\r\n`;
    if (r.accept !== '') headerBlock += `accept: ${r.accept}\r\n`;
    if (r.traceparent !== '') headerBlock += `traceparent: ${r.traceparent}\r\n`;
    const headerPrefix = headerBlock;
    headerBlock += contentLengthLine(this, route, facts, r.body);
    if (this.sequence !== null && route.kind === RouteKind.Inference) this.sequence.note(model.index);
    const ex = new Exchange(this, r, route, facts, table, model, hi, lo, headerBlock, headerPrefix);
    ex.lowPriority = r.priority === '' ? this.lowByDefault : isLowPriority(r.priority);
    r.exchange = ex;
    this.active++;
    this.segment.stats.add(this.statsSlot, Counter.Requests, 1);
    ex.attempt();
  }

  #catalog(r: ClientRequest, route: Route): void {
    const t = this.table;
    let body: string;
    switch (route.view) {
      case CatalogView.OllamaTags: body = t.ollamaTagsBody; break;
      case CatalogView.OllamaPs: body = t.ollamaPsBody; break;
      case CatalogView.OllamaVersion: body = t.ollamaVersionBody; break;
      default: body = t.openaiModelsBody; break;
    }
    this.#count(200);
    sendJson(r, 200, body);
  }

  #internal(r: ClientRequest, route: Route): void {
    if (route.view === InternalView.Health) {
      sendJson(r, 200, HEALTH_BODY);
      return;
    }
    if (route.view === InternalView.Ready) {
      const healthy = this.healthyEndpoints();
      sendJson(r, healthy > 0 ? 200 : 503, readyBody(healthy));
      return;
    }
    if (route.view === InternalView.Metrics) {
      const open = wantsOpenMetrics(r.accept);
      this.control.metrics(open).then(
        (text) => sendText(r, 200, metricsContentType(open), text),
        (err) => this.sendError(r, Dialect.OpenAI, this.#internalError(r, err)),
      );
      return;
    }
    this.control.status().then(
      (doc) => sendJson(r, 200, JSON.stringify(doc)),
      (err) => this.sendError(r, Dialect.OpenAI, this.#internalError(r, err)),
    );
  }

  healthyEndpoints(): number {
    return this.segment.endpoints.healthyCount(this.segment.header.endpointCount());
  }

  /** The error for a select() that found nothing, by reason. */
  noEndpointError(code: number, model: string): CorralError {
    if (code === NO_ENDPOINT_DIALECT) return new DialectUnsupportedError(`no endpoint serving "${model}" speaks this API; use the other dialect`);
    if (code === NO_ENDPOINT_SATURATED) return new NoEndpointError(`every endpoint serving "${model}" is at max_concurrency; retry shortly`);
    return new NoEndpointError(`no healthy endpoint serves "${model}"`);
  }

  /** A load ended (primary's broadcast): the requests of this process waiting for that model go on. */
  loadDone(done: LoadDone): void {
    const receivedAt = performance.timeOrigin + performance.now();
    const woken = this.loadWaiters.wake(done);
    // Requests queued for the model behind the load may now find a slot on the new copy.
    if (done.ok && this.segment.queues.depth(done.model) > 0) this.queueWaiters.wakeHead(done.model, 0, done.sentAtMs);
    if (woken > 0) {
      // From the primary's announcement to every waiting request of this process sent on (or answered).
      const wakeMs = Math.round((performance.timeOrigin + performance.now() - done.sentAtMs) * 1000) / 1000;
      const ipcMs = Math.round((receivedAt - done.sentAtMs) * 1000) / 1000;
      this.log.info({ model: this.table.modelName(done.model), endpoint: this.table.endpointNames[done.endpoint], ok: done.ok, waiters: woken, ipcMs, wakeMs },
        'requests resumed after a model load');
    }
  }

  /** Another process found that the head of `model`'s queue is here (IPC `queue-wake`). */
  queueWake(model: number, hops: number, sentAtMs: number): void {
    this.queueWaiters.woken(model, hops, sentAtMs);
  }

  /** Slots may have freed wholesale (a worker gone, an endpoint back): every queue this process holds a waiter of moves. */
  wakeQueues(): void {
    this.queueWaiters.wakeAll();
  }

  /** The error a request waiting for a failed load receives (the class the primary named). */
  loadError(done: LoadDone): CorralError {
    if (done.code === NoCapacityError.code) return new NoCapacityError(done.message);
    if (done.code === UpstreamTimeoutError.code) return new UpstreamTimeoutError(done.message);
    return new ModelLoadError(done.message);
  }

  /** Placement found no endpoint with room for the model (its own error class, issue 11 step 6). */
  noCapacityError(model: string): CorralError {
    const p = this.placement;
    if (p.tooBig) {
      return new NoCapacityError(`no endpoint has room for "${model}": it needs about ${formatBytes(p.needMiB * MiB)} of vRAM, more than any ` +
        `endpoint has in all (the largest has ${formatBytes(p.largestCapacityMiB * MiB)}: vram less vram_reserve)`);
    }
    return new NoCapacityError(`no endpoint has room for "${model}": it needs about ${formatBytes(p.needMiB * MiB)} of vRAM; ` +
      `the largest free space is ${formatBytes(p.largestFreeMiB * MiB)}, and the resident models that could make room are busy, pinned or just used`);
  }

  /** An error in the caller's dialect. A 503 that waiting can cure carries Retry-After unless another header is given. */
  sendError(r: ClientRequest, dialect: Dialect, err: CorralError, closeConnection = false, headerName = '', headerValue = ''): void {
    // Refusals before onRequest (413, 408, 431) still carry a request id.
    if (r.requestId === '') r.requestId = nextRequestId();
    // An exchange counts its own outcome when it finishes.
    if (r.exchange === null) this.#count(err.status);
    if (headerName === '' && err.status === 503 && err.code !== DialectUnsupportedError.code) {
      headerName = 'retry-after';
      headerValue = RETRY_AFTER_SECONDS;
    }
    sendJson(r, err.status, errorBody(dialect, err), headerName, headerValue, closeConnection);
  }

  /** A transport failure: stop choosing the endpoint in every process now, and have the primary confirm. */
  markSuspect(endpoint: number): void {
    if (this.segment.endpoints.casState(endpoint, EndpointState.Healthy, EndpointState.Suspect)) {
      this.control.reportSuspect(endpoint);
    }
  }

  /** A try on `endpoint` failed: feed the circuit breaker (and log if it opened). */
  endpointFailed(endpoint: number, requestId: string): void {
    if (this.breaker.onFailure(endpoint) === CircuitChange.Opened) {
      this.log.warn({ endpoint: this.table.endpointNames[endpoint], requestId, consecutiveFailures: this.segment.endpoints.consecutiveFailures(endpoint) }, 'circuit opened');
    }
  }

  endpointSucceeded(endpoint: number, trial: boolean, opening: number): void {
    if (this.breaker.onSuccess(endpoint, trial, opening) === CircuitChange.Closed) {
      this.log.info({ endpoint: this.table.endpointNames[endpoint] }, 'circuit closed');
    }
  }

  exchangeFinished(ex: Exchange): void {
    const r = ex.r;
    const stats = this.segment.stats;
    const slot = this.statsSlot;
    if (r.status !== 0) this.#count(r.status);
    stats.add(slot, Counter.BytesOut, ex.bytesOut);
    const now = performance.now();
    stats.observe(slot, Histogram.Latency, Math.round((now - r.receivedAt) * 1000));
    if (ex.firstByteAt !== 0) stats.observe(slot, Histogram.FirstByte, Math.round((ex.firstByteAt - r.receivedAt) * 1000));
    if (this.logRequests) {
      this.log.info({ requestId: r.requestId, path: r.path, model: ex.facts.model, endpoint: r.endpointName, route: r.routeLabel,
        status: r.status, retries: r.retries, aborted: r.aborted, ms: Math.round((now - r.receivedAt) * 100) / 100,
        ttfbMs: ex.firstByteAt === 0 ? null : Math.round((ex.firstByteAt - r.receivedAt) * 100) / 100 }, 'request');
    }
    if (this.draining) this.lastActivity = now;
    if (--this.active === 0 && this.#onIdle.length > 0) {
      const waiting = this.#onIdle;
      this.#onIdle = [];
      for (const resolve of waiting) resolve();
    }
  }

  #count(status: number): void {
    const c = status < 400 ? Counter.Responses2xx : status < 500 ? Counter.Responses4xx : Counter.Responses5xx;
    this.segment.stats.add(this.statsSlot, c, 1);
  }

  #internalError(r: ClientRequest, err: unknown): CorralError {
    this.log.error({ requestId: r.requestId, err }, 'internal error');
    return new InternalError();
  }

  /** Resolves once no exchange is in flight (graceful shutdown). */
  whenIdle(): Promise<void> {
    if (this.active === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.#onIdle.push(resolve);
    });
  }

  /** From now on every response carries `Connection: close`: clients move to other workers. */
  startDraining(): void {
    this.draining = true;
    this.lastActivity = performance.now();
  }

  /**
   * Resolves once nothing is in flight and no request arrived for `quietMs`: clients that were
   * mid-conversation on a kept-alive connection have been told to close it, and idle ones had a
   * moment to notice — closing then races almost no one.
   */
  async whenQuiet(quietMs: number): Promise<void> {
    for (;;) {
      await this.whenIdle();
      const wait = this.lastActivity + quietMs - performance.now();
      if (wait <= 0 && this.active === 0) return;
      await new Promise((resolve) => setTimeout(resolve, Math.max(10, wait)));
    }
  }

  close(): Promise<void> {
    clearInterval(this.#clock);
    this.sequence?.flush();
    return this.pools.close();
  }
}

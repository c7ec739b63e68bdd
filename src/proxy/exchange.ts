import { performance } from 'node:perf_hooks';
import type { ClientRequest } from '../server/client-request.js';
import { writeHeadAndChunk, writeChunk, writeHeadAndEnd, endResponse, closeConnection, onDrained } from '../server/response.js';
import { RouteKind, type Route } from '../protocol/routes.js';
import { Dialect } from '../protocol/dialect.js';
import type { RequestFacts } from '../protocol/request-body.js';
import { midStreamErrorChunk } from '../protocol/error-body.js';
import type { ModelRoute, RoutingTable } from '../routing/routing-table.js';
import { classifyFailure, FailureKind, isRetryableStatus } from '../upstream/error-class.js';
import { NO_ENDPOINT_COLD, NO_ENDPOINT_SATURATED } from '../routing/selector.js';
import { PLAN_NO_CAPACITY } from '../routing/placement.js';
import type { LoadDone } from '../core/ipc.js';
import type { LoadWaiter } from './load-waiters.js';
import type { QueueWaiter } from './queue-waiters.js';
import { dequeued, enqueue, leaveQueue, queueHeartbeat, queueTimedOut } from './queued-exchange.js';
import { CorralError, UpstreamError, UpstreamTimeoutError } from '../core/errors.js';
import { Counter } from '../state/stats.js';
import type { Proxy } from './proxy.js';
import type { UpstreamAttempt } from './upstream-attempt.js';
import type { ForwardedHeaders } from '../upstream/forwarded-headers.js';
import { closingBytes, Framing } from '../protocol/stream-framing.js';
import { EventGate } from './event-gate.js';
import { numCtxFor, outgoingRequest } from './outgoing-request.js';
import { noteFinalChunk } from './calibration.js';

/**
 * Loads one request may wait for before it is routed like placement were off (to any endpoint
 * listing the model: Ollama loads it itself). Two: its own, and one more should the model have
 * been evicted again before the request got to it.
 */
const MAX_LOAD_WAITS = 2;


/**
 * One proxied request from endpoint selection to the last byte. Each try is an UpstreamAttempt
 * (the upstream pool's request and response receiver; no closures per request). The exchange retries on another endpoint while
 * nothing has reached the client, passes the body through chunk by chunk with backpressure, and
 * records the outcome.
 */
export class Exchange implements LoadWaiter, QueueWaiter {
  readonly proxy: Proxy;
  readonly r: ClientRequest;
  readonly route: Route;
  readonly facts: RequestFacts;
  /** The routing view this try uses: the latest catalog's (refreshed before a retry). */
  table: RoutingTable;
  model: ModelRoute;
  readonly sessionHi: number;
  readonly sessionLo: number;
  /** The upstream request's header lines after Host, through the blank line (latin1), shared by every try. */
  readonly headerBlock: string;
  /** headerBlock without its Content-Length line and blank line: for a body of another length. */
  readonly headerPrefix: string;
  endpoint: number;
  /** The live try; events from any other (abandoned) try are ignored. */
  current: UpstreamAttempt | null;
  /** Endpoints that failed this request, in order (never chosen again for it). */
  tried: number[] | null;
  /**
   * Retries scheduled, against routing.max_retries: failovers, and re-dispatches after a pool was
   * replaced. X-Corral-Retries (r.retries) counts only the failed endpoints (`tried`).
   */
  retriesUsed: number;
  upstreamStatus: number;
  upstreamHeaders: ForwardedHeaders | null;
  /** The upstream's Content-Length, -1 when absent (streamed or chunked responses). */
  upstreamLength: number;
  /** A whole body that arrived in one chunk, held to leave with the head in a single send. */
  heldBody: Buffer | null;
  /** A streamed success passes through in whole events (event-gate.ts); null otherwise. */
  gate: EventGate | null;
  paused: boolean;
  drainHooked: boolean;
  /** The current try was admitted as a half-open circuit's trial: its success may close the circuit. */
  trial: boolean;
  /** For a trial: which opening of the circuit it tests (CircuitBreaker.openingOf). */
  trialOpening: number;
  attemptStartedAt: number;
  firstByteAt: number;
  bytesOut: number;
  done: boolean;
  /** The model column counted in flight on `endpoint` (per-model counts, for eviction), or -1. */
  cellModel: number;
  /** The model whose load this request waits for, or -1. */
  waitingFor: number;
  loadWaits: number;
  /** The last reserve() lost a race for an endpoint's last slot. */
  raced: boolean;
  /** X-Corral-Priority: low (or queue.default_priority: low): refused first when the model's queue is long. */
  lowPriority: boolean;
  // Admission queue (queue-waiters.ts): the ticket, when it joined (0 = not queued), its timers.
  queueTicket: number;
  queuedAt: number;
  queueTimer: NodeJS.Timeout | null;
  heartbeatTimer: NodeJS.Timeout | null;
  wakeSentAt: number;
  /** A queue heartbeat sent the client a 200 event-stream head: what follows must fit in that stream. */
  heartbeatHead: boolean;

  constructor(proxy: Proxy, r: ClientRequest, route: Route, facts: RequestFacts, table: RoutingTable,
    model: ModelRoute, sessionHi: number, sessionLo: number, headerBlock: string, headerPrefix: string) {
    this.proxy = proxy;
    this.r = r;
    this.route = route;
    this.facts = facts;
    this.table = table;
    this.model = model;
    this.sessionHi = sessionHi;
    this.sessionLo = sessionLo;
    this.headerBlock = headerBlock;
    this.headerPrefix = headerPrefix;
    this.endpoint = -1;
    this.current = null;
    this.tried = null;
    this.retriesUsed = 0;
    this.upstreamStatus = 0;
    this.upstreamHeaders = null;
    this.upstreamLength = -1;
    this.heldBody = null;
    this.gate = null;
    this.paused = false;
    this.drainHooked = false;
    this.trial = false;
    this.trialOpening = 0;
    this.attemptStartedAt = 0;
    this.firstByteAt = 0;
    this.bytesOut = 0;
    this.done = false;
    this.cellModel = -1;
    this.waitingFor = -1;
    this.loadWaits = 0;
    this.raced = false;
    this.lowPriority = false;
    this.queueTicket = 0;
    this.queuedAt = 0;
    this.queueTimer = null;
    this.heartbeatTimer = null;
    this.wakeSentAt = 0;
    this.heartbeatHead = false;
  }

  /** Chooses an endpoint and sends the request there; answers the client itself when none can serve. */
  attempt(): void {
    const proxy = this.proxy;
    const r = this.r;
    if (r.aborted) return this.finish();
    if (this.table !== proxy.table) {
      // The catalog changed since the last try (a reload, a discovery): route with the new view.
      // Endpoint rows are stable across catalogs (matched by name), so `tried` stays meaningful.
      const model = proxy.table.model(this.facts.model); // the client's spelling: it decides forwardAs
      if (model === undefined) return this.fail(proxy.noEndpointError(-1, this.model.name));
      this.table = proxy.table;
      this.model = model;
    }
    const inference = this.route.kind === RouteKind.Inference;
    // Requests already wait for this model: a new one queues behind them rather than take the
    // slot they are owed (a retry or a woken waiter has its place already).
    if (inference && this.attemptStartedAt === 0 && this.queuedAt === 0 && proxy.admission !== null
      && proxy.segment.queues.waiting(this.model.index) > 0) {
      return this.enqueue();
    }
    let e = this.reserve(proxy.warmFirst && inference);
    if (e === NO_ENDPOINT_COLD) {
      // Busy where it is resident: a slot there is nearer than a load elsewhere, unless the queue is long.
      if (inference && proxy.admission !== null && proxy.selector.warmSaturated > 0 && !proxy.admission.worthACopy(this.model)) return this.enqueue();
      if (this.loadWaits < MAX_LOAD_WAITS) return this.placeCold();
      // Loaded twice for this request and still not resident where it can go: busy elsewhere
      // (step 5), or corral's picture of the GPUs is behind the backend's — then route like
      // placement were off and let the backend load it.
      e = proxy.selector.warmSaturated > 0 ? NO_ENDPOINT_SATURATED : this.reserve(false);
    }
    if (e < 0) {
      const saturated = this.raced || e === NO_ENDPOINT_SATURATED;
      if (saturated && inference && proxy.admission !== null) return this.enqueue();
      return this.fail(saturated ? proxy.noEndpointError(NO_ENDPOINT_SATURATED, this.model.name)
        : this.tried === null ? proxy.noEndpointError(e, this.model.name)
          : new UpstreamError(`every endpoint that serves "${this.model.name}" failed (${this.tried.length} tried)`));
    }
    // Reserved above; releaseEndpoint() gives back both on every path from here.
    if (this.queuedAt !== 0) dequeued(this);
    this.endpoint = e;
    this.trial = proxy.breaker.isTrial(e);
    this.trialOpening = this.trial ? proxy.breaker.openingOf(e) : 0;
    proxy.segment.holds.hold(proxy.statsSlot, e);
    if (this.route.kind === RouteKind.Inference) {
      this.cellModel = this.model.index;
      proxy.segment.models.begin(e, this.cellModel, proxy.nowSec);
    }
    const target = proxy.pools.target(e);
    if (target === undefined) return this.fail(proxy.noEndpointError(-1, this.model.name));
    // Nothing a previous try received may leak into this one (a body held before a reset).
    this.upstreamStatus = 0;
    this.upstreamHeaders = null;
    this.upstreamLength = -1;
    this.heldBody = null;
    this.gate = null;
    this.firstByteAt = 0;
    r.endpointName = this.table.endpointNames[e]!;
    r.routeLabel = proxy.selector.route;
    // X-Corral-Retries: the endpoints that failed before this one. Set here, when a retry is
    // really sent: one that finds no endpoint left is none, and the "every endpoint failed
    // (N tried)" answer then says N = this + 1, X-Corral-Endpoint naming the last one tried.
    r.retries = this.tried === null ? 0 : this.tried.length;
    // A dispatch after an earlier one (attemptStartedAt is 0 only before the first) is a retry sent.
    if (this.attemptStartedAt !== 0) proxy.segment.stats.add(proxy.statsSlot, Counter.Retries, 1);
    proxy.segment.endpoints.addRequest(e);
    this.attemptStartedAt = performance.now();
    const path = target.basePath === '' ? this.pathWithQuery() : target.basePath + this.pathWithQuery();
    const attempt = outgoingRequest(this, e, target, path);
    this.current = attempt;
    target.pool.dispatch(attempt);
  }

  /**
   * Selects an endpoint and reserves a slot on it, or returns a NO_ENDPOINT_* code. The selector
   * saw a free slot, but another worker may take it first: reserve with one atomic add and, when
   * that overshoots the cap (max_concurrency, or the half-open trial limit), give it back and
   * choose again without that endpoint. Rare: only under a race for the last slot (`raced`).
   */
  reserve(warmFirst: boolean): number {
    const proxy = this.proxy;
    const endpoints = proxy.segment.endpoints;
    let skipped: number[] | null = null;
    let e: number;
    for (;;) {
      e = proxy.selector.select(this.table, this.model, this.route.dialect, this.sessionHi, this.sessionLo,
        skipped === null ? this.tried : this.tried === null ? skipped : [...this.tried, ...skipped], warmFirst);
      if (e < 0 || endpoints.acquire(e) <= proxy.breaker.capacity(e, endpoints.maxConcurrency(e))) break;
      endpoints.release(e);
      (skipped ??= []).push(e);
    }
    this.raced = skipped !== null;
    return e;
  }

  /**
   * No endpoint holding the model can take the request: place it (routing/placement.ts) and wait
   * for the load — one this request claimed and asks the primary for, or one already under way.
   */
  placeCold(): void {
    const proxy = this.proxy;
    const m = this.model.index;
    // Resident somewhere but saturated there: another copy may go into free vRAM, but nobody's
    // model is unloaded for it (step 5 holds the request instead, once admission queues exist).
    const saturatedElsewhere = proxy.selector.warmSaturated > 0;
    // Read before looking for a load to join: a load ending after this read wakes this request.
    const epoch = proxy.segment.modelInfo.loadsEnded(m);
    const planned = proxy.placement.plan(this.table, this.model, this.route.dialect, this.tried, !saturatedElsewhere);
    if (planned === PLAN_NO_CAPACITY) {
      // The model's copies are all busy, or busy models are in the way of a load: they will
      // finish. Pinned models, or space promised to another load, are not worth waiting for.
      if (proxy.admission !== null && (saturatedElsewhere || proxy.placement.busyInTheWay)) return this.enqueue();
      return this.fail(saturatedElsewhere ? proxy.noEndpointError(NO_ENDPOINT_SATURATED, this.model.name) : proxy.noCapacityError(this.model.name));
    }
    if (planned >= 0) {
      // Loaded at the context the request will then ask for: not loaded twice.
      const numCtx = proxy.sizeContext && this.route.sizesContext ? numCtxFor(this, 0) : this.facts.numCtx;
      proxy.control.requestLoad(planned, m, numCtx, this.facts.keepAlive);
    }
    this.loadWaits++;
    this.waitingFor = m;
    proxy.loadWaiters.add(m, planned >= 0 ? planned : proxy.segment.modelInfo.loadingOn(m), this, epoch);
  }

  /** The load this request waited for ended: route again (the model is resident now), or answer its failure. */
  loadDone(done: LoadDone): void {
    this.waitingFor = -1;
    if (this.done || this.r.aborted) return;
    if (done.ok) return this.attempt();
    this.fail(this.proxy.loadError(done));
  }

  enqueue(): void {
    enqueue(this);
  }

  queueWake(): void {
    // Waiting for a load meanwhile (its load-done routes it), or already on its way.
    if (this.done || this.waitingFor >= 0 || this.endpoint >= 0) return;
    this.attempt();
  }

  queueTimedOut(): void {
    queueTimedOut(this);
  }

  queueHeartbeat(ahead: number): void {
    queueHeartbeat(this, ahead);
  }

  /**
   * Answers the client with `err` and finishes. After queue heartbeats the head is out (a 200
   * event stream): the error becomes the stream's error event, as a mid-stream failure would.
   */
  fail(err: CorralError, retryAfterSeconds = 0): void {
    const r = this.r;
    if (this.heartbeatHead) endResponse(r, midStreamErrorChunk(true, err));
    else if (retryAfterSeconds > 0) this.proxy.sendError(r, this.route.dialect, err, false, 'retry-after', String(retryAfterSeconds));
    else this.proxy.sendError(r, this.route.dialect, err);
    this.finish();
  }

  /** The route's own path (a client's trailing slash is not the backend's business) and the query. */
  pathWithQuery(): string {
    return this.r.query === '' ? this.route.path : `${this.route.path}?${this.r.query}`;
  }

  onUpstreamHead(statusCode: number, headers: ForwardedHeaders, contentLength: number): void {
    if (isRetryableStatus(statusCode) && this.canRetry()
      && this.proxy.selector.hasAlternative(this.table, this.model, this.route.dialect, this.tried, this.endpoint)) {
      // The backend is alive but cannot serve (overloaded, its own upstream broken): try another.
      this.proxy.endpointFailed(this.endpoint, this.r.requestId);
      this.retry(true, true);
      return;
    }
    if (this.heartbeatHead && (statusCode < 200 || statusCode >= 300)) {
      // The client already has a 200 event stream (queue heartbeats): a backend's error status
      // can only reach it as an error event.
      if (statusCode >= 500) this.proxy.endpointFailed(this.endpoint, this.r.requestId);
      this.abandon();
      this.fail(new UpstreamError(`endpoint ${this.r.endpointName} answered HTTP ${statusCode} after the request waited in the queue`));
      return;
    }
    this.upstreamStatus = statusCode;
    this.upstreamHeaders = headers;
    this.upstreamLength = contentLength;
    if (this.facts.stream && statusCode >= 200 && statusCode < 300) {
      this.gate = new EventGate(this.route.dialect === Dialect.OpenAI ? Framing.Sse : Framing.Ndjson);
    }
  }

  /** Returns false to pause the upstream until the client drains (backpressure). */
  onUpstreamData(chunk: Buffer): boolean {
    const r = this.r;
    if (this.firstByteAt === 0) this.firstByteAt = performance.now();
    if (this.gate !== null) {
      chunk = this.gate.admit(chunk);
      if (chunk.length === 0) return true;
    }
    if (this.r.numCtx !== 0) noteFinalChunk(this, chunk);
    this.bytesOut += chunk.length;
    let writable: boolean;
    if (!r.headSent) {
      if (chunk.length === this.upstreamLength) {
        // The whole (non-streamed) body in one chunk: hold it so head, body and end leave in one
        // send with a Content-Length, instead of a chunked head+chunk send and a terminator send.
        // The chunk is a view of the connection's read buffer, but holding it is safe: the end of
        // a Content-Length body comes in the same parse, before that buffer is read into again.
        this.heldBody = chunk;
        return true;
      }
      // Head and first bytes leave together: until now a failure could still be retried.
      writable = writeHeadAndChunk(r, this.upstreamStatus, this.upstreamHeaders!, chunk);
    } else {
      writable = writeChunk(r, chunk);
    }
    if (!writable) this.pause();
    return writable;
  }

  onUpstreamEnd(): void {
    this.current = null;
    const r = this.r;
    // An unfinished last event or line is the backend's own ending: passed on as it is.
    const tail = this.gate?.takeHeld() ?? null;
    if (this.firstByteAt === 0) this.firstByteAt = performance.now();
    // A 5xx the backend answered itself (not retried) still says it is failing.
    if (this.upstreamStatus >= 500) this.proxy.endpointFailed(this.endpoint, r.requestId);
    else this.proxy.endpointSucceeded(this.endpoint, this.trial, this.trialOpening);
    // The backend is done: its slot goes back before the client hears the end. Otherwise a client
    // that sends its next request the moment this one ends can reach another worker while this
    // one, preempted between its write and its release, still counts the slot (least-connections
    // then sees a tie where there is none).
    this.releaseEndpoint();
    if (!r.headSent) {
      writeHeadAndEnd(r, this.upstreamStatus, this.upstreamHeaders!, this.heldBody ?? tail);
      this.heldBody = null;
    } else {
      endResponse(r, tail ?? '');
    }
    this.finish();
  }

  onUpstreamError(err: Error): void {
    this.current = null;
    // The connection's parser owns them, and the connection is gone: never to be read again.
    this.upstreamHeaders = null;
    const r = this.r;
    const proxy = this.proxy;
    if (r.aborted) return this.finish();
    const kind = classifyFailure(err);
    if (kind === FailureKind.PoolClosed && this.canRetry()) {
      // Nothing was sent and the endpoint is not at fault: its pool was replaced (a new URL in a
      // new catalog). Choose again with the new catalog, this endpoint included.
      this.retry(false, false);
      return;
    }
    proxy.endpointFailed(this.endpoint, r.requestId);
    proxy.segment.stats.add(proxy.statsSlot, Counter.UpstreamErrors, 1);
    if (kind === FailureKind.Transport) proxy.markSuspect(this.endpoint);
    if (!r.headSent || (this.heartbeatHead && this.bytesOut === 0 && this.gate === null)) {
      if (kind === FailureKind.Transport && this.canRetry()) {
        this.retry(false, true);
        return;
      }
      // The head came but its stream went silent inside the first event, which the gate held:
      // the client has seen nothing, so this is a hung backend to fail over from, not a slow one.
      const silentInFirstEvent = kind === FailureKind.Timeout && this.upstreamStatus !== 0;
      // A malformed response is a 502 the backend did not say: retried like one (onUpstreamHead).
      if ((kind === FailureKind.Protocol || silentInFirstEvent) && this.canRetry()
        && proxy.selector.hasAlternative(this.table, this.model, this.route.dialect, this.tried, this.endpoint)) {
        proxy.log.warn({ requestId: r.requestId, endpoint: r.endpointName, err: err.message },
          silentInFirstEvent ? 'upstream went silent inside its first event; retrying elsewhere' : 'upstream sent an invalid response; retrying elsewhere');
        this.retry(false, true);
        return;
      }
      const error: CorralError = kind === FailureKind.Timeout
        ? new UpstreamTimeoutError(silentInFirstEvent
          ? `endpoint ${r.endpointName} went silent inside its first event for longer than upstream.idle_timeout`
          : `endpoint ${r.endpointName} did not answer within upstream.first_byte_timeout`)
        : new UpstreamError(kind === FailureKind.Protocol ? `endpoint ${r.endpointName} sent an ${err.message}` : `endpoint ${r.endpointName} failed: ${err.message}`);
      proxy.log.warn({ requestId: r.requestId, endpoint: r.endpointName, err: err.message }, 'upstream failed before responding');
      return this.fail(error);
    }
    // Bytes already reached the client: end the stream in a way its protocol reports as an error.
    const error = kind === FailureKind.Timeout
      ? new UpstreamTimeoutError(`endpoint ${r.endpointName} went silent for longer than upstream.idle_timeout`)
      : new UpstreamError(`endpoint ${r.endpointName} failed mid-stream: ${err.message}`);
    const gate = this.gate;
    if (gate !== null) {
      // What the gate held never reached the client; the client's stream ends on a boundary
      // unless an oversized event was let through unfinished, which is closed first. The error
      // is the chunked body's last chunk: closing the connection instead would make uWS append a
      // header block to the body and garble the stream.
      gate.drop();
      const last = midStreamErrorChunk(gate.framing === Framing.Sse, error);
      endResponse(r, gate.midEvent ? closingBytes(gate.framing) + last : last);
    } else {
      // A non-streamed body has no in-band way to carry an error: cut the connection before the
      // chunked terminator so the client sees an incomplete response, never truncated JSON as whole.
      closeConnection(r);
    }
    proxy.log.warn({ requestId: r.requestId, endpoint: r.endpointName, err: err.message }, 'upstream failed mid-stream');
    this.finish();
  }

  /** The client went away: stop the upstream so the GPU stops generating. */
  clientAborted(): void {
    if (this.current !== null) this.abandon();
    if (this.waitingFor >= 0) {
      this.proxy.loadWaiters.remove(this.waitingFor, this);
      this.waitingFor = -1;
    }
    // Its place goes at once: the requests behind it move up.
    if (this.queuedAt !== 0) leaveQueue(this);
    this.proxy.segment.stats.add(this.proxy.statsSlot, Counter.ClientAborts, 1);
    this.finish();
  }

  /** Retries left and nothing sent yet. (A status retry also needs another endpoint: onUpstreamHead.) */
  canRetry(): boolean {
    // After queue heartbeats the head is out, but no backend byte yet: the client cannot tell a retry.
    return (!this.r.headSent || (this.heartbeatHead && this.bytesOut === 0)) && this.retriesUsed < this.proxy.maxRetries;
  }

  /**
   * Gives up the current try (abandoning it when it is still live) and schedules the next. A
   * failed endpoint (`excludeEndpoint`) is remembered before it is released — it must never be
   * chosen again for this request.
   */
  retry(abandonCurrent: boolean, excludeEndpoint: boolean): void {
    if (excludeEndpoint) (this.tried ??= []).push(this.endpoint);
    if (abandonCurrent) this.abandon();
    else this.releaseEndpoint();
    this.retriesUsed++;
    // Off the upstream callback's stack: the next dispatch may hit another pool synchronously.
    process.nextTick(attemptAgain, this);
  }

  abandon(): void {
    const a = this.current;
    this.current = null;
    this.releaseEndpoint();
    a?.abandon();
  }

  /** The upstream is paused by onUpstreamData returning false; this arranges the resume. */
  pause(): void {
    if (this.paused) return;
    this.paused = true;
    if (!this.drainHooked) {
      this.drainHooked = true;
      onDrained(this.r, () => this.resume());
    }
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.current?.resume();
  }

  releaseEndpoint(): void {
    const e = this.endpoint;
    if (e < 0) return;
    const segment = this.proxy.segment;
    const endpoints = segment.endpoints;
    const model = this.cellModel;
    // The model's count first: while it is up, the endpoint's is too (the primary's repair of a
    // gone worker's counts relies on it).
    if (model >= 0) {
      segment.models.end(e, model);
      this.cellModel = -1;
    }
    endpoints.release(e);
    segment.holds.unhold(this.proxy.statsSlot, e);
    this.endpoint = -1;
    // Read after the release (queue-waiters.ts: no lost wake-up).
    const queued = segment.queues.total();
    // Only attempts that produced a response say anything about the endpoint's latency and the
    // model's service time (what a full queue's Retry-After is computed from: sampled while
    // requests wait, and once before, which spares the clock read on an idle gateway's requests).
    if (this.firstByteAt !== 0) {
      endpoints.recordLatencyUs(e, Math.round((this.firstByteAt - this.attemptStartedAt) * 1000));
      if (model >= 0 && (queued > 0 || segment.queues.serviceMs(model) === 0)) this.sampleService(model);
    }
    // Requests queued anywhere may take the slot.
    if (queued > 0) this.proxy.queueWaiters.slotFreed(this.proxy.table, e);
  }

  /** The time this try held its slot, for the model's service-time average (off the common path: a clock read). */
  sampleService(model: number): void {
    this.proxy.segment.queues.recordService(model, performance.now() - this.attemptStartedAt);
  }

  finish(): void {
    if (this.done) return;
    this.done = true;
    // Answered while still queued (its model left the catalog, a load it waited for failed): its place goes.
    if (this.queuedAt !== 0) leaveQueue(this);
    this.releaseEndpoint();
    this.proxy.exchangeFinished(this);
  }
}

function attemptAgain(ex: Exchange): void {
  ex.attempt();
}

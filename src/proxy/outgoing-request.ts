import { chooseNumCtx } from '../protocol/context-size.js';
import { withModelName } from '../protocol/model-rename.js';
import { INSERTION_LENGTH, numCtxInsertion, withNumCtx } from '../protocol/num-ctx-injection.js';
import { MODEL_LOADED } from '../state/models.js';
import type { UpstreamTarget } from '../upstream/pools.js';
import { promptTokens } from './context-check.js';
import type { Exchange } from './exchange.js';
import { UpstreamAttempt } from './upstream-attempt.js';

const NO_BODY = Buffer.alloc(0);

/** The num_ctx for an exchange's request where the resident runner has `resident` (0 = none): context-size.ts. */
export function numCtxFor(ex: Exchange, resident: number): number {
  const proxy = ex.proxy;
  const facts = ex.facts;
  const needed = promptTokens(proxy, facts, ex.model.index) + (facts.numPredict > 0 ? facts.numPredict : proxy.replyBudget);
  return chooseNumCtx(needed, facts.numCtx, resident, proxy.numCtxBuckets, proxy.segment.modelInfo.maxContext(ex.model.index));
}

/**
 * What one try of `ex` sends to endpoint `e`: the client's body with the two rewrites corral
 * makes — the model under the spelling that endpoint lists (rare: routing-table.ts, forwardNames),
 * and for Ollama chat/generate the num_ctx that fits the runner resident there (context-size.ts) —
 * behind the request line, Host and the exchange's shared header block. The common num_ctx rewrite
 * copies nothing: the field goes in the head, written over the body's '{' (UpstreamRequest.bodySkip),
 * and its length is fixed, so the shared header block already counts it (context-check.ts,
 * contentLengthLine); only a renamed or re-serialised body needs a Content-Length of its own.
 */
export function outgoingRequest(ex: Exchange, e: number, target: UpstreamTarget, path: string): UpstreamAttempt {
  const proxy = ex.proxy;
  const facts = ex.facts;
  const original = ex.r.body ?? NO_BODY;
  let body = original;
  const forwardAs = ex.model.forwardAs;
  if (forwardAs !== null && forwardAs[e] !== null && forwardAs[e] !== undefined) {
    // Only the model's value changes.
    body = withModelName(body, forwardAs[e]!) ?? body;
  }
  let insertion = '';
  let bodySkip = 0;
  if (proxy.sizeContext && ex.route.sizesContext && ex.table.endpointLoads[e] === 1) {
    // Ollama reloads a model for another num_ctx: the one chosen fits this endpoint's runner.
    const models = proxy.segment.models;
    const m = ex.model.index;
    const resident = (models.flags(e, m) & MODEL_LOADED) !== 0 ? models.context(e, m) : 0;
    const numCtx = numCtxFor(ex, resident);
    ex.r.numCtx = numCtx;
    if (resident !== 0 && resident !== numCtx) models.setContext(e, m, numCtx); // this request reloads the runner at that size
    if (numCtx !== facts.numCtx) {
      if (facts.insertsNumCtx) {
        insertion = numCtxInsertion(numCtx);
        bodySkip = 1;
      } else {
        body = withNumCtx(body, numCtx, facts.hasOptions);
      }
    }
  }
  // The shared block counts the insertion exactly when the request was to get one (facts.insertsNumCtx).
  const blockFits = body === original && (facts.insertsNumCtx ? bodySkip === 1 && insertion.length === INSERTION_LENGTH : bodySkip === 0);
  const headers = blockFits
    ? ex.headerBlock
    : `${ex.headerPrefix}content-length: ${body.length - bodySkip + insertion.length}\r\n\r\n`;
  return new UpstreamAttempt(ex, `POST ${path} HTTP/1.1\r\nhost: ${target.hostHeader}\r\n${headers}${insertion}`, body, bodySkip);
}

import { randomBytes } from 'node:crypto';

/**
 * Request ids unique across processes and restarts without a syscall per request: a random
 * per-process prefix and a counter. A caller's own X-Request-ID is used instead when given.
 */
const prefix = randomBytes(6).toString('base64url');
let counter = 0;

export function nextRequestId(): string {
  counter = (counter + 1) | 0;
  return `${prefix}-${(counter >>> 0).toString(36)}`;
}

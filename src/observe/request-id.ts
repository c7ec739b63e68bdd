/**
 * Request ids unique across processes and restarts without a syscall per request: a random
 * per-process prefix and a counter. A caller's own X-Request-ID is used instead when given.
 *
 * The prefix comes from Math.random (V8 seeds it from the OS per process), not node:crypto: ids
 * need uniqueness, not secrecy, and node:crypto costs every worker ~2 MB of RSS.
 */
const prefixBytes = Buffer.allocUnsafe(6);
for (let i = 0; i < prefixBytes.length; i++) prefixBytes[i] = Math.floor(Math.random() * 256);
const prefix = prefixBytes.toString('base64url');
let counter = 0;

export function nextRequestId(): string {
  counter = (counter + 1) | 0;
  return `${prefix}-${(counter >>> 0).toString(36)}`;
}

import { createRequire } from 'node:module';
import type * as UWS from 'uWebSockets.js';

/**
 * Loads uWebSockets.js (the @trufflesuite fork pinned in package.json, ARCHITECTURE.md §7). On a
 * Node whose ABI it ships no binary for, the package silently falls back to a slow pure-JS server;
 * corral refuses to start on that instead of quietly serving at a fraction of its speed.
 */
export type { HttpResponse, HttpRequest, TemplatedApp, us_listen_socket } from 'uWebSockets.js';

export class UwsFallbackError extends Error {
  readonly code = 'CORRAL_ERR_UWS_FALLBACK';
  constructor() {
    super(`uWebSockets.js has no native binary for Node ${process.versions.node} (ABI ${process.versions.modules}) ` +
      'and fell back to its slow JS implementation; run corral on Node 20 (see README "Requirements")');
    this.name = 'UwsFallbackError';
  }
}

export function loadUws(): typeof UWS {
  const require = createRequire(import.meta.url);
  const uws = require('uWebSockets.js') as typeof UWS;
  // The native module exports getParts/SSLApp; the JS fallback exports only App and a few stubs.
  if (typeof (uws as unknown as { getParts?: unknown }).getParts !== 'function') throw new UwsFallbackError();
  return uws;
}

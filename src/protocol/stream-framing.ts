/**
 * Where a streamed answer can be cut cleanly: after a whole SSE event (OpenAI `/v1` streams) or a
 * whole NDJSON line (Ollama streams). corral forwards a stream's bytes unchanged but only up to
 * the last such boundary it has received; the rest waits (copied) for the bytes that complete it.
 * So a backend that dies in the middle of an event never leaves a client holding half a JSON
 * document that corral's error event would be glued onto (the `openai` client throws a
 * SyntaxError on that, the `ollama` client "invalid json"): the stream the client saw always ends
 * on a boundary, and the error event that follows is parsed as such.
 *
 * SSE (WHATWG HTML §9.2.6): an event ends at a blank line; lines end in CRLF, LF or CR. Real
 * servers (Ollama's /v1, llama-server, vLLM, SGLang) end events with `\n\n`, a few with
 * `\r\n\r\n`. A misjudged boundary costs nothing but timing: bytes are never changed, only where a
 * send ends. NDJSON: a line ends in LF.
 */
export const enum Framing {
  /** Not a stream (or not a success): forwarded as it comes. */
  None = 0,
  Sse = 1,
  Ndjson = 2,
}

const LF = 0x0a;
const CR = 0x0d;

/**
 * An incomplete event held back longer than this is forwarded anyway (a backend that never ends
 * its events, or a giant one: a base64 image in one chunk). Real events are a few hundred bytes.
 */
export const MAX_HELD_EVENT = 1 << 20;

/** Whether `chunk` (non-empty) ends exactly at a boundary: the common case, two byte reads. */
export function endsAtBoundary(chunk: Uint8Array, framing: Framing): boolean {
  const n = chunk.length;
  const last = chunk[n - 1];
  if (framing === Framing.Ndjson) return last === LF;
  if (last === LF) return n >= 2 && (chunk[n - 2] === LF || (n >= 4 && chunk[n - 2] === CR && chunk[n - 3] === LF && chunk[n - 4] === CR));
  return last === CR && n >= 2 && chunk[n - 2] === CR;
}

/** The length of `chunk`'s longest prefix that ends at a boundary (0 when it holds none). */
export function completeLength(chunk: Buffer, framing: Framing): number {
  if (chunk.length === 0 || endsAtBoundary(chunk, framing)) return chunk.length;
  if (framing === Framing.Ndjson) return chunk.lastIndexOf(LF) + 1;
  // The latest of the three blank-line forms.
  let end = chunk.lastIndexOf('\n\n');
  end = end < 0 ? 0 : end + 2;
  const crlf = chunk.lastIndexOf('\r\n\r\n');
  if (crlf >= 0 && crlf + 4 > end) end = crlf + 4;
  const cr = chunk.lastIndexOf('\r\r');
  if (cr >= 0 && cr + 2 > end) end = cr + 2;
  return end;
}

/** What closes an event or line the client already has part of, before corral's error follows it. */
export function closingBytes(framing: Framing): string {
  return framing === Framing.Sse ? '\n\n' : '\n';
}

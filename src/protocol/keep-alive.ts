/**
 * Whether an Ollama `keep_alive` means "unload now": 0 as a number, or a zero duration string
 * ("0", "0s", "0m", "0h", "0ms", "0.0s"). A load request carrying it would unload instead
 * (Ollama's docs: a request with only the model and `keep_alive: 0` unloads it).
 */
export function isZeroKeepAlive(v: unknown): boolean {
  if (typeof v === 'number') return v === 0;
  if (typeof v !== 'string') return false;
  const m = /^\s*([+-]?\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(v);
  return m !== null && Number(m[1]) === 0;
}

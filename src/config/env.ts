/**
 * CORRAL_* environment overrides, applied on top of the file before validation. Each variable sets
 * exactly one key (CORRAL_ENDPOINTS replaces the whole endpoint list); a problem with a value that
 * came from the environment is reported as `CORRAL_PORT (server.port): …`.
 */

export interface EnvOverride {
  readonly name: string;
  /** Key path it sets (`endpoints` for CORRAL_ENDPOINTS). */
  readonly path: string;
  readonly description: string;
}

/** Every supported variable; `corral --help` and config/corral.yaml list the same set. */
export const ENV_OVERRIDES: readonly EnvOverride[] = [
  { name: 'CORRAL_HOST', path: 'server.host', description: 'address to listen on' },
  { name: 'CORRAL_PORT', path: 'server.port', description: 'API port (0 = ephemeral)' },
  { name: 'CORRAL_MANAGEMENT_PORT', path: 'server.management_port', description: 'probe port, or off' },
  { name: 'CORRAL_WORKERS', path: 'server.workers', description: 'worker processes: auto, 0 (inline) or a count' },
  { name: 'CORRAL_MAX_BODY_SIZE', path: 'server.max_body_size', description: 'request body cap, e.g. 50MiB' },
  { name: 'CORRAL_SHUTDOWN_TIMEOUT', path: 'server.shutdown_timeout', description: 'drain time on stop, e.g. 30s (bare number = ms)' },
  { name: 'CORRAL_STRATEGY', path: 'routing.strategy', description: 'least-connections, round-robin, priority or weighted' },
  { name: 'CORRAL_MAX_RETRIES', path: 'routing.max_retries', description: 'fail-over attempts per request' },
  { name: 'CORRAL_PLACEMENT', path: 'routing.placement', description: 'warm-first (load cold models once, where they fit) or off' },
  { name: 'CORRAL_STATE_FILE', path: 'state.file', description: 'snapshot file for session pins across restarts, or off' },
  { name: 'CORRAL_LOG_LEVEL', path: 'logging.level', description: 'fatal, error, warn, info, debug, trace or silent' },
  { name: 'CORRAL_ENDPOINTS', path: 'endpoints', description: 'name=url,name=url — replaces the endpoint list; each gets the defaults' },
];

const INTEGER_RE = /^[+-]?\d+$/;

/** Converts a variable's text to the value the YAML would have held. */
function envValue(name: string, text: string): unknown {
  const trimmed = text.trim();
  switch (name) {
    case 'CORRAL_PORT':
    case 'CORRAL_MAX_RETRIES':
    case 'CORRAL_SHUTDOWN_TIMEOUT':
    case 'CORRAL_MAX_BODY_SIZE':
    case 'CORRAL_WORKERS':
      return INTEGER_RE.test(trimmed) ? Number(trimmed) : trimmed;
    case 'CORRAL_MANAGEMENT_PORT':
      if (/^(off|null|none|false)$/i.test(trimmed)) return null;
      return INTEGER_RE.test(trimmed) ? Number(trimmed) : trimmed;
    case 'CORRAL_STATE_FILE':
      return /^(off|null|none)$/i.test(trimmed) ? null : trimmed;
    default:
      return trimmed;
  }
}

export interface EnvOverlay {
  /** The raw config with the overrides applied (sections shallow-copied; the input is not modified). */
  readonly raw: unknown;
  /** Key path → variable that set it; `endpoints` covers every `endpoints[i]…` path. */
  readonly labels: ReadonlyMap<string, string>;
  /** Problems found while reading the variables themselves (CORRAL_ENDPOINTS syntax). */
  readonly problems: readonly string[];
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Parses `name=url,name=url` into endpoint entries. */
function parseEndpointList(text: string, problems: string[]): Array<Record<string, unknown>> {
  const endpoints: Array<Record<string, unknown>> = [];
  const entries = text.split(',').map((e) => e.trim()).filter((e) => e !== '');
  for (const entry of entries) {
    const eq = entry.indexOf('=');
    if (eq <= 0 || eq === entry.length - 1) {
      problems.push(`CORRAL_ENDPOINTS: entry "${entry}" must be name=url`);
      continue;
    }
    endpoints.push({ name: entry.slice(0, eq).trim(), url: entry.slice(eq + 1).trim() });
  }
  return endpoints;
}

/** Applies every set, non-empty CORRAL_* variable of `env` on top of `raw`. */
export function applyEnv(raw: unknown, env: NodeJS.ProcessEnv): EnvOverlay {
  const labels = new Map<string, string>();
  const problems: string[] = [];
  const active = ENV_OVERRIDES.filter((o) => env[o.name] !== undefined && env[o.name]!.trim() !== '');
  if (active.length === 0 || !(isMapping(raw) || raw === null || raw === undefined)) {
    return { raw, labels, problems };
  }
  const root: Record<string, unknown> = { ...(raw ?? {}) };
  for (const o of active) {
    const text = env[o.name]!;
    if (o.name === 'CORRAL_ENDPOINTS') {
      root.endpoints = parseEndpointList(text, problems);
      labels.set('endpoints', o.name);
      continue;
    }
    const [section, key] = o.path.split('.') as [string, string];
    const current = root[section];
    if (current !== undefined && current !== null && !isMapping(current)) continue; // reported as `section: must be a mapping`
    root[section] = { ...(current ?? {}), [key]: envValue(o.name, text) };
    labels.set(o.path, o.name);
  }
  return { raw: root, labels, problems };
}

// Config tests assert on the problems a ConfigError lists; these catch it the same way everywhere.
import { ConfigError } from '../../src/core/errors.js';
import { parseConfig } from '../../src/config/load.js';

/** The ConfigError `build` throws; any other error is rethrown, and throwing none fails. */
export function configError(build: () => unknown): ConfigError {
  try {
    build();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

/** The problem lines of the ConfigError `build` throws: what the config tests compare. */
export function problemsOf(build: () => unknown): readonly string[] {
  return configError(build).problems;
}

/** The problems parseConfig reports for `raw` under `env` (most config tests need only this). */
export function parseProblems(raw: unknown, env: NodeJS.ProcessEnv = {}): readonly string[] {
  return problemsOf(() => parseConfig(raw, env));
}

/** The config module's public surface: load, validate, defaults, units. */
export type * from './types.js';
export { defaultConfig, loadConfigFile, parseConfig, type ConfigOverrides, type EndpointInput } from './load.js';
export { ENV_OVERRIDES, type EnvOverride } from './env.js';
export { parseDuration, parseSize, formatDuration, formatSize } from './units.js';
export * from './defaults.js';

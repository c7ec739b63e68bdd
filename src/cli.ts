#!/usr/bin/env node
/**
 * The `corral` command. Wiring only: parse arguments, load and validate the config, start the
 * primary, turn signals into a graceful stop.
 *
 *   corral --config FILE             run
 *   corral --validate-config FILE    check a config; exit 1 listing every problem by key path
 *   corral --print-config FILE       print the effective config (defaults and env applied) as JSON
 */
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadConfigFile, parseConfig } from './config/load.js';
import { ConfigError, ListenError } from './core/errors.js';
import type { Config } from './config/types.js';

const USAGE = `usage: corral --config FILE
       corral --validate-config FILE
       corral --print-config FILE
       corral --version

With no --config, corral reads CORRAL_CONFIG, else runs from CORRAL_ENDPOINTS alone
(name=url,name=url). Environment overrides (CORRAL_PORT, CORRAL_WORKERS, …) are listed in
config/corral.yaml.`;

function version(): string {
  const pkg = JSON.parse(readFileSync(fileURLToPath(new URL('../../package.json', import.meta.url)), 'utf8')) as { version: string };
  return pkg.version;
}

function load(path: string | undefined): Config {
  if (path !== undefined) return loadConfigFile(path);
  if (process.env.CORRAL_CONFIG) return loadConfigFile(process.env.CORRAL_CONFIG);
  return parseConfig({}, process.env, null);
}

async function main(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      options: {
        config: { type: 'string', short: 'c' },
        'validate-config': { type: 'string' },
        'print-config': { type: 'string' },
        version: { type: 'boolean', short: 'v' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }).values;
  } catch (err) {
    process.stderr.write(`corral: ${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (args.version) {
    process.stdout.write(`corral ${version()}\n`);
    return 0;
  }
  const validate = args['validate-config'];
  const print = args['print-config'];
  let config: Config;
  try {
    config = load(validate ?? print ?? args.config);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`corral: ${err.problems.length} problem${err.problems.length === 1 ? '' : 's'} in the configuration:\n`);
      for (const p of err.problems) process.stderr.write(`  ${p}\n`);
      return 1;
    }
    throw err;
  }
  if (validate !== undefined) {
    process.stdout.write(`${validate}: ok (${config.endpoints.length} endpoint${config.endpoints.length === 1 ? '' : 's'})\n`);
    return 0;
  }
  if (print !== undefined) {
    process.stdout.write(`${JSON.stringify(config, null, 2)}\n`);
    return 0;
  }
  const { startPrimary } = await import('./primary/primary.js');
  const corral = await startPrimary(config);
  const stop = (signal: string): void => {
    corral.log.info({ signal }, 'signal received');
    corral.shutdown().then(() => process.exit(0), (err: Error) => {
      corral.log.error({ err }, 'shutdown failed');
      process.exit(1);
    });
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  // Reload: re-read and validate the config file, then replace workers one by one.
  process.on('SIGHUP', () => {
    corral.log.info({ signal: 'SIGHUP' }, 'signal received');
    corral.reload().catch((err: Error) => corral.log.error({ err }, 'reload failed'));
  });
  // pm2 `wait_ready`: tell it we are serving.
  if (typeof process.send === 'function') process.send('ready');
  return -1;
}

main(process.argv.slice(2)).then((code) => {
  if (code >= 0) process.exit(code);
}, (err: Error) => {
  // A listen problem is the operator's to fix, not a bug: its message says all.
  process.stderr.write(`corral: ${err instanceof ListenError ? err.message : err.stack ?? err.message}\n`);
  process.exit(1);
});

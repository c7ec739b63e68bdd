#!/usr/bin/env node
/**
 * The `corral` command. Wiring only: parse arguments, load and validate the config, start the
 * primary, turn signals into a graceful stop.
 *
 *   corral --config FILE             run
 *   corral --validate-config FILE    check a config; exit 1 listing every problem by key path
 *   corral --print-config FILE       print the effective config (defaults and env applied) as JSON
 *   corral status [--url URL] [--watch] [--json]   a running corral's status as a table
 */
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadConfigFile, parseConfig } from './config/load.js';
import { ConfigError, ListenError, StatusUnreachableError } from './core/errors.js';
import type { Config } from './config/types.js';

const USAGE = `usage: corral --config FILE
       corral --validate-config FILE
       corral --print-config FILE
       corral --version
       corral status [--url URL] [--watch] [--json] [--config FILE]

With no --config, corral reads CORRAL_CONFIG, else runs from CORRAL_ENDPOINTS alone
(name=url,name=url). Environment overrides (CORRAL_PORT, CORRAL_WORKERS, …) are listed in
config/corral.yaml.

corral status reads a running corral's management port (from --config, CORRAL_CONFIG or the
defaults: http://127.0.0.1:11401) and prints its endpoints, resident models, models and workers;
--watch redraws every 2 s until Ctrl-C, --json prints the JSON view instead.`;

function version(): string {
  const pkg = JSON.parse(readFileSync(fileURLToPath(new URL('../../package.json', import.meta.url)), 'utf8')) as { version: string };
  return pkg.version;
}

function load(path: string | undefined): Config {
  if (path !== undefined) return loadConfigFile(path);
  if (process.env.CORRAL_CONFIG) return loadConfigFile(process.env.CORRAL_CONFIG);
  return parseConfig({}, process.env, null);
}

/**
 * Where `corral status` looks without --url: the management port of the configuration it would
 * run with (host 0.0.0.0 or :: means this host), else the API port when the listener is off.
 * Without a config file, or with one that does not validate, the defaults.
 */
function statusUrl(configPath: string | undefined): string {
  let server: { host: string; port: number; management_port: number | null };
  try {
    server = load(configPath).server;
  } catch (err) {
    if (!(err instanceof ConfigError) || configPath !== undefined || process.env.CORRAL_CONFIG) throw err;
    server = parseConfig({ endpoints: [{ name: 'x', url: 'http://127.0.0.1' }] }, process.env, null).server;
  }
  const host = server.host === '0.0.0.0' || server.host === '::' ? '127.0.0.1' : server.host;
  const port = server.management_port ?? server.port;
  if (port === 0) throw new StatusUnreachableError('the configuration listens on port 0 (any free port): pass --url with the port corral logged');
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

async function status(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      options: {
        url: { type: 'string' }, watch: { type: 'boolean', short: 'w' }, json: { type: 'boolean' },
        config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }).values;
  } catch (err) {
    process.stderr.write(`corral status: ${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const { runStatusCommand } = await import('./observe/status-command.js');
  const stop = new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
  try {
    const url = args.url ?? statusUrl(args.config);
    await runStatusCommand({ url, watch: args.watch ?? false, json: args.json ?? false }, {
      write: (text) => process.stdout.write(text), isTTY: process.stdout.isTTY === true, columns: process.stdout.columns || 100, env: process.env,
    }, stop);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`corral status: ${err.problems.length} problem${err.problems.length === 1 ? '' : 's'} in the configuration:\n`);
      for (const p of err.problems) process.stderr.write(`  ${p}\n`);
      return 1;
    }
    if (err instanceof StatusUnreachableError) {
      process.stderr.write(`corral status: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  return 0;
}

async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'status') return status(argv.slice(1));
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

// pm2: fork mode. corral's primary forks its own cluster workers; pm2 cluster mode must not be
// used (it would make the primary itself a cluster worker). `wait_ready`: corral sends 'ready'
// once every worker listens. `kill_timeout` exceeds server.shutdown_timeout (30s) so in-flight
// streams drain before pm2 escalates to SIGKILL.
// This package is ESM ("type": "module"): Node 20.19+ lets pm2 require() this file and read the
// named export `apps` from the module namespace, so no .cjs twin is needed.
export const apps = [
    {
      name: 'corral',
      script: 'dist/bundle/cli.cjs',
      args: '--config config/corral.yaml',
      exec_mode: 'fork',
      instances: 1,
      wait_ready: true,
      listen_timeout: 30000,
      kill_timeout: 35000,
      autorestart: true,
      max_restarts: 10,
      min_uptime: 5000,
      env: { NODE_ENV: 'production' },
    },
];

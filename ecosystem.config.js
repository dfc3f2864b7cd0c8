// PM2 apps. PM2 loads this file with require(); in this ESM package Node hands it the module's
// named exports, so the apps are a named export. Run `npm ci && npm run build` first: PM2 runs
// the compiled dist/, not the TypeScript sources.

/**
 * Longer than the longest job (60 s: a tick or a send with its timeout) plus the ordered
 * shutdown, so PM2 never kills a worker that is still draining. SHUTDOWN_TIMEOUT (the
 * process's own force-exit timer) is set just below it.
 */
const killTimeoutMs = 90_000;

export const apps = [
  {
    name: 'api',
    script: 'dist/src/cli/run.js',
    args: 'api',
    exec_mode: 'cluster',
    instances: 2,
    kill_timeout: 10_000,
    listen_timeout: 10_000,
    env: { NODE_ENV: 'production' },
  },
  {
    name: 'worker',
    script: 'dist/src/cli/run.js',
    args: 'worker',
    exec_mode: 'fork',
    instances: 1,
    kill_timeout: killTimeoutMs,
    env: { NODE_ENV: 'production', SHUTDOWN_TIMEOUT: '80s' },
  },
];

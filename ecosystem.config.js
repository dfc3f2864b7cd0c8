// PM2 apps. PM2 loads this file with require(); in this ESM package Node hands it the module's
// named exports, so the apps are a named export. Run `npm ci && npm run build` first: PM2 runs
// the compiled dist/, not the TypeScript sources.

/**
 * Longer than the longest job (60 s: a tick or a send with its timeout) plus the ordered
 * shutdown, so PM2 never kills a worker that is still draining. SHUTDOWN_TIMEOUT (the
 * process's own force-exit timer) is set just below it.
 */
const killTimeoutMs = 90_000;

/**
 * A process that exits sooner than `min_uptime` after starting is an unstable restart; after
 * `max_restarts` of them in a row PM2 stops restarting it and shows it errored (a bad config
 * exits 1 at once, every time), instead of "online" in a restart loop.
 */
const startupGuard = { min_uptime: '10s', max_restarts: 5 };

export const apps = [
  {
    name: 'api',
    script: 'dist/src/cli/run.js',
    args: 'api',
    exec_mode: 'cluster',
    instances: 2,
    ...startupGuard,
    // "launching" until the process says it is ready: it sends 'ready' once the HTTP server
    // listens, so a reload sends no traffic to an instance that cannot answer yet.
    wait_ready: true,
    // PM2 waits this long for 'ready' and then counts the instance online anyway; a normal
    // start takes well under it. A process that exits instead is restarted (see startupGuard).
    listen_timeout: 10_000,
    kill_timeout: 10_000,
    env: { NODE_ENV: 'production' },
  },
  {
    name: 'worker',
    script: 'dist/src/cli/run.js',
    args: 'worker',
    exec_mode: 'fork',
    instances: 1,
    ...startupGuard,
    kill_timeout: killTimeoutMs,
    env: { NODE_ENV: 'production', SHUTDOWN_TIMEOUT: '80s' },
  },
];

/**
 * Runs N `drumbeat api` processes behind one port with node:cluster, as PM2's cluster mode does
 * with ecosystem.config.js (`instances: 2`). SIGTERM stops them all.
 *
 *   node --import tsx test/bench/api-cluster.ts [processes=2]
 */
import cluster from 'node:cluster';
import { fileURLToPath } from 'node:url';

const processes = Number(process.argv[2] ?? 2);
cluster.setupPrimary({ exec: fileURLToPath(new URL('../../src/cli/run.ts', import.meta.url)), args: ['api'], execArgv: ['--import', 'tsx'] });
for (let index = 0; index < processes; index += 1) cluster.fork();
process.on('SIGTERM', () => {
  for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
});
cluster.on('exit', () => {
  if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
});

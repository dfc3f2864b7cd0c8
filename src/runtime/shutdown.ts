import type { Logger } from '../log/logger.js';

/** One step of the ordered shutdown, e.g. "stop HTTP" or "close workers". */
export interface ShutdownStep {
  name: string;
  run(): Promise<void>;
}

/**
 * Installs one ordered shutdown on SIGINT and SIGTERM: the steps run in the order given (a
 * process gives: stop HTTP, drain workers, then close its context: shut the breakers, close
 * the queues, quit Redis, destroy the database pool), then the process exits 0, or 1 when a
 * step failed; a force-exit timer exits 1 if they take longer than `timeoutMs`.
 */
export function installShutdown(log: Logger, steps: () => ShutdownStep[], timeoutMs: number): { shutdown(signal: string): Promise<void> } {
  let stopping: Promise<void> | undefined;
  const shutdown = (signal: string): Promise<void> => {
    stopping ??= (async () => {
      log.info({ signal }, 'shutting down');
      const force = setTimeout(() => {
        log.error({ timeoutMs }, 'shutdown took too long; forcing exit');
        process.exit(1);
      }, timeoutMs);
      force.unref();
      let failed = false;
      for (const step of steps()) {
        try {
          await step.run();
        } catch (error) {
          failed = true;
          log.error({ err: error, step: step.name }, 'shutdown step failed');
        }
      }
      clearTimeout(force);
      log.info('shutdown complete');
      // Exit explicitly: a handle a library forgot to close must not keep a stopped process alive.
      process.exit(failed ? 1 : 0);
    })();
    return stopping;
  };
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  return { shutdown };
}

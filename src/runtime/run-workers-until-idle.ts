import type { AppContext } from './context.js';
import { startWorkers } from './worker-runtime.js';
import { isIdle } from './idle.js';
import { describeIdle } from './idle-summary.js';

/**
 * Runs the workers in the foreground until nothing is due now and no job is waiting, active or
 * delayed-due (or the kill switch is on), then shuts them down and resolves with one line: what
 * this run sent and what still waits, until when. Checks twice in a row, a poll apart, so that
 * work handed from one queue to another is not mistaken for idleness.
 */
export async function runWorkersUntilIdle(ctx: AppContext, pollMs = 250): Promise<string> {
  const startedAt = ctx.clock.now();
  const workers = await startWorkers(ctx);
  try {
    let idleChecks = 0;
    while (idleChecks < 2) {
      await new Promise((resolve) => setTimeout(resolve, pollMs));
      idleChecks = (await isIdle(ctx)) ? idleChecks + 1 : 0;
    }
  } finally {
    await workers.close();
  }
  return describeIdle(ctx, startedAt);
}

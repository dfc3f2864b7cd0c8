import { reconcileQueue } from '../queues/reconcile.js';
import { defineProcessor } from '../src/jobs/processor.js';
import type { ReconcilerService } from '../src/maintenance/reconciler-service.js';
import type { Housekeeping } from '../src/maintenance/housekeeping.js';

export default defineProcessor(reconcileQueue, async (_data, _job, ctx: { reconciler: ReconcilerService; housekeeping: Housekeeping }) => {
  const reconciled = await ctx.reconciler.reconcile();
  // The hourly chores ride on the reconciler's schedule; they run at most once an hour.
  const housekeeping = await ctx.housekeeping.runIfDue();
  return { ...reconciled, housekeeping: housekeeping ?? null };
});

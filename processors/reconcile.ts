import { reconcileQueue } from '../queues/reconcile.js';
import { defineProcessor } from '../src/jobs/processor.js';

export default defineProcessor(reconcileQueue, (_data, _job, ctx) => ctx.reconciler.reconcile());

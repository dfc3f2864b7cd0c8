import { importLeadsQueue } from '../queues/import-leads.js';
import { defineProcessor } from '../src/jobs/processor.js';
import { importUpload, type UploadImportDeps } from '../src/leads/lead-import.js';

export default defineProcessor(importLeadsQueue, async (data, job, ctx: UploadImportDeps) => {
  const report = await importUpload(ctx, {
    ...data,
    onProgress: (counts, bytes) => job.updateProgress({ ...counts, bytes }),
  });
  // The row errors stay in the batch record; the job result stays small.
  return report.outcome === 'imported' ? { ...report, errors: report.errors.length } : report;
});

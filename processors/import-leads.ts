import { rm } from 'node:fs/promises';
import { importLeadsQueue } from '../queues/import-leads.js';
import { defineProcessor } from '../src/jobs/processor.js';
import { importLeadsCsv } from '../src/leads/lead-import.js';

export default defineProcessor(importLeadsQueue, async (data, job, ctx) => {
  try {
    const report = await importLeadsCsv(ctx, {
      ...data,
      onProgress: (counts, bytes) => job.updateProgress({ ...counts, bytes }),
    });
    // The row errors stay in the batch record; the job result stays small.
    return report.outcome === 'imported' ? { ...report, errors: report.errors.length } : report;
  } finally {
    await rm(data.path, { force: true });
  }
});

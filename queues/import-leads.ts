import { z } from 'zod';
import { defineQueue, keepCompleted } from '../src/jobs/queue-definition.js';

/** Attribution and consent given with an upload, applied to every lead of the file. */
export const importAttributionSchema = z
  .object({
    source: z.string().max(200).optional(),
    sourceRef: z.string().max(200).optional(),
    utmSource: z.string().max(200).optional(),
    utmMedium: z.string().max(200).optional(),
    utmCampaign: z.string().max(200).optional(),
    utmContent: z.string().max(200).optional(),
    utmTerm: z.string().max(200).optional(),
    consent: z.enum(['UNKNOWN', 'GRANTED', 'DENIED']).optional(),
  })
  .strict();

/**
 * One uploaded CSV imported into one campaign (`POST /api/campaigns/:id/imports`). The job
 * names the upload by its id (a UUID), never by a path: the worker finds the file inside
 * `IMPORT_UPLOAD_DIR` only, so a job added or edited by hand cannot make it read or delete
 * another file. The job reports its progress (rows and bytes) for Bull Board; the file is
 * deleted when it ends.
 * One attempt: a retry would find the batch half done and import the rest as duplicates,
 * so a failed import is re-run by the operator (with `force`) once the cause is fixed.
 */
export const importLeadsQueue = defineQueue({
  name: 'import-leads',
  jobName: 'import-csv',
  schema: z
    .object({
      campaignId: z.number().int().positive(),
      uploadId: z.uuid('an upload id (a UUID), not a path'),
      fileName: z.string().min(1).max(500),
      createdBy: z.string().max(200).nullable(),
      force: z.boolean().default(false),
      attribution: importAttributionSchema.default({}),
    })
    .strict(),
  defaultJobOptions: {
    attempts: 1,
    removeOnComplete: keepCompleted,
    removeOnFail: { count: 1000 },
  },
  concurrency: () => 2,
  maxJobMs: 30 * 60_000,
});

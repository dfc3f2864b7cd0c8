import type { Router } from 'express';
import { Job } from 'bullmq';
import { z } from 'zod';
import type { HttpContext } from '../http-context.js';
import { NotFoundError } from '../../core/domain-error.js';
import { listCampaigns } from '../../campaigns/campaign-store.js';
import { listRecentImportBatches } from '../../leads/import-batch-store.js';
import { acceptImportUpload } from '../../leads/import-intake.js';
import { OPERATE_ROLES } from '../../operators/roles.js';
import { importLeadsQueue } from '../../../queues/import-leads.js';
import { requireQueueStore } from '../redis-guard.js';
import { sendImportErrorReport } from '../lead-api-routes.js';
import { route } from '../route.js';
import { entityId, idParam } from '../params.js';
import { pageActions, pageActor, pageRoute, refusalOf, requirePageRole } from './page-route.js';
import { renderAdminPage } from './render.js';

/** Imports listed on the page. */
const IMPORTS_SHOWN = 50;

const uploadQuery = z.object({ campaign: entityId });
/** BullMQ's own ids of `import-leads` jobs: digits. */
const jobParam = z.object({ jobId: z.string().regex(/^[1-9][0-9]{0,15}$/, 'an import job id') });

/** What the Imports page polls while an upload is imported (the job's own progress record). */
const importProgress = z
  .object({ total: z.number(), imported: z.number(), duplicates: z.number(), invalid: z.number(), suppressed: z.number(), bytes: z.number() })
  .partial();
const importResult = z.object({ batchId: z.number().optional(), outcome: z.string().optional() }).loose();

/**
 * Imports (`/admin/imports`): upload a CSV to a campaign through the same upload path as the
 * API (`POST /admin/imports/upload?campaign=`, multipart; the page's script sends it with the
 * CSRF header and answers JSON), watch it live (`GET /admin/imports/jobs/:jobId`, polled), and
 * download any import's error report. Uploading needs an operator or admin.
 */
export function importPages(router: Router, ctx: HttpContext): void {
  const operate = requirePageRole(OPERATE_ROLES, 'import leads');

  router.get(
    '/imports',
    pageRoute(async (_req, res) => {
      const [campaigns, batches] = await Promise.all([listCampaigns(ctx.db), listRecentImportBatches(ctx.db, IMPORTS_SHOWN)]);
      const names = new Map(campaigns.map((campaign) => [campaign.id, campaign.name]));
      renderAdminPage(res, 'imports', {
        title: 'Imports',
        section: 'imports',
        campaigns: campaigns.filter((campaign) => campaign.status !== 'ARCHIVED'),
        batches: batches.map((batch) => ({ ...batch, campaignName: names.get(batch.campaignId) ?? `campaign ${batch.campaignId}` })),
      });
    }),
  );

  router.post(
    '/imports/upload',
    operate,
    requireQueueStore(ctx.queues),
    route(async (req, res) => {
      try {
        const { campaign } = uploadQuery.parse(req.query);
        await ctx.campaigns.require(campaign);
        const upload = await acceptImportUpload(ctx, req, campaign, pageActor(req));
        await pageActions(req, ctx).recordImportQueued(campaign, upload);
        res.status(202).json({ jobId: upload.jobId, fileName: upload.fileName });
      } catch (error) {
        // The page's script shows this sentence beside the form.
        const refusal = refusalOf(error);
        if (refusal === undefined) throw error;
        res.status(refusal.status).json({ error: refusal.message });
      }
    }),
  );

  router.get(
    '/imports/jobs/:jobId',
    route(async (req, res) => {
      const { jobId } = jobParam.parse(req.params);
      const job = await Job.fromId(ctx.queues.get(importLeadsQueue), jobId);
      if (job === undefined) throw new NotFoundError(`import job ${jobId} is not known (finished long ago, or never queued)`);
      const state = await job.getState();
      const progress = importProgress.safeParse(job.progress);
      const result = importResult.safeParse(job.returnvalue);
      res.set('Cache-Control', 'no-store').json({
        state,
        fileName: importLeadsQueue.schema.safeParse(job.data).data?.fileName ?? null,
        progress: progress.success ? progress.data : {},
        result: result.success ? result.data : null,
        failedReason: state === 'failed' ? (job.failedReason ?? 'the import failed') : null,
      });
    }),
  );

  router.get(
    '/imports/:id/errors.csv',
    route(async (req, res) => {
      await sendImportErrorReport(ctx.db, idParam.parse(req.params).id, res);
    }),
  );
}

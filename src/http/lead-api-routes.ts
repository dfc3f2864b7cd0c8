import type { Response, Router } from 'express';
import type { Knex } from 'knex';
import { z } from 'zod';
import type { HttpContext } from './http-context.js';
import { NotFoundError } from '../core/domain-error.js';
import { route } from './route.js';
import { importLeadsQueue } from '../../queues/import-leads.js';
import { captureLeads } from '../leads/lead-capture.js';
import { acceptImportUpload } from '../leads/import-intake.js';
import { findImportBatch, listImportBatches } from '../leads/import-batch-store.js';
import { errorReportCsv } from '../leads/lead-export.js';
import type { LeadRow } from '../leads/lead-row.js';
import { requireRole } from './require-role.js';
import { apiActions, apiAuditActor } from './api-auditor.js';
import { OPERATE_ROLES } from '../operators/roles.js';
import { idParam } from './params.js';

const text = z.string().max(2000).optional();

/** One lead of `POST /api/campaigns/:id/leads` (camelCase; unknown keys refused). */
const apiLeadSchema = z
  .object({
    email: z.string().max(320),
    firstName: text,
    lastName: text,
    company: text,
    timezone: text,
    linkedin: text,
    x: text,
    instagram: text,
    source: text,
    sourceRef: text,
    utmSource: text,
    utmMedium: text,
    utmCampaign: text,
    utmContent: text,
    utmTerm: text,
    referrer: text,
    consent: z.enum(['UNKNOWN', 'GRANTED', 'DENIED', 'WITHDRAWN']).optional(),
    custom: z.record(z.string().max(200), z.string().max(2000)).optional(),
  })
  .strict();

/** The body: an array of leads (up to 10,000 per request; larger lists go through `/imports`). */
const apiLeadsBody = z.array(z.unknown()).min(1).max(10_000);

function apiLeadToRow(lead: z.infer<typeof apiLeadSchema>): LeadRow {
  return {
    email: lead.email,
    first_name: lead.firstName,
    last_name: lead.lastName,
    company: lead.company,
    timezone: lead.timezone,
    linkedin: lead.linkedin,
    x: lead.x,
    instagram: lead.instagram,
    source: lead.source ?? 'api',
    source_ref: lead.sourceRef,
    utm_source: lead.utmSource,
    utm_medium: lead.utmMedium,
    utm_campaign: lead.utmCampaign,
    utm_content: lead.utmContent,
    utm_term: lead.utmTerm,
    referrer: lead.referrer,
    consent: lead.consent,
    custom: lead.custom ?? {},
  };
}

export { parseByteSize } from '../leads/import-intake.js';

/**
 * Lead intake on the admin API: `POST /campaigns/:id/leads` (a JSON array, same rules as an
 * import), `POST /campaigns/:id/imports` (a multipart CSV, size-capped, imported by a job with
 * progress in Bull Board), `GET /campaigns/:id/imports` and `GET /imports/:id/errors.csv`.
 */
export function leadApiRoutes(router: Router, ctx: HttpContext): void {
  router.post(
    '/campaigns/:id/leads',
    requireRole(OPERATE_ROLES, 'add leads'),
    route(async (req, res) => {
      const { id } = idParam.parse(req.params);
      await ctx.campaigns.require(id);
      const items = apiLeadsBody.parse(req.body);
      const rows: LeadRow[] = [];
      const shapeErrors: Array<{ index: number; reason: string }> = [];
      items.forEach((item, index) => {
        const parsed = apiLeadSchema.safeParse(item);
        if (parsed.success) rows.push(apiLeadToRow(parsed.data));
        else {
          shapeErrors.push({ index, reason: z.prettifyError(parsed.error).replace(/\n/g, ' ') });
          rows.push({ email: '', custom: {} });
        }
      });
      const report = await captureLeads(ctx, id, rows, { enroll: true });
      await apiActions(req, ctx).recordLeadsAdded(id, { total: report.total, imported: report.imported });
      const badShape = new Set(shapeErrors.map((error) => error.index));
      const errors = [...shapeErrors, ...report.errors.filter((error) => !badShape.has(error.index))].sort((a, b) => a.index - b.index);
      res.status(200).json({
        total: report.total,
        imported: report.imported,
        duplicates: report.duplicates,
        invalid: report.invalid,
        suppressed: report.suppressed,
        errors,
      });
    }),
  );

  router.post(
    '/campaigns/:id/imports',
    requireRole(OPERATE_ROLES, 'import leads'),
    route(async (req, res) => {
      const { id } = idParam.parse(req.params);
      await ctx.campaigns.require(id);
      const { jobId, fileName } = await acceptImportUpload(ctx, req, id, apiAuditActor(req));
      await apiActions(req, ctx).recordImportQueued(id, { fileName, jobId });
      res.status(202).json({ jobId, queue: importLeadsQueue.name });
    }),
  );

  router.get(
    '/campaigns/:id/imports',
    route(async (req, res) => {
      const { id } = idParam.parse(req.params);
      await ctx.campaigns.require(id);
      res.json({ imports: await listImportBatches(ctx.db, id) });
    }),
  );

  router.get(
    '/imports/:id/errors.csv',
    route(async (req, res) => {
      await sendImportErrorReport(ctx.db, idParam.parse(req.params).id, res);
    }),
  );
}

/** Answers an import batch's error report as a CSV download (for the API and the Imports page). */
export async function sendImportErrorReport(db: Knex, id: number, res: Response): Promise<void> {
  const batch = await findImportBatch(db, id);
  if (batch === undefined) throw new NotFoundError(`import ${id} does not exist`);
  res.type('text/csv').set('Content-Disposition', `attachment; filename="import-${id}-errors.csv"`).send(errorReportCsv(batch.errors));
}

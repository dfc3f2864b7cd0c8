import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import busboy from 'busboy';
import type { Request, Router } from 'express';
import { z } from 'zod';
import type { AppContext } from '../runtime/context.js';
import { DomainError, NotFoundError } from '../errors/domain-error.js';
import { route } from '../http/route.js';
import { importAttributionSchema, importLeadsQueue } from '../../queues/import-leads.js';
import { captureLeads } from './lead-capture.js';
import { findImportBatch, listImportBatches } from './import-batch-store.js';
import { errorReportCsv } from './lead-export.js';
import type { LeadRow } from './lead-row.js';
import { newUploadId, removeUpload, uploadDirectory, uploadPath } from './import-uploads.js';
import { requireRole } from '../http/require-role.js';
import { apiActions, apiAuditActor } from '../http/api-auditor.js';
import { OPERATE_ROLES } from '../operators/roles.js';
import { idParam } from '../http/params.js';

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

/** Bytes of a size such as `200mb`. */
export function parseByteSize(size: string): number {
  const match = /^(\d+)(b|kb|mb|gb)$/i.exec(size);
  if (match === null) throw new Error(`"${size}" is not a size`);
  const units: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };
  return Number(match[1]) * (units[(match[2] ?? 'b').toLowerCase()] ?? 1);
}

/** An upload refused before its job was added: malformed (400) or too large (413). */
class UploadError extends DomainError {
  constructor(status: 400 | 413, message: string) {
    super(message, status === 413 ? 'too-large' : 'invalid');
  }
}

// The upload's form fields: the job's attribution fields plus `force`; other fields are ignored.
const importFields = z.object({ ...importAttributionSchema.shape, force: z.enum(['true', 'false', '1', '0']).optional() });

/** An upload received in full: its id (the file is in the upload directory), its name, and the form's other fields. */
interface ReceivedUpload {
  uploadId: string;
  fileName: string;
  fields: Record<string, string>;
}

/** An error of our own disk (full, unwritable), as opposed to a bad or broken request. */
function isFileSystemError(error: unknown): boolean {
  return error instanceof Error && typeof (error as NodeJS.ErrnoException).syscall === 'string';
}

/**
 * Streams a multipart upload's one file into the upload directory under a fresh upload id.
 * However it fails — the file passes `maxBytes`, the multipart body is malformed, the client
 * goes away mid-body, the disk refuses — reading stops and the partial file is removed before
 * the promise rejects, so a failed upload leaves nothing behind.
 */
function receiveUpload(req: Request, directory: string, maxBytes: number): Promise<ReceivedUpload> {
  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({ headers: req.headers, limits: { files: 1, fileSize: maxBytes, fields: 20, fieldSize: 1000 } });
    } catch {
      reject(new UploadError(400, 'expected multipart/form-data with a CSV file'));
      return;
    }
    const fields: Record<string, string> = {};
    let file: { uploadId: string; fileName: string; written: Promise<void>; stop: () => void } | undefined;
    let settled = false;

    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      req.unpipe(parser);
      parser.destroy();
      const partial = file;
      if (partial === undefined) {
        reject(error);
        return;
      }
      partial.stop();
      // Wait for the write stream to close before removing the file it was writing.
      const removed = partial.written.catch(() => undefined).then(() => removeUpload(directory, partial.uploadId));
      removed.then(
        () => reject(error),
        () => reject(error),
      );
    };

    parser.on('field', (name, value) => {
      fields[name] = value;
    });
    parser.on('file', (_name, stream, info) => {
      if (settled) {
        stream.resume();
        return;
      }
      const uploadId = newUploadId();
      const output = createWriteStream(uploadPath(directory, uploadId), { flags: 'wx' });
      // After busboy's own bookkeeping of the limit (it still touches the stream when this fires).
      stream.on('limit', () => queueMicrotask(() => fail(new UploadError(413, `the file is larger than the limit of ${maxBytes} bytes`))));
      const written = pipeline(stream, output);
      file = {
        uploadId,
        fileName: info.filename || 'upload.csv',
        written,
        stop: () => {
          stream.destroy();
          output.destroy();
        },
      };
      written.catch((error: unknown) => fail(isFileSystemError(error) ? (error as Error) : new UploadError(400, 'the upload ended before its file did')));
    });
    parser.on('error', () => fail(new UploadError(400, 'the multipart body could not be read')));
    parser.on('close', () => {
      if (settled) return;
      const received = file;
      if (received === undefined) {
        fail(new UploadError(400, 'no file in the upload (send it as a multipart "file" part)'));
        return;
      }
      received.written.then(
        () => {
          if (settled) return;
          settled = true;
          resolve({ uploadId: received.uploadId, fileName: received.fileName, fields });
        },
        () => undefined,
      );
    });
    // A client that goes away mid-body: the request closes without completing.
    req.on('close', () => {
      if (!req.complete) fail(new UploadError(400, 'the upload was aborted'));
    });
    req.pipe(parser);
  });
}

/**
 * Lead intake on the admin API: `POST /campaigns/:id/leads` (a JSON array, same rules as an
 * import), `POST /campaigns/:id/imports` (a multipart CSV, size-capped, imported by a job with
 * progress in Bull Board), `GET /campaigns/:id/imports` and `GET /imports/:id/errors.csv`.
 */
export function leadApiRoutes(router: Router, ctx: AppContext): void {
  const maxBytes = parseByteSize(ctx.config.IMPORT_MAX_BYTES);
  const uploadDir = uploadDirectory(ctx.config);

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
      const declared = Number(req.get('content-length') ?? 0);
      if (declared > maxBytes + 64 * 1024) throw new UploadError(413, `the upload is larger than the limit of ${ctx.config.IMPORT_MAX_BYTES}`);
      await mkdir(uploadDir, { recursive: true });
      const upload = await receiveUpload(req, uploadDir, maxBytes);
      let jobId: string | undefined;
      try {
        const fields = importFields.safeParse(upload.fields);
        if (!fields.success) throw new UploadError(400, z.prettifyError(fields.error));
        const { force, ...attribution } = fields.data;
        const job = await ctx.queues.get(importLeadsQueue).add(
          importLeadsQueue.jobName,
          importLeadsQueue.schema.parse({
            campaignId: id,
            uploadId: upload.uploadId,
            fileName: upload.fileName,
            createdBy: apiAuditActor(req),
            force: force === 'true' || force === '1',
            attribution,
          }),
        );
        jobId = job.id;
      } catch (error) {
        // No job will ever read this upload (bad fields, Redis down): it goes now, not in a day.
        await removeUpload(uploadDir, upload.uploadId);
        throw error;
      }
      await apiActions(req, ctx).recordImportQueued(id, { fileName: upload.fileName, jobId });
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
      const { id } = idParam.parse(req.params);
      const batch = await findImportBatch(ctx.db, id);
      if (batch === undefined) throw new NotFoundError(`import ${id} does not exist`);
      res.type('text/csv').set('Content-Disposition', `attachment; filename="import-${id}-errors.csv"`).send(errorReportCsv(batch.errors));
    }),
  );
}

import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import busboy from 'busboy';
import type { Request } from 'express';
import { z } from 'zod';
import type { Config } from '../config/config.js';
import type { QueueRegistry } from '../jobs/queue-registry.js';
import { DomainError } from '../core/domain-error.js';
import { importAttributionSchema, importLeadsQueue } from '../../queues/import-leads.js';
import { newUploadId, removeUpload, uploadDirectory, uploadPath } from './import-uploads.js';

/** Bytes of a size such as `200mb`. */
export function parseByteSize(size: string): number {
  const match = /^(\d+)(b|kb|mb|gb)$/i.exec(size);
  if (match === null) throw new Error(`"${size}" is not a size`);
  const units: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };
  return Number(match[1]) * (units[(match[2] ?? 'b').toLowerCase()] ?? 1);
}

/** An upload refused before its job was added: malformed (400) or too large (413). */
export class UploadError extends DomainError {
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
    let file: { uploadId: string; fileName: string; written: Promise<void>; closed: Promise<void>; stop: () => void } | undefined;
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
      // Wait for the write stream to close, not just for the pipeline to settle: a stream destroyed
      // while still opening creates its file after the pipeline has already rejected.
      const removed = partial.closed.then(() => removeUpload(directory, partial.uploadId));
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
      const closed = new Promise<void>((resolveClosed) => output.once('close', () => resolveClosed()));
      // After busboy's own bookkeeping of the limit (it still touches the stream when this fires).
      stream.on('limit', () => queueMicrotask(() => fail(new UploadError(413, `the file is larger than the limit of ${maxBytes} bytes`))));
      const written = pipeline(stream, output);
      file = {
        uploadId,
        fileName: info.filename || 'upload.csv',
        written,
        closed,
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
 * Takes a CSV upload (multipart, one file part, size-capped) into the upload directory and
 * queues its import into campaign `campaignId` as an `import-leads` job, with the form's
 * attribution fields and `force`. Used by the admin API and the console's Imports page alike.
 * Returns the job id and the file's name; an upload that cannot be queued is removed at once.
 * @throws UploadError for a malformed body, a missing file or a file over `IMPORT_MAX_BYTES`.
 */
export async function acceptImportUpload(
  ctx: { config: Config; queues: QueueRegistry },
  req: Request,
  campaignId: number,
  createdBy: string,
): Promise<{ jobId: string | undefined; fileName: string }> {
  const maxBytes = parseByteSize(ctx.config.IMPORT_MAX_BYTES);
  const uploadDir = uploadDirectory(ctx.config);
  const declared = Number(req.get('content-length') ?? 0);
  if (declared > maxBytes + 64 * 1024) throw new UploadError(413, `the upload is larger than the limit of ${ctx.config.IMPORT_MAX_BYTES}`);
  await mkdir(uploadDir, { recursive: true });
  const upload = await receiveUpload(req, uploadDir, maxBytes);
  try {
    const fields = importFields.safeParse(upload.fields);
    if (!fields.success) throw new UploadError(400, z.prettifyError(fields.error));
    const { force, ...attribution } = fields.data;
    const job = await ctx.queues.get(importLeadsQueue).add(
      importLeadsQueue.jobName,
      importLeadsQueue.schema.parse({
        campaignId,
        uploadId: upload.uploadId,
        fileName: upload.fileName,
        createdBy,
        force: force === 'true' || force === '1',
        attribution,
      }),
    );
    return { jobId: job.id, fileName: upload.fileName };
  } catch (error) {
    // No job will ever read this upload (bad fields, Redis down): it goes now, not in a day.
    await removeUpload(uploadDir, upload.uploadId);
    throw error;
  }
}

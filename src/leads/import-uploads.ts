import { randomUUID } from 'node:crypto';
import { readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import type { Config } from '../config/config.js';

/**
 * CSV uploads waiting for their import job. An upload is named by an id (a random UUID), never
 * by a path: the file is `<IMPORT_UPLOAD_DIR>/<id>.csv`, and only such names are ever read,
 * deleted or swept, so a job naming `../../etc/passwd` or `/etc/passwd` is refused before any
 * file is touched, and a shared directory such as /tmp keeps everything else it holds.
 */

/** An upload's id as a job carries it: a UUID and nothing else. */
export const uploadIdSchema = z.uuid('an upload id (a UUID), not a path');

/** Uploads older than this are removed by {@link sweepStaleUploads}: one day. */
export const UPLOAD_MAX_AGE_MS = 86_400_000;

const uploadFileName = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.csv$/;

/** The directory uploads wait in, absolute: `IMPORT_UPLOAD_DIR`, else `drumbeat-imports` in the OS temp dir. */
export function uploadDirectory(config: Pick<Config, 'IMPORT_UPLOAD_DIR'>): string {
  return resolve(config.IMPORT_UPLOAD_DIR ?? join(tmpdir(), 'drumbeat-imports'));
}

/** A fresh upload id. */
export function newUploadId(): string {
  return randomUUID();
}

/**
 * The file of an upload inside `directory`.
 * @throws ZodError when `uploadId` is not an upload id (a path, `..`, anything but a UUID).
 */
export function uploadPath(directory: string, uploadId: string): string {
  const id = uploadIdSchema.parse(uploadId);
  const root = resolve(directory);
  const path = join(root, `${id}.csv`);
  // Belt and braces: a UUID has no separator, so the file is always directly inside the root.
  if (dirname(path) !== root) throw new Error('an upload id resolved outside the upload directory');
  return path;
}

/** Removes an upload's file; a missing one is not an error. */
export async function removeUpload(directory: string, uploadId: string): Promise<void> {
  await rm(uploadPath(directory, uploadId), { force: true });
}

/**
 * Removes upload files (and only those: `<uuid>.csv`) last written more than `maxAgeMs` before
 * `now`: what a crashed api process or a job that never ran left behind. Returns how many.
 * A missing directory has nothing to sweep.
 */
export async function sweepStaleUploads(directory: string, now: Date, maxAgeMs = UPLOAD_MAX_AGE_MS): Promise<number> {
  let names: string[];
  try {
    names = await readdir(directory);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
  const cutoff = now.getTime() - maxAgeMs;
  let removed = 0;
  for (const name of names) {
    if (!uploadFileName.test(name)) continue;
    const path = join(directory, name);
    const info = await stat(path).catch(() => undefined);
    if (info === undefined || !info.isFile() || info.mtimeMs >= cutoff) continue;
    await rm(path, { force: true });
    removed += 1;
  }
  return removed;
}

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';
import { findUnsafeText, jsonNestingDepth, MAX_JSON_DEPTH, unsafeTextIn } from '../core/safe-text.js';

/**
 * The `verify` hook of the JSON body parser: refuses (400) a body nested deeper than
 * {@link MAX_JSON_DEPTH} before it is parsed, so no recursive walk or serializer meets it.
 */
export function refuseDeepJson(_req: IncomingMessage, _res: ServerResponse, body: Buffer): void {
  if (jsonNestingDepth(body.toString('utf8')) > MAX_JSON_DEPTH) {
    throw Object.assign(new Error(`request body nests JSON deeper than ${MAX_JSON_DEPTH} levels`), { status: 400, type: 'entity.too.deep' });
  }
}

/**
 * Refuses, with a 400 naming the field, a request whose path, query or parsed body holds text
 * that Postgres cannot store (a NUL character, a lone surrogate), before any route sees it: such
 * input would otherwise surface as a database error deep inside a handler. Webhooks are not
 * behind this (they clean instead). JSON bodies were depth-checked as they were read
 * ({@link refuseDeepJson}), so walking them here is safe.
 */
export const refuseUnsafeInput: RequestHandler = (req, res, next) => {
  const refuse = (path: string, message: string) => {
    res.status(400).json({ error: `invalid request: ${path} ${message}`, issues: [{ path, message }] });
  };
  let decodedPath: string;
  try {
    decodedPath = decodeURIComponent(req.path);
  } catch {
    refuse('path', 'is not a valid URL (malformed percent-encoding)');
    return;
  }
  const inPath = unsafeTextIn(decodedPath);
  if (inPath !== undefined) {
    refuse('path', `contains ${inPath}`);
    return;
  }
  for (const [where, value] of [
    ['query', req.query],
    ['body', req.body],
  ] as const) {
    if (value === undefined || value === null) continue;
    const hit = findUnsafeText(value);
    if (hit !== undefined) {
      refuse(hit.path === '' ? where : hit.path, `contains ${hit.found}`);
      return;
    }
  }
  next();
};

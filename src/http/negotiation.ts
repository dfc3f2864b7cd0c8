import type { Request } from 'express';

/**
 * Whether the client is a browser navigating (it prefers HTML to JSON). `*\/*` and a missing
 * Accept header count as JSON, so scripts, `fetch` and axios get JSON answers, never redirects.
 */
export function wantsHtml(req: Request): boolean {
  return req.accepts(['json', 'html']) === 'html';
}

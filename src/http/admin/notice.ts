import type { Request, Response } from 'express';
import type { Config } from '../../config/config.js';
import type { AdminNotice } from './render.js';

/** The cookie carrying the result of an action to the page the browser is sent to next. */
const NOTICE_COOKIE = 'drumbeat_notice';
const NOTICE_PATH = '/admin';
/** Long enough for a sentence naming a few messages; a cookie must stay well under 4 KB. */
const MAX_NOTICE_LENGTH = 600;

function noticeCookieOptions(config: Pick<Config, 'PUBLIC_URL'>) {
  return { httpOnly: true, sameSite: 'strict' as const, path: NOTICE_PATH, secure: new URL(config.PUBLIC_URL).protocol === 'https:' };
}

/**
 * Answers a form post with 303 to `location`, where `notice` is shown once (post/redirect/get:
 * reloading the page repeats nothing). The notice travels in an HttpOnly cookie rather than the
 * URL, so no link can make the console display a sentence of someone else's choosing.
 */
export function redirectWithNotice(res: Response, config: Pick<Config, 'PUBLIC_URL'>, location: string, notice: AdminNotice): void {
  const text = notice.text.length > MAX_NOTICE_LENGTH ? `${notice.text.slice(0, MAX_NOTICE_LENGTH - 1)}…` : notice.text;
  res.cookie(NOTICE_COOKIE, JSON.stringify({ kind: notice.kind, text }), noticeCookieOptions(config));
  res.redirect(303, location);
}

/** The notice left by the previous action, if any; it is cleared, so it shows once. */
export function takeNotice(req: Request, res: Response, config: Pick<Config, 'PUBLIC_URL'>): AdminNotice | undefined {
  const raw: unknown = req.cookies[NOTICE_COOKIE];
  if (typeof raw !== 'string') return undefined;
  res.clearCookie(NOTICE_COOKIE, noticeCookieOptions(config));
  try {
    const parsed: unknown = JSON.parse(raw);
    if (typeof parsed !== 'object' || parsed === null || !('kind' in parsed) || !('text' in parsed)) return undefined;
    const { kind, text } = parsed;
    if ((kind !== 'success' && kind !== 'error') || typeof text !== 'string') return undefined;
    return { kind, text: text.slice(0, MAX_NOTICE_LENGTH) };
  } catch {
    return undefined;
  }
}

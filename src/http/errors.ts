import { STATUS_CODES } from 'node:http';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { ZodError } from 'zod';
import type { Logger } from '../log/logger.js';
import { DomainError, type DomainErrorKind, type FieldIssue } from '../core/domain-error.js';
import { answerRedisUnavailable, isRedisUnavailable } from './redis-guard.js';

/** The one JSON shape of every error answer: one sentence, and field issues for invalid input. */
export interface ErrorBody {
  error: string;
  issues?: FieldIssue[];
}

/** The HTTP status of each kind of domain error. */
const statusOfKind: Record<DomainErrorKind, number> = {
  'not-found': 404,
  conflict: 409,
  invalid: 400,
  'too-large': 413,
  unavailable: 503,
};

function errorBody(error: string, issues: readonly FieldIssue[] = []): ErrorBody {
  return issues.length === 0 ? { error } : { error, issues: [...issues] };
}

/** The answer for any path nothing else handled. */
export const jsonNotFound: RequestHandler = (_req, res) => {
  res.status(404).json(errorBody('not found'));
};

/**
 * Messages for body-parser's client errors, by its `type`. Fixed strings on purpose: the
 * parser's own message for malformed JSON quotes the body, which may hold a password.
 */
function bodyErrorMessage(type: string, bodyLimit: string): string | undefined {
  switch (type) {
    case 'entity.too.large':
      return `request body is larger than the limit of ${bodyLimit}`;
    case 'entity.parse.failed':
      return 'request body is not valid JSON';
    case 'entity.too.deep':
      return 'request body nests JSON deeper than 64 levels';
    case 'parameters.too.many':
      return 'request body has too many form fields';
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return 'request body encoding or charset is not supported';
    case 'request.aborted':
    case 'request.size.invalid':
      return 'request body was incomplete';
    default:
      return undefined;
  }
}

/**
 * Whether an error is Postgres refusing a value as data: SQLSTATE class 22 (22021 a NUL or
 * invalid byte sequence, 22P05 untranslatable character, 22003 numeric out of range, …).
 */
function isPostgresDataException(error: unknown): error is { code: string } {
  return typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string' && /^22[0-9A-Z]{3}$/.test(error.code) && 'severity' in error;
}

/** The client-error status an error carries (http-errors style), if any. */
function clientErrorStatus(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const status = 'status' in error ? error.status : 'statusCode' in error ? error.statusCode : undefined;
  return typeof status === 'number' && status >= 400 && status < 500 ? status : undefined;
}

/**
 * The last middleware, and the one error mapping of every route: a domain error answers the
 * status of its kind (not-found 404, conflict 409, invalid 400, too-large 413, unavailable 503)
 * with its sentence; a zod error 400 with each failing field; Redis unreachable 503; body-parser
 * client errors their 4xx with a fixed sentence. All in one shape, `{ error, issues? }`.
 * Anything else is logged with its stack and answered with a generic 500, so no message, stack
 * or secret reaches the client.
 */
export function jsonErrorHandler({ log, bodyLimit }: { log: Logger; bodyLimit: string }): ErrorRequestHandler {
  return (error: unknown, req, res, next) => {
    if (res.headersSent) {
      // Too late for a JSON answer; Express's default handler closes the connection.
      next(error);
      return;
    }
    // A request refused before its body was read (an upload past its limit): close the
    // connection rather than read the rest of the body.
    if (!req.complete) res.set('Connection', 'close');
    if (error instanceof DomainError) {
      const status = statusOfKind[error.kind];
      log.debug({ status, kind: error.kind, method: req.method, path: req.path }, 'request refused');
      res.status(status).json(errorBody(error.message, error.issues));
      return;
    }
    if (error instanceof ZodError) {
      const issues = error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message }));
      res.status(400).json(errorBody(`invalid request: ${issues.map((issue) => (issue.path === '' ? issue.message : `${issue.path}: ${issue.message}`)).join('; ')}`, issues));
      return;
    }
    if (isPostgresDataException(error)) {
      // Input that slipped past validation and that Postgres refuses as data (a NUL character,
      // invalid UTF-8, a number out of range): the request's fault, never a 500.
      log.warn({ code: error.code, method: req.method, path: req.path }, 'input refused by Postgres as data');
      res.status(400).json(errorBody('the request holds a value that cannot be stored (check for NUL characters, invalid text or out-of-range numbers)'));
      return;
    }
    if (isRedisUnavailable(error)) {
      answerRedisUnavailable(res);
      return;
    }
    const status = clientErrorStatus(error);
    if (status !== undefined) {
      const type = typeof error === 'object' && error !== null && 'type' in error && typeof error.type === 'string' ? error.type : '';
      log.debug({ status, type, method: req.method, path: req.path }, 'client error');
      res.status(status).json(errorBody(bodyErrorMessage(type, bodyLimit) ?? STATUS_CODES[status] ?? 'bad request'));
      return;
    }
    log.error({ err: error, method: req.method, path: req.path }, 'request failed');
    res.status(500).json(errorBody('internal server error'));
  };
}

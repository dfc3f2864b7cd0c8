/**
 * The vocabulary of refusals shared by every area. Imports nothing of the app, so any module
 * may throw these and one HTTP middleware (src/http/errors.ts) maps their kind to a status.
 */

/** What kind of refusal an error is; the HTTP layer maps it to a status. */
export type DomainErrorKind =
  /** The entity the request names does not exist (404). */
  | 'not-found'
  /** The entity's state does not allow the request (409). */
  | 'conflict'
  /** The request itself is malformed or breaks a rule (400). */
  | 'invalid'
  /** The request is larger than allowed (413). */
  | 'too-large'
  /** A dependency needed to answer is down; nothing changed (503). */
  | 'unavailable';

/** One field-level problem of an invalid request. */
export interface FieldIssue {
  /** Dotted path of the field (`steps.1.delay`), empty for the request as a whole. */
  path: string;
  message: string;
}

/**
 * A refusal the caller can act on. Its message is one sentence meant for the operator (it
 * never carries a secret); `issues` lists field errors when the request was invalid.
 */
export class DomainError extends Error {
  constructor(
    message: string,
    readonly kind: DomainErrorKind,
    readonly issues: readonly FieldIssue[] = [],
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** A named entity (campaign, message, template…) that does not exist. */
export class NotFoundError extends DomainError {
  constructor(message: string) {
    super(message, 'not-found');
  }
}

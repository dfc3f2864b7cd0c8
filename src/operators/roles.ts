/**
 * Who may do what, defined once. Every check in the HTTP API, Bull Board and the docs reads
 * these lists; the database pins the same four names in a check constraint.
 *
 * - `admin`: everything, including tokens, operators and destructive queue actions.
 * - `operator`: runs campaigns: lifecycle, imports, leads, suppressions, templates, the kill
 *   switch, review decisions; retries, promotes and pauses queues in Bull Board.
 * - `reviewer`: reads everything and decides per-message review (approve, reject, edit).
 * - `viewer`: reads everything, changes nothing.
 */
export const ROLES = ['admin', 'operator', 'reviewer', 'viewer'] as const;

/** One of {@link ROLES}. */
export type Role = (typeof ROLES)[number];

/** A token that belongs to no operator (the installation's own) acts with this role. */
export const OWNERLESS_TOKEN_ROLE: Role = 'operator';

/** The role of a new operator when none is given and operators exist; the first operator ever is an admin. */
export const DEFAULT_OPERATOR_ROLE: Role = 'operator';

/** May read: every role. */
export const READ_ROLES: readonly Role[] = ROLES;
/** May decide per-message review: approve, reject, edit a waiting message. */
export const REVIEW_ROLES: readonly Role[] = ['admin', 'operator', 'reviewer'];
/** May run campaigns: lifecycle, imports, leads, suppressions, templates, the kill switch. */
export const OPERATE_ROLES: readonly Role[] = ['admin', 'operator'];
/** May manage tokens and operators, and empty, clean or obliterate queues. */
export const ADMIN_ROLES: readonly Role[] = ['admin'];

/** Whether `role` is one of `allowed`. */
export function roleAllows(role: Role, allowed: readonly Role[]): boolean {
  return allowed.includes(role);
}

/** The one-sentence refusal shown when `role` may not `action` (`"pause campaigns"`). */
export function roleRefusal(role: Role, action: string, allowed: readonly Role[]): string {
  return `your role (${role}) may not ${action}; that needs ${allowed.join(' or ')}`;
}

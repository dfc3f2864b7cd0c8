import type { Knex } from 'knex';
import { parseSuppressionTarget, suppress, unsuppress, type SuppressOptions } from '../suppression/suppression-service.js';
import { importSuppressions } from '../suppression/suppression-import.js';
import { identityHash, normaliseEmail } from '../core/identity.js';
import { forgetLead } from '../leads/lead-privacy.js';
import { addOperator, disableOperator, enableOperator, requireOperator, type Operator } from '../operators/operator-service.js';
import { createApiToken, revokeApiTokenByReference } from '../operators/api-token-service.js';
import { audited, type Auditor } from './audited.js';

function operatorState(operator: Operator) {
  return { email: operator.email, role: operator.role, disabled: operator.disabledAt !== null };
}

/**
 * An address as the audit log names it: its identity hash, never the address itself, so that
 * forgetting a person leaves nothing readable of them here. Domains and hashes stay as they are.
 */
function auditTarget(target: string): string {
  const parsed = parseSuppressionTarget(target);
  return parsed.kind === 'email' ? identityHash(parsed.value) : parsed.value;
}

/**
 * The audited changes that need only the database (suppressions, erasure, operators, tokens),
 * for the CLI commands that run without Redis; `auditedActions` (audited-actions.ts) includes
 * them. A module of its own so that those commands load no queue code.
 */
export function auditedDataActions(db: Knex, auditor: Auditor) {
  const by = auditor.actor;
  return {
    /** Suppresses an address, an @domain or an identity hash (everywhere, or in one campaign). */
    suppress(target: string, options: Omit<SuppressOptions, 'createdBy'> = {}) {
      const campaignId = options.campaignId ?? null;
      return audited(
        auditor,
        { action: 'suppression.add', subjectType: 'suppression', subjectId: auditTarget(target) },
        () => suppress(db, target, { ...options, createdBy: by }),
        (stored) => ({ kind: stored.kind, reason: options.reason ?? 'manual', campaignId }),
      );
    },

    /** Lifts a suppression of that scope; returns how many entries went. */
    unsuppress(target: string, campaignId: number | null = null) {
      return audited(
        auditor,
        { action: 'suppression.remove', subjectType: 'suppression', subjectId: auditTarget(target), before: { campaignId } },
        () => unsuppress(db, target, { campaignId }),
        (removed) => ({ removed }),
      );
    },

    /** Suppresses every target in a file's lines, recorded as one entry with the counts. */
    importSuppressions(fileName: string, lines: AsyncIterable<string> | Iterable<string>, options: { reason: string; campaignId: number | null }) {
      return audited(
        auditor,
        { action: 'suppression.import', subjectType: 'suppression', subjectId: null },
        () => importSuppressions(db, lines, { ...options, createdBy: by }),
        (outcome) => ({ fileName, reason: options.reason, campaignId: options.campaignId, added: outcome.added, refused: outcome.refused.length }),
      );
    },

    /** Records that a CSV was queued for import into a campaign. */
    recordImportQueued(campaignId: number, upload: { fileName: string; jobId: string | undefined }): Promise<void> {
      return audited(auditor, { action: 'import.upload', subjectType: 'campaign', subjectId: campaignId }, () => Promise.resolve(), () => upload);
    },

    /** Records leads added to a campaign through the API. */
    recordLeadsAdded(campaignId: number, counts: { total: number; imported: number }): Promise<void> {
      return audited(auditor, { action: 'leads.add', subjectType: 'campaign', subjectId: campaignId }, () => Promise.resolve(), () => counts);
    },

    /** Erases a person everywhere; the record names their identity hash only. */
    forgetLead(email: string) {
      const identity = identityHash(normaliseEmail(email));
      return audited(auditor, { action: 'lead.forget', subjectType: 'lead', subjectId: identity }, () => forgetLead({ db, clock: auditor.clock }, email, by), (result) => ({ erased: result.found }));
    },

    /** Adds an operator with a role (the password is never recorded). */
    addOperator(email: string, password: string, role: string | undefined) {
      return audited(
        auditor,
        { action: 'operator.add', subjectType: 'operator', subjectId: (operator) => operator.id },
        () => addOperator(db, email, password, { role, clock: auditor.clock }),
        (operator) => ({ id: operator.id, ...operatorState(operator) }),
      );
    },

    /** Disables (`disable`) or enables an operator. */
    async setOperatorEnabled(reference: string | number, enabled: boolean) {
      const operator = await requireOperator(db, reference);
      return audited(
        auditor,
        { action: enabled ? 'operator.enable' : 'operator.disable', subjectType: 'operator', subjectId: operator.id, before: operatorState(operator) },
        () => (enabled ? enableOperator(db, reference) : disableOperator(db, reference, auditor.clock)),
        (result) => ({ id: result.operator.id, ...operatorState(result.operator), changed: result.changed }),
      );
    },

    /** Creates an API token; its value is in the result only (shown once), never in the record. */
    createToken(name: string, operatorEmail: string | undefined, lifetimeMs: number | null | undefined) {
      return audited(
        auditor,
        { action: 'token.create', subjectType: 'token', subjectId: (created) => created.id },
        () => createApiToken(db, name, operatorEmail, auditor.clock, lifetimeMs),
        (created) => ({ id: created.id, name: created.name, operator: operatorEmail ?? null, role: created.role, expiresAt: created.expiresAt?.toISOString() ?? null }),
      );
    },

    /** Revokes an API token by id or name. */
    revokeToken(reference: string | number) {
      return audited(
        auditor,
        { action: 'token.revoke', subjectType: 'token', subjectId: (result) => result.token.id, before: { reference: String(reference) } },
        () => revokeApiTokenByReference(db, reference, auditor.clock),
        (result) => ({ id: result.token.id, name: result.token.name, revoked: result.changed }),
      );
    },
  };
}

/** The audited database-only actions of one person acting through one interface. */
export type AuditedDataActions = ReturnType<typeof auditedDataActions>;

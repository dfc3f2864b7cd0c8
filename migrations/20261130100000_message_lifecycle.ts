import type { Knex } from 'knex';

/** The message statuses before this migration: APPROVED was never written (approval goes PENDING_REVIEW → QUEUED). */
const statusesBefore = `'PLANNED','COMPOSED','PENDING_REVIEW','APPROVED','REJECTED','QUEUED','SENDING','SENT','SENT_PROOF','FAILED','DEAD','SKIPPED','UNKNOWN'`;
const statusesAfter = `'PLANNED','PENDING_REVIEW','REJECTED','QUEUED','SENDING','SENT','SENT_PROOF','FAILED','DEAD','SKIPPED','UNKNOWN'`;

const noteColumns = ['review_hold_reason', 'rejection_reason', 'resolution_note', 'personalisation_note'] as const;

/**
 * One meaning per column of `messages`, and only the statuses something writes.
 *
 * `skip_reason` held four things and `review_note` three; each now has its own column, and the
 * existing rows move by status:
 * - `skip_reason`: why a SKIPPED message was not sent (only that);
 * - `review_hold_reason`: why a message held for review (PENDING_REVIEW, or PLANNED on its way
 *   there) must be edited before approval (placeholders found);
 * - `rejection_reason`: the reviewer's reason for a REJECTED message;
 * - `resolution_note`: how an operator resolved an UNKNOWN outcome (`resolved as … by …`);
 * - `review_note`: the approving reviewer's note (only that);
 * - `personalisation_note`: why LLM personalisation fell back (set on a message nobody has decided
 *   on in review: a decision used to overwrite it).
 *
 * APPROVED and COMPOSED leave the status check: nothing ever wrote either (approval goes
 * PENDING_REVIEW → QUEUED, a composed message goes PLANNED → QUEUED or PENDING_REVIEW). A row
 * still APPROVED would have been sent like a QUEUED one, so it becomes QUEUED.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('messages', (table) => {
    for (const column of noteColumns) table.text(column);
  });
  await knex.raw(`
    UPDATE messages SET review_hold_reason = skip_reason, skip_reason = NULL
     WHERE status IN ('PLANNED', 'PENDING_REVIEW') AND skip_reason IS NOT NULL`);
  await knex.raw(`
    UPDATE messages SET rejection_reason = coalesce(review_note, regexp_replace(skip_reason, '^rejected in review: ', '')),
                        review_note = NULL, skip_reason = NULL
     WHERE status = 'REJECTED'`);
  await knex.raw(`
    UPDATE messages SET resolution_note = skip_reason, skip_reason = NULL
     WHERE status NOT IN ('SKIPPED', 'PLANNED', 'PENDING_REVIEW', 'REJECTED') AND skip_reason IS NOT NULL`);
  await knex.raw(`
    UPDATE messages SET personalisation_note = review_note, review_note = NULL
     WHERE review_decided_at IS NULL AND review_note IS NOT NULL`);
  await knex.raw(`UPDATE messages SET status = 'QUEUED' WHERE status = 'APPROVED'`);
  await knex.raw(`
    ALTER TABLE messages
      DROP CONSTRAINT messages_status_check,
      ADD CONSTRAINT messages_status_check CHECK (status IN (${statusesAfter}))`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE messages
      DROP CONSTRAINT messages_status_check,
      ADD CONSTRAINT messages_status_check CHECK (status IN (${statusesBefore}))`);
  await knex.raw(`UPDATE messages SET review_note = personalisation_note WHERE personalisation_note IS NOT NULL AND review_decided_at IS NULL`);
  await knex.raw(`UPDATE messages SET skip_reason = resolution_note WHERE resolution_note IS NOT NULL AND skip_reason IS NULL`);
  await knex.raw(`
    UPDATE messages SET skip_reason = 'rejected in review: ' || rejection_reason, review_note = rejection_reason
     WHERE rejection_reason IS NOT NULL`);
  await knex.raw(`UPDATE messages SET skip_reason = review_hold_reason WHERE review_hold_reason IS NOT NULL AND skip_reason IS NULL`);
  await knex.schema.alterTable('messages', (table) => {
    for (const column of noteColumns) table.dropColumn(column);
  });
}

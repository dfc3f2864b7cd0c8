/**
 * The idempotency key of the message for one (campaign, lead, step): unique in Postgres and
 * used as the BullMQ jobId, so it has no `:` and is never all digits.
 */
export function messageKey(campaignId: number, leadId: number, stepIndex: number): string {
  return `c${campaignId}-l${leadId}-s${stepIndex}`;
}

import type { AppContext } from '../../src/runtime/context.js';
import type { FeedbackPayload } from '../../src/events/feedback-event.js';
import { eventService } from '../../src/events/event-service.js';
import { inboxService } from '../../src/events/inbox-service.js';
import { addSegment } from '../../src/segments/segment-service.js';

let eventCounter = 0;

/** One feedback event as a provider would report it: about a message (by its provider id) or an address. */
export interface Feedback {
  type: FeedbackPayload['type'];
  email?: string | null;
  /** The provider id of the message it is about (`messages.external_id`). */
  externalId?: string;
  campaignId?: number;
  bounce?: 'hard' | 'soft';
  occurredAt: Date;
}

/** Stores events in the inbox and applies each (as the `events` queue would; applying twice changes nothing). */
export async function applyFeedback(ctx: AppContext, events: readonly Feedback[]): Promise<void> {
  await inboxService(ctx).store(
    events.map((event) => ({
      provider: 'drumbeat' as const,
      eventId: `feedback-${process.pid}-${(eventCounter += 1)}`,
      payload: {
        type: event.type,
        email: event.email ?? null,
        occurredAt: event.occurredAt.toISOString(),
        messageRefs: event.externalId === undefined ? [] : [event.externalId],
        campaignId: event.campaignId ?? null,
        bounce: event.bounce ?? null,
        data: {},
      },
    })),
  );
  const ids = (await ctx.db('inbox_events').whereNull('applied_at').orderBy('id').pluck('id')) as number[];
  const service = eventService(ctx);
  for (const id of ids) await service.apply(id);
}

/** Two ICP segments over company names: `enterprise` (contains "corp") and `smb` (tiny or small). */
export async function defineCompanySegments(ctx: AppContext): Promise<void> {
  await addSegment(ctx.db, { name: 'enterprise', conditions: ['company~=corp'], now: ctx.clock.now() });
  await addSegment(ctx.db, { name: 'smb', conditions: ['company in tiny,small'], now: ctx.clock.now() });
}

/** A message of a campaign sent as proof, by lead and step: its id and provider id. */
export async function sentMessages(ctx: AppContext, campaignId: number): Promise<Array<{ id: number; lead_id: number; step_index: number; external_id: string; variant: string | null; email: string }>> {
  return (await ctx.db('messages as m')
    .join('leads as l', 'l.id', 'm.lead_id')
    .where('m.campaign_id', campaignId)
    .whereIn('m.status', ['SENT', 'SENT_PROOF'])
    .orderBy('m.id')
    .select('m.id', 'm.lead_id', 'm.step_index', 'm.external_id', 'm.variant', 'l.email')) as Array<{
    id: number;
    lead_id: number;
    step_index: number;
    external_id: string;
    variant: string | null;
    email: string;
  }>;
}

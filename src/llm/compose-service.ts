import type { Knex } from 'knex';
import type { Config } from '../config/config.js';
import type { Logger } from '../log/logger.js';
import type { Clock } from '../core/clock.js';
import type { QueueRegistry } from '../jobs/queue-registry.js';
import type { Channel } from '../core/channels.js';
import { TransientSendError } from '../channels/adapter.js';
import type { BreakerRegistry } from '../channels/resilience/breakers.js';
import { enqueueSends } from '../messages/enqueue-sends.js';
import { estimatePromptTokens, type ChatMessage, type LlmClient } from './llm-client.js';
import type { LlmBudget } from './llm-budget.js';
import { prependLine, type BodyFormat } from '../core/message-body.js';
import { holdComposedForReview, MESSAGES, releaseComposed } from '../messages/message-lifecycle.js';
import { loadCampaignDefinition } from '../campaigns/campaign-definition.js';

/** What became of one message's personalisation. */
export type ComposeOutcome =
  | { kind: 'composed'; status: 'QUEUED' | 'PENDING_REVIEW'; opening: string }
  | { kind: 'fallback'; status: 'QUEUED' | 'PENDING_REVIEW'; reason: string }
  | { kind: 'not-planned'; status: string };

export interface ComposeServiceDeps {
  db: Knex;
  queues: QueueRegistry;
  config: Config;
  clock: Clock;
  log: Logger;
  breakers: BreakerRegistry;
  budget: LlmBudget;
  /** Undefined when LLM_BASE_URL is not set: every personalisation falls back. */
  llm: LlmClient | undefined;
}

/** Longest opening line accepted from the model. */
const maxOpeningChars = 300;
/** Longest body each channel accepts (X and Instagram DMs are the tight ones). */
const maxBodyChars: Record<Channel, number> = { email: 100_000, linkedin: 8000, x: 10_000, instagram: 1000 };

interface ComposeRow {
  id: number;
  idempotency_key: string;
  campaign_id: number;
  step_index: number;
  channel: Channel;
  status: string;
  body: string | null;
  format: BodyFormat;
  first_name: string | null;
  last_name: string | null;
  company: string | null;
  custom: Record<string, unknown>;
}

/**
 * Checks a model's opening line like any rendered text: one line, not empty, not too long, no
 * leftover placeholders (`<%`, `{{`, `[Name]`) and no links of its own. Returns the cleaned line
 * or the reason it is refused.
 */
export function checkOpening(raw: string): { ok: true; line: string } | { ok: false; reason: string } {
  const line = raw.replace(/\s+/g, ' ').trim().replace(/^["'“”]+|["'“”]+$/g, '').trim();
  if (line === '') return { ok: false, reason: 'the model returned nothing' };
  if (line.length > maxOpeningChars) return { ok: false, reason: `the opening line is longer than ${maxOpeningChars} characters` };
  if (/<%|%>|\{\{|\}\}|\[[A-Z][A-Za-z ]*\]/.test(line)) return { ok: false, reason: 'the opening line has a leftover placeholder' };
  if (/https?:\/\/|www\./i.test(line)) return { ok: false, reason: 'the opening line adds a link' };
  return { ok: true, line };
}

/**
 * LLM personalisation of planned messages: the tick plans messages of `personalize` steps
 * PLANNED and adds a `compose` job; the job asks an OpenAI-compatible model for an opening line
 * written from the lead's fields — within the RPM/TPM budget, behind the `llm` breaker, with a
 * timeout — checks it, puts it before the rendered body (as text, or escaped in a `<p>` for an
 * HTML body) and releases the message (QUEUED, or PENDING_REVIEW when review is required). When
 * the model is slow, down, over budget or returns an unusable line, the campaign's
 * `llmFallback` decides: send the plain template, or hold the message for review. Token use is
 * recorded per campaign and day in `llm_usage`.
 */
export function composeService({ db, queues, config, clock, log, breakers, budget, llm }: ComposeServiceDeps) {
  async function recordUsage(campaignId: number, usage: { requests: number; promptTokens: number; completionTokens: number; fallbacks: number }) {
    await db.raw(
      `INSERT INTO llm_usage (campaign_id, day, requests, prompt_tokens, completion_tokens, fallbacks) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (campaign_id, day) DO UPDATE SET requests = llm_usage.requests + EXCLUDED.requests,
         prompt_tokens = llm_usage.prompt_tokens + EXCLUDED.prompt_tokens,
         completion_tokens = llm_usage.completion_tokens + EXCLUDED.completion_tokens,
         fallbacks = llm_usage.fallbacks + EXCLUDED.fallbacks`,
      [campaignId, clock.now().toISOString().slice(0, 10), usage.requests, usage.promptTokens, usage.completionTokens, usage.fallbacks],
    );
  }

  /**
   * Moves a PLANNED message on (compare-and-set): QUEUED, its send job added, or PENDING_REVIEW.
   * `note` says why personalisation fell back (null when the line was written).
   */
  async function release(row: ComposeRow, status: 'QUEUED' | 'PENDING_REVIEW', body: string, note: string | null): Promise<boolean> {
    const change = { id: row.id, body, personalisationNote: note, now: clock.now() };
    if (status === 'PENDING_REVIEW') return holdComposedForReview(db, change);
    const released = await releaseComposed(db, change);
    if (released) await enqueueSends(queues, config, [{ id: row.id, idempotency_key: row.idempotency_key, channel: row.channel }]);
    return released;
  }

  /** Asks the model for the opening line; throws (budget, breaker, timeout, HTTP) for the fallback. */
  async function openingLine(row: ComposeRow, prompt: string): Promise<string> {
    if (llm === undefined) throw new Error('LLM_BASE_URL is not set');
    const lead = {
      firstName: row.first_name,
      lastName: row.last_name,
      company: row.company,
      ...Object.fromEntries(Object.entries(row.custom).filter(([, value]) => typeof value === 'string' || typeof value === 'number')),
    };
    const messages: ChatMessage[] = [
      {
        role: 'system',
        content:
          'You write one short, friendly opening line for an outreach message. Use only the facts given about the lead. Reply with the line only: no quotes, no placeholders, no links.',
      },
      { role: 'user', content: `${prompt}\n\nLead: ${JSON.stringify(lead)}` },
    ];
    const reservation = await budget.reserve(estimatePromptTokens(messages) + llm.maxTokens);
    if (reservation === undefined) throw new Error('the LLM budget for this minute is spent');
    const completion = await breakers.run(
      'llm:default',
      (signal) => llm.complete(messages, signal),
      config.LLM_TIMEOUT,
      () => new TransientSendError(`the LLM did not answer within ${config.LLM_TIMEOUT} ms`),
    );
    await budget.settle(reservation, completion.promptTokens + completion.completionTokens);
    await recordUsage(row.campaign_id, { requests: 1, promptTokens: completion.promptTokens, completionTokens: completion.completionTokens, fallbacks: 0 });
    const checked = checkOpening(completion.text);
    if (!checked.ok) throw new Error(checked.reason);
    return checked.line;
  }

  return {
    /** Adds the compose jobs of PLANNED messages (jobId = `compose-<message key>`). */
    async enqueue(messages: ReadonlyArray<{ id: number; idempotency_key: string; status: string }>): Promise<number> {
      const planned = messages.filter((message) => message.status === 'PLANNED');
      return queues.addMany(
        queues.directory.compose,
        planned.map((message) => ({ data: { messageId: message.id }, opts: { jobId: `compose-${message.idempotency_key}` } })),
      );
    },

    /** Personalises one PLANNED message, or falls back as the campaign chose. */
    async compose(messageId: number): Promise<ComposeOutcome> {
      const row = (await db(`${MESSAGES} as m`)
        .join('leads as l', 'l.id', 'm.lead_id')
        .where('m.id', messageId)
        .first(
          'm.id',
          'm.idempotency_key',
          'm.campaign_id',
          'm.step_index',
          'm.channel',
          'm.status',
          'm.body',
          'm.format',
          'l.first_name',
          'l.last_name',
          'l.company',
          'l.custom',
        )) as ComposeRow | undefined;
      if (row === undefined || row.status !== 'PLANNED') return { kind: 'not-planned', status: row?.status ?? 'missing' };
      const definition = await loadCampaignDefinition(db, row.campaign_id);
      const step = definition?.steps[row.step_index];
      // A message whose step a sequence edit removed has nothing left to compose from.
      if (definition === undefined || step === undefined) return { kind: 'not-planned', status: 'missing' };
      const prompt = step.personalizePrompt;
      const reviewed = definition.campaign.requireReview || step.requireReview;
      const body = row.body ?? '';
      let reason: string;
      if (prompt === null) reason = 'the step no longer asks for personalisation';
      else {
        try {
          const opening = await openingLine(row, prompt);
          // The line is plain text: a text body takes it as is, an HTML body escaped once, in a <p>.
          const composed = prependLine(body, row.format, opening);
          if (composed.length > maxBodyChars[row.channel]) throw new Error(`the personalised message is longer than ${maxBodyChars[row.channel]} characters`);
          const status = reviewed ? 'PENDING_REVIEW' : 'QUEUED';
          await release(row, status, composed, null);
          return { kind: 'composed', status, opening };
        } catch (error) {
          reason = (error as Error).message;
        }
      }
      await recordUsage(row.campaign_id, { requests: 0, promptTokens: 0, completionTokens: 0, fallbacks: 1 });
      const status = reviewed || definition.campaign.llmFallback === 'REVIEW' ? 'PENDING_REVIEW' : 'QUEUED';
      await release(row, status, body, `personalisation skipped: ${reason}`);
      log.warn({ messageId, campaignId: row.campaign_id, reason, status }, 'personalisation fell back');
      return { kind: 'fallback', status, reason };
    },
  };
}

export type ComposeService = ReturnType<typeof composeService>;

import { expect } from 'chai';
import type { AppContext } from '../../src/runtime/context.js';
import { startWorkers, type RunningWorkers } from '../../src/runtime/worker-runtime.js';
import { checkOpening } from '../../src/llm/compose-service.js';
import { resetDatabase, resetQueueStore } from '../setup/hooks.js';
import { engineContext, eventually, makeLeads, seedCampaign, statusCounts } from '../support/engine.js';
import { startPlatformServer, type PlatformServer, type RecordedRequest } from '../channels/platform-harness.js';
import { clockNow } from '../support/clock.js';
import { composeQueue } from '../../queues/compose.js';

interface ChatRequest {
  model: string;
  max_tokens: number;
  messages: Array<{ role: string; content: string }>;
}

/** Answers like an OpenAI-compatible server: the line mentions the lead's first name; usage from the text. */
function completion(request: RecordedRequest) {
  const body = request.body as ChatRequest;
  const user = body.messages.find((message) => message.role === 'user')?.content ?? '';
  const firstName = /"firstName":"([^"]+)"/.exec(user)?.[1] ?? 'there';
  const content = `Loved your talk on engines, ${firstName}.`;
  const promptTokens = Math.ceil(body.messages.reduce((sum, message) => sum + message.content.length, 0) / 4);
  const completionTokens = content.split(' ').length;
  return {
    status: 200,
    body: {
      id: 'chatcmpl-1',
      object: 'chat.completion',
      model: body.model,
      choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
      usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
    },
  };
}

const personalised = (llmFallback: 'TEMPLATE' | 'REVIEW' = 'TEMPLATE') => ({
  llmFallback,
  steps: [
    {
      channel: 'email' as const,
      delay: '0s',
      subject: 'Hello <%= it.lead.firstName %>',
      body: 'Hi <%= it.lead.firstName %>, here is the plain template.',
      personalize: { prompt: 'Open with something about their work at their company.' },
    },
  ],
});

interface MessageRow {
  id: number;
  status: string;
  body: string;
  review_note: string | null;
  personalisation_note: string | null;
  recipient: string;
}

describe('LLM personalisation through the compose queue', function () {
  this.timeout(30_000);
  let llm: PlatformServer;
  let ctx: AppContext | undefined;
  let workers: RunningWorkers | undefined;
  const clock = clockNow();

  beforeEach(async () => {
    await resetDatabase();
    await resetQueueStore();
    llm = await startPlatformServer(completion);
  });

  afterEach(async () => {
    await workers?.close();
    workers = undefined;
    await ctx?.close();
    ctx = undefined;
    await llm.close();
  });

  function context(env: Record<string, string> = {}): AppContext {
    ctx = engineContext({ clock, env: { LLM_BASE_URL: `${llm.url}/v1`, LLM_API_KEY: 'sk-test-llm-key-secret', LLM_MODEL: 'test-model', LLM_TIMEOUT: '300ms', ...env } });
    return ctx;
  }

  async function messages(engine: AppContext, campaignId: number): Promise<MessageRow[]> {
    return (await engine.db('messages').where({ campaign_id: campaignId }).orderBy('id')) as MessageRow[];
  }

  async function usage(engine: AppContext, campaignId: number) {
    return (await engine.db('llm_usage').where({ campaign_id: campaignId }).first()) as
      | { requests: number; prompt_tokens: number; completion_tokens: number; fallbacks: number }
      | undefined;
  }

  it('writes an opening line per lead from its fields, prepends it, sends, and records token use per campaign', async () => {
    const engine = context();
    const { campaignId } = await seedCampaign(engine, { leads: makeLeads(2), spec: personalised() });
    const tick = await engine.ticks.runTick(campaignId, clock.now());
    expect(tick.enqueued, 'no send job before composing').to.equal(0);
    expect(await statusCounts(engine, campaignId)).to.deep.equal({ PLANNED: 2 });
    workers = await startWorkers(engine, undefined, { schedule: false });
    await eventually(async () => (await statusCounts(engine, campaignId)).SENT_PROOF === 2, 'both sent');
    const rows = await messages(engine, campaignId);
    expect(rows.map((row) => row.body).sort()).to.deep.equal([
      'Loved your talk on engines, First0.\n\nHi First0, here is the plain template.',
      'Loved your talk on engines, First1.\n\nHi First1, here is the plain template.',
    ]);
    expect(llm.requests).to.have.length(2);
    const request = llm.requests[0]!;
    expect(request.path).to.equal('/v1/chat/completions');
    expect(request.headers.authorization).to.equal('Bearer sk-test-llm-key-secret');
    expect(request.body).to.deep.include({ model: 'test-model', max_tokens: 120 });
    const served = llm.requests.map((call) => completion(call).body.usage);
    expect(await usage(engine, campaignId)).to.deep.include({
      requests: 2,
      prompt_tokens: served.reduce((sum, item) => sum + item.prompt_tokens, 0),
      completion_tokens: served.reduce((sum, item) => sum + item.completion_tokens, 0),
      fallbacks: 0,
    });
  });

  it('plans the messages of a personalised step PLANNED as it inserts them: the tick rewrites none of its rows', async () => {
    const engine = context();
    const spec = personalised('TEMPLATE');
    const { campaignId } = await seedCampaign(engine, {
      leads: makeLeads(3),
      spec: { ...spec, requireReview: true, steps: [...spec.steps, { channel: 'email', delay: '0s', body: 'A plain follow-up.' }] },
    });
    // Every UPDATE of a message row while the tick runs is written down.
    await engine.db.raw(`CREATE TABLE message_rewrites (id bigint, old_status text, new_status text)`);
    await engine.db.raw(`CREATE FUNCTION log_message_rewrite() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN INSERT INTO message_rewrites VALUES (OLD.id, OLD.status, NEW.status); RETURN NEW; END $$`);
    await engine.db.raw(`CREATE TRIGGER log_message_rewrite AFTER UPDATE ON messages FOR EACH ROW EXECUTE FUNCTION log_message_rewrite()`);
    try {
      const tick = await engine.ticks.runTick(campaignId, clock.now());
      expect(tick, 'review would hold them, but they wait for their opening line first').to.include({ created: 3, enqueued: 0, heldForReview: 0 });
      expect(await statusCounts(engine, campaignId)).to.deep.equal({ PLANNED: 3 });
      expect(await engine.db('message_rewrites').select('id', 'old_status', 'new_status')).to.deep.equal([]);
      expect(await engine.queues.get(composeQueue).count(), 'one compose job per message').to.equal(3);
    } finally {
      await engine.db.raw('DROP TRIGGER IF EXISTS log_message_rewrite ON messages');
      await engine.db.raw('DROP FUNCTION IF EXISTS log_message_rewrite()');
      await engine.db.raw('DROP TABLE IF EXISTS message_rewrites');
    }
  });

  it('falls back to the plain template when the LLM times out', async () => {
    llm.answer(() => 'hang');
    const engine = context();
    const { campaignId } = await seedCampaign(engine, { leads: makeLeads(1), spec: personalised('TEMPLATE') });
    await engine.ticks.runTick(campaignId, clock.now());
    workers = await startWorkers(engine, undefined, { schedule: false });
    await eventually(async () => (await statusCounts(engine, campaignId)).SENT_PROOF === 1, 'sent plain');
    const [row] = await messages(engine, campaignId);
    expect(row?.body).to.equal('Hi First0, here is the plain template.');
    expect(row?.personalisation_note).to.match(/personalisation skipped: llm: no answer within 300 ms after the request was sent/);
    expect(await usage(engine, campaignId)).to.deep.include({ requests: 0, fallbacks: 1 });
  });

  it('holds the message for review instead when the campaign chose REVIEW', async () => {
    llm.answer(() => ({ status: 503, body: { error: { message: 'overloaded' } } }));
    const engine = context();
    const { campaignId } = await seedCampaign(engine, { leads: makeLeads(1), spec: personalised('REVIEW') });
    await engine.ticks.runTick(campaignId, clock.now());
    workers = await startWorkers(engine, undefined, { schedule: false });
    await eventually(async () => (await statusCounts(engine, campaignId)).PENDING_REVIEW === 1, 'held for review');
    const [row] = await messages(engine, campaignId);
    expect(row?.personalisation_note).to.match(/personalisation skipped: llm answered HTTP 503/);
    expect(row?.review_note, 'no reviewer has said anything yet').to.equal(null);

    // The reviewer's note has its own column: approving keeps why personalisation fell back.
    await engine.reviews.approve([row!.id], { by: 'alice', note: 'plain is fine' });
    const [approved] = await messages(engine, campaignId);
    expect(approved).to.include({ review_note: 'plain is fine' });
    expect(approved?.personalisation_note).to.match(/personalisation skipped: llm answered HTTP 503/);
  });

  it('never exceeds its requests-per-minute or tokens-per-minute budget; the rest fall back', async () => {
    const engine = context({ LLM_RPM: '3', LLM_TPM: '100000', COMPOSE_CONCURRENCY: '4' });
    const first = await seedCampaign(engine, { leads: makeLeads(6), spec: personalised() });
    await engine.ticks.runTick(first.campaignId, clock.now());
    workers = await startWorkers(engine, undefined, { schedule: false });
    await eventually(async () => (await statusCounts(engine, first.campaignId)).SENT_PROOF === 6, 'all six sent');
    expect(llm.requests, 'at most LLM_RPM calls in the minute').to.have.length(3);
    expect(await usage(engine, first.campaignId)).to.deep.include({ requests: 3, fallbacks: 3 });
    await workers.close();
    workers = undefined;
    await engine.close();

    // Tokens: each call reserves its worst case, so the model's reported use stays within LLM_TPM.
    await resetQueueStore();
    llm.requests.length = 0;
    const tight = context({ LLM_RPM: '100', LLM_TPM: '400', LLM_MAX_TOKENS: '60', COMPOSE_CONCURRENCY: '4' });
    const second = await seedCampaign(tight, { leads: makeLeads(6, 'tpm'), spec: personalised() });
    await tight.ticks.runTick(second.campaignId, clock.now());
    workers = await startWorkers(tight, undefined, { schedule: false });
    await eventually(async () => (await statusCounts(tight, second.campaignId)).SENT_PROOF === 6, 'all six sent');
    const served = llm.requests.map((call) => completion(call).body.usage.total_tokens);
    expect(served.length, 'the token budget bound before the request budget').to.be.within(1, 5);
    expect(served.reduce((sum, tokens) => sum + tokens, 0)).to.be.at.most(400);
    expect(await usage(tight, second.campaignId)).to.deep.include({ requests: served.length, fallbacks: 6 - served.length });
  });

  it('refuses an opening line with a placeholder, a link or no text', () => {
    expect(checkOpening('  "Great to meet you, Ada."  ')).to.deep.equal({ ok: true, line: 'Great to meet you, Ada.' });
    expect(checkOpening('Hi [First Name], great work')).to.include({ ok: false });
    expect(checkOpening('Hi <%= it.lead.firstName %>')).to.include({ ok: false });
    expect(checkOpening('See https://evil.example')).to.include({ ok: false });
    expect(checkOpening('   ')).to.include({ ok: false });
    expect(checkOpening('x'.repeat(301))).to.include({ ok: false });
  });
});

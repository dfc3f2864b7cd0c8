import type { Knex } from 'knex';
import { resolveTemplateName } from '../templates/template-store.js';
import { existingSegmentNames } from '../segments/segment-store.js';
import { insertPosts, replacePosts, type NewPost } from './post-store.js';
import { CampaignSpecError, type CampaignSpec } from './campaign-spec.js';
import type { Channel } from '../core/channels.js';
import { insertCampaign, replaceSteps, updateForSequenceEdit, type Campaign, type NewStep, type StepVariant } from './campaign-store.js';

/** Resolves a template name as the campaign sees it; refuses unknown, inactive or other-channel templates. */
async function templateIdFor(db: Knex, campaignId: number, name: string, channel: Channel, where: string): Promise<number> {
  const template = await resolveTemplateName(db, name, campaignId);
  if (template === undefined) throw new CampaignSpecError([`${where}: template "${name}" does not exist`]);
  if (!template.active) throw new CampaignSpecError([`${where}: template "${name}" is inactive`]);
  if (template.channel !== channel) throw new CampaignSpecError([`${where}: template "${name}" is for ${template.channel}, the step sends ${channel}`]);
  return template.id;
}

/** One step of a spec as it is stored, its template names resolved to ids. */
async function stepOf(db: Knex, campaignId: number, step: CampaignSpec['steps'][number], index: number): Promise<NewStep> {
  const where = `steps.${index}`;
  const variants =
    step.variants === undefined
      ? null
      : await Promise.all(
          step.variants.map(
            async (variant): Promise<StepVariant> => ({
              name: variant.name,
              weight: variant.weight,
              templateId: variant.template === undefined ? null : await templateIdFor(db, campaignId, variant.template, step.channel, `${where}.variants.${variant.name}`),
              subject: variant.subject ?? null,
              body: variant.body ?? null,
              format: variant.format,
              angle: variant.angle ?? null,
            }),
          ),
        );
  return {
    stepIndex: index,
    channel: step.channel,
    delayMs: step.delay,
    subject: step.subject ?? null,
    body: step.body ?? null,
    format: step.format,
    thread: step.thread,
    templateId: step.template === undefined ? null : await templateIdFor(db, campaignId, step.template, step.channel, where),
    variants,
    stopOnReply: step.stopOnReply,
    requireReview: step.requireReview,
    personalizePrompt: step.personalize?.prompt ?? null,
    variantSelection: step.variantSelection,
    minSendsPerVariant: step.minSendsPerVariant,
  };
}

/** Refuses a spec that names segments nobody defined, each unknown name as a problem of its field. */
async function checkSegmentsExist(db: Knex, spec: CampaignSpec): Promise<void> {
  const known = await existingSegmentNames(db, spec.segments);
  const problems = spec.segments.flatMap((name, index) =>
    known.has(name) ? [] : [`segments.${index}: segment "${name}" does not exist (define it with drumbeat segment add ${name} --when …)`],
  );
  if (problems.length > 0) throw new CampaignSpecError(problems);
}

/** The steps of a spec as they are stored, in order (one at a time: each may read the template registry). */
async function stepsOf(db: Knex, campaignId: number, spec: CampaignSpec): Promise<NewStep[]> {
  const steps: NewStep[] = [];
  for (const [index, step] of spec.steps.entries()) steps.push(await stepOf(db, campaignId, step, index));
  return steps;
}

/** The posts of a spec as they are stored: each waits for review when the campaign or the post asks for it. */
function postsOf(spec: CampaignSpec): NewPost[] {
  return spec.posts.map((post, index) => ({
    postIndex: index,
    platform: post.platform,
    text: post.text,
    mediaUrl: post.mediaUrl ?? null,
    scheduledAt: post.at,
    status: spec.requireReview || post.requireReview ? 'PENDING_REVIEW' : 'SCHEDULED',
  }));
}

/**
 * Writes a new campaign from a validated spec: the campaign row (with the spec as the audit
 * copy), its steps and its posts, which are then the campaign's definition (see
 * `loadCampaignDefinition`). Returns its id. Run it in a transaction: an unknown, inactive or
 * other-channel template raises {@link CampaignSpecError} naming the field, and nothing stays.
 */
export async function writeNewCampaign(trx: Knex, spec: CampaignSpec): Promise<number> {
  await checkSegmentsExist(trx, spec);
  const campaignId = await insertCampaign(trx, {
    name: spec.name,
    slug: spec.slug,
    mode: spec.mode,
    timezone: spec.timezone,
    sendWindow: spec.sendWindow ?? null,
    dailyCap: spec.dailyCap ?? null,
    tickEveryMs: spec.tickEvery,
    requireReview: spec.requireReview,
    onReject: spec.onReject,
    fromName: spec.from?.name ?? null,
    fromEmail: spec.from?.email ?? null,
    replyTo: spec.replyTo ?? null,
    llmFallback: spec.llmFallback,
    customFields: spec.customFields,
    segments: spec.segments,
    guard: spec.guard,
    submittedSpec: spec,
  });
  await replaceSteps(trx, campaignId, await stepsOf(trx, campaignId, spec));
  await insertPosts(trx, campaignId, postsOf(spec));
  return campaignId;
}

/**
 * Replaces the sequence of a campaign that is not running (DRAFT or PAUSED) from a spec: its
 * steps, review settings, `llmFallback`, custom fields, the deliverability guard and the audit copy; the strategy returns
 * to DRAFT. Posts: a DRAFT campaign (it never ran) takes the spec's posts as they are; a PAUSED
 * one keeps the posts it has (they may be published or have their jobs) and gains those at new
 * indexes. Returns undefined when the campaign is running or finished. Run it in a transaction.
 */
export async function writeSequenceEdit(trx: Knex, id: number, spec: CampaignSpec, editedBy: string, now: Date): Promise<Campaign | undefined> {
  await checkSegmentsExist(trx, spec);
  const edited = await updateForSequenceEdit(
    trx,
    id,
    {
      requireReview: spec.requireReview,
      onReject: spec.onReject,
      llmFallback: spec.llmFallback,
      customFields: spec.customFields,
      segments: spec.segments,
      guard: spec.guard,
      submittedSpec: spec,
    },
    editedBy,
    now,
  );
  if (edited === undefined) return undefined;
  await replaceSteps(trx, id, await stepsOf(trx, id, spec));
  if (edited.status === 'DRAFT') await replacePosts(trx, id, postsOf(spec), now);
  else await insertPosts(trx, id, postsOf(spec));
  return edited;
}

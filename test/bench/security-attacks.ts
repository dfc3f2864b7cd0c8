/**
 * The attack classes of the security probe (`test/bench/security-probe.ts`), each a function
 * that fires one class of hostile requests at a running api through a {@link ProbeTally} and
 * returns what it found beyond the status counts. They replay the corpora of the security tests
 * (test/security/corpus.ts) over every route they apply to, as an attacker with a token, a
 * session, a webhook secret or nothing would.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readdir } from 'node:fs/promises';
import { request, type IncomingMessage } from 'node:http';
import type { Knex } from 'knex';
import type { AppQueue } from '../../src/jobs/queue-store.js';
import { signDrumbeat } from '../../src/events/webhook-signatures.js';
import { badIds, badTexts, bodiesFor, percentEncode, templateEscapePayloads, unboundedDelays } from '../security/corpus.js';
import type { RouteMethod } from '../support/api-routes.js';
import { clientError, exactly, inPool, notServerError, success, type Expectation, type ProbeTally } from './probe-tally.js';

/** Roles that hold a token in the probe; `ownerless` is the installation's token (acts as operator). */
export type ProbeRole = 'admin' | 'operator' | 'reviewer' | 'viewer' | 'ownerless';

/** A signed-in admin session as a JSON client holds it. */
export interface ProbeSession {
  cookie: string;
  csrfToken: string;
}

/** Everything the attack classes aim at: the api, its fixtures and the secrets a provider holds. */
export interface ProbeTarget {
  tally: ProbeTally;
  /** The scratch database, to check what landed. */
  db: Knex;
  /** Every (method, path) the admin API mounts. */
  routes: ReadonlyArray<{ method: RouteMethod; path: string }>;
  /** `Bearer …` header values of live tokens, by role. */
  bearer: Record<ProbeRole, string>;
  /** `Bearer …` header values of tokens that must be refused. */
  deadBearer: { expired: string; revoked: string; ownerDisabled: string };
  adminEmail: string;
  operatorEmail: string;
  password: string;
  draftCampaignId: number;
  draftSpec: Record<string, unknown>;
  activeCampaignId: number;
  activeSlug: string;
  templateId: number;
  /** Messages of the ACTIVE campaign that wait for review (ids the review routes can name). */
  reviewMessageIds: number[];
  /** An email of a lead of the ACTIVE campaign, for webhook events. */
  leadEmail: string;
  webhookSecret: string;
  mailgunSigningKey: string;
  /** The file every template-escape payload would write if it ran. */
  canaryFile: string;
  uploadDir: string;
  /** The import-leads queue, as Bull Board shows it. */
  importQueue: AppQueue;
  /** How many requests run at once in the bulk classes. */
  concurrency: number;
}

const json = (authorization: string) => ({ authorization, 'content-type': 'application/json' });
const hasBody = (method: string) => method !== 'GET' && method !== 'DELETE';
const unix = () => Math.floor(Date.now() / 1000);

/** The canary global of the payloads: it lives in the api process, where only its effects are seen. */
const CANARY_GLOBAL = 'drumbeatProbeCanary';

/** A route's path with its parameters filled: `:id` by `id`, `:action` by an action the route knows. */
function fill(path: string, id: string): string {
  const action = path.startsWith('/operators') ? 'disable' : 'start';
  return `/api${path.replace(/:action/g, action).replace(/:id/g, id)}`;
}

/** The id a route's `:id` names in the probe's fixtures; 999999 names nothing (no real token or operator is touched). */
function fixtureId(target: ProbeTarget, path: string): string {
  if (path.startsWith('/campaigns/:id/leads')) return String(target.activeCampaignId);
  if (path.startsWith('/campaigns/')) return String(target.draftCampaignId);
  if (path.startsWith('/templates/')) return String(target.templateId);
  if (path.startsWith('/review/')) return String(target.reviewMessageIds[0] ?? 999_999);
  return '999999';
}

/**
 * A body each mutating route accepts; the field classes replace one leaf of it at a time, so
 * the hostile value gets past the shape checks around it.
 */
function validBodies(target: ProbeTarget): Record<string, unknown> {
  const suppression = { target: 'probe-suppressed@example.com', reason: 'probe', campaignId: null };
  return {
    'POST /campaigns/:id/leads': [{ email: 'probe.lead@example.com', firstName: 'Seán', lastName: "O'Brien", company: 'AT&T <Labs>', custom: { note: 'hi' } }],
    'POST /suppressions': suppression,
    'DELETE /suppressions': suppression,
    'POST /campaigns/:id/reject': { reason: 'probe' },
    'POST /campaigns/:id/:action': { note: 'probe' },
    'POST /templates': { name: 'probe-hostile', channel: 'email', subject: 'Hi', body: 'Hi <%= it.lead.firstName %>', format: 'text', customFields: [] },
    'PUT /templates/:id': { subject: 'Hi', body: 'Hi <%= it.lead.firstName %>' },
    'PUT /campaigns/:id/sequence': target.draftSpec,
    'POST /review/:id/approve': { note: 'ok' },
    'POST /review/:id/reject': { reason: 'probe' },
    'PUT /review/:id': { subject: 'Hi', body: 'Hello' },
    'POST /tokens': { name: 'probe', expires: '1d' },
    'POST /operators': { email: 'probe-new@example.com', password: 'correct horse battery staple', role: 'viewer' },
    'POST /messages/retry': { ids: [999_999] },
    'PUT /kill-switch': { on: false },
  };
}

/** Every leaf of a JSON value (object keys and array indexes), up to three levels down. */
function leafPaths(value: unknown, prefix: Array<string | number> = []): Array<Array<string | number>> {
  if (prefix.length < 3 && Array.isArray(value) && value.length > 0) return leafPaths(value[0], [...prefix, 0]);
  if (prefix.length < 3 && typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length > 0) {
    return Object.entries(value).flatMap(([key, inner]) => leafPaths(inner, [...prefix, key]));
  }
  return [prefix];
}

/** A deep copy of `value` with the leaf at `path` replaced. */
function replaceAt(value: unknown, path: ReadonlyArray<string | number>, replacement: unknown): unknown {
  if (path.length === 0) return replacement;
  const [head, ...rest] = path;
  if (Array.isArray(value)) return value.map((item: unknown, index) => (index === head ? replaceAt(item, rest, replacement) : item));
  const copy = { ...(value as Record<string, unknown>) };
  copy[String(head)] = replaceAt(copy[String(head)], rest, replacement);
  return copy;
}

/**
 * Values a client can put in any JSON field: wrong types, extremes, text people write (names in
 * other scripts, an RTL override) and text attackers try (SQL, markup, template syntax, paths,
 * prototype keys). Booleans are left out: `true` is a valid value of the kill switch.
 */
const hostileValues: unknown[] = [
  null,
  0,
  -1,
  1.5,
  1e308,
  2 ** 53 + 2,
  '',
  ' ',
  [],
  {},
  ['x'],
  JSON.parse('{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}') as unknown,
  'x'.repeat(100_000),
  "Seán O'Brien",
  'AT&T <Labs>',
  '株式会社 <テスト>',
  'عمر الفارسي',
  'Sam 🚀',
  '\u202egnp.exe',
  "' OR 1=1 --",
  '<script>alert(1)</script>',
  '${7*7}{{7*7}}<%= 7*7 %>',
  '../../../../etc/passwd',
  '__proto__',
  'constructor',
];

/** The body of a request whose class brings none of its own: none for GET and DELETE, `{}` otherwise. */
function emptyBody(method: string): { body?: string } {
  return hasBody(method) ? { body: '{}' } : {};
}

/**
 * Tokens that must be refused (none, malformed, unknown, expired, revoked, of a disabled
 * operator, another scheme) on every /api route: 401 each.
 */
export async function deadTokens(target: ProbeTarget): Promise<void> {
  const credentials: Array<[string, string | undefined]> = [
    ['none', undefined],
    ['garbage', 'Bearer garbage'],
    ['unknown', `Bearer dbt_${'A'.repeat(43)}`],
    ['expired', target.deadBearer.expired],
    ['revoked', target.deadBearer.revoked],
    ['owner disabled', target.deadBearer.ownerDisabled],
    ['basic', `Basic ${Buffer.from(`${target.adminEmail}:${target.password}`).toString('base64')}`],
  ];
  const routes = [...target.routes, { method: 'get' as const, path: '/whoami' }];
  const requests = credentials.flatMap(([, authorization]) => routes.map((route) => ({ authorization, route })));
  await inPool(requests, target.concurrency, ({ authorization, route }) => {
    const method = route.method.toUpperCase();
    const headers: Record<string, string> = { 'content-type': 'application/json', ...(authorization === undefined ? {} : { authorization }) };
    return target.tally.send('dead tokens', method, fill(route.path, fixtureId(target, route.path)), { headers, ...emptyBody(method) }, exactly(401));
  });
}

/** What became of the template-escape payloads, as template text and as lead names. */
export interface PayloadNameFindings {
  payloads: number;
  /** Saves of template text carrying a payload, and how many were refused (400). */
  saves: number;
  refusedSaves: number;
  /** Leads stored with a payload as their name, through `POST /api/campaigns/:id/leads` and the public form. */
  storedThroughApi: number;
  storedThroughForm: number;
  /** Previews (API leads) whose body printed the payload name as it is. */
  previewsAsText: number;
}

/**
 * Every template-escape payload through every route that takes template text (POST and PUT
 * /api/templates in body and subject; the sequence's inline body, subject and variant), then as
 * data: a lead's name through the API and the public form, previewed, and as a review edit.
 */
export async function templatePayloads(target: ProbeTarget): Promise<PayloadNameFindings> {
  const { tally } = target;
  const payloads = templateEscapePayloads(target.canaryFile, CANARY_GLOBAL);
  const headers = json(target.bearer.operator);
  const oneLine = (text: string) => text.replace(/\n/g, ' ');
  const refused = exactly(400);
  let saves = 0;
  let refusedSaves = 0;
  await inPool([...payloads.entries()], target.concurrency, async ([index, [, payload]]) => {
    const templates: Array<[string, string, unknown]> = [
      ['POST', '/api/templates', { name: `probe-bad-${index}`, channel: 'email', subject: 'Hi', body: payload }],
      ['POST', '/api/templates', { name: `probe-bad-${index}`, channel: 'email', subject: oneLine(payload), body: 'Hi' }],
      ['PUT', `/api/templates/${target.templateId}`, { body: payload }],
      ['PUT', `/api/templates/${target.templateId}`, { subject: oneLine(payload), body: 'Hi' }],
    ];
    const step = { channel: 'email', delay: '0s' };
    for (const steps of [
      [{ ...step, subject: 'Hi', body: payload }],
      [{ ...step, subject: oneLine(payload), body: 'Hi' }],
      [{ ...step, subject: 'Hi', variants: [{ name: 'a', body: 'Hi' }, { name: 'b', subject: 'Yo', body: payload }] }],
    ]) {
      templates.push(['PUT', `/api/campaigns/${target.draftCampaignId}/sequence`, { ...target.draftSpec, steps }]);
    }
    for (const [method, path, body] of templates) {
      saves += 1;
      if ((await tally.send('template escapes', method, path, { headers, body: JSON.stringify(body) }, refused)).status === 400) refusedSaves += 1;
    }
  });

  // As data, a payload is a name like any other: stored (unless a name's own rules refuse it:
  // over 200 characters, a line break), and printed as the text it is.
  const asName = (payload: string) => payload.slice(0, 2000);
  let storedThroughApi = 0;
  let storedThroughForm = 0;
  await inPool([...payloads.entries()], target.concurrency, async ([index, [, payload]]) => {
    const added = await tally.send(
      'template escapes as data',
      'POST',
      `/api/campaigns/${target.activeCampaignId}/leads`,
      { headers, body: JSON.stringify([{ email: `payload-${index}@probe.example`, firstName: asName(payload), company: asName(payload), custom: { note: asName(payload) } }]) },
      exactly(200),
    );
    if (added.status === 200 && (JSON.parse(added.text) as { imported?: number }).imported === 1) storedThroughApi += 1;
    const submitted = await tally.send(
      'template escapes as data',
      'POST',
      `/forms/${target.activeSlug}`,
      { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: `form-payload-${index}@probe.example`, firstName: asName(payload), consent: true }) },
      exactly(200, 400),
    );
    if (submitted.status === 200) storedThroughForm += 1;
  });
  let previewsAsText = 0;
  await inPool([...payloads.entries()], target.concurrency, async ([index, [, payload]]) => {
    const answer = await tally.send(
      'template escapes as data',
      'GET',
      `/api/campaigns/${target.activeCampaignId}/preview?lead=payload-${index}@probe.example&step=1`,
      { headers },
      exactly(200, 404),
    );
    const shown = answer.status === 200 ? (JSON.parse(answer.text) as { preview?: { body?: string } }).preview?.body : undefined;
    if (shown === `Hi ${asName(payload)}`) previewsAsText += 1;
  });
  // Text edited in review is stored as the message's text and never parsed.
  const reviewed = target.reviewMessageIds[2];
  if (reviewed !== undefined) {
    for (const [, payload] of payloads) {
      await tally.send('template escapes as data', 'PUT', `/api/review/${reviewed}`, { headers: json(target.bearer.reviewer), body: JSON.stringify({ body: payload }) }, notServerError);
    }
  }
  return { payloads: payloads.length, saves, refusedSaves, storedThroughApi, storedThroughForm, previewsAsText };
}

/** Every bad id on every `:id` route, with the token of every role (a role check may come first). */
export async function badIdsEverywhere(target: ProbeTarget): Promise<void> {
  const roles = Object.keys(target.bearer) as ProbeRole[];
  const requests = roles.flatMap((role) =>
    target.routes.filter((route) => route.path.includes(':id')).flatMap((route) => badIds.map((id) => ({ role, route, id }))),
  );
  await inPool(requests, target.concurrency, ({ role, route, id }) => {
    const method = route.method.toUpperCase();
    return target.tally.send('bad ids', method, fill(route.path, id), { headers: json(target.bearer[role]), ...emptyBody(method) }, clientError);
  });
  // Ids in query strings, where list routes read them: refused. Keyset cursors (`after`,
  // `afterId`) are plain whole numbers from 0: a large one pages past the end (200), any other
  // form is refused.
  const idQueries = ['/api/templates?campaign=', '/api/review?campaign=', '/api/review?limit=', '/api/suppressions?campaignId=', '/api/messages/dead?campaign='];
  const cursorQueries = ['/api/review?after=', '/api/suppressions?afterId='];
  const queries = [
    ...idQueries.flatMap((query) => badIds.map((id) => ({ path: `${query}${id}`, expected: clientError }))),
    ...cursorQueries.flatMap((query) => badIds.map((id) => ({ path: `${query}${id}`, expected: notServerError }))),
  ];
  await inPool(queries, target.concurrency, ({ path, expected }) => target.tally.send('bad ids', 'GET', path, { headers: json(target.bearer.viewer) }, expected));
}

/**
 * The bad-text corpus (NUL, lone surrogates) in the query string of every /api route, in every
 * body shape of the corpus and in every field of a body each mutating route accepts.
 */
export async function badTextEverywhere(target: ProbeTarget): Promise<void> {
  const headers = json(target.bearer.admin);
  const bodies = validBodies(target);
  const requests: Array<{ method: string; path: string; body?: string; expected: Expectation }> = [];
  for (const route of target.routes) {
    const method = route.method.toUpperCase();
    const path = fill(route.path, fixtureId(target, route.path));
    for (const text of badTexts) {
      const encoded = percentEncode(text);
      // Express decodes a lone surrogate's bytes to U+FFFD: a route that reads none of these may answer 200.
      requests.push({ method, path: `${path}?campaign=${encoded}&lead=${encoded}&step=${encoded}`, ...emptyBody(method), expected: notServerError });
      if (!hasBody(method) && method !== 'DELETE') continue;
      for (const body of bodiesFor(text)) requests.push({ method, path, body: JSON.stringify(body), expected: clientError });
      const valid = bodies[`${method} ${route.path}`];
      if (valid === undefined) continue;
      for (const leaf of leafPaths(valid)) requests.push({ method, path, body: JSON.stringify(replaceAt(valid, leaf, text)), expected: clientError });
    }
  }
  await inPool(requests, target.concurrency, ({ method, path, body, expected }) =>
    target.tally.send('bad text in /api', method, path, { headers, ...(body === undefined ? {} : { body }) }, expected),
  );
}

/**
 * Hostile values (wrong types, extremes, people's names, injection strings, prototype keys) in
 * every field of a body each mutating route accepts, one field at a time. A route may accept
 * such a value as data; it may never answer 5xx.
 */
export async function hostileFields(target: ProbeTarget): Promise<void> {
  const bodies = validBodies(target);
  const requests: Array<{ method: string; path: string; body: string; role: ProbeRole }> = [];
  for (const route of target.routes) {
    const method = route.method.toUpperCase();
    const valid = bodies[`${method} ${route.path}`];
    if (valid === undefined) continue;
    const path = fill(route.path, fixtureId(target, route.path));
    // Review decisions need a reviewer's token; token and operator routes an admin's.
    const role: ProbeRole = route.path.startsWith('/review') ? 'reviewer' : route.path.startsWith('/tokens') || route.path.startsWith('/operators') ? 'admin' : 'operator';
    for (const leaf of leafPaths(valid)) {
      for (const value of hostileValues) requests.push({ method, path, body: JSON.stringify(replaceAt(valid, leaf, value)), role });
    }
    for (const value of hostileValues) requests.push({ method, path, body: JSON.stringify(value), role });
  }
  await inPool(requests, target.concurrency, ({ method, path, body, role }) =>
    target.tally.send('hostile values in /api fields', method, path, { headers: json(target.bearer[role]), body }, notServerError),
  );

  // The same values in every query parameter a route reads (the others set to something valid),
  // and each parameter given twice, which a query parser turns into an array.
  const preview = `/api/campaigns/${target.activeCampaignId}/preview`;
  const queryParameters: Array<[path: string, parameter: string, others: string]> = [
    ['/api/templates', 'campaign', ''],
    ['/api/review', 'campaign', ''],
    ['/api/review', 'after', ''],
    ['/api/review', 'limit', ''],
    ['/api/suppressions', 'kind', ''],
    ['/api/suppressions', 'campaignId', ''],
    ['/api/suppressions', 'afterId', ''],
    ['/api/suppressions', 'limit', ''],
    ['/api/messages/dead', 'campaign', ''],
    [preview, 'lead', '&step=1'],
    [preview, 'step', `&lead=${encodeURIComponent(target.leadEmail)}`],
  ];
  const queries = queryParameters.flatMap(([path, parameter, others]) => [
    ...hostileValues.map((value) => `${path}?${parameter}=${encodeURIComponent(typeof value === 'string' ? value : JSON.stringify(value))}${others}`),
    `${path}?${parameter}=1&${parameter}=2${others}`,
  ]);
  await inPool(queries, target.concurrency, (path) => target.tally.send('hostile values in /api queries', 'GET', path, { headers: json(target.bearer.viewer) }, notServerError));
}

/**
 * The bad-text corpus at the public edges: the form and its slug, unsubscribe tokens, the
 * sign-in form (JSON and urlencoded), Bull Board paths, an unsigned webhook, the root.
 */
export async function badTextPublic(target: ProbeTarget, session: ProbeSession): Promise<void> {
  const form = { 'content-type': 'application/x-www-form-urlencoded' };
  const jsonOnly = { 'content-type': 'application/json', accept: 'application/json' };
  const requests: Array<[string, string, { headers?: Record<string, string>; body?: string }]> = [];
  for (const text of badTexts) {
    const encoded = percentEncode(text);
    requests.push(
      ['POST', `/forms/${encoded}`, { headers: form, body: 'email=a%40example.com' }],
      ['POST', `/forms/${target.activeSlug}`, { headers: form, body: `email=${encoded}&firstName=${encoded}&utm_source=${encoded}` }],
      ['POST', `/forms/${target.activeSlug}`, { headers: jsonOnly, body: JSON.stringify({ email: 'a@example.com', firstName: text, [text]: text }) }],
      ['GET', `/u/${encoded}`, {}],
      ['POST', `/u/${encoded}`, { headers: form, body: 'List-Unsubscribe=One-Click' }],
      ['POST', '/admin/login', { headers: jsonOnly, body: JSON.stringify({ email: text, password: text }) }],
      ['POST', '/admin/login', { headers: form, body: `email=${encoded}&password=${encoded}` }],
      ['GET', `/admin/queues/api/queues/${encoded}`, {}],
      ['GET', `/admin/queues/api/queues/${encoded}`, { headers: { cookie: session.cookie } }],
      ['PUT', `/admin/queues/api/queues/${encoded}/retry/failed`, { headers: { cookie: session.cookie, 'x-csrf-token': session.csrfToken } }],
      ['POST', '/webhooks/events', { headers: { 'content-type': 'application/json', 'drumbeat-signature': text.replace(/[^\x20-\x7e]/g, '') }, body: JSON.stringify({ id: text }) }],
      ['GET', `/${encoded}?q=${encoded}`, {}],
    );
  }
  for (const path of ['/u/%E0%A4%A', '/forms/%', `/u/${'a'.repeat(100_000)}`, `/forms/${'a'.repeat(100_000)}`]) requests.push(['GET', path, {}]);
  await inPool(requests, target.concurrency, ([method, path, options]) => target.tally.send('bad text at public edges', method, path, options, clientError));
}

/** 100,000-deep JSON (arrays and objects), 2 MB and cut-off bodies to every mutating route, the form, sign-in and signed webhooks. */
export async function deepAndOversized(target: ProbeTarget): Promise<void> {
  const depth = 100_000;
  const deepArray = `${'['.repeat(depth)}${']'.repeat(depth)}`;
  const deepObject = `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
  const headers = json(target.bearer.admin);
  const requests: Array<[string, string, { headers: Record<string, string>; body: string }, Expectation]> = [];
  for (const route of target.routes) {
    const method = route.method.toUpperCase();
    if (!hasBody(method)) continue;
    const path = fill(route.path, fixtureId(target, route.path));
    requests.push(
      [method, path, { headers, body: deepArray }, exactly(400)],
      [method, path, { headers, body: deepObject }, exactly(400)],
      [method, path, { headers, body: JSON.stringify({ body: 'x'.repeat(2 * 1024 * 1024) }) }, exactly(413)],
      [method, path, { headers, body: '{"name":' }, exactly(400)],
    );
  }
  const plain = { 'content-type': 'application/json' };
  for (const body of [deepArray, deepObject]) {
    requests.push(['POST', `/forms/${target.activeSlug}`, { headers: plain, body }, exactly(400)], ['POST', '/admin/login', { headers: plain, body }, exactly(400)]);
    for (const path of ['/webhooks/events', '/webhooks/inbound']) {
      requests.push(['POST', path, { headers: { ...plain, 'drumbeat-signature': signDrumbeat(target.webhookSecret, body, unix()) }, body }, exactly(400)]);
    }
    requests.push(['POST', '/webhooks/mailgun', { headers: plain, body }, exactly(400)]);
  }
  await inPool(requests, Math.min(4, target.concurrency), ([method, path, options, expected]) => target.tally.send('deep and oversized bodies', method, path, options, expected));
}

/** A Mailgun webhook body, signed with the key as Mailgun signs (timestamp + token). */
function mailgunBody(signingKey: string, eventData: Record<string, unknown>): string {
  const timestamp = String(unix());
  const token = randomBytes(25).toString('hex');
  const signature = createHmac('sha256', signingKey).update(timestamp + token).digest('hex');
  return JSON.stringify({ signature: { timestamp, token, signature }, 'event-data': eventData });
}

/**
 * Signed webhook events whose text holds NUL characters and lone surrogates (escaped in JSON,
 * and as raw bytes that are not UTF-8), from drumbeat's own format, Mailgun and inbound mail:
 * each must be answered 2xx and stored. Returns how many distinct events were sent and stored.
 */
export async function signedOddText(target: ProbeTarget): Promise<{ sent: number; stored: number }> {
  const { tally } = target;
  const occurredAt = new Date().toISOString();
  const bodies: Array<[string, Buffer | string, Record<string, string>]> = [];
  let sent = 0;
  const event = (text: string) => {
    sent += 1;
    return { id: `probe-odd-${sent}-${text}`, type: 'opened', occurredAt, email: target.leadEmail, data: { note: text, [`k${text}`]: text } };
  };
  const signed = (body: Buffer | string) => ({ 'content-type': 'application/json', 'drumbeat-signature': signDrumbeat(target.webhookSecret, body, unix()) });
  for (const text of badTexts) {
    const body = JSON.stringify(event(text));
    bodies.push(['/webhooks/events', body, signed(body)]);
  }
  const batch = JSON.stringify(badTexts.map(event));
  bodies.push(['/webhooks/events', batch, signed(batch)]);
  // A lone surrogate as a file or a careless provider sends it: its three bytes, not UTF-8.
  sent += 1;
  const rawBytes = Buffer.concat([Buffer.from(`{"id":"probe-odd-${sent}-`), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from(`","type":"opened","occurredAt":"${occurredAt}","email":"${target.leadEmail}"}`)]);
  bodies.push(['/webhooks/events', rawBytes, signed(rawBytes)]);
  for (const text of badTexts) {
    sent += 1;
    const body = mailgunBody(target.mailgunSigningKey, {
      id: `probe-odd-${sent}-${text}`,
      event: 'opened',
      timestamp: unix(),
      recipient: target.leadEmail,
      reason: text,
      'user-variables': { [text]: text },
    });
    bodies.push(['/webhooks/mailgun', body, { 'content-type': 'application/json' }]);
  }
  for (const text of badTexts) {
    sent += 1;
    const body = JSON.stringify({ from: `Ada <${target.leadEmail}>`, subject: `Re: ${text}`, messageId: `<probe-odd-${sent}-${text}@probe.example>`, text: `Thanks ${text}` });
    bodies.push(['/webhooks/inbound', body, signed(body)]);
  }
  sent += 1;
  const mime = Buffer.concat([
    Buffer.from(`From: Ada <${target.leadEmail}>\r\nTo: sales@probe.example\r\nSubject: Re: a\u0000b\r\nDate: ${new Date().toUTCString()}\r\n`),
    Buffer.from(`Message-ID: <probe-odd-${sent}@probe.example>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThanks `),
    Buffer.from([0xed, 0xa0, 0x80, 0x00]),
    Buffer.from('\r\n'),
  ]);
  bodies.push(['/webhooks/inbound', mime, { 'content-type': 'message/rfc822', 'drumbeat-signature': signDrumbeat(target.webhookSecret, mime, unix()) }]);
  for (const [path, body, headers] of bodies) await tally.send('signed webhooks with odd text', 'POST', path, { headers, body: body instanceof Buffer ? new Uint8Array(body) : body }, success);
  const [row] = (await target.db('inbox_events').where('event_id', 'like', 'probe-odd-%').count({ stored: '*' })) as Array<{ stored: string | number }>;
  return { sent, stored: Number(row?.stored ?? 0) };
}

/** Durations that are not finite, negative, or longer than allowed, as a step delay and as the tick interval. */
export async function unboundedDurations(target: ProbeTarget): Promise<void> {
  const durations: unknown[] = [...unboundedDelays, '-1s', '1e400s', 'NaN', '∞', ' ', '9'.repeat(30) + 'ms', 'P1Y', 1e308, -1, 2 ** 53, 'Infinityw'];
  const headers = json(target.bearer.operator);
  const path = `/api/campaigns/${target.draftCampaignId}/sequence`;
  for (const duration of durations) {
    const step = { channel: 'email', subject: 'Hi', body: 'Hi', delay: duration };
    await target.tally.send('unbounded durations', 'PUT', path, { headers, body: JSON.stringify({ ...target.draftSpec, steps: [step] }) }, exactly(400));
    await target.tally.send('unbounded durations', 'PUT', path, { headers, body: JSON.stringify({ ...target.draftSpec, tickEvery: duration }) }, exactly(400));
  }
}

/** What the sign-in brute force saw. */
export interface BruteForceFindings {
  wrongPasswords: number;
  seconds: number;
  unauthorized: number;
  throttled: number;
  rightPasswordStatus: number;
  rightPasswordAcceptedWhileThrottled: boolean;
}

/**
 * 220 wrong passwords for the admin from one IP, 20 at a time and each with a different
 * X-Forwarded-For (which must not count as another client), then the right password.
 */
export async function bruteForce(target: ProbeTarget): Promise<BruteForceFindings> {
  const attempts = Array.from({ length: 220 }, (_, index) => index);
  const statuses: number[] = [];
  const started = performance.now();
  const login = (password: string, index: number) =>
    target.tally.send(
      'sign-in brute force',
      'POST',
      '/admin/login',
      {
        headers: { 'content-type': 'application/json', accept: 'application/json', 'x-forwarded-for': `203.0.113.${index % 250}` },
        body: JSON.stringify({ email: target.adminEmail, password }),
      },
      exactly(401, 429),
    );
  await inPool(attempts, 20, async (index) => {
    statuses.push((await login(`wrong-password-${index}`, index)).status);
  });
  const seconds = (performance.now() - started) / 1000;
  const right = await target.tally.send(
    'sign-in brute force',
    'POST',
    '/admin/login',
    { headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify({ email: target.adminEmail, password: target.password }) },
    exactly(429),
  );
  // Sign-ins from another site: refused before anything is counted.
  for (const origin of ['https://evil.example', 'null']) {
    await target.tally.send(
      'sign-in brute force',
      'POST',
      '/admin/login',
      { headers: { 'content-type': 'application/json', origin }, body: JSON.stringify({ email: target.adminEmail, password: target.password }) },
      exactly(403),
    );
  }
  return {
    wrongPasswords: attempts.length,
    seconds: Number(seconds.toFixed(2)),
    unauthorized: statuses.filter((status) => status === 401).length,
    throttled: statuses.filter((status) => status === 429).length,
    rightPasswordStatus: right.status,
    rightPasswordAcceptedWhileThrottled: right.status === 200,
  };
}

/**
 * Bull Board as a signed-in operator: adding an import-leads job that names a file (and as an
 * admin), editing job data, cleaning, emptying and obliterating must be refused; retrying dead
 * letters is allowed. Returns whether every add was refused and no such job exists.
 */
export async function bullBoard(target: ProbeTarget, sessions: { operator: ProbeSession; admin: ProbeSession }): Promise<{ addJobRefused: boolean; retryAllowed: boolean }> {
  const queue = target.importQueue.name;
  const board = (session: ProbeSession, method: string, path: string, body: unknown, expected: Expectation, withCsrf = true) =>
    target.tally.send(
      'Bull Board',
      method,
      `/admin/queues${path}`,
      {
        headers: { cookie: session.cookie, 'content-type': 'application/json', ...(withCsrf ? { 'x-csrf-token': session.csrfToken } : {}) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      },
      expected,
    );
  const fileJob = { name: 'import-csv', data: { campaignId: target.activeCampaignId, uploadId: '../../../../etc/passwd', fileName: '/etc/passwd', path: '/etc/passwd', createdBy: 'probe' } };
  const adds = [
    await board(sessions.operator, 'POST', `/api/queues/${queue}/add`, fileJob, exactly(403)),
    await board(sessions.operator, 'POST', `/API/QUEUES/${queue}/ADD/`, fileJob, exactly(403)),
    await board(sessions.admin, 'POST', `/api/queues/${queue}/add`, fileJob, exactly(403)),
    await board(sessions.operator, 'POST', `/api/queues/${queue}/add`, fileJob, exactly(403), false),
  ];
  const [failed] = await target.importQueue.getFailed(0, 0);
  const jobId = failed?.id ?? '1';
  await board(sessions.operator, 'PATCH', `/api/queues/${queue}/${jobId}/update-data`, { jobData: { ...fileJob.data } }, exactly(403));
  for (const action of ['clean/failed', 'clean/completed', 'obliterate', 'empty']) await board(sessions.operator, 'PUT', `/api/queues/${queue}/${action}`, { force: true }, exactly(403));
  await board(sessions.operator, 'PUT', `/api/queues/${queue}/${jobId}/clean`, undefined, exactly(403));
  await board(sessions.operator, 'PUT', `/api/queues/${queue}/retry/failed`, undefined, exactly(403), false);
  const retried = await board(sessions.operator, 'PUT', `/api/queues/${queue}/retry/failed`, undefined, exactly(200));
  await board(sessions.operator, 'GET', `/api/queues/${queue}/${jobId}`, undefined, exactly(200));
  const jobs = await target.importQueue.getJobs(['waiting', 'delayed', 'active', 'completed', 'failed', 'prioritized']);
  const fileJobs = jobs.filter((job) => JSON.stringify(job.data).includes('/etc/passwd'));
  return { addJobRefused: adds.every((answer) => answer.status === 403) && fileJobs.length === 0, retryAllowed: retried.status === 200 };
}

const boundary = 'drumbeat-probe-boundary';
const multipartHead = (fileName: string) => `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${fileName}"\r\nContent-Type: text/csv\r\n\r\n`;

/** Files in the upload directory now. */
async function uploadFiles(dir: string): Promise<string[]> {
  return readdir(dir).catch(() => []);
}

/** Waits (polling, up to `timeoutMs`) until `check` holds; returns whether it did. */
async function pollUntil(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * A raw multipart upload to `/api/campaigns/:id/imports` that streams `chunks` and then either
 * waits for the answer or goes away (`abortWhen` resolves first): the status, or 0 when it
 * went away unanswered.
 */
async function rawUpload(
  target: ProbeTarget,
  extraHeaders: Record<string, string>,
  chunks: string[],
  abortWhen?: () => Promise<boolean>,
): Promise<number> {
  const url = new URL(target.tally.url(`/api/campaigns/${target.activeCampaignId}/imports`));
  const client = request({
    host: url.hostname,
    port: url.port,
    path: url.pathname,
    method: 'POST',
    headers: { authorization: target.bearer.operator, 'content-type': `multipart/form-data; boundary=${boundary}`, ...extraHeaders },
  });
  client.on('error', () => undefined);
  const answered = (once(client, 'response') as Promise<[IncomingMessage]>).then(async ([response]) => {
    response.resume();
    await once(response, 'end').catch(() => undefined);
    return response.statusCode ?? 0;
  }, () => 0);
  for (const chunk of chunks) client.write(chunk);
  if (abortWhen !== undefined) {
    await pollUntil(abortWhen, 10_000);
    client.destroy();
    return 0;
  }
  const status = await Promise.race([answered, new Promise<number>((resolve) => setTimeout(() => resolve(0), 15_000))]);
  client.destroy();
  return status;
}

/**
 * Uploads that must leave nothing in IMPORT_UPLOAD_DIR: one aborted mid-body, one declaring a
 * size past IMPORT_MAX_BYTES, one streaming past it without end, one cut inside its file, one
 * with refused fields. Returns the files left once the api had time to remove partial ones.
 */
export async function uploads(target: ProbeTarget, maxBytes: number): Promise<{ aborted: number; filesLeft: number }> {
  const { tally } = target;
  const path = `/api/campaigns/${target.activeCampaignId}/imports`;
  const rows = 'email,first_name\r\nsean@example.com,Seán\r\n';
  const abortedStatus = await rawUpload(target, { 'transfer-encoding': 'chunked' }, [multipartHead('Seán’s leads.csv'), rows.repeat(20)], async () => (await uploadFiles(target.uploadDir)).length > 0);
  // Gone away on purpose: counted as sent, with no answer to count.
  tally.requests += 1;
  tally.byClass.set('uploads', (tally.byClass.get('uploads') ?? 0) + 1);
  const declared = await rawUpload(target, { 'content-length': String(maxBytes * 40) }, [multipartHead('huge.csv'), rows]);
  tally.record('uploads', 'POST', `${path} (declares ${maxBytes * 40} bytes)`, declared, exactly(413));
  const streamed = await rawUpload(target, { 'transfer-encoding': 'chunked' }, [multipartHead('big.csv'), `email\r\n${'rin@example.jp\r\n'.repeat(Math.ceil((maxBytes * 2) / 16))}`]);
  tally.record('uploads', 'POST', `${path} (streams past the limit)`, streamed, exactly(413));
  await tally.send(
    'uploads',
    'POST',
    path,
    { headers: { authorization: target.bearer.operator, 'content-type': `multipart/form-data; boundary=${boundary}` }, body: `${multipartHead('cut.csv')}email\r\nzoe@example.com\r\n` },
    exactly(400),
  );
  const form = new FormData();
  form.set('consent', 'MAYBE');
  form.set('file', new Blob(['email\r\nali@example.com\r\n']), 'ok.csv');
  await tally.send('uploads', 'POST', path, { headers: { authorization: target.bearer.operator }, body: form }, exactly(400));
  await pollUntil(async () => (await uploadFiles(target.uploadDir)).length === 0, 10_000);
  return { aborted: abortedStatus === 0 ? 1 : 0, filesLeft: (await uploadFiles(target.uploadDir)).length };
}

/**
 * 40 templates of 900 KB each (refused: over 64 KB), the load that once grew the api's parse
 * cache by 180 MB. `round` makes every text distinct from the other rounds'.
 */
export async function largeTemplates(target: ProbeTarget, round: number): Promise<void> {
  const headers = json(target.bearer.operator);
  for (let index = 0; index < 40; index += 1) {
    const body = `${round}-${index} ${'Lorem ipsum <%= it.lead.firstName %> '.repeat(Math.ceil((900 * 1024) / 37)).slice(0, 900 * 1024)}`;
    await target.tally.send('900 KB templates', 'POST', '/api/templates', { headers, body: JSON.stringify({ name: `probe-large-${round}-${index}`, channel: 'email', subject: 'Hi', body }) }, exactly(400));
  }
}

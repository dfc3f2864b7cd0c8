import type { AppContext } from '../../src/runtime/context.js';
import { apiRoutes } from '../../src/http/api-routes.js';
import { addOperator } from '../../src/operators/operator-service.js';
import { createApiToken } from '../../src/operators/api-token-service.js';
import type { Role } from '../../src/operators/roles.js';
import { startApp, type RunningApp } from '../http/http-harness.js';

/** A password long enough for every operator the security tests create. */
export const operatorPassword = 'correct horse battery staple';

/** The whole admin API of `ctx` on a free port, with the context's clock. */
export function startApiApp(ctx: AppContext): Promise<RunningApp> {
  return startApp({ config: ctx.config, db: ctx.db, clock: ctx.clock, log: ctx.log, apiRoutes: (router) => apiRoutes(router, ctx) });
}

/** An operator with `role` (email `<role>@example.com`) and a bearer header of a token of theirs. */
export async function bearerFor(ctx: AppContext, role: Role): Promise<{ authorization: string; operatorId: number; email: string }> {
  const email = `${role}@example.com`;
  const operator = await addOperator(ctx.db, email, operatorPassword, { role });
  const { token } = await createApiToken(ctx.db, `${role} laptop`, email, ctx.clock);
  return { authorization: `Bearer ${token}`, operatorId: operator.id, email };
}

/** A JSON request to the app; resolves with the status and the parsed body. */
export async function callJson(
  app: RunningApp,
  method: string,
  path: string,
  authorization: string,
  body?: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(app.url(path), {
    method,
    headers: { authorization, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, json: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

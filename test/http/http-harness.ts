import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import type { Express } from 'express';
import { createApp, type HttpDeps } from '../../src/http/app.js';
import { createLogger } from '../../src/log/logger.js';
import { systemClock } from '../../src/core/clock.js';
import { testConfig, testDb } from '../setup/hooks.js';

/** An app listening on a free port, and how to stop it. */
export interface RunningApp {
  url: (path: string) => string;
  close(): Promise<void>;
}

/**
 * Starts {@link createApp} with test defaults for every dependency not given, on `port` (a free
 * one by default: pass one when the config's PUBLIC_URL must name the app's own origin).
 */
export function startApp(deps: Partial<HttpDeps> = {}, port = 0): Promise<RunningApp> {
  const config = deps.config ?? testConfig();
  const app = createApp({
    config,
    log: deps.log ?? createLogger(config),
    db: deps.db ?? testDb(),
    clock: deps.clock ?? systemClock,
    boardQueues: deps.boardQueues ?? [],
    readiness: deps.readiness ?? (() => Promise.resolve({ ok: true, checks: [] })),
    adminPages: deps.adminPages,
    apiRoutes: deps.apiRoutes,
    webhookRoutes: deps.webhookRoutes,
    publicRoutes: deps.publicRoutes,
  });
  return serveApp(app, port);
}

/** Listens with an Express app already built (the api process's own, say) on `port` (a free one by default). */
export async function serveApp(app: Express, port = 0): Promise<RunningApp> {
  const server: Server = await new Promise((resolve, reject) => {
    const listening = app.listen(port, '127.0.0.1', (error?: Error) => (error === undefined ? resolve(listening) : reject(error)));
  });
  const { port: listeningOn } = server.address() as AddressInfo;
  return {
    url: (path) => `http://127.0.0.1:${listeningOn}${path}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error === undefined ? resolve() : reject(error)));
        // fetch keeps connections alive; without this, close() waits for them to time out.
        server.closeAllConnections();
      }),
  };
}

/** One Set-Cookie header of a response, by cookie name. */
export function setCookie(response: Response, name: string): string | undefined {
  return response.headers.getSetCookie().find((header) => header.startsWith(`${name}=`));
}

/** The value of a cookie set by a response. */
export function cookieValue(response: Response, name: string): string | undefined {
  const header = setCookie(response, name);
  return header === undefined ? undefined : decodeURIComponent(header.slice(name.length + 1).split(';')[0] ?? '');
}

/** What a signed-in JSON client holds: the Cookie header to send and the CSRF token. */
export interface SignedIn {
  cookie: string;
  csrfToken: string;
  sessionId: string;
  response: Response;
}

/** Signs in through `POST /admin/login` as a JSON client. */
export async function signIn(app: RunningApp, email: string, password: string): Promise<SignedIn> {
  const response = await fetch(app.url('/admin/login'), {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  if (response.status !== 200) throw new Error(`sign-in failed with ${response.status}`);
  const sessionId = cookieValue(response, 'drumbeat_session');
  const csrfToken = cookieValue(response, 'XSRF-TOKEN');
  if (sessionId === undefined || csrfToken === undefined) throw new Error('sign-in set no cookies');
  return {
    cookie: `drumbeat_session=${sessionId}; XSRF-TOKEN=${encodeURIComponent(csrfToken)}`,
    csrfToken,
    sessionId,
    response,
  };
}

import type { Express } from 'express';
import type { Queue } from 'bullmq';
import type { AppQueue } from '../jobs/queue-store.js';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { errorResponse } from '@bull-board/api/dist/errors.js';
import { ExpressAdapter } from '@bull-board/express';
import type { Logger } from '../log/logger.js';

type BoardServerAdapter = Parameters<typeof createBullBoard>[0]['serverAdapter'];

/** What {@link bullBoardApp} needs. */
export interface BullBoardOptions {
  queues: readonly AppQueue[];
  /** The path the board is mounted at; its pages and API calls are relative to it. */
  basePath: string;
  log: Logger;
}

/**
 * Bull Board (v9) for the given BullMQ queues, as an Express sub-app to mount at `basePath`
 * behind the admin session and CSRF checks and the role gate of `bull-board-access.ts`. The
 * board itself has no notion of users: it can add, edit, retry, clean, pause and obliterate
 * for anyone who reaches it, so it must never be mounted without those three in front.
 */
export function bullBoardApp({ queues, basePath, log }: BullBoardOptions): Express {
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(basePath);
  createBullBoard({
    // The adapter is typed for Redis queues but reads a queue through its backend: on BullMQ's
    // Postgres backend it shows the same queues and jobs, and Postgres's statistics for Redis's.
    queues: queues.map((queue) => new BullMQAdapter(queue as Queue)),
    // @bull-board/express 9.10.1 pins its own copy of @bull-board/api 9.10.1 while the board
    // here is 9.10.2, so TypeScript sees two declarations of the same adapter interface (its
    // private fields make them nominal). The contract is identical in both (compared by hand);
    // the cast goes once the two packages are released at the same version again.
    serverAdapter: serverAdapter as unknown as BoardServerAdapter,
    options: { uiConfig: { boardTitle: 'drumbeat queues' } },
  });
  // Replaces the board's own handler, which returns the error message (and the stack when
  // NODE_ENV=development) to the browser; Redis errors can carry connection details.
  serverAdapter.setErrorHandler((error) => {
    log.error({ err: error }, 'bull board request failed');
    return errorResponse(500, 'ERRORS.INTERNAL_SERVER_ERROR');
  });
  const app = serverAdapter.getRouter() as Express;
  // The board is its own Express app, which would otherwise add X-Powered-By back.
  app.disable('x-powered-by');
  return app;
}

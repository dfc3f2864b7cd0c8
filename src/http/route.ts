import type { NextFunction, Request, Response } from 'express';

/** An async route handler; whatever it throws is answered by the app's one error handler. */
export type RouteHandler = (req: Request, res: Response) => Promise<void>;

/**
 * Runs an async handler and hands anything it throws to `next`, where the app's one error
 * handler (src/http/errors.ts) maps it to a status and the one JSON error shape. Routes map no
 * errors themselves.
 */
export function route(handler: RouteHandler) {
  return (req: Request, res: Response, next: NextFunction): void => {
    handler(req, res).catch(next);
  };
}

import type { Router } from 'express';
import type { AppContext } from '../../src/runtime/context.js';
import { apiRoutes } from '../../src/http/api-routes.js';

const methods = ['get', 'post', 'put', 'patch', 'delete'] as const;

export type RouteMethod = (typeof methods)[number];

/** Every (method, path) that `apiRoutes` mounts, recorded through a stand-in router. */
export function mountedApiRoutes(ctx: AppContext): Array<{ method: RouteMethod; path: string }> {
  const routes: Array<{ method: RouteMethod; path: string }> = [];
  const recorder = new Proxy({} as Router, {
    get: (_target, property) => {
      if (methods.includes(property as RouteMethod)) {
        return (path: string) => {
          routes.push({ method: property as RouteMethod, path });
          return recorder;
        };
      }
      return () => recorder;
    },
  });
  apiRoutes(recorder, ctx);
  return routes;
}

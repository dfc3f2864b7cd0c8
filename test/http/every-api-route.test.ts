import { expect } from 'chai';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import type { Router } from 'express';
import { apiRoutes } from '../../src/http/api-routes.js';
import { buildHttpApp } from '../../src/runtime/processes.js';
import type { AppContext } from '../../src/runtime/context.js';
import { engineContext } from '../support/engine.js';

const methods = ['get', 'post', 'put', 'patch', 'delete'] as const;

/** Every (method, path) that `apiRoutes` mounts, recorded through a stand-in router. */
function mountedApiRoutes(ctx: AppContext): Array<{ method: (typeof methods)[number]; path: string }> {
  const routes: Array<{ method: (typeof methods)[number]; path: string }> = [];
  const recorder = new Proxy({} as Router, {
    get: (_target, property) => {
      if (methods.includes(property as (typeof methods)[number])) {
        return (path: string) => {
          routes.push({ method: property as (typeof methods)[number], path });
          return recorder;
        };
      }
      return () => recorder;
    },
  });
  apiRoutes(recorder, ctx);
  return routes;
}

describe('admin API authentication', function () {
  this.timeout(20_000);
  let ctx: AppContext;
  let server: Server;
  let base: string;

  before(async () => {
    ctx = engineContext();
    const app = buildHttpApp(ctx);
    server = await new Promise((resolve) => {
      const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
    });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    await new Promise((resolve) => {
      server.close(resolve);
      server.closeAllConnections();
    });
    await ctx.close();
  });

  it('refuses every mounted /api route without a bearer token, and with a wrong one', async () => {
    const routes = mountedApiRoutes(ctx);
    expect(routes.length, 'the recorder saw the API').to.be.greaterThan(10);
    for (const route of routes) {
      const path = `/api${route.path.replace(/:action/g, 'start').replace(/:[A-Za-z]+/g, '1')}`;
      for (const authorization of [undefined, 'Bearer dbt_not-a-real-token']) {
        const response = await fetch(`${base}${path}`, {
          method: route.method.toUpperCase(),
          headers: { 'content-type': 'application/json', ...(authorization === undefined ? {} : { authorization }) },
          ...(route.method === 'get' || route.method === 'delete' ? {} : { body: '{}' }),
        });
        expect(response.status, `${route.method.toUpperCase()} ${path} (${authorization ?? 'no token'})`).to.equal(401);
      }
    }
  });
});

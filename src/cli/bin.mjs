#!/usr/bin/env node
// The `drumbeat` bin runs the TypeScript sources through tsx, so `npx drumbeat` works right
// after `npm ci` with no build step; PM2 runs the compiled dist/ instead.
import { register } from 'tsx/esm/api';

register();
await import('./run.ts');

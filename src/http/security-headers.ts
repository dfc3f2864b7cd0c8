import helmet from 'helmet';
import type { RequestHandler } from 'express';
import type { Config } from '../config/config.js';

/**
 * Helmet with a Content-Security-Policy written for the one HTML application served here,
 * Bull Board's UI (9.x), plus the login page. What that UI needs, read from its built bundle
 * and `index.ejs`:
 * - scripts: only same-origin bundles, chunks it loads by `<script src>`, and a same-origin Web
 *   Worker for syntax highlighting; its config is an inline `type="application/json"` block,
 *   which is data, not script, so `script-src 'self'` is enough;
 * - styles: its own stylesheet, the Google Fonts stylesheet, an inline `<style>` and `style=`
 *   attributes in the loading screen and `<style>` elements created at run time, hence
 *   `'unsafe-inline'` for styles only (inline styles cannot run code);
 * - fonts from fonts.gstatic.com; XHR/fetch only to its own `api/` and locale files.
 * `upgrade-insecure-requests` and HSTS are sent only when `PUBLIC_URL` is https: over plain
 * http (local development) they would make the browser ask for https assets that do not exist.
 */
export function securityHeaders(config: Pick<Config, 'PUBLIC_URL'>): RequestHandler {
  const https = new URL(config.PUBLIC_URL).protocol === 'https:';
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        baseUri: ["'self'"],
        scriptSrc: ["'self'"],
        scriptSrcAttr: ["'none'"],
        styleSrc: ["'self'", "'unsafe-inline'", 'https://fonts.googleapis.com'],
        fontSrc: ["'self'", 'https://fonts.gstatic.com'],
        imgSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        workerSrc: ["'self'"],
        objectSrc: ["'none'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        upgradeInsecureRequests: https ? [] : null,
      },
    },
    // Not helmet's no-referrer: under it a browser sends `Origin: null` on our own form posts,
    // and the sign-in's Origin check (login CSRF) would refuse every real browser. same-origin
    // still sends nothing to other sites.
    referrerPolicy: { policy: 'same-origin' },
    strictTransportSecurity: https,
    xFrameOptions: { action: 'deny' },
  });
}

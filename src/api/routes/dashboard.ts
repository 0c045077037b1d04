import express, { Router, type RequestHandler } from 'express';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { HttpError } from '../errors.js';

/** Where the dashboard is served. */
export const DASHBOARD_PATH = '/dashboard';

/**
 * Strict: the page runs only its own script and style files (no inline script or style, no eval),
 * talks only to this API, and cannot be framed. Images only from this API, or from `blob:` URLs
 * the page makes of bytes it fetched from it (avatars come through GET …/avatar, which needs the
 * admin token in a header an <img> cannot send): an end user's URL must never be requested by an
 * admin's browser (it could reach the intranet, or tell its owner when a chat is read). Audio is
 * the API's own speech (PUBLIC_BASE_URL) or a link the admin chooses to open.
 */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' blob:",
  "media-src 'self' https: http:",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * The built dashboard (scripts/build-dashboard.ts writes dist/dashboard): next to this file's
 * folder when running from dist/, at the repository's dist/ when running from src/.
 */
export function defaultDashboardDir(): string {
  const candidates = [new URL('../../dashboard', import.meta.url), new URL('../../../dist/dashboard', import.meta.url)];
  const found = candidates.map((url) => fileURLToPath(url)).find((dir) => existsSync(`${dir}/index.html`));
  return found ?? fileURLToPath(candidates[1]!);
}

const securityHeaders: RequestHandler = (_req, res, next) => {
  res.setHeader('content-security-policy', DASHBOARD_CSP);
  res.setHeader('x-content-type-options', 'nosniff');
  res.setHeader('x-frame-options', 'DENY');
  res.setHeader('referrer-policy', 'no-referrer');
  res.setHeader('cross-origin-opener-policy', 'same-origin');
  next();
};

/**
 * Serves the built dashboard under /dashboard. It needs no authentication to load: it holds no
 * data, and every call it makes carries the admin token the operator types in.
 */
export function dashboardRouter(options: { dir?: string } = {}): Router {
  const dir = options.dir ?? defaultDashboardDir();
  const router = Router();
  router.use(
    DASHBOARD_PATH,
    securityHeaders,
    express.static(dir, {
      index: 'index.html',
      fallthrough: true,
      setHeaders: (res, path) => {
        // The page names its script and style without a version: always revalidate.
        res.setHeader('cache-control', path.endsWith('.html') ? 'no-store' : 'no-cache');
      },
    }),
    (_req, _res, next) => {
      next(
        existsSync(`${dir}/index.html`)
          ? new HttpError(404, 'not_found', 'No such dashboard file.')
          : new HttpError(
              404,
              'not_found',
              'The dashboard is not built: run `npm run build:dashboard` (or ./scripts/stack.sh).',
            ),
      );
    },
  );
  return router;
}

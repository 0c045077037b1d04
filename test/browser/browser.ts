import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

/**
 * Chromium from Debian's packages (scripts/provision.sh installs it), driven by playwright-core:
 * Playwright's own browser download cannot work here. CHROMIUM_PATH points elsewhere.
 */
export function chromiumPath(): string {
  if (process.env.CHROMIUM_PATH) return process.env.CHROMIUM_PATH;
  try {
    return execFileSync('sh', ['-c', 'command -v chromium || command -v chromium-browser'], {
      encoding: 'utf8',
    }).trim();
  } catch {
    throw new Error(
      'Chromium is not installed: run ./scripts/provision.sh (it installs Debian\'s "chromium"), or set CHROMIUM_PATH',
    );
  }
}

export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    // As root (CI here) Chromium refuses its sandbox; /dev/shm is small in containers.
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
  });
}

export const widths = { desktop: { width: 1280, height: 900 }, phone: { width: 390, height: 844 } } as const;

/** Where screenshots go: a git-ignored folder, or docs/img for `npm run screenshots`. */
export function screenshotsDir(): string {
  const dir = resolve(process.env.DASHBOARD_SCREENSHOTS_DIR ?? '.test-artifacts/screenshots');
  mkdirSync(dir, { recursive: true });
  return dir;
}

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  targets: string[];
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** axe-core's violations of serious or critical impact on the page as it is now. */
export async function seriousViolations(page: Page): Promise<AxeViolation[]> {
  // Evaluated through the DevTools protocol: a <script> tag would be refused by the page's CSP (as it should).
  await page.evaluate(axeSource);
  const violations = await page.evaluate<AxeViolation[]>(
    `axe.run(document, { resultTypes: ['violations'] }).then((result) => result.violations.map((v) => ({
      id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => String(n.target)) })))`,
  );
  return violations.filter((violation) => violation.impact === 'serious' || violation.impact === 'critical');
}

/** Screenshots the page at both widths, checking accessibility at each; returns the violations found. */
export async function captureAndCheck(page: Page, name: string): Promise<AxeViolation[]> {
  const found: AxeViolation[] = [];
  const dir = screenshotsDir();
  for (const [label, size] of Object.entries(widths)) {
    await page.setViewportSize(size);
    found.push(...(await seriousViolations(page)).map((v) => ({ ...v, id: `${name}@${label}: ${v.id}` })));
    await page.screenshot({ path: join(dir, `${name}-${size.width}.png`), fullPage: true });
  }
  await page.setViewportSize(widths.desktop);
  return found;
}

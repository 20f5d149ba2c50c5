import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { ROOT } from '../helpers/cli.js';

export const CHROMIUM = '/usr/bin/chromium';
export const available = existsSync(CHROMIUM);
if (!available) {
  if (process.env.CI === 'true')
    throw new Error(
      `${CHROMIUM} is missing and CI=true: install Debian's chromium (apt-get install -y chromium)`,
    );
  console.warn(
    `skipping the dashboard browser tests: ${CHROMIUM} not found (apt-get install -y chromium)`,
  );
}

export const SHOTS = join(ROOT, 'docs/dashboard');
export const WIDTHS = {
  desktop: { width: 1280, height: 860 },
  phone: { width: 390, height: 844 },
} as const;

export function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-background-networking'],
  });
}

/** A fresh context whose pages record any CSP violation, so a test can assert the pages need no inline code. */
export async function newContext(
  browser: Browser,
  width: keyof typeof WIDTHS = 'desktop',
  locale = 'en-US',
): Promise<BrowserContext & { cspErrors: string[] }> {
  const ctx = (await browser.newContext({
    viewport: WIDTHS[width],
    locale,
    timezoneId: 'UTC',
  })) as BrowserContext & {
    cspErrors: string[];
  };
  ctx.cspErrors = [];
  ctx.on('page', (p) =>
    p.on('console', (m) => {
      if (m.type() === 'error' && /Content Security Policy/i.test(m.text()))
        ctx.cspErrors.push(m.text());
    }),
  );
  return ctx;
}

export async function signIn(page: Page, url: string, key: string): Promise<void> {
  await page.goto(`${url}/admin/login`);
  await page.getByLabel('Admin API key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${url}/admin/`);
}

const axeSource = readFileSync(
  createRequire(import.meta.url).resolve('axe-core/axe.min.js'),
  'utf8',
);

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: unknown[] }[];
}

/** axe-core in the page (evaluated through the debugger, so the page's CSP stays strict); serious and critical only. */
export async function axeSerious(page: Page): Promise<AxeViolation[]> {
  await page.evaluate(axeSource);
  const violations = (await page.evaluate(async () => {
    const axe = (
      window as unknown as {
        axe: { run(ctx: Document, o: object): Promise<{ violations: AxeViolation[] }> };
      }
    ).axe;
    return (await axe.run(document, { resultTypes: ['violations'] })).violations;
  })) as AxeViolation[];
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

// Debian's chromium driven by playwright-core, for the web page's tests: headless, with the flags
// that keep it off the network (no background requests, updates or sync), in a fresh profile.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** A page in a fresh headless chromium at this window size; `problems` gathers console errors and failed requests. */
export async function withBrowser<T>(size: { width: number; height: number }, fn: (page: Page, problems: string[]) => Promise<T>): Promise<T> {
  const profile = await mkdtemp(join(tmpdir(), 'picowire-chromium-'));
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: FLAGS, viewport: size });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    const problems: string[] = [];
    // chromium logs every 4xx/5xx answer as an error; the tests provoke 401, 422 and 500 on purpose, so those are read from the page itself and only a missing file counts here
    page.on('console', (m) => m.type() === 'error' && !m.text().startsWith('Failed to load resource') && problems.push(`console: ${m.text()}`));
    page.on('response', (r) => r.status() === 404 && problems.push(`not found: ${r.url()}`));
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('requestfailed', (r) => !r.url().endsWith('/api/v1/events') && problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
    return await fn(page, problems);
  } finally {
    await context.close();
    await rm(profile, { recursive: true, force: true });
  }
}

/** Logs in with a token through the page's form and waits for the live stream. */
export async function logIn(page: Page, url: string, token: string): Promise<void> {
  await page.goto(url);
  await page.fill('#token', token);
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('#connection.live', { timeout: 30_000 });
}

/** The throughput the page shows for a pipe instance (its card's data-rate-bps), once it has one. */
export async function pageRate(page: Page, key: string): Promise<number> {
  const card = page.locator(`.card[data-key="${key}"]`);
  await card.waitFor({ timeout: 30_000 });
  const handle = await card.elementHandle();
  await page.waitForFunction((el) => (el as HTMLElement).dataset.rateBps !== undefined && (el as HTMLElement).dataset.rateBps !== '', handle, { timeout: 30_000 });
  return Number(await card.getAttribute('data-rate-bps'));
}

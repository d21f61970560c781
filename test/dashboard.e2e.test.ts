/// <reference lib="dom" />
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stopBroker } from '@nanobill/kafka-broker';
import { freePortPair, spawnTs, tempDir, waitFor } from '@nanobill/testkit';
import { findChromium, noChromiumMessage } from './fixtures/chromium.js';

// The dashboard in a real browser (headless Chromium from fixtures/chromium.ts, driven by
// playwright-core) against `nanobill demo` data: sign in, non-empty graphs, change the spending limit, see the status
// change. Screenshots go to test-results/dashboard/.
const CHROMIUM = await findChromium();
const NANOBILL = fileURLToPath(new URL('../cli/bin/nanobill.js', import.meta.url));
const SHOTS = fileURLToPath(new URL('../test-results/dashboard/', import.meta.url));
const KAFKA_PORT = await freePortPair();
const PORT = await freePortPair();
const OPS_PORT = await freePortPair();
const dataDir = tempDir('nanobill-dashboard-');
const env: NodeJS.ProcessEnv = {
  ...process.env,
  NANOBILL_DATA_DIR: dataDir,
  KAFKA_PORT: String(KAFKA_PORT),
  PORT: String(PORT),
  NANOBILL_OPS_PORT: String(OPS_PORT),
  // A pricing round every 5 s rather than every minute: graphs need priced requests.
  NANOBILL_PRICING_SCHEDULE: '*/5 * * * * *',
};
delete env.KAFKA_BROKERS;
const base = `http://127.0.0.1:${PORT}`;
const children = new Set<ChildProcess>();

function nanobill(args: string[]) {
  const run = spawnTs(NANOBILL, env, args);
  children.add(run.child);
  return run;
}

async function query(sql: string): Promise<string> {
  const { code, stdout, stderr } = await nanobill(['query', sql]).exited;
  if (code !== 0) throw new Error(stderr);
  return stdout.trim();
}

if (CHROMIUM === undefined) {
  console.warn(`dashboard e2e skipped: ${noChromiumMessage()}`);
}

describe.skipIf(CHROMIUM === undefined)('the dashboard in headless Chromium, on demo data', () => {
  let browser: Browser;
  let page: Page;
  let org: string;
  let token: string;
  const points = async (id: string) =>
    page.evaluate((canvasId) => {
      const chart = (
        window as unknown as {
          Chart: {
            getChart(c: unknown): { data: { datasets: { data: unknown[] }[] } } | undefined;
          };
        }
      ).Chart.getChart(document.getElementById(canvasId));
      return (
        chart?.data.datasets.reduce((n, d) => n + d.data.filter((v) => Number(v) > 0).length, 0) ??
        0
      );
    }, id);

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    nanobill(['demo', '--rate', '200', '--for', '170']);
    await waitFor(
      'the demo pipeline',
      async () => (existsSync(join(dataDir, 'nanobill.sock')) ? true : undefined),
      120_000,
    );
    // The org with the most priced requests billed to it (attribution: org).
    org = await waitFor(
      'priced org requests',
      async () => {
        const top = await query(
          "SELECT billed_account FROM billing.ledger WHERE attribution = 'org' GROUP BY billed_account HAVING count() >= 5 ORDER BY count() DESC LIMIT 1",
        ).catch(() => '');
        return top === '' ? undefined : top;
      },
      120_000,
      2_000,
    );
    const created = await nanobill(['tokens', 'create', '--org', org]).exited;
    expect(created.code, created.stderr).toBe(0);
    token = (JSON.parse(created.stdout) as { token: string }).token;
    const { executablePath, args } = CHROMIUM!;
    browser = await chromium.launch({ executablePath, args });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    await stopBroker({ dataDir, port: KAFKA_PORT });
  });

  it('signs in with an org token and shows non-empty usage graphs', async () => {
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(base);
    await page.fill('#org', org);
    await page.fill('#token', token);
    await page.click('#signin-form button[type=submit]');
    await page.waitForSelector('#spend-panel', { state: 'visible' });
    await waitFor(
      'cost bars',
      async () => ((await points('usage-cost-chart')) > 0 ? true : undefined),
      30_000,
      500,
    );
    expect(await points('usage-requests-chart')).toBeGreaterThan(0);
    await page.selectOption('#group-by', 'provider');
    await waitFor(
      'provider bars',
      async () => ((await points('usage-cost-chart')) > 0 ? true : undefined),
      30_000,
      500,
    );
    await page.screenshot({ path: join(SHOTS, '1-usage.png'), fullPage: true });
    // Back to members: asked again with the ETag of the answer already shown (200 when rows
    // landed meanwhile, as the demo keeps pricing; 304 and the kept answer otherwise).
    const revalidation = page.waitForResponse((response) =>
      /\/usage\?.*groupBy=member/.test(response.url()),
    );
    await page.selectOption('#group-by', 'member');
    const response = await revalidation;
    expect(response.request().headers()['if-none-match']).toMatch(/^"[\w-]+"$/);
    expect([200, 304]).toContain(response.status());
    await waitFor(
      'member bars again',
      async () => ((await points('usage-cost-chart')) > 0 ? true : undefined),
      30_000,
      500,
    );
    expect(errors).toEqual([]);
  }, 120_000);

  it('changes the spending limit and shows the status change', async () => {
    await page.fill('#limit-usd', '0.000001'); // $0.000001: already spent
    await page.click('#save-settings');
    await page.waitForSelector('#settings-message', { state: 'visible' });
    await page.waitForFunction(
      () => /blocked/i.test(document.getElementById('status-banner')?.textContent ?? ''),
      undefined,
      { timeout: 60_000 },
    );
    await page.screenshot({ path: join(SHOTS, '2-blocked.png'), fullPage: true });
    const status = (await (
      await fetch(`${base}/v1/accounts/${org}/status`, {
        headers: { authorization: `Bearer ${token}` },
      })
    ).json()) as { status: string; limitNanoUsd: string };
    expect(status).toMatchObject({ status: 'blocked', limitNanoUsd: '1000' });
  }, 120_000);

  it('shows the signing secret once with the first webhook URL, and a new one on rotation', async () => {
    // The demo's orgs have no webhook yet: saving one makes the org's signing secret.
    await page.fill('#limit-usd', '');
    await page.fill('#webhook-url', 'https://hooks.example.com/nanobill');
    await page.click('#save-settings');
    const secret = page.getByTestId('webhook-secret');
    await secret.waitFor({ state: 'visible' });
    const first = await secret.textContent();
    expect(first).toMatch(/^nbwhsec_[A-Za-z0-9_-]{43}$/);
    page.once('dialog', (dialog) => void dialog.accept());
    await page.click('#rotate-secret');
    await page.waitForFunction(
      (shown) => document.getElementById('webhook-secret-value')?.textContent !== shown,
      first,
    );
    expect(await secret.textContent()).toMatch(/^nbwhsec_/);
    expect(await page.textContent('#webhook-secret-overlap')).toMatch(/previous secret/);
    await page.screenshot({ path: join(SHOTS, '3-secret.png'), fullPage: true });
    // Gone after a reload: it was shown once.
    await page.reload();
    await page.waitForSelector('#spend-panel', { state: 'visible' });
    expect(await secret.isVisible()).toBe(false);
  }, 60_000);

  it('fits a narrow screen without horizontal scrolling', async () => {
    await page.setViewportSize({ width: 375, height: 800 });
    await page.reload();
    await page.waitForSelector('#spend-panel', { state: 'visible' });
    await waitFor(
      'cost bars on the narrow screen',
      async () => ((await points('usage-cost-chart')) > 0 ? true : undefined),
      30_000,
      500,
    );
    const overflow = await page.evaluate(
      () => document.documentElement.scrollWidth - window.innerWidth,
    );
    expect(overflow).toBeLessThanOrEqual(0);
    await page.screenshot({ path: join(SHOTS, '4-narrow.png'), fullPage: true });
  }, 60_000);
});

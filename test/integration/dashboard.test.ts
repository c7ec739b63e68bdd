// The dashboard (/ui, issue 14) in a real headless Chromium (Debian's `chromium`, driven by
// playwright-core; `.ci/run` installs the package when it is missing): the page loads without
// console errors, shows a card per endpoint with the resident models of a simulated GPU, updates
// after a model is loaded, renders a hostile model name as text, and fits a phone's width.
// Screenshots go to test/.output/ (gitignored) for people to look at.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { chromium, type Browser, type Page } from 'playwright-core';
import { request } from 'undici';
import { REPO_ROOT, startBackends, startCorral } from '../helpers/corral-process.js';

const GiB = 1024 ** 3;
const CHROMIUM = process.env.CORRAL_TEST_CHROMIUM ?? '/usr/bin/chromium';
const OUTPUT = join(REPO_ROOT, 'test', '.output');
/** A model name no page may turn into markup: it would add an element, and run script. */
const HOSTILE = '<img src=x onerror="window.pwned=1">:7b';

async function chat(url: string, model: string): Promise<void> {
  const res = await request(`${url}/api/chat`, {
    method: 'POST', reset: true,
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], stream: false, options: { num_predict: 2 } }),
  });
  await res.body.dump();
  if (res.statusCode !== 200) throw new Error(`chat with ${model}: HTTP ${res.statusCode}`);
}

/** The resident model names a card shows, in order. */
function residentsOf(page: Page, endpoint: string): Promise<string[]> {
  return page.locator(`[data-endpoint="${endpoint}"] .resident .name`).allTextContents();
}

t.test('the dashboard shows each endpoint\'s GPU and follows a load', async (t) => {
  mkdirSync(OUTPUT, { recursive: true });
  const [gpuA, gpuB] = await startBackends(t, [
    { name: 'gpu-a', preload: false, vramBytes: 24 * GiB, loadMsPerGiB: 20, tokens: 2,
      models: [{ name: 'qwen2.5:14b', sizeBytes: 9 * GiB }, { name: 'llama3.2:3b', sizeBytes: 2.5 * GiB }, { name: HOSTILE, sizeBytes: 1 * GiB }] },
    { name: 'gpu-b', preload: false, vramBytes: 16 * GiB, loadMsPerGiB: 20, tokens: 2,
      models: [{ name: 'mistral:7b', sizeBytes: 4.5 * GiB }, { name: 'llama3.2:3b', sizeBytes: 2.5 * GiB }] },
  ]);
  const corral = await startCorral(t, [gpuA!, gpuB!], {
    config: { models: { estimate_factor: 1 } },
    endpoints: [
      { name: 'gpu-a', type: 'ollama', vram: '24GiB', vram_reserve: '10%' },
      { name: 'gpu-b', type: 'ollama', vram: '16GiB', vram_reserve: '1GiB' },
    ],
  });
  await chat(corral.url, 'qwen2.5:14b');
  await chat(corral.url, 'mistral:7b');

  const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
  t.teardown(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()} (${m.location().url})`);
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));

  const ui = `http://127.0.0.1:${corral.managementPort}/ui`;
  const res = await page.goto(ui);
  t.equal(res?.status(), 200, '/ui (redirected to /ui/) answers');
  t.match(page.url(), /\/ui\/$/);
  await page.locator('#live:not(.stale)').waitFor();
  t.same(await page.locator('[data-endpoint]').evaluateAll((els) => els.map((e) => e.getAttribute('data-endpoint'))), ['gpu-a', 'gpu-b'], 'a card per endpoint');
  t.same(await residentsOf(page, 'gpu-a'), ['qwen2.5:14b'], 'gpu-a: its resident model');
  t.same(await residentsOf(page, 'gpu-b'), ['mistral:7b'], 'gpu-b: its resident model');
  t.equal(await page.locator('[data-endpoint="gpu-a"] .vram .seg.model').count(), 1, 'the vRAM bar has a segment per resident model');
  const card = await page.locator('[data-endpoint="gpu-a"]').innerText();
  t.match(card, /9 GiB used of 24 GiB/, 'used of total');
  t.match(card, /healthy/);
  t.match(card, /circuit closed/);
  t.match(card, /0 \/ 32/, 'in flight of max_concurrency (32 by default)');

  // A load: the page follows without a reload.
  await chat(corral.url, 'llama3.2:3b');
  const loadedOn = (await corral.status()).endpoints.find((e: any) => e.residents.some((r: any) => r.model === 'llama3.2:3b')).name;
  await page.locator(`[data-endpoint="${loadedOn}"] .resident .name`, { hasText: /^llama3\.2:3b$/ }).waitFor({ timeout: 10_000 });
  t.ok((await residentsOf(page, loadedOn)).includes('llama3.2:3b'), `the card of ${loadedOn} shows the model just loaded`);
  t.equal(await page.locator(`[data-endpoint="${loadedOn}"] .vram .seg.model`).count(), 2, 'and its bar a second segment');

  // The hostile name is text: shown as written, no element made of it, no script run.
  const row = page.locator('#models .row .name', { hasText: 'onerror' });
  t.equal(await row.textContent(), HOSTILE, 'the model name is shown as written');
  t.equal(await page.locator('main img').count(), 0, 'no element made from it');
  t.equal(await page.evaluate('typeof window.pwned'), 'undefined', 'no script ran');

  // Sparklines come from the primary's ring (a point every 2 s): wait for a line of two.
  await page.waitForFunction('(document.querySelector("#gateway .spark path")?.getAttribute("d") ?? "").includes("L")', undefined, { timeout: 10_000 });
  t.equal(await page.locator('#gateway .spark').count(), 4, 'requests/s, 5xx/s, TTFT p50 and p95');
  await page.screenshot({ path: join(OUTPUT, 'dashboard-desktop.png'), fullPage: true });

  // A phone: 375 px wide, nothing wider than the screen.
  await page.setViewportSize({ width: 375, height: 812 });
  await page.waitForTimeout(0);
  const overflow = await page.evaluate('document.documentElement.scrollWidth') as number;
  t.ok(overflow <= 375, `no horizontal scrolling at 375 px (page ${overflow} px wide)`);
  await page.screenshot({ path: join(OUTPUT, 'dashboard-phone.png'), fullPage: true });
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.screenshot({ path: join(OUTPUT, 'dashboard-phone-dark.png'), fullPage: true });

  t.same(problems, [], 'no console errors or warnings');
  const headers = (await request(`${ui}/`)).headers;
  t.match(String(headers['content-security-policy']), /script-src 'self'/, 'served with a Content-Security-Policy');
});

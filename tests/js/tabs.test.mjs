// Two real tabs of one shop in Chromium, sharing localStorage: neither loses the other's events,
// and forget() or an opt-out in one tab is not undone by the other (no `storage` event reaches the
// tab that wrote, so the engine re-reads and merges before every write).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ROOT } from '../../scripts/setup.mjs';
import { serveStatic } from '../../scripts/serve.mjs';
import { PACKAGE_FILES } from '../../scripts/start.mjs';
import { launch } from './browser.mjs';

const PAGE = `<!doctype html><meta charset="utf-8"><title>tab</title>
<script type="importmap">{ "imports": { "pricelet": "/node_modules/pricelet/js/web.js" } }</script>
<script type="module">
  import { createPricer } from 'pricelet';
  window.pricer = await createPricer({ consent: 'granted' });
  document.title = 'ready';
</script>`;

let server;
let browser;
let dir;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pricelet-tabs-'));
  writeFileSync(join(dir, 'index.html'), PAGE);
  server = await serveStatic({ mounts: { '/': dir, '/node_modules/pricelet/': { root: ROOT, only: PACKAGE_FILES } } });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function tab() {
  const page = await browser.context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${server.url}/`);
  await page.waitForFunction(() => document.title === 'ready', null, { timeout: 20000 });
  page.errors = errors;
  return page;
}

const track = (page, id) => page.evaluate((id) => window.pricer.track({ type: 'page_view', page: { kind: 'product', id } }), id);
const stored = (page) => page.evaluate(() => JSON.parse(localStorage.getItem('pricelet:behaviour')));
const ids = async (page) => (await stored(page))?.events.map((e) => e.page.id).sort() ?? null;

/** Waits (up to 5 s) until `page`'s view of storage passes `check`: another tab's writes reach it late. */
async function settles(page, check, message) {
  const deadline = Date.now() + 5000;
  while (!check(await ids(page))) {
    if (Date.now() > deadline) assert.fail(`${message}; it sees ${JSON.stringify(await ids(page))}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('two tabs on one localStorage keep each other\'s events; forget() and opt-out in one tab win', async () => {
  const [a, b] = [await tab(), await tab()];
  for (let i = 0; i < 5; i += 1) {
    assert.equal((await track(a, `a${i}`)).persisted, true);
    assert.equal((await track(b, `b${i}`)).persisted, true);
  }
  // Tabs in two processes see each other's writes late, so a tab may write from a copy that
  // misses the other's last event; the tab that holds it writes it back on the storage event.
  const all = ['a0', 'a1', 'a2', 'a3', 'a4', 'b0', 'b1', 'b2', 'b3', 'b4'];
  for (const page of [a, b]) await settles(page, (seen) => seen?.length === 10, 'both tabs see all ten events in storage');
  const state = await stored(a);
  assert.deepEqual(state.events.map((e) => e.page.id).sort(), all);
  assert.equal((await b.evaluate(() => window.pricer.exportData())).anonId, state.anonId, 'one anonymous id for both tabs');
  await a.evaluate(() => window.pricer.forget());
  await settles(b, (seen) => seen === null, 'forget() removed the stored state, as the other tab sees it');
  await track(b, 'b-after');
  await settles(a, (seen) => seen !== null, 'the other tab\'s new write reaches this one');
  const after = await stored(a);
  assert.deepEqual(after.events.map((e) => e.page.id), ['b-after'], 'the other tab did not write the forgotten events back');
  assert.notEqual(after.anonId, state.anonId, 'nor the forgotten anonymous id');
  await track(a, 'a-after');
  await settles(b, (seen) => seen?.length === 2, 'the tab that forgot joins the other\'s new state');
  await a.evaluate(() => window.pricer.setConsent('denied'));
  await settles(b, (seen) => seen === null, 'the opt-out erased the stored state, as the other tab sees it');
  await track(b, 'b-last');
  assert.deepEqual((await stored(b)).events.map((e) => e.page.id), ['b-last']);
  assert.deepEqual([...a.errors, ...b.errors], []);
});

const ITEM = { id: 'tab-item', price: '49.99', currency: 'EUR', category: 'home' };
/** ε spent today as storage holds it: every writer's count (an earlier release kept one number). */
const spentIn = (state) => Object.values(state?.reportBudget?.spent ?? { one: state?.reportBudget?.epsilon ?? 0 }).reduce((a, b) => a + b, 0);

/** Waits (up to 5 s) until `page` sees at least `epsilon` spent in storage. */
async function seesSpent(page, epsilon) {
  const deadline = Date.now() + 5000;
  while (spentIn(await stored(page)) < epsilon) {
    if (Date.now() > deadline) assert.fail(`the tab sees ε ${spentIn(await stored(page))} spent, not ${epsilon}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('tabs on one localStorage share one daily privacy budget: together they report at most dailyEpsilon / epsilon times a day', async () => {
  const tabs = [await tab(), await tab(), await tab()];
  const { epsilon, dailyEpsilon } = await tabs[0].evaluate(() => window.pricer.policy.reporting);
  const perDay = Math.floor(dailyEpsilon / epsilon);
  const report = (page) => page.evaluate((item) => window.pricer.report(window.pricer.priceFor(item), { converted: false }).report !== null, ITEM);
  let made = 0;
  // Each tab in turn, as a shopper switching tabs would; the next tab sees the last one's write.
  for (let round = 0; round < perDay; round += 1) {
    for (const page of tabs) {
      if (await report(page)) {
        made += 1;
        for (const other of tabs) await seesSpent(other, made * epsilon);
      }
    }
  }
  assert.equal(made, perDay, `three tabs made ${made} reports in one day`);
  assert.equal(spentIn(await stored(tabs[0])), dailyEpsilon, 'storage counts every report');
  // forget() in one tab erases behaviour, not what was disclosed today.
  await tabs[1].evaluate(() => window.pricer.forget());
  await seesSpent(tabs[2], dailyEpsilon);
  assert.equal(await report(tabs[2]), false);
  assert.deepEqual(tabs.flatMap((t) => t.errors), []);
});

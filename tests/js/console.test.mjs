// The merchant console (GET /console) in headless Chromium against the Worker in workerd (Miniflare,
// the bundle `wrangler deploy --dry-run` makes), fed the demo's simulated devices (scripts/console-demo.mjs):
// the page is served under its CSP; a missing or wrong token shows no data; empty states say what
// they mean; with data every section renders and its numbers equal GET /estimates and GET /policy/log;
// the kill switch (with its confirmation, by keyboard) stops the loop and resume lets it go on; at
// 375 px there is no horizontal scroll; no request leaves the Worker's origin; no console error.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { DEMO_POLICY, feed, startWorker } from '../../scripts/console-demo.mjs';
import { ROOT } from '../../scripts/setup.mjs';
import { bundleWorker } from '../../scripts/worker.mjs';
import { createPricer } from '../../js/node.js';
import { launch } from './browser.mjs';

const ADMIN = 'console-test-admin-token-0123456789';
// The demo's policy at ε = 8 (nearly noise-free reports), so that a proposal comes within a few
// rounds on every run: the test is about the page, not about the loop's statistical power.
const TEST_POLICY = { ...DEMO_POLICY, reporting: { ...DEMO_POLICY.reporting, epsilon: 8, dailyEpsilon: 80 } };
const outbound = [];
const requests = [];
const consoleErrors = [];
// Chromium logs a refused fetch ("Failed to load resource: … 401") as a console error; the steps that
// provoke one on purpose (a wrong token, /estimates before any report) list what they expect here.
const expectedErrors = [];
let worker;
let abWorker; // a second Worker, under an A/B policy without learning
let browser;
let page;

before(async () => {
  const bundle = bundleWorker(join(ROOT, 'target', 'console-test-bundle'));
  worker = await startWorker({ bundle, adminToken: ADMIN, policy: TEST_POLICY, outbound });
  browser = await launch({ viewport: { width: 1100, height: 900 } });
  page = await browser.context.newPage();
  page.on('request', (r) => requests.push(r.url()));
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(`page error: ${e.message}`));
});

after(async () => {
  await browser?.close();
  await worker?.mf.dispose();
  await abWorker?.mf.dispose();
  assert.deepEqual(outbound, [], 'the Worker made no outbound request');
});

const api = async (path, { method = 'GET', token = ADMIN } = {}) => {
  const res = await fetch(`${worker.url}${path}`, { method, headers: token ? { authorization: `Bearer ${token}` } : {} });
  assert.equal(res.status, 200, `${method} ${path}: ${res.status}`);
  return res.json();
};
const figures = () => page.$$eval('[data-figure]', (els) => els.map((e) => e.dataset.figure));
const figure = async (name) => {
  const el = page.locator(`[data-figure="${name}"]`);
  return { value: await el.getAttribute('data-value'), text: (await el.textContent()).trim() };
};
async function signIn(token) {
  await page.fill('#token', token);
  await page.press('#token', 'Enter');
}
const loaded = () => page.waitForFunction(() => /^Read at|^Stopped|^Resumed/.test(document.getElementById('status-line').textContent));

// The page's formats, written out again here: a figure must read as the endpoint's number.
const pct = (x) => `${(100 * x).toFixed(1)} %`;
const pctCI = (e) => `${pct(e.estimate)} [${(100 * e.lo).toFixed(1)}, ${(100 * e.hi).toFixed(1)}]`;
const betaCI = (e) => `${e.estimate.toFixed(2)} [${e.lo.toFixed(2)}, ${e.hi.toFixed(2)}]`;
const count = (n) => Math.round(n).toLocaleString('en-US');

test('GET /console is the Worker\'s own page under a CSP that allows no inline code and no other origin', async () => {
  const res = await fetch(`${worker.url}/console`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/html/);
  const csp = res.headers.get('content-security-policy');
  for (const directive of ["default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"]) assert.ok(csp.includes(directive), `${directive} in ${csp}`);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|https?:/);
  const html = await res.text();
  assert.deepEqual([...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)].map((m) => [m[1].trim(), m[2]]), [['src="/console/console.js" defer', '']], 'one script, from the Worker');
  assert.doesNotMatch(html, /\sstyle=|<style|https?:\/\//, 'no inline style, no other origin');
  const script = await fetch(`${worker.url}/console/console.js`);
  assert.match(script.headers.get('content-type'), /^text\/javascript/);
  assert.doesNotMatch(await script.text(), /console\.\w+\(|https?:\/\/(?!www\.w3\.org)/, 'no console call and no URL of another origin in the script');
  const etag = script.headers.get('etag');
  assert.equal((await fetch(`${worker.url}/console/console.js`, { headers: { 'if-none-match': etag } })).status, 304);
  assert.equal((await fetch(`${worker.url}/console/nothing.js`)).status, 404);
});

test('no token, then a wrong token: the page asks, says the token was refused, and shows no data', async () => {
  await page.goto(`${worker.url}/console`);
  assert.ok(await page.isVisible('#sign-in'));
  assert.ok(await page.isHidden('#data'));
  assert.deepEqual(await figures(), []);
  expectedErrors.push(/status of 401/);
  await signIn(`${ADMIN}-wrong`);
  await page.waitForSelector('#token-error:not([hidden])');
  assert.match(await page.textContent('#token-error'), /refused this token \(401\).*No data is shown/);
  assert.ok(await page.isHidden('#data'));
  assert.deepEqual(await figures(), [], 'no figure on the page');
  assert.equal(await page.evaluate(() => sessionStorage.length), 0, 'the refused token is not kept');
});

test('before any report: each section says what it means and what to do', async () => {
  expectedErrors.push(/status of 404/);
  await signIn(ADMIN);
  await loaded();
  assert.equal(await page.evaluate(() => sessionStorage.getItem('pricelet-admin-token')), ADMIN, 'the token is kept in this tab\'s session storage');
  assert.ok(!page.url().includes(ADMIN), 'never in the URL');
  assert.deepEqual(await browser.context.cookies(), [], 'nor in a cookie');
  assert.match(await page.textContent('#readout [data-state="empty"]'), /No reports yet for policy learning-demo-1/);
  assert.match(await page.textContent('#cost [data-state="empty"]'), /No reports yet/);
  assert.match(await page.textContent('#loop [data-state="empty"]'), /proposer has not run yet/);
  assert.match(await page.textContent('#versions [data-state="early"]'), /Only one version so far/);
  assert.equal((await figure('loop-state')).value, 'running');
});

test('with the demo\'s reports: every section renders, and its numbers equal /estimates and /policy/log', async () => {
  const decisions = await feed(worker.url, ADMIN, { rounds: 3, maxRounds: 8, minProposals: 1, reportsPerRound: 1500 });
  assert.ok(decisions.some((d) => d.action === 'propose'), 'the loop proposed a new β');
  await page.click('#refresh');
  await loaded();
  await page.waitForSelector('#loop .uplot canvas');
  const estimates = await api('/estimates');
  const { entries: log } = await api('/policy/log');
  const served = await (await fetch(`${worker.url}/policy`)).json();

  // A/B read-out: the learning policy's reports are the exploration arm's.
  assert.deepEqual(await figure('reports'), { value: String(estimates.reports), text: count(estimates.reports) });
  const arm = estimates.arms.find((a) => a.arm === 'treatment');
  assert.deepEqual(await figure('exposures-treatment'), { value: String(arm.exposures), text: count(arm.exposures) });
  assert.deepEqual(await figure('conversion-treatment'), { value: String(arm.conversion.estimate), text: pctCI(arm.conversion) });
  assert.deepEqual(await figure('revenue-treatment'), { value: String(arm.revenueShare.estimate), text: pctCI(arm.revenueShare) });
  assert.match(await page.textContent('#readout'), /only exploration quotes/);
  // The planner's formula: n = (1.96 / 0.01)² · ∇gᵀΣ∇g, with ∇gᵀΣ∇g = n·se² from the estimate itself.
  const need = Math.ceil(arm.exposures * ((1.96 * arm.conversion.se) / 0.01) ** 2);
  assert.deepEqual(await figure('needed-explore'), { value: String(need), text: count(need) });

  // Discount cost, step by step.
  const total = estimates.steps.reduce((s, x) => s + x.exposures, 0);
  const discounted = estimates.steps.filter((s) => s.discountPercent > 0).reduce((s, x) => s + x.exposures, 0);
  assert.equal((await figure('share-discounted')).text, pct(discounted / total));
  for (const s of estimates.steps) {
    assert.deepEqual(await figure(`step-exposures-${s.step}`), { value: String(s.exposures), text: count(s.exposures) });
    assert.deepEqual(await figure(`step-conversion-${s.step}`), { value: String(s.conversion.estimate), text: pctCI(s.conversion) });
  }

  // The loop: β in use, the band, every decision of the log with its β̂, reports and reason.
  assert.deepEqual(await figure('beta-used'), { value: String(served.strategy.beta), text: served.strategy.beta.toFixed(2) });
  assert.equal((await figure('band')).value, `${DEMO_POLICY.learning.betaMin},${DEMO_POLICY.learning.betaMax}`);
  assert.equal(await page.locator('table.decisions tbody tr').count(), log.length);
  for (const e of log) {
    const row = page.locator(`table.decisions tr[data-seq="${e.seq}"]`);
    assert.equal(await row.getAttribute('data-action'), e.action);
    assert.ok((await row.textContent()).includes(e.reason), `decision ${e.seq} shows its reason`);
    if (e.evidence?.beta) assert.deepEqual(await figure(`beta-${e.seq}`), { value: String(e.evidence.beta.estimate), text: betaCI(e.evidence.beta) });
    if (e.evidence) assert.equal((await figure(`reports-${e.seq}`)).value, String(e.evidence.reports));
  }
  const runs = log.filter((e) => e.evidence);
  assert.match(await page.textContent('[data-figure="loop-summary"]'), new RegExp(`^${runs.length} proposer runs; the latest: ${runs.at(-1).action}`));
  assert.ok(await page.getAttribute('#loop .chart', 'aria-label'), 'the chart has a text alternative');

  // Versions: the served one, the one in grace, and a diff in which only strategy.beta changed.
  assert.equal((await figure('served-version')).value, served.version);
  assert.equal((await figure('grace-version')).value, served.previousVersion.version);
  assert.match(await page.textContent('#versions .note.ok'), /Only strategy\.beta changed/);
  const diffRows = await page.$$eval('table.diff tbody tr', (rows) => rows.map((r) => ({ path: r.dataset.path, bookkeeping: r.classList.contains('bookkeeping') })));
  assert.deepEqual(diffRows.filter((r) => !r.bookkeeping).map((r) => r.path), ['strategy.beta'], 'only strategy.beta is shown as a change of substance');
  assert.ok(diffRows.filter((r) => r.bookkeeping).every((r) => /^(version|previousVersion(\..*)?)$/.test(r.path)), 'greyed rows are the version names and the grace period only');
  assert.ok(diffRows.some((r) => r.path === 'version' && r.bookkeeping));
  for (const section of ['control', 'readout', 'cost', 'loop', 'versions']) assert.ok(await page.isVisible(`#${section} .body > *`), `${section} renders`);
});

test('the kill switch, by keyboard and with a confirmation: /policy serves the base policy at once; resume lets the loop change it again', async () => {
  const before = await (await fetch(`${worker.url}/policy`)).json();
  assert.notEqual(before.version, DEMO_POLICY.version, 'a loop version is served');
  await page.focus('#stop');
  await page.keyboard.press('Enter');
  assert.ok(await page.isVisible('#confirm'), 'a confirmation first');
  await page.keyboard.press('Escape');
  assert.ok(await page.isHidden('#confirm'));
  assert.equal((await (await fetch(`${worker.url}/policy`)).json()).version, before.version, 'cancelled: nothing changed');

  await page.focus('#stop');
  await page.keyboard.press('Enter');
  await page.keyboard.press('Tab'); // from Cancel to the confirming button
  await page.keyboard.press('Enter');
  await page.waitForSelector('[data-figure="loop-state"][data-value="stopped"]');
  const base = await (await fetch(`${worker.url}/policy`)).json();
  assert.equal(base.version, DEMO_POLICY.version, 'the base policy is served again');
  assert.equal(base.strategy.beta, DEMO_POLICY.strategy.beta);
  assert.equal((await figure('served-version')).value, base.version, 'the page shows it at once');
  assert.equal((await figure('grace-version')).value, before.version, 'the stopped version verifies through its grace period');
  assert.equal((await api('/policy/propose', { method: 'POST' })).action, 'stopped', 'proposals change nothing');

  await page.click('#resume');
  await page.click('#confirm-ok');
  await page.waitForSelector('[data-figure="loop-state"][data-value="running"]');
  const next = await api('/policy/propose', { method: 'POST' });
  assert.notEqual(next.action, 'stopped', `the loop decides again: ${next.action}`);
  await page.click('#refresh');
  await loaded();
  const actions = await page.$$eval('table.decisions tbody tr', (rows) => rows.map((r) => r.dataset.action));
  assert.deepEqual(actions.slice(-4), ['stop', 'stopped', 'resume', next.action]);
});

test('375 px wide: no horizontal scroll (screenshot in test-output/)', async () => {
  await page.setViewportSize({ width: 375, height: 800 });
  await page.reload();
  await loaded();
  await page.waitForSelector('#loop .uplot canvas');
  const [scroll, client] = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
  assert.ok(scroll <= client, `page ${scroll} px wide in a ${client} px window`);
  mkdirSync(join(ROOT, 'test-output'), { recursive: true });
  await page.screenshot({ path: join(ROOT, 'test-output', 'console-375.png'), fullPage: true });
});

test('an A/B policy without learning: control against personalized with the lift and the reports a ±1-point lift needs; the loop is off', async () => {
  // The bundled policy with half the shoppers in control and ε = 6, so a few hundred devices give a lift.
  const base = JSON.parse(readFileSync(join(ROOT, 'policy', 'default.json'), 'utf8'));
  const policy = { ...base, version: 'ab-test-1', experiment: { ...base.experiment, controlPercent: 50 }, reporting: { epsilon: 6, dailyEpsilon: 24 } };
  abWorker = await startWorker({ bundle: join(ROOT, 'target', 'console-test-bundle'), adminToken: ADMIN, policy, outbound });
  const items = [{ id: 'shoe', price: '89.99', currency: 'EUR', category: 'shoes' }, { id: 'tea', price: 12800, currency: 'JPY', category: 'home' }, { id: 'tee', price: '19.99', currency: 'EUR', category: 'apparel' }, { id: 'mug', price: '12.00', currency: 'CHF', category: 'home' }];
  for (let i = 0; i < 300; i++) {
    const device = await createPricer({ consent: 'granted', anonId: `ab-${i}`, storage: 'memory', policy });
    const reports = items.map((item, j) => {
      const quote = device.priceFor(item);
      // Discounted shoppers buy more often: the lift the read-out should find.
      return device.report(quote, { converted: (i * 7 + j * 3) % 10 < (quote.discountMinor > 0 ? 4 : 2) }).report;
    }).filter(Boolean);
    device.free();
    const res = await fetch(`${abWorker.url}/report`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ reports }) });
    assert.equal(res.status, 202);
  }
  await page.setViewportSize({ width: 1100, height: 900 });
  await page.goto(`${abWorker.url}/console`);
  await signIn(ADMIN);
  await loaded();
  const estimates = await (await fetch(`${abWorker.url}/estimates`)).json();
  for (const arm of estimates.arms) {
    assert.deepEqual(await figure(`exposures-${arm.arm}`), { value: String(arm.exposures), text: count(arm.exposures) });
    assert.deepEqual(await figure(`conversion-${arm.arm}`), { value: String(arm.conversion.estimate), text: pctCI(arm.conversion) });
  }
  assert.deepEqual(await page.$$eval('table.arms tbody th', (cells) => cells.map((c) => c.textContent)), ['control (list price)', 'personalized']);
  const lift = estimates.incrementalConversion;
  const signed = (v) => `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(1)}`;
  assert.deepEqual(await figure('lift'), { value: String(lift.estimate), text: `${signed(100 * lift.estimate)} pts [${signed(100 * lift.lo)}, ${signed(100 * lift.hi)}]` });
  const need = Math.ceil(estimates.reports * ((1.96 * lift.se) / 0.01) ** 2);
  assert.deepEqual(await figure('needed-lift'), { value: String(need), text: count(need) });
  assert.match(await page.textContent('#control [data-state="off"]'), /no "learning" section/);
  assert.equal(await page.locator('#stop').count(), 0, 'no kill switch to press without a loop');
  assert.match(await page.textContent('#loop [data-state="off"]'), /loop is off/);
});

test('no request left the Worker\'s origin, and no console error but the refusals provoked on purpose', () => {
  const origins = new Set([new URL(worker.url).origin, new URL(abWorker.url).origin]);
  assert.ok(requests.length > 5);
  assert.deepEqual(requests.filter((u) => !origins.has(new URL(u).origin)), []);
  const unexpected = consoleErrors.filter((text) => !expectedErrors.some((re) => re.test(text)));
  assert.deepEqual(unexpected, []);
});

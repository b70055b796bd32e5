// The harness of the storefront tests: the demo served as `npm start` serves it, a fresh Chromium
// profile per test with the demo's test hooks, request and console logs, and the package in Node
// to compare the page's prices with.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../../scripts/setup.mjs';
import { serveStatic } from '../../scripts/serve.mjs';
import { storefrontMounts } from '../../scripts/start.mjs';
import { createPricer } from '../../js/node.js';
import { launch } from './browser.mjs';

export const HOOKS = { anonId: 'e2e-shopper', now: 1795950000000, stabilityTtlMs: 0 };
export const CATALOG = JSON.parse(readFileSync(join(ROOT, 'www', 'catalog.json'), 'utf8'));
export const ITEMS = CATALOG.products;
export const SHOTS = join(ROOT, 'test-output', 'screenshots');
export const PAGE_FILES = ['/', '/app.css', '/app.js', '/art.js', '/catalog.json'];
export const PACKAGE_FILES = ['js/web.js', 'js/core.js', 'js/errors.js', 'js/options.js', 'js/pricer.js', 'js/server.js', 'js/wire.js', 'js/lite.js', 'dist/lite.js', 'dist/lite-wasm.js', 'dist/pricelet.js', 'dist/pricelet_bg.wasm', 'models/interest.onnx']
  .map((f) => `/node_modules/pricelet/${f}`);
let server;

/** Serves the demo for a test file (its `url`, `requests` and `close()`). */
export async function serveDemo() {
  server = await serveStatic({ mounts: storefrontMounts() });
  mkdirSync(SHOTS, { recursive: true });
  return server;
}

// ---------- harness ----------

/**
 * A fresh Chromium profile with the test hooks, recording every request of the context (pages,
 * workers, beacons), websockets and service workers. Console errors fail the test unless allowed.
 */
export async function withStore(fn, { gpc = false, blockPricelet = false, allowErrors = false, hooks = HOOKS } = {}) {
  const browser = await launch({ locale: 'en-US', viewport: { width: 1280, height: 900 } });
  const log = [];
  const errors = [];
  try {
    const { context } = browser;
    if (gpc) await context.addInitScript(() => Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', { get: () => true }));
    // The hooks; the test clock survives reloads of the tab, as a real clock would.
    await context.addInitScript((hooks) => {
      let saved = 0;
      try { saved = Number(sessionStorage.getItem('e2e:now')); } catch { /* opaque origin */ }
      window.PRICELET_TEST = { ...hooks, now: saved || hooks.now };
      addEventListener('pagehide', () => { try { sessionStorage.setItem('e2e:now', String(window.PRICELET_TEST.now)); } catch { /* ignore */ } });
    }, hooks);
    if (blockPricelet) await context.route('**/node_modules/pricelet/**', (route) => route.abort());
    context.on('request', (r) => log.push({ url: r.url(), method: r.method(), body: r.postData() ?? null }));
    context.on('serviceworker', (w) => log.push({ url: w.url(), method: 'SERVICEWORKER', body: null }));
    context.on('page', (p) => p.on('websocket', (ws) => log.push({ url: ws.url(), method: 'WEBSOCKET', body: null })));
    const page = await context.newPage();
    page.on('websocket', (ws) => log.push({ url: ws.url(), method: 'WEBSOCKET', body: null }));
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    page.on('pageerror', (e) => errors.push(e.message));
    const result = await fn({ page, context, log, errors });
    if (!allowErrors) assert.deepEqual(errors, [], 'no console errors');
    return result;
  } finally {
    await browser.close();
  }
}

export async function open(page, hash = '') {
  await page.goto(`${server.url}/${hash}`);
  await page.waitForFunction(() => window.__demo?.ready === true, null, { timeout: 30000 });
}

/** A real page load (a goto that only changes the hash would not re-run the page's scripts). */
export async function reopen(page, hash = '') {
  await page.goto('about:blank');
  await open(page, hash);
}

/** Runs `action` and waits for the page's next render. */
export async function andRender(page, action) {
  const before = await page.evaluate(() => Number(document.body.dataset.rendered));
  await action();
  await page.waitForFunction((n) => Number(document.body.dataset.rendered) > n, before);
}

export const go = (page, hash) => andRender(page, () => page.evaluate((h) => { location.hash = h; }, hash));
export const click = (page, selector) => andRender(page, () => page.click(selector));
export const advance = (page, ms) => page.evaluate((d) => { window.PRICELET_TEST.now += d; }, ms);
export const stored = (page) => page.evaluate(() => window.__demo.pricer.exportData());
export const events = async (page) => (await stored(page)).state?.events ?? [];

/** Every rendered product element: its data-* quote and what the shopper sees. */
export function readProducts(page) {
  return page.$$eval('[data-item-id]', (els) => els.map((e) => ({
    id: e.dataset.itemId,
    priceMinor: Number(e.dataset.priceMinor),
    listPriceMinor: Number(e.dataset.listPriceMinor),
    reason: e.dataset.reason,
    quoteId: e.dataset.quoteId,
    price: e.querySelector('.price')?.textContent ?? null,
    listPrice: e.querySelector('.list-price')?.textContent ?? null,
    label: e.querySelector('.label')?.textContent ?? null,
    why: e.querySelector('.why') !== null,
  })));
}

/** The package in Node, fed the events the page stored, at the page's clock: a quote per catalog item. */
export async function nodeQuotes({ events: evs, now, consent = 'granted', anonId = HOOKS.anonId }) {
  const pricer = await createPricer({ consent, anonId, now: () => now, stabilityTtlMs: 0, storage: 'memory' });
  try {
    for (const ev of evs) assert.equal(pricer.track(ev).stored, true, `Node stores ${JSON.stringify(ev)}`);
    return new Map(ITEMS.map((item) => [item.id, pricer.priceFor(item)]));
  } finally {
    pricer.free();
  }
}

export const fmt = (value, currency) => new Intl.NumberFormat('en-US', { style: 'currency', currency }).format(value);

/** Rendered products equal Node's quotes: amounts, reason, quote id, and the visible text. */
export function assertRenderedEqual(rendered, expected, step) {
  for (const r of rendered) {
    const q = expected.get(r.id);
    const at = `${step}: ${r.id}`;
    assert.equal(r.priceMinor, q.priceMinor, `${at} priceMinor`);
    assert.equal(r.reason, q.reason, `${at} reason`);
    assert.equal(r.listPriceMinor, q.listPriceMinor, `${at} listPriceMinor`);
    assert.equal(r.quoteId, q.quoteId, `${at} quoteId`);
    assert.equal(r.price, fmt(q.price, q.currency), `${at} visible price`);
    assert.equal(r.listPrice, q.discountMinor > 0 ? fmt(q.listPrice, q.currency) : null, `${at} struck list price only when discounted`);
    assert.equal(r.label, q.label, `${at} disclosure label`);
    assert.ok(r.why, `${at} has "Why this price?"`);
  }
}

/** The page's own quote for every catalog item (non-product pages render none). */
export function pageQuotes(page) {
  return page.evaluate(() => Object.fromEntries(window.__demo.catalog.products.map((i) => {
    const q = window.__demo.pricer.priceFor(i);
    return [i.id, { priceMinor: q.priceMinor, reason: q.reason, interest: q.interest }];
  })));
}

/** Checks the page against Node for its stored state; returns Node's quotes. */
export async function checkAgainstNode(page, step, consent = 'granted') {
  const { evs, now, anonId } = await page.evaluate(() => ({
    evs: window.__demo.pricer.exportData().state?.events ?? [], now: window.PRICELET_TEST.now, anonId: window.__demo.pricer.exportData().anonId,
  }));
  const expected = await nodeQuotes({ events: evs, now, consent, anonId: anonId ?? HOOKS.anonId });
  assertRenderedEqual(await readProducts(page), expected, step);
  for (const [id, q] of Object.entries(await pageQuotes(page))) {
    assert.equal(q.priceMinor, expected.get(id).priceMinor, `${step}: ${id} priceMinor (all items)`);
    assert.equal(q.reason, expected.get(id).reason, `${step}: ${id} reason (all items)`);
  }
  return expected;
}


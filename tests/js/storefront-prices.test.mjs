// The demo storefront in Chromium as a shopper browses it, with the shipped stability window (no
// test override): one item shows one price wherever it appears — grid, product page, related
// items, cart, checkout — for the window, exploration included, whatever the visit tracks; and a
// discount badge never states more than the real reduction.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { HOOKS, advance, click, go, open, readProducts, serveDemo, withStore } from './storefront-harness.mjs';

let server;

before(async () => {
  server = await serveDemo();
});

after(async () => {
  await server?.close();
});

/** Every product element's price and badge, with where it was seen. */
async function look(page, where, seen) {
  const badges = await page.$$eval('[data-item-id]', (els) => els.map((e) => e.querySelector('.off')?.textContent ?? null));
  for (const [i, p] of (await readProducts(page)).entries()) {
    if (!seen.has(p.id)) seen.set(p.id, []);
    seen.get(p.id).push({ where, priceMinor: p.priceMinor, listPriceMinor: p.listPriceMinor, reason: p.reason, quoteId: p.quoteId, badge: badges[i] });
  }
}

function assertOnePricePerItem(seen) {
  let repeated = 0;
  for (const [id, views] of seen) {
    const prices = new Set(views.map((v) => `${v.priceMinor} ${v.quoteId}`));
    assert.equal(prices.size, 1, `${id} was shown at ${views.map((v) => `${v.priceMinor} (${v.reason}) on ${v.where}`).join(', ')}`);
    repeated += views.length - 1;
  }
  return repeated;
}

function assertBadgesNeverOverstate(seen) {
  let badges = 0;
  for (const [id, views] of seen) {
    for (const v of views.filter((x) => x.badge !== null)) {
      const stated = Number(v.badge.replace(/[^\d.]/g, ''));
      const real = (100 * (v.listPriceMinor - v.priceMinor)) / v.listPriceMinor;
      assert.ok(stated <= real, `${id}: badge "${v.badge}" for ${v.priceMinor} vs ${v.listPriceMinor} (${real.toFixed(2)} % off)`);
      assert.ok(real - stated < 1, `${id}: badge "${v.badge}" rounds down to the whole percent`);
      badges += 1;
    }
  }
  return badges;
}

for (const consent of ['unknown', 'granted']) {
  test(`consent ${consent}: browsing grid, product pages, cart and checkout shows each item at one price for the stability window`, async () => {
    // The shipped stability window: only the id and clock are the test's.
    await withStore(async ({ page, context }) => {
      await open(page);
      if (consent === 'granted') await click(page, '[data-consent="granted"]');
      const seen = new Map();
      await look(page, 'grid', seen);
      const explored = [...seen.values()].filter((v) => v[0].reason === 'explore').length;
      // Products in turn, back to the grid after each (every visit tracks a page view).
      for (const id of ['stoneware-vase', 'pour-over-kettle', 'trail-runner', 'canvas-sneaker', 'e-reader', 'santoku-knife']) {
        await advance(page, 40_000);
        await go(page, `#/product/${id}`);
        await look(page, `product ${id}`, seen);
        await advance(page, 5_000);
        await click(page, '.add-to-cart');
        await look(page, `product ${id} after add to cart`, seen);
        await advance(page, 20_000);
        await go(page, '#/');
        await look(page, `grid after ${id}`, seen);
      }
      await go(page, '#/cart');
      await look(page, 'cart', seen);
      await go(page, '#/checkout');
      await page.waitForFunction(() => document.getElementById('verify-result').dataset.state !== 'pending');
      await look(page, 'checkout', seen);
      assert.equal(await page.$eval('#verify-result', (e) => e.dataset.state), 'ok', 'the prices shown verify at checkout');
      if (consent === 'granted') {
        // Products opened in new tabs (and so new pages and pricers), later: the same prices.
        const now = await page.evaluate(() => window.PRICELET_TEST.now);
        for (const id of ['stoneware-vase', 'santoku-knife', 'cast-iron-pan', 'pocket-speaker']) {
          const tab = await context.newPage();
          await tab.addInitScript((t) => { window.PRICELET_TEST.now = t; }, now + 60_000);
          await open(tab, `#/product/${id}`);
          await look(tab, `new tab: product ${id}`, seen);
          await tab.close();
        }
        assert.ok(explored > 0, 'exploration is covered');
      } else {
        assert.equal(explored, 0, 'without consent no id is kept, so no page draws an exploration');
      }
      const repeated = assertOnePricePerItem(seen);
      const badges = assertBadgesNeverOverstate(seen);
      console.log(`consent ${consent}: ${seen.size} items, ${repeated} repeated views, ${badges} badges, ${explored} exploring on the grid`);
      assert.ok(repeated > 100);
      // Without consent nothing is kept, and the grid's first prices (list, shown while the engine
      // loaded) stay; with consent, the prices after the consent choice carry discounts.
      if (consent === 'granted') assert.ok(badges > 0);
    }, { hooks: { anonId: 'e2e-shopper-1', now: HOOKS.now } });
  });
}

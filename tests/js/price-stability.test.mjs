// One shopper, one item, one price: within the stability window an item keeps the price the shopper
// was shown — on a listing, a product page, the cart — whatever behaviour is tracked meanwhile, in
// this pricer or in another one on the same storage (a second tab), exploration included. A price
// that rises between the listing and the product page is bait. A property over seeded random
// sequences of the calls a storefront makes.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT } from '../../scripts/setup.mjs';
import { createPricer, listQuote, quoteBeforeReady } from '../../js/node.js';

const NOW = 1795950160000;
const POLICY = JSON.parse(readFileSync(join(ROOT, 'policy/default.json'), 'utf8'));
const TTL = POLICY.stability.ttlMs;
const CATALOG = JSON.parse(readFileSync(join(ROOT, 'www/catalog.json'), 'utf8')).products;
const ITEMS = CATALOG.map(({ id, price, currency, category, cost }) => ({ id, price, currency, category, cost }));

function lcg(seed) {
  let x = BigInt(seed);
  return (n) => {
    x = (x * 6364136223846793005n + 1442695040888963407n) & 0xffffffffffffffffn;
    return Number(x >> 33n) % n;
  };
}

function sharedStore() {
  let state = null;
  return { load: () => state, save: (s) => { state = s; } };
}

/** A storefront's call: a page view, a cart change, a listing, one item, or time passing. */
function step(pricer, pick, clock, shown) {
  const item = ITEMS[pick(ITEMS.length)];
  switch (pick(6)) {
    case 0:
      pricer.track({ type: 'page_view', at: clock.now, dwellMs: pick(120_000), page: { kind: ['product', 'informational', 'administrative'][pick(3)], id: item.id, pageValue: pick(40), bounceRate: pick(100) / 100, exitRate: pick(100) / 100 }, category: item.category });
      break;
    case 1:
      pricer.track({ type: ['add_to_cart', 'remove_from_cart'][pick(2)], at: clock.now, itemId: item.id, category: item.category, quantity: 1 + pick(3) });
      break;
    case 2:
      for (const q of pricer.pricesFor(ITEMS)) shown.push({ at: clock.now, q });
      break;
    case 3:
      shown.push({ at: clock.now, q: pricer.priceFor(item) });
      break;
    default:
      clock.now += pick(90_000);
  }
}

for (const consent of ['granted', 'unknown']) {
  test(`consent ${consent}: every item keeps its first price for the stability window, whatever is tracked (seeded sequences, two pricers on one storage)`, async () => {
    let checked = 0;
    let explored = 0;
    for (let seed = 1; seed <= 12; seed += 1) {
      const pick = lcg(seed);
      const clock = { now: NOW };
      const storage = sharedStore();
      const options = { consent, storage, now: () => clock.now, utcOffsetMinutes: 0 };
      const page = await createPricer(options);
      // With consent the second pricer (another tab) shares the storage; without, it has its own.
      const other = await createPricer({ ...options, storage: consent === 'granted' ? storage : sharedStore() });
      const shown = [];
      for (let i = 0; i < 160; i += 1) {
        const actor = pick(4) === 0 ? other : page;
        step(actor, pick, clock, actor === page ? shown : []);
      }
      // For every item, the quotes this page showed within the window of its first one are one.
      const first = new Map();
      for (const { at, q } of shown) {
        const was = first.get(q.itemId);
        if (!was || at >= was.q.issuedAt + TTL) {
          first.set(q.itemId, { q });
          continue;
        }
        assert.deepEqual([q.priceMinor, q.reason, q.quoteId], [was.q.priceMinor, was.q.reason, was.q.quoteId], `seed ${seed}: ${q.itemId} was ${was.q.priceMinor} (${was.q.reason}), then ${q.priceMinor} (${q.reason})`);
        checked += 1;
        explored += q.reason === 'explore' ? 1 : 0;
      }
      page.free();
      other.free();
    }
    assert.ok(checked > 500, `${checked} repeated quotes checked`);
    if (consent === 'granted') assert.ok(explored > 0, 'exploration is covered');
  });
}

test('before a page\'s pricer is ready it shows the price shown on another page, or list; adopted, it stays', async () => {
  const clock = { now: NOW };
  const storage = sharedStore();
  const options = { consent: 'granted', storage, now: () => clock.now, utcOffsetMinutes: 0 };
  // The first page: a hesitant visit, then the grid (its quotes are stored with the state). A kept
  // id outside the control group (10 % of random ids are in it, and see list prices only).
  const listing = await createPricer({ ...options, anonId: 'stable-shopper-1' });
  for (const [i, item] of ITEMS.slice(0, 3).entries()) {
    listing.track({ type: 'page_view', at: NOW - 60_000 + i * 20_000, page: { kind: 'product', id: item.id, pageValue: 0, bounceRate: 0.2, exitRate: 0.2 }, category: item.category });
  }
  const shown = listing.pricesFor(ITEMS);
  await new Promise((resolve) => setTimeout(resolve, 0)); // the wrapper saves shown quotes in a microtask
  const off = shown.filter((q) => q.priceMinor !== q.listPriceMinor);
  assert.ok(off.length > 0, `some shown prices are not list prices: ${JSON.stringify(shown.map((q) => q.reason ?? q.error?.code))}`);
  // A new page, before its engine is ready: exactly those quotes, synchronously.
  clock.now += 60_000;
  // (Quotes that no behaviour decides, such as an excluded item's, are not stored: they are the
  // same list price on every page.)
  const early = ITEMS.map((item) => quoteBeforeReady(item, { storage, now: clock.now }));
  const decided = ['personalized', 'cold_start', 'control', 'explore', 'no_feasible_price', 'list'];
  for (const [i, q] of shown.entries()) {
    if (decided.includes(q.reason)) assert.deepEqual(early[i], q);
    else assert.deepEqual([early[i].priceMinor, early[i].reason], [q.priceMinor === q.listPriceMinor ? q.priceMinor : NaN, 'list'], q.itemId);
  }
  assert.ok(shown.filter((q) => decided.includes(q.reason)).length > ITEMS.length / 2);
  // Once ready, adopting them changes nothing on screen; priceFor answers them.
  const page = await createPricer(options);
  for (const [i, item] of ITEMS.entries()) assert.equal(page.adoptQuote(item, early[i]), true, item.id);
  assert.deepEqual(page.pricesFor(ITEMS), early);
  // No shown price (another storage, nothing stored, a storage that throws, after the window):
  // the list quote, never an error.
  const item = ITEMS.find((it) => it.id === off[0].itemId);
  const list = listQuote(item, { now: clock.now });
  assert.deepEqual(quoteBeforeReady(item, { storage: sharedStore(), now: clock.now }), list);
  assert.deepEqual(quoteBeforeReady(item, { storage: { load() { throw new Error('blocked'); } }, now: clock.now }), list);
  assert.deepEqual(quoteBeforeReady(item, { storage: 'memory', now: clock.now }), list);
  const late = NOW + TTL + 1;
  assert.deepEqual(quoteBeforeReady(item, { storage, now: late }), listQuote(item, { now: late }));
  // A stored price edited by hand is never shown (nor is a quote id forged to match it).
  const forged = JSON.parse(storage.load());
  for (const entry of forged.shown.quotes) entry[1] = 1;
  assert.deepEqual(quoteBeforeReady(item, { storage: { load: () => JSON.stringify(forged) }, now: clock.now }), list);
  // Bad input is a coded error.
  assert.throws(() => quoteBeforeReady({ id: 'x' }, { storage }), { code: 'unknown_currency' });
  assert.throws(() => quoteBeforeReady(null, { storage }), { code: 'invalid_item' });
  assert.throws(() => quoteBeforeReady(item, { stabilityTtlMs: -1 }), { code: 'invalid_argument' });
  assert.throws(() => quoteBeforeReady(item, 'nope'), { code: 'invalid_argument' });
  listing.free();
  page.free();
});

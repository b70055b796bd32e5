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
import { createPricer } from '../../js/node.js';

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

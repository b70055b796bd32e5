// The wrapper's quote cache (js/pricer.js) against the engine itself: a long seeded sequence of calls —
// repeated items, edited items, track(), consent changes, time passing the stability TTL
// and the quote expiry, batches, callers editing the quotes they got — gives exactly the quotes the
// engine gives when asked every time. And the cache is really used: a hit calls the clock once.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT } from '../../scripts/setup.mjs';
import { createPricer } from '../../js/node.js';
import * as glue from '../../dist/pricelet_server.js';

const NOW = 1795950160000;
const ITEMS = JSON.parse(readFileSync(join(ROOT, 'tests/fixtures/items.json'), 'utf8'));
const MODEL = new Uint8Array(readFileSync(join(ROOT, 'models', 'interest.onnx')));
const TTL = 10 * 60 * 1000;

function memory() {
  let state = null;
  return { load: () => state, save: (s) => { state = s; } };
}

/** The quote, or the error's code (the fixtures hold items the engine refuses, too). */
function outcome(fn) {
  try {
    return fn();
  } catch (e) {
    return { error: e.code };
  }
}

function lcg(seed) {
  let x = BigInt(seed);
  return (n) => {
    x = (x * 6364136223846793005n + 1442695040888963407n) & 0xffffffffffffffffn;
    return Number(x >> 33n) % n;
  };
}

test('the wrapper\'s quote cache answers exactly what the engine answers, call after call', async () => {
  let clock = NOW;
  let clockCalls = 0;
  const now = () => { clockCalls += 1; return clock; };
  const options = { anonId: 'shopper-cache', consent: 'granted', utcOffsetMinutes: 0, stabilityTtlMs: TTL, storage: memory() };
  const wrapped = await createPricer({ ...options, now });
  // The same engine class without the wrapper: every call crosses the boundary. (No forget() here:
  // it draws a new random anonymous id, so the two would part ways for a reason of their own.)
  const config = JSON.stringify({ consent: 'granted', anonId: 'shopper-cache', stabilityTtlMs: TTL, utcOffsetMinutes: 0, storage: 'adapter' });
  const direct = new glue.WasmPricer('null', new glue.ModelLoad(MODEL, 'interest'), undefined, config, { storage: memory(), sessionStorage: memory(), now: () => clock });
  const ask = (item) => JSON.parse(direct.priceFor(JSON.stringify(item)));

  const rand = lcg(20261201);
  const shared = ITEMS.map((it) => ({ ...it })); // objects the page keeps and sometimes edits in place
  let hits = 0;
  let checked = 0;
  for (let step = 0; step < 600; step += 1) {
    const op = rand(100);
    if (op < 45) {
      const k = rand(shared.length);
      const item = rand(3) === 0 ? { ...shared[k] } : shared[k];
      const before = clockCalls;
      const got = outcome(() => wrapped.priceFor(item));
      if (clockCalls - before === 1) hits += 1; // the engine was not asked (it would call the clock again)
      assert.deepEqual(got, outcome(() => ask(item)), `step ${step}: priceFor(${item.id})`);
      checked += 1;
      if (rand(4) === 0) Object.assign(got, { priceMinor: 1, quoteId: 'edited', issuedAt: 0 }); // the caller edits its copy
    } else if (op < 55) {
      const list = Array.from({ length: 1 + rand(5) }, () => shared[rand(shared.length)]);
      assert.deepEqual(wrapped.pricesFor(list), JSON.parse(direct.pricesFor(JSON.stringify(list))), `step ${step}: pricesFor`);
      checked += 1;
    } else if (op < 65) {
      const event = { type: 'page_view', at: clock, page: { kind: 'product', id: shared[rand(shared.length)].id, bounceRate: 0.02, exitRate: 0.04, pageValue: rand(20) } };
      assert.deepEqual(wrapped.track(event).stored, JSON.parse(direct.track(JSON.stringify(event))).stored);
    } else if (op < 70) {
      const item = shared[rand(shared.length)];
      item.price = String(10 + rand(90)) + '.99'; // edited in place: the same object now reads differently
    } else if (op < 73) {
      const consent = ['granted', 'unknown', 'denied'][rand(3)];
      wrapped.setConsent(consent);
      direct.setConsent(consent);
    } else {
      clock += [1000, 60_000, TTL - 1, TTL, 3_600_000][rand(5)];
    }
  }
  assert.ok(checked > 250, `${checked} comparisons`);
  assert.ok(hits > 40, `only ${hits} calls were served from the cache`);
});

test('a hit is a fresh copy; an edited item, the end of the stability window or a consent change is never served a stale quote', async () => {
  let clock = NOW;
  const pricer = await createPricer({ anonId: 'shopper-copy', consent: 'granted', utcOffsetMinutes: 0, stabilityTtlMs: TTL, storage: 'memory', now: () => clock });
  const item = { ...ITEMS[0] };
  const first = pricer.priceFor(item);
  const again = pricer.priceFor(item);
  assert.notEqual(again, first);
  assert.deepEqual(again, first);
  again.priceMinor = 1;
  assert.deepEqual(pricer.priceFor(item), first);
  item.price = '1.00';
  assert.equal(pricer.priceFor(item).listPriceMinor, 100);
  item.price = ITEMS[0].price;
  const backAgain = pricer.priceFor(item);
  assert.equal(backAgain.listPriceMinor, first.listPriceMinor);
  clock += TTL; // the stability window is over: a new quote, issued now
  assert.equal(pricer.priceFor(item).issuedAt, clock);
  clock += 1000;
  pricer.setConsent('denied');
  const denied = pricer.priceFor(item);
  assert.equal(denied.issuedAt, clock, 'a consent change drops the cached quote');
  assert.notEqual(denied.reason, 'personalized');
  // An item whose getter answers differently each time is never cached (what was sent is unknown).
  let n = 0;
  const shifty = { ...ITEMS[1], get price() { n += 1; return `${10 + n}.00`; } };
  const a = pricer.priceFor(shifty);
  const b = pricer.priceFor(shifty);
  assert.notEqual(a.listPriceMinor, b.listPriceMinor);
});

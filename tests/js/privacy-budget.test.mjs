// The device's daily privacy budget, as integrators use the package: several pricers on one
// storage adapter (tabs, pages), consent changes and forget(). The README promises at most
// `reporting.dailyEpsilon` per device and local day; each scenario here broke that promise before
// the budget became a per-writer count that merges without under-counting.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT } from '../../scripts/setup.mjs';
import { createPricer } from '../../js/node.js';

const NOW = 1795950160000;
const POLICY = JSON.parse(readFileSync(join(ROOT, 'policy/default.json'), 'utf8'));
const { epsilon, dailyEpsilon } = POLICY.reporting;
const PER_DAY = Math.floor(dailyEpsilon / epsilon);
const sneaker = JSON.parse(readFileSync(join(ROOT, 'tests/fixtures/items.json'), 'utf8'))[0];

function sharedStore() {
  const s = { state: null, load: () => s.state, save: (v) => { s.state = v; } };
  return s;
}

const device = (storage, extra = {}) => createPricer({ consent: 'granted', storage, now: () => NOW, utcOffsetMinutes: 0, stabilityTtlMs: 0, ...extra });

/** Asks `pricer` for `n` reports; how many it made. */
function reports(pricer, n) {
  const quote = pricer.priceFor(sneaker);
  let made = 0;
  for (let i = 0; i < n; i += 1) made += pricer.report(quote, { converted: false }).report ? 1 : 0;
  return made;
}

test(`three pricers on one { load, save } store make at most ${PER_DAY} reports a day together`, async () => {
  assert.ok(PER_DAY >= 2, 'the default policy allows a few reports a day');
  const store = sharedStore();
  const tabs = [await device(store), await device(store), await device(store)];
  // All three are open before any reports: each starts from the same (empty) stored budget.
  let made = 0;
  for (let round = 0; round < PER_DAY; round += 1) for (const t of tabs) made += reports(t, 1);
  assert.equal(made, PER_DAY, `${made} reports (ε ${made * epsilon}) in one day from one device`);
  const stored = JSON.parse(store.state).reportBudget;
  assert.equal(Object.values(stored.spent).reduce((a, b) => a + b, 0), dailyEpsilon, 'the stored budget counts every report');
  // A pricer opened later on the same store refuses at once.
  const late = await device(store);
  assert.equal(late.report(late.priceFor(sneaker)).reason, 'daily_budget_exhausted');
  for (const t of [...tabs, late]) t.free();
});

test('a store written by the last writer from a stale copy still counts every writer', async () => {
  // Two pricers read the store, each reports, then one writes a copy that missed the other's
  // write (as a tab in another process can): the next read still sees both.
  const store = sharedStore();
  const [a, b] = [await device(store), await device(store)];
  assert.equal(reports(a, 1), 1);
  const afterA = store.state;
  assert.equal(reports(b, 1), 1);
  store.state = afterA; // b's write is lost by the store...
  assert.equal(reports(b, 1), 1); // ...but b re-merges its own count before writing again
  const spent = JSON.parse(store.state).reportBudget.spent;
  assert.equal(Object.values(spent).reduce((x, y) => x + y, 0), 3 * epsilon);
  a.free();
  b.free();
});

test('consent changes and forget() never hand out a fresh budget on the same day', async () => {
  const store = sharedStore();
  const pricer = await device(store);
  let made = reports(pricer, PER_DAY);
  pricer.setConsent('denied');
  assert.equal(store.state, null, 'consent withdrawn: nothing stays in storage');
  pricer.setConsent('granted');
  made += reports(pricer, PER_DAY);
  pricer.forget();
  made += reports(pricer, PER_DAY);
  assert.equal(made, PER_DAY, `one pricer made ${made} reports in one day`);
  // After forget() storage holds only the day's budget: no behaviour, no anonymous id.
  pricer.forget();
  const kept = JSON.parse(store.state);
  assert.deepEqual([kept.events, kept.anonId], [[], undefined]);
  assert.equal(pricer.exportData().anonId, null);
  // A new pricer on that storage (a reload after forget) honours it; tomorrow starts over.
  const reloaded = await device(store);
  assert.equal(reports(reloaded, 1), 0);
  const tomorrow = await device(store, { now: () => NOW + 86_400_000 });
  assert.equal(reports(tomorrow, 1), 1);
  for (const p of [pricer, reloaded, tomorrow]) p.free();
});

test('forget() with no report today leaves storage empty', async () => {
  const store = sharedStore();
  const pricer = await device(store);
  pricer.track({ type: 'page_view', at: NOW - 1000, page: { kind: 'product', id: 'p1' } });
  assert.notEqual(store.state, null);
  pricer.forget();
  assert.equal(store.state, null);
  pricer.free();
});

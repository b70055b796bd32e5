// The package under hostile and careless use (Node): throwing getters and revoked Proxies, wrong
// argument types, fail-open verification keys, two tabs on one storage, failing storage adapters,
// and the smaller edges. Each test holds a finding that once broke the pricer; after every one the
// pricer still prices. The last test calls every export with random JS values of every type.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT } from '../../scripts/setup.mjs';
import { createPricer, estimates, listQuote, mergeTallies, proposePolicy, quoteBeforeReady, signQuote, tallyReports, toCheckout, verifyQuote } from '../../js/node.js';

const NOW = 1795950160000;
const ITEMS = JSON.parse(readFileSync(join(ROOT, 'tests/fixtures/items.json'), 'utf8'));
const BEHAVIOUR = JSON.parse(readFileSync(join(ROOT, 'tests/fixtures/behaviour.json'), 'utf8'));
const POLICY = JSON.parse(readFileSync(join(ROOT, 'policy/default.json'), 'utf8'));
const sneaker = ITEMS[0];
const KEY = 'a-signing-key-of-32-characters!!';
const base = { now: () => NOW, utcOffsetMinutes: 0, stabilityTtlMs: 0 };

function throwsCoded(fn, code, field) {
  assert.throws(fn, (e) => {
    assert.equal(e.code, code, `${e.code}: ${e.message}`);
    if (field !== undefined) assert.equal(e.field, field, e.message);
    assert.doesNotMatch(e.message, /recursive use|unsafe aliasing|memory access out of bounds|unreachable/);
    return true;
  });
}

async function rejectsCoded(promise, code, field) {
  await assert.rejects(promise, (e) => {
    assert.equal(e.code, code, `${e.code}: ${e.message}`);
    if (field !== undefined) assert.equal(e.field, field, e.message);
    return true;
  });
}

/** The pricer still works: it prices, tracks, reports its status, and was never reset. */
function stillWorks(pricer, resets = 0) {
  const q = pricer.priceFor(sneaker);
  assert.equal(q.listPriceMinor, 8999);
  assert.equal(q.discountMinor, q.listPriceMinor - q.priceMinor);
  assert.equal(pricer.track({ type: 'page_view', page: { kind: 'product' } }).stored, pricer.status.consent !== 'denied');
  assert.equal(pricer.status.engineResets, resets, 'no engine reset was needed');
}

function hostileValues() {
  const revoked = Proxy.revocable({}, {});
  revoked.revoke();
  const throwing = { id: 'b', currency: 'EUR', get price() { throw new Error('getter says no'); } };
  return { revoked: revoked.proxy, throwing, bigint: { id: 'c', price: 10n, currency: 'EUR' }, cyclic: (() => { const o = { id: 'd', price: 1, currency: 'EUR' }; o.self = o; return o; })() };
}

test('1. a throwing getter, a revoked Proxy, a BigInt or a cycle is a coded error, and the pricer keeps working', async () => {
  const pricer = await createPricer({ ...base, consent: 'granted', anonId: 'h-1', storage: { load: () => null, save: () => {} } });
  const resets = pricer.status.engineResets;
  const { revoked, throwing, bigint, cyclic } = hostileValues();
  for (const bad of [throwing, revoked, bigint, cyclic]) {
    throwsCoded(() => pricer.priceFor(bad), 'invalid_item');
    // pricesFor: that slot gets the error, the others price.
    const out = pricer.pricesFor([sneaker, bad, ITEMS[1]]);
    assert.equal(out.length, 3);
    assert.equal(out[0].listPriceMinor, 8999);
    assert.equal(out[1].error.code, 'invalid_item');
    assert.equal(typeof out[2].priceMinor, 'number');
    throwsCoded(() => pricer.track(bad), 'invalid_event');
    throwsCoded(() => pricer.edgeRequest([sneaker, bad]), 'invalid_item');
    throwsCoded(() => pricer.priceFromFeatures({ items: [bad] }), 'invalid_argument');
    throwsCoded(() => pricer.report(bad, { converted: false }), 'invalid_quote');
    stillWorks(pricer, resets);
  }
  assert.equal(pricer.pricesFor([revoked, sneaker])[0].itemId, null, 'no id could be read');
  assert.equal(pricer.pricesFor([throwing])[0].itemId, 'b', 'the id is read when it can be');
  throwsCoded(() => pricer.pricesFor(revoked), 'invalid_item');
  throwsCoded(() => listQuote(throwing), 'invalid_item');
  throwsCoded(() => toCheckout(revoked), 'invalid_quote');
  await rejectsCoded(verifyQuote(revoked, sneaker), 'invalid_quote');
  await rejectsCoded(verifyQuote(toCheckout(pricer.priceFor(sneaker)), throwing), 'invalid_item');
  await rejectsCoded(createPricer({ ...base, get consent() { throw new Error('no'); } }), 'invalid_argument');
  await rejectsCoded(createPricer(revoked), 'invalid_argument');
  pricer.forget();
  assert.equal(pricer.status.events, 0);
  pricer.free();
  pricer.free();
});

test('1. pricers that met hostile input are freed and their memory reused (nothing is left borrowed)', async () => {
  const { throwing } = hostileValues();
  let memory = null;
  for (let i = 0; i < 200; i += 1) {
    const p = await createPricer({ ...base, consent: 'unknown', anonId: `m-${i}` });
    throwsCoded(() => p.priceFor(throwing), 'invalid_item');
    p.track(BEHAVIOUR[0]);
    memory = p.status.wasmMemoryBytes;
    p.free();
  }
  const p = await createPricer({ ...base });
  assert.equal(p.status.wasmMemoryBytes, memory, 'the engine memory stayed flat over 200 pricers');
  p.free();
});

test('2. verifyQuote with keys fails closed: missing or bogus signatures, odd key shapes, short keys', async () => {
  const pricer = await createPricer({ ...base, consent: 'granted', anonId: 'h-2' });
  const full = pricer.priceFor(sneaker);
  const unsigned = toCheckout(full);
  const signed = toCheckout(await signQuote(full, 'k1', KEY));
  const now = unsigned.issuedAt;
  const codes = async (q, keys) => (await verifyQuote(q, sneaker, null, { now, keys })).problems.map((p) => p.code);
  assert.deepEqual(await codes(signed, { k1: KEY }), []);
  assert.deepEqual(await codes(signed, new Map([['k1', KEY]])), [], 'a Map of keys is accepted');
  assert.deepEqual(await codes(unsigned, { k1: KEY }), ['missing_signature']);
  assert.deepEqual(await codes(unsigned, new Map([['k1', KEY]])), ['missing_signature']);
  assert.deepEqual(await codes({ ...signed, sig: 'AAAA' }, { k1: KEY }), ['bad_signature']);
  assert.deepEqual(await codes({ ...signed, sig: 'not base64 !' }, { k1: KEY }), ['bad_signature']);
  // Shapes that used to require no signature at all: now refused as arguments.
  const inherited = Object.create({ k1: KEY });
  for (const keys of ['k1', {}, null, inherited, new Map(), [['k1', KEY]], 42, { k1: 42 }, { old: '' }, { old: 'short' }, new Map([['k1', 'short']])]) {
    await rejectsCoded(verifyQuote(unsigned, sneaker, null, { now, keys }), 'invalid_argument');
  }
  // A quote signed with a short key can never be signed, nor verify.
  await rejectsCoded(signQuote(full, 'k1', ''), 'invalid_argument', 'key');
  stillWorks(pricer);
});

/** A `{ load, save }` adapter standing in for one origin's storage, shared by two "tabs". */
function sharedStorage(initial = null) {
  const s = { state: initial, failing: null, load: () => { if (s.failing) throw new Error(s.failing); return s.state; }, save: (v) => { s.state = v; } };
  return s;
}

const stored = (s) => (s.state ? JSON.parse(s.state) : null);
const view = (page) => ({ type: 'page_view', page: { kind: 'product', id: page } });

test('3. two pricers on one storage (two tabs) keep each other\'s events, and forget() or opt-out wins', async () => {
  const storage = sharedStorage();
  const a = await createPricer({ ...base, consent: 'granted', storage });
  const b = await createPricer({ ...base, consent: 'granted', storage });
  for (let i = 0; i < 5; i += 1) {
    assert.equal(a.track(view(`a${i}`)).persisted, true);
    assert.equal(b.track(view(`b${i}`)).persisted, true);
  }
  assert.equal(stored(storage).events.length, 10, 'no tab overwrote the other');
  const id = stored(storage).anonId;
  assert.equal(a.exportData().anonId, id);
  assert.equal(b.exportData().anonId, id, 'the stored id no longer flips between tabs');
  a.forget();
  assert.equal(storage.state, null);
  b.track(view('after-forget'));
  assert.deepEqual(stored(storage).events.map((e) => e.page.id), ['after-forget'], 'the forgotten events were not written back');
  assert.notEqual(stored(storage).anonId, id, 'nor the forgotten id');
  // The same after consent is withdrawn in one tab.
  a.track(view('a-again'));
  assert.equal(stored(storage).events.length, 2);
  a.setConsent('denied');
  assert.equal(storage.state, null);
  b.track(view('after-optout'));
  assert.deepEqual(stored(storage).events.map((e) => e.page.id), ['after-optout']);
  stillWorks(a);
  stillWorks(b);
});

test('4. a failing or unusable storage adapter never leads to overwriting what is stored', async () => {
  const old = await createPricer({ ...base, consent: 'granted', storage: sharedStorage() });
  for (const ev of BEHAVIOUR) old.track(ev);
  const saved = old.exportData().state;
  // load() throws (a transient read error): empty for now, and nothing is written until a read works.
  const storage = sharedStorage(JSON.stringify(saved));
  storage.failing = 'disk busy';
  const p = await createPricer({ ...base, consent: 'granted', storage });
  assert.match(p.status.storage, /storage\.load\(\) threw: disk busy.*nothing is saved/);
  assert.equal(p.exportData().storageError, 'storage.load() threw: disk busy');
  assert.deepEqual(p.track(view('while-failing')).persisted, false);
  assert.deepEqual(stored(storage), saved, 'the stored log is untouched');
  storage.failing = null;
  assert.equal(p.track(view('after-recovery')).persisted, true);
  assert.equal(p.status.storage, undefined, 'the failure note is gone');
  const ids = stored(storage).events.map((e) => e.page?.id);
  assert.equal(stored(storage).events.length, saved.events.length + 2, 'the old log plus both new events');
  assert.deepEqual(ids.slice(-2), ['while-failing', 'after-recovery']);
  assert.equal(stored(storage).anonId, saved.anonId);
  // The adapter contract (synchronous, a string or null) is enforced with a clear error.
  for (const [load, what] of [[async () => null, /returned a Promise: adapters are synchronous/], [() => ({ events: [] }), /returned an object/],
    [() => Buffer.from('{}'), /returned an object/], [() => 42, /returned a number/]]) {
    await assert.rejects(createPricer({ ...base, consent: 'granted', storage: { load, save: () => {} } }), (e) => {
      assert.equal(e.code, 'invalid_argument');
      assert.equal(e.field, 'storage');
      assert.match(e.message, what);
      return true;
    });
  }
  await rejectsCoded(createPricer({ ...base, consent: 'granted', storage: { save: () => {} } }), 'invalid_argument', 'storage');
  // save() throws (a full disk): the event is kept in memory, not persisted, and the reason is shown
  // word for word until a write succeeds.
  let full = true;
  let kept = null;
  const flaky = { load: () => kept, save: (s) => { if (full) throw new Error('disk full'); kept = s; } };
  const w = await createPricer({ ...base, consent: 'granted', storage: flaky });
  assert.equal(w.track(view('on-a-full-disk')).persisted, false);
  assert.equal(w.status.storage, 'storage.save() threw: disk full');
  full = false;
  assert.equal(w.track(view('disk-freed')).persisted, true);
  assert.equal(w.status.storage, undefined, 'the failure note is gone');
  assert.deepEqual(JSON.parse(kept).events.map((e) => e.page.id).slice(-2), ['on-a-full-disk', 'disk-freed']);
});

test('5. every argument of the wrong type is a coded error, never a trap', async () => {
  const pricer = await createPricer({ ...base, consent: 'granted', anonId: 'h-5' });
  // explain(item.id) works for the ids priceFor accepts, numeric ones included.
  const numeric = { ...sneaker, id: 12345 };
  pricer.priceFor(numeric);
  assert.equal(pricer.explain(12345).itemId, '12345');
  assert.equal(pricer.explain('12345').itemId, '12345');
  for (const bad of [{}, [], null, undefined, true, 1.5, NaN, Symbol('x'), () => 1, 10n]) {
    throwsCoded(() => pricer.explain(bad), 'invalid_argument', 'itemId');
  }
  const q = pricer.priceFor(sneaker);
  for (const [keyId, key] of [[1, KEY], ['k1', 1], [null, KEY], ['k1', { toString: () => KEY }], ['k1', undefined]]) {
    await assert.rejects(signQuote(q, keyId, key), (e) => e.code === 'invalid_argument' && !/out of bounds/.test(e.message));
  }
  const bytes = readFileSync(join(ROOT, 'models', 'interest.onnx'));
  const withBadIntegrity = await createPricer({ ...base, model: { bytes, integrity: 123 } });
  assert.equal(withBadIntegrity.status.model.state, 'unavailable');
  assert.match(withBadIntegrity.status.model.reason, /integrity.*must be a string/);
  assert.doesNotMatch(withBadIntegrity.status.model.reason, /out of bounds/);
  throwsCoded(() => pricer.report(q, { converted: 'yes' }), 'invalid_argument', 'converted');
  stillWorks(pricer);
});

test('6. the item limit is checked before anything is copied into the engine', async () => {
  const pricer = await createPricer({ ...base });
  const before = pricer.status.wasmMemoryBytes;
  const t0 = performance.now();
  throwsCoded(() => pricer.pricesFor(new Array(3e7)), 'limit_exceeded', 'items');
  throwsCoded(() => pricer.edgeRequest(new Array(1001).fill(sneaker)), 'limit_exceeded', 'items');
  await rejectsCoded(tallyReports(new Array(1001).fill({})), 'limit_exceeded');
  assert.ok(performance.now() - t0 < 1000, 'refused by length, not after copying 3e7 items');
  assert.equal(pricer.status.wasmMemoryBytes, before, 'the engine memory did not grow');
  stillWorks(pricer);
});

test('7. events: a future `at` cannot freeze the session; NaN and Infinity are refused by field; retention says what it drops', async () => {
  let now = NOW;
  const pricer = await createPricer({ ...base, now: () => now, consent: 'granted', anonId: 'h-7' });
  throwsCoded(() => pricer.track({ ...view('x'), at: NOW + 23.9 * 3600e3 }), 'invalid_event', 'at');
  throwsCoded(() => pricer.track({ ...view('x'), at: NOW + 5 * 60e3 + 1 }), 'invalid_event', 'at');
  // A few minutes of clock skew is recorded at the pricer's clock, so later events still count.
  assert.equal(pricer.track({ ...view('skewed'), at: NOW + 4 * 60e3 }).stored, true);
  assert.equal(pricer.exportData().state.events[0].at, NOW);
  now += 60_000;
  pricer.track(view('later'));
  pricer.priceFor(sneaker);
  const pages = pricer.explain(sneaker.id).features.find((f) => f.name === 'product_pages');
  assert.equal(pages.raw, 2, 'both page views are in the session');
  for (const [event, field] of [[{ ...view('n'), at: NaN }, 'at'], [{ ...view('n'), dwellMs: Infinity }, 'dwellMs'],
    [{ type: 'page_view', page: { kind: 'product', exitRate: NaN } }, 'page.exitRate'], [{ ...view('n'), dwellMs: -Infinity }, 'dwellMs']]) {
    throwsCoded(() => pricer.track(event), 'invalid_event', field);
  }
  assert.deepEqual(pricer.track({ ...view('ancient'), at: 0 }), { stored: false, persisted: false, reason: 'past_retention' });
  assert.equal(pricer.status.events, 2);
  stillWorks(pricer);
});

test('7. ids must be well-formed Unicode: a lone surrogate is refused, so two ids cannot collide', async () => {
  const pricer = await createPricer({ ...base, anonId: 'h-7b' });
  const gift = { id: 'gift\ud800', price: '10.00', currency: 'EUR' };
  throwsCoded(() => pricer.priceFor(gift), 'invalid_item');
  throwsCoded(() => listQuote(gift), 'invalid_item');
  assert.equal(pricer.pricesFor([gift])[0].error.code, 'invalid_item');
  const good = pricer.priceFor({ ...gift, id: 'gift' });
  await rejectsCoded(verifyQuote(toCheckout(good), { ...gift, id: 'gift\udbff' }), 'invalid_item');
  await rejectsCoded(verifyQuote({ ...toCheckout(good), itemId: 'gift\ud800' }, { ...gift, id: 'gift' }), 'invalid_quote');
  throwsCoded(() => pricer.track({ ...view('p\udfff') }), 'invalid_event');
  stillWorks(pricer);
});

test('7. exclusions and category caps match the catalog without regard to case; a policy naming one twice by case is refused', async () => {
  const pricer = await createPricer({ ...base, consent: 'granted', anonId: 'h-7c' });
  for (const ev of BEHAVIOUR) pricer.track(ev);
  assert.equal(pricer.priceFor({ ...sneaker, id: 'w', category: 'Luxury' }).reason, 'excluded');
  assert.equal(pricer.priceFor({ ...sneaker, id: 't', tags: ['NO-DISCOUNT'] }).reason, 'excluded');
  const tv = { id: 'tv', price: '999.99', currency: 'EUR', category: 'Electronics' };
  const q = pricer.priceFor(tv);
  assert.ok(q.discountMinor <= Math.floor(99999 * POLICY.caps.categoryPercent.electronics / 100), `the 10 % cap holds: ${q.discountMinor}`);
  const explained = pricer.explain('tv');
  assert.equal(explained.bounds.cap, POLICY.caps.categoryPercent.electronics);
  // verifyQuote applies the same rule at checkout.
  const lux = { ...sneaker, category: 'LUXURY' };
  const discounted = toCheckout(pricer.priceFor(sneaker));
  if (discounted.discountMinor > 0) {
    const v = await verifyQuote(discounted, lux, null, { now: discounted.issuedAt });
    assert.ok(v.problems.some((p) => p.code === 'excluded_item_discounted'));
  }
  await rejectsCoded(createPricer({ ...base, policy: { ...POLICY, caps: { globalPercent: 20, categoryPercent: { Shoes: 10, shoes: 15 } } } }), 'invalid_policy', 'caps.categoryPercent');
  await rejectsCoded(createPricer({ ...base, policy: { ...POLICY, exclusions: { ...POLICY.exclusions, tags: ['Sale', 'sale'] } } }), 'invalid_policy', 'exclusions.tags');
});

test('7. the report tally refuses days that are not real dates or lie in the future', async () => {
  const pricer = await createPricer({ ...base, now: () => Date.now(), consent: 'granted', anonId: 'h-7d' });
  let report = null;
  for (let i = 0; i < 20 && !report; i += 1) report = pricer.report(pricer.priceFor({ ...sneaker, id: `r${i}` }), { converted: false }).report;
  assert.ok(report, 'a report was made');
  const tally = await tallyReports([report]);
  assert.equal(tally.n, 1);
  for (const day of ['2026-13-45', '2026-02-30', '9999-12-31', '1999-12-31', '2026-1-01']) {
    await rejectsCoded(tallyReports([{ ...report, day }]), 'invalid_report', 'reports[0]');
  }
  assert.equal((await estimates(tally)).reports, 1);
});

/** A seeded generator of JS values of every type, hostile ones included. */
function values(seed) {
  let s = seed >>> 0;
  const rand = () => { s ^= s << 13; s ^= s >>> 17; s ^= s << 5; return (s >>> 0) / 2 ** 32; };
  const pick = (list) => list[Math.floor(rand() * list.length)];
  const leaf = () => pick([
    () => undefined, () => null, () => true, () => 0, () => -1, () => NaN, () => Infinity, () => 1e300, () => 2 ** 53, () => 3.5,
    () => '', () => 'x', () => '\ud800', () => 'sneaker-1', () => '89.99', () => 'EUR', () => 10n, () => Symbol('s'), () => () => 1,
    () => new Uint8Array(3), () => new Map([['k', 'v']]), () => new Date(0),
    () => { const r = Proxy.revocable({}, {}); r.revoke(); return r.proxy; },
    () => ({ get id() { throw new Error('boom'); } }),
    () => new Proxy({}, { get() { throw new WebAssembly.RuntimeError('unreachable'); }, ownKeys() { throw new Error('keys'); } }),
    () => ({ ...sneaker }), () => ({ ...sneaker, price: pick(['-1', 1e308, NaN, '1e2']) }), () => view('v'), () => [sneaker],
  ])();
  const value = (depth = 0) => {
    const r = rand();
    if (depth > 2 || r < 0.5) return leaf();
    if (r < 0.75) return Array.from({ length: Math.floor(rand() * 4) }, () => value(depth + 1));
    const o = {};
    for (const k of ['id', 'price', 'currency', 'type', 'page', 'items', 'features', 'featureNames', 'keys', 'quantity', 'now', 'converted']) {
      if (rand() < 0.3) o[k] = value(depth + 1);
    }
    return o;
  };
  return value;
}

test('property: every export called with random JS values gives a coded error or a result, never a trap or a bricked pricer', async () => {
  const value = values(20261130);
  const pricer = await createPricer({ ...base, consent: 'granted', anonId: 'prop', storage: sharedStorage() });
  const resets = pricer.status.engineResets;
  const calls = {
    priceFor: (a) => pricer.priceFor(a),
    pricesFor: (a) => pricer.pricesFor(a),
    track: (a) => pricer.track(a),
    explain: (a) => pricer.explain(a),
    edgeRequest: (a) => pricer.edgeRequest(a),
    priceFromFeatures: (a) => pricer.priceFromFeatures(a),
    report: (a, b) => pricer.report(a, b),
    setConsent: (a) => pricer.setConsent(a),
    listQuote: (a, b) => listQuote(a, b),
    quoteBeforeReady: (a, b) => quoteBeforeReady(a, b),
    adoptQuote: (a, b) => pricer.adoptQuote(a, b),
    toCheckout: (a) => toCheckout(a),
    verifyQuote: (a, b, c, d) => verifyQuote(a, b, c, d),
    signQuote: (a, b, c) => signQuote(a, b, c),
    tallyReports: (a, b, c) => tallyReports(a, b, c),
    estimates: (a, b) => estimates(a, b),
    mergeTallies: (a, b) => mergeTallies(a, b),
    proposePolicy: (a, b, c) => proposePolicy(a, b, c),
    createPricer: (a) => createPricer(a).then((p) => p.free()),
  };
  let results = 0;
  let errors = 0;
  for (let i = 0; i < 3000; i += 1) {
    for (const [name, call] of Object.entries(calls)) {
      if (name === 'createPricer' && i % 25 !== 0) continue;
      const args = [value(), value(), value(), value()];
      try {
        await call(...args);
        results += 1;
      } catch (e) {
        errors += 1;
        assert.ok(!(e instanceof WebAssembly.RuntimeError), `${name}: a trap escaped: ${e.message}`);
        assert.equal(typeof e.code, 'string', `${name}(${args.map((a) => typeof a)}): an error without a code: ${e.message}`);
        assert.doesNotMatch(e.message, /recursive use|unsafe aliasing|out of bounds|ownership/, name);
      }
    }
    if (pricer.status.consent !== 'granted') pricer.setConsent('granted');
  }
  assert.ok(results > 1000 && errors > 1000, `both outcomes were exercised (${results} results, ${errors} errors)`);
  assert.equal(pricer.status.engineResets, resets, 'no call trapped the engine');
  stillWorks(pricer, resets);
  pricer.forget();
  pricer.free();
});

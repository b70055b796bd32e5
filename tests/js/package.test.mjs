// The built package in Node, through its public entry (`pricelet` → js/node.js): equality with the
// native CLI, every row of the failure table (README "Errors and failure modes"), persistence, consent, GPC, forget, and
// the absence of any network-capable import.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ROOT } from '../../scripts/setup.mjs';
import { createPricer, estimates, listQuote, policyRules, signQuote, tallyReports, toCheckout, validatePolicy, verifyQuote } from '../../js/node.js';
import * as glue from '../../dist/pricelet_server.js';

const NOW = 1795950160000;
const MODEL = join(ROOT, 'models', 'interest.onnx');
const ITEMS = JSON.parse(readFileSync(join(ROOT, 'tests/fixtures/items.json'), 'utf8'));
const BEHAVIOUR = JSON.parse(readFileSync(join(ROOT, 'tests/fixtures/behaviour.json'), 'utf8'));
const POLICY = JSON.parse(readFileSync(join(ROOT, 'policy/default.json'), 'utf8'));
const CLI = join(ROOT, 'target', 'debug', 'pricelet');
const sneaker = ITEMS[0];

const base = { anonId: 'shopper-42', now: () => NOW, utcOffsetMinutes: 0, stabilityTtlMs: 0 };

function memoryAdapter(initial = null) {
  const a = { state: initial, saves: 0, load: () => a.state, save: (s) => { a.saves += 1; a.state = s; } };
  return a;
}

function rejectsWith(promise, code, field) {
  return assert.rejects(promise, (e) => {
    assert.equal(e.code, code, e.message);
    if (field !== undefined) assert.equal(e.field, field, e.message);
    return true;
  });
}

function throwsWith(fn, code, field) {
  assert.throws(fn, (e) => {
    assert.equal(e.code, code, e.message);
    if (field !== undefined) assert.equal(e.field, field, e.message);
    return true;
  });
}

test('quotes equal the native CLI for the same model, policy, behaviour, items, clock and id', async () => {
  const cli = JSON.parse(execFileSync(CLI, ['price', '--model', MODEL, '--behaviour', 'tests/fixtures/behaviour.json',
    '--items', 'tests/fixtures/items.json', '--now', String(NOW), '--anon-id', 'shopper-42', '--stability-ttl-ms', '0'], { cwd: ROOT }));
  const pricer = await createPricer({ ...base, consent: 'granted' });
  for (const ev of BEHAVIOUR) assert.equal(pricer.track(ev).stored, true);
  const js = pricer.pricesFor(ITEMS);
  assert.equal(js.length, cli.length);
  let personalized = 0;
  for (const [a, b] of js.map((q, i) => [q, cli[i]])) {
    if (b.error) {
      assert.deepEqual(a.error, b.error);
      continue;
    }
    for (const f of ['itemId', 'currency', 'listPriceMinor', 'priceMinor', 'discountMinor', 'reason', 'variant', 'quoteId', 'label', 'propensity', 'issuedAt', 'expiresAt']) {
      assert.deepEqual(a[f], b[f], `${a.itemId}.${f}`);
    }
    // The native CLI runs tract's x86-64 kernels and the wasm its simd128 ones: interests agree to
    // f32 rounding, not bit for bit. Prices and quote ids are equal because no fixture item sits
    // near a decision edge: the chosen price beats the next best by more than 0.01 % of expected
    // profit, which an interest difference of 1e-6 cannot overturn.
    if (b.interest !== null) assert.ok(Math.abs(a.interest - b.interest) <= 1e-6, `${a.itemId}.interest`);
    const profits = [...(pricer.explain(a.itemId).choice?.expectedProfit ?? [])].sort((x, y) => y - x);
    if (profits.length > 1) assert.ok(profits[0] > profits[1] * (1 + 1e-4), `${a.itemId} is away from a decision edge: ${profits.slice(0, 2)}`);
    if (a.reason === 'personalized' && a.discountMinor > 0) personalized += 1;
  }
  assert.ok(personalized >= 2, 'the fixture exercises personalized discounts, away from decision edges');
  pricer.free();
});

test('failure table: bad item throws with code and field; in a batch the slot carries the error', async () => {
  const pricer = await createPricer(base);
  throwsWith(() => pricer.priceFor({ ...sneaker, price: '12.345' }), 'invalid_price', 'price');
  throwsWith(() => pricer.priceFor({ ...sneaker, currency: 'XXX' }), 'unknown_currency', 'currency');
  throwsWith(() => pricer.priceFor({ price: 1, currency: 'EUR' }), 'invalid_item', 'id');
  throwsWith(() => pricer.priceFor('sneaker'), 'invalid_item');
  const out = pricer.pricesFor([sneaker, { id: 'x', price: -1, currency: 'EUR' }]);
  assert.equal(typeof out[0].quoteId, 'string');
  assert.deepEqual(out[1], { itemId: 'x', error: { code: 'invalid_price', message: out[1].error.message, field: 'price' } });
  assert.match(out[1].error.message, /negative/);
  pricer.free();
});

test('failure table: bad event throws with code and field, the log is unchanged', async () => {
  const pricer = await createPricer({ ...base, consent: 'granted' });
  pricer.track(BEHAVIOUR[0]);
  const before = pricer.exportData();
  throwsWith(() => pricer.track({ type: 'page_view', page: { kind: 'product', bounceRate: 3 } }), 'invalid_event', 'page.bounceRate');
  throwsWith(() => pricer.track({ type: 'teleport' }), 'invalid_event', 'type');
  throwsWith(() => pricer.track({ type: 'purchase', amount: 5 }), 'invalid_event', 'currency');
  assert.deepEqual(pricer.exportData(), before);
  pricer.free();
});

test('failure table: bad policy rejects createPricer with invalid_policy naming the field', async () => {
  await rejectsWith(createPricer({ policy: { ...POLICY, discountSteps: [10, 5] } }), 'invalid_policy', 'discountSteps[1]');
  await rejectsWith(createPricer({ policy: { ...POLICY, strategy: { type: 'expectedProfit', beta: 'high' } } }), 'invalid_policy', 'strategy.beta');
  await rejectsWith(createPricer({ policy: { ...POLICY, caps: { globalPercent: 20, surprise: 1 } } }), 'invalid_policy', 'caps.surprise');
  await rejectsWith(createPricer({ policy: join(ROOT, 'no-such-policy.json') }), 'invalid_policy', 'policy');
  const custom = await createPricer({ policy: { ...POLICY, version: 'custom-1' } });
  assert.equal(custom.policy.version, 'custom-1');
  assert.equal((await createPricer()).policy.version, POLICY.version, 'the bundled default');
});

test('validatePolicy reads a policy as a pricer does, and refuses what createPricer refuses, with the same words', async () => {
  // caps.categoryPercent left out: a default the engine spells out.
  const custom = { ...POLICY, version: 'custom-2', caps: { globalPercent: POLICY.caps.globalPercent } };
  const pricer = await createPricer({ model: null, policy: custom });
  assert.deepEqual(await validatePolicy(custom), pricer.policy);
  assert.deepEqual((await validatePolicy(custom)).caps.categoryPercent, {}, 'defaults filled in');
  assert.deepEqual(await validatePolicy(null), (await createPricer({ model: null })).policy, 'null: the bundled default');
  for (const bad of [{ ...POLICY, discountSteps: [10, 5] }, { ...POLICY, caps: { globalPercent: 20, surprise: 1 } }, { ...POLICY, version: 'v'.repeat(65) }, 'not a policy {', 42]) {
    const viaPricer = await createPricer({ model: null, policy: bad }).then(() => null, (e) => e);
    const viaCheck = await validatePolicy(bad).then(() => null, (e) => e);
    assert.ok(viaCheck, `refused: ${JSON.stringify(bad).slice(0, 40)}`);
    if (viaPricer && typeof bad === 'object') {
      assert.equal(viaCheck.code, viaPricer.code); // invalid_policy, or limit_exceeded for the long version
      assert.equal(viaCheck.message, viaPricer.message);
      assert.equal(viaCheck.field, viaPricer.field);
    }
  }
  assert.equal((await validatePolicy('not a policy {').catch((e) => e)).code, 'invalid_policy');
  // The rules a collector applies, read from the engine (the Worker's /report and loop use them).
  assert.deepEqual(await policyRules(POLICY), { reportsPerDevicePerDay: Math.floor(POLICY.reporting.dailyEpsilon / POLICY.reporting.epsilon), graceWhenReplacedMs: POLICY.quoteTtlMs });
  const { reporting, ...silent } = POLICY;
  assert.equal((await policyRules(silent)).reportsPerDevicePerDay, null, 'no reporting section: no reports');
  assert.equal((await policyRules({ ...POLICY, reporting: { ...reporting, epsilon: 0.1, dailyEpsilon: 0.7 } })).reportsPerDevicePerDay, 7, 'float sums allowed for');
  // A hostile object fails in JavaScript, never inside the engine.
  const hostile = { get version() { throw new Error('boom'); } };
  await assert.rejects(validatePolicy(hostile), (e) => e.code === 'invalid_policy');
});

test('failure table: a bad, missing or unrunnable model resolves with model_unavailable and says why', async () => {
  const bytes = readFileSync(MODEL);
  const cases = [
    [{ model: new Uint8Array([1, 2, 3]) }, /not an ONNX model/],
    [{ model: join(ROOT, 'models', 'missing.onnx') }, /could not be loaded/],
    [{ model: { bytes, integrity: 'sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=' } }, /does not match/],
    [{ model: null }, /no interest model/],
  ];
  for (const [opts, why] of cases) {
    const pricer = await createPricer({ ...base, ...opts });
    const q = pricer.priceFor(sneaker);
    assert.equal(q.reason, 'model_unavailable');
    assert.equal(q.priceMinor, 8999);
    const status = pricer.status;
    assert.equal(status.personalization, 'off');
    assert.match(status.model.reason ?? q.explanation, why);
  }
  const ok = await createPricer({ ...base, model: { bytes, integrity: (await createPricer()).status.model.info.integrity } });
  assert.equal(ok.status.model.state, 'ready');
  const wrongSlot = await createPricer({ ...base, upliftModel: bytes });
  assert.match(wrongSlot.status.upliftModel.reason, /pass it as `model`/);
});

test('failure table: a wasm trap resets the engine; that call is list price with engine_reset, nothing is lost', async () => {
  const adapter = memoryAdapter();
  const pricer = await createPricer({ ...base, consent: 'granted', storage: adapter });
  for (const ev of BEHAVIOUR) pricer.track(ev);
  const before = pricer.priceFor(sneaker);
  const resets = pricer.status.engineResets;
  assert.equal(pricer._forceTrap(), 'engine_reset');
  assert.equal(pricer.status.engineResets, resets + 1);
  assert.equal(pricer.status.events, BEHAVIOUR.length, 'state restored from storage');
  assert.deepEqual(pricer.priceFor(sneaker), before, 'the next call prices as before');
  // A trap in the middle of a priceFor call answers that call with a list-price quote. (The
  // engine's priceFor is made to trap once: nothing a caller passes can make the engine trap.)
  const other = await createPricer({ ...base, consent: 'unknown' });
  other.track(BEHAVIOUR[0]);
  const real = glue.WasmPricer.prototype.priceFor;
  glue.WasmPricer.prototype.priceFor = function trapOnce() {
    glue.WasmPricer.prototype.priceFor = real;
    glue.__forceTrap();
  };
  const q = other.priceFor(sneaker);
  assert.equal(glue.WasmPricer.prototype.priceFor, real);
  assert.equal(q.reason, 'engine_reset');
  assert.equal(q.priceMinor, q.listPriceMinor);
  assert.equal(other.status.events, 1, "the page-session memory survives the reset");
  assert.equal(other.priceFor(sneaker).reason === 'engine_reset', false);
});

test('after an engine reset, collecting the old instance\'s objects never frees memory of the new one', async () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc');
  const tick = () => new Promise((r) => setImmediate(r));
  // Several pricers with state, so the new instance's allocations sit where the old pointers pointed.
  const pricers = await Promise.all([0, 1, 2, 3].map(() => createPricer({ ...base, consent: 'unknown' })));
  for (const p of pricers) for (const ev of BEHAVIOUR) p.track(ev);
  const before = pricers.map((p) => p.pricesFor(ITEMS));
  const resets = pricers[0].status.engineResets;
  assert.equal(pricers[0]._forceTrap(), 'engine_reset');
  // Every pricer re-creates its engine object on its next call; the old ones become garbage.
  const after = pricers.map((p) => p.pricesFor(ITEMS));
  assert.deepEqual(after, before, 'the same quotes on the new instance');
  for (let i = 0; i < 5; i++) { gc(); await tick(); }
  // Had a finalizer freed an old pointer in the new instance, these pricers would now be corrupt.
  for (let round = 0; round < 3; round++) {
    for (const p of pricers) p.track({ ...BEHAVIOUR[0], at: NOW - 1000 + round });
    const again = pricers.map((p) => p.pricesFor(ITEMS));
    for (const [i, quotes] of again.entries()) {
      assert.equal(quotes.length, ITEMS.length);
      const bad = quotes.find((q, j) => q.reason === 'engine_reset' || (q.error && !before[i][j].error)); // ITEMS has one bad item on purpose
      assert.equal(bad, undefined, `pricer ${i}: ${JSON.stringify(bad)}`);
    }
    gc(); await tick();
  }
  assert.equal(pricers[0].status.engineResets, resets + 1, 'no further trap');
  for (const p of pricers) p.free();
});

test('failure table: corrupt, foreign or newer stored state is discarded with a reason; pricing continues', async () => {
  const states = [
    ['{broken', /not valid JSON/],
    ['{"some":"other app"}', /not written by pricelet/],
    ['{"schema":"pricelet/behaviour","version":7,"events":[]}', /newer/],
    [JSON.stringify({ schema: 'pricelet/behaviour', version: 1, events: [{ type: 'page_view', at: NOW, page: { kind: 'product', exitRate: 9 } }] }), /dropped 1/],
  ];
  for (const [state, why] of states) {
    const adapter = memoryAdapter(state);
    const pricer = await createPricer({ ...base, consent: 'granted', storage: adapter });
    assert.match(pricer.status.state.reason, why);
    assert.equal(pricer.priceFor(sneaker).itemId, 'sneaker-1');
    // Storage now holds what the engine uses: nothing after a discard, the repaired log after a repair.
    if (pricer.status.state.outcome === 'discarded') {
      assert.equal(adapter.state, null, `${why}: the unusable state is removed`);
      assert.equal(pricer.exportData().state, null);
    } else {
      assert.equal(pricer.status.state.outcome, 'repaired');
      assert.deepEqual(JSON.parse(adapter.state).events, [], `${why}: the repaired state is written back`);
      assert.deepEqual(pricer.exportData().state.events, []);
    }
  }
});

test('failure table: limits are refused with limit_exceeded, never truncated', async () => {
  const pricer = await createPricer(base);
  throwsWith(() => pricer.pricesFor(Array.from({ length: 1001 }, () => sneaker)), 'limit_exceeded', 'items');
  throwsWith(() => pricer.priceFor({ ...sneaker, id: 'x'.repeat(129) }), 'limit_exceeded', 'id');
  throwsWith(() => pricer.track({ type: 'add_to_cart', itemId: 'x'.repeat(129) }), 'limit_exceeded', 'itemId');
  await rejectsWith(createPricer({ policy: { ...POLICY, exclusions: { itemIds: Array.from({ length: 300 }, (_, i) => `i${i}`) } } }), 'limit_exceeded', 'exclusions.itemIds');
});

test('persistence round trip through a storage adapter (consent granted)', async () => {
  const adapter = memoryAdapter();
  const first = await createPricer({ ...base, consent: 'granted', storage: adapter, anonId: undefined });
  for (const ev of BEHAVIOUR) assert.equal(first.track(ev).persisted, true);
  const q1 = first.priceFor(sneaker);
  const saved = JSON.parse(adapter.state);
  assert.equal(saved.schema, 'pricelet/behaviour');
  assert.equal(saved.events.length, BEHAVIOUR.length);
  const second = await createPricer({ ...base, consent: 'granted', storage: adapter, anonId: undefined });
  assert.equal(second.status.state.outcome, 'loaded');
  assert.deepEqual(second.exportData().state, first.exportData().state);
  assert.equal(second.exportData().anonId, first.exportData().anonId, 'the anonymous id persists with consent');
  assert.deepEqual(second.priceFor(sneaker), q1);
});

test('consent modes: unknown keeps nothing in storage, denied tracks nothing and erases, granted persists', async () => {
  const unknownStore = memoryAdapter();
  const unknown = await createPricer({ ...base, consent: 'unknown', storage: unknownStore });
  assert.deepEqual(unknown.track(BEHAVIOUR[0]), { stored: true, persisted: true });
  assert.equal(unknownStore.saves, 0, 'nothing reaches the storage adapter');
  assert.equal(unknown.status.events, 1, 'kept for this page session');
  assert.equal(unknown.status.persistence, 'memory');
  const reloaded = await createPricer({ ...base, consent: 'unknown', storage: unknownStore });
  assert.equal(reloaded.status.events, 0, 'nothing survives a reload');

  const existing = memoryAdapter(JSON.stringify({ schema: 'pricelet/behaviour', version: 1, events: [] }));
  const denied = await createPricer({ ...base, consent: 'denied', storage: existing });
  assert.equal(existing.state, null, 'what an earlier visit stored is erased');
  assert.deepEqual(denied.track(BEHAVIOUR[0]), { stored: false, reason: 'no_consent', persisted: false });
  const q = denied.priceFor(sneaker);
  assert.equal(q.reason, 'no_consent');
  assert.equal(q.interest, null);
  assert.equal(denied.exportData().state, null);

  // Granting consent later moves the session's behaviour into storage; denying erases it.
  const later = memoryAdapter();
  const p = await createPricer({ ...base, consent: 'unknown', storage: later });
  p.track(BEHAVIOUR[0]);
  p.setConsent('granted');
  assert.equal(JSON.parse(later.state).events.length, 1);
  p.setConsent('denied');
  assert.equal(later.state, null);
  assert.equal(p.priceFor(sneaker).reason, 'no_consent');
  throwsWith(() => p.setConsent('maybe'), 'invalid_argument', 'consent');
  await rejectsWith(createPricer({ consent: 'yes' }), 'invalid_argument', 'consent');
});

test('Global Privacy Control: every quote opted_out, nothing tracked; respectGlobalPrivacyControl:false ignores it', async () => {
  const had = Object.getOwnPropertyDescriptor(globalThis, 'navigator');
  Object.defineProperty(globalThis, 'navigator', { value: { globalPrivacyControl: true }, configurable: true });
  try {
    const pricer = await createPricer({ ...base, consent: 'granted' });
    assert.ok(pricer.pricesFor(ITEMS.slice(0, 4)).every((q) => q.reason === 'opted_out' && q.discountMinor === 0));
    assert.deepEqual(pricer.track(BEHAVIOUR[0]), { stored: false, reason: 'opted_out', persisted: false });
    assert.equal(pricer.status.globalPrivacyControl, true);
    const ignoring = await createPricer({ ...base, consent: 'granted', respectGlobalPrivacyControl: false });
    assert.notEqual(ignoring.priceFor(sneaker).reason, 'opted_out');
  } finally {
    if (had) Object.defineProperty(globalThis, 'navigator', had);
    else delete globalThis.navigator;
  }
});

test('a policy file that is not UTF-8 is refused, never read with U+FFFD in place of its letters', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pricelet-policy-'));
  try {
    const policy = { ...POLICY, exclusions: { ...POLICY.exclusions, categories: ['bijouterie-précieuse'] } };
    const latin1 = join(dir, 'latin1.json');
    writeFileSync(latin1, Buffer.from(JSON.stringify(policy), 'latin1'));
    await rejectsWith(createPricer({ ...base, policy: latin1 }), 'invalid_policy', 'policy');
    await assert.rejects(createPricer({ ...base, policy: latin1 }), /not UTF-8 text; save the policy file as UTF-8/);
    // The same policy saved as UTF-8 loads, and its exclusion holds.
    const utf8 = join(dir, 'utf8.json');
    writeFileSync(utf8, JSON.stringify(policy), 'utf8');
    const pricer = await createPricer({ ...base, policy: utf8 });
    assert.deepEqual(pricer.policy.exclusions.categories, ['bijouterie-précieuse']);
    assert.equal(pricer.priceFor({ id: 'ring', price: '300.00', currency: 'EUR', category: 'bijouterie-précieuse' }).reason, 'excluded');
    pricer.free();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('forget() deletes behaviour and the id everywhere and returns cold-start prices', async () => {
  const adapter = memoryAdapter();
  const pricer = await createPricer({ ...base, consent: 'granted', storage: adapter, anonId: undefined });
  const cold = pricer.priceFor(sneaker);
  // The random id is in the control group (10 %) or explores (5 %) now and then; otherwise cold start.
  assert.ok(['cold_start', 'control', 'explore'].includes(cold.reason), cold.reason);
  assert.equal(cold.personalized, false, 'no behaviour: not personalized');
  assert.ok(cold.interest !== null, 'the model was consulted');
  assert.deepEqual([pricer.exportData().state, pricer.exportData().storedBytes], [null, 0], 'nothing stored yet');
  for (const ev of BEHAVIOUR) pricer.track(ev);
  const { anonId: id, state } = pricer.exportData();
  assert.equal(state.events.length, BEHAVIOUR.length);
  assert.equal(JSON.parse(adapter.state).anonId, id, 'exportData shows what the adapter holds');
  assert.notEqual(pricer.priceFor(sneaker).interest, cold.interest);
  pricer.forget();
  assert.equal(adapter.state, null);
  assert.equal(pricer.status.events, 0);
  assert.deepEqual([pricer.exportData().state, pricer.exportData().anonId], [null, null]);
  // Cold-start prices again (the new random id may land in the control group or explore).
  const after = pricer.priceFor(sneaker);
  assert.equal(after.interest, cold.interest);
  assert.ok(['cold_start', 'control', 'explore'].includes(after.reason), after.reason);
  pricer.track(BEHAVIOUR[0]);
  assert.notEqual(pricer.exportData().anonId, id, 'a new anonymous id');
});

test('explain(), checkout payload, verification and signatures', async () => {
  const pricer = await createPricer({ ...base, consent: 'granted' });
  for (const ev of BEHAVIOUR) pricer.track(ev);
  const q = pricer.priceFor(sneaker);
  const ex = pricer.explain('sneaker-1');
  assert.equal(ex.quote.quoteId, q.quoteId);
  assert.ok(ex.candidates.length > 1 && ex.features.length > 10);
  throwsWith(() => pricer.explain('never-priced'), 'unknown_item', 'itemId');
  const checkout = toCheckout(q);
  for (const secret of ['interest', 'explanation', 'propensity', 'label', 'personalized']) assert.equal(secret in checkout, false, secret);
  assert.deepEqual(await verifyQuote(checkout, sneaker, null, { now: NOW }), { ok: true, problems: [] });
  const tampered = { ...checkout, priceMinor: checkout.priceMinor - 500, discountMinor: checkout.discountMinor + 500 };
  const v = await verifyQuote(tampered, sneaker, null, { now: NOW });
  assert.equal(v.ok, false);
  assert.ok(v.problems.some((p) => p.code === 'quote_id_mismatch'));
  const signed = await signQuote(q, 'k1', 'a-secret-of-at-least-16-bytes');
  assert.equal((await verifyQuote(toCheckout(signed), sneaker, null, { now: NOW, keys: { k1: 'a-secret-of-at-least-16-bytes' } })).ok, true);
  assert.equal((await verifyQuote(toCheckout(signed), sneaker, null, { now: NOW, keys: { k1: 'another-secret-of-16-bytes' } })).ok, false);
});

test('listQuote() works synchronously from the lite engine and equals the engine\'s list quote', async () => {
  // A fresh Node process: nothing has loaded the engine yet.
  const script = `import { listQuote, toCheckout } from ${JSON.stringify(join(ROOT, 'js', 'node.js'))};
    const q = listQuote(${JSON.stringify(sneaker)}, { now: ${NOW} });
    console.log(JSON.stringify({ q, c: toCheckout(q) }));`;
  const { q, c } = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script]).toString());
  assert.equal(q.reason, 'list');
  assert.equal(q.priceMinor, 8999);
  await createPricer(base);
  assert.deepEqual(listQuote(sneaker, { now: NOW }), q, 'lite and full engines agree');
  assert.deepEqual(toCheckout(q), c);
  throwsWith(() => listQuote({ ...sneaker, price: 'abc' }), 'invalid_price', 'price');
});

test('no network: the wasm imports nothing network-capable; the JS fetches only files the caller names', () => {
  for (const wasm of ['pricelet_bg.wasm', 'pricelet_server_bg.wasm']) {
    const module = new WebAssembly.Module(readFileSync(join(ROOT, 'dist', wasm)));
    const imports = WebAssembly.Module.imports(module).map((i) => i.name.replace(/_[0-9a-f]{16}$/, ''));
    assert.ok(imports.length > 10);
    const network = /fetch|xmlhttp|websocket|beacon|eventsource|request|response|open|send|import|worker|url/i;
    assert.deepEqual(imports.filter((n) => network.test(n)), [], wasm);
  }
  const fetches = { 'node.js': 1, 'web.js': 2, 'workerd.js': 1 };
  for (const file of readdirSync(join(ROOT, 'js')).filter((f) => f.endsWith('.js'))) {
    const src = readFileSync(join(ROOT, 'js', file), 'utf8');
    assert.equal((src.match(/\bfetch\(/g) ?? []).length, fetches[file] ?? 0, `js/${file}: fetch() only in readBytes/loadModule`);
    assert.doesNotMatch(src, /XMLHttpRequest|WebSocket|sendBeacon|EventSource|navigator\.send/);
  }
  for (const glue of ['dist/pricelet.js', 'dist/pricelet_server.js', 'dist/lite.js']) {
    const src = readFileSync(join(ROOT, glue), 'utf8');
    const start = src.indexOf('async function __wbg_init(');
    const before = src.slice(0, src.indexOf('function __wbg_load') === -1 ? start : src.indexOf('async function __wbg_load'));
    assert.equal((before.match(/fetch\(/g) ?? []).length, 0, `${glue}: fetch only in the wasm loader`);
    assert.doesNotMatch(src, /XMLHttpRequest|WebSocket|sendBeacon|EventSource/);
  }
});

test('bundled models: the behaviour-only interest model and the uplift model are selectable by option', async () => {
  const behaviour = await createPricer({ ...base, consent: 'granted', bundledModel: 'interest-behaviour' });
  const features = behaviour.status.model.info.features;
  assert.ok(features.includes('product_seconds') && !features.includes('page_value_avg'), features.join(','));
  const full = await createPricer({ ...base, consent: 'granted' });
  assert.ok(full.status.model.info.features.includes('page_value_avg'));
  const withUplift = await createPricer({ ...base, consent: 'granted', bundledUpliftModel: true });
  assert.equal(withUplift.status.upliftModel.state, 'ready');
  assert.equal(withUplift.status.upliftModel.info.kind, 'uplift');
  for (const p of [full, withUplift]) for (const ev of BEHAVIOUR) p.track(ev);
  withUplift.priceFor(sneaker);
  const ex = withUplift.explain('sneaker-1');
  assert.equal(typeof ex.uplift, 'number');
  assert.equal(typeof ex.beta, 'number', 'the uplift model sets the shopper\'s β');
  full.priceFor(sneaker);
  assert.equal(full.explain('sneaker-1').beta, null);
  await rejectsWith(createPricer({ bundledModel: 'interest-v9' }), 'invalid_argument', 'bundledModel');
});

test('measurement reports: consent required, exactly the listed fields, the daily ε budget persists, tallies refuse other setups', async () => {
  const { epsilon, dailyEpsilon } = POLICY.reporting;
  const unknown = await createPricer({ ...base, consent: 'unknown' });
  assert.equal(unknown.report(unknown.priceFor(sneaker)).reason, 'no_consent');
  const adapter = memoryAdapter();
  const device = await createPricer({ ...base, consent: 'granted', storage: adapter });
  const quote = device.priceFor(sneaker);
  const made = [];
  for (let i = 0; i < Math.floor(dailyEpsilon / epsilon); i++) {
    const out = device.report(quote, { converted: i === 0 });
    assert.ok(out.report, JSON.stringify(out));
    assert.deepEqual(Object.keys(out.report).sort(), ['bits', 'day', 'domain', 'domainVersion', 'epsilon', 'mechanism']);
    assert.equal(out.report.epsilon, epsilon);
    assert.equal(out.epsilonSpentToday, epsilon * (i + 1));
    made.push(out.report);
  }
  const spent = device.report(quote);
  assert.deepEqual([spent.report, spent.reason], [null, 'daily_budget_exhausted']);
  // A reload (a new pricer on the same storage) does not hand out a fresh budget.
  const again = await createPricer({ ...base, consent: 'granted', storage: adapter });
  assert.equal(again.report(again.priceFor(sneaker)).reason, 'daily_budget_exhausted');
  // The next local day has a new budget.
  const tomorrow = await createPricer({ ...base, now: () => NOW + 86_400_000, consent: 'granted', storage: adapter });
  assert.ok(tomorrow.report(tomorrow.priceFor(sneaker)).report);
  assert.throws(() => device.report(quote, { converted: 'yes' }), (e) => e.code === 'invalid_argument');
  assert.throws(() => device.report({ itemId: 'x' }), (e) => e.code === 'invalid_quote');
  // Tallies: all or nothing, and only reports of the policy's setup.
  const tally = await tallyReports(made);
  assert.equal(tally.n, made.length);
  await assert.rejects(tallyReports([made[0], { ...made[1], epsilon: epsilon * 2 }], tally), (e) => e.code === 'invalid_report' && e.field === 'reports[1]');
  await assert.rejects(tallyReports(made, { ...tally, ones: [1, 2] }), (e) => e.code === 'invalid_report' && e.field === 'tally');
  const readout = await estimates(await tallyReports(made.slice(1), tally));
  assert.equal(readout.reports, 2 * made.length - 1);
  assert.equal(readout.epsilon, epsilon);
  await assert.rejects(estimates(null), (e) => e.code === 'invalid_report');
  for (const p of [unknown, device, again, tomorrow]) p.free();
});

test('verifyQuote refuses a quantity that is not a positive whole number, and every number crossing into the engine is checked', async () => {
  const pricer = await createPricer({ ...base, consent: 'granted' });
  for (const ev of BEHAVIOUR) pricer.track(ev);
  const quote = toCheckout(pricer.priceFor(sneaker));
  const options = { now: quote.issuedAt };
  const codes = async (extra) => (await verifyQuote(quote, sneaker, undefined, { ...options, ...extra })).problems.map((p) => p.code);
  assert.deepEqual(await codes({}), []);
  assert.deepEqual(await codes({ quantity: POLICY.maxQuantityPerOrder }), []);
  // Refused, not coerced: the wasm boundary once clamped and truncated these to ok: true.
  for (const quantity of [-3, 0, NaN, Infinity, 10.9, '5', null, true, [2], { n: 2 }, 2 ** 53]) {
    assert.deepEqual(await codes({ quantity }), ['invalid_quantity'], String(quantity));
  }
  // A huge whole quantity is reported as itself, not as 4294967295.
  const huge = await verifyQuote(quote, sneaker, undefined, { ...options, quantity: 1e12 });
  assert.deepEqual(huge.problems.map((p) => p.code), ['quantity_over_limit']);
  assert.match(huge.problems[0].message, /quantity 1000000000000 /);
  // The clock of verifyQuote, listQuote and the pricer, and the test options: whole milliseconds
  // or minutes in range, else invalid_argument naming the field.
  let clock = NOW;
  const p = await createPricer({ ...base, now: () => clock });
  for (const now of [NaN, -1, 1.5, '1795950160000', 1e300]) {
    await rejectsWith(verifyQuote(quote, sneaker, undefined, { now }), 'invalid_argument', 'now');
    throwsWith(() => listQuote(sneaker, { now }), 'invalid_argument', 'now');
    await rejectsWith(createPricer({ ...base, now: () => now }), 'invalid_argument', 'now');
    clock = now;
    throwsWith(() => p.priceFor(sneaker), 'invalid_argument', 'now');
    throwsWith(() => p.track(BEHAVIOUR[0]), 'invalid_argument', 'now');
    clock = NOW;
    assert.equal(p.priceFor(sneaker).listPriceMinor, 8999, 'the pricer is still usable');
  }
  assert.equal(p.status.events, 0, 'no event was tracked with a bad clock');
  for (const [option, value] of [['utcOffsetMinutes', 841], ['utcOffsetMinutes', 60.5], ['utcOffsetMinutes', NaN], ['stabilityTtlMs', -1],
    ['stabilityTtlMs', 1.5], ['stabilityTtlMs', '600000'], ['stabilityTtlMs', Infinity], ['respectGlobalPrivacyControl', 'no']]) {
    await rejectsWith(createPricer({ ...base, [option]: value }), 'invalid_argument', option);
  }
  pricer.free();
});

test('priceFromFeatures signs in the same call exactly as signQuote signs each quote; a bad signer is refused', async () => {
  const device = await createPricer({ ...base, consent: 'granted' });
  for (const ev of BEHAVIOUR) device.track(ev);
  const priceable = ITEMS.filter((item) => { try { device.priceFor(item); return true; } catch { return false; } });
  const request = device.edgeRequest(priceable.slice(0, 6));
  const server = await createPricer({ ...base, consent: 'denied' });
  const key = 'a-signing-key-of-32-characters!!';
  const unsigned = server.priceFromFeatures(request);
  const signed = server.priceFromFeatures(request, { sign: { keyId: 'k7', key } });
  const expected = await Promise.all(unsigned.map((q) => (q.error ? q : signQuote(q, 'k7', key))));
  // `interest` is display-only and unsigned; signQuote's JSON round trip may move its last digit.
  const noInterest = (list) => list.map(({ interest, ...rest }) => rest);
  assert.deepEqual(noInterest(signed), noInterest(expected));
  signed.forEach((q, i) => assert.ok(Math.abs((q.interest ?? 0) - (expected[i].interest ?? 0)) < 1e-12));
  assert.ok(signed.some((q) => typeof q.sig === 'string'));
  for (const q of signed.filter((s) => !s.error)) {
    assert.equal((await verifyQuote(toCheckout(q), ITEMS.find((i) => i.id === q.itemId), null, { now: NOW, keys: { k7: key } })).ok, true);
  }
  throwsWith(() => server.priceFromFeatures(request, { sign: { keyId: 'k7', key: 'short' } }), 'invalid_argument', 'key');
  throwsWith(() => server.priceFromFeatures(request, { sign: 'k7' }), 'invalid_argument', 'sign');
  throwsWith(() => server.priceFromFeatures(request, { sign: { keyId: 7, key } }), 'invalid_argument', 'sign');
});

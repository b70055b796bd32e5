// The Worker as it would be deployed: `wrangler deploy --dry-run` bundles it (offline), Miniflare runs
// that bundle in workerd on 127.0.0.1 with a random port. Quotes must equal the package's
// priceFromFeatures in Node, signatures must bind every signed field, every bad input gets a JSON
// error with the right status, and the Worker never fetches anything.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Miniflare } from 'miniflare';
import { ROOT } from '../../scripts/setup.mjs';
import { BUNDLE_RULES, bundleWorker, folderSize, stageAssets } from '../../scripts/worker.mjs';
import { createPricer, estimates, signQuote, tallyReports, toCheckout, verifyQuote } from '../../js/node.js';

const KEY = 'test-signing-key-0123456789abcdef';
const NOW = 1795950160000;
const BEHAVIOUR = JSON.parse(readFileSync(join(ROOT, 'tests/fixtures/behaviour.json'), 'utf8'));
const ITEMS = JSON.parse(readFileSync(join(ROOT, 'tests/fixtures/items.json'), 'utf8')).slice(0, 4);
const outbound = [];
let mf;
let url;

const ESTIMATES_TOKEN = 'estimates-token-for-tests';
const ADMIN_TOKEN = 'admin-token-for-the-worker-tests';
/** wrangler.jsonc without its comment lines. */
const CONFIG = JSON.parse(readFileSync(join(ROOT, 'worker', 'wrangler.jsonc'), 'utf8').replace(/^\s*\/\/.*$/gm, ''));

before(async () => {
  const out = bundleWorker();
  const files = readdirSync(out);
  console.log(`# wrangler deploy --dry-run: ${files.join(', ')} = ${folderSize(out)} B` +
    ` (${files.map((f) => `${f} ${statSync(join(out, f)).size} B`).join(', ')})`);
  mf = new Miniflare({
    modules: true,
    scriptPath: join(out, 'index.js'),
    modulesRoot: out,
    modulesRules: BUNDLE_RULES,
    compatibilityDate: '2025-06-01',
    bindings: { PRICELET_SIGNING_KEY: KEY, PRICELET_KEY_ID: 'k2', PRICELET_PREVIOUS_KEYS: JSON.stringify({ k1: 'an-older-key-0123456789' }), PRICELET_ESTIMATES_TOKEN: ESTIMATES_TOKEN, PRICELET_ADMIN_TOKEN: ADMIN_TOKEN },
    durableObjects: { REPORTS: { className: 'ReportTally', useSQLite: true }, POLICY: { className: 'PolicyStore', useSQLite: true } },
    // The API routes reach the Worker ahead of the assets exactly as wrangler.jsonc lists them.
    assets: { directory: stageAssets(), binding: 'ASSETS', routerConfig: { has_user_worker: true, invoke_user_worker_ahead_of_assets: false, static_routing: { user_worker: CONFIG.assets.run_worker_first } } },
    host: '127.0.0.1',
    port: 0,
    cf: false,
    outboundService: (request) => {
      outbound.push(request.url);
      return new Response('blocked by the test', { status: 599 });
    },
  });
  url = (await mf.ready).href.replace(/\/$/, '');
});

after(async () => {
  await mf?.dispose();
  assert.deepEqual(outbound, [], 'the Worker made no outbound request');
});

const post = (path, body, headers = {}) => fetch(`${url}${path}`, {
  method: 'POST', headers: { 'content-type': 'application/json', ...headers },
  body: typeof body === 'string' ? body : JSON.stringify(body),
});

/** POSTs `n` chunks of `size` bytes without a Content-Length; resolves with the response even if
 * the server answers (and stops reading) before the body is complete. The chunks are paced and stop
 * at the first response byte: bytes the server never reads make its close a TCP reset, and a reset
 * that overtakes the answer would lose it (a race, not the Worker's behaviour). */
function chunkedPost(path, n, size) {
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = http.request(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      answered = true;
      let text = '';
      const done = () => resolve({ status: res.statusCode, text: async () => text });
      res.on('data', (d) => { text += d; });
      res.on('end', done);
      res.on('error', done);
      res.on('aborted', done);
    });
    req.on('error', () => {}); // the server may close while we still write
    let i = 0;
    const write = () => {
      if (answered) return;
      if (i === n) return req.end();
      i += 1;
      req.write(' '.repeat(size), () => setTimeout(write, 2));
    };
    write();
    setTimeout(() => reject(new Error('no response to the chunked request')), 10000).unref();
  });
}

async function device() {
  const pricer = await createPricer({ consent: 'granted', anonId: 'shopper-7', now: () => NOW, stabilityTtlMs: 0 });
  for (const ev of BEHAVIOUR) pricer.track(ev);
  return pricer;
}

test('health reports the model and policy versions', async () => {
  const res = await fetch(`${url}/health`);
  assert.equal(res.status, 200);
  const h = await res.json();
  assert.equal(h.ok, true);
  assert.match(h.model, /^interest-/);
  assert.equal(h.policy, JSON.parse(readFileSync(join(ROOT, 'policy/default.json'), 'utf8')).version);
});

test('Worker quotes equal the package\'s priceFromFeatures in Node, and are signed', async () => {
  const request = (await device()).edgeRequest(ITEMS);
  assert.ok(Array.isArray(request.features) && request.features.length === ITEMS.length);
  const res = await post('/price', request);
  assert.equal(res.status, 200);
  const { quotes } = await res.json();
  const node = await createPricer({ now: () => NOW });
  // Exact equality is safe here: workerd and Node run the same .wasm on the same machine, so tract
  // takes the same simd128 kernels and rounds every sum alike (interests still compared to 1e-6).
  const expected = node.priceFromFeatures(request);
  assert.equal(quotes.length, expected.length);
  let discounted = 0;
  for (const [q, e] of quotes.map((q, i) => [q, expected[i]])) {
    for (const f of ['itemId', 'currency', 'listPriceMinor', 'priceMinor', 'discountMinor', 'reason', 'variant', 'modelVersion', 'policyVersion']) {
      assert.deepEqual(q[f], e[f], `${q.itemId}.${f}`);
    }
    assert.ok(Math.abs(q.interest - e.interest) < 1e-6);
    assert.equal(q.keyId, 'k2');
    assert.match(q.sig, /^[A-Za-z0-9_-]{43}$/);
    if (q.discountMinor > 0) discounted += 1;
    // Verified locally with the same key and through the Worker's /verify.
    assert.equal((await verifyQuote(toCheckout(q), ITEMS.find((i) => i.id === q.itemId), null, { keys: { k2: KEY }, now: q.issuedAt })).ok, true);
  }
  assert.ok(discounted >= 1, 'the fixture produces at least one edge discount');
});

test('without features the Worker answers non-personalized quotes (200)', async () => {
  const res = await post('/price', { items: ITEMS });
  assert.equal(res.status, 200);
  const { quotes } = await res.json();
  assert.ok(quotes.every((q) => q.reason === 'no_features' && q.discountMinor === 0 && q.sig));
});

test('signatures verify at /verify, and changing any signed field fails', async () => {
  const request = (await device()).edgeRequest([ITEMS[0]]);
  const [quote] = (await (await post('/price', request)).json()).quotes;
  const ok = await (await post('/verify', { quote: toCheckout(quote), item: ITEMS[0] })).json();
  assert.deepEqual({ ok: ok.ok, problems: ok.problems }, { ok: true, problems: [] });
  const mutate = { itemId: 'other', currency: 'USD', listPriceMinor: 1, priceMinor: 1, discountMinor: 1, reason: 'control', variant: 'control',
    modelVersion: 'x', policyVersion: 'x', issuedAt: 1, expiresAt: 1, quoteId: 'x', keyId: 'k1', sig: 'AAAA' };
  for (const [field, delta] of Object.entries(mutate)) {
    const tampered = { ...toCheckout(quote) };
    tampered[field] = typeof tampered[field] === 'number' ? tampered[field] + delta : `${tampered[field]}${delta}`;
    const v = await (await post('/verify', { quote: tampered, item: ITEMS[0] })).json();
    assert.equal(v.ok, false, `changing ${field} must fail verification`);
  }
  // Key rotation: the Worker signs with its current key (k2); a quote signed with the previous key
  // (k1, listed in PRICELET_PREVIOUS_KEYS) still verifies; an unknown key id or an unsigned quote does not.
  assert.equal(quote.keyId, 'k2');
  const unsigned = { ...toCheckout(quote) };
  delete unsigned.sig;
  delete unsigned.keyId;
  const verifyCodes = async (q) => (await (await post('/verify', { quote: q, item: ITEMS[0] })).json()).problems.map((p) => p.code);
  const { keyId: _k, sig: _s, ...bare } = quote;
  assert.deepEqual(await verifyCodes(toCheckout(await signQuote(bare, 'k1', 'an-older-key-0123456789'))), []);
  assert.deepEqual(await verifyCodes(toCheckout(await signQuote(bare, 'k1', 'not-the-older-key-000000'))), ['bad_signature']);
  assert.deepEqual(await verifyCodes(toCheckout(await signQuote(bare, 'k9', 'an-older-key-0123456789'))), ['unknown_key']);
  assert.deepEqual(await verifyCodes(unsigned), ['missing_signature']);
  // Quantities: a positive whole number up to the policy's maxQuantityPerOrder, refused otherwise
  // with the same problem codes as the package (never clamped or truncated).
  const withQuantity = async (quantity) => (await (await post('/verify', { quote: toCheckout(quote), item: ITEMS[0], quantity })).json()).problems.map((p) => p.code);
  assert.deepEqual(await withQuantity(2), []);
  for (const q of [-3, 0, 10.9, '5', null]) assert.deepEqual(await withQuantity(q), ['invalid_quantity'], String(q));
  assert.deepEqual(await withQuantity(1e12), ['quantity_over_limit']);
});

test('bad input: JSON errors with the right status, never a stack trace', async () => {
  const request = (await device()).edgeRequest([ITEMS[0]]);
  const cases = [
    [() => post('/price', '{not json'), 400, 'invalid_json'],
    [() => post('/price', []), 400, 'invalid_request'],
    [() => post('/price', { items: 'none' }), 400, 'invalid_request'],
    [() => post('/price', { ...request, featureNames: request.featureNames.map((n, i) => (i ? n : 'secret_sauce')) }), 400, 'invalid_features'],
    [() => post('/price', { ...request, features: [[1, 2]] }), 400, 'invalid_features'],
    // Made-up vectors outside what a device computes are refused, never signed.
    [() => post('/price', { ...request, features: [request.features[0].map(() => -1e30)] }), 400, 'invalid_features'],
    [() => post('/price', { ...request, features: [request.features[0].map(() => 1e300)] }), 400, 'invalid_features'],
    [() => post('/price', { ...request, variant: 'vip' }), 400, 'invalid_argument'],
    [() => post('/price', { ...request, extra: true }), 400, 'invalid_argument'],
    [() => post('/price', { items: Array.from({ length: 201 }, () => ITEMS[0]) }), 400, 'limit_exceeded'],
    [() => post('/price', JSON.stringify({ items: [ITEMS[0]], pad: 'x'.repeat(70 * 1024) })), 413, 'body_too_large'],
    // No Content-Length (chunked): the Worker counts the bytes as they stream in and stops early.
    [() => chunkedPost('/price', 100, 1024), 413, 'body_too_large'],
    [() => fetch(`${url}/price`), 405, 'method_not_allowed'],
    [() => post('/health', {}), 405, 'method_not_allowed'],
    [() => post('/verify', { nope: 1 }), 400, 'invalid_request'],
    [() => post('/verify', { quote: { itemId: 'who-knows' } }), 400, 'unknown_item'],
    [() => post('/verify', { quote: { itemId: 'x' }, item: { id: 'x', price: 'NaN', currency: 'EUR' } }), 400, 'invalid_price'],
  ];
  for (const [send, status, code] of cases) {
    const res = await send();
    const text = await res.text();
    assert.equal(res.status, status, `${code}: ${text}`);
    const body = JSON.parse(text);
    assert.equal(body.code, code, text);
    assert.equal(typeof body.message, 'string');
    assert.doesNotMatch(text, /at .*\.js:\d+|Error:|stack/i, 'no stack trace');
  }
  // An item error is a slot, not a failure of the request.
  const slots = await (await post('/price', { items: [ITEMS[0], { id: 'bad', price: -1, currency: 'EUR' }] })).json();
  assert.equal(slots.quotes[1].error.code, 'invalid_price');
  // The isolate survives all of that.
  assert.equal((await fetch(`${url}/health`)).status, 200);
});

test('a missing secret is a clear 503, not a crash', async () => {
  const bare = new Miniflare({
    modules: true, scriptPath: join(ROOT, 'worker', 'dist', 'bundle', 'index.js'), modulesRoot: join(ROOT, 'worker', 'dist', 'bundle'),
    modulesRules: BUNDLE_RULES, compatibilityDate: '2025-06-01', host: '127.0.0.1', port: 0, cf: false,
    outboundService: (r) => { outbound.push(r.url); return new Response('blocked', { status: 599 }); },
  });
  try {
    const res = await bare.dispatchFetch('http://localhost/price', { method: 'POST', body: JSON.stringify({ items: ITEMS }) });
    assert.equal(res.status, 503);
    assert.equal((await res.json()).code, 'signing_key_missing');
    const admin = await bare.dispatchFetch('http://localhost/policy/propose', { method: 'POST', headers: { authorization: 'Bearer anything' } });
    assert.equal(admin.status, 503);
    const body = await admin.json();
    assert.equal(body.code, 'admin_token_missing');
    assert.match(body.message, /wrangler secret put PRICELET_ADMIN_TOKEN/);
  } finally {
    await bare.dispose();
  }
  // A previous key must be as long as a signing key: '' would let a quote signed with '' verify.
  for (const previous of [{ old: '' }, { old: 'short' }, { old: 42 }, ['x'], 'not json']) {
    const weak = new Miniflare({
      modules: true, scriptPath: join(ROOT, 'worker', 'dist', 'bundle', 'index.js'), modulesRoot: join(ROOT, 'worker', 'dist', 'bundle'),
      modulesRules: BUNDLE_RULES, compatibilityDate: '2025-06-01', host: '127.0.0.1', port: 0, cf: false,
      bindings: { PRICELET_SIGNING_KEY: KEY, PRICELET_PREVIOUS_KEYS: typeof previous === 'string' ? previous : JSON.stringify(previous) },
      outboundService: (r) => { outbound.push(r.url); return new Response('blocked', { status: 599 }); },
    });
    try {
      const res = await weak.dispatchFetch('http://localhost/verify', { method: 'POST', body: JSON.stringify({ quote: { itemId: ITEMS[0].id }, item: ITEMS[0] }) });
      assert.equal(res.status, 503, JSON.stringify(previous));
      assert.equal((await res.json()).code, 'signing_key_invalid');
    } finally {
      await weak.dispose();
    }
  }
});

test('the storefront and the package files are served as static assets', async () => {
  const page = await fetch(`${url}/`);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /importmap/);
  const wasm = await fetch(`${url}/node_modules/pricelet/dist/pricelet_bg.wasm`);
  assert.equal(wasm.status, 200);
  assert.equal(wasm.headers.get('content-type'), 'application/wasm');
  assert.equal((await wasm.arrayBuffer()).byteLength, statSync(join(ROOT, 'dist', 'pricelet_bg.wasm')).size);
});

test('the Worker keeps and logs nothing of requests: only the report tally and the policy store are stored, no console call in its code or the package', () => {
  const config = readFileSync(join(ROOT, 'worker', 'wrangler.jsonc'), 'utf8');
  assert.doesNotMatch(config, /kv_namespaces|d1_databases|r2_buckets|queues|analytics_engine|logpush|tail_consumers/,
    'no binding that could keep a request');
  assert.deepEqual(CONFIG.durable_objects.bindings, [{ name: 'REPORTS', class_name: 'ReportTally' }, { name: 'POLICY', class_name: 'PolicyStore' }],
    'the stored things are the tally of randomized reports and the served policy with its audit log');
  assert.deepEqual(CONFIG.migrations.flatMap((m) => m.new_sqlite_classes), ['ReportTally', 'PolicyStore']);
  // /report's per-client limit is Cloudflare's rate limiter (counters for its period only), keyed by the connecting IP.
  assert.deepEqual(CONFIG.ratelimits.map((r) => [r.name, r.simple.period]), [['REPORT_LIMIT', 60]]);
  assert.ok(CONFIG.triggers.crons.length === 1, 'the learning loop\'s proposer runs on a Cron Trigger');
  const worker = workerSource();
  assert.equal(worker.match(/cf-connecting-ip/gi)?.length, 1, 'the IP is read in one place only: the rate limiter\'s key');
  for (const path of Object.keys(ROUTES_OF(worker))) assert.ok(CONFIG.assets.run_worker_first.includes(path), `${path} reaches the Worker ahead of the assets`);
  assert.match(config, /"observability":\s*\{\s*"enabled":\s*false\s*\}/, 'Workers Logs off');
  const sources = [
    ...readdirSync(join(ROOT, 'worker', 'src')).map((f) => join(ROOT, 'worker', 'src', f)),
    ...readdirSync(join(ROOT, 'js')).filter((f) => f.endsWith('.js')).map((f) => join(ROOT, 'js', f)),
  ];
  for (const file of sources) assert.doesNotMatch(readFileSync(file, 'utf8'), /\bconsole\.\w+\(/, `${file} logs nothing`);
  // In the bundle, the only console calls are wasm-bindgen's glue warnings for a deprecated init
  // signature and a wrong MIME type, paths pricelet never takes (it passes { module }).
  const bundle = readFileSync(join(ROOT, 'worker', 'dist', 'bundle', 'index.js'), 'utf8');
  const calls = [...bundle.matchAll(/console\.\w+\(\s*(["'`])(.{0,40})/g)].map((m) => m[2]);
  assert.ok(calls.length >= 1 && bundle.match(/console\.\w+\(/g).length === calls.length, 'every console call logs a fixed message');
  for (const text of calls) {
    assert.match(text, /^(using deprecated parameters for|`WebAssembly\.instantiateStreaming`)/, `only glue warnings: ${text}`);
  }
});

test('measurement: device reports POSTed to /report give the same estimates at GET /estimates as the package in Node', async () => {
  // Devices: consenting shoppers, each reporting the quote it was shown and whether it converted.
  const reports = [];
  const refused = new Map();
  for (let i = 0; i < 300; i++) {
    const device = await createPricer({ consent: 'granted', anonId: `reporter-${i}`, storage: 'memory' });
    const quote = device.priceFor(ITEMS[i % ITEMS.length]);
    const out = device.report(quote, { converted: i % 7 === 0 });
    device.free();
    if (out.report) reports.push(out.report);
    else refused.set(quote.reason, out.reason);
  }
  // Only quotes outside the experiment (excluded items) make no report.
  assert.ok(reports.length >= 200, `${reports.length} reports`);
  for (const [quoteReason, why] of refused) assert.deepEqual([quoteReason, why], ['excluded', 'not_in_experiment']);
  for (const r of reports) {
    assert.deepEqual(Object.keys(r).sort(), ['bits', 'day', 'domain', 'domainVersion', 'epsilon', 'mechanism'], 'nothing beyond the listed fields');
    assert.match(r.day, /^\d{4}-\d{2}-\d{2}$/);
  }
  const before = await fetch(`${url}/estimates`, { headers: { authorization: `Bearer ${ESTIMATES_TOKEN}` } });
  assert.equal(before.status, 404, 'no reports yet');
  assert.equal((await before.json()).code, 'no_reports');
  // One device's reports per request: at most dailyEpsilon / epsilon = 4 under the default policy.
  const tooMany = await post('/report', { reports: reports.slice(0, 5) });
  assert.equal(tooMany.status, 429);
  assert.equal(tooMany.headers.get('retry-after'), '86400');
  assert.equal((await tooMany.json()).code, 'too_many_reports');
  for (let k = 0; k < reports.length; k += 4) {
    const res = await post('/report', { reports: reports.slice(k, k + 4) });
    assert.equal(res.status, 202);
    // One shard (PRICELET_TALLY_SHARDS unset), and no running total: traffic is the merchant's business.
    assert.deepEqual(await res.json(), { accepted: reports.slice(k, k + 4).length, shard: 0 });
  }
  // A batch with one report from another setup is refused whole; the tally does not move.
  const foreign = [reports[0], { ...reports[1], epsilon: 8 }];
  const refusal = await post('/report', { reports: foreign });
  assert.equal(refusal.status, 400);
  const why = await refusal.json();
  assert.equal(why.code, 'invalid_report');
  assert.match(why.message, /reports\[1\].*ε = 8/);
  for (const [body, status, code] of [[{ reports: [] }, 400, 'invalid_request'], [{ reports: Array(201).fill(reports[0]) }, 400, 'limit_exceeded'], [{ reports: [{ day: '2026-11-29' }] }, 400, 'invalid_report']]) {
    const res = await post('/report', body);
    assert.deepEqual([res.status, (await res.json()).code], [status, code]);
  }
  // Estimates are for the merchant only; with the token they equal the package's own read-out.
  for (const authorization of [undefined, `Bearer ${ESTIMATES_TOKEN}x`, `Bearer ${ESTIMATES_TOKEN.slice(0, -1)}X`, `bearer ${ESTIMATES_TOKEN}`, ESTIMATES_TOKEN]) {
    const denied = await fetch(`${url}/estimates`, { headers: authorization ? { authorization } : {} });
    assert.equal(denied.status, 401, String(authorization));
  }
  const res = await fetch(`${url}/estimates`, { headers: { authorization: `Bearer ${ESTIMATES_TOKEN}` } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('pricelet-tally-shards'), '1');
  const edge = await res.json();
  const local = await estimates(await tallyReports(reports));
  assert.equal(edge.reports, reports.length);
  assert.deepEqual(edge, local, 'the Worker de-biases exactly like the package');
  assert.equal(edge.arms.length, 2);
  for (const arm of edge.arms) if (arm.conversion) assert.ok(arm.conversion.lo <= arm.conversion.estimate && arm.conversion.estimate <= arm.conversion.hi);
});

/** The Worker's source: every file of worker/src, the entry first. */
function workerSource() {
  const dir = join(ROOT, 'worker', 'src');
  return ['index.js', ...readdirSync(dir).filter((f) => f !== 'index.js').sort()].map((f) => readFileSync(join(dir, f), 'utf8')).join('\n');
}

/** The Worker's routes, from its ROUTES table. */
function ROUTES_OF(source) {
  const table = source.match(/const ROUTES = \{([\s\S]*?)\};/)[1];
  return Object.fromEntries([...table.matchAll(/'(\/[\w/]*)':/g)].map((m) => [m[1], true]));
}

test('GET /policy serves the default policy with ETag, cache headers and 304; without "learning" the proposer is off (409)', async () => {
  const res = await fetch(`${url}/policy`);
  assert.equal(res.status, 200);
  const policy = await res.json();
  const local = await createPricer({ model: null });
  assert.deepEqual(policy, local.policy, 'the package\'s default policy');
  local.free();
  // The ETag is a hash of the bytes served, so two different policies never share one.
  const etag = res.headers.get('etag');
  assert.match(etag, /^"[A-Za-z0-9_-]{27}"$/);
  assert.equal(res.headers.get('cache-control'), 'public, max-age=60');
  const cached = await fetch(`${url}/policy`, { headers: { 'if-none-match': etag } });
  assert.equal(cached.status, 304);
  assert.equal(cached.headers.get('etag'), etag);
  assert.equal((await fetch(`${url}/policy`, { headers: { 'if-none-match': '"default-0"' } })).status, 200);
  assert.equal((await post('/policy/propose', {})).status, 401);
  assert.equal((await post('/policy/propose', {}, { authorization: `Bearer ${ESTIMATES_TOKEN}` })).status, 401, 'another secret is not the admin token');
  const off = await post('/policy/propose', {}, { authorization: `Bearer ${ADMIN_TOKEN}` });
  assert.equal(off.status, 409);
  const why = await off.json();
  assert.equal(why.code, 'learning_off');
  assert.match(why.message, /no "learning" section.*PRICELET_POLICY/);
  // The Cron Trigger has nothing to run then, and fails nothing.
  assert.equal((await (await mf.getWorker()).scheduled({ cron: CONFIG.triggers.crons[0] })).outcome, 'ok');
  const log = await (await fetch(`${url}/policy/log`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json();
  assert.deepEqual(log.entries.map((e) => e.action), ['start']);
});

test('secrets are compared in constant time: the token through timingSafeEqual, signatures through the HMAC verifier', () => {
  // A source check (timing is not measured in tests): the Worker never compares the token with
  // ===/!==, and the engine verifies signatures with the hmac crate's own verifier.
  const worker = workerSource();
  assert.doesNotMatch(worker, /authorization['"]\)\s*[!=]==/);
  assert.match(worker, /crypto\.subtle\.timingSafeEqual\(/);
  const quote = ['mod.rs', 'checkout.rs', 'verify/mod.rs'].map((f) => readFileSync(join(ROOT, 'src', 'quote', f), 'utf8')).join('\n');
  assert.match(quote, /\.verify_slice\(/);
  assert.doesNotMatch(quote, /fold\(0u8/);
});
